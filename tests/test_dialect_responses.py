"""The Responses dialect's pure translators against recorded fixtures
(tests/data/responses): request -> canonical chat, completion -> response object,
canonical chunks -> the typed event stream, byte for byte; every emitted event and
object also validates against the official openai SDK's own types."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import msgspec
import pydantic
import pytest
from openai.types.responses import Response as SdkResponse
from openai.types.responses import ResponseStreamEvent

from router_core.api.chat import ChatCompletion, ChatCompletionChunk
from router_core.dialects.openai_responses.errors import ResponsesInvalid, error_body
from router_core.dialects.openai_responses.from_chat import from_completion
from router_core.dialects.openai_responses.stream import ResponsesStreamEncoder
from router_core.dialects.openai_responses.to_chat import to_chat_request
from router_core.dialects.openai_responses.wire import InputItem, ResponsesRequest
from router_core.errors import ModelError, QuotaExceeded

DATA = Path(__file__).parent / "data" / "responses"
_events = pydantic.TypeAdapter(ResponseStreamEvent)
_encode = msgspec.json.Encoder().encode


def _request(name: str) -> ResponsesRequest:
    return msgspec.json.decode((DATA / name).read_bytes(), type=ResponsesRequest)


def _ids() -> object:
    n = itertools.count(1)
    return lambda prefix: f"{prefix}_fx{next(n):02d}"


def _encoder(req: ResponsesRequest) -> ResponsesStreamEncoder:
    return ResponsesStreamEncoder(
        req,
        response_id="resp_fx01",
        created_at=1760000000,
        clock=lambda: 1760000002,
        make_id=_ids(),  # type: ignore[arg-type]
    )


def _frames(raw: bytes) -> list[tuple[str, dict[str, object]]]:
    out = []
    for block in raw.decode().split("\n\n"):
        if block:
            event_line, data_line = block.split("\n")
            assert event_line.startswith("event: ") and data_line.startswith("data: ")
            out.append((event_line[7:], json.loads(data_line[6:])))
    return out


@pytest.mark.parametrize("case", ["text", "tools", "thinking", "truncated", "custom"])
def test_stream_fixture_byte_exact(case: str) -> None:
    enc = _encoder(_request(f"{case}.request.json"))
    out = enc.start()
    for line in (DATA / f"{case}.chunks.jsonl").read_bytes().splitlines():
        out += enc.feed(msgspec.json.decode(line, type=ChatCompletionChunk))
    out += enc.finish()
    raw = b"".join(out)
    assert raw == (DATA / f"{case}.expected.sse").read_bytes()
    frames = _frames(raw)
    # The event line names the JSON type; sequence numbers count every event from 0.
    assert [name for name, _ in frames] == [data["type"] for _, data in frames]
    assert [data["sequence_number"] for _, data in frames] == list(range(len(frames)))
    for _, data in frames:
        _events.validate_python(data)
    assert frames[0][0] == "response.created" and frames[1][0] == "response.in_progress"
    assert frames[-1][0] in ("response.completed", "response.incomplete")
    assert enc.finished


def test_stream_items_open_before_their_deltas_and_close_in_order() -> None:
    raw = (DATA / "thinking.expected.sse").read_bytes()
    opened: set[str] = set()
    closed: list[str] = []
    for name, data in _frames(raw):
        item_id = data.get("item_id")
        if name == "response.output_item.added":
            opened.add(data["item"]["id"])  # type: ignore[index]
        elif name == "response.output_item.done":
            closed.append(data["item"]["id"])  # type: ignore[index]
        elif isinstance(item_id, str):
            assert item_id in opened and item_id not in closed, name
    assert closed == ["rs_fx01", "msg_fx02"]


def test_stream_usage_and_incomplete_status() -> None:
    frames = _frames((DATA / "truncated.expected.sse").read_bytes())
    response = frames[-1][1]["response"]
    assert isinstance(response, dict)
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["usage"]["input_tokens"] == 12 and response["usage"]["output_tokens"] == 16
    assert response["output"][0]["status"] == "incomplete"


def test_stream_failure_is_error_event_then_response_failed() -> None:
    enc = _encoder(_request("text.request.json"))
    enc.start()
    enc.feed(
        msgspec.json.decode(
            (DATA / "text.chunks.jsonl").read_bytes().splitlines()[1], type=ChatCompletionChunk
        )
    )
    frames = _frames(b"".join(enc.fail(QuotaExceeded("Monthly quota used up"))))
    assert [n for n, _ in frames] == ["error", "response.failed"]
    assert frames[0][1]["code"] == "insufficient_quota"
    assert frames[0][1]["error"] == {
        "message": "Monthly quota used up",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
    failed = frames[1][1]["response"]
    assert isinstance(failed, dict)
    assert failed["status"] == "failed"
    # Codex reads this code (fatal, not retried); the SDK's own literal list lacks it.
    assert failed["error"] == {"code": "insufficient_quota", "message": "Monthly quota used up"}
    _events.validate_python(frames[0][1])


def test_stream_failure_of_the_upstream_validates_as_sdk_types() -> None:
    enc = _encoder(_request("text.request.json"))
    enc.start()
    frames = _frames(b"".join(enc.fail(ModelError("upstream broke"))))
    for _, data in frames:
        _events.validate_python(data)
    assert frames[1][1]["response"]["error"]["code"] == "server_error"  # type: ignore[index]


def test_request_items_to_chat_fixture() -> None:
    chat = to_chat_request(_request("items.request.json"), [])
    expected = json.loads((DATA / "items.chat.json").read_text())
    assert json.loads(_encode(chat)) == expected


def test_history_goes_before_input_and_instructions_are_not_inherited() -> None:
    history = msgspec.json.decode(
        b'[{"role":"user","content":"Hi"},{"type":"message","id":"msg_1","role":"assistant",'
        b'"status":"completed","content":[{"type":"output_text","text":"Hello",'
        b'"annotations":[],"logprobs":[]}]}]',
        type=list[InputItem],
    )
    req = msgspec.json.decode(b'{"model":"m","input":"Again","instructions":"Be brief"}',
                              type=ResponsesRequest)  # fmt: skip
    chat = to_chat_request(req, history)
    assert [(m.role, m.content) for m in chat.messages] == [
        ("system", "Be brief"),
        ("user", "Hi"),
        ("assistant", "Hello"),
        ("user", "Again"),
    ]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0]"),
        ({"tools": [{"type": "function", "name": "f"}, {"type": "file_search"}]}, "tools[1]"),
        ({"background": True}, "background"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"input": [{"type": "web_search_call", "id": "ws_1"}]}, "input[0]"),
        ({"input": [{"type": "item_reference", "id": "msg_9"}]}, "input[0]"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f1"}]}]},
            "input[0].content[0]",
        ),
        ({"tool_choice": {"type": "web_search"}}, "tool_choice"),
        ({"input": []}, "input"),
    ],
)
def test_what_chat_cannot_do_is_a_400_naming_the_parameter(
    body: dict[str, object], param: str
) -> None:
    raw = {"model": "m", "input": "hi", **body}
    req = msgspec.json.decode(json.dumps(raw), type=ResponsesRequest)
    with pytest.raises(ResponsesInvalid) as info:
        to_chat_request(req, [])
    assert info.value.http_status == 400
    assert info.value.param == param
    shaped = msgspec.to_builtins(error_body(info.value))
    assert shaped["error"]["type"] == "invalid_request_error"
    assert shaped["error"]["param"] == param


@pytest.mark.parametrize("case", ["completion_tools", "completion_text"])
def test_completion_to_response_fixture(case: str) -> None:
    completion = msgspec.json.decode((DATA / f"{case}.json").read_bytes(), type=ChatCompletion)
    response = from_completion(
        _request(f"{case}.request.json"),
        completion,
        response_id="resp_fx01",
        created_at=1760000000,
        completed_at=1760000002,
        make_id=_ids(),  # type: ignore[arg-type]
    )
    raw = _encode(response)
    assert raw == (DATA / f"{case}.expected.json").read_bytes().rstrip(b"\n")
    SdkResponse.model_validate_json(raw)


def test_error_shapes_follow_openai() -> None:
    body = msgspec.to_builtins(error_body(ModelError("upstream broke")))
    assert body == {
        "error": {
            "message": "upstream broke",
            "type": "server_error",
            "param": None,
            "code": "server_error",
        }
    }
