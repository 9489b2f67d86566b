"""router_core/dialects/anthropic_messages from_chat: canonical completions as Messages
API responses (byte-exact fixture), stop reasons and usage in Anthropic's fields."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from router_core.api.chat import (
    ChatCompletion,
    Choice,
    FinishReason,
    FunctionCall,
    PromptTokensDetails,
    ResponseMessage,
    ToolCall,
    Usage,
)
from router_core.dialects.anthropic_messages import to_message, usage_out
from router_core.dialects.anthropic_messages.wire import UsageOut
from router_core.errors import ModelError
from router_core.plugin_api import decode_completion

DATA = Path(__file__).parent / "data" / "anthropic_dialect"


def _completion(message: ResponseMessage, finish: FinishReason | None) -> ChatCompletion:
    return ChatCompletion(
        id="chatcmpl-x",
        created=1,
        model="echo/echo-1",
        choices=[Choice(message=message, finish_reason=finish)],
        usage=Usage(prompt_tokens=10, completion_tokens=2, total_tokens=12),
    )


def test_tools_reasoning_and_cache_usage_byte_for_byte() -> None:
    completion = decode_completion((DATA / "completion_tools.chat.json").read_bytes())
    encoded = msgspec.json.encode(to_message(completion, message_id="msg_fx10"))
    assert encoded + b"\n" == (DATA / "completion_tools.messages.json").read_bytes()


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_stop_reasons(finish: FinishReason | None, stop: str) -> None:
    message = to_message(_completion(ResponseMessage(content="hi"), finish))
    assert message.stop_reason == stop
    assert message.stop_sequence is None


def test_a_refusal_is_text_with_stop_reason_refusal() -> None:
    message = to_message(_completion(ResponseMessage(refusal="I can't help with that."), "stop"))
    assert message.stop_reason == "refusal"
    assert msgspec.to_builtins(message.content) == [
        {"type": "text", "text": "I can't help with that."}
    ]


def test_ids_are_fresh_msg_ids() -> None:
    a = to_message(_completion(ResponseMessage(content="hi"), "stop"))
    b = to_message(_completion(ResponseMessage(content="hi"), "stop"))
    assert a.id.startswith("msg_") and b.id.startswith("msg_") and a.id != b.id


def test_no_content_is_an_empty_list() -> None:
    message = to_message(_completion(ResponseMessage(content=None), "stop"))
    assert message.content == []


def test_tool_arguments_that_are_not_an_object_are_a_model_error() -> None:
    call = ToolCall(id="c", function=FunctionCall(name="f", arguments="[1, 2"))
    with pytest.raises(ModelError):
        to_message(_completion(ResponseMessage(tool_calls=[call]), "tool_calls"))


def test_usage_moves_cache_counts_out_of_input_tokens() -> None:
    usage = Usage(
        prompt_tokens=1000,
        completion_tokens=5,
        total_tokens=1005,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=600),
    )
    assert usage_out(usage) == UsageOut(
        input_tokens=400, cache_read_input_tokens=600, output_tokens=5
    )
    assert usage_out(None, input_estimate=42) == UsageOut(input_tokens=42)
