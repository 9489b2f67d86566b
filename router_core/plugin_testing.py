"""The plugin testing kit: what a provider plugin's tests import besides the contract.

Part of the core package (``router_core.plugin_testing``) so every plugin tests
against the core's own readers and stream loop rather than a copy of them:

* fixtures in: :func:`deployment` / :func:`deployment_for` (a ``Deployment`` as the
  catalog builds it), :func:`chat_request` / :func:`decode_request` (a ``ChatRequest``
  validated like the core does), :func:`read_body` (an in-process answer's bytes);
* byte-exact streams: :func:`split_events` (a recorded body as the events the core
  feeds a translator), :func:`byte_by_byte` and :func:`two_slices` (the same body cut
  at every byte offset), :func:`translate` / :func:`run_stream` (bytes -> chunks
  through the core's own stream iterator, ``stream_iter.ChunkReader``, in any slicing);
  :func:`chat_frames` (bytes -> what an OpenAI chat client receives through an
  as-sent translator, events as they came and token templates included);
* checks: :func:`check_stream` runs a translator over every slicing of a fixture,
  requires the same chunks from each and checks the stream rules of the contract
  (role first, dense tool-call indexes, one finish per choice, at most one usage chunk
  and last, one ``model`` for the whole stream); :func:`check_model_rule` checks the
  ``model`` rule on a completion or chunks;
* comparing: :func:`as_lines` (chunks as the compact JSON lines of ``*.expected.jsonl``
  fixtures) and :func:`normalised` (random ids and clocks replaced by fixed values).

It imports only the contract (``plugin_api``), the core's framing readers, its
stream iterator and the chat dialect's stream encoder, and raises ``AssertionError``
for a broken rule, so it works under any test runner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from router_core.accounting import StreamOutcome
from router_core.dialects.openai_chat import OpenAIChatStream
from router_core.framing import make_decoder
from router_core.plugin_api import (
    AsSentTranslator,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    Deployment,
    Framing,
    LocalResponse,
    ModelCard,
    ProviderPlugin,
    StreamTranslator,
    UpstreamEvent,
    json_encode,
)
from router_core.stream_iter import ChunkReader
from router_core.streaming import frame_batch

#: The core's default limit on one upstream event (``upstream.max_event_bytes``).
MAX_EVENT_BYTES = 8 * 1024 * 1024

_request_decoder = msgspec.json.Decoder(ChatRequest)


# ---------------------------------------------------------------- fixtures in


def deployment(model: str, *, provider: str = "test", card: ModelCard | None = None) -> Deployment:
    """A deployment of upstream model ``model`` on provider instance ``provider``, as
    the catalog builds it (id ``<provider>/<model>``; a bare card unless given)."""
    did = f"{provider}/{model}"
    base = card if card is not None else ModelCard(id=model)
    return Deployment(
        id=did,
        provider=provider,
        model=model,
        card=msgspec.structs.replace(base, id=did, provider=provider),
    )


def deployment_for(
    plugin: ProviderPlugin, model: str | None = None, *, provider: str = "test"
) -> Deployment:
    """A deployment of one of ``plugin``'s own models (its first unless named), with
    the plugin's card."""
    cards = plugin.models()
    card = next((c for c in cards if model is None or c.id == model), None)
    if card is None:
        raise AssertionError(f"{type(plugin).__name__} offers no model {model!r}")
    return deployment(card.id, provider=provider, card=card)


def decode_request(raw: bytes | str | Path) -> ChatRequest:
    """A ``ChatRequest`` from JSON bytes or a fixture file, validated like the core."""
    data = raw.read_bytes() if isinstance(raw, Path) else raw
    return _request_decoder.decode(data)


def chat_request(**fields: Any) -> ChatRequest:
    """A ``ChatRequest`` from keyword fields (``model`` and one user message default)."""
    fields.setdefault("model", "test-model")
    fields.setdefault("messages", [{"role": "user", "content": "hi"}])
    return _request_decoder.decode(json_encode(fields))


