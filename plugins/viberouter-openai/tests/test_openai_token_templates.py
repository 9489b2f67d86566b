"""Token templates (contract 2.8): after one more text token the translator offers the
event with its text cut out, and what a chat client receives is the same whether the
core reads the next such events from the bytes or feeds each of them."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from viberouter_openai import OpenAIProvider, OpenAISettings
from viberouter_openai.translator import OpenAIStreamTranslator

from router_core.plugin_api import RouterError, UpstreamEvent
from router_core.plugin_testing import chat_frames, decode_request, deployment, two_slices

DEP = deployment("gpt-4o", provider="openai")
_REQ = decode_request(
    b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}'
)
_HEAD = '"id":"c1","object":"chat.completion.chunk","created":5,"model":"m"'


def _event(choices: str, extra: str = "") -> str:
    return "{" + _HEAD + ',"choices":' + choices + extra + "}"


def _text(text: str, extra: str = "") -> str:
    content = msgspec.json.encode(text).decode()
    return _event('[{"index":0,"delta":{"content":' + content + '},"finish_reason":null}]', extra)


ROLE = _event('[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]')
FINISH = _event('[{"index":0,"delta":{},"finish_reason":"stop"}]')
USAGE = _event("[]", ',"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}')
TEXTS = ["Hel", "lo", ", ", '"w"', "or\u00e9", "\\", "ld\n", "!"]


def _body(extra: str = "") -> bytes:
    events = [ROLE, *(_text(t, extra) for t in TEXTS), FINISH, USAGE, "[DONE]"]
    return b"".join(b"data: " + e.encode() + b"\n\n" for e in events)


def _translator(settings: OpenAISettings | None = None) -> OpenAIStreamTranslator:
    return OpenAIProvider(settings or OpenAISettings()).as_sent_translator(_REQ, DEP)


def test_a_text_token_leaves_its_event_without_the_text() -> None:
    translator = _translator()
    translator.feed(UpstreamEvent(ROLE))
    assert translator.token_template is None  # the role chunk starts the choice
    translator.feed(UpstreamEvent(_text("Hi")))
    template = translator.token_template
    assert template is not None
    assert template.prefix + '"Hi"' + template.suffix == _text("Hi")
    assert template.chunk.choices[0].delta.content == "Hi"
    translator.feed(UpstreamEvent(_text("there")))
    assert translator.token_template is template  # the same shape: the same object
    translator.feed(UpstreamEvent(FINISH))
    assert translator.token_template is None


def test_a_first_token_written_with_other_escapes_leaves_no_template() -> None:
    escaped = _event('[{"index":0,"delta":{"content":"caf\\u00e9"},"finish_reason":null}]')
    translator = _translator()
    translator.feed(UpstreamEvent(ROLE))
    translator.feed(UpstreamEvent(escaped))
    assert translator.as_sent and translator.token_template is None  # not found to cut out
    translator.feed(UpstreamEvent(_text("a")))
    template = translator.token_template
    assert template is not None
    translator.feed(UpstreamEvent(escaped))  # the same shape once the parts are known
    assert translator.token_template is template


def test_the_plain_stream_translator_offers_no_template() -> None:
    translator = OpenAIProvider().stream_translator(_REQ, DEP)
    assert isinstance(translator, OpenAIStreamTranslator)
    for event in (ROLE, _text("a"), _text("b")):
        translator.feed(UpstreamEvent(event))
    assert not hasattr(translator, "token_template")


@pytest.mark.parametrize(
    ("event", "as_sent"),
    [
        # usage on a content chunk is held back for the end; a finish with text is split
        (_text("x", ',"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}'), False),
        (_event('[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]'), False),
    ],
)
def test_no_template_where_the_text_cannot_be_cut_out_or_the_state_moves(
    event: str, as_sent: bool
) -> None:
    translator = _translator()
    translator.feed(UpstreamEvent(ROLE))
    translator.feed(UpstreamEvent(_text("a")))
    assert translator.token_template is not None
    translator.feed(UpstreamEvent(event))
    assert translator.as_sent is as_sent
    assert translator.token_template is None


def test_no_template_while_unknown_fields_are_checked_for_credentials() -> None:
    settings = OpenAISettings(api_key="sk-secret-1234", forward_extensions=True)
    translator = _translator(settings)
    translator.feed(UpstreamEvent(ROLE))
    translator.feed(UpstreamEvent(_text("x")))
    assert translator.as_sent
    assert not hasattr(translator, "token_template")  # the core does not look for one


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("extra", ["", ',"usage":null'])
def test_a_chat_client_gets_the_same_bytes_with_and_without_templates(
    include_usage: bool, extra: str
) -> None:
    raw = _body(extra)
    expected = chat_frames(_translator(), [raw], include_usage=include_usage, templates=False)
    assert expected.count(b"data: ") == len(TEXTS) + 2 + include_usage + 1
    for slices in [[raw], *two_slices(raw)]:
        got = chat_frames(_translator(), slices, include_usage=include_usage)
        assert got == expected


@pytest.mark.parametrize(
    "name",
    ["openai_oa1.sse", "openai_oa2.sse", "openai_openrouter.sse", "openai_index_collision.sse"],
)
def test_recorded_streams_give_the_same_bytes(name: str, openai_data: Path) -> None:
    raw = (openai_data / name).read_bytes()
    for include_usage in (False, True):
        try:
            expected = chat_frames(
                _translator(), [raw], include_usage=include_usage, templates=False
            )
        except RouterError as exc:  # a fixture that ends in an upstream error
            with pytest.raises(type(exc)):
                chat_frames(_translator(), [raw], include_usage=include_usage)
            continue
        assert chat_frames(_translator(), [raw], include_usage=include_usage) == expected
