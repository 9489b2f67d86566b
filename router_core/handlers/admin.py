"""/admin/v1: accounts, keys and usage behind the operator's admin token.

With no ``auth.admin_token`` configured every admin path is 404 (off, never open).
"""

from __future__ import annotations

import functools
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Literal

import msgspec
from aiohttp import web

from router_core.errors import InvalidApiKey, InvalidRequest
from router_core.handlers.common import json_response
from router_core.limits.base import LIMIT_FIELDS, Limits, RateLimits, as_limits, as_rate_limits
from router_core.public_records import NewKeyView, account_view, key_view, usage_view
from router_core.state import STATE
from router_core.store.base import NotFound

PREFIX = "/admin/v1"


class AccountIn(Limits, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """POST /accounts: a name and any limit fields, flat."""

    name: str


class AccountPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """PATCH /accounts/{id} without its limit fields (absent = unchanged; see patch_account)."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    status: Literal["active", "inactive"] | msgspec.UnsetType = msgspec.UNSET


class KeyIn(RateLimits, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """POST /keys: the key's fields and its rate limits, flat."""

    account_id: str
    name: str = ""
    expires_at: float | None = None
    allowed_models: list[str] = msgspec.field(default_factory=list)
    #: The key's error body shape; null: the server's error_format.
    error_format: Literal["viberouter", "openai"] | None = None


def _decode(body: bytes, typ: type[Any]) -> Any:
    try:
        return msgspec.json.decode(body or b"{}", type=typ)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidRequest(f"Invalid request: {exc}") from exc


def _convert(data: dict[str, Any], typ: type[Any]) -> Any:
    try:
        return msgspec.convert(data, typ)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid request: {exc}") from exc


def _check(request: web.Request) -> None:
    token = request.app[STATE].settings.auth.admin_token
    if not token:
        raise web.HTTPNotFound()
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise InvalidApiKey("Invalid admin token")


def _not_found(exc: NotFound) -> InvalidRequest:
    return InvalidRequest(str(exc).strip("'\""), status=404)


AdminHandler = Callable[[web.Request], Awaitable[web.Response]]


def admin_route(handler: AdminHandler) -> AdminHandler:
    """Admin token checked first; an unknown id becomes 404 invalid_request."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        _check(request)
        try:
            return await handler(request)
        except NotFound as exc:
            raise _not_found(exc) from exc

    return wrapped


@admin_route
async def list_accounts(request: web.Request) -> web.Response:
    accounts = await request.app[STATE].store.list_accounts()
    return json_response({"data": [account_view(a) for a in accounts]})


@admin_route
async def create_account(request: web.Request) -> web.Response:
    data: AccountIn = _decode(await request.read(), AccountIn)
    svc = request.app[STATE].accounts
    account = await svc.create_account(data.name, as_limits(data))
    return json_response(account_view(account), status=201)


@admin_route
async def get_account(request: web.Request) -> web.Response:
    account = await request.app[STATE].accounts.account(request.match_info["id"])
    return json_response(account_view(account))


@admin_route
async def patch_account(request: web.Request) -> web.Response:
    body: dict[str, Any] = _decode(await request.read(), dict[str, Any])
    # A limit field present (even null: "no limit") replaces the account's; absent keeps it.
    limit_changes = {name: body.pop(name) for name in LIMIT_FIELDS if name in body}
    _convert(limit_changes, Limits)  # a bad value is a 400 before any lookup
    patch: AccountPatch = _convert(body, AccountPatch)
    svc = request.app[STATE].accounts
    account = await svc.account(request.match_info["id"])
    changes: dict[str, Any] = {
        f: getattr(patch, f)
        for f in patch.__struct_fields__
        if getattr(patch, f) is not msgspec.UNSET
    }
    if limit_changes:
        merged = {**msgspec.structs.asdict(account.limits), **limit_changes}
        changes["limits"] = _convert(merged, Limits)
    account = await svc.update_account(replace(account, **changes))
    return json_response(account_view(account))


@admin_route
async def list_keys(request: web.Request) -> web.Response:
    account_id = request.query.get("account")
    keys = await request.app[STATE].store.list_keys(account_id)
    now = time.time()
    return json_response({"data": [key_view(k, now) for k in keys]})


@admin_route
async def create_key(request: web.Request) -> web.Response:
    data: KeyIn = _decode(await request.read(), KeyIn)
    key, secret = await request.app[STATE].accounts.create_key(
        data.account_id,
        data.name,
        expires_at=data.expires_at,
        limits=as_rate_limits(data),
        allowed_models=data.allowed_models,
        error_format=data.error_format,
    )
    return json_response(NewKeyView(key=key_view(key, time.time()), secret=secret), status=201)


@admin_route
async def get_key(request: web.Request) -> web.Response:
    key = await request.app[STATE].accounts.key(request.match_info["id"])
    return json_response(key_view(key, time.time()))


@admin_route
async def revoke_key(request: web.Request) -> web.Response:
    key = await request.app[STATE].accounts.revoke_key(request.match_info["id"])
    return json_response(key_view(key, time.time()))


@admin_route
async def rotate_key(request: web.Request) -> web.Response:
    key, secret = await request.app[STATE].accounts.rotate_key(request.match_info["id"])
    return json_response(NewKeyView(key=key_view(key, time.time()), secret=secret))


@admin_route
async def usage(request: web.Request) -> web.Response:
    state = request.app[STATE]
    await state.ledger.flush()
    rows = await state.store.query_usage(
        account_id=request.query.get("account"),
        key_id=request.query.get("key"),
        since_day=request.query.get("since"),
    )
    return json_response({"data": [usage_view(r) for r in rows]})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/accounts", list_accounts)
    r.add_post(f"{PREFIX}/accounts", create_account)
    r.add_get(f"{PREFIX}/accounts/{{id}}", get_account)
    r.add_patch(f"{PREFIX}/accounts/{{id}}", patch_account)
    r.add_get(f"{PREFIX}/keys", list_keys)
    r.add_post(f"{PREFIX}/keys", create_key)
    r.add_get(f"{PREFIX}/keys/{{id}}", get_key)
    r.add_post(f"{PREFIX}/keys/{{id}}/revoke", revoke_key)
    r.add_post(f"{PREFIX}/keys/{{id}}/rotate", rotate_key)
    r.add_get(f"{PREFIX}/usage", usage)
