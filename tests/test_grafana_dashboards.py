"""grafana/: dashboard JSON and provisioning files are well-formed and consistent with
the metrics the router defines (the live check against Prometheus is in
test_grafana_prometheus.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from router_core.metrics import Metrics

GRAFANA = Path(__file__).resolve().parent.parent / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
_METRIC = re.compile(r"\bviberouter_[a-z0-9_]+")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_LABEL_VALUES = re.compile(r"^label_values\((\w+),\s*(\w+)\)$")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in dashboard["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def dashboard_queries() -> dict[str, str]:
    """Every panel expression of every dashboard, keyed by "file / panel / refId"."""
    found: dict[str, str] = {}
    for path in DASHBOARDS:
        for p in panels(load(path)):
            for t in p.get("targets", []):
                found[f"{path.name} / {p['title']} / {t['refId']}"] = t["expr"]
    return found


def metric_names(path: Path) -> set[str]:
    """The sample names (``_total``, ``_bucket`` ... included) a dashboard's queries use."""
    text = path.read_text()
    return set(_METRIC.findall(text))


def substitute(expr: str, *, rate_window: str, range_: str) -> str:
    """A panel expression as Grafana would send it with every variable on "All"."""
    values = {"__rate_interval": rate_window, "__range": range_, "__interval": rate_window}

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name, ".*")

    return _VARIABLE.sub(repl, expr)


def exposed_sample_names(m: Metrics) -> set[str]:
    return {
        s.name
        for fam in text_string_to_metric_families(m.exposition().decode())
        for s in fam.samples
    }


def test_there_are_dashboards() -> None:
    assert [p.name for p in DASHBOARDS] == [
        "viberouter-overview.json",
        "viberouter-providers.json",
    ]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    d = load(path)
    assert d["uid"] == path.stem and d["title"].startswith("VibeRouter / ")
    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for p in panels(d):
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"] == DATASOURCE_REF, p["title"]
        assert p.get("description"), f"{p['title']}: say what the panel shows"
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"] == DATASOURCE_REF
            for m in _VARIABLE.finditer(t["expr"]):
                name = m.group(1) or m.group(2)
                assert name.startswith("__") or name in variables, f"{p['title']}: ${name}"
    for name, v in variables.items():
        if name == "datasource":
            continue
        assert v["includeAll"] and v["allValue"] == ".*"
        assert _LABEL_VALUES.match(v["query"]["query"]), v["query"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboards_use_only_metrics_the_router_defines(path: Path) -> None:
    m = Metrics()
    # create one child of each labelled family so their samples are listed
    m.init_deployments([("echo", "echo/echo-1")])
    m.requests_c.get("echo", "echo", "200", "", "openai_chat").inc()
    m.request_duration_c.get("echo", "echo", "true").observe(1)
    m.ttft_c.get("echo", "echo").observe(1)
    m.overhead_c.get("true").observe(0.001)
    m.upstream_duration_c.get("echo", "echo/echo-1").observe(1)
    m.upstream_errors_c.get("echo", "echo/echo-1", "model_error").inc()
    m.fallbacks_c.get("echo").inc()
    m.tokens_c.get("echo", "prompt").inc()
    m.cost_c.get("echo").inc(0.1)
    missing = metric_names(path) - exposed_sample_names(m)
    assert not missing


def test_variable_substitution() -> None:
    expr = (
        'sum(rate(x{model=~"$model", p=~"${provider}"}[$__rate_interval])) + increase(y[$__range])'
    )
    assert substitute(expr, rate_window="10s", range_="1m") == (
        'sum(rate(x{model=~".*", p=~".*"}[10s])) + increase(y[1m])'
    )


def test_provisioning_files() -> None:
    ds = yaml.safe_load(
        (GRAFANA / "provisioning/datasources/viberouter-prometheus.yaml").read_text()
    )
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == "viberouter-prometheus"
    assert source["isDefault"] is True
    dash = yaml.safe_load((GRAFANA / "provisioning/dashboards/viberouter.yaml").read_text())
    (provider,) = dash["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
