"""Stored responses in Redis (state backend "redis"), shared by every router process.

Layout (``vr:`` prefix): ``vr:resp:{account}:{id}`` hash with ``created_at``,
``expires_at``, ``response``, ``conversation`` and ``items`` (the JSON list of its item
ids); ``vr:resp_item:{account}:{item id}`` string with the item's JSON. Redis expires
every key itself at the record's end, so retention needs no sweeper. The account in
each key scopes lookups: another account's id is simply not there.

Connections go through ``redis_link.RedisLink`` (a full pool waits; a call gives up
after about a second of silence). On a Redis Cluster the prefix is ``{vr}:`` and the
client is pinned to the node serving that tag, beside the Store: a record's keys then
share one slot, as its MULTI needs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from router_core.redis_link import RedisLink, RedisOptions
from router_core.store.base import StoreUnavailable
from router_core.store.responses_base import StoredResponse


def _bytes(value: bytes | str) -> bytes:
    # redis-py types replies as bytes | str; with decode_responses=False they are bytes.
    return value if isinstance(value, bytes) else value.encode()


class RedisResponseStore:
    """ResponseStore in Redis; values are bytes, so the client does not decode."""

    def __init__(
        self, url: str, *, prefix: str | None = None, options: RedisOptions | None = None
    ) -> None:
        self._options = options or RedisOptions(url)
        self._prefix = prefix or ("{vr}:" if self._options.cluster else "vr:")
        self._link: RedisLink | None = None

    def _open_link(self) -> RedisLink:
        if self._link is None:
            raise StoreUnavailable("RedisResponseStore is not open")
        return self._link

    def _r(self) -> aioredis.Redis:
        return self._open_link().client

    def _key(self, account_id: str, response_id: str) -> str:
        return f"{self._prefix}resp:{account_id}:{response_id}"

    def _item_key(self, account_id: str, item_id: str) -> str:
        return f"{self._prefix}resp_item:{account_id}:{item_id}"

    async def open(self) -> None:
        """Connect (lazily: the first command opens the pool)."""
        if self._link is None:
            self._link = RedisLink(self._options, pin_tag="vr")

    async def close(self) -> None:
        """Close the connection pool."""
        link, self._link = self._link, None
        if link is not None:
            await link.aclose()

    async def put(self, record: StoredResponse) -> None:
        """Write the record and its items with the same expiry, atomically."""
        ttl_ms = max(1, math.ceil((record.expires_at - record.created_at) * 1000))
        key = self._key(record.account_id, record.id)
        try:
            async with self._open_link().slot(), self._r().pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.hset(
                    key,
                    mapping={
                        "created_at": repr(record.created_at),
                        "expires_at": repr(record.expires_at),
                        "response": record.response,
                        "conversation": record.conversation,
                        "items": json.dumps(list(record.items)),
                    },
                )
                pipe.pexpire(key, ttl_ms)
                for item_id, item in record.items.items():
                    pipe.set(self._item_key(record.account_id, item_id), item, px=ttl_ms)
                await pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    async def get(self, account_id: str, response_id: str, now: float) -> StoredResponse | None:
        """The live record, or None."""
        try:
            async with self._open_link().slot():
                h = await self._r().hgetall(self._key(account_id, response_id))
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        if not h or float(h[b"expires_at"]) < now:
            return None
        return StoredResponse(
            id=response_id,
            account_id=account_id,
            created_at=float(h[b"created_at"]),
            expires_at=float(h[b"expires_at"]),
            response=_bytes(h[b"response"]),
            conversation=_bytes(h[b"conversation"]),
        )

    async def delete(self, account_id: str, response_id: str) -> bool:
        """Remove the record and its items."""
        key = self._key(account_id, response_id)
        try:
            async with self._open_link().slot():
                r = self._r()
                raw = await r.hget(key, "items")
                item_ids: list[str] = json.loads(raw) if raw else []
                removed = await r.delete(key, *(self._item_key(account_id, i) for i in item_ids))
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        return bool(removed)

    async def items(self, account_id: str, item_ids: Sequence[str], now: float) -> dict[str, bytes]:
        """The live items among ``item_ids`` (Redis has already dropped expired ones)."""
        wanted = list(dict.fromkeys(item_ids))
        if not wanted:
            return {}
        try:
            async with self._open_link().slot():
                values = await self._r().mget([self._item_key(account_id, i) for i in wanted])
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc
        return {i: _bytes(v) for i, v in zip(wanted, values, strict=True) if v is not None}


__all__ = ["RedisResponseStore"]
