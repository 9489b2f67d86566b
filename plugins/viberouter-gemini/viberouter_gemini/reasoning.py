"""Gemini thinking as OpenRouter's ``reasoning_details``, and back.

Thought summaries (``thought: true`` parts) are one ``reasoning.text`` entry;
a ``thoughtSignature`` on a part that is not a function call (Gemini puts one on the
last part of an answer without calls) is a ``reasoning.encrypted`` entry whose
``data`` is the signature, so a client that sends ``reasoning_details`` back gets it
onto the first part of the replayed turn. Signatures of function calls keep riding
in the tool-call id (``tool_ids.py``), which survives clients that drop unknown
fields. Entries of another ``format`` are another provider's and are ignored.
"""

from __future__ import annotations

from router_core.plugin_api import Message, ReasoningDetail

#: OpenRouter's ``format`` name for Gemini reasoning.
REASONING_FORMAT = "google-gemini-v1"


def thought_detail(index: int, text: str) -> ReasoningDetail:
    """Thought summary text as a ``reasoning.text`` entry."""
    return ReasoningDetail(type="reasoning.text", text=text, format=REASONING_FORMAT, index=index)


def signature_detail(index: int, signature: str) -> ReasoningDetail:
    """A part's ``thoughtSignature`` as a ``reasoning.encrypted`` entry."""
    return ReasoningDetail(
        type="reasoning.encrypted", data=signature, format=REASONING_FORMAT, index=index
    )


def replayed_signature(msg: Message) -> str | None:
    """The text-part signature an assistant turn sent back carries, if any."""
    if not isinstance(msg.reasoning_details, list):
        return None
    for detail in msg.reasoning_details:
        if (
            detail.type == "reasoning.encrypted"
            and detail.format == REASONING_FORMAT
            and isinstance(detail.data, str)
            and detail.data
        ):
            return detail.data
    return None


__all__ = ["REASONING_FORMAT", "replayed_signature", "signature_detail", "thought_detail"]
