"""What requests cost (pricing.py) at the rates the catalog takes from config, the
genai-prices list and the plugins' cards (price_source.py).

The pinned figures are the providers' published rates (US$ per million tokens):
claude-sonnet-4-5 3 input, 0.30 cache read, 3.75 cache write (5-minute TTL), 6 one-hour
cache write, 15 output, all of them doubled (output 22.5) above 200k prompt tokens;
claude-haiku-4-5 1 input, 1.25 and 2 cache writes (5 minutes, one hour); gpt-4o 2.50
input, 1.25 cached, 10 output; gemini-2.5-pro 1.25 / 10 up to 200k prompt tokens, 2.50 /
15 above."""

from __future__ import annotations

import math
from pathlib import Path

import genai_prices
import pytest
from structlog.testing import capture_logs

from router_core.api.chat import CompletionTokensDetails, PromptTokensDetails, Usage
from router_core.api.models import PriceTier, Pricing
from router_core.catalog import Catalog
from router_core.discovery import load_providers
from router_core.price_source import lookup
from router_core.pricing import cost_usd
from router_core.settings import parse_settings
from tests.router_harness import router_settings, start_router

LISTED = f"genai-prices {genai_prices.__version__}"


def _usage(
    prompt: int,
    completion: int,
    *,
    read: int = 0,
    write: int = 0,
    write_1h: int = 0,
    reasoning: int = 0,
) -> Usage:
    details = PromptTokensDetails(cached_tokens=read, cache_write_tokens=write)
    if write_1h:
        details.cache_write_1h_tokens = write_1h
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=details,
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=reasoning),
    )


def _listed(provider: str, model: str) -> Pricing:
    found = lookup(provider, [model])
    assert found is not None, model
    assert found.pricing.source == LISTED
    return found.pricing


def test_claude_cache_reads_and_writes_at_their_rates() -> None:
    # A dated id resolves to the listed model.
    pricing = _listed("anthropic", "claude-sonnet-4-5-20250929")
    usage = _usage(10_000, 500, read=6_000, write=2_000)
    # 2,000 uncached x 3 + 6,000 x 0.30 + 2,000 x 3.75 + 500 x 15, per million
    assert math.isclose(cost_usd(pricing, usage), 0.0228)
    # Without cache details the whole prompt pays the input rate.
    assert math.isclose(cost_usd(pricing, _usage(10_000, 500)), 0.0375)


def test_claude_one_hour_cache_writes_at_their_own_rate() -> None:
    pricing = _listed("anthropic", "claude-haiku-4-5")
    assert (pricing.cache_write_per_mtok, pricing.cache_write_1h_per_mtok) == (1.25, 2.0)
    # 3,000 writes, 1,000 of them with the one-hour TTL: 1,000 uncached x 1
    # + 2,000 x 1.25 + 1,000 x 2 + 100 output x 5, per million
    usage = _usage(4_000, 100, write=3_000, write_1h=1_000)
    assert math.isclose(cost_usd(pricing, usage), 0.006)
    # every write at the 5-minute rate would have been 0.00525
    assert math.isclose(cost_usd(pricing, _usage(4_000, 100, write=3_000)), 0.00525)


def test_claude_above_200k_pays_the_long_context_rates_for_everything() -> None:
    pricing = _listed("anthropic", "claude-sonnet-4-5")
    assert [t.above_input_tokens for t in pricing.tiers] == [200_000]
    # 300k prompt (100k of them cache reads), 1,000 output: all at the tier's rates
    usage = _usage(300_000, 1_000, read=100_000)
    assert math.isclose(
        cost_usd(pricing, usage), (200_000 * 6 + 100_000 * 0.6 + 1_000 * 22.5) / 1e6
    )
    # exactly at the threshold: still the base rates
    assert math.isclose(cost_usd(pricing, _usage(200_000, 0)), 0.6)


def test_gpt_4o_cached_prompt_tokens() -> None:
    pricing = _listed("openai", "gpt-4o")
    assert pricing.cache_read_per_mtok == 1.25 and pricing.cache_write_per_mtok is None
    # 600 uncached x 2.50 + 400 cached x 1.25 + 200 x 10
    assert math.isclose(cost_usd(pricing, _usage(1_000, 200, read=400)), 0.004)


