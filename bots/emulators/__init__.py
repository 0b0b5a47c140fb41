"""Local stand-ins for the Telegram Bot API and the VK API, for tests and the token-free sandbox."""
