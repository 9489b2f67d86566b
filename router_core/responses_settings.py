"""Config for the Responses API's stored responses (``store`` / ``previous_response_id``)."""

from __future__ import annotations

from msgspec import Struct


class ResponsesSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Stored responses of ``POST /v1/responses`` (``store: true``, the API's default):
    what ``GET`` / ``DELETE /v1/responses/{id}``, ``previous_response_id`` and
    ``item_reference`` read. They live in the state backend (a SQLite file of their own,
    or Redis), scoped to the account that created them."""

    #: Hours a stored response is kept; 0 stores nothing (every request then behaves as
    #: with `store: false`, and `previous_response_id` is refused as not found).
    retention_hours: float = 720.0
    #: SQLite file for stored responses (state backend "embedded"); empty: beside
    #: `state.sqlite_path` with "-responses" added to its name.
    sqlite_path: str = ""