def test_gemini_long_context_tier() -> None:
    pricing = _listed("google", "gemini-2.5-pro")
    assert math.isclose(cost_usd(pricing, _usage(100_000, 1_000)), 0.135)
    # 250k prompt: input 2.50 and output 15 for the whole request
    assert math.isclose(cost_usd(pricing, _usage(250_000, 1_000)), 0.64)


@pytest.mark.parametrize(
    ("provider", "model", "usage"),
    [
        ("anthropic", "claude-sonnet-4-5", _usage(10_000, 500, read=6_000, write=2_000)),
        ("anthropic", "claude-sonnet-4-5", _usage(250_000, 700, read=50_000, write=1_000)),
        ("anthropic", "claude-haiku-4-5", _usage(3_000, 900, read=1_000, write=500)),
        ("anthropic", "claude-haiku-4-5", _usage(9_000, 400, write=6_000, write_1h=4_000)),
        (
            "anthropic",
            "claude-sonnet-4-5",
            _usage(240_000, 800, read=20_000, write=30_000, write_1h=10_000),
        ),
        ("openai", "gpt-5", _usage(20_000, 4_000, read=8_000, reasoning=3_000)),
        ("google", "gemini-2.5-pro", _usage(210_000, 2_000, read=10_000, reasoning=500)),
        ("google", "gemini-2.5-flash", _usage(5_000, 300, read=2_000)),
    ],
)
def test_same_cost_as_the_package_itself(provider: str, model: str, usage: Usage) -> None:
    # The package's own (slow, Decimal) calculator is the reference for our float math.
    details = usage.prompt_tokens_details
    out = usage.completion_tokens_details
    assert isinstance(details, PromptTokensDetails) and isinstance(out, CompletionTokensDetails)
    theirs = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.prompt_tokens,
            cache_read_tokens=details.cached_tokens or 0,
            cache_write_tokens=details.cache_write_tokens or 0,
            cache_write_1h_tokens=details.cache_write_1h_tokens or 0,
            output_tokens=usage.completion_tokens,
        ),
        model,
        provider_id=provider,
    )
    assert math.isclose(cost_usd(_listed(provider, model), usage), float(theirs.total_price))


def test_unknown_rates_fall_back_to_the_base_ones() -> None:
    pricing = Pricing(
        prompt_per_mtok=1.0,
        completion_per_mtok=2.0,
        reasoning_per_mtok=8.0,
        tiers=[PriceTier(above_input_tokens=1_000, prompt_per_mtok=10.0)],
    )
    # cache reads and writes at the prompt rate (unknown), reasoning at its own
    assert math.isclose(
        cost_usd(pricing, _usage(900, 100, read=300, write=100, reasoning=40)),
        (900 + 60 * 2 + 40 * 8) / 1e6,
    )
    # above the tier: its prompt rate; cache tokens follow it, the output rate stays
    assert math.isclose(
        cost_usd(pricing, _usage(2_000, 100, read=500)), (2_000 * 10 + 100 * 2) / 1e6
    )
    # one-hour writes with no rate of their own: the cache-write rate (here the prompt's)
    assert math.isclose(cost_usd(pricing, _usage(900, 0, write=300, write_1h=200)), 900 / 1e6)
    written = Pricing(prompt_per_mtok=1.0, cache_write_per_mtok=4.0)
    assert math.isclose(cost_usd(written, _usage(500, 0, write=300, write_1h=200)), 1_400 / 1e6)
    # details bigger than their totals are clamped, never negative
    assert cost_usd(pricing, _usage(10, 5, read=50, write=50, reasoning=9)) >= 0
    assert math.isclose(cost_usd(written, _usage(100, 0, write=50, write_1h=80)), 250 / 1e6)


