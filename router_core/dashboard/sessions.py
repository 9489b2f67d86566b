"""Dashboard sessions: a random cookie, its hash in the Store, a CSRF token each."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

from router_core.dashboard.settings import DashboardSettings
from router_core.store.base import DashboardSession, DashboardStore, Member

SESSION_COOKIE = "vr_dashboard"
#: Double-submit token for the sign-in form, before any session exists.
LOGIN_CSRF_COOKIE = "vr_dashboard_login"
COOKIE_PATH = "/dashboard"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def is_tls(request: web.Request, settings: DashboardSettings) -> bool:
    """Whether the browser reached us over TLS (trusting the proxy only if configured)."""
    if request.secure:
        return True
    if settings.trusted_proxy:
        proto = request.headers.get("X-Forwarded-Proto", "")
        return proto.split(",")[0].strip().lower() == "https"
    return False


def client_address(request: web.Request, settings: DashboardSettings) -> str:
    """The address throttling counts against (the proxy's last hop when trusted)."""
    if settings.trusted_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1]
    return request.remote or "?"


def set_cookie(
    response: web.StreamResponse,
    request: web.Request,
    settings: DashboardSettings,
    name: str,
    value: str,
    max_age: int | None,
) -> None:
    """Set one dashboard cookie with the attributes every one of them carries."""
    secure = settings.secure_cookies == "always" or (
        settings.secure_cookies == "auto" and is_tls(request, settings)
    )
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


class SessionManager:
    """Starts, finds and ends sessions."""

    def __init__(self, store: DashboardStore, settings: DashboardSettings) -> None:
        self._store = store
        self._s = settings

    async def start(self, member: Member, now: float) -> tuple[str, DashboardSession]:
        """A new session for ``member``: the cookie value (returned once) and the record."""
        token = secrets.token_urlsafe(32)
        session = DashboardSession(
            id_hash=_digest(token),
            member_id=member.id,
            account_id=member.account_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + self._s.session_ttl_s,
        )
        await self._store.create_session(session)
        return token, session

    async def find(self, token: str | None, now: float) -> DashboardSession | None:
        """The live session behind a cookie value, or None."""
        if not token or len(token) > 128:
            return None
        return await self._store.get_session(_digest(token), now)

    async def end(self, token: str | None) -> None:
        """Sign out: the cookie value stops working everywhere."""
        if token and len(token) <= 128:
            await self._store.delete_session(_digest(token))
