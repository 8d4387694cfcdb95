"""Flow CRM service benchmark: one command, from an empty temp dir to a results table.

    .venv/bin/python bench/run.py [--quick] [--duration S] [--connections N] [--threads N] [--workers N]
                                  [--customers N] [--products N] [--presales N] [--output FILE]

1. starts its own embedded PostgreSQL (durable, as production) in a temp dir, applies the migrations;
2. loads the data set with multi-row inserts (10,000 customers, 1,000 products with a huge stock, 1,000
   pre-sales of 3 items each, totals computed with the service's own Decimal rules) and an admin user;
3. starts the service as production does (`python -m service.cli serve`: granian, ENVIRONMENT=production, a
   random JWT secret, one worker per CPU), waits for /health/ready, logs in over HTTP for a real token;
4. drives each endpoint with wrk (2 threads, 32 connections by default), writes through Lua scripts that make
   unique, valid customers (CPF check digits computed in Lua) and pre-sales of 3 items, and logs in (argon2,
   the login rate limits and the audit row: the limits are set out of reach so every login is admitted), and
   runs the web app mix: the calls of one sales flow of the web app in their proportions (bench/webapp_flow.py);
5. runs the ceiling: a minimal asyncpg loop (one process per worker, the same number of concurrent tasks)
   fetching a customer by id;
6. prints the table (req/s, p50, p99, errors, memory of the service and of its largest worker, CPU per
   request of the service and of PostgreSQL) and EXPLAIN ANALYZE of the customer list and name search, writes it to
   bench/results-<date>.md (a --quick run writes nowhere unless --output is given), cleans everything up.

Exits non-zero when anything failed: a non-2xx answer, a socket error, a write that did not land, wrk missing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg
import psutil
import webapp_flow  # bench/, next to this script
from tqdm import tqdm

from service.customers.queries import count as customers_count
from service.customers.queries import page as customers_page
from service.customers.schemas import CustomerListQuery
from service.db.embedded import EmbeddedPostgres
from service.db.migrations import MigrationRunner
from service.db.pool import init_connection
from service.presales.totals import item_totals, presale_totals
from service.seed import customer_rows, insert_rows, product_rows, seeded_id
from service.users.service import UserService, admin_account

ADMIN_EMAIL = "bench.admin@exemplo.com.br"
ADMIN_PASSWORD = "bench-" + secrets.token_urlsafe(12)
HUGE_STOCK = 1_000_000_000  # creating pre-sales never runs out (creation checks stock, never deducts)
SEARCH_TERM = "silva"  # a common surname fragment of the seeded names
PRESALE_STATUSES = ("draft", "pending", "approved", "cancelled")  # valid without stock history rows


# --- helpers --------------------------------------------------------------------------------------------


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(
    method: str, url: str, body: dict[str, Any] | None = None, token: str | None = None, timeout: float = 10
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        say("wrk is missing: installing it with apt-get (Debian package 'wrk')")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit(
        "bench: wrk (the HTTP load generator) is not installed. Install it with:\n"
        "    apt-get install -y wrk        (as root; Debian/Ubuntu package 'wrk')\n"
        "then run this command again."
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (the service, or the postmaster and
    its backends): what a request costs, whatever else the machine is doing."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = process.cpu_times()
            # children_*: exited children reaped by this process (PostgreSQL backends of closed connections)
            total += times.user + times.system + times.children_user + times.children_system
    return total


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split()[0])


@dataclass
class Memory:
    """Resident memory of the service: its supervisor (granian's main process) and each worker, MB."""

    supervisor: float = 0.0
    workers: list[float] = field(default_factory=list)

    @property
    def total(self) -> float:
        return self.supervisor + sum(self.workers)

    @property
    def largest_worker(self) -> float:
        return max(self.workers, default=0.0)

    def describe(self) -> str:
        workers = ", ".join(f"{rss:.0f}" for rss in self.workers)
        return f"{self.total:.0f} MB (supervisor {self.supervisor:.0f} + workers {workers})"


def memory(pid: int) -> Memory:
    def rss(process: psutil.Process) -> float:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            return process.memory_info().rss / 2**20
        return 0.0

    try:
        root = psutil.Process(pid)
        return Memory(rss(root), [rss(child) for child in root.children(recursive=True)])
    except psutil.NoSuchProcess:
        return Memory()


# --- data set -------------------------------------------------------------------------------------------


def presale_rows(
    count: int, customers: int, products: list[dict[str, Any]], admin_id: uuid.UUID
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pre-sales of 3 distinct products each, totals by the service's own rules (contract 7.5)."""
    presales: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        presale_id = seeded_id("bench-presale", n)
        prices = []
        for k in range(3):
            product = products[(n * 3 + k) % len(products)]
            quantity = Decimal(1 + (n + k) % 3)
            pct = Decimal((n + k) % 3 * 5)  # 0, 5 or 10 % off the line
            line = item_totals(quantity, product["sale_price"], "percentage", Decimal(0), pct)
            prices.append(line.total)
            items.append(
                {
                    "id": seeded_id("bench-item", n * 3 + k),
                    "presale_id": presale_id,
                    "product_id": product["id"],
                    "quantity": quantity,
                    "unit_price": product["sale_price"],
                    "total_price": line.total,
                    "discount": line.discount,
                    "discount_type": "percentage",
                    "discount_percentage": line.discount_percentage,
                }
            )
        if n % 2:
            totals = presale_totals(prices, "percentage", Decimal(0), Decimal(n % 3 * 5))
            discount_type = "percentage"
        else:
            totals = presale_totals(prices, "fixed", Decimal(n % 4), Decimal(0))
            discount_type = "fixed"
        presales.append(
            {
                "id": presale_id,
                "customer_id": seeded_id("customer", 1 + (n * 7) % customers),
                "status": PRESALE_STATUSES[n % len(PRESALE_STATUSES)],
                "total": totals.total,
                "discount": totals.discount,
                "discount_type": discount_type,
                "discount_percentage": totals.discount_percentage,
                "notes": f"Pré-venda de benchmark #{n}",
                "created_by": admin_id,
            }
        )
    return presales, items


async def load_data(url: str, customers: int, products: int, presales: int) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        await init_connection(conn)
        started = time.perf_counter()
        _, admin = await UserService(conn).create_or_promote_admin(
            admin_account(ADMIN_EMAIL, ADMIN_PASSWORD, "Bench Admin")
        )
        admin_id = uuid.UUID(str(admin["id"]))
        await insert_rows(conn, "customers", customer_rows(customers), customers, "customers")
        catalogue = [{**row, "stock": HUGE_STOCK} for row in product_rows(products)]
        await insert_rows(conn, "products", iter(catalogue), products, "products")
        presale_list, item_list = presale_rows(presales, customers, catalogue, admin_id)
        with tqdm(total=len(presale_list) + len(item_list), desc="pre-sales + items", unit="rows") as bar:
            for table, rows in (("presales", presale_list), ("presale_items", item_list)):
                for start in range(0, len(rows), 1000):
                    chunk = rows[start : start + 1000]
                    await insert_rows(conn, table, iter(chunk), len(chunk), table)
                    bar.update(len(chunk))
        # As autovacuum would have by the time a real server is measured (after a bulk load it vacuums for the
        # inserts too, which sets the visibility map that index-only counts rely on).
        await conn.execute("VACUUM ANALYZE")
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("customers", "products", "presales", "presale_items", "users")
        }
        return {
            "seconds": time.perf_counter() - started,
            "counts": counts,
            "catalogue": catalogue,
            "presale_id": str(presale_list[0]["id"]),
            "customer_id": str(seeded_id("customer", 1)),
        }
    finally:
        await conn.close()


async def explain(url: str) -> str:
    """EXPLAIN ANALYZE of the statements the service sends for the list and the name search: the page, and the
    bounded count that follows a full first page."""
    conn = await asyncpg.connect(url)
    out = []
    try:
        for label, params in (
            ("customers list, page 1 of 50", {"page": "1", "limit": "50"}),
            (f"customers search '{SEARCH_TERM}'", {"search": SEARCH_TERM}),
        ):
            q = CustomerListQuery.from_query(params)
            for part, (sql, *values) in (("page", customers_page(q)), ("count", customers_count(q).count)):
                rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *values)
                out.append(f"-- {label}: {part}\n-- {sql}\n-- params: {values}\n" + "\n".join(r[0] for r in rows))
    finally:
        await conn.close()
    return "\n\n".join(out)


