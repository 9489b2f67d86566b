"""``python -m bench.run [--smoke] [--out DIR]``: every scenario, then the report.

Scenarios: direct to mock, pass-through, VibeRouter (embedded), VibeRouter (Redis),
VibeRouter ``--workers 2``; ``BENCH_WITH=litellm`` adds LiteLLM's proxy. The server
under test runs on one CPU, the mock, Redis and the load generators on another.
After the embedded scenario, the pass-through and a fresh embedded router run
interleaved rounds (bench/rounds.py): the throughput and CPU-per-stream targets are
judged on those rounds' median ratios, the single pass shown beside them.
``BENCH_SOAK=1`` adds the memory soak (``BENCH_SOAK_S`` seconds, default 600).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.measure import FULL, SMOKE, Plan, Row, held_streams, measure, redis_round_trips, soak
from bench.procs import NOFILE, Cores, raise_nofile
from bench.report import DIRECT, PASS_THROUGH, Target, find, render
from bench.rounds import interleave, plain_load, summarize
from bench.servers import (
    Server,
    create_key,
    ensure_litellm,
    redis_cli,
    router_config,
    start_litellm,
    start_mock,
    start_passthrough,
    start_redis,
    start_router,
)
from bench.wrk import wrk_binary

EMBEDDED = "VibeRouter (embedded)"
REDIS = "VibeRouter (Redis)"
WORKERS2 = "VibeRouter --workers 2 (Redis)"
LITELLM = "LiteLLM proxy"
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


@contextmanager
def running(server: Server) -> Iterator[Server]:
    """Stop ``server`` however the block ends."""
    try:
        yield server
    finally:
        server.stop()


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Bench:
    """One run: the shared mock and Redis, then each scenario in turn."""

    def __init__(self, plan: Plan, work: Path, environ: Mapping[str, str]) -> None:
        self.plan = plan
        self.work = work
        self.env = environ
        self.cores = Cores()
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.facts: dict[str, Any] = {}

    def run(self) -> None:
        limit = raise_nofile()
        self.notes.append(
            f"load average at start: {_loadavg()} (other work on the host skews figures)"
        )
        if limit < NOFILE:
            self.notes.append(f"descriptor limit {limit}: held streams capped accordingly")
        if not self.cores.pinned:
            self.notes.append(
                f"only CPUs {self.cores.available} (or no taskset): processes are NOT pinned"
            )
        else:
            self.notes.append(
                f"server under test on CPU {self.cores.server}; mock upstream, Redis and load "
                f"generators on CPU {self.cores.load}"
            )
        self.notes.append(
            f"mock streams: {self.plan.chunks} content chunks; paced streams wait "
            f"{self.plan.delay_ms} ms between chunks"
        )
        mock = start_mock(self.cores, self.work, self.plan.chunks, self.plan.delay_ms)
        with running(mock):
            self._scenario(DIRECT, lambda: mock, header=False, stop_after=False)
            self._scenario(
                PASS_THROUGH,
                lambda: start_passthrough(self.cores, self.work, mock.port),
                header=False,
            )
            self._embedded(mock)
            self._interleaved(mock)
            redis = start_redis(self.cores, self.work)
            with running(redis):
                self._redis(mock, redis)
                self._workers(mock, redis)
            if self.env.get("BENCH_WITH", "").lower() == "litellm":
                self._litellm(mock)
        self._dialect_cpu()

    def _dialect_cpu(self) -> None:
        """CPU per streamed event of the Anthropic front door against the chat path
        (``bench.micro_dialect``, in one process on the server's CPU)."""
        _log("anthropic front door: CPU per streamed event")
        loops = "300" if self.plan is FULL else "40"
        cmd = [*self.cores.prefix(self.cores.server), sys.executable, "-m", "bench.micro_dialect"]
        out = subprocess.run(
            [*cmd, "--json", "--loops", loops],
            capture_output=True,
            check=True,
            timeout=300,
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout
        figures: dict[str, float] = json.loads(out.splitlines()[-1])
        self.facts["anthropic_cpu_us_per_event"] = figures
        self.notes.append(
            "CPU per streamed event, in-process (bench.micro_dialect): "
            + ", ".join(f"{name} {us:.2f} µs" for name, us in figures.items())
        )

    def _scenario(
        self,
        name: str,
        start: Callable[[], Server],
        *,
        header: bool,
        stop_after: bool = True,
        then: Callable[[Server, Row], None] | None = None,
    ) -> Row:
        _log(f"scenario: {name}")
        server = start()
        try:
            row = measure(self.cores, self.work, server, self.plan, overhead_header=header)
            row.name = name
            if then is not None:
                then(server, row)
        finally:
            if stop_after:
                server.stop()
        self.rows.append(row)
        _log(f"  {name}: {json.dumps(asdict(row), default=str)}")
        return row

    def _router(
        self, mock: Server, name: str, backend: str, redis: Server | None
    ) -> tuple[Path, str]:
        """A config file for this scenario and a key created through the CLI."""
        tag = name.split()[-1].strip("()").lower().replace("-", "")
        cfg = router_config(
            self.work,
            mock.port,
            backend=backend,
            redis_port=redis.port if redis else None,
            name=f"router-{tag}-{len(self.rows)}",
        )
        key = create_key(cfg)
        return cfg, key

    def _embedded(self, mock: Server) -> None:
        cfg, key = self._router(mock, EMBEDDED, "embedded", None)

        def start() -> Server:
            s = start_router(self.cores, self.work, cfg, name="embedded", cpus=self.cores.server)
            s.key = key
            return s

        def then(server: Server, row: Row) -> None:
            if self.env.get("BENCH_SOAK", "") not in ("", "0"):
                seconds = float(self.env.get("BENCH_SOAK_S", "600"))
                rate = max(1.0, (row.rps or 100.0) / 2)
                _log(f"  soak: {rate:.0f} req/s for {seconds:.0f} s")
                self.facts["soak"] = soak(self.cores, server, rate, seconds)
                row.errors += self.facts["soak"]["errors"]
            count = self.plan.hold_streams
            limit = raise_nofile()
            if limit < 2 * count + 200:
                count = max(10, (limit - 200) // 2)
                row.notes.append(f"held streams capped at {count} by the descriptor limit")
            _log(f"  holding {count} open streams")
            held = held_streams(self.cores, server, count)
            self.facts["held"] = held
            row.errors += held["errors"]
            row.notes.append(
                f"{held['held']} streams held open at once: RSS {held['rss_before_kb'] / 1024:.1f}"
                f" -> {held['rss_held_kb'] / 1024:.1f} MB, "
                f"{held['kb_per_stream'] or 0:.1f} KB per stream "
                f"(opened in {held['open_seconds']:.1f} s)"
            )

        self._scenario(EMBEDDED, start, header=True, then=then)

    def _interleaved(self, mock: Server) -> None:
        """The pass-through and a fresh embedded router in interleaved rounds
        (bench/rounds.py): the figures the throughput and CPU targets are judged on,
        as one pass per scenario puts each in a different minute of the host."""
        plan = self.plan
        _log(f"interleaved rounds: {plan.rounds} x {plan.round_s:g} s, pass-through and embedded")
        cfg, key = self._router(mock, EMBEDDED, "embedded", None)
        pt = start_passthrough(self.cores, self.work, mock.port)
        try:
            vr = start_router(self.cores, self.work, cfg, name="rounds", cpus=self.cores.server)
            vr.key = key
            try:
                if plan.warmup_s:
                    for srv in (pt, vr):
                        plain_load(
                            self.cores, self.work, srv, plan.warmup_s, plan.stream_concurrency
                        )
                rows = interleave(
                    self.cores,
                    self.work,
                    [pt, vr],
                    plan.rounds,
                    plan.round_s,
                    plan.stream_concurrency,
                    progress=lambda msg: _log(f"  {msg}"),
                )
            finally:
                vr.stop()
        finally:
            pt.stop()
        summary = summarize(rows, pt.name)
        self.facts["interleaved"] = {"pt": summary[pt.name], "router": summary[vr.name]}
        row = find(self.rows, EMBEDDED)
        if row is not None:
            row.errors += int(summary[vr.name]["errors"])
        p, r = summary[pt.name], summary[vr.name]
        self.notes.append(
            f"interleaved rounds ({plan.rounds} x {plan.round_s:g} s, {plan.stream_concurrency} "
            f"connections, medians of per-round ratios): requests/s {r['rps_xPT']:.2f}x the "
            f"pass-through's, streams/s {r['sps_xPT']:.2f}x; CPU per request "
            f"{r['cpu_us_per_req']:.0f} vs {p['cpu_us_per_req']:.0f} µs, per stream "
            f"{r['cpu_us_per_stream']:.0f} vs {p['cpu_us_per_stream']:.0f} µs"
        )

    def _redis(self, mock: Server, redis: Server) -> None:
        redis_cli(redis.port, "FLUSHALL")
        cfg, key = self._router(mock, REDIS, "redis", redis)

        def start() -> Server:
            s = start_router(self.cores, self.work, cfg, name="redis", cpus=self.cores.server)
            s.key = key
            return s

        def then(server: Server, row: Row) -> None:
            trips = redis_round_trips(
                self.cores, server, redis.port, self.work, self.plan.sequential
            )
            self.facts["redis"] = trips
            row.notes.append(
                f"Redis over {trips['requests']} sequential requests: "
                f"{trips['client_commands_per_request']} commands sent per request "
                f"({_counts(trips['client_commands'])}); admission scripts per request "
                f"{trips['acquire_scripts_per_request']}, settle scripts "
                f"{trips['settle_scripts_per_request']} (MONITOR). INFO commandstats, "
                f"script-internal commands included: {_counts(trips['calls_incl_scripts'])}"
            )

        self._scenario(REDIS, start, header=True, then=then)

    def _workers(self, mock: Server, redis: Server) -> None:
        redis_cli(redis.port, "FLUSHALL")
        cfg, key = self._router(mock, WORKERS2, "redis", redis)

        def start() -> Server:
            s = start_router(
                self.cores, self.work, cfg, name="workers2", cpus=self.cores.both, workers=2
            )
            s.key = key
            return s

        row = self._scenario(WORKERS2, start, header=True)
        row.notes.append(
            f"two workers on CPUs {self.cores.both}: they share these CPUs with the mock, "
            "Redis and the load generators, so the scaling figure is a lower bound; "
            "memory is the sum over the master and its workers"
        )

    def _litellm(self, mock: Server) -> None:
        venv = Path(
            self.env.get("BENCH_LITELLM_VENV", Path.home() / ".cache" / "viberouter-bench-litellm")
        )
        _log(f"installing LiteLLM proxy into {venv} (first run only)")
        try:
            ensure_litellm(venv)
        except subprocess.CalledProcessError as exc:
            self.notes.append(f"LiteLLM could not be installed: {exc}")
            return
        self._scenario(
            LITELLM, lambda: start_litellm(self.cores, self.work, venv, mock.port), header=False
        )

    # ------------------------------------------------------------------ targets

    def targets(self) -> list[Target]:
        """Each target of the issue against this run's figures."""
        rows = self.rows
        direct, pt = find(rows, DIRECT), find(rows, PASS_THROUGH)
        vr, rd, w2 = find(rows, EMBEDDED), find(rows, REDIS), find(rows, WORKERS2)
        out: list[Target] = []
        assert direct and pt and vr
        rounds = self.facts.get("interleaved")
        out.append(
            _rounds_target(
                "non-streaming throughput", vr.rps, pt.rps, rounds, "rps_xPT", self.plan.rounds
            )
        )
        added = _minus(vr.c1_p50_ms, direct.c1_p50_ms)
        pt_added = _minus(pt.c1_p50_ms, direct.c1_p50_ms)
        out.append(
            Target(
                "added latency p50 @1",
                "<= 1.3 x PT's added p50",
                f"{added:.3f} ms vs PT {pt_added:.3f} ms ({added / pt_added:.2f}x)"
                if added is not None and pt_added
                else "n/a",
                None if added is None or pt_added is None else added <= 1.3 * pt_added,
            )
        )
        out.append(
            _above_target("latency p99 @1", "<= PT p99 + 1 ms", vr.c1_p99_ms, pt.c1_p99_ms, 1.0)
        )
        out.append(
            _rounds_target(
                "streams/s", vr.streams_per_s, pt.streams_per_s, rounds, "sps_xPT", self.plan.rounds
            )
        )
        if rounds:
            mine, base = rounds["router"]["cpu_us_per_stream"], rounds["pt"]["cpu_us_per_stream"]
            out.append(
                Target(
                    "CPU per stream",
                    "<= 1.5 x PT's",
                    f"{mine:.0f} µs vs PT {base:.0f} µs ({mine / base:.2f}x, interleaved rounds)",
                    mine <= 1.5 * base,
                )
            )
        vr_ttft = _minus(vr.ttft_p50_ms, direct.ttft_p50_ms)
        pt_ttft = _minus(pt.ttft_p50_ms, direct.ttft_p50_ms)
        out.append(_above_target("added TTFT p50", "<= PT's + 0.3 ms", vr_ttft, pt_ttft, 0.3))
        gap = _minus(vr.gap_p50_ms, direct.gap_p50_ms)
        out.append(
            Target(
                "inter-chunk gap p50",
                "upstream's ± 0.2 ms",
                f"{vr.gap_p50_ms} ms vs upstream {direct.gap_p50_ms} ms"
                if gap is not None
                else "n/a",
                None if gap is None else abs(gap) <= 0.2,
            )
        )
        held = self.facts.get("held")
        kb = held.get("kb_per_stream") if held else None
        # Capped by the descriptor limit (two per stream in the router), the figure is
        # judged at the count held: a stream's RSS does not grow with the count.
        capped = held is not None and held["requested"] < self.plan.hold_streams
        cap_note = " (all the descriptor limit allows)" if capped else ""
        out.append(
            Target(
                f"{self.plan.hold_streams:,} open streams in one process",
                "<= 30 KB RSS each",
                f"{held['held']:,} held{cap_note}, {kb:.1f} KB each"
                if held and kb is not None
                else "n/a",
                None if kb is None else kb <= 30.0 and held["held"] >= held["requested"],
            )
        )
        out.append(
            Target(
                "idle RSS",
                "<= 60 MB",
                f"{vr.idle_rss_mb} MB",
                None if vr.idle_rss_mb is None else vr.idle_rss_mb <= 60,
            )
        )
        out.append(
            Target(
                "start-up to ready",
                "<= 1 s",
                f"{vr.startup_s:.2f} s" if vr.startup_s is not None else "n/a",
                None if vr.startup_s is None else vr.startup_s <= 1.0,
            )
        )
        sk = self.facts.get("soak")
        growth = sk.get("growth_pct") if sk else None
        out.append(
            Target(
                "memory over the soak (half load)",
                "< 5% growth after warm-up",
                f"{sk['rss_after_warmup_mb']} -> {sk['rss_end_mb']} MB ({growth}%)"
                if sk and growth is not None
                else "not run (BENCH_SOAK=1)",
                None if growth is None else growth < 5.0,
            )
        )
        rt = self.facts.get("redis")
        out.append(
            Target(
                "Redis round trips per admission",
                "<= 1",
                f"{rt['acquire_scripts_per_request']} admission scripts, "
                f"{rt['client_commands_per_request']} commands sent per request"
                if rt
                else "n/a",
                None if not rt else rt["acquire_scripts_per_request"] <= 1.0,
            )
        )
        cpu = self.facts.get("anthropic_cpu_us_per_event")
        native, chat = (cpu["anthropic native"], cpu["chat"]) if cpu else (None, None)
        out.append(
            Target(
                "Anthropic pass-through CPU per streamed event",
                "<= the chat path's",
                f"{native:.2f} µs vs chat {chat:.2f} µs ({native / chat:.2f}x)"
                if native is not None and chat
                else "n/a",
                None if native is None or chat is None else native <= chat,
            )
        )
        if rd and w2:
            out.append(
                _ratio_target(
                    "--workers 2 scaling", ">= 1.8 x one Redis worker", w2.rps, rd.rps, 1.8
                )
            )
        return out


def _loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def _counts(calls: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(calls.items()))


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _ratio_target(
    name: str, goal: str, value: float | None, base: float | None, need: float
) -> Target:
    if value is None or not base:
        return Target(name, goal, "n/a", None)
    ratio = value / base
    return Target(name, goal, f"{value:,.0f} vs {base:,.0f} ({ratio:.2f}x)", ratio >= need)


def _rounds_target(
    name: str,
    single: float | None,
    single_base: float | None,
    rounds: dict[str, dict[str, float]] | None,
    key: str,
    count: int,
) -> Target:
    """A throughput target judged on the interleaved rounds' median ratio (the single
    pass shown beside it), or on the single pass when no rounds ran."""
    goal = ">= 0.70 x PT"
    if not rounds:
        return _ratio_target(name, goal, single, single_base, 0.70)
    ratio = rounds["router"][key]
    once = f"{single / single_base:.2f}x" if single and single_base else "n/a"
    return Target(
        name,
        goal,
        f"{ratio:.2f}x, median of {count} interleaved round(s) (single pass: {once})",
        ratio >= 0.70,
    )


def _above_target(
    name: str, goal: str, value: float | None, base: float | None, slack: float
) -> Target:
    if value is None or base is None:
        return Target(name, goal, "n/a", None)
    return Target(
        name,
        goal,
        f"{value:.3f} ms vs PT {base:.3f} ms ({value - base:+.3f})",
        value <= base + slack,
    )


def main(argv: list[str] | None = None) -> int:
    """Command line entry: ``python -m bench.run``."""
    parser = argparse.ArgumentParser(description="VibeRouter benchmark")
    parser.add_argument("--smoke", action="store_true", help="seconds, not minutes: a check")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for the report")
    parser.add_argument("--work", type=Path, help="keep configs and server logs here")
    args = parser.parse_args(argv)
    if wrk_binary() is None:
        print("bench: wrk is required (apt-get install wrk)", file=sys.stderr)
        return 2
    plan = SMOKE if args.smoke else FULL
    started = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="viberouter-bench-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        bench = Bench(plan, work, os.environ)
        try:
            bench.run()
        except (subprocess.CalledProcessError, TimeoutError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            print(f"bench: failed: {exc}\n{detail.decode(errors='replace')}", file=sys.stderr)
            for log in sorted(work.glob("*.log")):
                print(f"--- {log.name} (tail)", file=sys.stderr)
                print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            return 1
        targets = bench.targets()
    mode = "smoke" if args.smoke else "full"
    bench.notes.append(f"load average at end: {_loadavg()}")
    bench.notes.append(f"whole run took {time.monotonic() - t0:.0f} s")
    text = render(bench.rows, targets, mode=mode, notes=bench.notes, started=started)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"{started:%Y%m%d-%H%M%S}-{mode}"
    (args.out / f"{name}.md").write_text(text)
    (args.out / f"{name}.json").write_text(
        json.dumps(
            {"rows": [asdict(r) for r in bench.rows], "facts": bench.facts}, indent=2, default=str
        )
    )
    (args.out / f"latest-{mode}.md").write_text(text)
    print(text)
    errors = sum(r.errors for r in bench.rows)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
