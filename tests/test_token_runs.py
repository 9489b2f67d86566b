"""Runs of text-token events read from the bytes (contract 2.8, stream_iter + token_runs).

The translator here is a stand-in that offers the token template it is given after
every event that starts with the template's prefix, and counts the events it is fed:
what the core must do with a template is checked apart from any plugin's rules for
when to offer one (the OpenAI plugin's own tests cover those)."""

from __future__ import annotations

import random

import msgspec
import pytest

from router_core.accounting import StreamOutcome
from router_core.api.chat import ChatCompletionChunk
from router_core.dialects.anthropic_messages.stream import MessagesStreamEncoder
from router_core.dialects.base import StreamEncoder
from router_core.dialects.openai_chat import OpenAIChatStream
from router_core.errors import ContentFilter, ModelError
from router_core.filters import FilterChain, KeywordFilter
from router_core.framing import UpstreamEvent
from router_core.guard_settings import KeywordFilterSettings
from router_core.plugin_api import TokenTemplate
from router_core.stream_iter import Batch, ChunkReader
from router_core.streaming import frame_batch
from router_core.token_runs import TokenRun

_chunk = msgspec.json.Decoder(ChatCompletionChunk).decode
HEAD = '{"id":"c1","object":"chat.completion.chunk","created":5,"model":"m",'
PREFIX = HEAD + '"choices":[{"index":0,"delta":{"content":'
SUFFIX = '},"finish_reason":null}]}'


