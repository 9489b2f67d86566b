"""The dashboard in a real headless Chromium (Debian's chromium, driven by Playwright).

The issue's "done": a member given an email and password signs in, creates a key,
uses it with the openai SDK, sees the request in usage, revokes it and sees the API
refuse it. Screenshots of every page go to test-artifacts/dashboard/.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import openai
import pytest
from aiohttp import web

from router_core.dashboard.members import MemberService
from router_core.limits.base import Limits
from tests.router_harness import RunningRouter, router_settings, serve_app, start_router
from tests.services import IN_CI, require_binary

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "dashboard"
EMAIL, PASSWORD = "new.user@example.com", "handed over by the operator"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Debian's chromium under Playwright (its bundled driver; no browser download)."""
    executable = require_binary("chromium", "chromium")
    if importlib.util.find_spec("playwright") is None:
        message = "the playwright Python package is missing (pip install playwright)"
        if IN_CI:
            pytest.fail(message + " and is required under CI=true")
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def dash(tmp_path: Path) -> AsyncIterator[RunningRouter]:
    """A router with an account on a token quota, its first member, and no keys of theirs."""
    settings = router_settings(
        tmp_path, extra_toml="\n[dashboard]\nlogin_free_attempts = 2\nlogin_backoff_s = 60\n"
    )
    router = await start_router(settings, create_key=False)
    account = await router.state.accounts.create_account(
        "Acme research", Limits(rpm=120, quota_tokens=1_000_000)
    )
    router.account_id = account.id
    await MemberService(router.state.store, router.state.store).add(account.id, EMAIL, PASSWORD)
    try:
        yield router
    finally:
        await router.stop()


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def sign_in(page: Page, router: RunningRouter, password: str = PASSWORD) -> None:
    await page.goto(router.url + "/dashboard")
    await page.get_by_label("Email").fill(EMAIL)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def test_new_member_gets_a_working_key_and_sees_usage(
    chromium: Browser, dash: RunningRouter
) -> None:
    context = await chromium.new_context(viewport={"width": 1200, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()

    await page.goto(dash.url + "/dashboard")
    assert page.url.endswith("/dashboard/login")
    await shot(page, "login")
    await sign_in(page, dash)
    await page.wait_for_url("**/dashboard/keys")
    assert await page.get_by_role("heading", name="API keys").is_visible()
    assert "No keys yet" in await page.content()
    # The session cookie is HttpOnly: no script on the page can read it.
    assert "vr_dashboard=" not in await page.evaluate("document.cookie")

    await page.get_by_label("Name").fill("laptop")
    await page.get_by_label("Requests per minute").fill("60")
    await page.get_by_role("button", name="Create key").click()
    secret = await page.locator("#new-secret").input_value()
    assert secret.startswith("vr-")
    await shot(page, "keys-new-secret")

    client = openai.AsyncOpenAI(base_url=dash.base_url, api_key=secret, max_retries=0)
    resp = await client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "hello from the dashboard"}]
    )
    assert resp.choices[0].message.content == "hello from the dashboard"
    assert resp.usage is not None

    await page.get_by_role("link", name="Usage").click()
    await page.wait_for_url("**/dashboard/usage")
    assert await page.locator("#total-requests").inner_text() == "1"
    assert await page.locator("#total-tokens").inner_text() == f"{resp.usage.total_tokens:,}"
    assert await page.get_by_role("cell", name="echo", exact=True).is_visible()
    quota = page.locator("#quota-tokens")
    assert await quota.get_attribute("value") == str(resp.usage.total_tokens)
    assert await page.locator("svg.chart").count() == 4
    await shot(page, "usage")

    await page.get_by_role("link", name="Models").click()
    await page.wait_for_url("**/dashboard/models")
    row = page.get_by_role("row").filter(has_text="echo-latest")
    assert "available" in await row.inner_text()
    await shot(page, "models")

    await page.get_by_role("link", name="Keys").click()
    await page.wait_for_url("**/dashboard/keys")
    assert secret not in await page.content()  # the secret was shown once
    await page.get_by_role("button", name="Revoke laptop").click()
    await page.wait_for_url("**/dashboard/keys")
    row = page.get_by_role("row").filter(has_text="laptop")
    assert "revoked" in await row.inner_text()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", await row.inner_text())  # last used
    await shot(page, "keys")
    with pytest.raises(openai.AuthenticationError) as refused:
        await client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "still there?"}]
        )
    assert refused.value.status_code == 401

    phone = await chromium.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    mobile = await phone.new_page()
    await mobile.context.add_cookies(await context.cookies())
    await mobile.goto(dash.url + "/dashboard/usage")
    width = await mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling of the page itself on a phone
    await shot(mobile, "usage-phone")
    await phone.close()

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/dashboard/login?bye=1")
    await page.goto(dash.url + "/dashboard/keys")
    assert page.url.endswith("/dashboard/login")
    await context.close()


async def test_wrong_passwords_are_throttled(chromium: Browser, dash: RunningRouter) -> None:
    page = await chromium.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    for _ in range(2):
        await sign_in(page, dash, password="not the password")
        assert await page.get_by_role("alert").inner_text() == "Wrong email or password."
    await sign_in(page, dash)  # the right password, too soon
    alert = await page.get_by_role("alert").inner_text()
    assert alert.startswith("Too many failed attempts. Try again in")
    assert page.url.endswith("/dashboard/login")
    await shot(page, "login-throttled")
    await page.close()


async def test_a_cross_site_form_cannot_act_for_the_member(
    chromium: Browser, dash: RunningRouter
) -> None:
    """Another site (localhost is not 127.0.0.1) posts to the dashboard: refused."""
    target = dash.url + "/dashboard/keys"
    evil = web.Application()

    async def attack(_: web.Request) -> web.Response:
        return web.Response(
            content_type="text/html",
            text=f'<form method="post" action="{target}"><input name="name" value="evil">'
            '<input name="csrf" value="guess"><button>win a prize</button></form>',
        )

    evil.router.add_get("/", attack)
    runner, port = await serve_app(evil, access_log=None)
    try:
        page = await chromium.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await sign_in(page, dash)
        await page.wait_for_url("**/dashboard/keys")
        await page.goto(f"http://localhost:{port}/")
        async with page.expect_response(lambda r: r.request.method == "POST") as posted:
            await page.get_by_role("button", name="win a prize").click()
        response = await posted.value
        # SameSite=Lax kept the session cookie home: the post arrived signed out.
        assert response.status == 303
        assert await response.header_value("location") == "/dashboard/login"
        assert await dash.state.store.list_keys(dash.account_id) == []
        await page.close()
    finally:
        await runner.cleanup()
