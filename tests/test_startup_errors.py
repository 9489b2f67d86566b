"""A router that cannot start says so in one line and exits 1: its port taken, its
Redis unreachable (the password in the URL masked), also under --workers."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tests.router_process import run_cli
from tests.services import free_port


def serve(cfg: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(cfg, "serve", *extra, cwd=cfg.parent)


def one_line(got: subprocess.CompletedProcess[str]) -> str:
    assert got.returncode == 1, got.stdout + got.stderr
    assert "Traceback" not in got.stderr + got.stdout
    assert '"listening"' not in got.stdout + got.stderr  # never claimed before failing
    lines = [line for line in got.stderr.splitlines() if line.startswith("viberouter:")]
    assert len(lines) == 1, got.stderr
    return lines[0]


def test_port_in_use(tmp_path: Path) -> None:
    cfg = tmp_path / "r.toml"
    port = free_port()
    cfg.write_text(f'[server]\nport = {port}\n[providers.echo]\nplugin = "echo"\n')
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        line = one_line(serve(cfg))
    assert f"cannot listen on 127.0.0.1:{port}" in line and "--port" in line


def test_redis_unreachable(tmp_path: Path) -> None:
    cfg = tmp_path / "r.toml"
    cfg.write_text(
        f'[server]\nport = {free_port()}\n[state]\nbackend = "redis"\n'
        'redis_url = "redis://:s3cret@127.0.0.1:1/0"\n[providers.echo]\nplugin = "echo"\n'
    )
    line = one_line(serve(cfg))
    assert "cannot open the redis state at redis://***@127.0.0.1:1/0" in line
    assert "state.redis_url" in line and "s3cret" not in line
    workers = serve(cfg, "--workers", "2")  # each worker says it once, and the run fails
    assert workers.returncode == 1 and "Traceback" not in workers.stderr
    lines = workers.stderr.strip().splitlines()
    assert len(lines) == 2 and all("cannot open the redis state at" in x for x in lines)
    assert "s3cret" not in workers.stderr + workers.stdout
