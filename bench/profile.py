"""``python -m bench.profile``: the router (embedded) under load, sampled by py-spy.

Starts the mock and the router (or, with ``--floor N``, ``bench.floor`` at rung N)
exactly as the benchmark does, drives plain requests
(wrk) or streams (the asyncio client), records with ``py-spy record --format raw``
(collapsed stacks) and prints where the time goes: own time per function, and the
time under each ``router_core`` function. ``py-spy`` comes from PyPI (``pip install
py-spy``) and needs ptrace rights (root, or CAP_SYS_PTRACE).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from bench.client import request_body
from bench.floor import BENCH_KEY
from bench.ladder import start_floor
from bench.procs import Cores, raise_nofile
from bench.servers import create_key, router_config, start_mock, start_redis, start_router
from bench.wrk import run_wrk, write_script

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _label(frame: str) -> str:
    m = _FRAME.match(frame)
    if m is None:
        return frame
    path = m.group("file")
    for marker in ("router_core/", "viberouter_openai/", "site-packages/", "python3.11/"):
        i = path.find(marker)
        if i >= 0:
            path = path[i:].replace("site-packages/", "")
            break
    return f"{m.group('func')} ({path})"


def summarize(collapsed: str, top: int = 25) -> str:
    """Own and inclusive sample shares from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_label(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "own time (top):"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive time of router_core / plugin functions (top):"]
    ours = [(f, n) for f, n in inclusive.items() if "router_core/" in f or "viberouter_" in f]
    ours.sort(key=lambda fn: -fn[1])
    lines += [f"  {n / total:6.1%}  {f}" for f, n in ours[:top]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry: ``python -m bench.profile [--stream] [--seconds N]``."""
    parser = argparse.ArgumentParser(description="profile the router under load")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--stream", action="store_true", help="streams instead of plain requests")
    parser.add_argument("--out", type=Path, help="keep the collapsed stacks here")
    parser.add_argument("--redis", action="store_true", help="the Redis backend (redis-server)")
    parser.add_argument(
        "--floor", type=int, metavar="LEVEL", help="profile bench.floor at LEVEL, not the router"
    )
    args = parser.parse_args(argv)
    # the venv's bin is not on PATH when the venv's python is called directly
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        print("bench.profile: py-spy is required (pip install py-spy)", file=sys.stderr)
        return 2
    raise_nofile()
    cores = Cores()
    with tempfile.TemporaryDirectory(prefix="viberouter-profile-") as tmp:
        work = Path(tmp)
        mock = start_mock(cores, work, 10, 5.0)
        redis = start_redis(cores, work) if args.redis else None
        cfg = router_config(
            work,
            mock.port,
            backend="embedded" if redis is None else "redis",
            redis_port=None if redis is None else redis.port,
            name="profile",
        )
        if args.floor:
            router = start_floor(cores, work, mock.port, args.floor)
            key = BENCH_KEY
        else:
            key = create_key(cfg)
            router = start_router(cores, work, cfg, name="profile", cpus=cores.server)
            router.key = key
        raw = args.out or work / "stacks.txt"
        try:
            script = write_script(work / "p.lua", request_body("m-fast", False), key)
            run_wrk(cores.prefix(cores.load), router.url, script, connections=16, seconds=1)
            spy_proc = subprocess.Popen(
                [
                    spy,
                    "record",
                    "-p",
                    str(router.proc.pid),
                    "-d",
                    str(round(args.seconds)),
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    str(raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            load = threading.Thread(target=_load, args=(cores, router.url, key, script, args))
            load.start()
            load.join()
            spy_proc.wait(timeout=args.seconds + 60)
        finally:
            router.stop()
            mock.stop()
            if redis is not None:
                redis.stop()
        if not raw.exists():
            print("bench.profile: py-spy wrote nothing (ptrace rights?)", file=sys.stderr)
            return 1
        print(summarize(raw.read_text()))
    return 0


def _load(cores: Cores, url: str, key: str, script: Path, args: argparse.Namespace) -> None:
    if args.stream:
        subprocess.run(
            [
                *cores.prefix(cores.load),
                sys.executable,
                "-m",
                "bench.client",
                "streams",
                "--url",
                url,
                "--key",
                key,
                "--concurrency",
                "32",
                "--duration",
                str(args.seconds),
            ],
            check=True,
            capture_output=True,
        )
    else:
        run_wrk(cores.prefix(cores.load), url, script, connections=64, seconds=args.seconds)


if __name__ == "__main__":
    sys.exit(main())
