"""Stored Responses API answers (``store: true``): the record and the protocol its
SQLite and Redis implementations share.

A record belongs to the account that created it: every lookup names the account, and
another account's id reads as absent (404), never as forbidden. Records expire after
the configured retention; an expired record reads as absent even before it is purged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One stored response.

    ``response`` is the response object as the client received it (JSON, for GET);
    ``conversation`` is the JSON list of input items that ``previous_response_id``
    expands to: the resolved history, this request's input, then its output items;
    ``items`` maps each output item id (``msg_…``, ``fc_…``, ``rs_…``) to its JSON,
    for ``item_reference``.
    """

    id: str
    account_id: str
    created_at: float
    expires_at: float
    response: bytes
    conversation: bytes
    items: dict[str, bytes] = field(default_factory=dict)


class ResponseStore(Protocol):
    """Where stored responses live; every method is scoped to one account."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def put(self, record: StoredResponse) -> None:
        """Insert (or replace) a record and its item index."""
        ...

    async def get(self, account_id: str, response_id: str, now: float) -> StoredResponse | None:
        """The live record, or None (unknown, expired, deleted or another account's)."""
        ...

    async def delete(self, account_id: str, response_id: str) -> bool:
        """Remove a record and its items; False when there was none for this account."""
        ...

    async def items(self, account_id: str, item_ids: Sequence[str], now: float) -> dict[str, bytes]:
        """The output items among ``item_ids`` (missing ids are left out). SQLite checks
        ``now``; Redis has dropped expired items itself by TTL at the real clock."""
        ...


__all__ = ["ResponseStore", "StoredResponse"]
