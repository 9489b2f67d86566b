"""The page bodies: keys, usage, models. Pure functions of their data -> HTML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from router_core.api.models import ModelCard
from router_core.dashboard.charts import Series, bar_chart, ranked_bars
from router_core.dashboard.html import count, csrf_field, e, short_count, usd, when
from router_core.dashboard.usage import Totals, UsageReport
from router_core.limits.base import RATE_FIELDS
from router_core.public_records import key_status
from router_core.store.base import Account, ApiKey, effective_limits

_LIMIT_LABELS = {
    "rpm": "Requests per minute",
    "rpd": "Requests per day",
    "tpm": "Tokens per minute",
    "concurrency": "Parallel requests",
}
#: The key form's limit fields: every RateLimits field (a new one without a label here
#: fails at import), with its label.
LIMIT_FIELDS = tuple((name, _LIMIT_LABELS[name]) for name in RATE_FIELDS)


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A secret to show exactly once, after create or rotate."""

    key: ApiKey
    secret: str
    rotated: bool


def _limits(account: Account, key: ApiKey) -> str:
    spec = effective_limits(account, key)
    parts = []
    for name, _ in LIMIT_FIELDS:
        value = getattr(spec, name)
        if value is not None:
            inherited = getattr(key.limits, name) is None
            parts.append(
                f"{count(value)} {name}"
                + (' <span class="muted">(account)</span>' if inherited else "")
            )
    return "<br>".join(parts) if parts else '<span class="muted">none</span>'


def _secret_panel(new: NewSecret, api_base: str) -> str:
    verb = "rotated" if new.rotated else "created"
    return (
        '<section class="panel notice" aria-labelledby="secret-h" role="status">'
        f'<h2 id="secret-h">Key “{e(new.key.name or new.key.id)}” {verb}</h2>'
        "<p><strong>Copy the secret now: it is shown this once and cannot be shown again."
        "</strong></p>"
        '<label for="new-secret">Secret</label>'
        f'<input id="new-secret" class="secret" type="text" readonly value="{e(new.secret)}">'
        "<p>Use it with any OpenAI-compatible client:</p>"
        f"<pre><code>base_url = {e(api_base)}\napi_key  = {e(new.secret)}</code></pre>"
        + ("<p>The old secret of this key no longer works.</p>" if new.rotated else "")
        + "</section>"
    )


def _key_row(account: Account, key: ApiKey, now: float, csrf: str) -> str:
    status = key_status(key, now)
    actions = ""
    if status == "active" or status == "expired":
        rotate = (
            f'<form class="inline" method="post" action="/dashboard/keys/{e(key.id)}/rotate">'
            f'{csrf_field(csrf)}<button class="secondary" type="submit" '
            f'aria-label="Rotate {e(key.name or key.id)}">Rotate</button></form>'
            if status == "active"
            else ""
        )
        actions = (
            f'<div class="actions">{rotate}'
            f'<form class="inline" method="post" action="/dashboard/keys/{e(key.id)}/revoke">'
            f'{csrf_field(csrf)}<button class="danger" type="submit" '
            f'aria-label="Revoke {e(key.name or key.id)}">Revoke</button></form></div>'
        )
    return (
        f'<tr data-key-id="{e(key.id)}">'
        f"<td>{e(key.name) or '<span class=muted>unnamed</span>'}</td>"
        f"<td><code>{e(key.prefix)}</code></td><td>{when(key.created_at)}</td>"
        f"<td>{when(key.last_used_at)}</td><td>{when(key.expires_at)}</td>"
        f"<td>{_limits(account, key)}</td>"
        f'<td><span class="status {e(status)}">{e(status)}</span></td><td>{actions}</td></tr>'
    )


def _create_form(account: Account, csrf: str, values: Mapping[str, str]) -> str:
    fields = [
        '<div><label for="k-name">Name <span class="hint">what uses it, e.g. “laptop”</span>'
        f'</label><input id="k-name" name="name" type="text" maxlength="100" '
        f'value="{e(values.get("name", ""))}"></div>',
        '<div><label for="k-expires">Expires after <span class="hint">optional, end of day UTC'
        '</span></label><input id="k-expires" name="expires" type="date" '
        f'value="{e(values.get("expires", ""))}"></div>',
    ]
    for name, label in LIMIT_FIELDS:
        cap = getattr(account.limits, name)
        hint = f"at most {count(cap)}; empty = {count(cap)}" if cap is not None else "empty = none"
        max_attr = f' max="{cap}"' if cap is not None else ""
        fields.append(
            f'<div><label for="k-{name}">{label} <span class="hint">{e(hint)}</span></label>'
            f'<input id="k-{name}" name="{name}" type="number" min="0"{max_attr} '
            f'inputmode="numeric" value="{e(values.get(name, ""))}"></div>'
        )
    return (
        '<section aria-labelledby="create-h"><h2 id="create-h">Create a key</h2>'
        f'<form method="post" action="/dashboard/keys" class="panel">{csrf_field(csrf)}'
        f'<div class="grid-form">{"".join(fields)}</div>'
        '<p><button type="submit">Create key</button></p></form></section>'
    )


