"""Accounts, API keys and the usage ledger: one Store protocol, SQLite and Redis backends."""
