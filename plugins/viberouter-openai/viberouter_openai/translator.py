"""A tolerant normaliser for OpenAI-compatible streams.

Whatever the upstream's quirks, the output is a clean OpenAI stream: the role on the
first delta of each choice only, no empty deltas, dense tool-call indexes per choice,
exactly one finish chunk per choice, and exactly one usage chunk (``choices=[]``) at
the end when the upstream reported usage on any chunk.

Most events of a well-behaved upstream need none of that: one choice, a text token
or a tool-call fragment at the index it will keep, nothing the canonical chunk lacks.
Those are decoded straight into the canonical types (``wire.SentChunk``) and returned
as they came, with ``as_sent`` set (contract 2.6), so the core can send the client
the event's own bytes. Any event that needs a change takes the tolerant path below;
after a few such events in a row the stream stops trying (an upstream that adds a
field to every event would otherwise pay two decodes per event).

The commonest of them, one more text token of a started choice with the stream's
identity unchanged, moves no state at all, so after one the translator also offers
the event with its text cut out (``token_template``, contract 2.8): the core takes
the next events of that shape from the bytes without calling :meth:`feed`.
"""

from __future__ import annotations

import msgspec

from router_core.plugin_api import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionDelta,
    ModelError,
    TokenTemplate,
    ToolCallDelta,
    UpstreamEvent,
    Usage,
    new_completion_id,
    new_tool_call_id,
    now,
)
from viberouter_openai import wire
from viberouter_openai.errors import error_for, fault_from_payload

# Hot-path aliases: feed() runs once per upstream event.
_UNSET = msgspec.UNSET
_decode = wire.chunk_decoder.decode
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)
# Read-only stand-ins for absent parts, so a missing delta/function allocates nothing.
_NO_DELTA = wire.UpDelta()
_NO_FUNCTION = wire.UpFunction()
_encode = msgspec.json.encode
_CONTENT_KEY = '"content":'
#: Events in a row that need a fix before a stream stops trying the as-sent decode.
MAX_SENT_MISSES = 4


class _Choice:
    """Per-choice state: what was emitted so far and how upstream tool indexes map."""

    __slots__ = ("by_id", "by_index", "finished", "ids", "last", "named", "started")

    def __init__(self) -> None:
        self.started = False
        self.finished = False
        self.ids: list[str] = []  # our tool-call slots, dense from 0
        self.named: list[bool] = []
        self.by_id: dict[str, int] = {}
        self.by_index: dict[int, int] = {}  # upstream index -> slot
        self.last: int | None = None