PROVIDERS = """
[providers.anthropic]
plugin = "anthropic"
settings = { api_key = "k" }
[providers.anthropic.models."claude-haiku-4-5-20251001"]
pricing = { prompt_per_mtok = 0.5, completion_per_mtok = 2.5, cache_read_per_mtok = 0.05 }

[providers.local]
plugin = "openai"
settings = { base_url = "http://127.0.0.1:9/v1", api_key = "k", models = ["my-llama"] }
[providers.local.models."gpt-4.1-2025-04-14"]

[providers.handtyped]
plugin = "gemini"
price_provider = ""
settings = { api_key = "k" }
"""


def _catalog() -> Catalog:
    settings = parse_settings(PROVIDERS, {}, "test")
    return Catalog(settings, load_providers(settings))


def test_precedence_config_then_the_list_then_the_plugin() -> None:
    with capture_logs() as logs:
        catalog = _catalog()
    card = catalog.deployments["anthropic/claude-haiku-4-5-20251001"].deployment.card
    assert (card.pricing.source, card.pricing.prompt_per_mtok) == ("config", 0.5)
    assert card.pricing.cache_read_per_mtok == 0.05 and card.pricing.cache_write_per_mtok is None
    sonnet = catalog.deployments["anthropic/claude-sonnet-4-5-20250929"].deployment.card.pricing
    assert (sonnet.source, sonnet.cache_write_per_mtok, sonnet.cache_write_1h_per_mtok) == (
        LISTED,
        3.75,
        6.0,
    )
    # price_provider = "" skips the list: the plugin's hand-typed prices, marked
    flash = catalog.deployments["handtyped/gemini-2.5-flash"].deployment.card.pricing
    assert (flash.source, flash.prompt_per_mtok, flash.cache_read_per_mtok) == (
        "plugin",
        0.30,
        None,
    )
    # a self-hosted model no source knows: free, shown as unpriced, one warning
    llama = catalog.deployments["local/my-llama"].deployment.card
    assert (llama.pricing.source, llama.pricing.prompt_per_mtok) == ("none", 0.0)
    warned = [e for e in logs if e["event"] == "models_unpriced"]
    assert len(warned) == 1 and warned[0]["deployments"] == ["local/my-llama"]


def test_context_window_from_the_list_where_the_card_has_none() -> None:
    catalog = _catalog()
    # a model the plugin's catalog lacks (a plain card) gets the listed window and prices
    card = catalog.deployments["local/gpt-4.1-2025-04-14"].deployment.card
    assert card.context_length == 1_000_000 and card.pricing.source == LISTED
    # a plugin's own window stays
    assert (
        catalog.deployments["anthropic/claude-sonnet-4-5-20250929"].deployment.card.context_length
        == 200_000
    )


async def test_models_endpoint_shows_the_price_source(tmp_path: Path) -> None:
    import aiohttp

    router = await start_router(router_settings(tmp_path, extra_toml=PROVIDERS))
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                router.base_url + "/models", headers={"Authorization": f"Bearer {router.key}"}
            ) as r,
        ):
            assert r.status == 200
            cards = {c["id"]: c for c in (await r.json())["data"]}
    finally:
        await router.stop()
    sonnet = cards["anthropic/claude-sonnet-4-5-20250929"]["pricing"]
    assert sonnet["source"] == LISTED and sonnet["cache_read_per_mtok"] == 0.3
    assert sonnet["tiers"][0]["above_input_tokens"] == 200_000
    assert cards["local/my-llama"]["pricing"]["source"] == "none"
    assert cards["echo/echo-1"]["pricing"]["source"] == "plugin"


def test_the_documented_overrides_parse_and_apply() -> None:
    import re

    doc = (Path(__file__).parent.parent / "docs" / "pricing.md").read_text()
    block = re.search(r"```toml\n(.*?)```", doc, re.S)
    assert block is not None
    head = '[providers.openai]\nplugin = "openai"\n[providers.anthropic]\nplugin = "anthropic"\n'
    settings = parse_settings(head + block.group(1), {"GROQ_API_KEY": "k"}, "docs/pricing.md")
    catalog = Catalog(settings, load_providers(settings))
    sonnet = catalog.deployments["anthropic/claude-sonnet-4-5-20250929"].deployment.card.pricing
    assert sonnet.source == "config" and sonnet.tiers[0].cache_write_per_mtok == 7.5
    usage = _usage(300_000, 1_000, read=100_000)
    assert math.isclose(cost_usd(sonnet, usage), (200_000 * 6 + 100_000 * 0.6 + 1_000 * 22.5) / 1e6)


