"""Events passed through unchanged (contract 2.6): the translator says which events
*are* their chunk, and its chunks are the same whether it says so or not."""

from __future__ import annotations

import contextlib
from pathlib import Path

import msgspec
import pytest
from viberouter_openai import OpenAIProvider, OpenAISettings
from viberouter_openai.translator import MAX_SENT_MISSES, OpenAIStreamTranslator

from router_core.plugin_api import (
    AsSentTranslator,
    ChatCompletionChunk,
    RouterError,
    UpstreamEvent,
)
from router_core.plugin_testing import (
    as_lines,
    byte_by_byte,
    decode_request,
    deployment,
    split_events,
    translate,
)

DEP = deployment("gpt-4o", provider="openai")
_REQ = decode_request(
    b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}'
)
_HEAD = '"id":"c1","object":"chat.completion.chunk","created":5,"model":"m"'
_canonical = msgspec.json.Decoder(ChatCompletionChunk)
_FIXTURES = [
    "openai_oa1.sse",
    "openai_oa2.sse",
    "openai_openrouter.sse",
    "openai_index_collision.sse",
]


def _tolerant() -> OpenAIStreamTranslator:
    """A translator that never tries the as-sent decode (the path before 2.6)."""
    translator = OpenAIStreamTranslator("gpt-4o")
    translator._misses = MAX_SENT_MISSES
    return translator


def _no_null_usage(chunks: list[ChatCompletionChunk]) -> str:
    for chunk in chunks:
        if chunk.usage is None:
            chunk.usage = msgspec.UNSET
    return as_lines(chunks)


def _chunk(choices: str, extra: str = "", head: str = _HEAD) -> str:
    return "{" + head + ',"choices":' + choices + extra + "}"


def _flags(translator: AsSentTranslator, datas: list[str]) -> list[bool]:
    flags = []
    for data in datas:
        translator.feed(UpstreamEvent(data))
        flags.append(translator.as_sent)
    return flags


ROLE = _chunk('[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]')
TEXT = _chunk('[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]')
FINISH = _chunk('[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]')
USAGE = _chunk("[]", ',"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}')


def test_the_provider_offers_an_as_sent_translator() -> None:
    translator = OpenAIProvider().as_sent_translator(_REQ, DEP)
    assert isinstance(translator, OpenAIStreamTranslator)
    assert translator.as_sent is False


@pytest.mark.parametrize("name", _FIXTURES)
def test_chunks_are_the_same_with_and_without_the_as_sent_path(
    name: str, openai_data: Path
) -> None:
    raw = (openai_data / name).read_bytes()
    expected = as_lines(translate(_tolerant(), raw))
    # stream_translator: the same chunks, usage unset on content chunks as before
    assert as_lines(translate(OpenAIProvider().stream_translator(_REQ, DEP), raw)) == expected
    # as_sent_translator: the same, but for a "usage":null the event carried
    fast = OpenAIProvider().as_sent_translator(_REQ, DEP)
    assert _no_null_usage(translate(fast, raw)) == expected
    fast = OpenAIProvider().as_sent_translator(_REQ, DEP)
    assert _no_null_usage(translate(fast, raw, slices=list(byte_by_byte(raw)))) == expected


@pytest.mark.parametrize("name", _FIXTURES)
def test_an_as_sent_event_is_its_chunk(name: str, openai_data: Path) -> None:
    events = split_events((openai_data / name).read_bytes())
    translator = OpenAIProvider().as_sent_translator(_REQ, DEP)
    seen = 0
    for event in events:
        try:
            chunks = translator.feed(event)
        except RouterError:
            break  # a fixture that ends in an upstream error
        if translator.as_sent:
            seen += 1
            (chunk,) = chunks
            as_came = _canonical.decode(event.data)
            assert msgspec.json.encode(chunk) == msgspec.json.encode(as_came)
    assert seen > 0 or name == "openai_openrouter.sse"


