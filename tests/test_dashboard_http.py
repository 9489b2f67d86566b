"""The dashboard over real HTTP: sign-in, sessions, CSRF, throttling, key ownership, pages.

The real router on loopback (embedded state unless a test says otherwise), a real
aiohttp client with its own cookie jar, and the openai SDK for the API side.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import openai
import pytest

from router_core.dashboard.members import MemberService
from router_core.dashboard.routes import DASHBOARD
from router_core.dashboard.sessions import SESSION_COOKIE
from router_core.dashboard.throttle import subject
from router_core.limits.base import Limits
from tests.router_harness import RunningRouter, router_settings, start_router

EMAIL, PASSWORD = "ann@example.com", "correct horse battery"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
SECRET_RE = re.compile(r'id="new-secret"[^>]*value="([^"]+)"')
FAST_THROTTLE = """
[dashboard]
login_free_attempts = 2
login_backoff_s = 60
"""


@dataclass
class Page:
    status: int
    url: str
    text: str
    headers: dict[str, str]

    @property
    def csrf(self) -> str:
        found = CSRF_RE.search(self.text)
        assert found is not None, "page has no form token"
        return found.group(1)


class Browser:
    """A cookie-keeping HTTP client that reads pages like a person would."""

    def __init__(self, router: RunningRouter, headers: dict[str, str] | None = None) -> None:
        self.router = router
        self.jar = aiohttp.CookieJar(unsafe=True)  # cookies for a bare IP host
        self.session = aiohttp.ClientSession(cookie_jar=self.jar, headers=headers)

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, **kw: object) -> Page:
        async with self.session.get(self.router.url + path, **kw) as r:  # type: ignore[arg-type]
            return Page(r.status, str(r.url), await r.text(), dict(r.headers))

    async def post(self, path: str, data: dict[str, str], **kw: object) -> Page:
        async with self.session.post(self.router.url + path, data=data, **kw) as r:  # type: ignore[arg-type]
            return Page(r.status, str(r.url), await r.text(), dict(r.headers))

    async def login(self, email: str = EMAIL, password: str = PASSWORD) -> Page:
        self.jar.clear()  # a signed-in browser is sent past the form
        form = await self.get("/dashboard/login")
        return await self.post(
            "/dashboard/login", {"csrf": form.csrf, "email": email, "password": password}
        )

    def session_cookie(self) -> str | None:
        for c in self.jar:
            if c.key == SESSION_COOKIE:
                return c.value
        return None


async def start(tmp_path: Path, extra_toml: str = "", **kw: object) -> RunningRouter:
    router = await start_router(router_settings(tmp_path, extra_toml=extra_toml, **kw))  # type: ignore[arg-type]
    await MemberService(router.state.store, router.state.store).add(
        router.account_id, EMAIL, PASSWORD
    )
    return router


@pytest.fixture
async def dash(tmp_path: Path) -> AsyncIterator[RunningRouter]:
    router = await start(tmp_path, FAST_THROTTLE)
    yield router
    await router.stop()


@pytest.fixture
async def browser(dash: RunningRouter) -> AsyncIterator[Browser]:
    b = Browser(dash)
    yield b
    await b.close()


async def test_strangers_are_sent_to_sign_in(browser: Browser) -> None:
    for path in ("/dashboard", "/dashboard/keys", "/dashboard/usage", "/dashboard/models"):
        page = await browser.get(path)
        assert page.status == 200 and page.url.endswith("/dashboard/login"), path
        assert "Sign in to VibeRouter" in page.text
    page = await browser.post("/dashboard/keys", {"csrf": "x", "name": "sneaky"})
    assert page.url.endswith("/dashboard/login")
    assert len(await browser.router.state.store.list_keys()) == 1


async def test_pages_carry_an_inline_favicon(browser: Browser) -> None:
    """Browsers ask for /favicon.ico (a 404 in every log) unless the page names an icon;
    the icon is a data: URL, which the dashboard's CSP (img-src 'self' data:) allows."""
    page = await browser.get("/dashboard/login")
    assert '<link rel="icon" href="data:image/svg+xml,' in page.text
    assert "img-src 'self' data:" in page.headers["Content-Security-Policy"]


