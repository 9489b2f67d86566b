"""The default prompt-token estimator against a real tokenizer's counts on a fixed
corpus (tests/data/estimator_corpus), and the plugin tokenizer hook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from viberouter_echo import EchoProvider

from router_core.api.chat import ChatRequest
from router_core.catalog import Target
from router_core.errors import ContextLengthExceeded
from router_core.guards import estimate_prompt_tokens, estimate_text_tokens, fitting_targets
from router_core.plugin_api import Deployment, ModelCard

CORPUS = Path(__file__).parent / "data" / "estimator_corpus"
#: The documented error bounds (docs/guards.md): (estimate - reference) / reference.
WORST_UNDER = -0.45
WORST_OVER = 0.30
MEAN_ABS = 0.15


def load_corpus() -> list[tuple[str, ChatRequest, int]]:
    samples = json.loads((CORPUS / "samples.json").read_text(encoding="utf-8"))
    counts = json.loads((CORPUS / "reference_tokens.json").read_text(encoding="utf-8"))["counts"]
    assert {s["name"] for s in samples} == set(counts), "recount: samples and counts differ"
    return [
        (
            s["name"],
            msgspec.convert({"model": "m", "messages": s["messages"]}, ChatRequest),
            counts[s["name"]],
        )
        for s in samples
    ]


def relative_errors() -> dict[str, float]:
    return {name: (estimate_prompt_tokens(req) - ref) / ref for name, req, ref in load_corpus()}


def test_corpus_covers_many_kinds_of_text() -> None:
    samples = json.loads((CORPUS / "samples.json").read_text(encoding="utf-8"))
    kinds = {s["kind"] for s in samples}
    assert {"english", "code", "json", "cjk", "cyrillic", "tools", "ids"} <= kinds
    assert len(samples) >= 20


def test_every_sample_within_the_documented_bound() -> None:
    errors = relative_errors()
    outside = {n: round(e, 3) for n, e in errors.items() if not WORST_UNDER <= e <= WORST_OVER}
    assert not outside


def test_mean_absolute_error_within_the_documented_bound() -> None:
    errors = relative_errors()
    mean_abs = sum(abs(e) for e in errors.values()) / len(errors)
    assert mean_abs <= MEAN_ABS


def test_plain_english_leans_over() -> None:
    # Prose is the common case; there the estimate must not under-count.
    errors = relative_errors()
    for name in ("prose-short", "prose-conversation", "prose-long"):
        assert errors[name] >= 0


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("", 0, 0),
        ("hello world", 2, 4),
        ("1234567890", 9, 11),
        ("日本語のテキスト", 6, 9),
    ],
)
def test_text_estimate_by_character_class(text: str, low: float, high: float) -> None:
    assert low <= estimate_text_tokens(text) <= high


def test_images_and_tools_count() -> None:
    base: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    plain = estimate_prompt_tokens(msgspec.convert(base, ChatRequest))
    image = msgspec.convert(
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hi"},
                        {"type": "image_url", "image_url": {"url": "data:x"}},
                    ],
                }
            ],
        },
        ChatRequest,
    )
    tools = msgspec.convert(
        {
            **base,
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "lookup",
                        "description": "Look a word up in the dictionary",
                        "parameters": {
                            "type": "object",
                            "properties": {"word": {"type": "string"}},
                        },
                    },
                }
            ],
        },
        ChatRequest,
    )
    assert estimate_prompt_tokens(image) >= plain + 765
    assert estimate_prompt_tokens(tools) >= plain + 20


class CountingEcho(EchoProvider):
    """An echo whose tokenizer says every request is ``tokens`` long."""

    tokens = 5000

    def count_tokens(self, request: ChatRequest, deployment: Deployment) -> int | None:
        return self.tokens


def target(plugin: EchoProvider, did: str, context: int) -> Target:
    card = ModelCard(id=did, context_length=context, max_output_tokens=100)
    return Target(Deployment(id=did, provider="p", model=did, card=card), plugin)


def test_plugin_tokenizer_wins_over_the_estimate() -> None:
    req = msgspec.convert(
        {"model": "m", "messages": [{"role": "user", "content": "short"}]}, ChatRequest
    )
    small_default = target(EchoProvider(), "p/a", 4000)
    counted = target(CountingEcho(), "p/b", 4000)
    big = target(CountingEcho(), "p/c", 8000)
    # the default estimate of "short" fits 4000; the plugin's 5000 does not
    kept, tokens = fitting_targets(req, [counted, small_default, big], estimate_prompt_tokens(req))
    assert [t.deployment.id for t in kept] == ["p/a", "p/c"]
    assert tokens == estimate_prompt_tokens(req)
    with pytest.raises(ContextLengthExceeded, match="4000"):
        fitting_targets(req, [counted], estimate_prompt_tokens(req))


def test_a_plugin_returning_none_falls_back_to_the_estimate() -> None:
    class Unsure(EchoProvider):
        def count_tokens(self, request: ChatRequest, deployment: Deployment) -> int | None:
            return None

    req = msgspec.convert(
        {"model": "m", "messages": [{"role": "user", "content": "short"}]}, ChatRequest
    )
    kept, tokens = fitting_targets(req, [target(Unsure(), "p/a", 100)], 42)
    assert tokens == 42 and len(kept) == 1