class OpenAIStreamTranslator:
    """Upstream SSE events in, canonical chunks out (see the module docstring)."""

    __slots__ = (
        "_choices",
        "_created",
        "_done",
        "_fingerprint",
        "_id",
        "_misses",
        "_model",
        "_null_usage",
        "_secrets",
        "_sent",
        "_templates",
        "_tier",
        "_usage",
        "as_sent",
        "token_template",
    )

    def __init__(
        self,
        fallback_model: str,
        *,
        keep_unknown: bool = False,
        null_usage: bool = False,
        secrets: tuple[str, ...] = (),
        templates: bool = False,
    ) -> None:
        #: The last feed() returned the event itself (contract 2.6, AsSentTranslator).
        self.as_sent = False
        # With unknown fields kept, an event is passed on only when it repeats none of
        # these (the provider's credentials): no byte a client gets may carry them, and
        # only the fields the router knows are what it would send anyway.
        self._secrets = secrets if keep_unknown else ()
        # Offered only to the core's as-sent reader, and never while events must be
        # checked for the credentials (what lies outside the text is not re-read).
        self._templates = templates and not self._secrets
        if self._templates:
            #: After a text token that moved no state: that event without its text
            #: (2.8). Left unset otherwise: the core then does not look for templates.
            self.token_template: TokenTemplate | None = None
        # Keep an as-sent chunk's ``usage`` None when its event says ``"usage":null``
        # (what the event is, for the core's encoder); otherwise unset, as the
        # tolerant path's content chunks.
        self._null_usage = null_usage
        self._sent = (wire.open_decoder if keep_unknown else wire.sent_decoder).decode
        self._misses = 0
        self._choices: dict[int, _Choice] = {}
        self._usage: wire.UpUsage | None = None
        self._done = False
        self._id = ""
        self._created = 0
        self._model = fallback_model
        self._fingerprint: str | msgspec.UnsetType | None = _UNSET
        self._tier: str | msgspec.UnsetType | None = _UNSET

    def feed(self, event: UpstreamEvent) -> list[ChatCompletionChunk]:
        """Translate one event; raise the mapped RouterError for an in-band error."""
        self.as_sent = False
        template = None
        if self._templates:
            template, self.token_template = self.token_template, None
        if self._done:
            return []
        if event.data == "[DONE]":  # the end as OpenAI writes it, without two failed decodes
            return self._end()
        if self._misses < MAX_SENT_MISSES:
            sent = self._as_sent(event.data, template)
            if sent is not None:
                return sent
        try:
            # JSON allows surrounding whitespace, so the common case needs no strip();
            # blank data, [DONE] and garbage all fail here and take the careful path.
            chunk = _decode(event.data)
        except _DECODE_ERRORS:
            data = event.data.strip()
            if not data:
                return []
            if data == "[DONE]":
                return self._end()
            chunk = self._decode_stripped(data)
        if chunk.error:
            raise error_for(None, fault_from_payload(chunk.error), {})
        # Remember the stream's identity: the latest non-empty id and clock win.
        self._id = chunk.id or self._id or new_completion_id()
        created = chunk.created
        self._created = (created if created.__class__ is int else int(created)) or (
            self._created or now()
        )
        if chunk.model and not self._choices:
            # The model rule: the upstream's name, fixed once a chunk went out (Azure
            # opens with a choice-less chunk that names no model).
            self._model = chunk.model
        if chunk.system_fingerprint is not _UNSET:
            self._fingerprint = chunk.system_fingerprint
        if chunk.service_tier is not _UNSET:
            self._tier = chunk.service_tier
        if chunk.usage is not None:
            self._usage = chunk.usage
        out: list[ChatCompletionChunk] = []
        if chunk.choices:
            for choice in chunk.choices:
                self._translate_choice(choice, out)
        return out

    def close(self) -> list[ChatCompletionChunk]:
        """The body ended: the usage chunk if not sent yet, or ModelError if unfinished."""
        return [] if self._done else self._end()

    # ------------------------------------------------------------------ internals

    def _as_sent(
        self, data: str, template: TokenTemplate | None
    ) -> list[ChatCompletionChunk] | None:
        """The event as its own chunk, or None (counted) when it needs the tolerant
        path; ``template`` is the token template the previous event left."""
        try:
            sent = self._sent(data)
        except _DECODE_ERRORS:
            sent = None
        if sent is None or (self._secrets and any(secret in data for secret in self._secrets)):
            self._misses += 1
            return None
        taken = self._take_as_sent(sent)
        if taken is None:
            self._misses += 1
            return None
        self._misses = 0
        self.as_sent = True
        # An as-sent chunk's usage is null or absent (wire.SentChunk): nothing to count.
        if taken and self._templates:
            self.token_template = self._template(sent, data, template)
        return [sent]

    @staticmethod
    def _template(
        chunk: ChatCompletionChunk, data: str, last: TokenTemplate | None
    ) -> TokenTemplate | None:
        """``data`` without its one text token's JSON string, or None when that string
        is not where it can be cut out safely (written with other escapes than
        msgspec's, or a second ``"content":`` key). ``last`` again when ``data`` has its
        shape."""
        if (
            last is not None
            and len(data) > len(last.prefix) + len(last.suffix)
            and data.startswith(last.prefix)
            and data.endswith(last.suffix)
        ):
            # The same shape: what lies between is this token's own JSON string (the
            # chunk is one text token, so nothing else can). The common case, checked
            # first: an event read one by one pays two comparisons, not a search.
            return last
        content = chunk.choices[0].delta.content
        assert isinstance(content, str)
        text = _encode(content).decode()
        at = data.find(_CONTENT_KEY)
        if at < 0 or data.find(_CONTENT_KEY, at + 1) >= 0:
            return None
        at += len(_CONTENT_KEY)
        if data.startswith(" ", at):
            at += 1
        if not data.startswith(text, at):
            return None
        return TokenTemplate(data[:at], data[at + len(text) :], msgspec.structs.replace(chunk))

    def _take_as_sent(self, chunk: wire.SentChunk | wire.OpenChunk) -> bool | None:
        """Whether ``chunk`` is what the tolerant path would emit for its event (None
        when not); if so the stream's state moves on as that path would move it. True
        for one more text token of a started choice, which moves nothing; False for
        any other event taken."""
        choices = chunk.choices
        if len(choices) != 1:
            return None
        up = choices[0]
        delta = up.delta
        state = self._choices.get(up.index)
        if (
            # The common event: one more text token of a started choice, the stream's
            # identity as it was. Nothing in the state moves.
            state is not None
            and state.started
            and not state.finished
            and up.finish_reason is None
            and delta.content
            and delta.role is _UNSET
            and delta.refusal is _UNSET
            and delta.tool_calls is _UNSET
            and delta.reasoning_content is _UNSET
            and delta.reasoning is _UNSET
            and delta.reasoning_details is _UNSET
            and chunk.id == self._id
            and chunk.created == self._created
            and chunk.model == self._model
            and chunk.system_fingerprint == self._fingerprint
            and chunk.service_tier == self._tier
            and chunk.error is _UNSET
        ):
            if not self._null_usage:
                chunk.usage = _UNSET
            return True
        return False if self._take_other(chunk, up, state) else None

    def _take_other(
        self,
        chunk: wire.SentChunk | wire.OpenChunk,
        up: wire.SentChoice | wire.OpenChoice,
        state: _Choice | None,
    ) -> bool:
        """:meth:`_take_as_sent` for any other single-choice event."""
        if not chunk.id or not chunk.created or chunk.error is not _UNSET:
            return False
        model = chunk.model
        if self._choices:
            if model != self._model:
                return False  # the model rule: the first name stays
        elif not model:
            return False  # the deployment's name would be filled in
        # Fingerprint and tier repeat the last value seen once one came.
        if chunk.system_fingerprint is _UNSET and self._fingerprint is not _UNSET:
            return False
        if chunk.service_tier is _UNSET and self._tier is not _UNSET:
            return False
        if state is None:
            state = _Choice()
        elif state.finished:
            return False
        if not self._delta_as_sent(state, up):
            return False
        self._choices[up.index] = state
        if not self._null_usage:
            chunk.usage = _UNSET  # as the tolerant path's chunks
        self._id, self._created, self._model = chunk.id, chunk.created, model
        if chunk.system_fingerprint is not _UNSET:
            self._fingerprint = chunk.system_fingerprint
        if chunk.service_tier is not _UNSET:
            self._tier = chunk.service_tier
        calls = up.delta.tool_calls
        if calls:
            self._tool_calls(state, calls)  # type: ignore[arg-type]  # same attributes
        state.started = True
        state.finished = up.finish_reason is not None
        return True

    def _delta_as_sent(self, state: _Choice, up: wire.SentChoice | wire.OpenChoice) -> bool:
        """Whether the choice's delta and finish reason go out unchanged (pure)."""
        delta = up.delta
        if delta.reasoning_content is not _UNSET or delta.reasoning is not _UNSET:
            return False  # emitted under both names
        calls, details = delta.tool_calls, delta.reasoning_details
        if calls is not _UNSET and not (calls and self._call_as_sent(state, calls)):
            return False
        if details is not _UNSET and not details:
            return False  # an empty list is dropped
        finish = up.finish_reason
        if not state.started:  # the role chunk: kept as sent, finish a chunk of its own
            return delta.role == "assistant" and finish is None
        content, refusal = delta.content, delta.refusal
        if delta.role is not _UNSET or content == "" or content is None:
            return False  # a repeated role, empty or null text: dropped
        if refusal == "" or refusal is None:
            return False
        if finish is None:  # an empty delta is not sent at all
            return not (content is _UNSET and refusal is _UNSET and not calls and not details)
        # A finish chunk: an empty delta, no logprobs, the reason as normalised.
        if content is not _UNSET or refusal is not _UNSET or calls or details:
            return False
        return up.logprobs is None and not (finish == "stop" and state.ids)

    def _call_as_sent(
        self, state: _Choice, calls: list[wire.SentToolCall] | list[wire.OpenToolCall]
    ) -> bool:
        """Whether one tool-call fragment keeps its index, id and parts (pure)."""
        if len(calls) != 1:
            return False
        up = calls[0]
        function = up.function
        if function is _UNSET:
            return False
        name, arguments = function.name, function.arguments
        if name == "":
            return False
        slot = self._existing_slot(state, up, name or None)  # type: ignore[arg-type]
        if slot is None:  # a new call: id, type and arguments as the canonical head
            return (
                up.index == len(state.ids)
                and bool(up.id)
                and up.type == "function"
                and isinstance(arguments, str)
            )
        fresh_name = name is not _UNSET and not state.named[slot]
        if up.index != slot or up.id is not _UNSET or up.type is not _UNSET:
            return False
        if name is not _UNSET and not fresh_name:
            return False
        return bool(arguments) or (arguments is _UNSET and fresh_name)

    @staticmethod
    def _decode_stripped(data: str) -> wire.UpChunk:
        try:
            return _decode(data)
        except _DECODE_ERRORS as exc:
            raise ModelError(
                "The model provider sent a malformed chunk", detail=f"{exc}: {data[:300]}"
            ) from exc

    def _end(self) -> list[ChatCompletionChunk]:
        self._done = True
        states = self._choices.values()
        if not states or not all(s.finished for s in states):
            raise ModelError(
                "The model provider's stream ended early",
                detail="stream ended before every choice had a finish_reason",
            )
        if self._usage is None:
            return []
        return [self._chunk([], usage=wire.usage(self._usage))]

    def _chunk(
        self, choices: list[ChunkChoice], usage: Usage | msgspec.UnsetType = _UNSET
    ) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self._id,
            created=self._created,
            model=self._model,
            system_fingerprint=self._fingerprint,
            service_tier=self._tier,
            choices=choices,
            usage=usage,
        )

    def _translate_choice(self, up: wire.UpChunkChoice, out: list[ChatCompletionChunk]) -> None:
        index = up.index
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _Choice()
        elif state.finished:
            # Duplicate finish chunks (OpenRouter) and anything after them.
            return
        delta = up.delta or _NO_DELTA
        up_calls = delta.tool_calls
        tool_calls = (self._tool_calls(state, up_calls) if up_calls else None) or _UNSET
        reasoning = delta.reasoning_content or delta.reasoning or _UNSET
        details = delta.reasoning_details or _UNSET
        if state.started:
            # Later deltas: empty or null text carries nothing and is dropped (every
            # absent part is UNSET, which is falsy), and an empty delta is not sent.
            content = delta.content or _UNSET
            refusal = delta.refusal or _UNSET
            if refusal or tool_calls or reasoning or details:
                out_delta = Delta(
                    content=content,
                    refusal=refusal,
                    tool_calls=tool_calls,
                    reasoning_content=reasoning,
                    reasoning=reasoning,
                    reasoning_details=details,
                )
            elif content:
                out_delta = Delta(content=content)  # the common case: a text token
            else:
                out_delta = None
        else:
            # The first delta keeps "" and null text as sent (OpenAI's role chunk shape).
            state.started = True
            out_delta = Delta(
                role="assistant",
                content=delta.content,
                refusal=delta.refusal,
                tool_calls=tool_calls,
                reasoning_content=reasoning,
                reasoning=reasoning,
                reasoning_details=details,
            )
        if out_delta is not None:
            out.append(
                self._chunk([ChunkChoice(index=index, delta=out_delta, logprobs=up.logprobs)])
            )
        if up.finish_reason is not None:
            reason = wire.finish_reason(up.finish_reason, had_tool_calls=bool(state.ids))
            state.finished = True
            finish = ChunkChoice(index=index, delta=Delta(), finish_reason=reason)
            out.append(self._chunk([finish]))

    def _tool_calls(
        self, state: _Choice, deltas: list[wire.UpToolCallDelta]
    ) -> list[ToolCallDelta]:
        out: list[ToolCallDelta] = []
        for up in deltas:
            function = up.function or _NO_FUNCTION
            name = function.name or None
            raw = function.arguments
            arguments = raw if isinstance(raw, str) else wire.arguments_text(raw)
            slot = self._existing_slot(state, up, name)
            if slot is None:
                slot = len(state.ids)
                call_id = up.id or new_tool_call_id()
                state.ids.append(call_id)
                state.named.append(name is not None)
                state.by_id[call_id] = slot
                head = FunctionDelta(name=name or _UNSET, arguments=arguments)
                out.append(ToolCallDelta(index=slot, id=call_id, type="function", function=head))
            else:
                fresh_name = name is not None and not state.named[slot]
                state.named[slot] = state.named[slot] or fresh_name
                if arguments or fresh_name:
                    part = FunctionDelta(
                        name=name if fresh_name and name else _UNSET,
                        arguments=arguments or _UNSET,
                    )
                    out.append(ToolCallDelta(index=slot, function=part))
            if up.index is not None:
                state.by_index[up.index] = slot
            state.last = slot
        return out

    @staticmethod
    def _existing_slot(state: _Choice, up: wire.UpToolCallDelta, name: str | None) -> int | None:
        """The slot this delta continues, or None when it starts a new call: a new ``id``
        always does, even at an occupied index; so does a ``name`` at a named slot."""
        if up.id:
            return state.by_id.get(up.id)
        slot = state.last if up.index is None else state.by_index.get(up.index)
        if slot is not None and name is not None and state.named[slot]:
            return None
        return slot
