"""Channel-agnostic core: events, scenarios as state machines, templates, identity."""
