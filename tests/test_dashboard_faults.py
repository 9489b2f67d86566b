"""Dashboard faults over real HTTP: a password change ends every session, and the
sign-in throttle can neither lock the right password out nor be used by a stranger.

The real router on loopback, real browsers (aiohttp with cookie jars) and the real
`viberouter members passwd` run as its own process against the router's store.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tests.router_harness import RunningRouter
from tests.test_dashboard_http import EMAIL, PASSWORD, Browser, start

NEW_PASSWORD = "a brand new passphrase"


def passwd(tmp_path: Path, backend: str, redis_url: str) -> str:
    """`viberouter members passwd` in its own process against the router's store."""
    config = tmp_path / "cli.toml"
    config.write_text(
        f'[state]\nbackend = "{backend}"\nsqlite_path = "{(tmp_path / "router.db").as_posix()}"\n'
        f'redis_url = "{redis_url}"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            *(sys.executable, "-m", "router_core.cli", "--config", str(config)),
            *("members", "passwd", EMAIL, "--password-stdin"),
        ],
        input=NEW_PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(params=["embedded", "redis"])
def backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(state backend, redis url) of the router and the CLI."""
    if request.param == "embedded":
        return "embedded", ""
    return "redis", request.getfixturevalue("redis_url")


async def test_password_change_ends_every_session(tmp_path: Path, backend: tuple[str, str]) -> None:
    kind, redis_url = backend
    kw = {"backend": kind, "redis_url": redis_url} if redis_url else {}
    router = await start(tmp_path, **kw)
    laptop, phone = Browser(router), Browser(router)
    try:
        pages = [await laptop.login(), await phone.login()]
        assert all(p.url.endswith("/dashboard/keys") for p in pages)
        cookies = [laptop.session_cookie(), phone.session_cookie()]
        assert all(cookies)

        out = passwd(tmp_path, kind, redis_url)
        assert "sessions have ended" in out

        for browser, page in zip((laptop, phone), pages, strict=True):
            assert browser.session_cookie() in cookies  # the browser still sends it
            keys = await browser.get("/dashboard/keys")
            assert keys.url.endswith("/dashboard/login") and "Sign in" in keys.text
            created = await browser.post("/dashboard/keys", {"csrf": page.csrf, "name": "late"})
            assert created.url.endswith("/dashboard/login")
        assert [k.name for k in await router.state.store.list_keys(router.account_id)] == ["test"]
        assert (await laptop.login(password=PASSWORD)).status == 401
        assert (await laptop.login(password=NEW_PASSWORD)).url.endswith("/dashboard/keys")
    finally:
        await laptop.close()
        await phone.close()
        await router.stop()


QUICK_BACKOFF = """
[dashboard]
trusted_proxy = true
login_free_attempts = 2
login_backoff_s = 1
login_backoff_max_s = 1
login_address_max_failures = 3
"""


def at(router: RunningRouter, address: str) -> Browser:
    """A browser whose requests arrive through the trusted proxy from ``address``."""
    return Browser(router, {"X-Forwarded-For": address})


async def test_right_password_gets_in_after_retry_after(tmp_path: Path) -> None:
    router = await start(tmp_path, QUICK_BACKOFF)
    ann = at(router, "10.0.0.1")
    try:
        for _ in range(2):
            assert (await ann.login(password="wrong password")).status == 401
        refused = await ann.login()
        assert refused.status == 429
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 2
        for _ in range(3):  # hammering while refused does not extend the wait
            assert (await ann.login()).status == 429
        await asyncio.sleep(retry_after + 0.1)
        page = await ann.login()
        assert page.url.endswith("/dashboard/keys") and ann.session_cookie()
    finally:
        await ann.close()
        await router.stop()


async def test_a_stranger_cannot_lock_a_member_out(tmp_path: Path) -> None:
    router = await start(tmp_path, QUICK_BACKOFF)
    stranger, ann_at_home = at(router, "203.0.113.9"), at(router, "10.0.0.1")
    neighbour, elsewhere = at(router, "10.0.0.1"), at(router, "10.0.0.2")
    try:
        for _ in range(5):  # the stranger guesses ann's password from elsewhere
            await stranger.login(EMAIL, "guess guess")
        assert (await stranger.login(EMAIL, "guess guess")).status == 429
        assert (await ann_at_home.login()).url.endswith("/dashboard/keys")
        # Spraying other emails from ann's own address (a shared NAT) does not hold
        # her back until the coarse per-address cap (3 here) is reached.
        for name in ("bob", "cy"):
            assert (await neighbour.login(f"{name}@example.com", "guess")).status == 401
        assert (await ann_at_home.login()).url.endswith("/dashboard/keys")
        assert (await neighbour.login("dee@example.com", "guess")).status == 401
        capped = await neighbour.login("eve@example.com", "guess")
        assert capped.status == 429
        assert 0 < int(capped.headers["Retry-After"]) <= 600  # the window's end
        assert (await elsewhere.login()).url.endswith("/dashboard/keys")
    finally:
        await neighbour.close()
        await elsewhere.close()
        await stranger.close()
        await ann_at_home.close()
        await router.stop()
