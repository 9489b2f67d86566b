"""A value that satisfies a (simple) JSON Schema, for deterministic fake tool arguments.

Covers what tool schemas use in practice: ``type`` (or a list of types), ``properties`` /
``required``, ``items`` / ``minItems`` / ``maxItems``, ``enum``, ``const``, ``default``,
``minimum`` / ``maximum`` (also exclusive), ``minLength`` / ``maxLength``, common string
``format`` values, ``anyOf`` / ``oneOf`` / ``allOf`` (first branch) and local ``$ref``.
``pattern`` and ``multipleOf`` are not honoured.
"""

from __future__ import annotations

import math
from typing import Any

_FORMAT_SAMPLES: dict[str, str] = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "email": "echo@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
}

# Nested $refs can loop (recursive schemas); stop descending well before Python would.
_MAX_DEPTH = 16


def sample_value(schema: Any, word: str = "echo") -> Any:
    """A JSON value valid for ``schema``; strings default to ``word``."""
    return _value(schema, schema, word, 0)


def _value(schema: Any, root: Any, word: str, depth: int) -> Any:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return word
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _value(_resolve(ref, root), root, word, depth + 1)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            return _value(_first_non_null(branches), root, word, depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, root, word, depth)
    if kind == "array":
        return _array(schema, root, word, depth)
    if kind == "integer":
        return int(_number(schema, integer=True))
    if kind == "number":
        return _number(schema, integer=False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, word)


def _resolve(ref: str, root: Any) -> Any:
    # Only document-local pointers ("#/$defs/Thing"); anything else yields {} (any value).
    if not ref.startswith("#"):
        return {}
    node = root
    for part in ref.lstrip("#").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return {}
        node = node[part]
    return node


def _first_non_null(branches: list[Any]) -> Any:
    for branch in branches:
        if not (isinstance(branch, dict) and branch.get("type") == "null"):
            return branch
    return branches[0]


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        kind = non_null[0] if non_null else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _object(schema: dict[str, Any], root: Any, word: str, depth: int) -> dict[str, Any]:
    props = schema.get("properties")
    props = props if isinstance(props, dict) else {}
    required = schema.get("required")
    names = [n for n in required if isinstance(n, str)] if isinstance(required, list) else []
    return {name: _value(props.get(name, {}), root, word, depth + 1) for name in names}


def _array(schema: dict[str, Any], root: Any, word: str, depth: int) -> list[Any]:
    count = max(_int(schema.get("minItems"), 0), 1)
    max_items = schema.get("maxItems")
    if isinstance(max_items, int):
        count = min(count, max_items)
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list) and prefix:
        return [_value(item, root, word, depth + 1) for item in prefix]
    item = _value(schema.get("items", {}), root, word, depth + 1)
    return [item] * count


def _number(schema: dict[str, Any], *, integer: bool) -> float:
    # Zero when allowed, else the nearest bound; exclusive bounds step inside by one
    # (integers) or a half (numbers).
    step = 1.0 if integer else 0.5
    low = _float(schema.get("minimum"))
    ex_low = _float(schema.get("exclusiveMinimum"))
    high = _float(schema.get("maximum"))
    ex_high = _float(schema.get("exclusiveMaximum"))
    if integer:
        low = math.ceil(low) if low is not None else None
        ex_low = math.floor(ex_low) if ex_low is not None else None
        high = math.floor(high) if high is not None else None
        ex_high = math.ceil(ex_high) if ex_high is not None else None
    lows = [b for b in (low, None if ex_low is None else ex_low + step) if b is not None]
    highs = [b for b in (high, None if ex_high is None else ex_high - step) if b is not None]
    value = 0.0
    if lows:
        value = max(value, max(lows))
    if highs:
        value = min(value, min(highs))
    return value


def _string(schema: dict[str, Any], word: str) -> str:
    fmt = schema.get("format")
    text = _FORMAT_SAMPLES.get(fmt, word) if isinstance(fmt, str) else word
    min_len = _int(schema.get("minLength"), 0)
    if len(text) < min_len:
        text = text + "x" * (min_len - len(text))
    max_len = schema.get("maxLength")
    if isinstance(max_len, int) and len(text) > max_len:
        text = text[:max_len]
    return text


def _float(raw: Any) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    return float(raw)


def _int(raw: Any, fallback: int) -> int:
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else fallback
