"""Customer by id three ways in one run: the original, the service, and the floor of this stack.

    ../shared/peer-bench/run.sh                          # first, once: loads peer_orig / peer_proj
    .venv/bin/python bench/floor.py [--output FILE]      # then, from the project root

The floor is bench/minimal_app.py: one Litestar route, a pooled asyncpg `fetchrow` of the service's own statement,
a dict; no token, permission, request id, metrics or envelope, under the same server as the service (granian, one
worker per CPU, uvloop). Its ratio to the original is the most any service on this stack could show on this
route at this hour; the service's ratio to it is what the service's own per-request work costs.

Same harness as bench/peer_extra.py (whose helpers it uses): the original and the service started as run.sh
starts them, run.sh's get_by_id.lua over the seeded customers, a warm-up of each side, then ROUNDS runs
alternating original, service, floor (wrk -t2 -c32, DUR seconds), medians printed as a table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import peer_extra as peer  # bench/, next to this script
from run import ensure_wrk, parse_wrk

BENCH = Path(__file__).resolve().parent
PORT_FLOOR = 3103


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dur", type=int, default=int(env("DUR", "10")), help="seconds per measured run (DUR, 10)")
    parser.add_argument("--rounds", type=int, default=int(env("ROUNDS", "3")), help="runs per side (ROUNDS, 3)")
    parser.add_argument("--warmup", type=int, default=int(env("WARMUP", "2")), help="warm-up seconds (WARMUP, 2)")
    parser.add_argument("--output", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    args.port_orig, args.port_proj = int(env("PORT_ORIG", "3101")), int(env("PORT_PROJ", "3102"))
    args.harness = Path(env("PEER_BENCH_HARNESS", str(peer.ROOT.parent / "shared" / "peer-bench")))
    args.work = Path(env("PEER_BENCH_DIR", str(Path.home() / ".cache" / "flowcrm-peer-bench")))
    return args


def wait_for_health(side: peer.Side) -> None:
    assert side.process is not None
    for _ in range(120):
        if side.process.poll() is not None:
            raise peer.SetupError(f"{side.name} exited during start-up with {side.process.returncode}")
        if peer.http("GET", f"{side.base}/health")[0] == 200:
            return
        time.sleep(1)
    raise peer.SetupError(f"{side.name} not ready after 120 s")


def measure(wrk: str, side: peer.Side, seconds: int, script: Path, ids: Path) -> dict[str, float]:
    command = [wrk, f"-t{peer.THREADS}", f"-c{peer.CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if side.token:
        command += ["-H", f"Authorization: Bearer {side.token}"]
    command += ["-s", str(script), side.base, "--", "/api/customers/", str(ids)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    parsed = parse_wrk(done.stdout)
    if done.returncode != 0 or "rps" not in parsed or parsed["non2xx"] or parsed["socket"]:
        raise peer.SetupError(f"{side.name}: wrk failed or answers were not 2xx: {done.stdout[-400:]}")
    time.sleep(peer.PAUSE)
    return parsed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.work.resolve() / "results" / (dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-floor")
    out.mkdir(parents=True, exist_ok=True)
    say = peer.Log(out / "run.log")
    orig = peer.Side("orig", args.port_orig, peer.DB_ORIG)
    proj = peer.Side("proj", args.port_proj, peer.DB_PROJ)
    floor = peer.Side("floor", PORT_FLOOR, peer.DB_PROJ)
    sides = (orig, proj, floor)
    try:
        orig_dir = peer.check_setup(args)
        if not peer.port_free(PORT_FLOOR):
            raise peer.SetupError(f"port {PORT_FLOOR} is in use")
        say(f"results in {out}; request inputs: {peer.write_inputs(out / 'data')}")
        peer.start_both(orig, proj, orig_dir, out, say)
        workers = str(len(os.sched_getaffinity(0)))
        say(f"starting the floor: bench/minimal_app.py under granian, {workers} workers, port {PORT_FLOOR}")
        peer.start(
            floor,
            [str(peer.ROOT / ".venv" / "bin" / "granian"), "--interface", "asgi", "--workers", workers, "--loop"]
            + ["uvloop", "--host", "127.0.0.1", "--port", str(PORT_FLOOR), "--no-ws", "minimal_app:app"],
            BENCH,
            {"DATABASE_URL": f"{peer.PG}/{peer.DB_PROJ}?sslmode=disable"},
            out / "floor.log",
        )
        wait_for_health(floor)
        wrk, script, ids = ensure_wrk(), args.harness / "get_by_id.lua", out / "data" / "customers.txt"
        load = os.getloadavg()
        header = (
            f"date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}   {os.cpu_count()} CPUs   load average "
            f"at start: {load[0]:.2f}; DUR={args.dur} WARMUP={args.warmup} ROUNDS={args.rounds} wrk -t{peer.THREADS} "
            f"-c{peer.CONNECTIONS}; GET /api/customers/:id (run.sh's get_by_id.lua)"
        )
        say(header)
        runs: dict[str, list[dict[str, float]]] = {side.key: [] for side in sides}
        for side in sides:
            if args.warmup:
                measure(wrk, side, args.warmup, script, ids)
        for round_ in range(1, args.rounds + 1):
            for side in sides:
                result = measure(wrk, side, args.dur, script, ids)
                runs[side.key].append(result)
                say(f"{side.name:<12} r{round_}  {result['rps']:>9,.0f} req/s  p99 {result['p99']:8.2f} ms")

        def median(key: str, name: str) -> float:
            return statistics.median(run[name] for run in runs[key])

        lines = [
            "| customer by id | req/s (median) | p99 ms (median) | req/s / original's | req/s / minimal app's |",
            "|---|---:|---:|---:|---:|",
        ]
        for side in sides:
            rps = median(side.key, "rps")
            lines.append(
                f"| {side.name} | {rps:,.0f} | {median(side.key, 'p99'):.1f} | {rps / median('orig', 'rps'):.2f} "
                f"| {rps / median('floor', 'rps'):.2f} |"
            )
        report = f"# Customer by id: the original, the service and the minimal app\n\n```\n{header}\n```\n\n"
        report += "\n".join(lines) + "\n"
        print(report, flush=True)
        if args.output:
            args.output.write_text(report)
        return 0
    except peer.SetupError as exc:
        say(f"FATAL: {exc}")
        return 2
    finally:
        for side in sides:
            peer.stop(side, say)


if __name__ == "__main__":
    sys.exit(main())