async def test_sign_in_sets_a_locked_down_cookie(browser: Browser) -> None:
    form = await browser.get("/dashboard/login")
    async with browser.session.post(
        browser.router.url + "/dashboard/login",
        data={"csrf": form.csrf, "email": "ANN@example.com ", "password": PASSWORD},
        allow_redirects=False,
    ) as r:
        assert r.status == 303 and r.headers["Location"] == "/dashboard/keys"
        cookies = [h for h in r.headers.getall("Set-Cookie") if h.startswith(SESSION_COOKIE + "=")]
    assert len(cookies) == 1
    attrs = [a.strip().lower() for a in cookies[0].split(";")]
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/dashboard" in attrs
    assert "secure" not in attrs  # plain HTTP, secure_cookies = "auto"
    page = await browser.get("/dashboard/keys")
    assert page.status == 200 and "API keys" in page.text and EMAIL in page.text
    h = page.headers
    assert "default-src 'none'" in h["Content-Security-Policy"]
    assert h["X-Frame-Options"] == "DENY" and h["Cache-Control"] == "no-store"
    member = await browser.router.state.store.get_member_by_email(EMAIL)
    assert member is not None and member.last_login_at is not None


@pytest.mark.parametrize(
    ("toml", "headers", "secure"),
    [
        ('secure_cookies = "always"', {}, True),
        ("trusted_proxy = true", {"X-Forwarded-Proto": "https"}, True),
        ("trusted_proxy = false", {"X-Forwarded-Proto": "https"}, False),
        ('secure_cookies = "never"\ntrusted_proxy = true', {"X-Forwarded-Proto": "https"}, False),
    ],
)
async def test_secure_flag_follows_config(
    tmp_path: Path, toml: str, headers: dict[str, str], secure: bool
) -> None:
    router = await start(tmp_path, f"\n[dashboard]\n{toml}\n")
    try:
        async with (
            aiohttp.ClientSession(headers=headers) as s,
            s.get(router.url + "/dashboard/login") as r,
        ):
            cookie = r.headers["Set-Cookie"]
        assert ("; Secure" in cookie) is secure
    finally:
        await router.stop()


async def test_sign_in_form_needs_its_token(browser: Browser) -> None:
    await browser.get("/dashboard/login")
    page = await browser.post(
        "/dashboard/login", {"csrf": "forged", "email": EMAIL, "password": PASSWORD}
    )
    assert page.status == 403 and "expired" in page.text
    assert browser.session_cookie() is None
    # A token with no matching cookie (another browser's form) is refused too.
    other = Browser(browser.router)
    try:
        form = await other.get("/dashboard/login")
    finally:
        await other.close()
    browser.jar.clear()
    page = await browser.post(
        "/dashboard/login", {"csrf": form.csrf, "email": EMAIL, "password": PASSWORD}
    )
    assert page.status == 403 and browser.session_cookie() is None


async def test_every_post_checks_the_session_csrf_token(browser: Browser) -> None:
    await browser.login()
    store = browser.router.state.store
    key_id = browser.router.key_id
    for path, data in (
        ("/dashboard/keys", {"name": "forged"}),
        (f"/dashboard/keys/{key_id}/revoke", {}),
        (f"/dashboard/keys/{key_id}/rotate", {}),
        ("/dashboard/logout", {}),
    ):
        for token in (None, "", "not-the-token"):
            body = dict(data) if token is None else {**data, "csrf": token}
            page = await browser.post(path, body)
            assert page.status == 403, (path, token)
            assert "Form expired" in page.text
    keys = await store.list_keys(browser.router.account_id)
    assert len(keys) == 1 and keys[0].revoked_at is None
    assert (await browser.get("/dashboard/keys")).status == 200  # still signed in


