"""The router as a separate OS process (`viberouter serve`), for tests that need
more than one process or a fresh plugin discovery."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.services import free_port, wait_port

_KEY_RE = re.compile(r"\b(vr-[A-Za-z0-9_\-]{43})\b")


@dataclass
class RouterProcess:
    proc: subprocess.Popen[str]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def demo_key(self, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = _KEY_RE.search(self.output())
            if m:
                return m.group(1)
            time.sleep(0.05)
        raise AssertionError("no demo key printed:\n" + self.output())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_router_process(
    config: Path, tmp: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> RouterProcess:
    port = free_port()
    log_path = tmp / f"router-{port}.log"
    full_env = {**os.environ, **(env or {})}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "router_core.cli",
                "--config",
                str(config),
                "serve",
                "--port",
                str(port),
                *args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            text=True,
            cwd=tmp,
        )
    rp = RouterProcess(proc, port, log_path)
    try:
        wait_port(port, timeout=20)
    except TimeoutError as exc:
        rp.stop()
        raise AssertionError("router did not start:\n" + rp.output()) from exc
    return rp


def run_cli(
    config: Path, *argv: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``viberouter --config CONFIG ARGV...`` as a process, its output captured; no
    terminal on stdin (``stdin`` is piped in when given), bounded to a minute."""
    return subprocess.run(
        [sys.executable, "-m", "router_core.cli", "--config", str(config), *argv],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )
