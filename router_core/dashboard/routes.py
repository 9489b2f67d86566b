"""Routes of the account dashboard (added by make_app when enabled).

Every handler returns HTML (never the API's JSON errors): refusals are raised as
``_Reply`` and turned into responses by ``_page``, which also adds the security
headers every dashboard response carries.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from router_core.dashboard import assets, pages
from router_core.dashboard.html import layout, login_page, message_page
from router_core.dashboard.members import MemberService
from router_core.dashboard.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SessionManager,
    client_address,
    is_tls,
    set_cookie,
    tokens_match,
)
from router_core.dashboard.settings import DashboardSettings
from router_core.dashboard.throttle import LoginThrottle
from router_core.dashboard.usage import build_report, query_since
from router_core.limits.base import RateLimits
from router_core.state import STATE
from router_core.store.base import Account, DashboardSession, Member, NotFound

PREFIX = "/dashboard"
_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
_MAX_LIMIT = 10**12


@dataclass(frozen=True, slots=True)
class Dashboard:
    """The dashboard's services, built once per app."""

    settings: DashboardSettings
    members: MemberService
    sessions: SessionManager
    throttle: LoginThrottle


DASHBOARD = web.AppKey("viberouter_dashboard", Dashboard)


@dataclass(frozen=True, slots=True)
class Visitor:
    """A signed-in request: the session, its member and account."""

    session: DashboardSession
    member: Member
    account: Account


class _Reply(Exception):
    """Stop handling and answer with this response (a redirect, a refusal)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _page(fn: Handler) -> Handler:
    async def run(request: web.Request) -> web.Response:
        try:
            response = await fn(request)
        except _Reply as reply:
            response = reply.response
        response.headers.update(_HEADERS)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _refuse(status: int, title: str, text: str) -> _Reply:
    return _Reply(_html(message_page(title, text), status))


def _api_base(request: web.Request, settings: DashboardSettings) -> str:
    scheme = "https" if is_tls(request, settings) else "http"
    return f"{scheme}://{request.host}/v1"


# ---------------------------------------------------------------- who is asking


async def _visitor(request: web.Request) -> Visitor:
    """The signed-in visitor, or a redirect to the sign-in page."""
    dash = request.app[DASHBOARD]
    store = request.app[STATE].store
    session = await dash.sessions.find(request.cookies.get(SESSION_COOKIE), time.time())
    member = await store.get_member(session.member_id) if session else None
    account = await store.get_account(session.account_id) if session else None
    if (
        session is None
        or member is None
        or account is None
        or member.account_id != account.id
        or account.status != "active"
    ):
        raise _Reply(_see_other(f"{PREFIX}/login"))
    return Visitor(session, member, account)


async def _fields(request: web.Request) -> dict[str, str]:
    """The POSTed form's text fields (first value of each; uploads ignored)."""
    form = await request.post()
    fields: dict[str, str] = {}
    for name, value in form.items():
        if isinstance(value, str):
            fields.setdefault(name, value)
    return fields


async def _form(request: web.Request, visitor: Visitor) -> dict[str, str]:
    """The POSTed form, once its CSRF token matches the session's."""
    fields = await _fields(request)
    if not tokens_match(visitor.session.csrf_token, fields.get("csrf")):
        raise _refuse(403, "Form expired", "That form was stale or not ours. Reload and retry.")
    return fields


def _in_layout(visitor: Visitor, title: str, active: str, body: str) -> str:
    return layout(
        title,
        body,
        active=active,
        account_name=visitor.account.name,
        email=visitor.member.email,
        csrf=visitor.session.csrf_token,
    )


# ---------------------------------------------------------------- sign-in, sign-out


def _login_form(
    request: web.Request, *, status: int = 200, error: str = "", email: str = "", notice: str = ""
) -> web.Response:
    """The sign-in page with a fresh double-submit CSRF cookie."""
    token = secrets.token_urlsafe(32)
    response = _html(login_page(token, error=error, email=email, notice=notice), status)
    set_cookie(response, request, request.app[DASHBOARD].settings, LOGIN_CSRF_COOKIE, token, None)
    return response


@_page
async def login_get(request: web.Request) -> web.Response:
    """GET /dashboard/login: the form (or straight in when already signed in)."""
    try:
        await _visitor(request)
    except _Reply:
        notice = "You are signed out." if request.query.get("bye") else ""
        return _login_form(request, notice=notice)
    return _see_other(f"{PREFIX}/keys")


def _throttled(request: web.Request, email: str, wait: float) -> web.Response:
    response = _login_form(
        request,
        status=429,
        email=email,
        error=f"Too many failed attempts. Try again in {math.ceil(wait)} seconds.",
    )
    response.headers["Retry-After"] = str(math.ceil(wait))
    return response