def test_listed_prices_equal_the_packages_for_the_configured_models() -> None:
    # The catalog's prices come from a child process (price_list.py) as JSON: what
    # reaches the cards must be exactly what the package says, window included.
    from genai_prices import data_snapshot

    from router_core.price_list import answer

    catalog = _catalog()
    listed = {
        did: t
        for did, t in catalog.deployments.items()
        if t.deployment.card.pricing.source == LISTED
    }
    assert {"anthropic/claude-sonnet-4-5-20250929", "local/gpt-4.1-2025-04-14"} <= set(listed)
    snapshot = data_snapshot.get_snapshot()
    for did, target in listed.items():
        card, model = target.deployment.card, target.deployment.model.lower()
        provider = "openai" if did.startswith("local/") else "anthropic"
        [expected] = answer([(provider, model)]).found
        assert expected is not None and card.pricing == expected.pricing, did
        _, info = snapshot.find_provider_model(model, None, provider, None)
        assert card.context_length in (info.context_window, 200_000), did


# In a fresh interpreter: the app as `viberouter serve` builds it, for a provider whose
# models are priced from the list; the list's package must not be loaded afterwards.
PROBE = """
import json, sys
from router_core.app import make_app
from router_core.settings import load_settings

app_state = make_app(load_settings(sys.argv[1], {}))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
                        ("genai_prices", "pydantic", "pydantic_core", "httpx2", "httpx"))))
"""


def test_the_router_never_loads_the_price_package(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from tests.router_process import start_router_process

    config = tmp_path / "router.toml"
    config.write_text(
        f'[state]\nsqlite_path = "{(tmp_path / "r.db").as_posix()}"\n'
        '[providers.openai]\nplugin = "openai"\n'
        'settings = { base_url = "http://127.0.0.1:9/v1", api_key = "k", models = ["gpt-4o"] }\n'
    )
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(config)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    ).stdout
    assert json.loads(out.splitlines()[-1]) == []
    # And in a serving router: its prices are the list's, and no part of the package
    # (pydantic's compiled core is its one shared library) is mapped into the process.
    router = start_router_process(config, tmp_path)
    try:
        import urllib.request

        key = router.demo_key()
        req = urllib.request.Request(
            router.base_url + "/models", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            cards = {c["id"]: c for c in json.loads(r.read())["data"]}
        maps = Path(f"/proc/{router.proc.pid}/maps").read_text()
    finally:
        router.stop()
    pricing = cards["openai/gpt-4o"]["pricing"]
    assert pricing["source"] == LISTED and pricing["cache_read_per_mtok"] == 1.25
    assert "pydantic_core" not in maps and "genai_prices" not in maps


@pytest.mark.parametrize(
    "pricing",
    [
        Pricing(prompt_per_mtok=2.5, completion_per_mtok=10.0),
        Pricing(prompt_per_mtok=0.0, completion_per_mtok=0.0),
        Pricing(
            prompt_per_mtok=1.25,
            completion_per_mtok=10.0,
            tiers=[PriceTier(above_input_tokens=100, prompt_per_mtok=2.5, completion_per_mtok=15)],
        ),
    ],
)
@pytest.mark.parametrize(("prompt", "completion"), [(0, 0), (7, 3), (150, 40), (-5, 9)])
def test_usage_without_parts_costs_what_zero_parts_cost(
    pricing: Pricing, prompt: int, completion: int
) -> None:
    # no details at all takes the short way (unless tiers apply); zero details the long
    bare = Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=0)
    zeros = _usage(prompt, completion)
    assert cost_usd(pricing, bare) == pytest.approx(cost_usd(pricing, zeros), rel=1e-15, abs=0)
    if not pricing.tiers:
        expected = (max(0, prompt) * pricing.prompt_per_mtok) + (
            max(0, completion) * pricing.completion_per_mtok
        )
        assert cost_usd(pricing, bare) == pytest.approx(expected / 1e6, rel=1e-15, abs=0)
