"""The shared Store: accounts, keys and usage in Redis, for many router processes.

Layout (``vr:`` is the default prefix):

* ``vr:account:{id}`` / ``vr:key:{id}``: one hash per record; a ``None`` field is
  simply absent, so "no limit" and ``0`` stay distinct.
* ``vr:accounts``, ``vr:keys``, ``vr:account_keys:{account_id}``: sets of ids.
* ``vr:key_hash``: hash ``secret_hash -> key id`` (the secret itself never arrives here).
* ``vr:usage:{YYYY-MM-DD}``: per-day hash, field = JSON ``[account, key, model, metric]``,
  incremented with HINCRBY / HINCRBYFLOAT; ``vr:usage_days`` is a sorted set of the
  days (all score 0, so lexical order = date order) for ``since_day`` queries;
  ``vr:usage_batch:{id}`` marks a ledger batch as applied (expires after a day).
* ``vr:member:{id}`` hash, ``vr:members`` and ``vr:account_members:{account_id}`` sets,
  ``vr:member_email`` hash ``email -> member id`` (keeps emails unique).
* ``vr:session:{sha256 of the cookie}`` hash that Redis expires itself at the session's
  end; ``vr:member_sessions:{member_id}`` set of those hashes (to end them all at once).
* ``vr:login_failures:{subject}`` hash ``failures``, ``last_at``, expiring when idle.

Writes that must check before they write (create, update) run as WATCH/MULTI
transactions, so two processes racing on one record cannot both win.

On a Redis Cluster (``state.redis_cluster``) the prefix is ``{vr}:``: one hash tag puts
every store key in one slot, so those transactions and scripts stay legal (the limit
counters, the hot path, are spread over the cluster by account: ``limits/redis.py``).

Every public method holds one call slot of the shared pool (``redis_link.py``): a full
pool means waiting, never an error. The lookups of the request path (``get_key_by_hash``,
``get_key``, ``get_account``) also get the short Redis deadline. Any Redis failure
leaves as ``StoreUnavailable``.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import msgspec
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from router_core.limits.base import LIMIT_FIELDS, RATE_FIELDS, Limits, RateLimits
from router_core.redis_link import RedisLink, RedisOptions
from router_core.store.base import (
    BATCH_ID_TTL_S,
    Account,
    AccountStatus,
    ApiKey,
    DashboardSession,
    Member,
    NotFound,
    StoreUnavailable,
    UsageEvent,
    UsageRow,
)

# Only moves last_used_at forward: flushes from several processes arrive in any order,
# and a key deleted or never created must not be resurrected as a one-field hash.
_TOUCH_LUA = """
for i, k in ipairs(KEYS) do
  if redis.call('EXISTS', k) == 1 then
    local cur = redis.call('HGET', k, 'last_used_at')
    if (not cur) or tonumber(cur) < tonumber(ARGV[i]) then
      redis.call('HSET', k, 'last_used_at', ARGV[i])
    end
  end
end
return 0
"""

# One batch of usage, applied once: KEYS = [marker, days index, day hash...];
# ARGV = [use marker (0/1), marker ttl, then per day hash: day, n, n x (field, i|f, value)].
# The marker (``vr:usage_batch:{id}``) is set in the same atomic script as the
# increments, so a batch retried after it was applied changes nothing.
_USAGE_LUA = """
if ARGV[1] == '1' and not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return 0
end
local a = 3
for k = 3, #KEYS do
  redis.call('ZADD', KEYS[2], 0, ARGV[a])
  local n = tonumber(ARGV[a + 1])
  a = a + 2
  for _ = 1, n do
    if ARGV[a + 1] == 'f' then
      redis.call('HINCRBYFLOAT', KEYS[k], ARGV[a], ARGV[a + 2])
    else
      redis.call('HINCRBY', KEYS[k], ARGV[a], ARGV[a + 2])
    end
    a = a + 3
  end
