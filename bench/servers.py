"""Start and stop what a scenario needs: mock upstream, pass-through, Redis, the router,
and (optionally) a LiteLLM proxy, each pinned to its CPU."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import Cores, children, free_port, spawn, stop, wait_http, wait_port

MODELS = ("m-fast", "m-paced", "m-hold")
CHAT_PATH = "/v1/chat/completions"
#: Generous but set: the limiter does its full work on every request.
KEY_LIMITS = ("--rpm", "100000000", "--tpm", "100000000000", "--concurrency", "100000")


@dataclass
class Server:
    """A running process the harness started."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    key: str | None = None
    startup_s: float | None = None
    tree: bool = False  # memory is the sum of the process and its children
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{CHAT_PATH}"

    def pids(self) -> list[int]:
        """The processes whose memory counts for this server."""
        return [self.proc.pid, *children(self.proc.pid)] if self.tree else [self.proc.pid]

    def stop(self) -> None:
        stop(self.proc)


def _bench_module(
    cpus: list[str], work: Path, module: str, log: str, *args: str
) -> tuple[subprocess.Popen[bytes], int, float]:
    """``python -m bench.<module> --port P ARGS`` pinned by ``cpus``, once its port
    listens: (process, port, seconds to listening)."""
    port = free_port()
    cmd = [*cpus, sys.executable, "-m", f"bench.{module}", "--port", str(port), *args]
    t0 = time.monotonic()
    proc = spawn(cmd, work / log, cwd=_repo())
    wait_port(port, 15)
    return proc, port, time.monotonic() - t0


def start_mock(cores: Cores, work: Path, chunks: int, delay_ms: float) -> Server:
    """The mock upstream on the load CPU."""
    args = ("--chunks", str(chunks), "--delay-ms", str(delay_ms))
    proc, port, _ = _bench_module(
        cores.prefix(cores.load), work, "mock_upstream", "mock.log", *args
    )
    return Server("mock", proc, port)


def start_passthrough(cores: Cores, work: Path, upstream_port: int) -> Server:
    """The bare aiohttp proxy on the server CPU."""
    upstream = f"http://127.0.0.1:{upstream_port}"
    proc, port, took = _bench_module(
        cores.prefix(cores.server), work, "passthrough", "passthrough.log", "--upstream", upstream
    )
    return Server("pass-through", proc, port, startup_s=took)


def start_floor(cores: Cores, work: Path, upstream_port: int, level: int, name: str) -> Server:
    """``bench.floor`` at ``level`` on the server CPU, its access lines in ``work``."""
    proc, port, took = _bench_module(
        cores.prefix(cores.server),
        work,
        "floor",
        f"floor-{level}.log",
        "--upstream",
        f"http://127.0.0.1:{upstream_port}",
        "--level",
        str(level),
        "--log-file",
        str(work / f"floor-{level}-access.log"),
    )
    return Server(name, proc, port, startup_s=took)


def start_redis(cores: Cores, work: Path) -> Server:
    """A throw-away redis-server on the load CPU (no persistence)."""
    port = free_port()
    cmd = [
        *cores.prefix(cores.load),
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(work),
    ]
    proc = spawn(cmd, work / "redis.log")
    wait_port(port, 15)
    return Server("redis", proc, port)


def redis_cli(port: int, *args: str) -> str:
    """Run one redis-cli command against the harness's Redis."""
    return subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True
    ).stdout


def router_config(
    work: Path, mock_port: int, *, backend: str, redis_port: int | None, name: str
) -> Path:
    """A config file as an operator would run it: auth, limits, metrics, JSON logs on."""
    models = ", ".join(f'"{m}"' for m in MODELS)
    lines = [
        "[server]",
        'host = "127.0.0.1"',
        "max_connections = 0",
        "[state]",
        f'backend = "{backend}"',
        f'sqlite_path = "{(work / (name + ".db")).as_posix()}"',
        f'redis_url = "redis://127.0.0.1:{redis_port or 6379}/0"',
        "[auth]",
        "bootstrap_demo_key = false",
        "[logging]",
        'format = "json"',
        'level = "info"',
        "access_log = true",
        "[metrics]",
        "enabled = true",
        "[upstream]",
        # 10,000 held streams need as many pooled upstream connections
        "pool_size = 20000",
        "[providers.mock]",
        'plugin = "openai"',
        f'settings = {{ base_url = "http://127.0.0.1:{mock_port}/v1", api_key = "k", '
        f"models = [{models}] }}",
    ]
    for m in MODELS:
        lines += [f'[providers.mock.models."{m}"]', "context_length = 128000"]
    for m in MODELS:
        lines += [f'[routes."{m}"]', f'deployments = ["mock/{m}"]']
    path = work / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cli(config: Path, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "router_core.cli", "--config", str(config), *args, "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=_repo(),
    ).stdout
    parsed: dict[str, object] = json.loads(out)
    return parsed


def create_key(config: Path) -> str:
    """An account and a key with generous limits, through the CLI."""
    account = _cli(config, "accounts", "create", "bench")
    made = _cli(config, "keys", "create", str(account["id"]), "--name", "bench", *KEY_LIMITS)
    return str(made["secret"])


def start_router(
    cores: Cores, work: Path, config: Path, *, name: str, cpus: str, workers: int = 1
) -> Server:
    """``viberouter serve`` pinned to ``cpus``; start-up is timed to the first ready /readyz."""
    port = free_port()
    cmd = [
        *cores.prefix(cpus),
        sys.executable,
        "-m",
        "router_core.cli",
        "--config",
        str(config),
        "serve",
        "--port",
        str(port),
    ]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    t0 = time.monotonic()
    proc = spawn(cmd, work / f"router-{name}.log", cwd=work)
    try:
        wait_http(port, "/readyz", 30)
    except TimeoutError:
        stop(proc)
        raise
    startup = time.monotonic() - t0
    if workers > 1:
        # every worker must be up before load starts: give the slower ones a moment
        deadline = time.monotonic() + 15
        while len(children(proc.pid)) < workers and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
    return Server(name, proc, port, startup_s=startup, tree=workers > 1)


def start_litellm(cores: Cores, work: Path, venv: Path, mock_port: int) -> Server:
    """LiteLLM's proxy (installed in its own venv) on the same mock and CPU."""
    port = free_port()
    key = "sk-bench-litellm"
    cfg = work / "litellm.yaml"
    entries = "".join(
        f"  - model_name: {m}\n    litellm_params:\n      model: openai/{m}\n"
        f"      api_base: http://127.0.0.1:{mock_port}/v1\n      api_key: k\n"
        for m in MODELS
    )
    cfg.write_text(f"model_list:\n{entries}general_settings:\n  master_key: {key}\n")
    cmd = [
        *cores.prefix(cores.server),
        str(venv / "bin" / "litellm"),
        "--config",
        str(cfg),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--num_workers",
        "1",
    ]
    t0 = time.monotonic()
    proc = spawn(cmd, work / "litellm.log", cwd=work)
    try:
        wait_http(port, "/health/readiness", 120)
    except TimeoutError:
        stop(proc)
        raise
    return Server("LiteLLM proxy", proc, port, key=key, startup_s=time.monotonic() - t0)


def ensure_litellm(venv: Path) -> Path:
    """Create ``venv`` with LiteLLM's proxy from PyPI unless it is already there."""
    if not (venv / "bin" / "litellm").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True)
    return venv


def _repo() -> Path:
    return Path(__file__).resolve().parent.parent