# --- the service ----------------------------------------------------------------------------------------


class Service:
    def __init__(self, url: str, workers: int, log_path: Path, settings: list[str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "ENVIRONMENT": "production",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "JWT_SECRET": secrets.token_urlsafe(36)[:48],
            # wrk logs in from one address as one account: limits no run can reach, so every login is
            # admitted and the rate limiter still does all its work (its cost is part of the login row).
            "LOGIN_MAX_ATTEMPTS_PER_CLIENT": "1000000000",
            "LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000000",
        }
        for name in ("ADMIN_EMAIL", "ADMIN_PASSWORD", "EMBEDDED_PG_DIR"):
            env.pop(name, None)
        env.update(setting.split("=", 1) for setting in settings or [])  # --env NAME=VALUE
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve", "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                status, _ = http("GET", f"{self.base}/health/ready", timeout=2)
                if status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"the service was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.log.close()


# --- wrk ------------------------------------------------------------------------------------------------

LUA_COMMON = r"""
-- One Lua state per wrk thread: `tid` (set in setup) and `counter` make every request's data unique.
local threads_seen = 0
function setup(thread)
  thread:set("tid", threads_seen)
  threads_seen = threads_seen + 1
end
counter = 0
"""

LUA_CUSTOMER = (
    LUA_COMMON
    + r"""
local function check_digit(digits, first_weight)
  local total = 0
  for i = 1, #digits do total = total + tonumber(digits:sub(i, i)) * (first_weight - i + 1) end
  local r = total % 11
  if r < 2 then return "0" end
  return tostring(11 - r)
end

-- The seed's CPF bases are (n * 7654321 + 123456789) mod 10^9 for n = 1..customers, a bijection on
-- 0..10^9-1; numbers n of 10^8 and above can never meet a seeded one, nor each other.
local function cpf_for(n)
  local base = string.format("%09d", (n * 7654321 + 123456789) % 1000000000)
  if base == string.rep(base:sub(1, 1), 9) then return nil end
  local d1 = check_digit(base, 10)
  return base .. d1 .. check_digit(base .. d1, 11)
end

function request()
  local cpf, n
  repeat
    counter = counter + 1
    n = 100000000 + BLOCK * 10000000 + tid * 1000000 + counter
    cpf = cpf_for(n)
  until cpf
  local body = string.format(
    '{"name":"Cliente Bench %d","email":"bench.%d@exemplo.com.br","phone":"(11) 9%04d-%04d","cpf":"%s",'
    .. '"address":"Rua do Benchmark, %d - São Paulo - SP"}',
    n, n, n % 10000, counter % 10000, cpf, counter)
  return wrk.format("POST", "/api/customers", nil, body)
end
"""
)

# A new pre-sale of 3 seeded products for a seeded customer; used alone and in the web app mix.
LUA_PRESALE_REQUEST = r"""
function presale_request()
  counter = counter + 1
  local n = tid * 1000000 + counter
  local items = {}
  for k = 0, 2 do
    local p = PRODUCTS[((n * 3 + k) % #PRODUCTS) + 1]
    items[#items + 1] = string.format('{"productId":"%s","quantity":"%d","unitPrice":"%s"}', p[1], 1 + (n + k) % 3, p[2])
  end
  local body = string.format(
    '{"customerId":"%s","status":"pending","discountType":"percentage","discountPercentage":"5",'
    .. '"notes":"wrk %d","items":[%s]}',
    CUSTOMERS[(n % #CUSTOMERS) + 1], n, table.concat(items, ","))
  return wrk.format("POST", "/api/presales", nil, body)
end
"""
LUA_PRESALE = LUA_COMMON + LUA_PRESALE_REQUEST + "request = presale_request\n"
LUA_WEBAPP_MIX = LUA_COMMON + LUA_PRESALE_REQUEST + webapp_flow.mix_lua()

# Logs in as the benchmark's admin (the body comes from `endpoints`): argon2, the rate limits, the audit row.
LUA_LOGIN = r"""
wrk.method = "POST"
wrk.body = LOGIN_BODY
"""


@dataclass
class Endpoint:
    name: str
    path: str
    auth: bool = True
    script: str | None = None  # Lua source
    write_table: str | None = None  # rows in this table must grow by at least the request count
    writes_every: int = 1  # one write in this many requests (the web app mix: one pre-sale per flow)
    connections: int | None = None  # wrk connections, when not --connections


@dataclass
class Result:
    name: str
    rps: float = 0.0
    p50: float = 0.0
    p99: float = 0.0
    requests: int = 0
    errors: int = 0
    error_detail: str = ""
    rss_mb: float = 0.0  # the service in all (supervisor and workers)
    worker_rss_mb: float = 0.0  # its largest worker
    svc_cpu_ms: float = 0.0  # service CPU per request
    db_cpu_ms: float = 0.0  # PostgreSQL CPU per request
    note: str = ""
    ok: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(output: str) -> dict[str, Any]:
    found: dict[str, Any] = {"socket": 0, "non2xx": 0}
    if m := re.search(r"Requests/sec:\s+([\d.]+)", output):
        found["rps"] = float(m.group(1))
    if m := re.search(r"(\d+) requests in", output):
        found["requests"] = int(m.group(1))
    if m := re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE):
        found["p50"] = _ms(m.group(1))
    if m := re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE):
        found["p99"] = _ms(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        found["socket"] = sum(int(g) for g in m.groups())
        found["socket_detail"] = m.group(0)
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        found["non2xx"] = int(m.group(1))
    return found


def run_wrk(
    wrk: str, url: str, seconds: float, threads: int, connections: int, token: str | None, script: Path | None
) -> str:
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    command += ["-H", "Content-Type: application/json"]
    if script:
        command += ["-s", str(script)]
    command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}\n{done.stdout}")
    return done.stdout


