"""Config for the account dashboard."""

from __future__ import annotations

from msgspec import Struct


class DashboardSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    #: Serve /dashboard.
    enabled: bool = True
