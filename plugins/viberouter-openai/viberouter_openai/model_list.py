"""``GET /models`` answers (OpenAI and the servers that copy it) -> model ids."""

from __future__ import annotations

import msgspec

from router_core.plugin_api import ModelError


class _Model(msgspec.Struct):
    id: str


class _ModelList(msgspec.Struct):
    data: list[_Model]


_decoder = msgspec.json.Decoder(_ModelList)


def parse_model_list(body: bytes) -> list[str]:
    """The ids in ``{"data": [{"id": ...}, ...]}`` (other fields ignored), in order."""
    try:
        listed = _decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ModelError("The provider's model list is not readable", detail=str(exc)) from exc
    return [m.id for m in listed.data if m.id]
