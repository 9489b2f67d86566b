"""Process plumbing for the harness: free ports, CPU pinning, memory, readiness."""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

#: File descriptors each process may hold: 10,000 streams need two sockets each.
NOFILE = 65536


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile() -> int:
    """Raise this process's descriptor limit (children inherit it); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (NOFILE, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
            return max(want, soft)
        except (ValueError, OSError):
            continue
    return soft


def rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (0 when it is gone)."""
    return _status_field(pid, "VmRSS:")


def hwm_kb(pid: int) -> int:
    """Peak resident memory of ``pid`` in KiB."""
    return _status_field(pid, "VmHWM:")


def _status_field(pid: int, name: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(name):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid``."""
    out: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces or parentheses: parse after its closing ')'
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


class Cores:
    """Which CPUs the server under test and the load side run on."""

    def __init__(self) -> None:
        cpus = sorted(os.sched_getaffinity(0))
        self.available = cpus
        self.pinned = len(cpus) >= 2 and shutil.which("taskset") is not None
        self.server = str(cpus[0])
        self.load = str(cpus[1]) if len(cpus) >= 2 else str(cpus[0])
        self.both = f"{cpus[0]},{cpus[1]}" if len(cpus) >= 2 else str(cpus[0])

    def prefix(self, cpus: str) -> list[str]:
        """``taskset -c cpus`` when pinning is possible, else nothing."""
        return ["taskset", "-c", cpus] if self.pinned else []


def wait_http(port: int, path: str, timeout: float, status: int = 200) -> float:
    """Poll ``GET path`` until it answers ``status``; returns the seconds waited."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    want = f" {status} ".encode()
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(request)
                head = s.recv(64)
                if want in head.split(b"\r\n", 1)[0] + b" ":
                    return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.005)
    raise TimeoutError(f"127.0.0.1:{port}{path} not answering {status} after {timeout}s")


def wait_port(port: int, timeout: float) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.01)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate ``proc`` (and wait); kill it if it lingers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def spawn(
    cmd: Sequence[str], log: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with stdout and stderr going to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