def test_a_plain_openai_stream_goes_through_as_sent() -> None:
    translator = OpenAIStreamTranslator("gpt-4o")
    assert _flags(translator, [ROLE, TEXT, TEXT, FINISH, USAGE, "[DONE]"]) == [
        True,
        True,
        True,
        True,
        False,  # usage is held back for the end
        False,
    ]


@pytest.mark.parametrize(
    ("first", "why"),
    [
        (_chunk('[{"index":0,"delta":{"content":"Hi"}}]'), "role missing"),
        (_chunk('[{"index":0,"delta":{"role":"assistant"},"finish_reason":"stop"}]'), "two chunks"),
        (_chunk('[{"delta":{"role":"assistant","content":""}}]'), "index missing"),
        (_chunk('[{"index":0,"delta":{"role":"assistant"}}]', ',"obfuscation":"x"'), "unknown"),
        (
            _chunk(
                '[{"index":0,"delta":{"role":"assistant"}}]',
                head='"id":"c1","created":5,"model":"m"',
            ),
            "no object",
        ),
        (
            _chunk(
                '[{"index":0,"delta":{"role":"assistant"}}]',
                head='"id":"c1","object":"chat.completion.chunk","created":5,"model":""',
            ),
            "no model",
        ),
        (
            _chunk(
                '[{"index":0,"delta":{"role":"assistant"}}]',
                head='"id":"","object":"chat.completion.chunk","created":5,"model":"m"',
            ),
            "no id",
        ),
        (
            _chunk(
                '[{"index":0,"delta":{"role":"assistant"}}]',
                head='"id":"c","object":"chat.completion.chunk","created":5.5,"model":"m"',
            ),
            "float clock",
        ),
        (
            _chunk(
                '[{"index":0,"delta":{"role":"assistant"}},{"index":1,"delta":{"role":"assistant"}}]'
            ),
            "two choices",
        ),
        (
            _chunk('[{"index":0,"delta":{"role":"assistant","reasoning_content":"hm"}}]'),
            "reasoning",
        ),
    ],
)
def test_a_first_event_that_needs_a_fix_is_translated(first: str, why: str) -> None:
    translator = OpenAIStreamTranslator("gpt-4o")
    chunks = translator.feed(UpstreamEvent(first))
    assert not translator.as_sent, why
    assert chunks and chunks[0].choices[0].delta.role == "assistant"


@pytest.mark.parametrize(
    ("later", "why"),
    [
        (_chunk('[{"index":0,"delta":{"role":"assistant","content":"x"}}]'), "repeated role"),
        (_chunk('[{"index":0,"delta":{"content":""}}]'), "empty text"),
        (_chunk('[{"index":0,"delta":{"content":null}}]'), "null text"),
        (_chunk('[{"index":0,"delta":{}}]'), "empty delta"),
        (_chunk('[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]'), "text + finish"),
        (
            _chunk('[{"index":0,"delta":{},"logprobs":{"content":[]},"finish_reason":"stop"}]'),
            "finish logprobs",
        ),
        (
            _chunk(
                '[{"index":0,"delta":{"content":"x"}}]',
                head='"id":"c1","object":"chat.completion.chunk","created":5,"model":"other"',
            ),
            "model rule",
        ),
        (_chunk('[{"index":0,"delta":{"content":"x"}}]'), "fingerprint repeated"),
        (_chunk('[{"index":0,"delta":{"content":"x"}}]', ',"error":{"message":"no"}'), "error"),
    ],
)
def test_a_later_event_that_needs_a_fix_is_translated(later: str, why: str) -> None:
    translator = OpenAIStreamTranslator("gpt-4o")
    translator.feed(
        UpstreamEvent(
            _chunk('[{"index":0,"delta":{"role":"assistant"}}]', ',"system_fingerprint":"fp"')
        )
    )
    assert translator.as_sent
    with contextlib.suppress(RouterError):  # the in-band error is raised, as before
        translator.feed(UpstreamEvent(later))
    assert not translator.as_sent, why


