"""A stream with no usage from its upstream is billed by the guards' estimate of the
content it sent; a long stream folds its content into that estimate as it goes
instead of keeping every delta until it ends."""

from __future__ import annotations

from router_core.accounting import StreamOutcome
from router_core.api.chat import ChatCompletionChunk, ChunkChoice, Delta
from router_core.guards import estimate_text_tokens

PIECES = ["Hello", ", ", "wörld", " 2026", "!?", "\u4f60\u597d", "  ", "tokens"]


def _chunk(text: str | None, finish: str | None = None) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id="c",
        created=0,
        model="m",
        choices=[ChunkChoice(delta=Delta(content=text), finish_reason=finish)],
    )


def test_a_long_stream_keeps_a_bounded_tail_and_estimates_all_of_it() -> None:
    out = StreamOutcome()
    sent: list[str] = []
    for i in range(5_000):
        text = PIECES[i % len(PIECES)]
        sent.append(text)
        out.observe(_chunk(text))
        assert len(out.texts) < 64  # folded as it goes
    out.observe(_chunk(None, "stop"))
    whole = estimate_text_tokens("".join(sent))
    assert out.completion_estimate() == int(whole + 0.999)
    assert out.chunks == 5_001
    assert out.finish_reasons == ["stop"]


def test_a_short_stream_is_estimated_from_its_deltas() -> None:
    out = StreamOutcome()
    for text in PIECES:
        out.observe(_chunk(text))
    assert out.estimated == 0.0  # nothing folded yet
    assert out.completion_estimate() == int(estimate_text_tokens("".join(PIECES)) + 0.999)
    assert StreamOutcome().completion_estimate() == 0
