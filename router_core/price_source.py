"""Where each deployment's prices (and a missing context window) come from, decided
once when the catalog is built, never per request.

Precedence: the deployment's ``pricing`` in config, then the ``genai-prices`` package's
bundled data (a maintained price list: cache reads and writes, long-context tiers), then
the prices the plugin typed on its card; a model found nowhere costs 0 and is shown as
unpriced (``pricing.source = "none"``).

The package is never imported here: one child process (router_core/price_list.py) per
catalog build reads it for every pair this process has not asked about before, and only
the answers (a few hundred bytes per model) stay. Answers are kept per process, so a
reload or model refresh that adds no model starts no child.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import structlog

from router_core.api.models import ModelCard, Pricing
from router_core.price_list import Answer, Listed, Pairs

log = structlog.get_logger("viberouter.prices")

#: ``Pricing.source`` values besides "genai-prices <version>".
FROM_CONFIG = "config"
FROM_PLUGIN = "plugin"
UNPRICED = "none"

#: The window a card has when nobody set one (ModelCard's default).
DEFAULT_CONTEXT = ModelCard(id="").context_length

#: How long the child may take (it needs a few tenths of a second).
CHILD_TIMEOUT_S = 60.0

#: Every answer this process got, by (provider id, lower-cased model id).
_ANSWERS: dict[tuple[str, str], Listed | None] = {}

#: One lookup: the genai-prices provider id and the model ids to try in order.
Query = tuple[str, Sequence[str]]


@dataclass(frozen=True, slots=True)
class Priced:
    """A card with its prices settled; ``unpriced`` when no source knew the model."""

    card: ModelCard
    unpriced: bool


def price_card(
    card: ModelCard,
    *,
    configured: Pricing | None,
    configured_window: bool,
    price_provider: str,
    listed: Listed | None,
) -> Priced:
    """``card`` with its pricing (and ``pricing.source``) chosen by the precedence
    above; a card still at the default window takes the price list's window unless
    config set it. ``price_provider`` is the genai-prices provider id ("" = no lookup:
    the plugin's card prices are complete); ``listed`` what :func:`lookup_many`
    found for it."""
    changes: dict[str, object] = {}
    if configured is not None:
        changes["pricing"] = msgspec.structs.replace(configured, source=FROM_CONFIG)
    elif listed is not None:
        changes["pricing"] = listed.pricing
    else:
        stated = card.pricing.prompt_per_mtok > 0 or card.pricing.completion_per_mtok > 0
        source = FROM_PLUGIN if stated or not price_provider else UNPRICED
        changes["pricing"] = msgspec.structs.replace(card.pricing, source=source)
    window = listed.context_window if listed is not None else None
    if window and not configured_window and card.context_length == DEFAULT_CONTEXT:
        changes["context_length"] = window
    priced = msgspec.structs.replace(card, **changes)
    return Priced(priced, priced.pricing.source == UNPRICED)


def lookup(provider_id: str, model_ids: Sequence[str]) -> Listed | None:
    """The first of ``model_ids`` the price list knows under ``provider_id``."""
    return lookup_many([(provider_id, model_ids)])[0]


def lookup_many(queries: Iterable[Query]) -> list[Listed | None]:
    """For each query, the first of its model ids the price list knows under its
    provider id ("" = none); one child process for all the pairs not asked before."""
    asked = [(pid, _refs(ids)) for pid, ids in queries]
    new = list(dict.fromkeys((pid, r) for pid, refs in asked if pid for r in refs))
    new = [pair for pair in new if pair not in _ANSWERS]
    answers: dict[tuple[str, str], Listed | None] = {}
    if new:
        found = _ask_child(new)
        if found is not None:
            _ANSWERS.update(zip(new, found, strict=True))
        else:  # not kept: the next catalog build asks again
            answers = dict.fromkeys(new)
    answers = {**_ANSWERS, **answers}
    return [
        next((a for r in refs if (a := answers.get((pid, r))) is not None), None) if pid else None
        for pid, refs in asked
    ]


def _refs(model_ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(m.lower().removeprefix("models/") for m in model_ids if m))


def _ask_child(pairs: Pairs) -> list[Listed | None] | None:
    """The price list's answers from a child process; None (logged) when it failed."""
    t0 = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "router_core.price_list"],
            input=msgspec.json.encode(pairs),
            capture_output=True,
            timeout=CHILD_TIMEOUT_S,
            env=_child_env(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.error("price_list_failed", error=str(exc), models=len(pairs))
        return None
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        log.error("price_list_failed", error=" ".join(detail), models=len(pairs))
        return None
    found = msgspec.json.decode(done.stdout, type=Answer).found
    log.debug("price_list_read", models=len(pairs), seconds=round(time.monotonic() - t0, 3))
    return found


def _child_env() -> dict[str, str]:
    """This environment, with this process's router_core first on the import path (a
    checkout run from elsewhere, a test's PYTHONPATH)."""
    env = dict(os.environ)
    ours = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ours, env.get("PYTHONPATH")) if p)
    return env
