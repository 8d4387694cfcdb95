"""The `flowcrm` command: serve, db (migrations), users and seed.

Imported at the top: the standard library and light modules only. `flowcrm serve` starts this module twice in
one process (service/ops/supervisor.py): the second start serves for as long as the service runs and must not
hold pydantic, asyncpg or the app, which each command imports when it runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from service.db.embedded import EmbeddedPostgres, EmbeddedPostgresError
from service.errors import DatabaseUnavailable
from service.ops import supervisor

if TYPE_CHECKING:
    from pydantic import ValidationError

    from service.config import Settings
    from service.db.migrations import MigrationRunner

log = logging.getLogger("flowcrm")

EMBEDDED_DATABASE = "flowcrm"


def _settings() -> Settings:
    from pydantic import ValidationError

    from service.config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        sys.exit(f"flowcrm: invalid configuration: {configuration_problems(exc)}")


def configuration_problems(exc: ValidationError) -> str:
    """`PORT: Input should be ...`; a rule across settings (no location) as its own sentence."""
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{'.'.join(map(str, error['loc']))}: {message}" if error["loc"] else message)
    return "; ".join(problems)


class Database(NamedTuple):
    url: str
    embedded: bool  # the embedded server, started by this command or already running
    started: EmbeddedPostgres | None = None  # the embedded server when this command started it: it stops it


@contextmanager
def database(settings: Settings) -> Iterator[Database]:
    """The database to use: DATABASE_URL, else the embedded server (started here and stopped after, unless it
    was running already)."""
    if settings.database_url:
        yield Database(settings.database_url, False)
        return
    server = EmbeddedPostgres(settings.embedded_pg_dir)
    already_running = server.running_port() is not None
    server_url = server.start()
    try:
        url = urlunsplit(urlsplit(server_url)._replace(path=f"/{EMBEDDED_DATABASE}"))
        _runner(settings, url).create_database()
        yield Database(url, True, None if already_running else server)
    finally:
        if not already_running:
            server.stop()


def _runner(settings: Settings, url: str) -> MigrationRunner:
    from service.db.migrations import MigrationRunner

    return MigrationRunner(url, settings.migrations_dir)


def cmd_serve(args: argparse.Namespace) -> int:
    from service.config import redact_url
    from service.ops.cpus import available_cpus
    from service.ops.logs import logging_config
    from service.ops.metrics_server import prepare_metrics_directory

    settings = _settings()
    with startup_failures_in_one_line(), database(settings) as (url, embedded, started):
        log.info("using %s database %s", "embedded" if embedded else "external", redact_url(url))
        if embedded or args.migrate:
            applied = _runner(settings, url).up()
            log.info("migrations applied: %s", ", ".join(applied) or "none pending")
        check_before_serving(settings.model_copy(update={"database_url": url}))
        os.environ["DATABASE_URL"] = url  # the app factory (in each worker) reads it from the environment
        # In production one worker per CPU the container may use (its cgroup quota), not per CPU of the host.
        workers = args.workers or (available_cpus() if settings.environment == "production" else 1)
        log.info("serving on http://%s:%d with %d worker(s)", settings.host, settings.port, workers)
        metrics_dir = prepare_metrics_directory(settings)
        # From here the lean main process (same pid) runs granian and, when it stops, cleans up what this run
        # made: the temporary metrics directory, the embedded server it started.
        supervisor.hand_over(
            supervisor.Plan(
                host=settings.host,
                port=settings.port,
                workers=workers,
                workers_kill_timeout=settings.shutdown_timeout_seconds,
                shutdown_delay=settings.shutdown_delay_seconds or 0.0,
                log_config=logging_config(settings),
                metrics_host=settings.metrics_host,
                metrics_port=settings.metrics_port,
                remove_dir=str(metrics_dir) if metrics_dir else None,
                stop_embedded=str(started.data_dir) if started else None,
            )
        )


def serve_handed_over(plan: supervisor.Plan) -> int:
    """The second start of `flowcrm serve` (service/ops/supervisor.py): granian until it stops, then clean up."""
    try:
        supervisor.serve(plan)
    finally:
        if plan.remove_dir:
            shutil.rmtree(plan.remove_dir, ignore_errors=True)
        if plan.stop_embedded:
            EmbeddedPostgres(Path(plan.stop_embedded)).stop()
    return 0


# --- start-up checks of `flowcrm serve` (issue 14) ---------------------------------------------------------


class InvalidAdminSettings(ValueError):
    """ADMIN_EMAIL, ADMIN_PASSWORD or ADMIN_NAME cannot make an admin."""


# Failures of `flowcrm serve` with a reason the user can act on (anything else is a bug: traceback).
def startup_failures() -> tuple[type[Exception], ...]:
    from service.db.migrations import MigrationError

    return (DatabaseUnavailable, MigrationError, EmbeddedPostgresError, InvalidAdminSettings)


def one_line(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "message", exc)).split())


@contextmanager
def startup_failures_in_one_line() -> Iterator[None]:
    """An expected failure ends the command with its reason in one line on stderr, status 1, no traceback."""
    try:
        yield
    except startup_failures() as exc:
        sys.exit(f"flowcrm serve: {one_line(exc)}")


def check_before_serving(settings: Settings) -> None:
    """In the main process, before granian starts its workers: the database answers (else DatabaseUnavailable),
    pending migrations are named with the command that applies them, and a development database without users
    gets its first admin."""
    import asyncio

    import asyncpg

    from service.db.startup import pending_migrations
    from service.users.first_admin import (
        check_admin_settings,
        create_first_run_admin,
        first_run_notice,
        wants_first_run_admin,
    )

    try:
        check_admin_settings(settings)
    except ValueError as exc:
        raise InvalidAdminSettings(f"invalid ADMIN_EMAIL/ADMIN_PASSWORD/ADMIN_NAME: {exc}") from exc
    pending = asyncio.run(pending_migrations(settings))
    if pending:
        log.warning(
            "%d migration(s) not applied (%s): /health/ready answers 503 and the API may fail until they are; "
            "apply them with `flowcrm db up` or start with `flowcrm serve --migrate`",
            len(pending),
            ", ".join(pending),
        )
    if wants_first_run_admin(settings):
        try:
            account = asyncio.run(create_first_run_admin(settings, settings.database_url or ""))
        except asyncpg.UndefinedTableError:
            log.warning("no users table yet: no first admin was created (apply the migrations first)")
        except ValueError as exc:
            raise InvalidAdminSettings(f"invalid ADMIN_EMAIL/ADMIN_NAME for the first admin: {exc}") from exc
        else:
            if account is not None:
                print(first_run_notice(account), flush=True)  # stdout, once; never in the log


def cmd_db(args: argparse.Namespace) -> int:
    from service.db.migrations import MigrationError

    settings = _settings()
    with database(settings) as (url, _embedded, _started):
        runner = _runner(settings, url)
        try:
            if args.action == "up":
                applied = runner.up()
                print("Applied: " + ", ".join(applied) if applied else "Nothing to apply: the database is up to date.")
            elif args.action == "status":
                status = runner.status()
                for name in status.applied:
                    print(f"[X] {name}")
                for name in status.pending:
                    print(f"[ ] {name}")
                print(
                    f"Applied: {len(status.applied)}, pending: {len(status.pending)}, "
                    f"last applied: {status.last_applied or '-'}"
                )
            elif args.action == "rollback":
                rolled = runner.rollback(args.steps)
                print("Rolled back: " + ", ".join(rolled) if rolled else "Nothing to roll back.")
            elif args.action == "new":
                print(f"Created {runner.new(args.name)}")
            elif args.action == "dump":
                print(f"Wrote {runner.dump()}")
        except MigrationError as exc:
            print(f"flowcrm db {args.action} failed: {exc}", file=sys.stderr)
            return 1
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    import asyncio

    import asyncpg

    from service.users.first_admin import create_admin, read_admin_password
    from service.users.service import admin_account

    if args.password is not None:  # refused: it would sit in the process list and the shell history
        print(
            "flowcrm users create-admin: --password is not accepted (the process list and the shell history "
            "would show it); type it at the prompt, pipe it with --password-stdin, or set ADMIN_PASSWORD",
            file=sys.stderr,
        )
        return 2
    settings = _settings()
    try:
        account = admin_account(args.email, read_admin_password(settings, from_stdin=args.password_stdin), args.name)
    except ValueError as exc:
        print(f"flowcrm users create-admin: {exc}", file=sys.stderr)
        return 2
    with database(settings) as (url, embedded, _started):
        if embedded:  # as `flowcrm serve` does: the embedded database is always brought up to date
            _runner(settings, url).up()
        try:
            outcome, user = asyncio.run(create_admin(settings, url, account))
        except asyncpg.UndefinedTableError:
            print(
                "flowcrm users create-admin: the database has no users table; run `flowcrm db up` first",
                file=sys.stderr,
            )
            return 1
    if outcome == "created":
        print(f"Created admin user {user['email']} (id {user['id']}).")
    else:
        print(
            f"Updated user {user['email']} (id {user['id']}): role admin, new password; "
            "their earlier tokens no longer work."
        )
    return 0


async def _seed(settings: Settings, url: str, args: argparse.Namespace) -> dict[str, int]:
    import asyncpg

    from service.db.pool import connect_options, init_connection
    from service.seed import seed

    conn = await asyncpg.connect(**{**connect_options(settings), "dsn": url})
    try:
        await init_connection(conn)
        return await seed(conn, customers=args.customers, products=args.products, presales=args.presales)
    finally:
        await conn.close()


def cmd_seed(args: argparse.Namespace) -> int:
    import asyncio

    settings = _settings()
    with database(settings) as (url, embedded, _started):
        if embedded:
            _runner(settings, url).up()
        counts = asyncio.run(_seed(settings, url, args))
    print("Seeded (new rows): " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowcrm", description="Flow CRM service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service (embedded PostgreSQL without DATABASE_URL)")
    serve.add_argument("--migrate", action="store_true", help="apply pending migrations to DATABASE_URL first")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes, each with its own pool (default: one per CPU in production, else 1)",
    )
    serve.set_defaults(func=cmd_serve)

    db = commands.add_parser("db", help="database migrations (dbmate)")
    actions = db.add_subparsers(dest="action", required=True)
    actions.add_parser("up", help="apply pending migrations")
    actions.add_parser("status", help="list applied and pending migrations")
    rollback = actions.add_parser("rollback", help="roll back the last migration(s)")
    rollback.add_argument("--steps", type=int, default=1)
    new = actions.add_parser("new", help="create a new migration file")
    new.add_argument("name")
    actions.add_parser("dump", help="write db/schema.sql from the database")
    db.set_defaults(func=cmd_db)

    users = commands.add_parser("users", help="user accounts")
    user_actions = users.add_subparsers(dest="action", required=True)
    create_admin = user_actions.add_parser(
        "create-admin", help="create an admin, or make the user with that email an admin with this password"
    )
    create_admin.add_argument("--email", required=True)
    create_admin.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (else ADMIN_PASSWORD, else a prompt)",
    )
    create_admin.add_argument("--password", help=argparse.SUPPRESS)  # only to refuse it with the reason
    create_admin.add_argument("--name", help="display name (default: Administrator; kept for an existing user)")
    users.set_defaults(func=cmd_users)

    seed = commands.add_parser("seed", help="load the demo data set (idempotent)")
    seed.add_argument("--customers", type=int, default=200)
    seed.add_argument("--products", type=int, default=60)
    seed.add_argument("--presales", type=int, default=100)
    seed.set_defaults(func=cmd_seed)
    return parser


def main(argv: list[str] | None = None) -> int:
    plan = supervisor.taken_plan()
    if plan is not None:
        return serve_handed_over(plan)
    from service.db.migrations import MigrationError
    from service.ops.logs import configure_logging

    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        command: Callable[[argparse.Namespace], int] = args.func
        return command(args)
    except (EmbeddedPostgresError, MigrationError) as exc:  # e.g. `flowcrm seed` without the embedded extra
        sys.exit(f"flowcrm {args.command}: {one_line(exc)}")


if __name__ == "__main__":
    sys.exit(main())
