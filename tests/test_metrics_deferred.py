"""Deferred metric children (metrics.py): a request's observations fold into
prometheus-client's values, exactly, whenever the registry is read."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from router_core import metrics as metrics_mod
from router_core.metrics import (
    DURATION_BUCKETS,
    FOLD_AT,
    MULTIPROC_ENV,
    Deferred,
    DeferredCounter,
    DeferredGauge,
    DeferredHistogram,
    Metrics,
    _defer,
)


def _series(m: Metrics) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in generate_latest(m.registry).decode().splitlines():
        if line.startswith("viberouter_") and "_created" not in line:
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def _same(a: dict[str, float], b: dict[str, float]) -> None:
    # counts exactly; sums of floats up to the order they were added in
    assert a.keys() == b.keys()
    for name, value in a.items():
        if "_sum{" in name or "cost_usd" in name:
            assert value == pytest.approx(b[name], rel=1e-12), name
        else:
            assert value == b[name], name


def _observe_all(m: Metrics, values: list[float]) -> None:
    for i, v in enumerate(values):
        model = f"m{i % 3}"
        m.requests_c.get(model, "p", "200", "", "openai_chat").inc()
        m.request_duration_c.get(model, "p", "false").observe(v)
        m.ttft_c.get(model, "p").observe(v / 2)
        m.overhead_c.get("false").observe(v / 1000)
        m.upstream_duration_c.get("p", "p/d").observe(v)
        m.tokens_c.get(model, "prompt").inc(i)
        m.tokens_c.get(model, "completion").inc(2 * i)
        m.cost_c.get(model).inc(v / 7)
        m.in_flight_c.inc()
        m.open_streams_c.inc()
        if i % 2:
            m.in_flight_c.dec()
            m.open_streams_c.dec()


def test_a_scrape_shows_what_immediate_updates_would(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    # bucket bounds themselves, values between, below the first and above the last
    values = [*DURATION_BUCKETS, 0.0, 1e9, *(rng.uniform(0, 700) for _ in range(300))]
    deferred = Metrics()
    assert isinstance(deferred.deferred, Deferred)
    monkeypatch.setenv(MULTIPROC_ENV, "")  # empty: still one process, deferred
    monkeypatch.setattr(metrics_mod, "multiprocess_dir", lambda: "/nonexistent")
    immediate = Metrics()  # as in multiprocess mode: every update goes straight through
    assert immediate.deferred is None
    monkeypatch.undo()
    _observe_all(deferred, values)
    _observe_all(immediate, values)
    assert deferred.deferred.waiting > 0  # nothing folded yet (fewer than FOLD_AT)
    _same(_series(deferred), _series(immediate))
    assert deferred.deferred.waiting == 0
    # and again after more observations: the fold adds, it does not overwrite
    _observe_all(deferred, values[:50])
    _observe_all(immediate, values[:50])
    _same(_series(deferred), _series(immediate))


def test_get_sample_value_folds_first() -> None:
    m = Metrics()
    m.tokens_c.get("m", "prompt").inc(5)
    m.in_flight_c.inc()
    assert (
        m.registry.get_sample_value("viberouter_tokens_total", {"model": "m", "type": "prompt"})
        == 5
    )
    assert m.registry.get_sample_value("viberouter_in_flight_requests") == 1
    m.in_flight_c.dec()
    assert m.registry.get_sample_value("viberouter_in_flight_requests") == 0


def test_a_full_batch_folds_without_a_read() -> None:
    m = Metrics()
    assert m.deferred is not None
    child = m.requests_c.get("m", "p", "200", "", "openai_chat")
    for _ in range(FOLD_AT - 1):
        child.inc()
    raw = m.requests.labels("m", "p", "200", "", "openai_chat")
    assert raw._value.get() == 0  # still waiting
    child.inc()
    assert raw._value.get() == FOLD_AT and m.deferred.waiting == 0


def test_children_keep_their_kind_and_counter_rules() -> None:
    batch = Deferred()
    reg = CollectorRegistry()
    h = Histogram("h", "h", ["a"], registry=reg, buckets=(1, 2))
    assert isinstance(_defer(h.labels("x"), batch), DeferredHistogram)
    m = Metrics()
    assert isinstance(m.tokens_c.get("m", "prompt"), DeferredCounter)
    assert isinstance(m.in_flight_c, DeferredGauge)
    assert _defer(h.labels("y"), None) is h.labels("y")
    with pytest.raises(ValueError, match="non-negative"):
        m.tokens_c.get("m", "prompt").inc(-1)


def test_a_histogram_without_known_parts_folds_through_observe() -> None:
    class Plain:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def observe(self, v: float) -> None:
            self.seen.append(v)

    batch = Deferred()
    plain = Plain()
    child = DeferredHistogram(plain, batch)
    child.observe(1.5)
    child.observe(3.0)
    assert plain.seen == []
    batch.fold()
    assert plain.seen == [1.5, 3.0]
