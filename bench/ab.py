"""``python -m bench.ab --base DIR [--rounds N]``: interleaved A/B of two checkouts.

On a shared, loaded machine absolute figures drift from minute to minute, so this
runs the bare pass-through, router A (``--base`` and its bundled plugins put first on
``PYTHONPATH``: another checkout, or a directory that shadows one module) and router B
(this checkout) side by side, all started once (``--redis``: both on one Redis backend; with
``--a-embedded`` A stays embedded, to price the Redis path itself), and measures
them turn by turn, the order rotated each round (bench/rounds.py): plain requests
(wrk) and streams (the asyncio client). Each round's figure is divided by the
pass-through's from the same round; the report is the median of those ratios, and the server's CPU
time (utime + stime from /proc) per request or stream, which load moves less.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from bench.procs import Cores, raise_nofile, stop
from bench.rounds import interleave, summarize
from bench.servers import (
    Server,
    create_key,
    router_config,
    start_mock,
    start_passthrough,
    start_redis,
    start_router,
)


def _router(
    cores: Cores, work: Path, mock: Server, name: str, base: Path | None, redis: Server | None
) -> Server:
    backend = "embedded" if redis is None else "redis"
    port = None if redis is None else redis.port
    cfg = router_config(work, mock.port, backend=backend, redis_port=port, name=name)
    key = create_key(cfg)
    old = os.environ.get("PYTHONPATH")
    if base is not None:
        # the base's own plugins too: a plugin newer than the base's core is refused
        plugins = sorted(str(p) for p in (base / "plugins").glob("viberouter-*") if p.is_dir())
        os.environ["PYTHONPATH"] = os.pathsep.join([str(base), *plugins])
    try:
        server = start_router(cores, work, cfg, name=name, cpus=cores.server)
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    server.key = key
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab")
    parser.add_argument("--base", type=Path, required=True, help="checkout measured as A")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-streams", action="store_true")
    parser.add_argument("--redis", action="store_true", help="both routers on a Redis backend")
    parser.add_argument(
        "--a-embedded",
        action="store_true",
        help="with --redis: A on the embedded backend, B alone on Redis (the Redis path's "
        "cost in the same rounds; --base . measures this checkout against itself)",
    )
    args = parser.parse_args(argv)
    raise_nofile()
    cores = Cores()
    work = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    mock = start_mock(cores, work, 10, 5.0)
    servers: list[Server] = []
    redis = start_redis(cores, work) if args.redis else None
    try:
        servers.append(start_passthrough(cores, work, mock.port))
        a_redis = None if args.a_embedded else redis
        servers.append(_router(cores, work, mock, "A", args.base.resolve(), a_redis))
        servers.append(_router(cores, work, mock, "B", None, redis))
        rows = interleave(
            cores,
            work,
            servers,
            args.rounds,
            args.seconds,
            args.connections,
            with_streams=not args.no_streams,
        )
        for r in range(args.rounds):
            figures = {n: got[r] for n, got in rows.items()}
            print(f"round {r + 1}: {json.dumps(figures)}", file=sys.stderr)
        summary = summarize(rows, servers[0].name)
        summary = {("PT" if n == servers[0].name else n): f for n, f in summary.items()}
        print(json.dumps(summary, indent=1))
    finally:
        for s in servers:
            stop(s.proc)
        stop(mock.proc)
        if redis is not None:
            stop(redis.proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
