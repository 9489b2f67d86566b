"""Stored conversations: expand a request's ``previous_response_id`` and
``item_reference`` items from the caller's account, and build the record a finished
response leaves behind (``store`` true, the default).

Only the stored conversation is carried over, never earlier ``instructions`` (the
Responses API's rule). A chain links completed responses only.
"""

from __future__ import annotations

import msgspec

from router_core.dialects.openai_responses.dialect import ResponsesCall
from router_core.dialects.openai_responses.errors import ResponsesInvalid
from router_core.dialects.openai_responses.to_chat import to_chat_request
from router_core.dialects.openai_responses.wire import InputItem, Response
from router_core.store.responses_base import ResponseStore, StoredResponse

_items = msgspec.json.Decoder(list[InputItem])
_item = msgspec.json.Decoder(InputItem)
_encode = msgspec.json.Encoder().encode


async def expand(call: ResponsesCall, store: ResponseStore, account_id: str, now: float) -> None:
    """Read the stored state ``call`` refers to and set its canonical request.

    State the router does not hold is not an error yet: a native deployment may hold
    it (OpenAI keeps its own responses), so it becomes the call's translation error,
    answered only when no native deployment serves the call."""
    if not call.needs_state:
        return
    req = call.native
    missing: ResponsesInvalid | None = None
    if req.previous_response_id is not None:
        record = await store.get(account_id, req.previous_response_id, now)
        if record is None:
            missing = ResponsesInvalid(
                f"Previous response with id '{req.previous_response_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        else:
            call.history = _items.decode(record.conversation)
    refs = [
        item.id
        for item in call.own_input
        if item.type == "item_reference" and isinstance(item.id, str)
    ]
    found = await store.items(account_id, refs, now) if refs else {}
    resolved: list[InputItem] = []
    for i, item in enumerate(call.own_input):
        if item.type != "item_reference":
            resolved.append(item)
        elif isinstance(item.id, str) and item.id in found:
            resolved.append(_item.decode(found[item.id]))
        else:
            missing = missing or ResponsesInvalid(
                f"Item with id '{item.id or ''}' not found.", param=f"input[{i}]", code="not_found"
            )
    if missing is not None:
        call.untranslatable = missing
        return
    call.own_input = resolved
    native = msgspec.structs.replace(req, input=call.own_input)
    try:
        call.request = to_chat_request(native, call.history)
    except ResponsesInvalid as exc:
        call.untranslatable = exc


class _NativeResponse(msgspec.Struct):
    id: str
    output: list[msgspec.Raw] = msgspec.field(default_factory=list)


_native = msgspec.json.Decoder(_NativeResponse)


def native_record_for(
    call: ResponsesCall, body: bytes, account_id: str, now: float, retention_s: float
) -> StoredResponse | None:
    """The record a natively served answer leaves (the upstream's own response object),
    or None when it cannot be read as one."""
    try:
        doc = _native.decode(body)
        output = [_item.decode(raw) for raw in doc.output]
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    items = {item.id: bytes(raw) for item, raw in zip(output, doc.output, strict=True)
             if isinstance(item.id, str)}  # fmt: skip
    return StoredResponse(
        id=doc.id,
        account_id=account_id,
        created_at=now,
        expires_at=now + retention_s,
        response=body,
        conversation=_encode([*call.history, *call.own_input, *output]),
        items=items,
    )


def record_for(
    call: ResponsesCall, response: Response, account_id: str, now: float, retention_s: float
) -> StoredResponse:
    """What ``response`` leaves in the store: itself, and the conversation a follow-up
    expands to (history, this input, this output)."""
    conversation = [*call.history, *call.own_input, *response.output]
    return StoredResponse(
        id=response.id,
        account_id=account_id,
        created_at=now,
        expires_at=now + retention_s,
        response=_encode(response),
        conversation=_encode(conversation),
        items={item.id: _encode(item) for item in response.output},
    )


__all__ = ["expand", "native_record_for", "record_for"]
