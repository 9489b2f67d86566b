"""The hot paths keep the exact behaviour of their straightforward forms: the spliced
request encoding equals encoding ``request_body``, and the translator's no-strip decode
and common-case delta handling change nothing on the wire."""

from __future__ import annotations

import json

import msgspec
import pytest
from viberouter_openai import OpenAIExtras, OpenAIProvider
from viberouter_openai.request import encode_request_body, request_body

from router_core.plugin_api import (
    ChatCompletionChunk,
    ChatRequest,
    ModelError,
    StreamTranslator,
    UpstreamEvent,
    json_encode,
)
from router_core.plugin_testing import as_lines, decode_request, deployment

DEP = deployment("gpt-4o", provider="openai")

_TOOL_TURN = (
    '{"role":"assistant","name":"bot","tool_calls":[{"id":"c1","type":"function",'
    '"function":{"name":"f","arguments":"{}"}}]%s}'
)
_MESSAGES = {
    "plain": '[{"role":"user","content":"hi"}]',
    "tool turn without content": (
        '[{"role":"user","content":"hi"},' + _TOOL_TURN % "" + ","
        '{"role":"tool","tool_call_id":"c1","content":"ok"},' + _TOOL_TURN % "" + "]"
    ),
    "tool turn with empty content": "[" + _TOOL_TURN % ',"content":""' + "]",
    "tool turn with null content and refusal": "[" + _TOOL_TURN % ',"refusal":null' + "]",
}
_OPTIONS = ["", ',"stream":true', ',"stream":false,"stream_options":{"include_usage":true}']
_OPTIONS += [
    ',"stream":true,"stream_options":{"include_usage":true}',
    ',"stream":true,"stream_options":{"include_obfuscation":false}',
    ',"stream":true,"stream_options":{"include_usage":true,"include_obfuscation":true}',
    ',"models":["a","b"],"transforms":["middle-out"],"temperature":0.5,"metadata":{"k":"v"}',
]
_EXTRAS = [None, OpenAIExtras(), OpenAIExtras(top_k=3), OpenAIExtras(min_p=0.1, top_k=-1)]


class _OverridingExtras(msgspec.Struct, omit_defaults=True):
    """Extras naming a request field (``seed``) and a new one."""

    top_k: int | None = None
    seed: int | None = None


@pytest.mark.parametrize("messages", list(_MESSAGES.values()), ids=list(_MESSAGES))
@pytest.mark.parametrize("options", _OPTIONS)
@pytest.mark.parametrize("extras", _EXTRAS)
def test_openai_fastpath_request_encoding_equals_request_body(
    messages: str, options: str, extras: msgspec.Struct | None
) -> None:
    req = decode_request(f'{{"model":"x","messages":{messages}{options},"seed":1}}'.encode())
    expected = json_encode(request_body(req, "up-model", extras))
    assert encode_request_body(req, "up-model", extras) == expected


@pytest.mark.parametrize(
    "extras", [_OverridingExtras(seed=9), _OverridingExtras(top_k=2, seed=9), _OverridingExtras()]
)
def test_openai_fastpath_extras_overriding_a_request_field(extras: _OverridingExtras) -> None:
    req = decode_request(b'{"model":"x","messages":[{"role":"user","content":"hi"}],"seed":1}')
    body = encode_request_body(req, "m", extras)
    assert body == json_encode(request_body(req, "m", extras))
    assert list(json.loads(body)) == ["model", "messages", "seed"] + (
        ["top_k"] if extras.top_k is not None else []
    )


def test_openai_fastpath_request_does_not_touch_the_canonical_request() -> None:
    raw = (
        b'{"model":"x","messages":[' + (_TOOL_TURN % "").encode() + b'],"stream":true,'
        b'"stream_options":{"include_usage":false},"models":["y"]}'
    )
    req = decode_request(raw)
    before = json_encode(req)
    encode_request_body(req, "m", OpenAIExtras(top_k=1))
    assert json_encode(req) == before
    assert isinstance(req, ChatRequest)


_HEAD = '"id":"c1","object":"chat.completion.chunk","created":5,"model":"m"'


def _chunk(delta: str, finish: str = "null") -> str:
    return (
        "{"
        + _HEAD
        + ',"choices":[{"index":0,"delta":'
        + delta
        + ',"finish_reason":'
        + finish
        + "}]}"
    )


def _translator() -> StreamTranslator:
    req = decode_request(b'{"model":"m","messages":[{"role":"user","content":"hi"}]}')
    return OpenAIProvider().stream_translator(req, DEP)


def _feed(*payloads: str) -> str:
    translator = _translator()
    out: list[ChatCompletionChunk] = []
    for payload in payloads:
        out.extend(translator.feed(UpstreamEvent(payload)))
    out.extend(translator.close())
    return as_lines(out)


def test_openai_fastpath_surrounding_whitespace_and_done() -> None:
    plain = _feed(
        _chunk('{"role":"assistant","content":""}'),
        _chunk('{"content":"a"}'),
        _chunk("{}", '"stop"'),
        "[DONE]",
    )
    padded = _feed(
        "\n " + _chunk('{"role":"assistant","content":""}') + " \t",
        "\x0c" + _chunk('{"content":"a"}') + "\u00a0",  # str.strip() whitespace, not JSON's
        "",
        "  \n",
        _chunk("{}", '"stop"'),
        " [DONE]\r\n",
    )
    assert padded == plain
    assert plain.count("\n") == 3


def test_openai_fastpath_malformed_detail_is_the_stripped_data() -> None:
    translator = _translator()
    with pytest.raises(ModelError) as caught:
        translator.feed(UpstreamEvent('  {"choices":"nope"}  '))
    assert (caught.value.detail or "").endswith(': {"choices":"nope"}')


def test_openai_fastpath_later_deltas_drop_empty_parts() -> None:
    lines = _feed(
        _chunk('{"role":"assistant","content":null,"refusal":null}'),
        _chunk('{"role":"assistant","content":"","refusal":null}'),  # nothing: not sent
        _chunk('{"content":null,"refusal":"no","reasoning":""}'),
        _chunk('{"content":"x","reasoning_content":"","reasoning":"r"}'),
        _chunk('{"content":"","tool_calls":[]}'),  # nothing: not sent
        _chunk("null", '"stop"'),
    ).splitlines()
    deltas = [json.loads(line)["choices"][0]["delta"] for line in lines]
    assert deltas == [
        {"role": "assistant", "content": None, "refusal": None},
        {"refusal": "no"},
        {"content": "x", "reasoning_content": "r", "reasoning": "r"},  # both names (2.3)
        {},
    ]


def test_openai_fastpath_float_created_and_late_identity() -> None:
    lines = _feed(
        '{"created":1.7e9,"choices":[{"index":0,"delta":{"content":"a"}}]}',
        '{"id":"late","model":"late-model","created":0,"system_fingerprint":null,'
        '"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"length"}]}',
    ).splitlines()
    docs = [json.loads(line) for line in lines]
    assert [d["created"] for d in docs] == [1700000000] * 3
    assert docs[0]["id"].startswith("chatcmpl-")
    assert [d["id"] for d in docs[1:]] == ["late"] * 2
    # the model rule: one stream names one model, fixed by the first chunk out (which
    # came before the upstream named one, so the deployment's model)
    assert [d["model"] for d in docs] == ["gpt-4o"] * 3
    assert "system_fingerprint" not in docs[0] and docs[1]["system_fingerprint"] is None
    assert docs[2]["choices"][0]["finish_reason"] == "length"
