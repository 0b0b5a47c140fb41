"""Support: tickets people open from any channel, what staff do with them, identity repairs and personal data."""