def keys_page(
    account: Account,
    keys: Sequence[ApiKey],
    now: float,
    csrf: str,
    api_base: str,
    *,
    new: NewSecret | None = None,
    errors: Sequence[str] = (),
    values: Mapping[str, str] | None = None,
) -> str:
    """API keys: the list with actions, the create form, a fresh secret if any."""
    alert = ""
    if errors:
        items = "".join(f"<li>{e(m)}</li>" for m in errors)
        alert = f'<div class="panel error" role="alert"><p>Not created:</p><ul>{items}</ul></div>'
    rows = "".join(_key_row(account, k, now, csrf) for k in reversed(keys))
    table = (
        '<div class="table-wrap"><table><caption class="skip">Your API keys</caption><thead><tr>'
        "<th>Name</th><th>Prefix</th><th>Created</th><th>Last used</th><th>Expires</th>"
        "<th>Limits</th><th>Status</th><th>Actions</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>"
        if keys
        else "<p>No keys yet: create one below.</p>"
    )
    return (
        "<h1>API keys</h1>"
        + (_secret_panel(new, api_base) if new else "")
        + alert
        + f'<p class="muted">API base URL: <code>{e(api_base)}</code></p>'
        + table
        + _create_form(account, csrf, values or {})
    )


def _quota_section(report: UsageReport) -> str:
    q = report.quota
    if q is None:
        return "<p>This account has no usage quota.</p>"
    lines = [
        f"<p>Current period: {e(q.period)}, from {when(q.period_start)} "
        f"to {when(q.period_end)}.</p>"
    ]
    if q.tokens_limit is not None:
        lines.append(
            f'<div><label for="quota-tokens">Tokens: {count(q.tokens_used)} of '
            f"{count(q.tokens_limit)}</label>"
            f'<meter id="quota-tokens" min="0" max="{max(q.tokens_limit, 1)}" '
            f'value="{min(q.tokens_used, q.tokens_limit)}" high="{q.tokens_limit * 0.8:.0f}">'
            f"{count(q.tokens_used)} of {count(q.tokens_limit)}</meter></div>"
        )
    if q.cost_limit is not None:
        lines.append(
            f'<div><label for="quota-cost">Cost: {usd(q.cost_used)} of {usd(q.cost_limit)}'
            f'</label><meter id="quota-cost" min="0" max="{max(q.cost_limit, 1e-9)!r}" '
            f'value="{min(q.cost_used, q.cost_limit)!r}" high="{q.cost_limit * 0.8!r}">'
            f"{usd(q.cost_used)} of {usd(q.cost_limit)}</meter></div>"
        )
    return "".join(lines)


def _day_table(report: UsageReport) -> str:
    rows = "".join(
        f'<tr><td>{e(d)}</td><td class="num">{count(t.requests)}</td>'
        f'<td class="num">{count(t.prompt_tokens)}</td>'
        f'<td class="num">{count(t.completion_tokens)}</td>'
        f'<td class="num">{usd(t.cost_usd)}</td></tr>'
        for d, t in zip(report.days, report.per_day, strict=True)
        if t.requests
    )
    return (
        "<details><summary>Daily figures as a table</summary>"
        '<div class="table-wrap"><table><thead><tr><th>Day (UTC)</th><th class="num">Requests</th>'
        '<th class="num">Prompt tokens</th><th class="num">Completion tokens</th>'
        f'<th class="num">Cost</th></tr></thead><tbody>{rows}</tbody></table></div></details>'
    )


