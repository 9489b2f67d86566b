"""Circuit breaker, balancer and routing config, without I/O (a fake clock, a seeded RNG)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from viberouter_echo import EchoProvider

from router_core.api.models import ModelCard
from router_core.balancer import Balancer
from router_core.catalog import Catalog, Target, Timeouts
from router_core.circuit import Breaker, Breakers, CircuitState, route_status
from router_core.plugin_api import Deployment
from router_core.settings import CircuitSettings, ConfigError, RouteStrategy, parse_settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, changes: list[CircuitState]) -> Breaker:
    s = CircuitSettings(failures=3, window_s=10.0, cooldown_s=5.0)
    return Breaker("p/m", s, lambda _id, st: changes.append(st), clock)


def test_breaker_opens_after_n_failures_in_window() -> None:
    clock, changes = Clock(), list[CircuitState]()
    b = breaker(clock, changes)
    b.failure()
    clock.now += 11  # the first failure leaves the window
    b.failure()
    b.failure()
    assert b.acquire() and b.state is CircuitState.CLOSED
    b.failure()
    assert b.state is CircuitState.OPEN
    assert not b.acquire()
    assert changes == [CircuitState.OPEN]
    assert b.reopens_in() == pytest.approx(5.0)


def test_breaker_half_open_lets_one_probe_then_closes() -> None:
    clock, changes = Clock(), list[CircuitState]()
    b = breaker(clock, changes)
    for _ in range(3):
        b.failure()
    clock.now += 5
    assert b.current() is CircuitState.HALF_OPEN
    assert b.acquire()  # the probe
    assert not b.acquire()  # everyone else waits for its verdict
    b.success()
    assert b.state is CircuitState.CLOSED and b.acquire()
    assert changes == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]


def test_breaker_failed_probe_reopens_and_abandoned_probe_frees_the_slot() -> None:
    clock, changes = Clock(), list[CircuitState]()
    b = breaker(clock, changes)
    for _ in range(3):
        b.failure()
    clock.now += 5
    assert b.acquire()
    b.abandon()
    assert b.acquire()  # another request may probe
    b.failure()
    assert b.state is CircuitState.OPEN and not b.acquire()
    clock.now += 4.9
    assert not b.acquire()
    clock.now += 0.1
    assert b.acquire()


def breakers(clock: Clock, panic: float = 50.0, enabled: bool = True) -> Breakers:
    s = CircuitSettings(
        enabled=enabled, failures=1, window_s=10.0, cooldown_s=5.0, panic_threshold_percent=panic
    )
    return Breakers(s, lambda _id, _st: None, clock)


def chosen(bs: Breakers, targets: list[str]) -> tuple[list[str], list[str], bool]:
    sel = bs.select(targets, str)
    return [p.target for p in sel.picks], [t for t, _ in sel.skipped], sel.panic


def test_select_skips_open_circuits_up_to_the_panic_threshold() -> None:
    bs = breakers(Clock())
    assert chosen(bs, ["a", "b"]) == (["a", "b"], [], False)
    bs.get("a").failure()  # one of two open: 50 % is not more than 50 %
    assert chosen(bs, ["a", "b"]) == (["b"], ["a"], False)
    assert all(p.ask for p in bs.select(["a", "b"], str).picks)
    # One of three open: still skipped; two of three: panic, the healthy one first.
    assert chosen(bs, ["a", "b", "c"]) == (["b", "c"], ["a"], False)
    bs.get("b").failure()
    assert chosen(bs, ["a", "b", "c"]) == (["c", "a", "b"], [], True)
    assert not any(p.ask for p in bs.select(["a", "b", "c"], str).picks)


def test_a_single_deployment_route_stays_usable_after_many_failures() -> None:
    clock = Clock()
    bs = breakers(clock)
    for _ in range(10):
        bs.get("only").failure()
        clock.now += 1
        assert chosen(bs, ["only"]) == (["only"], [], True)
    bs.get("a").failure()
    bs.get("b").failure()
    assert chosen(bs, ["a", "b"]) == (["a", "b"], [], True)  # all open: all still tried


def test_a_probe_in_flight_counts_as_open() -> None:
    clock = Clock()
    bs = breakers(clock)
    bs.get("a").failure()
    clock.now += 5  # half-open: the probe is free, so "a" is offered (asking first)
    assert chosen(bs, ["a", "b"]) == (["a", "b"], [], False)
    assert bs.get("a").acquire()  # taken by some request
    assert chosen(bs, ["a", "b"]) == (["b"], ["a"], False)


def test_panic_threshold_100_never_panics_and_breaking_off_tries_all() -> None:
    bs = breakers(Clock(), panic=100.0)
    bs.get("a").failure()
    bs.get("b").failure()
    assert chosen(bs, ["a", "b"]) == ([], ["a", "b"], False)
    off = breakers(Clock(), enabled=False)
    off.get("a").failure()
    sel = off.select(["a", "b"], str)
    assert [(p.target, p.breaker) for p in sel.picks] == [("a", None), ("b", None)]


def test_route_status() -> None:
    c, h, o = CircuitState.CLOSED, CircuitState.HALF_OPEN, CircuitState.OPEN
    assert route_status([c, c]) == "available"
    assert route_status([c, o]) == "degraded"
    assert route_status([h]) == "degraded"
    assert route_status([o, o]) == "unavailable"


def _target(name: str, rank: int = 0, weight: float = 1.0, strategy: str = "weighted") -> Target:
    dep = Deployment(id=name, provider=name.split("/")[0], model=name, card=ModelCard(id=name))
    s: RouteStrategy = strategy  # type: ignore[assignment]
    return Target(dep, EchoProvider(), weight, rank, "r", s, Timeouts(1, 1, 1))


def test_weighted_follows_weights_and_keeps_tiers() -> None:
    bal = Balancer(rng=random.Random(7))
    targets = [_target("a/x", 0, 3.0), _target("b/x", 0, 1.0), _target("c/x", 1)]
    firsts: Counter[str] = Counter()
    for _ in range(4000):
        order = bal.order(targets)
        assert order[-1].deployment.id == "c/x"  # the lower tier always last
        firsts[order[0].deployment.id] += 1
    assert 0.70 < firsts["a/x"] / 4000 < 0.80


def test_least_in_flight_prefers_the_idle_deployment() -> None:
    bal = Balancer(rng=random.Random(1))
    targets = [
        _target("a/x", strategy="least_in_flight"),
        _target("b/x", strategy="least_in_flight"),
    ]
    lease = bal.lease("a/x")
    assert all(bal.order(targets)[0].deployment.id == "b/x" for _ in range(20))
    lease.release()
    lease.release()  # idempotent
    assert bal.in_flight("a/x") == 0
    assert {bal.order(targets)[0].deployment.id for _ in range(50)} == {"a/x", "b/x"}


def test_lowest_latency_measures_everyone_then_prefers_the_fastest() -> None:
    bal = Balancer(ewma_alpha=0.5, rng=random.Random(3))
    targets = [_target(n, strategy="lowest_latency") for n in ("a/x", "b/x", "c/x")]
    bal.observe_ttft("a/x", 0.1)
    bal.observe_ttft("b/x", 0.5)
    assert bal.order(targets)[0].deployment.id == "c/x"  # unmeasured first
    bal.observe_ttft("c/x", 0.3)
    assert [t.deployment.id for t in bal.order(targets)] == ["a/x", "c/x", "b/x"]
    bal.observe_ttft("a/x", 1.1)  # EWMA: 0.1 + 0.5 * (1.1 - 0.1) = 0.6
    assert [t.deployment.id for t in bal.order(targets)] == ["c/x", "b/x", "a/x"]


def test_ordered_pools_of_different_routes_stay_apart() -> None:
    bal = Balancer(rng=random.Random(5))
    a, b = _target("a/x"), _target("b/x")
    other = Target(b.deployment, b.plugin, 1.0, 0, "fallback", "weighted", b.timeouts)
    for _ in range(30):
        assert bal.order([a, other])[0].deployment.id == "a/x"


CONFIG = """
[providers.e]
plugin = "echo"
timeouts = { first_token_s = 5 }
[providers.e.models."one"]
timeouts = { idle_s = 7 }
[providers.e.models."two"]

