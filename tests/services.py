"""Real external services for tests: redis-server (and helpers shared by fixtures).

Under CI=true a missing binary is a failure, never a skip; locally it skips with a
reason that says how to get it.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free and valid too."""
    for _ in range(200):
        port = random.randrange(20_000, 55_000)
        try:
            for candidate in (port, port + 10_000):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def require_binary(name: str, debian_package: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    if IN_CI:
        pytest.fail(f"{name} is required under CI=true (.ci/run installs {debian_package})")
    pytest.skip(f"{name} not found; install it with: apt-get install {debian_package}")
    raise AssertionError("unreachable")


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen[bytes] | None
    binary: str
    workdir: Path
    #: Extra redis-server arguments (persistence, cluster mode, load delay ...).
    args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as in a crash (persistence decides what is left)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def freeze(self) -> None:
        """SIGSTOP: the port stays open, nothing answers."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def start(self) -> None:
        if self.proc is not None:
            return
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)


@contextmanager
def redis_server(
    tmp: Path, args: tuple[str, ...] = (), port: int | None = None
) -> Iterator[RedisServer]:
    binary = require_binary("redis-server", "redis-server")
    server = RedisServer(
        port=port or free_port(), proc=None, binary=binary, workdir=tmp, args=[*args]
    )
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.thaw()  # a frozen server ignores SIGTERM until it runs again
        server.stop()


@contextmanager
def redis_cluster(tmp: Path, masters: int = 3, password: str = "") -> Iterator[list[RedisServer]]:
    """A real Redis Cluster of ``masters`` primaries (no replicas) on loopback ports,
    created with ``redis-cli --cluster create``; yields once every slot is served.
    With ``password`` every node requires it (clients and the cluster bus)."""
    cli = require_binary("redis-cli", "redis-tools")
    with ExitStack() as stack:
        nodes = []
        for i in range(masters):
            workdir = tmp / f"node{i}"
            workdir.mkdir()
            conf: tuple[str, ...] = ("--cluster-enabled", "yes")
            conf += ("--cluster-config-file", str(workdir / "n.conf"))
            if password:
                conf += ("--requirepass", password, "--masterauth", password)
            nodes.append(stack.enter_context(redis_server(workdir, conf, free_cluster_port())))
        addresses = [f"127.0.0.1:{n.port}" for n in nodes]
        auth = ["--no-auth-warning", "-a", password] if password else []
        create = ["--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(
            [cli, *auth, *create],
            check=True,
            capture_output=True,
            timeout=60,
        )
        deadline = time.monotonic() + 20
        for node in nodes:
            while True:
                info = subprocess.run(
                    [cli, *auth, "-p", str(node.port), "cluster", "info"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                ).stdout
                if "cluster_state:ok" in info:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"cluster not ok after 20 s:\n{info}")
                time.sleep(0.05)
        yield nodes
