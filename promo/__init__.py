"""The business of promotions: receipts, QR decoding, campaign rules, the cashback ledger. Imports nothing of ours."""