async def read_body(response: LocalResponse) -> bytes:
    """Every byte of an in-process (``serve_local``) answer."""
    return b"".join([part async for part in response.body])


# ---------------------------------------------------------------- byte-exact streams


def byte_by_byte(raw: bytes) -> list[bytes]:
    """``raw`` one byte per slice: the worst network there is."""
    return [raw[i : i + 1] for i in range(len(raw))]


def two_slices(raw: bytes) -> Iterator[list[bytes]]:
    """``raw`` cut in two at every byte offset (``[raw[:i], raw[i:]]`` for each i)."""
    for i in range(len(raw) + 1):
        yield [raw[:i], raw[i:]]


def every_slicing(raw: bytes) -> Iterator[list[bytes]]:
    """Whole, cut at every offset, then byte by byte: the slicings ``check_stream`` uses."""
    yield [raw]
    yield from two_slices(raw)
    yield byte_by_byte(raw)


def split_events(raw: bytes, framing: Framing = "sse") -> list[UpstreamEvent]:
    """A whole recorded upstream body as the events the core's readers (SSE / NDJSON)
    would feed a translator."""
    decoder = make_decoder(framing, max(len(raw), MAX_EVENT_BYTES))
    return [*decoder.feed(raw), *decoder.close()]


def run_stream(
    translator: StreamTranslator,
    slices: Iterable[bytes],
    framing: Framing = "sse",
    *,
    close: bool = True,
) -> list[ChatCompletionChunk]:
    """Upstream bytes, in the given slices, through the core's framing reader and the
    translator (``feed`` per event, then ``close``): the core's stream loop.
    ``close=False`` stops before ``translator.close()``, to look at a stream's chunks
    without its end."""
    # The core's own loop (stream_iter.ChunkReader), as dispatch runs it.
    reader = ChunkReader(framing, translator, MAX_EVENT_BYTES)
    out: list[ChatCompletionChunk] = []
    for piece in slices:
        out.extend(reader.feed(piece))
    out.extend(reader.close(finish=close))
    return out


def chat_frames(
    translator: AsSentTranslator,
    slices: Iterable[bytes],
    *,
    include_usage: bool = False,
    templates: bool = True,
) -> bytes:
    """The SSE bytes an OpenAI chat client receives for an upstream SSE body in these
    slices, through ``translator`` as an as-sent translator (contract 2.6) and, unless
    ``templates=False``, its token templates (2.8): the core's reader and the chat
    dialect's encoder, as a streamed request runs them, up to ``data: [DONE]``."""
    reader = ChunkReader("sse", translator, MAX_EVENT_BYTES, translator, templates=templates)
    encoder = OpenAIChatStream(include_usage)
    out = StreamOutcome()
    frames = [frame_batch(reader.step(piece), encoder, out) for piece in slices]
    return b"".join(frames) + frame_batch(reader.close(), encoder, out) + encoder.close()


def translate(
    translator: StreamTranslator,
    raw: bytes,
    framing: Framing = "sse",
    slices: Sequence[bytes] | None = None,
    *,
    close: bool = True,
) -> list[ChatCompletionChunk]:
    """A whole recorded body (or ``slices`` of it) through :func:`run_stream`."""
    return run_stream(translator, [raw] if slices is None else slices, framing, close=close)


def feed_events(
    translator: StreamTranslator, events: Iterable[UpstreamEvent], *, close: bool = True
) -> list[ChatCompletionChunk]:
    """Feed already-split events (hand-made ones in a test), then close unless told not to."""
    out: list[ChatCompletionChunk] = []
    for event in events:
        out.extend(translator.feed(event))
    if close:
        out.extend(translator.close())
    return out


# ---------------------------------------------------------------- comparing


def normalised(chunks: Sequence[ChatCompletionChunk]) -> list[ChatCompletionChunk]:
    """Chunks with the random id and the clock replaced by fixed values."""
    return [msgspec.structs.replace(c, id="chatcmpl-test", created=0) for c in chunks]


def as_lines(chunks: Sequence[ChatCompletionChunk]) -> str:
    """Chunks as compact JSON lines: the format of ``*.expected.jsonl`` fixtures."""
    return "".join(json_encode(c).decode() + "\n" for c in chunks)


