"""router_core/metrics.py: names, units, bounded labels, opt-in tenant series."""

from __future__ import annotations

import platform
import re

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from router_core import __version__
from router_core.metrics import (
    BACKEND_ERROR_KINDS,
    OTHER,
    RATE_LIMIT_CODES,
    Metrics,
    _Cached,
)

_NAME = re.compile(r"^viberouter_[a-z][a-z0-9_]*$")


def samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(m.exposition().decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m: Metrics, name: str, **labels: str) -> float | None:
    return samples(m).get((name, tuple(sorted(labels.items()))))


def test_every_metric_is_prefixed_and_typed_by_convention() -> None:
    m = Metrics()
    families = list(m.registry.collect())
    assert len(families) >= 16
    for fam in families:
        assert _NAME.match(fam.name), fam.name
        if fam.type == "histogram":
            assert fam.name.endswith("_seconds"), f"{fam.name}: histograms here measure time"
        if fam.type == "gauge" and fam.name.endswith("_info"):
            assert [s.value for s in fam.samples] == [1.0]
        if fam.type == "counter":
            # prometheus-client adds _total; a name must not carry it twice
            assert not fam.name.endswith("_total"), fam.name


def test_durations_have_buckets_for_llm_latencies() -> None:
    m = Metrics()
    m.request_duration_c.get("echo", "echo", "false").observe(42.0)
    m.ttft_c.get("echo", "echo").observe(0.3)
    text = m.exposition().decode()
    for bound in ("0.05", "1.0", "30.0", "120.0", "600.0"):
        assert f'viberouter_request_duration_seconds_bucket{{le="{bound}"' in text.replace(
            'model="echo",provider="echo",stream="false",', ""
        )
    assert (
        value(
            m,
            "viberouter_time_to_first_token_seconds_bucket",
            model="echo",
            provider="echo",
            le="0.25",
        )
        == 0
    )
    assert (
        value(
            m,
            "viberouter_time_to_first_token_seconds_bucket",
            model="echo",
            provider="echo",
            le="0.5",
        )
        == 1
    )


def test_build_info_carries_version_and_python() -> None:
    m = Metrics()
    assert (
        value(m, "viberouter_build_info", version=__version__, python=platform.python_version())
        == 1.0
    )


def test_known_label_values_are_exposed_at_zero() -> None:
    m = Metrics()
    for code in RATE_LIMIT_CODES:
        assert value(m, "viberouter_rate_limited_total", code=code) == 0.0
    for backend, kind in BACKEND_ERROR_KINDS:
        assert value(m, "viberouter_backend_errors_total", backend=backend, kind=kind) == 0.0
    m.init_deployments([("echo", "echo/echo-1"), ("openai", "openai/gpt-4o")])
    assert value(m, "viberouter_circuit_state", provider="openai", deployment="openai/gpt-4o") == 0
    assert value(m, "viberouter_retries_total", provider="echo", deployment="echo/echo-1") == 0


def test_model_label_is_empty_until_the_request_is_routed() -> None:
    m = Metrics()
    pasted_key = "vr-" + "A" * 43
    m.requests_c.get(pasted_key, "", "400", "invalid_model", "openai_chat").inc()
    m.requests_c.get("echo", "echo", "200", "", "openai_chat").inc()
    text = m.exposition().decode()
    assert pasted_key not in text
    assert (
        value(
            m,
            "viberouter_requests_total",
            model="",
            provider="",
            status="400",
            code="invalid_model",
            endpoint="openai_chat",
        )
        == 1
    )
    assert (
        value(
            m,
            "viberouter_requests_total",
            model="echo",
            provider="echo",
            status="200",
            code="",
            endpoint="openai_chat",
        )
        == 1
    )


def test_label_children_are_cached_and_capped() -> None:
    m = Metrics()
    cached = _Cached(m.fallbacks, cap=3)
    assert cached.get("a") is cached.get("a")
    for name in ("b", "c", "d", "e", "f"):
        cached.get(name).inc()
    text = m.exposition().decode()
    assert 'viberouter_fallbacks_total{model="c"} 1.0' in text
    assert 'model="d"' not in text and 'model="f"' not in text
    assert f'viberouter_fallbacks_total{{model="{OTHER}"}} 3.0' in text
    assert cached.get("e") is cached.get("zzz")


def test_tenant_series_are_off_by_default() -> None:
    m = Metrics()
    m.tenants.observe("acct_1", "key_1", 10, 5, 0.5)
    text = m.exposition().decode()
    assert "viberouter_tenant" not in text
    assert "acct_1" not in text and "key_1" not in text


def test_tenant_series_per_account_are_capped() -> None:
    m = Metrics(CollectorRegistry(), tenant_labels="account", tenant_cap=2)
    for i in range(5):
        m.tenants.observe(f"acct_{i}", f"key_{i}", 10, 5, 0.25)
    m.tenants.observe("acct_0", "key_other", 1, 1, 0.0)
    s = samples(m)

    def req(account: str, key: str) -> float | None:
        return s.get(("viberouter_tenant_requests_total", (("account", account), ("key", key))))

    assert req("acct_0", "") == 2  # same account, another key: one series in account mode
    assert req("acct_1", "") == 1
    assert req(OTHER, OTHER) == 3
    assert not any("acct_2" in str(k) or "key_" in str(k) for k in s)
    tok = s[
        ("viberouter_tenant_tokens_total", (("account", OTHER), ("key", OTHER), ("type", "prompt")))
    ]
    assert tok == 30
    assert s[("viberouter_tenant_cost_usd_total", (("account", "acct_1"), ("key", "")))] == 0.25


def test_tenant_series_per_key() -> None:
    m = Metrics(CollectorRegistry(), tenant_labels="key", tenant_cap=10)
    m.tenants.observe("acct_0", "key_a", 3, 4, 0.0)
    m.tenants.observe("acct_0", "key_b", 3, 4, 0.0)
    assert value(m, "viberouter_tenant_requests_total", account="acct_0", key="key_a") == 1
    assert (
        value(m, "viberouter_tenant_tokens_total", account="acct_0", key="key_b", type="completion")
        == 4
    )


def test_two_apps_get_independent_registries() -> None:
    a, b = Metrics(), Metrics()
    a.client_disconnects.inc()
    assert value(a, "viberouter_client_disconnects_total") == 1
    assert value(b, "viberouter_client_disconnects_total") == 0


def test_backend_error_hook_counts_by_backend_and_kind() -> None:
    m = Metrics()
    hook = m.backend_error_hook("limiter")
    hook("acquire", ConnectionError("redis down"))
    hook("acquire", ConnectionError("redis down"))
    assert value(m, "viberouter_backend_errors_total", backend="limiter", kind="acquire") == 2
    assert value(m, "viberouter_backend_errors_total", backend="limiter", kind="settle") == 0