class Stand:
    """An as-sent translator that takes every event as its own chunk."""

    def __init__(self, prefix: str = PREFIX, suffix: str = SUFFIX) -> None:
        self.as_sent = False
        self.token_template: TokenTemplate | None = None
        self.fed: list[str] = []
        self._prefix, self._suffix = prefix, suffix
        self._template: TokenTemplate | None = None

    def feed(self, event: UpstreamEvent) -> list[ChatCompletionChunk]:
        self.fed.append(event.data)
        self.as_sent, self.token_template = False, None
        try:
            chunk = _chunk(event.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return []  # [DONE], and what a tolerant translator would drop
        self.as_sent = True
        if event.data.startswith(self._prefix) and event.data.endswith(self._suffix):
            if self._template is None:
                self._template = TokenTemplate(self._prefix, self._suffix, chunk)
            self.token_template = self._template
        return [chunk]

    def close(self) -> list[ChatCompletionChunk]:
        return []


def token(text: str) -> bytes:
    return b"data: " + (PREFIX + msgspec.json.encode(text).decode() + SUFFIX).encode() + b"\n\n"


ROLE = (
    b"data: "
    + (
        HEAD + '"choices":[{"index":0,"delta":{"role":"assistant","content":""},'
        '"finish_reason":null}]}'
    ).encode()
    + b"\n\n"
)
FINISH = (
    b"data: "
    + (HEAD + '"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}').encode()
    + b"\n\n"
)
DONE = b"data: [DONE]\n\n"
TEXTS = ["Hello", " wor", "ld", ' "quoted"', " caf\u00e9", " \\ slash", "\n", "!"]
BODY = ROLE + b"".join(token(t) for t in TEXTS) + FINISH + DONE


def read(slices: list[bytes], *, templates: bool = True) -> tuple[list[Batch], Stand]:
    stand = Stand()
    reader = ChunkReader("sse", stand, 1 << 20, stand, templates=templates)  # type: ignore[arg-type]
    batches = [reader.step(piece) for piece in slices]
    return [*batches, reader.close()], stand


def frames(
    slices: list[bytes], encoder: StreamEncoder, *, templates: bool = True
) -> tuple[bytes, StreamOutcome]:
    batches, _ = read(slices, templates=templates)
    out = StreamOutcome()
    return b"".join(frame_batch(b, encoder, out) for b in batches), out


def runs(batches: list[Batch]) -> list[TokenRun]:
    return [item for batch in batches for item in batch if isinstance(item, TokenRun)]


def test_text_tokens_after_the_first_are_read_without_the_translator() -> None:
    batches, stand = read([BODY])
    # the role chunk and the first token are fed; the first token leaves the template
    assert len(stand.fed) == 4  # role, "Hello", finish, [DONE]
    (run,) = runs(batches)
    assert run.texts == TEXTS[1:]
    assert run.raw == b"".join(token(t) for t in TEXTS[1:])  # the bytes as they came
    chunks = [chunk for chunk, _ in run.forwarded()]
    assert [c.choices[0].delta.content for c in chunks] == TEXTS[1:]


@pytest.mark.parametrize("include_usage", [False, True])
def test_a_chat_client_gets_the_same_bytes_in_every_slicing(include_usage: bool) -> None:
    expected, out = frames([BODY], OpenAIChatStream(include_usage), templates=False)
    rng = random.Random(7)
    slicings = [[BODY[:i], BODY[i:]] for i in range(0, len(BODY), 7)]
    for _ in range(40):
        cuts = sorted(rng.sample(range(1, len(BODY)), rng.randint(2, 12)))
        slicings.append([BODY[a:b] for a, b in zip([0, *cuts], [*cuts, len(BODY)], strict=True)])
    for slices in slicings:
        got, seen = frames(slices, OpenAIChatStream(include_usage))
        assert got == expected
        assert (seen.texts, seen.chunks) == (out.texts, out.chunks)


def test_a_client_of_another_dialect_gets_the_same_frames() -> None:
    expected, _ = frames(
        [BODY], MessagesStreamEncoder(model="m", message_id="msg_1"), templates=False
    )
    got, _ = frames([BODY], MessagesStreamEncoder(model="m", message_id="msg_1"))
    assert got == expected


@pytest.mark.parametrize(
    ("middle", "kept"),
    [
        (b'"x","finish_reason":"stop"', True),  # more than one JSON string
        (b'""', True),  # empty text
        (b"42", False),  # not a string
        (b'"unterminated', False),  # not JSON
    ],
)
def test_an_event_of_the_template_shape_without_one_text_is_fed(middle: bytes, kept: bool) -> None:
    odd = b"data: " + PREFIX.encode() + middle + SUFFIX.encode() + b"\n\n"
    body = ROLE + token("a") + token("b") + odd + token("c")
    batches, stand = read([body])
    assert odd[6:-2].decode() in stand.fed
    # The stand offers the template again after an event it took (not after one it
    # dropped): the next token is read from the bytes only then.
    assert [run.texts for run in runs(batches)] == ([["b"], ["c"]] if kept else [["b"]])
    assert (token("c")[6:-2].decode() in stand.fed) is not kept


def test_other_events_between_tokens_are_fed_and_the_template_resumes() -> None:
    comment = b": keep-alive\n\n"
    body = ROLE + token("a") + token("b") + comment + token("c") + FINISH + token("d")
    batches, stand = read([body])
    assert [run.texts for run in runs(batches)] == [["b"], ["c"]]
    assert stand.fed[-1] == token("d")[6:-2].decode()  # the finish cleared the template


_ROLE_DATA = ROLE[6:-2]
_CUT = _ROLE_DATA.index(b'"choices"')


@pytest.mark.parametrize(
    "role",
    [
        b"data: " + _ROLE_DATA[:_CUT] + b"\ndata: " + _ROLE_DATA[_CUT:] + b"\n\n",  # two lines
        b"event: chunk\n" + ROLE,  # a named event
        b": opening comment\n" + ROLE,
        b"data:" + _ROLE_DATA + b"\n\n",  # no space after the colon
        ROLE.replace(b'"content":""', b'"content":"\xff"'),  # not UTF-8
    ],
)
def test_events_read_one_by_one_are_those_the_decoder_makes(role: bytes) -> None:
    # At a stream's start events go to the translator one by one, a lone "data:"
    # line without the decoder's scan: every other form through the decoder.
    body = role + BODY[len(ROLE) :]
    fed = [read([body], templates=t)[1].fed for t in (False, True)]
    assert fed[1][:2] == fed[0][:2]
    assert frames([body], OpenAIChatStream(False)) == frames(
        [body], OpenAIChatStream(False), templates=False
    )


def test_crlf_bodies_and_events_split_across_reads_go_through_the_decoder() -> None:
    crlf = BODY.replace(b"\n", b"\r\n")
    batches, stand = read([crlf])
    assert runs(batches) == [] and len(stand.fed) == len(TEXTS) + 3
    half = len(token("b")) // 2
    body = ROLE + token("a") + token("b")
    batches, _ = read([body[: len(body) - half], body[len(body) - half :]])
    assert runs(batches) == []  # the split event completes in the decoder


def test_an_oversized_event_of_the_template_shape_is_refused() -> None:
    stand = Stand()
    reader = ChunkReader("sse", stand, 400, stand)  # type: ignore[arg-type]
    reader.step(ROLE + token("a"))
    with pytest.raises(ModelError, match="oversized"):
        reader.step(token("y" * 500))


def test_an_output_filter_hit_inside_a_run_keeps_the_frames_before_it() -> None:
    settings = msgspec.convert({"output_keywords": ["quoted"]}, KeywordFilterSettings)
    chain = FilterChain([KeywordFilter(settings)], window=16)
    blocked = []
    for templates in (False, True):
        batches, _ = read([BODY], templates=templates)
        out = StreamOutcome()
        with pytest.raises(ContentFilter):
            for batch in batches:
                frame_batch(batch, OpenAIChatStream(False), out, chain.scanner())
        blocked.append(out.blocked_frames)
    assert blocked[0] == blocked[1]
    assert b"quoted" not in blocked[1] and b'"ld"' in blocked[1]


def test_a_text_that_reads_usage_is_framed_as_the_same_json() -> None:
    # feed_as_sent encodes an event whose text holds a second "usage" (it cannot tell
    # cheaply which one is the top-level key); a run knows it from the template.
    suffix = '},"finish_reason":null}],"usage":null}'
    stand = Stand(suffix=suffix)
    events = [PREFIX + msgspec.json.encode(t).decode() + suffix for t in ("a", "b", "usage")]
    body = ROLE + b"".join(b"data: " + e.encode() + b"\n\n" for e in events)
    reader = ChunkReader("sse", stand, 1 << 20, stand)  # type: ignore[arg-type]
    batch = reader.step(body)
    assert [item.texts for item in batch if isinstance(item, TokenRun)] == [["b", "usage"]]
    got = frame_batch(batch, OpenAIChatStream(False), StreamOutcome())
    expected = b"".join(
        OpenAIChatStream(False).feed_as_sent(_chunk(e), e) for e in [ROLE[6:-2].decode(), *events]
    )

    def frames_read(raw: bytes) -> list[object]:
        # the encoded chunk writes "logprobs":null where the upstream left it out
        out = []
        for frame in raw.split(b"\n\n")[:-1]:
            data = msgspec.json.decode(frame[6:])
            for choice in data["choices"]:
                if choice.get("logprobs", 0) is None:
                    del choice["logprobs"]
            out.append(data)
        return out

    decoded = frames_read(got)
    assert decoded == frames_read(expected)
    assert all("usage" not in frame for frame in decoded)  # type: ignore[operator]
