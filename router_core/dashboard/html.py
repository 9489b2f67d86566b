"""HTML building blocks: escaping, the page layout, numbers and times for people.

Every value that reaches a page goes through ``e()``; the helpers here return
markup that is already safe to concatenate.
"""

from __future__ import annotations

import datetime as dt
from html import escape

from router_core.dashboard.assets import CSS_VERSION

NAV = (("keys", "Keys"), ("usage", "Usage"), ("models", "Models"))


def e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return escape(str(value), quote=True)


def when(ts: float | None, empty: str = "never") -> str:
    """A Unix time as a ``<time>`` element in UTC, or ``empty``."""
    if ts is None:
        return e(empty)
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    return (
        f'<time datetime="{moment.strftime("%Y-%m-%dT%H:%M:%SZ")}">'
        f"{moment.strftime('%Y-%m-%d %H:%M')} UTC</time>"
    )


def count(n: float) -> str:
    """An integer with thousands separators."""
    return f"{round(n):,}"


def short_count(n: float) -> str:
    """Compact counts for chart axes: 950, 1.2k, 3.4M."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{n:.0f}" if n == int(n) else f"{n:.2f}"


def usd(x: float) -> str:
    """US dollars, with more digits for small amounts."""
    if x == 0:
        return "$0"
    if abs(x) < 0.01:
        return f"${x:.6f}".rstrip("0")
    return f"${x:,.2f}"


def csrf_field(token: str) -> str:
    """The hidden input every form carries."""
    return f'<input type="hidden" name="csrf" value="{e(token)}">'


#: Inline (CSP allows data: images), so browsers never ask for /favicon.ico and log a 404.
FAVICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
    "%3Crect width='16' height='16' rx='3' fill='%23334'/%3E"
    "%3Cpath d='M3 4l5 9 5-9' stroke='%23fff' stroke-width='2' fill='none'/%3E%3C/svg%3E"
)


def layout(
    title: str,
    body: str,
    *,
    active: str | None = None,
    account_name: str = "",
    email: str = "",
    csrf: str = "",
) -> str:
    """A whole page: head, header with navigation and sign-out, main content."""
    header = ""
    if active is not None:
        current = ' aria-current="page"'
        links = "".join(
            f'<li><a href="/dashboard/{slug}"{current if slug == active else ""}>{label}</a></li>'
            for slug, label in NAV
        )
        header = (
            '<header class="top"><span class="brand">VibeRouter</span>'
            f'<nav aria-label="Dashboard"><ul>{links}</ul></nav>'
            f'<span class="who">{e(email)} · {e(account_name)}</span>'
            f'<form class="inline" method="post" action="/dashboard/logout">{csrf_field(csrf)}'
            '<button class="secondary" type="submit">Sign out</button></form></header>'
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · VibeRouter</title>"
        f'<link rel="icon" href="{FAVICON}">'
        f'<link rel="stylesheet" href="/dashboard/assets/dashboard.css?v={CSS_VERSION}">'
        '</head><body><a class="skip" href="#main">Skip to content</a>'
        f'{header}<main id="main">{body}</main></body></html>'
    )


def message_page(title: str, text: str, *, link: str = "/dashboard") -> str:
    """A bare page for errors (bad form, not found)."""
    return layout(
        title,
        f'<div class="panel error login"><h1>{e(title)}</h1><p>{e(text)}</p>'
        f'<p><a href="{e(link)}">Back to the dashboard</a></p></div>',
    )


def login_page(csrf: str, *, error: str = "", email: str = "", notice: str = "") -> str:
    """The sign-in form."""
    alert = f'<p class="panel error" role="alert">{e(error)}</p>' if error else ""
    info = f'<p class="panel notice" role="status">{e(notice)}</p>' if notice else ""
    body = (
        '<div class="login"><h1>Sign in to VibeRouter</h1>'
        f"{alert}{info}"
        f'<form method="post" action="/dashboard/login">{csrf_field(csrf)}'
        '<div><label for="email">Email</label>'
        f'<input id="email" name="email" type="email" autocomplete="username" required '
        f'value="{e(email)}"></div>'
        '<div><label for="password">Password</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required></div>'
        '<button type="submit">Sign in</button></form>'
        '<p class="muted">Your operator gives you an email and password. '
        "Forgot it? Ask them to set a new one.</p></div>"
    )
    return layout("Sign in", body)
