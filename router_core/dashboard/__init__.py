"""The account dashboard served at /dashboard."""