# --- py-spy (optional) ----------------------------------------------------------------------------------


def start_profiler(
    args: argparse.Namespace, endpoint: Endpoint, service: Service, workdir: Path
) -> subprocess.Popen[bytes] | None:
    if not args.profile or args.profile not in endpoint.name:
        return None
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        say("--profile: py-spy is not installed (.venv/bin/pip install py-spy); measuring without it")
        return None
    command = [
        py_spy,
        "record",
        "--pid",
        str(service.process.pid),
        "--subprocesses",
        "--nonblocking",
        "--rate",
        "200",
        "--format",
        "raw",
        "--duration",
        str(max(1, round(args.duration))),
        "--output",
        str(workdir / "profile.txt"),
    ] + (["--native"] if args.profile_native else [])
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish_profiler(profiler: subprocess.Popen[bytes], workdir: Path, top: int = 25) -> str:
    """Summarise py-spy's collapsed stacks: the hottest leaf frames (self) and functions (inclusive)."""
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        profiler.terminate()
        profiler.wait(timeout=5)
    path = workdir / "profile.txt"
    if not path.exists():
        return "(py-spy wrote no profile; it needs ptrace rights: run as root or with CAP_SYS_PTRACE)"
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    packages: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", " spawn_main", "thread "))]
        if not frames:
            continue
        total += count
        leaf = frames[-1]
        own[_short(leaf)] = own.get(_short(leaf), 0) + count
        package = _package(leaf)
        packages[package] = packages.get(package, 0) + count
        for frame in {re.sub(r":\d+\)$", ")", _short(f)) for f in frames}:
            inclusive[frame] = inclusive.get(frame, 0) + count
    if not total:
        return "(empty profile)"
    # The trunk every request goes through (the server, the middleware stack) says nothing: show what is below.
    below_trunk = {frame: n for frame, n in inclusive.items() if n < 0.75 * total}

    def listing(counts: dict[str, int], top: int = top) -> str:
        best = sorted(counts.items(), key=lambda item: -item[1])[:top]
        return "\n".join(f"  {100 * n / total:5.1f}%  {frame}" for frame, n in best)

    return (
        f"{total} samples over the workers (idle shows as Runner.run: uvloop's C loop)\n"
        f"self time by package:\n{listing(packages, 15)}\n"
        f"self time by frame:\n{listing(own)}\n"
        f"inclusive (below the common server/litestar trunk):\n{listing(below_trunk)}"
    )