end
return 1
"""
_USAGE_METRICS = ("requests", "prompt_tokens", "completion_tokens", "cost_usd")

Hash = dict[str, str]  # as read back (decode_responses=True)
Fields = dict[FieldT, EncodableT]  # as written; redis-py's Mapping key type is invariant


def _multi(pipe: Pipeline) -> None:
    """End the WATCH phase of a transaction; queued commands follow."""
    pipe.multi()  # type: ignore[no-untyped-call]  # redis-py leaves multi() unannotated


def _put(h: Fields, name: str, value: int | float | str | None) -> None:
    if value is not None:
        # repr() of a float round-trips exactly through float().
        h[name] = repr(value) if isinstance(value, float) else str(value)


def _opt_float(h: Hash, name: str) -> float | None:
    return float(h[name]) if name in h else None


L = TypeVar("L", bound=RateLimits)


def _limits(h: Hash, typ: type[L]) -> L:
    # Absent fields are None (no limit); strict=False parses the stored strings.
    fields = {name: h[name] for name in typ.__struct_fields__ if name in h}
    try:
        return msgspec.convert(fields, typ, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"bad limits in store: {exc}") from exc


def _encode_account(a: Account) -> Fields:
    h: Fields = {}
    for name in ("id", "name", "status", "created_at"):
        _put(h, name, getattr(a, name))
    for name in LIMIT_FIELDS:
        _put(h, name, getattr(a.limits, name))
    return h


def _decode_account(h: Hash) -> Account:
    if h["status"] not in ("active", "inactive"):
        raise ValueError(f"unknown account status in store: {h['status']!r}")
    return Account(
        id=h["id"],
        name=h["name"],
        status=cast(AccountStatus, h["status"]),
        created_at=float(h["created_at"]),
        limits=_limits(h, Limits),
    )


def _encode_key(k: ApiKey) -> Fields:
    h: Fields = {"allowed_models": json.dumps(list(k.allowed_models))}
    for name in ("id", "account_id", "name", "prefix", "secret_hash", "created_at",
                 "expires_at", "revoked_at", "last_used_at", "error_format"):  # fmt: skip
        _put(h, name, getattr(k, name))
    for name in RATE_FIELDS:
        _put(h, name, getattr(k.limits, name))
    return h


def _decode_key(h: Hash) -> ApiKey:
    return ApiKey(
        id=h["id"],
        account_id=h["account_id"],
        name=h["name"],
        prefix=h["prefix"],
        secret_hash=h["secret_hash"],
        created_at=float(h["created_at"]),
        expires_at=_opt_float(h, "expires_at"),
        revoked_at=_opt_float(h, "revoked_at"),
        last_used_at=_opt_float(h, "last_used_at"),
        limits=_limits(h, RateLimits),
        allowed_models=tuple(json.loads(h["allowed_models"])),
        error_format=h.get("error_format"),
    )


def _encode_member(m: Member) -> Fields:
    h: Fields = {}
    for name in ("id", "account_id", "email", "password_hash", "created_at", "last_login_at"):
        _put(h, name, getattr(m, name))
    return h


def _decode_member(h: Hash) -> Member:
    return Member(
        id=h["id"],
        account_id=h["account_id"],
        email=h["email"],
        password_hash=h["password_hash"],
        created_at=float(h["created_at"]),
        last_login_at=_opt_float(h, "last_login_at"),
    )


def _usage_field(account_id: str, key_id: str, model: str, metric: str) -> str:
    # JSON, not a separator: model names may contain any character.
    return json.dumps([account_id, key_id, model, metric], separators=(",", ":"))


def _day(ts: float) -> str:
    # Unix time has exactly 86,400 s per UTC day; formatting a datetime per event was
    # ~2% of a busy Redis-backed router's CPU.
    return _day_name(int(ts // 86_400))


@functools.lru_cache(maxsize=8)
def _day_name(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")


def _usage_groups(
    events: Sequence[UsageEvent],
) -> dict[tuple[str, str, str, str], tuple[int, int, int, float]]:
    """Sums per (day, account, key, model): requests, prompt, completion, cost."""
    sums: dict[tuple[str, str, str, str], tuple[int, int, int, float]] = {}
    for e in events:
        group = (_day(e.ts), e.account_id, e.key_id, e.model)
        requests, prompt, completion, cost = sums.get(group, (0, 0, 0, 0.0))
        sums[group] = (
            requests + 1,
            prompt + e.prompt_tokens,
            completion + e.completion_tokens,
            cost + e.cost_usd,
        )
    return sums


_CLUSTER_TAG = "vr"
_LOOKUPS = frozenset({"get_key_by_hash", "get_key", "get_account"})
_INSIDE: ContextVar[bool] = ContextVar("redis_store_inside", default=False)
_C = TypeVar("_C", bound=type)


def _bounded(cls: _C) -> _C:
    """Wrap every public coroutine method of the class (see the module docstring)."""
    for name, fn in list(vars(cls).items()):
        if name.startswith("_") or name in ("open", "close"):
            continue
        if inspect.iscoroutinefunction(fn):
            setattr(cls, name, _bounded_call(fn, deadline=name in _LOOKUPS))
    return cls


def _bounded_call(fn: Callable[..., Any], *, deadline: bool) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def call(self: RedisStore, *args: Any, **kwargs: Any) -> Any:
        if _INSIDE.get():  # a method calling another holds its caller's slot already
            return await fn(self, *args, **kwargs)
        link = self._open_link()
        token = _INSIDE.set(True)
        try:
            if deadline:
                return await link.deadline(fn(self, *args, **kwargs))
            async with link.slot():
                return await fn(self, *args, **kwargs)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis: {exc!r}") from exc
        finally:
            _INSIDE.reset(token)

    return call


@_bounded
class RedisStore:
    """Store on Redis; every router process pointed at the same Redis shares it."""

    def __init__(
        self, url: str, *, prefix: str | None = None, options: RedisOptions | None = None
    ) -> None:
        self._options = options or RedisOptions(url)
        if prefix is None:
            prefix = f"{{{_CLUSTER_TAG}}}:" if self._options.cluster else "vr:"
        self._p = prefix
        self._link: RedisLink | None = None

    def _open_link(self) -> RedisLink:
        if self._link is None:
            raise StoreUnavailable("RedisStore is not open")
        return self._link

    @property
    def _r(self) -> aioredis.Redis:
        return self._open_link().client

    def _account_key(self, account_id: str) -> str:
        return f"{self._p}account:{account_id}"

    def _key_key(self, key_id: str) -> str:
        return f"{self._p}key:{key_id}"

    def _account_keys(self, account_id: str) -> str:
        return f"{self._p}account_keys:{account_id}"

    async def open(self) -> None:
        """Connect, and fail now (not at the first request) if Redis is unreachable."""
        if self._link is not None:
            return
        link = RedisLink(
            self._options, decode_responses=True, request_path=False, pin_tag=_CLUSTER_TAG
        )
        try:
            await link.ping()
        except BaseException:
            await link.aclose()
            raise
        self._link = link

    async def close(self) -> None:
        """Close the connection pool."""
        link, self._link = self._link, None
        if link is not None:
            await link.aclose()

    async def _hashes(self, names: Sequence[str]) -> list[Hash]:
        if not names:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(name)
            results = await pipe.execute()
        return [cast(Hash, r) for r in results if r]

    # accounts

    async def create_account(self, account: Account) -> Account:
        """Insert a new account; raises ValueError if the id exists."""
        name = self._account_key(account.id)

        async def tx(pipe: Pipeline) -> None:
            if await pipe.exists(name):
                raise ValueError(f"account {account.id!r} already exists")
            _multi(pipe)
            pipe.hset(name, mapping=_encode_account(account))
            pipe.sadd(f"{self._p}accounts", account.id)

        await self._r.transaction(tx, name)
        return account

    async def get_account(self, account_id: str) -> Account | None:
        """The account, or None."""
        h = cast(Hash, await self._r.hgetall(self._account_key(account_id)))
        return _decode_account(h) if h else None

    async def list_accounts(self) -> list[Account]:
        """All accounts, oldest first."""
        ids = cast(set[str], await self._r.smembers(f"{self._p}accounts"))
        hashes = await self._hashes([self._account_key(i) for i in sorted(ids)])
        return sorted((_decode_account(h) for h in hashes), key=lambda a: (a.created_at, a.id))

    async def update_account(self, account: Account) -> Account:
        """Replace an existing account's fields; raises NotFound."""
        name = self._account_key(account.id)

        async def tx(pipe: Pipeline) -> None:
            if not await pipe.exists(name):
                raise NotFound(f"account {account.id!r}")
            _multi(pipe)
            pipe.delete(name)
            pipe.hset(name, mapping=_encode_account(account))

        await self._r.transaction(tx, name)
        return account

    # keys

    async def create_key(self, key: ApiKey) -> ApiKey:
        """Insert a new key; NotFound for an unknown account, ValueError for a
        duplicate id or secret hash."""
        name = self._key_key(key.id)
        account = self._account_key(key.account_id)
        index = f"{self._p}key_hash"

        async def tx(pipe: Pipeline) -> None:
            if not await pipe.exists(account):
                raise NotFound(f"account {key.account_id!r}")
            if await pipe.exists(name) or await pipe.hexists(index, key.secret_hash):
                raise ValueError(f"key {key.id!r} or its hash already exists")
            _multi(pipe)
            pipe.hset(name, mapping=_encode_key(key))
            pipe.hset(index, key.secret_hash, key.id)
            pipe.sadd(f"{self._p}keys", key.id)
            pipe.sadd(self._account_keys(key.account_id), key.id)

        await self._r.transaction(tx, name, account, index)
        return key

    async def get_key(self, key_id: str) -> ApiKey | None:
        """The key, or None."""
        h = cast(Hash, await self._r.hgetall(self._key_key(key_id)))
        return _decode_key(h) if h else None

    async def get_key_by_hash(self, secret_hash: str) -> ApiKey | None:
        """The key whose secret hashes to ``secret_hash``, or None."""
        key_id = cast(str | None, await self._r.hget(f"{self._p}key_hash", secret_hash))
        if key_id is None:
            return None
        key = await self.get_key(key_id)
        # A rotation between the two reads leaves the old hash pointing nowhere valid.
        return key if key is not None and key.secret_hash == secret_hash else None

    async def list_keys(self, account_id: str | None = None) -> list[ApiKey]:
        """All keys, or one account's, oldest first."""
        ids_set = self._p + "keys" if account_id is None else self._account_keys(account_id)
        ids = cast(set[str], await self._r.smembers(ids_set))
        hashes = await self._hashes([self._key_key(i) for i in sorted(ids)])
        return sorted((_decode_key(h) for h in hashes), key=lambda k: (k.created_at, k.id))

    async def update_key(self, key: ApiKey) -> ApiKey:
        """Replace an existing key's fields; NotFound for an unknown key or account,
        ValueError if a rotated secret hash belongs to another key."""
        name = self._key_key(key.id)
        account = self._account_key(key.account_id)
        index = f"{self._p}key_hash"

        async def tx(pipe: Pipeline) -> None:
            old = cast(Hash, await pipe.hgetall(name))
            if not old:
                raise NotFound(f"key {key.id!r}")
            if old.get("revoked_at") and key.revoked_at is None:
                # Revocation is final (see SqliteStore.update_key).
                raise NotFound(f"key {key.id!r} is revoked")
            if not await pipe.exists(account):
                raise NotFound(f"account {key.account_id!r}")
            rotated = old["secret_hash"] != key.secret_hash
            if rotated:
                owner = cast(str | None, await pipe.hget(index, key.secret_hash))
                if owner is not None and owner != key.id:
                    raise ValueError("secret hash belongs to another key")
            _multi(pipe)
            pipe.delete(name)
            pipe.hset(name, mapping=_encode_key(key))
            if rotated:
                # The old secret stops working in the same step the new one starts.
                pipe.hdel(index, old["secret_hash"])
                pipe.hset(index, key.secret_hash, key.id)
            if old["account_id"] != key.account_id:
                pipe.srem(self._account_keys(old["account_id"]), key.id)
                pipe.sadd(self._account_keys(key.account_id), key.id)

        await self._r.transaction(tx, name, account, index)
        return key

    async def touch_keys(self, last_used: dict[str, float]) -> None:
        """Batch-update last_used_at; never moves it backwards; unknown ids are ignored."""
        if not last_used:
            return
        keys = [self._key_key(k) for k in last_used]
        args = [repr(float(ts)) for ts in last_used.values()]
        await self._r.eval(_TOUCH_LUA, len(keys), *keys, *args)

    # usage ledger

    async def record_usage(
        self, events: Sequence[UsageEvent], *, batch_id: str | None = None
    ) -> None:
        """Add a batch to the per-day aggregates in one script (atomic); a
        ``batch_id`` already applied (within BATCH_ID_TTL_S) makes this a no-op."""
        if not events:
            return
        per_day: dict[str, list[str]] = {}
        for (day, account_id, key_id, model), values in _usage_groups(events).items():
            args = per_day.setdefault(day, [])
            for metric, value in zip(_USAGE_METRICS, values, strict=True):
                kind = "f" if metric == "cost_usd" else "i"
                args += [_usage_field(account_id, key_id, model, metric), kind, repr(value)]
        marker = f"{self._p}usage_batch:{batch_id}" if batch_id is not None else ""
        keys = [marker or f"{self._p}usage_days", f"{self._p}usage_days"]
        argv: list[str | int] = [1 if marker else 0, int(BATCH_ID_TTL_S)]
        for day, args in per_day.items():
            keys.append(f"{self._p}usage:{day}")
            argv += [day, len(args) // 3, *args]
        await self._r.eval(_USAGE_LUA, len(keys), *keys, *argv)

    async def query_usage(
        self,
        account_id: str | None = None,
        key_id: str | None = None,
        since_day: str | None = None,
    ) -> list[UsageRow]:
        """Aggregated rows matching every given filter (``since_day`` inclusive),
        ordered by day, account, key, model."""
        low = "-" if since_day is None else f"[{since_day}"
        days = cast(list[str], await self._r.zrangebylex(f"{self._p}usage_days", low, "+"))
        async with self._r.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(f"{self._p}usage:{day}")
            per_day = cast(list[Hash], await pipe.execute())
        rows: dict[tuple[str, str, str, str], dict[str, str]] = {}
        for day, fields in zip(days, per_day, strict=True):
            for field, value in fields.items():
                acct, key, model, metric = json.loads(field)
                if account_id is not None and acct != account_id:
                    continue
                if key_id is not None and key != key_id:
                    continue
                rows.setdefault((day, acct, key, model), {})[metric] = value
        return [
            UsageRow(
                day, acct, key, model,
                requests=int(m.get("requests", 0)),
                prompt_tokens=int(m.get("prompt_tokens", 0)),
                completion_tokens=int(m.get("completion_tokens", 0)),
                cost_usd=float(m.get("cost_usd", 0.0)),
            )
            for (day, acct, key, model), m in sorted(rows.items())
        ]  # fmt: skip

    # dashboard members

    def _member_key(self, member_id: str) -> str:
        return f"{self._p}member:{member_id}"

    async def create_member(self, member: Member) -> Member:
        """Insert a member; NotFound for an unknown account, ValueError if the id or
        email is taken."""
        name = self._member_key(member.id)
        account = self._account_key(member.account_id)
        index = f"{self._p}member_email"

        async def tx(pipe: Pipeline) -> None:
            if not await pipe.exists(account):
                raise NotFound(f"account {member.account_id!r}")
            if await pipe.exists(name) or await pipe.hexists(index, member.email):
                raise ValueError(f"member {member.email!r} already exists")
            _multi(pipe)
            pipe.hset(name, mapping=_encode_member(member))
            pipe.hset(index, member.email, member.id)
            pipe.sadd(f"{self._p}members", member.id)
            pipe.sadd(f"{self._p}account_members:{member.account_id}", member.id)

        await self._r.transaction(tx, name, account, index)
        return member

    async def get_member(self, member_id: str) -> Member | None:
        """The member, or None."""
        h = cast(Hash, await self._r.hgetall(self._member_key(member_id)))
        return _decode_member(h) if h else None

    async def get_member_by_email(self, email: str) -> Member | None:
        """The member with this (lower-cased) email, or None."""
        member_id = cast(str | None, await self._r.hget(f"{self._p}member_email", email))
        if member_id is None:
            return None
        member = await self.get_member(member_id)
        return member if member is not None and member.email == email else None

    async def list_members(self, account_id: str | None = None) -> list[Member]:
        """All members, or one account's, oldest first."""
        ids_set = (
            f"{self._p}members" if account_id is None else f"{self._p}account_members:{account_id}"
        )
        ids = cast(set[str], await self._r.smembers(ids_set))
        hashes = await self._hashes([self._member_key(i) for i in sorted(ids)])
        return sorted((_decode_member(h) for h in hashes), key=lambda m: (m.created_at, m.id))

    async def update_member(self, member: Member) -> Member:
        """Replace a member's fields; NotFound, or ValueError if the email is taken."""
        name = self._member_key(member.id)
        account = self._account_key(member.account_id)
        index = f"{self._p}member_email"

        async def tx(pipe: Pipeline) -> None:
            old = cast(Hash, await pipe.hgetall(name))
            if not old:
                raise NotFound(f"member {member.id!r}")
            if not await pipe.exists(account):
                raise NotFound(f"account {member.account_id!r}")
            owner = cast(str | None, await pipe.hget(index, member.email))
            if owner is not None and owner != member.id:
                raise ValueError(f"member {member.email!r} already exists")
            _multi(pipe)
            pipe.delete(name)
            pipe.hset(name, mapping=_encode_member(member))
            if old["email"] != member.email:
                pipe.hdel(index, old["email"])
                pipe.hset(index, member.email, member.id)
            if old["account_id"] != member.account_id:
                pipe.srem(f"{self._p}account_members:{old['account_id']}", member.id)
                pipe.sadd(f"{self._p}account_members:{member.account_id}", member.id)

        await self._r.transaction(tx, name, account, index)
        return member

    async def delete_member(self, member_id: str) -> None:
        """Remove a member and every session of theirs; raises NotFound."""
        name = self._member_key(member_id)
        sessions = f"{self._p}member_sessions:{member_id}"

        async def tx(pipe: Pipeline) -> None:
            old = cast(Hash, await pipe.hgetall(name))
            if not old:
                raise NotFound(f"member {member_id!r}")
            live = cast(set[str], await pipe.smembers(sessions))
            _multi(pipe)
            pipe.delete(name, sessions, *(f"{self._p}session:{h}" for h in live))
            pipe.hdel(f"{self._p}member_email", old["email"])
            pipe.srem(f"{self._p}members", member_id)
            pipe.srem(f"{self._p}account_members:{old['account_id']}", member_id)

        await self._r.transaction(tx, name, sessions)

    # dashboard sessions

    async def create_session(self, session: DashboardSession) -> None:
        """Store a session; Redis drops it at ``expires_at``."""
        name = f"{self._p}session:{session.id_hash}"
        index = f"{self._p}member_sessions:{session.member_id}"
        expire_ms = int(session.expires_at * 1000)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(
                name,
                mapping={
                    "member_id": session.member_id,
                    "account_id": session.account_id,
                    "csrf_token": session.csrf_token,
                    "created_at": repr(session.created_at),
                    "expires_at": repr(session.expires_at),
                },
            )
            pipe.pexpireat(name, expire_ms)
            pipe.sadd(index, session.id_hash)
            # The index outlives none of its sessions by much: push its expiry forward.
            pipe.pexpireat(index, expire_ms, gt=True)
            pipe.pexpireat(index, expire_ms, nx=True)
            await pipe.execute()

    async def get_session(self, id_hash: str, now: float) -> DashboardSession | None:
        """The session unless unknown or expired at ``now``."""
        h = cast(Hash, await self._r.hgetall(f"{self._p}session:{id_hash}"))
        if not h or float(h["expires_at"]) <= now:
            return None
        return DashboardSession(
            id_hash=id_hash,
            member_id=h["member_id"],
            account_id=h["account_id"],
            csrf_token=h["csrf_token"],
            created_at=float(h["created_at"]),
            expires_at=float(h["expires_at"]),
        )

    async def delete_session(self, id_hash: str) -> None:
        """Forget a session; unknown ids are ignored."""
        name = f"{self._p}session:{id_hash}"
        member_id = cast(str | None, await self._r.hget(name, "member_id"))
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.delete(name)
            if member_id is not None:
                pipe.srem(f"{self._p}member_sessions:{member_id}", id_hash)
            await pipe.execute()

    async def delete_member_sessions(self, member_id: str) -> int:
        """End every session of a member; how many ended."""
        index = f"{self._p}member_sessions:{member_id}"

        async def tx(pipe: Pipeline) -> None:
            live = cast(set[str], await pipe.smembers(index))
            _multi(pipe)
            pipe.delete(index)
            if live:
                pipe.delete(*(f"{self._p}session:{h}" for h in live))

        # Watching the index: a session started meanwhile makes the transaction retry.
        results = cast(list[int], await self._r.transaction(tx, index))
        return int(results[1]) if len(results) > 1 else 0

    # sign-in throttling

    async def login_failures(self, subject: str) -> tuple[int, float]:
        """``(failed attempts, time of the last one)``; ``(0, 0.0)`` if none."""
        h = cast(Hash, await self._r.hgetall(f"{self._p}login_failures:{subject}"))
        if not h:
            return 0, 0.0
        return int(h.get("failures", 0)), float(h.get("last_at", 0.0))

    async def add_login_failure(self, subject: str, now: float, forget_after: float) -> int:
        """Count one failed attempt; Redis expires a subject idle for ``forget_after`` s."""
        name = f"{self._p}login_failures:{subject}"
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hincrby(name, "failures", 1)
            pipe.hset(name, "last_at", repr(float(now)))
            pipe.pexpire(name, max(1, int(forget_after * 1000)))
            count, _, _ = await pipe.execute()
        return int(count)

    async def clear_login_failures(self, subject: str) -> None:
        """Forget a subject's failures."""
        await self._r.delete(f"{self._p}login_failures:{subject}")