async def test_wrong_password_is_throttled_per_email_and_address(
    browser: Browser, dash: RunningRouter
) -> None:
    for _ in range(2):  # login_free_attempts = 2
        page = await browser.login(password="wrong password")
        assert page.status == 401 and "Wrong email or password" in page.text
    page = await browser.login()
    assert page.status == 429  # now even the right password must wait
    assert "Too many failed attempts" in page.text
    assert 0 < int(page.headers["Retry-After"]) <= 120
    assert browser.session_cookie() is None
    # Another email from the same address is not held back by ann's failures.
    await MemberService(dash.state.store, dash.state.store).add(
        dash.account_id, "bob@example.com", PASSWORD
    )
    assert (await browser.login("bob@example.com")).url.endswith("/dashboard/keys")


async def test_unknown_email_reads_like_a_wrong_password(browser: Browser) -> None:
    page = await browser.login("nobody@example.com", PASSWORD)
    assert page.status == 401 and "Wrong email or password" in page.text


async def test_throttle_trusts_forwarded_for_only_behind_a_proxy(tmp_path: Path) -> None:
    router = await start(tmp_path, FAST_THROTTLE + "trusted_proxy = true\n")
    try:
        for hop in ("10.0.0.1", "10.0.0.1", "10.0.0.1"):
            b = Browser(router, {"X-Forwarded-For": f"203.0.113.9, {hop}"})
            await b.login(password="wrong password")
            await b.close()
        blocked = Browser(router, {"X-Forwarded-For": "10.0.0.1"})
        elsewhere = Browser(router, {"X-Forwarded-For": "10.0.0.2"})
        try:
            assert (await blocked.login()).status == 429
            assert (await elsewhere.login()).url.endswith("/dashboard/keys")
        finally:
            await blocked.close()
            await elsewhere.close()
    finally:
        await router.stop()


async def test_sign_out_kills_the_session_server_side(browser: Browser) -> None:
    page = await browser.login()
    cookie = browser.session_cookie()
    assert cookie
    page = await browser.post("/dashboard/logout", {"csrf": page.csrf})
    assert page.url.endswith("/dashboard/login?bye=1") and "signed out" in page.text
    # Replaying the old cookie value does not get back in.
    async with (
        aiohttp.ClientSession(cookies={SESSION_COOKIE: cookie}) as s,
        s.get(browser.router.url + "/dashboard/keys") as r,
    ):
        assert str(r.url).endswith("/dashboard/login")


async def test_expired_disabled_or_removed_sessions_are_refused(
    browser: Browser, dash: RunningRouter
) -> None:
    svc = MemberService(dash.state.store, dash.state.store)
    member = await svc.find(EMAIL)
    manager = dash.runner.app[DASHBOARD].sessions
    old, _ = await manager.start(member, time.time() - 2 * 86400)  # ttl 12 h: long expired
    async with (
        aiohttp.ClientSession(cookies={SESSION_COOKIE: old}) as s,
        s.get(dash.url + "/dashboard/keys") as r,
    ):
        assert str(r.url).endswith("/dashboard/login")

    await browser.login()
    assert (await browser.get("/dashboard/keys")).url.endswith("/dashboard/keys")
    await dash.state.accounts.set_status(dash.account_id, "inactive")
    assert (await browser.get("/dashboard/keys")).url.endswith("/dashboard/login")
    page = await browser.login()
    assert page.status == 403 and "disabled" in page.text
    await dash.state.accounts.set_status(dash.account_id, "active")
    assert (await browser.login()).url.endswith("/dashboard/keys")
    await svc.remove(EMAIL)
    assert (await browser.get("/dashboard/keys")).url.endswith("/dashboard/login")


