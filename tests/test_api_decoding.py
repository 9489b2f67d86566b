"""router_core/api/decoding.py: bytes to typed requests, every bad input a 400."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from router_core.api.chat import ChatRequest
from router_core.api.decoding import (
    MAX_FREE_FORM_DEPTH,
    chat_free_form,
    check_nesting,
    decode_chat_request,
    decode_json,
    may_nest_deeper,
    struct_parts,
)
from router_core.errors import InvalidRequest

DECODER = msgspec.json.Decoder(ChatRequest)
HEAD = b'{"model":"m","messages":[{"role":"user","content":'


def schema(levels: int) -> bytes:
    """A JSON schema ``levels`` properties deep (two JSON levels per schema level)."""
    return b'{"type":"object","properties":{"a":' * levels + b"{}" + b"}}" * levels


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (HEAD + b'"\xff"}]}', "not valid UTF-8"),
        (HEAD + b'"\xc0\xaf"}]}', "not valid UTF-8"),  # overlong "/"
        (HEAD + b'"\xed\xa0\x80"}]}', "not valid UTF-8"),  # a surrogate, UTF-8 encoded
        (HEAD + b'"\xe2\x82"}]}', "not valid UTF-8"),  # truncated sequence
        (HEAD + b'"hi"}],"x":' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
        (HEAD + b'"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":'
         + schema(1000) + b"}}]}", "nested too deeply"),
        (HEAD + b'"hi"}]', "Malformed JSON"),
        (HEAD + b'"hi"}],"temperature":NaN}', "Malformed JSON"),
        (HEAD + b'"hi"}],"max_tokens":0}', "Invalid request"),
        (b"[]", "Invalid request"),
    ],
)  # fmt: skip
def test_bad_bodies_are_invalid_request(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_chat_request(DECODER, body)
    assert caught.value.status == 400 and caught.value.code == "invalid_request"
    assert message in str(caught.value)


def test_free_form_nesting_is_bounded_below_any_recursion_limit() -> None:
    inside = MAX_FREE_FORM_DEPTH // 2 - 1  # 1 + 2 * 31 = 63 levels
    fmt = b'"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":'
    ok = decode_chat_request(DECODER, HEAD + fmt + schema(inside) + b"}}}")
    assert ok.response_format is not None
    with pytest.raises(InvalidRequest, match=r"response_format\.json_schema\.schema"):
        decode_chat_request(DECODER, HEAD + fmt + schema(inside + 1) + b"}}}")


def test_check_nesting_never_recurses() -> None:
    deep: list[Any] = []
    node = deep
    for _ in range(200_000):  # far past Python's recursion limit
        child: list[Any] = []
        node.append(child)
        node = child
    with pytest.raises(InvalidRequest, match=r"\$\.x is nested|`\$\.x` is nested"):
        check_nesting([("$.x", deep)])
    check_nesting([("$.flat", {"a": [1, 2, {"b": "c"}]}), ("$.none", None)])
    check_nesting([("$.exact", [[[]]])], limit=3)
    with pytest.raises(InvalidRequest):
        check_nesting([("$.over", [[[[]]]])], limit=3)


@pytest.mark.parametrize("levels", [0, 1, 2, 3, 4, 5])
def test_bracket_count_skips_only_walks_that_cannot_fail(levels: int) -> None:
    # a value ``levels`` arrays deep, in a body of exactly that many brackets (plus
    # brackets inside a string, which only add to the count)
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    body = msgspec.json.encode({"x": value if levels else 1, "s": "[{"})
    assert may_nest_deeper(body, limit=levels + 3) is False  # 1 + levels + 2 in "s"
    assert may_nest_deeper(body, limit=levels + 2) is True
    for limit in range(0, 7):
        walked = _refused([("$.x", value if levels else 1)], limit, None)
        with_body = _refused([("$.x", value if levels else 1)], limit, body)
        assert with_body == walked, (levels, limit)
        assert walked == (levels > limit)


def _refused(parts: list[tuple[str, object]], limit: int, body: bytes | None) -> bool:
    # as the decoders call it: the walk only when the body may nest that deep
    try:
        if body is None or may_nest_deeper(body, limit):
            check_nesting(parts, limit)
    except InvalidRequest:
        return True
    return False


def test_small_bodies_skip_the_walk_large_ones_do_not() -> None:
    assert not may_nest_deeper(HEAD + b'"hi"}]}')
    deep = b"[" * (MAX_FREE_FORM_DEPTH + 1) + b"]" * (MAX_FREE_FORM_DEPTH + 1)
    # a body with more brackets than the limit is walked: the deep part is refused
    with pytest.raises(InvalidRequest, match="nested more than"):
        decode_chat_request(DECODER, HEAD + b'"hi"}],"audio":{"x":' + deep + b"}}")


def _any_fields(tp: Any, path: str, seen: set[type]) -> set[str]:
    """Paths of every ``dict[str, Any]`` field reachable from a request type."""
    info = msgspec.inspect.type_info(tp) if isinstance(tp, type) else tp
    found: set[str] = set()
    if isinstance(info, msgspec.inspect.StructType):
        if info.cls in seen:
            return found
        seen = seen | {info.cls}
        for f in info.fields:
            found |= _any_fields(f.type, f"{path}.{f.encode_name}", seen)
    elif isinstance(info, msgspec.inspect.UnionType):
        for t in info.types:
            found |= _any_fields(t, path, seen)
    elif isinstance(info, msgspec.inspect.ListType):
        found |= _any_fields(info.item_type, path + "[]", seen)
    elif isinstance(info, msgspec.inspect.DictType) and isinstance(
        info.value_type, msgspec.inspect.AnyType
    ):
        found.add(path)
    return found


def test_every_free_form_field_of_a_chat_request_is_bounded() -> None:
    # A field typed dict[str, Any] added later must be added to chat_free_form too.
    req = msgspec.json.decode(
        HEAD + b'"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],'
        b'"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}},'
        b'"tool_choice":{"type":"allowed_tools","allowed_tools":{}},'
        b'"audio":{},"prediction":{},"web_search_options":{}}',
        type=ChatRequest,
    )
    covered = {path.replace("[0]", "[]") for path, _ in chat_free_form(req)}
    assert _any_fields(ChatRequest, "$", set()) == covered


def test_plugin_extras_are_bounded_field_by_field() -> None:
    class Extras(msgspec.Struct):
        thinking: dict[str, Any] | None = None

    dec = msgspec.json.Decoder(Extras)
    extras = decode_json(dec, b'{"thinking":' + b'{"a":' * 70 + b"1" + b"}" * 70 + b"}")
    with pytest.raises(InvalidRequest, match=r"\$\.thinking"):
        check_nesting(struct_parts(extras))
    with pytest.raises(InvalidRequest, match="UTF-8"):
        decode_json(dec, b'{"thinking":{"type":"\xff"}}')


def test_plugin_extras_are_read_as_a_full_decode_would_read_them() -> None:
    from router_core.dispatch import _ExtrasReader

    class Extras(msgspec.Struct, omit_defaults=True):
        top_k: int | None = None
        min_p: float | None = None

    reader = _ExtrasReader(Extras)
    full = msgspec.json.Decoder(Extras)
    bodies = [
        b'{"model":"m","messages":[{"role":"user","content":"hi"}]}',  # none: the short way
        b'{"model":"m","messages":[],"top_k":5}',
        b'{"model":"m","messages":[],"min_p":0.5,"top_k":-1}',
        b'{"model":"m","messages":[],"\\u0074op_k":7}',  # an escaped name: decoded
        b'{"model":"m","messages":[],"stop":["top_k"]}',  # the name as a value: decoded
        b'{"model":"m","messages":[{"role":"user","content":"say \\"top_k\\""}]}',
    ]
    for body in bodies:
        assert reader.read(body) == full.decode(body), body
    assert reader.read(bodies[3]) == Extras(top_k=7)
    with pytest.raises(InvalidRequest, match="top_k"):
        reader.read(b'{"model":"m","messages":[],"top_k":"many"}')

    class Required(msgspec.Struct):
        seed_of: int

    strict = _ExtrasReader(Required)  # {} does not decode: every body is decoded
    with pytest.raises(InvalidRequest, match="seed_of"):
        strict.read(b'{"model":"m","messages":[]}')


def test_plugin_extras_with_escapable_names_are_always_decoded() -> None:
    from router_core.dispatch import _ExtrasReader

    class Slashed(msgspec.Struct, omit_defaults=True):
        a_b: int | None = msgspec.field(default=None, name="a/b")

    reader = _ExtrasReader(Slashed)
    # "a\/b" is the same key as "a/b" in JSON; its plain bytes are not in the body
    assert reader.read(b'{"model":"m","messages":[],"a\\/b":3}') == Slashed(a_b=3)
