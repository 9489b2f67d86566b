"""Accounts, API keys, the usage ledger and the dashboard's members and sessions: the
protocols in base.py, SQLite and Redis backends, stored Responses beside them."""
