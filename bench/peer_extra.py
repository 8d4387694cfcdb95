"""Side by side with the original backend: the endpoints ../shared/peer-bench/run.sh does not measure.

    ../shared/peer-bench/run.sh                              # first, once: builds nothing, loads peer_orig/peer_proj
    .venv/bin/python bench/peer_extra.py [--output FILE]     # then, from the project root

Endpoints (keys for ONLY): products_list `GET /api/products?page=1&limit=100`, product_search
`GET /api/products?search=arroz`, presale_list_10 `GET /api/presales?limit=10`, and webapp_mix: the calls of one
sales flow of the web app in their proportions, one of them a new pre-sale (bench/webapp_flow.py).

It reuses what run.sh left: the original's build in the work dir and the databases peer_orig and peer_proj (same
rows in each). It starts both services as run.sh does (env -i, NODE_ENV=production / ENVIRONMENT=production, ports
3101 / 3102, a random JWT secret each, the admin's login), checks every request shape answers exactly 2xx on
both, then per endpoint a warm-up on each side and ROUNDS runs alternating original / service (wrk -t2 -c32, DUR
seconds), and prints the medians as run.sh's summary.md does, with each side's memory (RSS and PSS of its process
tree). Exit status: 0 all clean, 1 errors (non-2xx, socket errors, pre-sales that did not land), 2 set-up failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import webapp_flow  # bench/, next to this script
from run import ensure_wrk, parse_wrk  # bench/run.py: one wrk output parser for both benchmarks

ROOT = Path(__file__).resolve().parent.parent
PG = "postgresql://postgres@127.0.0.1:5432"
DB_ORIG, DB_PROJ = "peer_orig", "peer_proj"  # loaded by run.sh; this script only reads them and adds pre-sales
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "Acc-Passw0rd!"  # run.sh's admin
THREADS, CONNECTIONS, PAUSE = 2, 32, 1.0  # wrk -t2 -c32, 1 s between runs, as run.sh
SIDES = ("orig", "proj")
SIDE_NAME = {"orig": "orig", "proj": "service", "floor": "minimal app"}  # floor: bench/floor.py


@dataclass(frozen=True)
class Shape:
    key: str
    label: str
    path: str  # the URL path of a plain GET, or "/" for the mix (its Lua script makes the requests)
    mix: bool = False


SEARCH = webapp_flow.PRODUCT_SEARCH
SHAPES = (
    Shape("products_list", "products list page 1 x 100", "/api/products?page=1&limit=100"),
    Shape("product_search", f"product search ({SEARCH})", f"/api/products?search={SEARCH}"),
    Shape("presale_list_10", "presale list, limit 10", "/api/presales?limit=10"),
    Shape("webapp_mix", f"web app mix ({len(webapp_flow.FLOW)} calls of a sales flow)", "/", mix=True),
)


class SetupError(Exception):
    """The comparison cannot run (exit status 2)."""


# --- settings -------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dur", type=int, default=int(env("DUR", "10")), help="seconds per measured run (DUR, 10)")
    parser.add_argument("--rounds", type=int, default=int(env("ROUNDS", "3")), help="runs per side (ROUNDS, 3)")
    parser.add_argument("--warmup", type=int, default=int(env("WARMUP", "2")), help="warm-up seconds (WARMUP, 2)")
    parser.add_argument(
        "--only", default=env("ONLY", ""), help="comma-separated keys (ONLY): " + ", ".join(s.key for s in SHAPES)
    )
    parser.add_argument("--port-orig", type=int, default=int(env("PORT_ORIG", "3101")), help="PORT_ORIG, 3101")
    parser.add_argument("--port-proj", type=int, default=int(env("PORT_PROJ", "3102")), help="PORT_PROJ, 3102")
    parser.add_argument(
        "--harness",
        type=Path,
        default=Path(env("PEER_BENCH_HARNESS", str(ROOT.parent / "shared" / "peer-bench"))),
        help="the folder of run.sh and its Lua scripts (PEER_BENCH_HARNESS, ../shared/peer-bench)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(env("PEER_BENCH_DIR", str(Path.home() / ".cache" / "flowcrm-peer-bench"))),
        help="run.sh's work dir (PEER_BENCH_DIR, ~/.cache/flowcrm-peer-bench)",
    )
    parser.add_argument("--output", type=Path, help="also write the results (the printed report) to this file")
    args = parser.parse_args(argv)
    if args.dur < 1 or args.rounds < 1 or args.warmup < 0:
        parser.error("DUR and ROUNDS must be at least 1, WARMUP at least 0")
    if args.port_orig == args.port_proj:
        parser.error("PORT_ORIG and PORT_PROJ must differ")
    wanted = [k.strip() for k in args.only.split(",") if k.strip()]
    if unknown := [k for k in wanted if k not in {s.key for s in SHAPES}]:
        parser.error(f"ONLY: unknown key(s) {', '.join(unknown)}; keys: {', '.join(s.key for s in SHAPES)}")
    args.shapes = [s for s in SHAPES if not wanted or s.key in wanted]
    return args


# --- helpers --------------------------------------------------------------------------------------------


class Log:
    def __init__(self, path: Path) -> None:
        self.file = path.open("a")

    def __call__(self, message: str) -> None:
        line = f"[peer-extra {time.strftime('%H:%M:%S')}] {message}"
        print(line, flush=True)
        self.file.write(line + "\n")
        self.file.flush()


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:
        return 0, str(exc).encode()


def login(port: int) -> str | None:
    status, body = http(
        "POST", f"http://127.0.0.1:{port}/api/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    try:
        return json.loads(body)["data"]["token"] if status == 200 else None
    except (ValueError, KeyError, TypeError):
        return None


def memory(pid: int) -> tuple[float, float]:
    """RSS and PSS in MB summed over a process and its descendants (run.sh's mem_of)."""
    rss = pss = 0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0, 0.0
    for process in processes:
        try:
            info = process.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", 0)
    return rss / 2**20, pss / 2**20


async def query(db: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(f"{PG}/{db}")
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def rows(db: str, sql: str) -> list[asyncpg.Record]:
    return asyncio.run(query(db, sql))


# --- the two services -----------------------------------------------------------------------------------


@dataclass
class Side:
    key: str
    port: int
    db: str
    process: subprocess.Popen[bytes] | None = None
    token: str = ""

    @property
    def name(self) -> str:
        return SIDE_NAME[self.key]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start(side: Side, command: list[str], cwd: Path, settings: dict[str, str], log_path: Path) -> None:
    """As run.sh: `env -i` with PATH, HOME and LANG only, plus the side's own settings."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"), "LANG": "C.UTF-8"}
    env.update(settings)
    with log_path.open("wb") as log:
        side.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(side: Side) -> None:
    """Until /health answers 200 and the admin's login succeeds (run.sh's wait_ready)."""
    assert side.process is not None
    for _ in range(120):
        if side.process.poll() is not None:
            raise SetupError(f"{side.name} exited during start-up with {side.process.returncode} (see its log)")
        if http("GET", f"{side.base}/health")[0] == 200 and login(side.port):
            return
        time.sleep(1)
    raise SetupError(f"{side.name} not ready after 120 s")


def stop(side: Side, say: Log) -> None:
    """SIGTERM (both shut down gracefully), SIGKILL after 20 s, then any leftover child (run.sh's stop_service)."""
    process = side.process
    if process is None or process.poll() is not None:
        return
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        say(f"{side.name} ({process.pid}) ignored SIGTERM for 20 s: SIGKILL")
        process.kill()
        process.wait(timeout=10)
    for child in children:
        try:
            if child.is_running() and any(word in " ".join(child.cmdline()) for word in ("flowcrm", "node")):
                say(f"{side.name} child {child.pid} still running: SIGKILL")
                child.kill()
        except psutil.NoSuchProcess:
            pass
    side.process = None
    say(f"{side.name} stopped")


def start_both(orig: Side, proj: Side, orig_dir: Path, out: Path, say: Log) -> None:
    """Both services started as run.sh starts them, ready, each with its admin's token."""
    say(f"starting the original: node dist/server.js, NODE_ENV=production, port {orig.port}")
    start(
        orig,
        ["node", "dist/server.js"],
        orig_dir,
        {
            "NODE_ENV": "production",
            "PORT": str(orig.port),
            "JWT_SECRET": secrets.token_urlsafe(36),
            "JWT_EXPIRES_IN": "24h",
            "DATABASE_URL": f"{PG}/{DB_ORIG}?sslmode=disable",
        },
        out / "orig-service.log",
    )
    say(f"starting the service: flowcrm serve, ENVIRONMENT=production, port {proj.port}")
    start(
        proj,
        [".venv/bin/flowcrm", "serve"],
        ROOT,
        {
            "ENVIRONMENT": "production",
            "HOST": "127.0.0.1",
            "PORT": str(proj.port),
            "JWT_SECRET": secrets.token_urlsafe(36),
            "DATABASE_URL": f"{PG}/{DB_PROJ}?sslmode=disable",
        },
        out / "proj-service.log",
    )
    for side in (orig, proj):
        wait_ready(side)
        side.token = login(side.port) or ""
        if not side.token:
            raise SetupError(f"login on {side.name} failed")
    say(f"both services answer; logged in on both as {ADMIN_EMAIL}")


# --- wrk ------------------------------------------------------------------------------------------------


def mix_script(harness: Path, directory: Path) -> Path:
    """The mix's Lua: run.sh's create_presale.lua brings common.lua (thread ids, probe mode), init(args) and its
    pre-sale generator; the flow's POST slots go through that generator, the rest are the flow's GETs."""
    path = directory / "webapp_mix.lua"
    path.write_text(
        "-- Written by bench/peer_extra.py: the web app mix (bench/webapp_flow.py) over run.sh's pre-sale generator.\n"
        f"dofile({json.dumps(str(harness / 'create_presale.lua'))})\n"
        "presale_request = request\n" + webapp_flow.mix_lua()
    )
    return path


@dataclass
class Run:
    key: str
    side: str
    round: int  # 0: warm-up
    rps: float = 0.0
    p50: float = 0.0
    p99: float = 0.0
    requests: int = 0
    non2xx: int = 0
    socket_errors: int = 0
    rss: float = 0.0
    pss: float = 0.0
    rows_added: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.notes


class Bench:
    def __init__(self, args: argparse.Namespace, out: Path, say: Log) -> None:
        self.args, self.out, self.say = args, out, say
        self.wrk = ensure_wrk()
        self.sides = {"orig": Side("orig", args.port_orig, DB_ORIG), "proj": Side("proj", args.port_proj, DB_PROJ)}
        self.data = out / "data"
        self.script = mix_script(args.harness, out)
        self.runs: list[Run] = []

    def wrk_command(self, shape: Shape, side: Side, seconds: int, threads: int, connections: int) -> list[str]:
        command = [self.wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
        command += ["-H", f"Authorization: Bearer {side.token}"]
        if shape.mix:
            # the mix adds Content-Type to its POSTs only, as the web app's axios does
            data = [str(self.data / "customers.txt"), str(self.data / "products.txt")]
            return [*command, "-s", str(self.script), side.base + "/", "--", *data]
        return [*command, side.base + shape.path]

    def preflight(self) -> None:
        """Every request shape, on both sides, must answer exactly 2xx (the formats may differ)."""
        customers = (self.data / "customers.txt").read_text().split()
        products = [line.split(",") for line in (self.data / "products.txt").read_text().split()]
        items = [products[0], products[333 % len(products)], products[666 % len(products)]]
        presale = {
            "customerId": customers[1 % len(customers)],
            "status": "pending",
            "discountType": "percentage",
            "discountPercentage": "5",
            "notes": "peer_extra preflight",
            "items": [
                {"productId": p, "quantity": str(q), "unitPrice": price} for q, (p, price) in enumerate(items, 1)
            ],
        }
        paths = {s.path for s in self.args.shapes if not s.mix}
        if any(s.mix for s in self.args.shapes):
            paths |= {path for method, path in webapp_flow.FLOW if method == "GET"}
        failed = []
        for side in self.sides.values():
            for path in sorted(paths):
                status, body = http("GET", side.base + path, token=side.token)
                self.say(f"  {side.name} GET {path} -> {status} ({len(body)} bytes{list_size(body)})")
                if not 200 <= status < 300:
                    failed.append(f"{side.name} GET {path}: {status} {body[:300]!r}")
            if any(s.mix for s in self.args.shapes):
                status, body = http("POST", side.base + "/api/presales", presale, token=side.token)
                self.say(f"  {side.name} POST /api/presales -> {status} ({len(body)} bytes)")
                if not 200 <= status < 300:
                    failed.append(f"{side.name} POST /api/presales: {status} {body[:300]!r}")
        if failed:
            raise SetupError("a preflight request was not answered 2xx: " + "; ".join(failed))

    def probe(self) -> None:
        """The mix's own script, 2 s on one connection, every answer's exact status checked (common.lua)."""
        shape = next((s for s in self.args.shapes if s.mix), None)
        if shape is None:
            return
        failed = []
        for side in self.sides.values():
            command = self.wrk_command(shape, side, 2, 1, 1)
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=60, env={**os.environ, "PEER_BENCH_PROBE": "1"}
            )
            (self.out / "wrk" / f"probe-{shape.key}-{side.key}.txt").write_text(done.stdout + done.stderr)
            line = next((x for x in done.stdout.splitlines() if x.startswith("PROBE")), "")
            fields = dict(part.split("=", 1) for part in line.split()[1:3]) if line else {}
            if done.returncode == 0 and int(fields.get("ok", 0)) >= len(webapp_flow.FLOW) and fields.get("bad") == "0":
                self.say(f"  wrk probe {side.name} {shape.label}: {line.removeprefix('PROBE ')}")
            else:
                failed.append(f"{side.name}: {line or (done.stdout + done.stderr)[-300:]}")
        if failed:
            raise SetupError("the mix's wrk script was not answered 2xx: " + "; ".join(failed))

    def run_one(self, shape: Shape, side: Side, round_: int, seconds: int) -> Run:
        assert side.process is not None
        before = rows(side.db, "SELECT count(*) FROM presales")[0][0] if shape.mix else 0
        command = self.wrk_command(shape, side, seconds, THREADS, CONNECTIONS)
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        rss, pss = memory(side.process.pid)  # right after the load
        tag = "warm-up" if round_ == 0 else f"r{round_}"
        shown = " ".join(c if not c.startswith("Authorization") else "Authorization: Bearer ..." for c in command)
        (self.out / "wrk" / f"{shape.key}-{side.key}-{tag}.txt").write_text(f"{shown}\n{done.stdout}{done.stderr}")
        parsed = parse_wrk(done.stdout)
        run = Run(shape.key, side.key, round_, rss=rss, pss=pss)
        run.rps, run.p50, run.p99 = parsed.get("rps", 0.0), parsed.get("p50", 0.0), parsed.get("p99", 0.0)
        run.requests, run.non2xx, run.socket_errors = parsed.get("requests", 0), parsed["non2xx"], parsed["socket"]
        if done.returncode != 0 or "rps" not in parsed:
            run.notes.append(f"wrk failed ({done.returncode}): {(done.stdout + done.stderr)[-200:]}")
        if run.non2xx:
            run.notes.append(f"NON-2xx: {run.non2xx}")
        if run.socket_errors:
            run.notes.append(f"SOCKET ERRORS: {parsed.get('socket_detail')}")
        if shape.mix:
            time.sleep(0.5)  # requests wrk cut off at the end may still be committing
            run.rows_added = rows(side.db, "SELECT count(*) FROM presales")[0][0] - before
            # wrk does not count answers per shape and may cut off each connection's last request: a lower bound
            expected = run.requests * webapp_flow.WRITES // len(webapp_flow.FLOW) - CONNECTIONS
            if run.rows_added < expected:
                run.notes.append(f"ROWS: {run.rows_added} pre-sales added for {run.requests} answers")
        self.say(
            f"{side.name:<8} {tag:<8} {shape.label:<42} {run.rps:>9,.0f} req/s  p50 {run.p50:8.2f} ms  "
            f"p99 {run.p99:8.2f} ms  non-2xx {run.non2xx}  socket errors {run.socket_errors}  RSS {rss:.1f} MB"
            + (f"  rows +{run.rows_added}" if run.rows_added is not None else "")
            + (f"  <-- {'; '.join(run.notes)}" if run.notes else "")
        )
        self.runs.append(run)
        time.sleep(PAUSE)
        return run


def list_size(body: bytes) -> str:
    try:
        data = json.loads(body).get("data")
    except (ValueError, AttributeError):
        return ""
    return f", {len(data)} rows" if isinstance(data, list) else ""


# --- the report -----------------------------------------------------------------------------------------


def summary(runs: list[Run], shapes: list[Shape], idle: dict[str, tuple[float, float]], end: dict[str, float]) -> str:
    measured = [r for r in runs if r.round != 0]

    def median(key: str, side: str, name: str) -> float:
        values = [getattr(r, name) for r in measured if r.key == key and r.side == side]
        return statistics.median(values) if values else float("nan")

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else "-"

    def errors(key: str, side: str) -> int:
        return sum(r.non2xx + r.socket_errors for r in runs if r.key == key and r.side == side)

    lines = [
        "| endpoint | orig req/s | service req/s | req/s service/orig | orig p99 ms | service p99 ms "
        "| p99 service/orig | errors orig / service |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for shape in shapes:
        ro, rp = median(shape.key, "orig", "rps"), median(shape.key, "proj", "rps")
        po, pp = median(shape.key, "orig", "p99"), median(shape.key, "proj", "p99")
        lines.append(
            f"| {shape.label} | {ro:,.0f} | {rp:,.0f} | {ratio(rp, ro)} | {po:.1f} | {pp:.1f} | {ratio(pp, po)} | "
            f"{errors(shape.key, 'orig')} / {errors(shape.key, 'proj')} |"
        )
    labels = {s.key: s.label for s in shapes}
    peak = {side: max((r for r in measured if r.side == side), key=lambda r: r.rss) for side in SIDES}
    (io, ip), (so, sp) = (idle["orig"][0], idle["proj"][0]), (idle["orig"][1], idle["proj"][1])
    po_, pp_ = peak["orig"], peak["proj"]
    lines += [
        "",
        "| memory (all processes of the service) | original (1 node process) | service (granian supervisor + workers) "
        "| service/orig |",
        "|---|---:|---:|---:|",
        f"| RSS idle, MB | {io:.1f} | {ip:.1f} | {ratio(ip, io)} |",
        f"| RSS right after the heaviest load (peak over the runs), MB | {po_.rss:.1f} ({labels[po_.key]}) | "
        f"{pp_.rss:.1f} ({labels[pp_.key]}) | {ratio(pp_.rss, po_.rss)} |",
        f"| RSS at the end, MB | {end['orig']:.1f} | {end['proj']:.1f} | {ratio(end['proj'], end['orig'])} |",
        f"| PSS idle / at peak, MB (shared pages split between processes) | {so:.1f} / {po_.pss:.1f} | "
        f"{sp:.1f} / {pp_.pss:.1f} | |",
    ]
    bad = [r for r in runs if not r.ok]
    per_side = len(measured) // max(1, 2 * len(shapes))
    lines += [
        "",
        f"runs: {len(runs)} ({len(measured)} measured, median of {per_side} per side); "
        + (
            "every run: 0 non-2xx, 0 socket errors, pre-sales all landed"
            if not bad
            else f"{len(bad)} run(s) with errors: " + ", ".join(f"{r.key}/{r.side}/r{r.round}" for r in bad)
        ),
    ]
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------------


def check_setup(args: argparse.Namespace) -> Path:
    orig_dir = args.work / "orig" / "flow-crm-backend"
    if not (orig_dir / "dist" / "server.js").exists():
        raise SetupError(f"{orig_dir}/dist/server.js missing: run ../shared/peer-bench/prepare.sh, then run.sh, first")
    if not (args.harness / "create_presale.lua").exists():
        raise SetupError(f"{args.harness}/create_presale.lua missing: set PEER_BENCH_HARNESS to the folder of run.sh")
    if not (ROOT / ".venv" / "bin" / "flowcrm").exists():
        raise SetupError(f"{ROOT}/.venv/bin/flowcrm missing: python3 -m venv .venv && .venv/bin/pip install -e .")
    try:
        found = {
            r[0]
            for r in rows("postgres", f"SELECT datname FROM pg_database WHERE datname IN ('{DB_ORIG}', '{DB_PROJ}')")
        }
    except (OSError, asyncpg.PostgresError) as exc:
        raise SetupError(f"cannot connect to PostgreSQL at 127.0.0.1:5432 as postgres: {exc}") from exc
    if missing := {DB_ORIG, DB_PROJ} - found:
        raise SetupError(f"database(s) {', '.join(sorted(missing))} missing: run ../shared/peer-bench/run.sh first")
    for port in (args.port_orig, args.port_proj):
        if not port_free(port):
            raise SetupError(f"port {port} is in use (another benchmark running? set PORT_ORIG / PORT_PROJ)")
    return orig_dir


def write_inputs(directory: Path) -> str:
    """The seeded rows only, as run.sh picks them (its rows are from 2025; rows written by benchmarks are not)."""
    directory.mkdir(parents=True, exist_ok=True)
    customers = [
        str(r[0]) for r in rows(DB_ORIG, "SELECT id FROM customers WHERE created_at < '2025-06-01' ORDER BY created_at")
    ]
    products = [r[0] for r in rows(DB_ORIG, "SELECT id || ',' || sale_price FROM products ORDER BY code")]
    if len(customers) < 2 or len(products) < 3:
        raise SetupError(
            f"{DB_ORIG} holds {len(customers)} seeded customers, {len(products)} products: run run.sh first"
        )
    ids = ", ".join(f"'{c}'" for c in customers)
    if rows(DB_PROJ, f"SELECT count(*) FROM customers WHERE id IN ({ids})")[0][0] != len(customers):
        raise SetupError(f"{DB_ORIG} and {DB_PROJ} do not hold the same customers: run run.sh again")
    (directory / "customers.txt").write_text("\n".join(customers) + "\n")
    (directory / "products.txt").write_text("\n".join(products) + "\n")
    return f"{len(customers)} customer ids, {len(products)} products"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.work.resolve() / "results" / (dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-extra")
    (out / "wrk").mkdir(parents=True, exist_ok=True)
    say = Log(out / "run.log")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))  # so the services are stopped in `finally`
    bench: Bench | None = None
    failed = False
    try:
        orig_dir = check_setup(args)
        say(f"results in {out}")
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        )
        orig_commit = (
            (args.work / "orig" / "COMMIT").read_text().strip() if (args.work / "orig" / "COMMIT").exists() else "?"
        )
        load = os.getloadavg()
        header = (
            f"date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}   {os.cpu_count()} CPUs   "
            f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
            f"original: flow-crm-backend at {orig_commit}; service: {ROOT} at {commit.stdout.strip()}"
            + (" + uncommitted changes" if dirty.stdout.strip() else "")
            + f"\nsettings: DUR={args.dur} WARMUP={args.warmup} ROUNDS={args.rounds} wrk -t{THREADS} -c{CONNECTIONS}, "
            f"databases {DB_ORIG} / {DB_PROJ} as run.sh left them, endpoints: {' '.join(s.key for s in args.shapes)}"
        )
        for line in header.splitlines():
            say(line)
        if load[0] > 0.5:
            say(f"WARNING: load average {load[0]:.2f} at start: the machine is not quiet, figures will be noisy")
        bench = Bench(args, out, say)
        say(f"request inputs: {write_inputs(bench.data)}")

        orig, proj = bench.sides["orig"], bench.sides["proj"]
        start_both(orig, proj, orig_dir, out, say)

        say("preflight (exact status must be 2xx)")
        bench.preflight()
        bench.probe()
        time.sleep(2)
        idle = {key: memory(side.process.pid) for key, side in bench.sides.items() if side.process}
        say(f"idle memory: original RSS {idle['orig'][0]:.1f} MB, service RSS {idle['proj'][0]:.1f} MB")

        say(
            f"measuring: wrk -t{THREADS} -c{CONNECTIONS}, {args.dur}s a run, {args.rounds} rounds alternating "
            f"original/service" + (f", after a {args.warmup}s warm-up of each" if args.warmup else "")
        )
        for shape in args.shapes:
            if args.warmup:
                for side in (orig, proj):
                    bench.run_one(shape, side, 0, args.warmup)
            for round_ in range(1, args.rounds + 1):
                for side in (orig, proj):
                    bench.run_one(shape, side, round_, args.dur)
        end = {key: memory(side.process.pid)[0] for key, side in bench.sides.items() if side.process}
        load = os.getloadavg()
        say(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

        table = summary(bench.runs, args.shapes, idle, end)
        print(table, flush=True)
        report = f"# Side by side with the original: bench/peer_extra.py\n\n```\n{header}\n```\n\n{table}\n"
        (out / "summary.md").write_text(report)
        if args.output:
            args.output.write_text(report)
            say(f"results written to {args.output}")
        failed = any(not r.ok for r in bench.runs)
        say("done WITH ERRORS (see the lines marked <-- above)" if failed else "done: no errors")
        return 1 if failed else 0
    except SetupError as exc:
        say(f"FATAL: {exc}")
        return 2
    finally:
        if bench is not None:
            for side in bench.sides.values():
                stop(side, say)
        print(f"[peer-extra] results: {out}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