# ---------------------------------------------------------------- contract checks


def check_model_rule(
    answer: ChatCompletion | Sequence[ChatCompletionChunk],
    deployment: Deployment,
    upstream_model: str | None,
) -> None:
    """The ``model`` rule: the upstream's own name for the model when it reported one
    (``upstream_model``), else ``deployment.model``; one name for a whole stream."""
    expected = upstream_model or deployment.model
    names = {answer.model} if isinstance(answer, ChatCompletion) else {c.model for c in answer}
    if names != {expected}:
        raise AssertionError(f"model rule: expected {expected!r} everywhere, got {names}")


_plain = msgspec.json.Decoder()


def _comparable(chunks: Sequence[ChatCompletionChunk]) -> list[Any]:
    """Chunks as JSON values with everything a translator may generate afresh per
    stream (chunk id, clock, tool-call ids) replaced by stable stand-ins."""
    names: dict[str, str] = {}
    out: list[Any] = []
    for chunk in normalised(chunks):
        doc = _plain.decode(json_encode(chunk))
        for choice in doc.get("choices") or ():
            for call in (choice.get("delta") or {}).get("tool_calls") or ():
                if isinstance(call.get("id"), str):
                    call["id"] = names.setdefault(call["id"], f"call_{len(names)}")
        out.append(doc)
    return out


def _check_order(chunks: Sequence[ChatCompletionChunk]) -> None:
    finished: set[int] = set()
    started: set[int] = set()
    tool_indexes: dict[int, int] = {}
    for n, chunk in enumerate(chunks):
        if not chunk.choices:
            if chunk.usage is None or n != len(chunks) - 1:
                raise AssertionError(f"chunk {n}: a chunk without choices must be the last, usage")
            continue
        for choice in chunk.choices:
            i = choice.index
            if i in finished:
                raise AssertionError(f"chunk {n}: choice {i} continues after its finish")
            if i not in started and choice.delta.role != "assistant":
                raise AssertionError(f"chunk {n}: choice {i} does not start with the role")
            started.add(i)
            for call in choice.delta.tool_calls or ():
                seen = tool_indexes.get(i, -1)
                if call.index > seen + 1:
                    raise AssertionError(f"chunk {n}: tool-call index {call.index} skips one")
                tool_indexes[i] = max(seen, call.index)
            if choice.finish_reason is not None:
                finished.add(i)
    if started != finished:
        raise AssertionError(f"choices {sorted(started - finished)} never finish")


def check_stream(
    make_translator: Callable[[], StreamTranslator],
    raw: bytes,
    framing: Framing = "sse",
    *,
    slicings: Iterable[list[bytes]] | None = None,
) -> list[ChatCompletionChunk]:
    """Run fresh translators over every slicing of ``raw`` (whole, cut at every byte
    offset, byte by byte) through the core's loop, require identical chunks (ids and
    clocks aside) and the contract's stream rules; return the chunks of the whole body."""
    first: list[ChatCompletionChunk] | None = None
    expected: list[Any] = []
    for slices in every_slicing(raw) if slicings is None else slicings:
        chunks = run_stream(make_translator(), slices, framing)
        if first is None:
            first, expected = chunks, _comparable(chunks)
            _check_order(chunks)
            models = {c.model for c in chunks}
            if len(models) > 1:
                raise AssertionError(f"one stream names several models: {models}")
        elif _comparable(chunks) != expected:
            cuts = [len(s) for s in slices][:8]
            raise AssertionError(f"slicing {cuts}... changes the chunks")
    if first is None:
        raise AssertionError("no slicing to check")
    return first


__all__ = [
    "MAX_EVENT_BYTES",
    "as_lines",
    "byte_by_byte",
    "chat_request",
    "check_model_rule",
    "check_stream",
    "decode_request",
    "deployment",
    "deployment_for",
    "every_slicing",
    "feed_events",
    "normalised",
    "read_body",
    "run_stream",
    "split_events",
    "translate",
    "two_slices",
]