def _group_table(caption: str, first: str, groups: Sequence[tuple[str, Totals]]) -> str:
    rows = []
    for name, t in groups:
        rows.append(
            f'<tr><td>{e(name)}</td><td class="num">{count(t.requests)}</td>'
            f'<td class="num">{count(t.prompt_tokens)}</td>'
            f'<td class="num">{count(t.completion_tokens)}</td>'
            f'<td class="num">{usd(t.cost_usd)}</td></tr>'
        )
    return (
        f'<div class="table-wrap"><table><caption class="skip">{e(caption)}</caption>'
        f'<thead><tr><th>{e(first)}</th><th class="num">Requests</th>'
        '<th class="num">Prompt tokens</th><th class="num">Completion tokens</th>'
        f'<th class="num">Cost</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


def usage_page(report: UsageReport, n_days: int) -> str:
    """Usage: totals, quota, daily charts, per-model and per-key breakdowns."""
    t = report.total
    cards = (
        '<div class="cards">'
        f'<div class="card"><div class="muted">Requests</div><div class="big" id="total-requests">'
        f"{count(t.requests)}</div></div>"
        f'<div class="card"><div class="muted">Tokens</div><div class="big" id="total-tokens">'
        f"{count(t.tokens)}</div></div>"
        f'<div class="card"><div class="muted">Cost</div><div class="big" id="total-cost">'
        f"{usd(t.cost_usd)}</div></div></div>"
    )
    charts = _daily_charts(report, n_days)
    if report.by_model:
        per_model = ranked_bars(
            "chart-models",
            "Tokens per model",
            [(m, float(x.tokens)) for m, x in report.by_model],
            short_count,
        ) + _group_table("Usage per model", "Model", report.by_model)
        per_key = _group_table("Usage per key", "Key", report.by_key)
    else:
        per_model = per_key = f"<p>No requests in the last {n_days} days.</p>"
    return (
        f'<h1>Usage <span class="muted">· last {n_days} days (UTC)</span></h1>'
        + cards
        + '<h2 id="quota-h">Quota</h2>'
        + _quota_section(report)
        + charts
        + '<h2 id="models-h">Per model</h2>'
        + per_model
        + '<h2 id="keys-h">Per key</h2>'
        + per_key
    )


def _daily_charts(report: UsageReport, n_days: int) -> str:
    """Requests, tokens and cost per day, then the day table."""
    days = report.days
    return (
        '<h2 id="req-h">Requests per day</h2>'
        + bar_chart(
            "chart-requests",
            f"Requests per day, last {n_days} days",
            days,
            [Series("requests", [p.requests for p in report.per_day])],
            short_count,
        )
        + '<h2 id="tok-h">Tokens per day</h2>'
        '<p class="legend"><span><span class="swatch s1"></span>prompt</span>'
        '<span><span class="swatch s2"></span>completion</span></p>'
        + bar_chart(
            "chart-tokens",
            f"Prompt and completion tokens per day, last {n_days} days",
            days,
            [
                Series("prompt", [p.prompt_tokens for p in report.per_day]),
                Series("completion", [p.completion_tokens for p in report.per_day]),
            ],
            short_count,
        )
        + '<h2 id="cost-h">Cost per day</h2>'
        + bar_chart(
            "chart-cost",
            f"Cost in US dollars per day, last {n_days} days",
            days,
            [Series("cost", [p.cost_usd for p in report.per_day])],
            usd,
        )
        + _day_table(report)
    )


def models_page(cards: Sequence[ModelCard]) -> str:
    """Models the account may use: context, pricing, capabilities, live status."""
    rows = []
    for c in cards:
        caps = [
            label
            for flag, label in (
                (c.capabilities.tools, "tools"),
                (c.capabilities.vision, "vision"),
                (c.capabilities.json_mode, "JSON mode"),
                (c.capabilities.streaming, "streaming"),
            )
            if flag
        ]
        aliases = (
            f'<br><span class="muted">also: {e(", ".join(c.aliases))}</span>' if c.aliases else ""
        )
        rows.append(
            f"<tr><td><code>{e(c.id)}</code>{aliases}</td>"
            f'<td class="num">{count(c.context_length)}</td>'
            f'<td class="num">{count(c.max_output_tokens)}</td>'
            f'<td class="num">{usd(c.pricing.prompt_per_mtok)}</td>'
            f'<td class="num">{usd(c.pricing.completion_per_mtok)}</td>'
            f"<td>{e(', '.join(caps)) or '-'}</td>"
            f'<td><span class="status {e(c.status)}">{e(c.status)}</span></td></tr>'
        )
    return (
        "<h1>Models</h1>"
        '<p class="muted">Send the model name as <code>model</code>. Prices are US dollars per '
        "million tokens. A key your operator restricted may reach fewer of them.</p>"
        '<div class="table-wrap"><table><caption class="skip">Models</caption><thead><tr>'
        '<th>Model</th><th class="num">Context</th><th class="num">Max output</th>'
        '<th class="num">Prompt $/M</th><th class="num">Completion $/M</th>'
        "<th>Capabilities</th><th>Status</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
