"""Config for the account dashboard (the ``[dashboard]`` table)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct


class DashboardSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Where members of an account sign in to manage keys and see usage."""

    #: Serve /dashboard.
    enabled: bool = True
    #: Seconds a sign-in lasts (absolute, not sliding).
    session_ttl_s: float = 12 * 3600.0
    #: The session cookie's Secure flag: "auto" sets it when the request came over TLS
    #: (directly, or per X-Forwarded-Proto when ``trusted_proxy`` is on).
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    #: The router sits behind a reverse proxy that sets X-Forwarded-Proto and
    #: X-Forwarded-For; trust them for the Secure flag and the throttling address.
    trusted_proxy: bool = False
    #: Failed sign-ins per email and client address allowed before backoff starts
    #: (the backoff counts from the last failure; refused attempts are not counted).
    login_free_attempts: int = 5
    #: First wait after the free attempts; it doubles with every further failure.
    login_backoff_s: float = 2.0
    #: Longest wait between two attempts.
    login_backoff_max_s: float = 900.0
    #: Failures are forgotten after this many seconds without another one.
    login_forget_after_s: float = 3600.0
    #: Failed sign-ins from one client address, whatever the email, allowed per
    #: ``login_address_window_s``; past it that address waits for the next window.
    login_address_max_failures: Annotated[int, Meta(ge=1)] = 100
    #: The fixed window the per-address cap counts in.
    login_address_window_s: Annotated[float, Meta(gt=0)] = 600.0
    #: Days of history on the usage page.
    usage_days: int = 30
    #: Most unrevoked keys a member may hold per account through the dashboard.
    max_active_keys: int = 50