[routes.tiered]
strategy = "weighted"
deployments = [
  { target = "e/two", rank = 1, timeouts = { total_s = 9 } },
  { target = "e/one", weight = 2 },
  "e/echo-1",
]
[routes.plain]
deployments = ["e/one", "e/two"]
"""


def test_catalog_ranks_strategy_and_timeout_layers() -> None:
    settings = parse_settings(CONFIG, {})
    catalog = Catalog(settings, {"e": EchoProvider()})
    tiered = catalog.routes["tiered"]
    assert tiered.strategy == "weighted"
    assert [(t.deployment.id, t.rank, t.weight) for t in tiered.targets] == [
        ("e/one", 0, 2.0),
        ("e/echo-1", 0, 1.0),
        ("e/two", 1, 1.0),
    ]
    up = settings.upstream
    assert tiered.targets[0].timeouts == Timeouts(5, 7, up.total_timeout_s)
    assert tiered.targets[1].timeouts == Timeouts(5, up.idle_timeout_s, up.total_timeout_s)
    assert tiered.targets[2].timeouts == Timeouts(5, up.idle_timeout_s, 9)
    plain = catalog.routes["plain"]
    assert [t.rank for t in plain.targets] == [0, 1]  # ordered: the list is the order


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[routing]\nmax_attempts = 0\n", "max_attempts"),
        ("[routing.circuit]\nfailures = 0\n", "failures"),
        ("[routing]\nlatency_ewma_alpha = 0\n", "latency_ewma_alpha"),
        ('[routes.x]\ndeployments = [{ target = "e/one", weight = 0 }]\n', "weight"),
        ('[routes.x]\nstrategy = "fastest"\ndeployments = ["e/one"]\n', "strategy"),
        ("[routing.circuit]\ncooldown = 3\n", "cooldown"),
        ("[routing.circuit]\npanic_threshold_percent = 101\n", "panic_threshold_percent"),
    ],
)
def test_bad_routing_config_names_the_field(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings('[providers.e]\nplugin = "echo"\n' + extra, {})


async def test_a_plugin_bug_during_a_probe_does_not_wedge_the_circuit() -> None:
    import msgspec
    from prometheus_client import CollectorRegistry
    from viberouter_echo.provider import EchoProvider

    from router_core.api.chat import ChatRequest
    from router_core.catalog import Target
    from router_core.dispatch import CallLog, Dispatcher
    from router_core.metrics import Metrics
    from router_core.plugin_api import Deployment
    from router_core.settings import CircuitSettings, RoutingSettings, UpstreamSettings
    from router_core.upstream import UpstreamClient

    class Buggy(EchoProvider):
        def parse_response(self, request: Any, deployment: Any, body: bytes) -> Any:
            raise KeyError("plugin bug")

    upstream = UpstreamClient(UpstreamSettings())
    await upstream.start()
    try:
        routing = RoutingSettings(circuit=CircuitSettings(failures=1, cooldown_s=0.0))
        d = Dispatcher(upstream, UpstreamSettings(), Metrics(CollectorRegistry()), routing=routing)
        plugin = Buggy()
        card = plugin.models()[0]
        dep = Deployment(id="echo/echo-1", provider="echo", model=card.id, card=card)
        breaker = d.breakers.get(dep.id)
        breaker.failure()  # open; a zero cool-down makes the next request the probe
        req = msgspec.json.decode(
            b'{"model":"x","messages":[{"role":"user","content":"hi"}]}', type=ChatRequest
        )
        with pytest.raises(KeyError):
            await d.complete([Target(dep, plugin)], req, msgspec.json.encode(req), CallLog())
        assert breaker.acquire()  # another probe may go: the failed one was abandoned
    finally:
        await upstream.close()
