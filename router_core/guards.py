"""Checks before any upstream call: message rules and the context-length estimate.

The default estimator counts about 4 characters per token plus a few tokens per
message; it over-estimates English prose slightly, which is the safe side.
"""

from __future__ import annotations

from router_core.api.chat import ChatRequest, NamedFunction, TextPart
from router_core.api.models import ModelCard
from router_core.errors import ContextLengthExceeded, InvalidRequest

PER_MESSAGE_TOKENS = 4
CHARS_PER_TOKEN = 4
IMAGE_TOKENS = 765


def check_messages(req: ChatRequest) -> None:
    """Role-specific rules msgspec cannot express; messages name the field path."""
    if req.stream_options is not None and not req.stream:
        raise InvalidRequest(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled"
            " - at `$.stream_options`"
        )
    if req.top_logprobs is not None and not req.logprobs:
        raise InvalidRequest("'top_logprobs' requires 'logprobs': true - at `$.top_logprobs`")
    for i, m in enumerate(req.messages):
        if m.role == "tool" and not isinstance(m.tool_call_id, str):
            raise InvalidRequest(
                f"A tool message needs 'tool_call_id' - at `$.messages[{i}].tool_call_id`"
            )
        if m.role in ("system", "developer", "tool") and isinstance(m.content, list):
            for j, part in enumerate(m.content):
                if not isinstance(part, TextPart):
                    raise InvalidRequest(
                        f"A {m.role} message accepts only text parts"
                        f" - at `$.messages[{i}].content[{j}]`"
                    )
        if m.role in ("user", "system", "developer") and m.content is None:
            raise InvalidRequest(
                f"A {m.role} message needs 'content' - at `$.messages[{i}].content`"
            )
    if req.tool_choice is not None and not isinstance(req.tool_choice, str):
        fn = req.tool_choice.function
        names = {t.function.name for t in req.tools or ()}
        if req.tool_choice.type == "function" and (
            not isinstance(fn, NamedFunction) or fn.name not in names
        ):
            raise InvalidRequest(
                "tool_choice names a function that is not in 'tools' - at `$.tool_choice`"
            )


def estimate_prompt_tokens(req: ChatRequest) -> int:
    """A fast upper-leaning estimate of the prompt's tokens."""
    chars = 0
    images = 0
    for m in req.messages:
        c = m.content
        if isinstance(c, str):
            chars += len(c)
        elif c is not None:
            for part in c:
                if isinstance(part, TextPart):
                    chars += len(part.text)
                else:
                    images += 1
        if isinstance(m.tool_calls, list):
            for tc in m.tool_calls:
                chars += len(tc.function.name) + len(tc.function.arguments)
    tools = 0
    for t in req.tools or ():
        tools += (
            len(t.function.name)
            + 40
            + (len(str(t.function.parameters)) if t.function.parameters else 0)
        )
    return (
        (chars + tools) // CHARS_PER_TOKEN
        + PER_MESSAGE_TOKENS * len(req.messages)
        + IMAGE_TOKENS * images
        + 3
    )


def output_budget(req: ChatRequest, card: ModelCard) -> int:
    """Tokens the request may produce: the client's cap, else the model's."""
    return req.output_limit or card.max_output_tokens


def check_context(req: ChatRequest, card: ModelCard, prompt_tokens: int) -> None:
    """context_length_exceeded before any upstream call."""
    if card.context_length <= 0:
        return
    if prompt_tokens > card.context_length:
        raise ContextLengthExceeded(
            f"This model's maximum context length is {card.context_length} tokens; "
            f"the messages are about {prompt_tokens} tokens"
        )
    wanted = req.output_limit
    if wanted is not None and prompt_tokens + wanted > card.context_length:
        raise ContextLengthExceeded(
            f"This model's maximum context length is {card.context_length} tokens; "
            f"the messages (about {prompt_tokens}) plus max_tokens ({wanted}) exceed it"
        )