def _short(frame: str) -> str:
    """`func (/long/path/site-packages/pkg/mod.py:12)` -> `func (pkg/mod.py:12)`."""
    return re.sub(
        r"\((?:.*/site-packages/|.*/lib/python3\.\d+/|" + re.escape(str(ROOT)) + r"/)?([^)]*)\)", r"(\1)", frame
    )


def _package(frame: str) -> str:
    m = re.search(r"\(([^)]*)\)", _short(frame))
    if not m:
        return "?"
    path = m.group(1)
    return path.split("/", 1)[0] if "/" in path else path.split(".py")[0] + " (stdlib)"


# --- the ceiling ----------------------------------------------------------------------------------------


async def _no_reset(conn: asyncpg.Connection) -> None:
    """The service's pool skips asyncpg's reset query on release; so does the ceiling's."""


def _ceiling_process(url: str, tasks: int, seconds: float, customer_ids: list[str], queue: Any) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    async def main() -> None:
        # As the service's pool: no reset query on release (a round trip the service also saves).
        pool = await asyncpg.create_pool(url, min_size=tasks, max_size=tasks, reset=_no_reset)
        sql = "SELECT id, name, email, phone, cpf, address, created_at, updated_at FROM customers WHERE id = $1"
        latencies: list[float] = []
        errors = 0
        stop_at = 0.0

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < stop_at:
                i += 1
                t0 = time.perf_counter()
                try:
                    async with pool.acquire() as conn:
                        row = await conn.fetchrow(sql, customer_ids[i % len(customer_ids)])
                    if row is None:
                        errors += 1
                except Exception:  # noqa: BLE001 (counted, like wrk's errors)
                    errors += 1
                latencies.append(time.perf_counter() - t0)

        stop_at = time.perf_counter() + 0.5  # warm-up: statement cache and connections
        await asyncio.gather(*(worker(k * 1000) for k in range(tasks)))
        warm_count = len(latencies)
        latencies.clear()
        errors = 0
        cpu0 = sum(psutil.Process().cpu_times()[:2])
        started = time.perf_counter()
        stop_at = started + seconds
        await asyncio.gather(*(worker(k * 1000) for k in range(tasks)))
        elapsed = time.perf_counter() - started
        cpu = sum(psutil.Process().cpu_times()[:2]) - cpu0
        await pool.close()
        latencies.sort()
        queue.put(
            {
                "count": len(latencies),
                "elapsed": elapsed,
                "errors": errors,
                "cpu": cpu,
                "warm_count": warm_count,
                "p50": latencies[len(latencies) // 2] * 1000 if latencies else 0,
                "p99": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0,
                "rss": psutil.Process().memory_info().rss,
            }
        )

    asyncio.run(main())


def run_ceiling(
    url: str, processes: int, connections: int, seconds: float, customer_ids: list[str], pg_pid: int
) -> Result:
    """`processes` (= service workers) Python processes, connections split among them, each task fetching a
    customer by id in a loop: what asyncpg on this machine can do with no HTTP and no framework at all."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    tasks = max(1, connections // processes)
    workers = [
        context.Process(target=_ceiling_process, args=(url, tasks, seconds, customer_ids, queue))
        for _ in range(processes)
    ]
    db0 = cpu_seconds(pg_pid)
    for worker in workers:
        worker.start()
    outcomes = [queue.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    db_seconds = cpu_seconds(pg_pid) - db0  # warm-up included: divided by every query below
    count = sum(o["count"] for o in outcomes)
    elapsed = max(o["elapsed"] for o in outcomes)
    errors = sum(o["errors"] for o in outcomes)
    return Result(
        name=f"ceiling: asyncpg loop, customer by id ({processes} proc x {tasks} tasks)",
        rps=count / elapsed,
        p50=statistics.mean(o["p50"] for o in outcomes),
        p99=max(o["p99"] for o in outcomes),
        requests=count,
        errors=errors,
        rss_mb=sum(o["rss"] for o in outcomes) / 2**20,
        worker_rss_mb=max(o["rss"] for o in outcomes) / 2**20,
        ok=errors == 0,
        svc_cpu_ms=sum(o["cpu"] for o in outcomes) * 1000 / max(1, count),
        db_cpu_ms=db_seconds * 1000 / max(1, count + sum(o["warm_count"] for o in outcomes)),
    )


# --- the login rate limiter alone -----------------------------------------------------------------------


async def time_login_limiter(url: str, rounds: int, tasks: int) -> str:
    """What the shared login limits add to one successful login (service/auth/ratelimit.py: the client's and the
    account's upserts, then the account's delete), measured alone: under argon2 the login row cannot resolve it.
    One connection in a loop (the latency a login pays), then `tasks` connections at once from one client
    address (they queue on that address's row), each login for an account of its own."""
    from service.auth.ratelimit import LoginLimiter
    from service.config import Settings

    settings = Settings(DATABASE_URL=url, LOGIN_MAX_ATTEMPTS_PER_CLIENT=10**9, LOGIN_MAX_FAILURES_PER_ACCOUNT=10**9)
    limiter = LoginLimiter(settings)
    pool = await asyncpg.create_pool(url, min_size=tasks, max_size=tasks, reset=_no_reset)

    async def one_login(conn: asyncpg.Connection, n: int) -> float:
        t0 = time.perf_counter()
        await limiter.attempt(conn, f"limiter.{n}@exemplo.com.br", "192.0.2.1")
        await limiter.succeeded(conn, f"limiter.{n}@exemplo.com.br")
        return time.perf_counter() - t0

    try:
        async with pool.acquire() as conn:
            for n in range(rounds // 10):  # warm-up: the connection's statement cache
                await one_login(conn, n)
            latencies = sorted([await one_login(conn, n) for n in range(rounds)])

        async def worker(k: int) -> None:
            async with pool.acquire() as conn:
                for n in range(rounds // tasks):
                    await one_login(conn, k * rounds + n)

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(tasks)))
        per_second = (rounds // tasks) * tasks / (time.perf_counter() - started)
    finally:
        await pool.close()
    p50, p99 = latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000
    return (
        f"Login rate limiter alone ({rounds} logins): p50 {p50:.2f} ms, p99 {p99:.2f} ms on one connection; "
        f"{per_second:,.0f} logins/s with {tasks} connections from one client address"
    )


# --- the report -----------------------------------------------------------------------------------------


def capacity(r: Result, cores: int) -> str:
    """Requests a second the measured CPU cost allows with every core busy (service + PostgreSQL only: no
    load generator, no neighbours): the figure that survives a noisy machine."""
    cost = r.svc_cpu_ms + r.db_cpu_ms
    return f"{cores * 1000 / cost:,.0f}" if cost > 0 else "-"


def table(results: list[Result], ceiling: Result) -> str:
    cores = os.cpu_count() or 1
    header = (
        "| endpoint | req/s | p50 ms | p99 ms | errors | RSS MB (largest worker) | of ceiling "
        f"| svc CPU ms/req | db CPU ms/req | CPU-bound req/s on {cores} cores |"
    )
    lines = [header, "|" + "---|" * 10]
    for r in [*results, ceiling]:
        fraction = f"{r.rps / ceiling.rps:.2f}" if ceiling.rps else "-"
        errors = str(r.errors) if r.ok else f"{r.errors} FAIL"
        lines.append(
            f"| {r.name} | {r.rps:,.0f} | {r.p50:.2f} | {r.p99:.2f} | {errors} | {r.rss_mb:.0f} ({r.worker_rss_mb:.0f}) | "
            f"{fraction} | {r.svc_cpu_ms:.2f} | {r.db_cpu_ms:.2f} | {capacity(r, cores)} |"
        )
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI smoke: tiny data, 2 s per endpoint, 1 worker, no warm-up, no results file",
    )
    parser.add_argument("--duration", type=float, help="seconds per endpoint (default 10; --quick 2)")
    parser.add_argument("--warmup", type=float, help="seconds of unmeasured load first (default 2; --quick 0)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, help="service workers (default CPU count; --quick 1)")
    parser.add_argument("--customers", type=int, help="default 10000 (--quick 200)")
    parser.add_argument("--products", type=int, help="default 1000 (--quick 50)")
    parser.add_argument("--presales", type=int, help="default 1000 (--quick 50)")
    parser.add_argument(
        "--output", type=Path, help="results file (default bench/results-<date>.md; --quick writes none unless given)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (database, service log)")
    parser.add_argument(
        "--profile",
        metavar="ENDPOINT",
        help="py-spy the service during the endpoint whose name contains this (e.g. 'customers/:id')",
    )
    parser.add_argument(
        "--profile-native",
        action="store_true",
        help="with --profile: also sample C/Cython frames (asyncpg's protocol, uvloop, syscalls)",
    )
    parser.add_argument("--only", help="comma-separated substrings: measure only matching endpoints")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the service, repeatable (e.g. ACCESS_LOG=off, METRICS_PORT=9100)",
    )
    args = parser.parse_args(argv)
    if bad := [setting for setting in args.env if "=" not in setting]:
        parser.error(f"--env takes NAME=VALUE, not {bad[0]!r}")
    quick = args.quick
    args.duration = args.duration or (2.0 if quick else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (0.0 if quick else 2.0)
    args.workers = args.workers or (1 if quick else (os.cpu_count() or 1))
    args.customers = args.customers or (200 if quick else 10_000)
    args.products = args.products or (50 if quick else 1_000)
    args.presales = args.presales or (50 if quick else 1_000)
    if args.output is None and not quick:
        args.output = ROOT / "bench" / f"results-{dt.date.today().isoformat()}.md"
    return args


def endpoints(data: dict[str, Any]) -> list[Endpoint]:
    return [
        Endpoint("GET /health", "/health", auth=False),
        Endpoint("GET /health/ready", "/health/ready", auth=False),
        Endpoint("GET /api/customers/:id", f"/api/customers/{data['customer_id']}"),
        Endpoint("GET /api/customers?page=1&limit=50", "/api/customers?page=1&limit=50"),
        Endpoint(f"GET /api/customers?search={SEARCH_TERM}", f"/api/customers?search={SEARCH_TERM}"),
        Endpoint("GET /api/presales/:id", f"/api/presales/{data['presale_id']}"),
        Endpoint("GET /api/presales?page=1&limit=50", "/api/presales?page=1&limit=50"),
        # As the web app sends them (bench/README.md, "The web app's sales flow"): the dashboard's recent pre-sales,
        # the product list of the dashboard and the pre-sales screen, the products page's search.
        Endpoint("GET /api/presales?limit=10", "/api/presales?limit=10"),
        Endpoint("GET /api/products?page=1&limit=100", "/api/products?page=1&limit=100"),
        Endpoint(
            f"GET /api/products?search={webapp_flow.PRODUCT_SEARCH}",
            f"/api/products?search={webapp_flow.PRODUCT_SEARCH}",
        ),
        Endpoint("POST /api/customers", "/api/customers", script=LUA_CUSTOMER, write_table="customers"),
        Endpoint("POST /api/presales (3 items)", "/api/presales", script=LUA_PRESALE, write_table="presales"),
        # The calls of one sales flow in their proportions, one of them a new pre-sale (bench/webapp_flow.py).
        Endpoint(
            f"web app mix ({len(webapp_flow.FLOW)} calls of a sales flow)",
            "/",
            script=LUA_WEBAPP_MIX,
            write_table="presales",
            writes_every=len(webapp_flow.FLOW) // webapp_flow.WRITES,
        ),
        # 4 connections: a login holds a pooled connection through its argon2 verification (~200 ms of CPU here),
        # so 32 at once would wait past DB_ACQUIRE_TIMEOUT (and wrk's 10 s); 4 already keep both cores busy.
        Endpoint(
            "POST /api/auth/login",
            "/api/auth/login",
            auth=False,
            write_table="audit_logs",
            connections=4,
            script=f"LOGIN_BODY = [[{json.dumps({'email': ADMIN_EMAIL, 'password': ADMIN_PASSWORD})}]]\n" + LUA_LOGIN,
        ),
    ]


def write_script(directory: Path, endpoint: Endpoint, block: int, data: dict[str, Any]) -> Path | None:
    if endpoint.script is None:
        return None
    products = ",".join(f'{{"{p["id"]}","{p["sale_price"]}"}}' for p in data["catalogue"])
    customers = ",".join(f'"{seeded_id("customer", n)}"' for n in range(1, min(data["customers"], 1000) + 1))
    source = f"BLOCK = {block}\nPRODUCTS = {{{products}}}\nCUSTOMERS = {{{customers}}}\n" + endpoint.script
    path = directory / f"script-{block}.lua"
    path.write_text(source)
    return path


async def count_rows(url: str, table_name: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(f"SELECT count(*) FROM {table_name}")
    finally:
        await conn.close()


def measure(
    args: argparse.Namespace,
    wrk: str,
    service: Service,
    token: str,
    url: str,
    workdir: Path,
    data: dict[str, Any],
    pg_pid: int,
) -> list[Result]:
    results = []
    block = 0
    chosen = endpoints(data)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        chosen = [e for e in chosen if any(w in e.name for w in wanted)]
    for endpoint in chosen:
        target = service.base + endpoint.path
        auth = token if endpoint.auth else None
        connections = endpoint.connections or args.connections
        if args.warmup > 0:
            block += 1
            run_wrk(
                wrk, target, args.warmup, args.threads, connections, auth, write_script(workdir, endpoint, block, data)
            )
        block += 1
        before = asyncio.run(count_rows(url, endpoint.write_table)) if endpoint.write_table else 0
        load = os.getloadavg()[0]
        profiler = start_profiler(args, endpoint, service, workdir)
        svc0, db0 = cpu_seconds(service.process.pid), cpu_seconds(pg_pid)
        output = run_wrk(
            wrk, target, args.duration, args.threads, connections, auth, write_script(workdir, endpoint, block, data)
        )
        svc1, db1 = cpu_seconds(service.process.pid), cpu_seconds(pg_pid)
        rss = memory(service.process.pid)
        if profiler is not None:
            results_profile = finish_profiler(profiler, workdir)
            say(f"py-spy profile of {endpoint.name}:\n{results_profile}")
            data.setdefault("profiles", []).append((endpoint.name, results_profile))
        parsed = parse_wrk(output)
        result = Result(
            name=endpoint.name,
            rps=parsed.get("rps", 0.0),
            p50=parsed.get("p50", 0.0),
            p99=parsed.get("p99", 0.0),
            requests=parsed.get("requests", 0),
            errors=parsed["non2xx"] + parsed["socket"],
            rss_mb=rss.total,
            worker_rss_mb=rss.largest_worker,
        )
        if result.requests:
            result.svc_cpu_ms = (svc1 - svc0) * 1000 / result.requests
            result.db_cpu_ms = (db1 - db0) * 1000 / result.requests
        details = []
        if parsed["non2xx"]:
            details.append(f"{parsed['non2xx']} non-2xx")
        if parsed["socket"]:
            details.append(parsed["socket_detail"])
        if "rps" not in parsed or result.requests == 0:
            details.append("no requests measured")
        if endpoint.write_table:
            time.sleep(0.3)  # requests wrk cut off at the end may still be committing
            added = asyncio.run(count_rows(url, endpoint.write_table)) - before
            result.extra["rows_added"] = added
            expected = result.requests
            if endpoint.writes_every > 1:
                # a mix: wrk does not count its answers per shape, and each connection may have had its last
                # request (a write or not) cut off, so this is a lower bound
                expected = result.requests // endpoint.writes_every - connections
            if added < expected:
                details.append(f"only {added} {endpoint.write_table} rows for {result.requests} answers")
        result.ok = not details
        result.error_detail = "; ".join(details)
        result.extra["load_before"] = load
        if not result.ok:
            result.extra["wrk_output"] = output
        results.append(result)
        status = "ok" if result.ok else f"FAILED: {result.error_detail}"
        say(
            f"{endpoint.name}: {result.rps:,.0f} req/s, p50 {result.p50:.2f} ms, p99 {result.p99:.2f} ms, "
            f"RSS {rss.describe()}, load {load:.1f} ({status})"
        )
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = ensure_wrk()
    workdir = Path(tempfile.mkdtemp(prefix="flowcrm-bench-"))
    server = EmbeddedPostgres(workdir / "pgdata", durable=True)
    service: Service | None = None
    started = time.perf_counter()
    failed = False
    try:
        say(f"embedded PostgreSQL in {workdir}")
        base_url = server.start()
        url = base_url.rsplit("/", 1)[0] + "/flowcrm"
        runner = MigrationRunner(url, ROOT / "db" / "migrations")
        runner.create_database()
        say(f"migrations applied: {', '.join(runner.up()) or 'none'}")

        say(f"loading {args.customers} customers, {args.products} products, {args.presales} pre-sales x 3 items")
        data = asyncio.run(load_data(url, args.customers, args.products, args.presales))
        data["customers"] = args.customers
        say(f"loaded in {data['seconds']:.1f} s: {data['counts']}")

        explained = asyncio.run(explain(url))

        service = Service(url, args.workers, workdir / "service.log", args.env)
        service.wait_ready()
        status, body = http(
            "POST", f"{service.base}/api/auth/login", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        if status != 200:
            raise RuntimeError(f"login failed: {status} {body}")
        token = body["data"]["token"]
        for path in (f"/api/customers/{data['customer_id']}", f"/api/presales/{data['presale_id']}"):
            status, body = http("GET", service.base + path, token=token)
            if status != 200:
                raise RuntimeError(f"GET {path}: {status} {body}")
        idle_rss = memory(service.process.pid)
        say(
            f"service up on {service.base} with {args.workers} worker(s), idle RSS {idle_rss.describe()}; "
            f"wrk -t{args.threads} -c{args.connections}, {args.duration:g} s per endpoint"
            + (f" after {args.warmup:g} s warm-up" if args.warmup else "")
        )

        pg_pid = postmaster_pid(server.data_dir)
        results = measure(args, wrk, service, token, url, workdir, data, pg_pid)
        service.stop()  # the ceiling gets the machine alone, as the service did
        service = None

        say("ceiling: minimal asyncpg loop")
        customer_ids = [str(seeded_id("customer", n)) for n in range(1, min(args.customers, 1000) + 1)]
        ceiling = run_ceiling(url, args.workers, args.connections, args.duration, customer_ids, pg_pid)
        say(f"ceiling: {ceiling.rps:,.0f} queries/s, p50 {ceiling.p50:.2f} ms, p99 {ceiling.p99:.2f} ms")
        limiter = ""
        if any("login" in r.name for r in results):
            limiter = asyncio.run(time_login_limiter(url, 200 if args.quick else 2000, args.connections))
            say(limiter)

        report = table(results, ceiling)
        failures = [r for r in [*results, ceiling] if not r.ok]
        cpu = f"{os.cpu_count()} CPU(s)"
        header = (
            f"# Flow CRM service benchmark, {dt.datetime.now().isoformat(timespec='seconds')}\n\n"
            f"{cpu}, {args.workers} service worker(s), wrk -t{args.threads} -c{args.connections}, "
            f"{args.duration:g} s per endpoint (+{args.warmup:g} s warm-up), data: {data['counts']}, "
            + (f"service settings: {' '.join(args.env)}, " if args.env else "")
            + f"loaded in {data['seconds']:.1f} s; idle service RSS {idle_rss.describe()}; "
            f"load average before each run: " + ", ".join(f"{r.extra['load_before']:.1f}" for r in results) + "\n"
        )
        writes = ", ".join(
            f"{r.name}: {r.extra['rows_added']} rows for {r.requests} answers"
            for r in results
            if "rows_added" in r.extra
        )
        text = f"{header}\n{report}\n\nWrites: {writes}\n\n{limiter}\n\n```\n{explained}\n```\n"
        for name, profile in data.get("profiles", []):
            text += f"\npy-spy during {name}:\n\n```\n{profile}\n```\n"
        print("\n" + report + "\n")
        print(f"Writes: {writes}\n")
        if not args.quick:
            print(explained + "\n")
        if args.output:
            args.output.write_text(text)
            say(f"results written to {args.output}")
        for failure in failures:
            failed = True
            print(f"FAILED {failure.name}: {failure.error_detail}", file=sys.stderr)
            if "wrk_output" in failure.extra:
                print(failure.extra["wrk_output"], file=sys.stderr)
        say(f"done in {time.perf_counter() - started:.0f} s" + (" with FAILURES" if failed else ""))
        return 1 if failed else 0
    except Exception as exc:  # noqa: BLE001
        print(f"bench: {type(exc).__name__}: {exc}", file=sys.stderr)
        if service is not None:
            print(f"--- service log tail ---\n{service.log_tail()}", file=sys.stderr)
        return 1
    finally:
        if service is not None:
            service.stop()
        server.stop()
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
