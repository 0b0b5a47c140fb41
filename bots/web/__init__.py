"""The aiohttp web app: health, the rules page, webhooks, the sandbox, and (later) the staff console."""