async def test_create_key_within_account_limits(tmp_path: Path) -> None:
    router = await start(tmp_path)
    b = Browser(router)
    try:
        account = await router.state.accounts.account(router.account_id)
        await router.state.accounts.update_account(
            dataclasses.replace(account, limits=Limits(rpm=100, tpm=None))
        )
        page = await b.login()
        page = await b.post(
            "/dashboard/keys",
            {
                "csrf": page.csrf,
                "name": "too fast",
                "rpm": "101",
                "tpm": "-1",
                "expires": "2001-01-01",
            },
        )
        assert page.status == 400
        assert "at most 100" in page.text and "at least 0" in page.text and "past" in page.text
        assert len(await router.state.store.list_keys(router.account_id)) == 1

        page = await b.post(
            "/dashboard/keys",
            {"csrf": page.csrf, "name": "<script>x</script>", "rpm": "100", "tpm": "5000",
             "expires": "2999-12-31"},
        )  # fmt: skip
        assert page.status == 201
        assert "<script>x</script>" not in page.text and "&lt;script&gt;" in page.text
        found = SECRET_RE.search(page.text)
        assert found is not None
        secret = found.group(1)
        keys = await router.state.store.list_keys(router.account_id)
        new = keys[-1]
        assert (new.limits.rpm, new.limits.tpm, new.limits.rpd, new.limits.concurrency) == (
            100,
            5000,
            None,
            None,
        )
        assert new.expires_at == pytest.approx(32503680000.0)  # 3000-01-01T00:00Z
        assert secret not in (await b.get("/dashboard/keys")).text  # shown once

        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=secret, max_retries=0)
        resp = await client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "from the dashboard"}]
        )
        assert resp.choices[0].message.content == "from the dashboard"
    finally:
        await b.close()
        await router.stop()