@_page
async def login_post(request: web.Request) -> web.Response:
    """POST /dashboard/login: check the form token, throttle, password; start a session."""
    dash = request.app[DASHBOARD]
    fields = await _fields(request)
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE, ""), fields.get("csrf")):
        return _login_form(request, status=403, error="The sign-in form expired. Please try again.")
    email = fields.get("email", "")[:320]
    password = fields.get("password", "")
    address = client_address(request, dash.settings)
    now = time.time()
    wait = await dash.throttle.admit(email, address, now)
    if wait > 0:
        return _throttled(request, email, wait)
    member = await dash.members.check(email, password)
    account = await request.app[STATE].store.get_account(member.account_id) if member else None
    if member is None or account is None:
        await dash.throttle.failed(address, now)
        return _login_form(request, status=401, email=email, error="Wrong email or password.")
    await dash.throttle.succeeded(email, address)
    if account.status != "active":
        return _login_form(
            request, status=403, email=email, error="This account is disabled; ask your operator."
        )
    token, _ = await dash.sessions.start(member, now)
    if not await dash.members.signed_in(member, now):
        # The password changed while this one was being checked.
        await dash.sessions.end(token)
        return _login_form(request, status=401, email=email, error="Wrong email or password.")
    response = _see_other(f"{PREFIX}/keys")
    set_cookie(
        response,
        request,
        dash.settings,
        SESSION_COOKIE,
        token,
        int(dash.settings.session_ttl_s),
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@_page
async def logout(request: web.Request) -> web.Response:
    """POST /dashboard/logout: end the session everywhere."""
    visitor = await _visitor(request)
    await _form(request, visitor)
    await request.app[DASHBOARD].sessions.end(request.cookies.get(SESSION_COOKIE))
    response = _see_other(f"{PREFIX}/login?bye=1")
    response.del_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@_page
async def home(request: web.Request) -> web.Response:
    """GET /dashboard: to the keys page (which sends strangers to sign in)."""
    return _see_other(f"{PREFIX}/keys")


async def stylesheet(request: web.Request) -> web.Response:
    """GET /dashboard/assets/dashboard.css (versioned URL, so cached for a day)."""
    return web.Response(
        text=assets.CSS,
        content_type="text/css",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


# ---------------------------------------------------------------- keys


def _parse_expiry(value: str, now: float) -> tuple[float | None, str | None]:
    if not value.strip():
        return None, None
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        return None, "The expiry date is not a date (YYYY-MM-DD)."
    try:
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp()
    except OverflowError:
        return None, "The expiry date is too far in the future."
    if end <= now:
        return None, "The expiry date is in the past."
    return end, None


@dataclass(frozen=True, slots=True)
class KeyForm:
    """A valid create-key form."""

    name: str
    expires_at: float | None
    limits: dict[str, int | None]


def parse_key_form(
    fields: Mapping[str, str], account: Account, now: float
) -> tuple[KeyForm, list[str]]:
    """The create-key form, validated against the account's own limits, and its errors."""
    errors: list[str] = []
    name = fields.get("name", "").strip()
    if len(name) > 100:
        errors.append("The name is longer than 100 characters.")
    expires_at, problem = _parse_expiry(fields.get("expires", ""), now)
    if problem:
        errors.append(problem)
    limits: dict[str, int | None] = {}
    for field, label in pages.LIMIT_FIELDS:
        raw = fields.get(field, "").strip()
        limits[field] = None
        if not raw:
            continue
        try:
            value = int(raw)
        except ValueError:
            errors.append(f"{label}: {raw!r} is not a whole number.")
            continue
        cap = getattr(account.limits, field)
        if value < 0 or value > _MAX_LIMIT:
            errors.append(f"{label} must be at least 0.")
        elif cap is not None and value > cap:
            errors.append(f"{label} can be at most {cap:,}, the account's own limit.")
        limits[field] = value
    return KeyForm(name, expires_at, limits), errors


async def _keys_response(
    request: web.Request,
    visitor: Visitor,
    *,
    new: pages.NewSecret | None = None,
    errors: list[str] | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    keys = await request.app[STATE].store.list_keys(visitor.account.id)
    body = pages.keys_page(
        visitor.account,
        keys,
        time.time(),
        visitor.session.csrf_token,
        _api_base(request, request.app[DASHBOARD].settings),
        new=new,
        errors=errors or (),
        values=values,
    )
    return _html(_in_layout(visitor, "API keys", "keys", body), status)


@_page
async def keys_get(request: web.Request) -> web.Response:
    """GET /dashboard/keys: the account's keys and the create form."""
    return await _keys_response(request, await _visitor(request))


@_page
async def keys_create(request: web.Request) -> web.Response:
    """POST /dashboard/keys: a new key; its secret is in this response only."""
    visitor = await _visitor(request)
    fields = await _form(request, visitor)
    now = time.time()
    form, errors = parse_key_form(fields, visitor.account, now)
    keys = await request.app[STATE].store.list_keys(visitor.account.id)
    active = sum(1 for k in keys if k.revoked_at is None)
    limit = request.app[DASHBOARD].settings.max_active_keys
    if active >= limit:
        errors.append(f"The account already has {active} keys; revoke one first.")
    if errors:
        return await _keys_response(request, visitor, errors=errors, values=fields, status=400)
    key, secret = await request.app[STATE].accounts.create_key(
        visitor.account.id,
        form.name,
        expires_at=form.expires_at,
        limits=RateLimits(**form.limits),
    )
    return await _keys_response(
        request, visitor, new=pages.NewSecret(key, secret, rotated=False), status=201
    )


async def _own_key(request: web.Request, visitor: Visitor) -> str:
    key_id = request.match_info["id"]
    key = await request.app[STATE].store.get_key(key_id)
    if key is None or key.account_id != visitor.account.id:
        raise _refuse(404, "No such key", "This account has no such key.")
    return key_id


@_page
async def key_revoke(request: web.Request) -> web.Response:
    """POST /dashboard/keys/{id}/revoke: the key stops working at once."""
    visitor = await _visitor(request)
    await _form(request, visitor)
    key_id = await _own_key(request, visitor)
    await request.app[STATE].accounts.revoke_key(key_id)
    return _see_other(f"{PREFIX}/keys")


@_page
async def key_rotate(request: web.Request) -> web.Response:
    """POST /dashboard/keys/{id}/rotate: a new secret for the same key."""
    visitor = await _visitor(request)
    await _form(request, visitor)
    key_id = await _own_key(request, visitor)
    try:
        key, secret = await request.app[STATE].accounts.rotate_key(key_id)
    except NotFound as exc:
        raise _refuse(409, "Cannot rotate", "A revoked key cannot be rotated.") from exc
    return await _keys_response(request, visitor, new=pages.NewSecret(key, secret, rotated=True))


# ---------------------------------------------------------------- usage, models


@_page
async def usage(request: web.Request) -> web.Response:
    """GET /dashboard/usage: the last N days, per day and model, and the quota."""
    visitor = await _visitor(request)
    state = request.app[STATE]
    n_days = request.app[DASHBOARD].settings.usage_days
    now = time.time()
    await state.ledger.flush()
    rows = await state.store.query_usage(
        account_id=visitor.account.id, since_day=query_since(now, n_days, visitor.account)
    )
    keys = await state.store.list_keys(visitor.account.id)
    names = {k.id: (k.name or k.id) + f" ({k.prefix})" for k in keys}
    report = build_report(rows, visitor.account, now, n_days, names)
    body = pages.usage_page(report, n_days)
    return _html(_in_layout(visitor, "Usage", "usage", body))


@_page
async def models(request: web.Request) -> web.Response:
    """GET /dashboard/models: every model the account may call."""
    visitor = await _visitor(request)
    cards = [r.card for r in request.app[STATE].catalog.listed()]
    return _html(_in_layout(visitor, "Models", "models", pages.models_page(cards)))


def add_routes(app: web.Application) -> None:
    """Register /dashboard routes on ``app``."""
    state = app[STATE]
    settings = state.settings.dashboard
    app[DASHBOARD] = Dashboard(
        settings=settings,
        members=MemberService(state.store, state.store),
        sessions=SessionManager(state.store, settings),
        throttle=LoginThrottle(state.store, settings),
    )
    r = app.router
    r.add_get(PREFIX, home)
    r.add_get(f"{PREFIX}/", home)
    r.add_get(f"{PREFIX}/assets/dashboard.css", stylesheet)
    r.add_get(f"{PREFIX}/login", login_get)
    r.add_post(f"{PREFIX}/login", login_post)
    r.add_post(f"{PREFIX}/logout", logout)
    r.add_get(f"{PREFIX}/keys", keys_get)
    r.add_post(f"{PREFIX}/keys", keys_create)
    r.add_post(f"{PREFIX}/keys/{{id}}/revoke", key_revoke)
    r.add_post(f"{PREFIX}/keys/{{id}}/rotate", key_rotate)
    r.add_get(f"{PREFIX}/usage", usage)
    r.add_get(f"{PREFIX}/models", models)
