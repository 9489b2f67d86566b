"""Gemini-specific test helpers on top of ``router_core.plugin_testing``: a provider
with deterministic ids and clock, Gemini model defaults, chunks as JSON values."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from viberouter_gemini import GeminiProvider, GeminiSettings

from router_core import plugin_testing as kit
from router_core.plugin_api import ChatRequest, Deployment, StreamTranslator, json_encode

CREATED = 1_700_000_000
_any = msgspec.json.Decoder()


def counter_ids() -> Callable[[], str]:
    """Deterministic tool-call ids: call_fx1, call_fx2, ..."""
    numbers = itertools.count(1)
    return lambda: f"call_fx{next(numbers)}"


def provider(**settings: Any) -> GeminiProvider:
    """A provider with deterministic ids and clock."""
    return GeminiProvider(GeminiSettings(**settings), new_id=counter_ids(), clock=lambda: CREATED)


def deployment(model: str = "gemini-2.5-flash") -> Deployment:
    """A deployment of one Gemini model on a provider instance named ``gemini``."""
    return kit.deployment(model, provider="gemini")


def load_request(path: Path) -> ChatRequest:
    """A ChatRequest fixture file."""
    return kit.decode_request(path)


def chat(**fields: Any) -> ChatRequest:
    """A ChatRequest from keyword fields (validated like the core does)."""
    fields.setdefault("model", "gemini-2.5-flash")
    return kit.chat_request(**fields)


def translate(translator: StreamTranslator, raw: bytes) -> list[Any]:
    """Upstream bytes through the core's framing and loop; chunks as plain JSON values."""
    return [to_json(c) for c in kit.translate(translator, raw)]


def to_json(obj: Any) -> Any:
    """A Struct as the JSON value the core would send."""
    return _any.decode(json_encode(obj))


def read_jsonl(path: Path) -> list[Any]:
    """One JSON value per non-empty line."""
    return [_any.decode(line) for line in path.read_bytes().splitlines() if line.strip()]
