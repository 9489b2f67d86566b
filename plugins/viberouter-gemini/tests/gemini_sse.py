"""Test helpers: split SSE bytes into events and drive the plugin deterministically."""

from __future__ import annotations

import codecs
import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
from viberouter_gemini import GeminiProvider, GeminiSettings

from router_core.plugin_api import (
    ChatCompletionChunk,
    ChatRequest,
    Deployment,
    ModelCard,
    StreamTranslator,
    UpstreamEvent,
    json_encode,
)

CREATED = 1_700_000_000
_request_decoder = msgspec.json.Decoder(ChatRequest)
_any = msgspec.json.Decoder()


class SseSplitter:
    """Incremental SSE event splitter (bytes in any slices; CRLF, LF or CR lines)."""

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._pending = ""
        self._data: list[str] = []
        self._event = ""

    def feed(self, raw: bytes) -> list[UpstreamEvent]:
        """Events completed by these bytes."""
        text = self._pending + self._utf8.decode(raw)
        # A trailing CR may be the first half of CRLF: keep it until the next slice.
        cut = len(text) - 1 if text.endswith("\r") else len(text)
        text, self._pending = text[:cut], text[cut:]
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._pending = lines.pop() + self._pending
        out: list[UpstreamEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    out.append(UpstreamEvent(data="\n".join(self._data), event=self._event))
                self._data, self._event = [], ""
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._event = value
        return out


def split_sse(raw: bytes) -> list[UpstreamEvent]:
    """All complete events in a byte string."""
    return SseSplitter().feed(raw)


def counter_ids() -> Callable[[], str]:
    """Deterministic tool-call ids: call_fx1, call_fx2, ..."""
    numbers = itertools.count(1)
    return lambda: f"call_fx{next(numbers)}"


def provider(**settings: Any) -> GeminiProvider:
    """A provider with deterministic ids and clock."""
    return GeminiProvider(GeminiSettings(**settings), new_id=counter_ids(), clock=lambda: CREATED)


def deployment(model: str = "gemini-2.5-flash") -> Deployment:
    """A deployment of one Gemini model."""
    return Deployment(
        id=f"gemini/{model}", provider="gemini", model=model, card=ModelCard(id=model)
    )


def load_request(path: Path) -> ChatRequest:
    """A ChatRequest fixture file."""
    return _request_decoder.decode(path.read_bytes())


def chat(**fields: Any) -> ChatRequest:
    """A ChatRequest from keyword fields (validated like the core does)."""
    fields.setdefault("model", "gemini-2.5-flash")
    fields.setdefault("messages", [{"role": "user", "content": "hi"}])
    return _request_decoder.decode(json_encode(fields))


def translate(translator: StreamTranslator, events: Iterable[UpstreamEvent]) -> list[Any]:
    """Feed every event then close; chunks as plain JSON values."""
    chunks: list[ChatCompletionChunk] = []
    for event in events:
        chunks.extend(translator.feed(event))
    chunks.extend(translator.close())
    return [to_json(c) for c in chunks]


def to_json(obj: Any) -> Any:
    """A Struct as the JSON value the core would send."""
    return _any.decode(json_encode(obj))


def read_jsonl(path: Path) -> list[Any]:
    """One JSON value per non-empty line."""
    return [_any.decode(line) for line in path.read_bytes().splitlines() if line.strip()]
