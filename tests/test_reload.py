"""Hot reload on a real router process with traffic running: SIGHUP and `viberouter
reload` apply a new file, refuse an invalid one (the running config stays), and a
request in flight finishes on the config it started with."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import openai
import pytest

from tests.router_process import RouterProcess, run_cli, start_router_process

BASE = """
[state]
sqlite_path = "state.db"

[server]
pid_file = "router.pid"

[auth]
cache_ttl_s = 60

[providers.echo]
plugin = "echo"
settings = {{ delay_ms = {delay} }}

[routes.steady]
deployments = ["echo/echo-1"]
{routes}
"""


def write(cfg: Path, routes: str, delay: int = 200) -> None:
    cfg.write_text(BASE.format(routes=routes, delay=delay))


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def serves(client: openai.OpenAI, model: str) -> bool:
    try:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    except openai.BadRequestError:
        return False
    return True


@pytest.fixture
def router(tmp_path: Path) -> RouterProcess:
    cfg = tmp_path / "router.toml"
    write(cfg, '\n[routes.old]\ndeployments = ["echo/echo-1"]\n')
    proc = start_router_process(cfg, tmp_path)
    yield proc
    proc.stop()


def test_reload_with_traffic_running(tmp_path: Path, router: RouterProcess) -> None:
    cfg = tmp_path / "router.toml"
    key = router.demo_key()
    client = openai.OpenAI(base_url=router.base_url, api_key=key, max_retries=0)
    failures: list[str] = []
    served = [0]
    stop = threading.Event()

    def traffic() -> None:
        own = openai.OpenAI(base_url=router.base_url, api_key=key, max_retries=0)
        while not stop.is_set() and served[0] < 2000:
            try:
                own.chat.completions.create(
                    model="steady", messages=[{"role": "user", "content": "ok"}]
                )
                served[0] += 1
            except openai.OpenAIError as exc:
                failures.append(repr(exc))

    long_answer: list[str] = []

    def long_stream() -> None:
        # Ten words at 200 ms: about two seconds on route "old", which the reload removes.
        stream = client.chat.completions.create(
            model="old",
            stream=True,
            messages=[{"role": "user", "content": "a b c d e f g h i j"}],
        )
        long_answer.extend(c.choices[0].delta.content or "" for c in stream if c.choices)

    workers = [threading.Thread(target=traffic), threading.Thread(target=long_stream)]
    for w in workers:
        w.start()
    try:
        time.sleep(0.5)
        write(cfg, '\n[routes.new]\ndeployments = ["echo/echo-1"]\n')
        done = run_cli(cfg, "reload")
        assert done.returncode == 0, done.stderr
        assert "sent SIGHUP to process" in done.stdout
        wait_for(lambda: serves(client, "new"))
        assert not serves(client, "old")
        workers[1].join(timeout=20)
        assert "".join(long_answer) == "a b c d e f g h i j"

        # An invalid file: `reload` refuses it before signalling ...
        write(cfg, '\n[routes.broken]\ndeployments = ["nowhere/model"]\n')
        refused = run_cli(cfg, "reload")
        assert refused.returncode == 4 and "unknown provider 'nowhere'" in refused.stderr
        # ... and a bare SIGHUP with it is refused by the router, which keeps serving.
        pid = int((tmp_path / "router.pid").read_text())
        assert pid == router.proc.pid
        os.kill(pid, signal.SIGHUP)
        wait_for(lambda: "reload_refused" in router.output())
        assert serves(client, "new") and serves(client, "steady")
        assert not serves(client, "broken")
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=30)
    assert failures == []
    assert served[0] > 0
    lines = [json.loads(x) for x in router.output().splitlines() if x.startswith("{")]
    reloaded = [x for x in lines if x.get("event") == "reloaded"]
    assert len(reloaded) == 1 and reloaded[0]["restart_needed"] == []


def test_reload_drops_cached_keys_and_names_restart_only_changes(
    tmp_path: Path, router: RouterProcess
) -> None:
    cfg = tmp_path / "router.toml"
    key = router.demo_key()
    client = openai.OpenAI(base_url=router.base_url, api_key=key, max_retries=0)
    assert serves(client, "steady")  # the key is now cached for cache_ttl_s = 60
    keys = json.loads(run_cli(cfg, "keys", "list", "--json").stdout)
    assert run_cli(cfg, "keys", "revoke", keys[0]["id"]).returncode == 0
    assert serves(client, "steady")  # still cached: another process changed the store
    cfg.write_text(cfg.read_text().replace("[server]\n", "[server]\nmax_connections = 77\n"))
    os.kill(router.proc.pid, signal.SIGHUP)
    wait_for(lambda: '"event":"reloaded"' in router.output())
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="steady", messages=[{"role": "user", "content": "x"}])
    line = next(json.loads(x) for x in router.output().splitlines() if '"reloaded"' in x)
    assert line["restart_needed"] == ["server"]


def test_reload_without_pid_file_says_how(tmp_path: Path) -> None:
    cfg = tmp_path / "plain.toml"
    cfg.write_text('[providers.echo]\nplugin = "echo"\n')
    got = run_cli(cfg, "reload")
    assert got.returncode == 1 and "server.pid_file is not set" in got.stderr
    assert "systemctl reload" in got.stderr
