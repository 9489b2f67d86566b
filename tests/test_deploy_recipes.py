"""The files docs/deploy.md ships, exercised as far as these machines allow: nginx and
Caddy in front of a real router with TLS (streams must pass unbuffered), the Prometheus
scrape config through promtool, the container recipe's commands run in a scratch folder,
and the systemd unit's commands and timings."""

from __future__ import annotations

import asyncio
import configparser
import json
import os
import re
import shlex
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.router_process import RouterProcess, start_router_process
from tests.services import free_port, require_binary, wait_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "docs" / "deploy"
VENV_BIN = Path(sys.executable).parent

STREAMING_CONFIG = """
[state]
sqlite_path = "router.db"

[providers.echo]
plugin = "echo"
settings = { delay_ms = 150 }

[routes.echo]
deployments = ["echo/echo-1"]
"""


@pytest.fixture
def router(tmp_path: Path) -> Iterator[RouterProcess]:
    cfg = tmp_path / "router.toml"
    cfg.write_text(STREAMING_CONFIG)
    proc = start_router_process(cfg, tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    openssl = require_binary("openssl", "openssl")
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=gateway.example.com",
            "-addext",
            "subjectAltName=DNS:gateway.example.com",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


async def stream_through(port: int, cert: Path, key: str) -> list[float]:
    """A streamed chat request over TLS to ``port``, verifying the certificate's name
    gateway.example.com; the arrival time of every SSE event, asserting the stream is whole."""
    ctx = ssl.create_default_context(cafile=str(cert))
    body = {
        "model": "echo",
        "stream": True,
        "messages": [{"role": "user", "content": "one two three four five six"}],
    }
    headers = {"Host": "gateway.example.com", "Authorization": f"Bearer {key}"}
    arrivals: list[float] = []
    text = b""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"https://127.0.0.1:{port}/v1/chat/completions",
            json=body,
            headers=headers,
            ssl=ctx,
            server_hostname="gateway.example.com",
            timeout=aiohttp.ClientTimeout(total=30),
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()
        async for line in resp.content:
            text += line
            if line.startswith(b"data: "):
                arrivals.append(time.monotonic())
    assert b"data: [DONE]" in text
    assert text.count(b'"content"') >= 6
    return arrivals


def assert_unbuffered(arrivals: list[float]) -> None:
    # The echo model spaces its tokens 150 ms apart: a proxy that buffered the stream would
    # hand every event over at once at the end; one that passes them on spreads them out.
    assert len(arrivals) >= 7
    assert arrivals[-1] - arrivals[0] >= 0.5, arrivals


def test_nginx_site_with_tls_streams_unbuffered(
    tmp_path: Path, router: RouterProcess, certificate: tuple[Path, Path]
) -> None:
    nginx = require_binary("nginx", "nginx")
    cert, key = certificate
    port = free_port()
    site = (DEPLOY / "nginx-site.conf").read_text()
    for shipped, here in (
        ("listen 443 ssl", f"listen 127.0.0.1:{port} ssl"),
        ("/etc/ssl/viberouter/fullchain.pem", str(cert)),
        ("/etc/ssl/viberouter/privkey.pem", str(key)),
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{router.port};"),
    ):
        assert shipped in site, shipped
        site = site.replace(shipped, here)
    (tmp_path / "site.conf").write_text(site)
    tmp = tmp_path / "nginx-tmp"
    tmp.mkdir()
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"daemon off;\npid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\n"
        "events {}\nhttp {\n"
        f"  access_log off;\n  client_body_temp_path {tmp}/body;\n"
        f"  proxy_temp_path {tmp}/proxy;\n  fastcgi_temp_path {tmp}/fcgi;\n"
        f"  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
        f"  include {tmp_path / 'site.conf'};\n}}\n"
    )
    checked = subprocess.run([nginx, "-t", "-c", str(main)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen([nginx, "-c", str(main)], stderr=subprocess.PIPE)
    try:
        wait_port(port)
        assert_unbuffered(asyncio.run(stream_through(port, cert, router.demo_key())))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_caddyfile_with_tls_streams_unbuffered(
    tmp_path: Path, router: RouterProcess, certificate: tuple[Path, Path]
) -> None:
    caddy = require_binary("caddy", "caddy")
    cert, key = certificate
    port = free_port()
    shipped = (DEPLOY / "Caddyfile").read_text()
    assert "gateway.example.com {" in shipped and "reverse_proxy 127.0.0.1:8080 {" in shipped
    # Here: no ACME (a given certificate), a loopback port, no admin endpoint.
    conf = shipped.replace(
        "gateway.example.com {",
        f"https://gateway.example.com:{port} {{\n\tbind 127.0.0.1\n\ttls {cert} {key}",
    )
    conf = conf.replace("127.0.0.1:8080", f"127.0.0.1:{router.port}")
    conf = (
        "{\n\tadmin off\n\tauto_https disable_redirects\n\tstorage file_system "
        f"{tmp_path / 'caddy'}\n}}\n" + conf
    )
    (tmp_path / "Caddyfile").write_text(conf)
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    proc = subprocess.Popen(
        [caddy, "run", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        wait_port(port, timeout=20)
        assert_unbuffered(asyncio.run(stream_through(port, cert, router.demo_key())))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_prometheus_scrape_config_is_valid() -> None:
    promtool = require_binary("promtool", "prometheus")
    got = subprocess.run(
        [promtool, "check", "config", str(DEPLOY / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert got.returncode == 0, got.stdout + got.stderr


def _instructions(name: str) -> list[tuple[str, str]]:
    lines = (DEPLOY / "Containerfile").read_text().splitlines()
    return [
        tuple(line.split(" ", 1))
        for line in lines  # type: ignore[misc]
        if line and not line.startswith("#") and line.split(" ", 1)[0] == name
    ]


def test_container_recipe_commands_build_a_working_install(tmp_path: Path) -> None:
    """Every RUN line and the CMD of the Containerfile, with its absolute paths mapped
    into a scratch folder (no container engine runs on these machines)."""
    mapping = {
        "/src": str(ROOT),
        "/opt/viberouter": str(tmp_path / "opt"),
        "/etc/viberouter": str(tmp_path / "etc"),
        "/var/lib/viberouter": str(tmp_path / "var"),
    }

    def local(text: str) -> str:
        for shipped, here in mapping.items():
            text = text.replace(shipped, here)
        return text

    runs = _instructions("RUN")
    assert len(runs) == 3
    for _, command in runs:
        done = subprocess.run(
            ["bash", "-ec", local(command)],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    config = (tmp_path / "etc" / "viberouter.toml").read_text()
    assert 'host = "0.0.0.0"' in config and str(tmp_path / "var" / "viberouter.db") in config
    # The image serves on 0.0.0.0; here the same config on a loopback port.
    port = free_port()
    (tmp_path / "etc" / "viberouter.toml").write_text(
        config.replace('host = "0.0.0.0"', 'host = "127.0.0.1"').replace(
            "port = 8080", f"port = {port}"
        )
    )
    [(_, cmd)] = _instructions("CMD")
    argv = [local(a) for a in json.loads(cmd)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_port(port, timeout=30)
        assert (tmp_path / "var" / "viberouter.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)  # STOPSIGNAL
        assert proc.wait(timeout=30) == 0


def test_systemd_unit_commands_and_timings(tmp_path: Path) -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "viberouter.service")
    service = unit["Service"]
    assert service["KillSignal"] == "SIGTERM"
    # systemd must wait longer than the drain the router does on SIGTERM.
    from router_core.settings import ServerSettings

    assert int(service["TimeoutStopSec"]) > ServerSettings().shutdown_timeout_s
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"  # tests/test_reload.py
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == "/opt/viberouter/bin/viberouter"
    assert argv[1:] == ["--config", "/etc/viberouter/viberouter.toml", "serve"]
    # The command as systemd would run it, against a starter config in a scratch /etc.
    etc = tmp_path / "etc"
    init = subprocess.run(
        [str(VENV_BIN / "viberouter"), "init", str(etc)], capture_output=True, text=True, timeout=60
    )
    assert init.returncode == 0, init.stderr
    port = free_port()
    cfg = etc / "viberouter.toml"
    cfg.write_text(re.sub(r"(?m)^port = \d+", f"port = {port}", cfg.read_text()))
    proc = subprocess.Popen(
        [str(VENV_BIN / "viberouter"), "--config", str(cfg), "serve"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=int(service["TimeoutStopSec"])) == 0
