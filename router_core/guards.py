"""Checks before any upstream call: request shape limits, message rules and the
context-length check against every model a request may reach.

The default estimator (:func:`estimate_prompt_tokens`) weighs character classes
the way BPE tokenizers split them: letters about 3.5 per token, each digit about
one token, other ASCII symbols two per token, non-ASCII text by its UTF-8 bytes
(three per token), plus 5 tokens of framing per message. Its error is measured on
``tests/data/estimator_corpus`` against a real tokenizer and documented in
docs/guards.md. A provider plugin that knows its tokenizer may define
``count_tokens(request, deployment) -> int | None``; its answer wins.
"""

from __future__ import annotations

import string
from collections.abc import Sequence

import msgspec

from router_core.api.chat import ChatRequest, Message, NamedFunction, TextPart
from router_core.api.models import ModelCard
from router_core.catalog import Target
from router_core.errors import ContextLengthExceeded, InvalidRequest
from router_core.guard_settings import MIDDLE_OUT, GuardSettings

PER_MESSAGE_TOKENS = 5
#: Tokens the reply's framing costs (the assistant turn the model starts).
REPLY_TOKENS = 3
#: What one image part costs (a high-detail tile budget; providers differ).
IMAGE_TOKENS = 765
#: Framing of one tool definition and of one tool call, beyond their text.
TOOL_TOKENS = 10
LETTERS_PER_TOKEN = 3.5
SYMBOLS_PER_TOKEN = 2.0
NON_ASCII_BYTES_PER_TOKEN = 3.0

_DIGITS = string.digits.encode()
_LETTERS = string.ascii_letters.encode()
_SPACE = b" \t\r\n"
_HIGH = bytes(range(128, 256))
_encoder = msgspec.json.Encoder()


def check_message_count(req: ChatRequest, guards: GuardSettings) -> None:
    """At most ``max_messages`` messages (checked after middle-out, which may trim)."""
    if len(req.messages) > guards.max_messages:
        raise InvalidRequest(
            f"Too many messages: {len(req.messages)} (at most {guards.max_messages})"
            " - at `$.messages`"
        )


def check_shape(req: ChatRequest, guards: GuardSettings) -> None:
    """Tool count and transforms within the configured limits (400 invalid_request);
    the message count too, unless middle-out may trim it first."""
    if not req.transforms or MIDDLE_OUT not in req.transforms:
        check_message_count(req, guards)
    if req.tools is not None and len(req.tools) > guards.max_tools:
        raise InvalidRequest(
            f"Too many tools: {len(req.tools)} (at most {guards.max_tools}) - at `$.tools`"
        )
    for i, name in enumerate(req.transforms or ()):
        if name not in guards.allowed_transforms:
            allowed = ", ".join(repr(t) for t in guards.allowed_transforms) or "none"
            raise InvalidRequest(
                f"Unknown transform {name!r} (allowed: {allowed}) - at `$.transforms[{i}]`"
            )


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
        _check_message(i, m)
    if req.tool_choice is not None and not isinstance(req.tool_choice, str):
        fn = req.tool_choice.function
        names = {t.function.name for t in req.tools or ()}
        if req.tool_choice.type == "function" and (
            not isinstance(fn, NamedFunction) or fn.name not in names
        ):
            raise InvalidRequest(
                "tool_choice names a function that is not in 'tools' - at `$.tool_choice`"
            )


def _check_message(i: int, m: Message) -> None:
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
        raise InvalidRequest(f"A {m.role} message needs 'content' - at `$.messages[{i}].content`")


def estimate_text_tokens(text: str) -> float:
    """Tokens of one text by character class (C-speed byte counting, no regex)."""
    if text.isascii():
        b = text.encode("ascii")
        high = 0
    else:
        b = text.encode("utf-8")
        high = len(b) - len(b.translate(None, _HIGH))
    n = len(b)
    digits = n - len(b.translate(None, _DIGITS))
    letters = n - len(b.translate(None, _LETTERS))
    space = n - len(b.translate(None, _SPACE))
    symbols = n - digits - letters - space - high
    return (
        letters / LETTERS_PER_TOKEN
        + digits
        + symbols / SYMBOLS_PER_TOKEN
        + high / NON_ASCII_BYTES_PER_TOKEN
    )


def estimate_message_tokens(req: ChatRequest, index: int) -> int:
    """The estimate of one message of ``req`` (framing included)."""
    m = req.messages[index]
    tokens = float(PER_MESSAGE_TOKENS)
    c = m.content
    if isinstance(c, str):
        tokens += estimate_text_tokens(c)
    elif c is not None:
        for part in c:
            if isinstance(part, TextPart):
                tokens += estimate_text_tokens(part.text)
            else:
                tokens += IMAGE_TOKENS
    if isinstance(m.tool_calls, list):
        for tc in m.tool_calls:
            tokens += TOOL_TOKENS + estimate_text_tokens(tc.function.name)
            tokens += estimate_text_tokens(tc.function.arguments)
    return int(tokens + 0.999)


def estimate_tools_tokens(req: ChatRequest) -> int:
    """The estimate of the tool definitions (their JSON text)."""
    tokens = 0.0
    for t in req.tools or ():
        tokens += TOOL_TOKENS + estimate_text_tokens(_encoder.encode(t.function).decode())
    return int(tokens + 0.999)


def estimate_prompt_tokens(req: ChatRequest) -> int:
    """The default estimate of the prompt's tokens (see the module docstring)."""
    total = REPLY_TOKENS + estimate_tools_tokens(req)
    for i in range(len(req.messages)):
        total += estimate_message_tokens(req, i)
    return total


def prompt_tokens_for(req: ChatRequest, target: Target, default_tokens: int) -> int:
    """The prompt's tokens for one deployment: its plugin's count when it offers
    one (``ProviderPlugin.count_tokens``, optional: the default says None), else
    ``default_tokens``."""
    counted = target.plugin.count_tokens(req, target.deployment)
    return counted if counted is not None and counted >= 0 else default_tokens


def output_budget(req: ChatRequest, card: ModelCard) -> int:
    """Tokens the request may produce: the client's cap, else the model's."""
    return req.output_limit or card.max_output_tokens


def context_error(req: ChatRequest, card: ModelCard, prompt_tokens: int) -> str | None:
    """Why ``req`` does not fit ``card``'s context window, or None when it fits."""
    if card.context_length <= 0:
        return None
    if prompt_tokens > card.context_length:
        return (
            f"This model's maximum context length is {card.context_length} tokens; "
            f"the messages are about {prompt_tokens} tokens"
        )
    wanted = req.output_limit
    if wanted is not None and prompt_tokens + wanted > card.context_length:
        return (
            f"This model's maximum context length is {card.context_length} tokens; "
            f"the messages (about {prompt_tokens}) plus max_tokens ({wanted}) exceed it"
        )
    return None


def fitting_targets(
    req: ChatRequest, targets: Sequence[Target], default_tokens: int
) -> tuple[list[Target], int]:
    """The targets whose model can hold the request, in order, and the prompt
    tokens counted for the first of them; raises context_length_exceeded (worded
    for the first target) when none can."""
    kept: list[Target] = []
    first_tokens = default_tokens
    first_error: str | None = None
    for t in targets:
        tokens = prompt_tokens_for(req, t, default_tokens)
        why = context_error(req, t.deployment.card, tokens)
        if why is None:
            if not kept:
                first_tokens = tokens
            kept.append(t)
        elif first_error is None:
            first_error = why
    if not kept:
        raise ContextLengthExceeded(first_error)
    return kept, first_tokens