def _call(index: int, body: str) -> str:
    return _chunk(f'[{{"index":0,"delta":{{"tool_calls":[{{"index":{index},{body}}}]}}}}]')


def test_tool_call_fragments_pass_when_their_index_stays() -> None:
    translator = OpenAIStreamTranslator("gpt-4o")
    head = '"id":"call_1","type":"function","function":{"name":"get","arguments":""}'
    flags = _flags(
        translator,
        [
            ROLE,
            _call(0, head),
            _call(0, '"function":{"arguments":"{\\"a\\""}'),
            _call(0, '"function":{"arguments":":1}"}'),
            _call(0, '"function":{"arguments":""}'),  # an empty fragment is dropped
            _chunk('[{"index":0,"delta":{},"finish_reason":"stop"}]'),  # becomes tool_calls
        ],
    )
    assert flags == [True, True, True, True, False, False]


def test_tool_calls_that_need_renumbering_are_translated() -> None:
    translator = OpenAIStreamTranslator("gpt-4o")
    head = '"id":"call_1","type":"function","function":{"name":"get","arguments":""}'
    # index 3 for the first call (the client sees 0), then its fragments at 3
    flags = _flags(translator, [ROLE, _call(3, head), _call(3, '"function":{"arguments":"{}"}')])
    assert flags == [True, False, False]
    # a call without an id gets one; a new id at an occupied index is a new call
    translator = OpenAIStreamTranslator("gpt-4o")
    flags = _flags(
        translator,
        [
            ROLE,
            _call(0, '"type":"function","function":{"name":"get","arguments":""}'),
            _call(0, '"id":"call_2","type":"function","function":{"name":"put","arguments":""}'),
        ],
    )
    assert flags == [True, False, False]


def test_fields_the_router_does_not_know_pass_only_with_forward_extensions() -> None:
    extra = _chunk(
        '[{"index":0,"delta":{"content":"x"},"native_finish_reason":null}]', ',"provider":"p"'
    )
    strict = OpenAIProvider().as_sent_translator(_REQ, DEP)
    assert _flags(strict, [ROLE, extra]) == [True, False]
    settings = OpenAISettings(forward_extensions=True)
    open_ = OpenAIProvider(settings).as_sent_translator(_REQ, DEP)
    assert _flags(open_, [ROLE, extra]) == [True, True]


def test_an_upstream_that_always_needs_a_fix_stops_being_tried() -> None:
    translator = OpenAIStreamTranslator("gpt-4o")
    repeated = _chunk('[{"index":0,"delta":{"role":"assistant","content":"x"}}]')
    translator.feed(UpstreamEvent(ROLE))
    for _ in range(MAX_SENT_MISSES):
        translator.feed(UpstreamEvent(repeated))
    assert translator._misses == MAX_SENT_MISSES
    assert _flags(translator, [TEXT]) == [False]  # would pass, but is no longer tried
    assert translator.feed(UpstreamEvent(TEXT))[0].choices[0].delta.content == "Hi"


def test_an_unknown_field_repeating_the_credentials_is_not_passed_on() -> None:
    settings = OpenAISettings(
        api_key="sk-secret-1234", forward_extensions=True, headers={"X-Proxy-Key": "pk-9876"}
    )
    translator = OpenAIProvider(settings).as_sent_translator(_REQ, DEP)
    leaky = [
        _chunk('[{"index":0,"delta":{"content":"x"}}]', f',"debug":"Bearer {secret}"')
        for secret in ("sk-secret-1234", "pk-9876")
    ]
    plain = _chunk('[{"index":0,"delta":{"content":"y"}}]', ',"debug":"none"')
    assert _flags(translator, [ROLE, *leaky, plain]) == [True, False, False, True]
    # translated instead: the unknown field, and the credential in it, are dropped
    chunk = OpenAIProvider(settings).as_sent_translator(_REQ, DEP)
    chunk.feed(UpstreamEvent(ROLE))
    (out,) = chunk.feed(UpstreamEvent(leaky[0]))
    assert b"secret" not in msgspec.json.encode(out)