async def test_rotate_and_revoke_only_own_keys(browser: Browser, dash: RunningRouter) -> None:
    svc = dash.state.accounts
    other = await svc.create_account("other")
    foreign, _ = await svc.create_key(other.id, "theirs")
    page = await browser.login()
    for action in ("revoke", "rotate"):
        refused = await browser.post(f"/dashboard/keys/{foreign.id}/{action}", {"csrf": page.csrf})
        assert refused.status == 404
    assert (await svc.key(foreign.id)).revoked_at is None
    assert (await svc.key(foreign.id)).secret_hash == foreign.secret_hash

    old = openai.AsyncOpenAI(base_url=dash.base_url, api_key=dash.key, max_retries=0)
    page = await browser.post(f"/dashboard/keys/{dash.key_id}/rotate", {"csrf": page.csrf})
    assert page.status == 200 and "no longer works" in page.text
    found = SECRET_RE.search(page.text)
    assert found is not None
    new = openai.AsyncOpenAI(base_url=dash.base_url, api_key=found.group(1), max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        await old.models.list()
    assert [m.id for m in (await new.models.list()).data]

    page = await browser.post(f"/dashboard/keys/{dash.key_id}/revoke", {"csrf": page.csrf})
    assert page.url.endswith("/dashboard/keys") and ">revoked<" in page.text
    with pytest.raises(openai.AuthenticationError) as err:
        await new.models.list()
    assert err.value.status_code == 401
    page = await browser.post(f"/dashboard/keys/{dash.key_id}/rotate", {"csrf": page.csrf})
    assert page.status == 409


async def test_usage_page_shows_requests_tokens_cost_and_quota(tmp_path: Path) -> None:
    router = await start(tmp_path)
    b = Browser(router)
    try:
        account = await router.state.accounts.account(router.account_id)
        await router.state.accounts.update_account(
            dataclasses.replace(account, limits=Limits(quota_tokens=1_000_000, quota_cost_usd=5.0))
        )
        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
        used = 0
        for text in ("one two three", "four five"):
            resp = await client.chat.completions.create(
                model="echo", messages=[{"role": "user", "content": text}]
            )
            assert resp.usage is not None
            used += resp.usage.total_tokens
        await b.login()
        page = await b.get("/dashboard/usage")
        assert page.status == 200
        assert re.search(r'id="total-requests">2<', page.text)
        assert re.search(rf'id="total-tokens">{used:,}<', page.text)
        assert f"Tokens: {used:,} of 1,000,000" in page.text
        assert '<meter id="quota-tokens"' in page.text and '<meter id="quota-cost"' in page.text
        assert page.text.count("<svg") == 4  # requests, tokens, cost per day; per model
        assert "<td>echo</td>" in page.text
        assert "test (" in page.text  # the per-key table names the key
    finally:
        await b.close()
        await router.stop()


async def test_models_page_lists_cards_with_status(browser: Browser) -> None:
    await browser.login()
    page = await browser.get("/dashboard/models")
    assert page.status == 200
    for route in browser.router.state.catalog.listed():
        assert f"<code>{route.card.id}</code>" in page.text
        assert f'class="status {route.card.status}"' in page.text
    assert "also: echo-latest" in page.text


async def test_stylesheet_is_served_by_the_router(browser: Browser) -> None:
    page = await browser.get("/dashboard/login")
    href = re.search(r'href="(/dashboard/assets/dashboard\.css\?v=[0-9a-f]+)"', page.text)
    assert href is not None
    css = await browser.get(href.group(1))
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
    assert "svg.chart" in css.text
    # Nothing fetched from elsewhere (the inline icon's SVG namespace is a name, no fetch).
    head = page.text.replace(browser.router.url, "").replace("http://www.w3.org/2000/svg", "")
    assert "http" not in head.split("<main")[0]


async def test_dashboard_off_is_404(tmp_path: Path) -> None:
    router = await start(tmp_path, "\n[dashboard]\nenabled = false\n")
    try:
        async with aiohttp.ClientSession() as s, s.get(router.url + "/dashboard/login") as r:
            assert r.status == 404
    finally:
        await router.stop()


async def test_redis_backend_sign_in_and_keys(tmp_path: Path, redis_url: str) -> None:
    router = await start(tmp_path, FAST_THROTTLE, backend="redis", redis_url=redis_url)
    b = Browser(router)
    try:
        for _ in range(3):
            await b.login(password="nope nope")
        assert (await b.login()).status == 429  # counts live in Redis
        await router.state.store.clear_login_failures(subject(EMAIL, "127.0.0.1"))
        page = await b.login()
        assert page.url.endswith("/dashboard/keys")
        page = await b.post("/dashboard/keys", {"csrf": page.csrf, "name": "shared"})
        assert page.status == 201
        assert [k.name for k in await router.state.store.list_keys(router.account_id)] == [
            "test",
            "shared",
        ]
        await b.post("/dashboard/logout", {"csrf": page.csrf})
        assert (await b.get("/dashboard/keys")).url.endswith("/dashboard/login")
    finally:
        await b.close()
        await router.stop()


async def test_parallel_wrong_passwords_are_throttled(tmp_path: Path) -> None:
    router = await start(tmp_path, FAST_THROTTLE)  # 2 free attempts, then a long backoff
    browsers = [Browser(router) for _ in range(12)]
    try:
        forms = [await b.get("/dashboard/login") for b in browsers]
        pages = await asyncio.gather(
            *(
                b.post("/dashboard/login", {"csrf": f.csrf, "email": EMAIL, "password": f"x{i}"})
                for i, (b, f) in enumerate(zip(browsers, forms, strict=True))
            )
        )
        statuses = [p.status for p in pages]
        assert statuses.count(401) <= 3 and statuses.count(429) >= 9
    finally:
        for b in browsers:
            await b.close()
        await router.stop()


async def test_a_far_future_expiry_is_a_form_error(tmp_path: Path) -> None:
    router = await start(tmp_path)
    b = Browser(router)
    try:
        await b.login()
        keys = await b.get("/dashboard/keys")
        page = await b.post(
            "/dashboard/keys", {"csrf": keys.csrf, "name": "x", "expires": "9999-12-31"}
        )
        assert page.status == 400 and "too far in the future" in page.text
    finally:
        await b.close()
        await router.stop()
