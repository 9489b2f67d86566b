"""Context management a client opts into with ``transforms``: ``middle-out``.

Middle-out drops whole turns from the middle of the conversation until the prompt
fits the model's window (and the message-count limit). It never drops a system or
developer message, the last user message or anything after it (the turn being
answered, with its tool calls and results), and it drops an assistant message that
calls tools together with the tool results answering it, so no tool result is
left without its call and no call without its results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from router_core.api.chat import ChatRequest, Message
from router_core.guards import (
    REPLY_TOKENS,
    estimate_message_tokens,
    estimate_tools_tokens,
)


@dataclass(frozen=True, slots=True)
class Trimmed:
    """A transform's result: the request to send and how many messages it dropped."""

    request: ChatRequest
    removed: int


def _units(messages: Sequence[Message]) -> list[list[int]]:
    """Message indexes grouped into droppable units: an assistant message with tool
    calls plus the tool messages answering it form one unit; any other message is
    a unit of its own. Tool messages answering no earlier call join the unit before."""
    units: list[list[int]] = []
    open_calls: set[str] = set()
    for i, m in enumerate(messages):
        if (
            m.role == "tool"
            and units
            and (
                (isinstance(m.tool_call_id, str) and m.tool_call_id in open_calls)
                or messages[units[-1][-1]].role in ("tool", "assistant")
            )
        ):
            units[-1].append(i)
            continue
        units.append([i])
        open_calls = (
            {tc.id for tc in m.tool_calls}
            if m.role == "assistant" and isinstance(m.tool_calls, list)
            else set()
        )
    return units


def _protected(messages: Sequence[Message], unit: list[int], tail_start: int) -> bool:
    return unit[-1] >= tail_start or any(messages[i].role in ("system", "developer") for i in unit)


def middle_out(
    req: ChatRequest, *, max_tokens: int, max_messages: int, scale: float = 1.0
) -> Trimmed:
    """Drop units from the middle outwards until the estimate (times ``scale``, the
    ratio of a plugin tokenizer's count to the default estimate) is at most
    ``max_tokens`` and at most ``max_messages`` messages remain. Returns the request
    unchanged when it already fits; may still not fit when only protected messages
    are left (the context check then refuses it)."""
    messages = req.messages
    sizes = [estimate_message_tokens(req, i) for i in range(len(messages))]
    fixed = REPLY_TOKENS + estimate_tools_tokens(req)
    total = fixed + sum(sizes)
    count = len(messages)

    def fits() -> bool:
        return total * scale <= max_tokens and count <= max_messages

    if fits():
        return Trimmed(req, 0)
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=len(messages))
    units = _units(messages)
    droppable = [u for u in units if not _protected(messages, u, last_user)]
    dropped: set[int] = set()
    while droppable and not fits():
        unit = droppable.pop(len(droppable) // 2)
        for i in unit:
            dropped.add(i)
            total -= sizes[i]
            count -= 1
    if not dropped:
        return Trimmed(req, 0)
    kept = [m for i, m in enumerate(messages) if i not in dropped]
    return Trimmed(msgspec.structs.replace(req, messages=kept), len(dropped))
