"""The echo model's deterministic answers: tokens, schema-valid arguments, directives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from viberouter_echo.directives import Directives, parse_directives
from viberouter_echo.reply import plan_reply, tokenize
from viberouter_echo.schema_values import sample_value

from router_core.plugin_testing import decode_request

_CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "echo_schemas.json").read_text("utf-8")
)


@pytest.mark.parametrize(
    "text",
    ["Hello there", "  leading and trailing  ", "one", "", "   ", "tab\tand\nnewline  x"],
)
def test_echo_tokens_join_back_to_the_text(text: str) -> None:
    tokens = tokenize(text)
    assert "".join(tokens) == text
    # every token but the first starts on a word, so whitespace stays with the previous word
    assert all(not t[0].isspace() for t in tokens[1:])


def test_echo_tokens_split_on_whitespace_boundaries() -> None:
    assert tokenize("Hello there,  world!") == ["Hello ", "there,  ", "world!"]


@pytest.mark.parametrize("case", _CASES, ids=[c["name"] for c in _CASES])
def test_echo_schema_values(case: dict[str, Any]) -> None:
    value = sample_value(case["schema"], case["word"])
    assert value == case["expected"]
    assert json.loads(json.dumps(value)) == case["expected"]


def test_echo_directives_are_parsed_and_removed() -> None:
    directives, text = parse_directives("hi [[echo:status=503]] there [[echo:hang]]")
    assert directives == Directives(status=503, hang=True)
    assert text == "hi  there"
    assert parse_directives("no directives") == (Directives(), "no directives")
    assert parse_directives("[[echo:status=abc]]")[0].status is None
    assert parse_directives("[[echo:error-midstream]] x")[0].error_midstream


def test_echo_plan_text_honours_stop_and_max_tokens() -> None:
    body = b'{"model":"m","messages":[{"role":"user","content":"one two three four"}]'
    plan = plan_reply(decode_request(body + b',"stop":[" three"]}'))
    assert (plan.content, plan.finish_reason) == ("one two", "stop")
    plan = plan_reply(decode_request(body + b',"max_tokens":2,"n":2}'))
    assert (plan.content, plan.finish_reason, plan.n) == ("one two ", "length", 2)
    assert plan.completion_tokens == 4


def test_echo_plan_json_modes() -> None:
    base = b'{"model":"m","messages":[{"role":"user","content":"Report on Paris"}],'
    plan = plan_reply(decode_request(base + b'"response_format":{"type":"json_object"}}'))
    assert json.loads(plan.content or "") == {"echo": "Report on Paris"}
    schema = b'{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}'
    fmt = b'"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":%s}}}'
    plan = plan_reply(decode_request(base + fmt % schema))
    assert json.loads(plan.content or "") == {"city": "Paris"}


@pytest.mark.parametrize(
    ("choice", "text", "expected"),
    [
        ('"auto"', "nothing relevant", []),
        ('"auto"', "please GET_TIME now", ["get_time"]),
        ('"auto"', "get_time and get_weather", ["get_weather", "get_time"]),
        ('"required"', "nothing relevant", ["get_weather"]),
        ('"none"', "get_time", []),
        ('{"type":"function","function":{"name":"get_time"}}', "get_weather", ["get_time"]),
        (
            '{"type":"allowed_tools","allowed_tools":{"mode":"required",'
            '"tools":[{"type":"function","function":{"name":"get_time"}}]}}',
            "get_weather",
            ["get_time"],
        ),
    ],
)
def test_echo_tool_selection(choice: str, text: str, expected: list[str]) -> None:
    tools = (
        '[{"type":"function","function":{"name":"get_weather"}},'
        '{"type":"function","function":{"name":"get_time"}}]'
    )
    raw = (
        f'{{"model":"m","messages":[{{"role":"user","content":"{text}"}}],'
        f'"tools":{tools},"tool_choice":{choice}}}'
    )
    plan = plan_reply(decode_request(raw.encode()))
    assert [c.name for c in plan.tool_calls] == expected
    assert plan.finish_reason == ("tool_calls" if expected else "stop")


def test_echo_parallel_tool_calls_false_calls_one_tool() -> None:
    raw = (
        b'{"model":"m","messages":[{"role":"user","content":"get_time get_weather"}],'
        b'"tools":[{"type":"function","function":{"name":"get_weather"}},'
        b'{"type":"function","function":{"name":"get_time"}}],"parallel_tool_calls":false}'
    )
    assert [c.name for c in plan_reply(decode_request(raw)).tool_calls] == ["get_weather"]


def test_echo_tool_result_turn_reports_the_results(echo_data: Path) -> None:
    plan = plan_reply(decode_request((echo_data / "echo_request_tool_result.json").read_bytes()))
    assert plan.tool_calls == []
    assert plan.content == (
        "The get_weather tool returned: 4C, snow\nThe get_weather tool returned: 19C, sun"
    )
