"""The Litestar application factory: routes, lifespan (pool open/close), error handling, OpenAPI."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from granian.utils.proxies import wrap_asgi_with_proxy_headers
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins.pydantic import PydanticPlugin
from litestar.types import ASGIApp

from service import __version__
from service.audit.routes import AuditLogController
from service.auth.current_user import provide_session
from service.auth.requirements import check_route_requirements
from service.auth.token_cache import TokenCache, listen_for_auth_changes
from service.config import Settings
from service.customers.routes import CustomerController
from service.dashboard.routes import DashboardController
from service.db.health import HealthChecker
from service.db.page_cache import PageCache
from service.db.pool import open_pool, provide_connection
from service.http.allow import OptionsAllow
from service.http.cors import CorsRejection
from service.http.docs import openapi_config
from service.http.errors import exception_to_response
from service.http.health import LivenessFirst, api_test, liveness, readiness
from service.http.openapi import complete_openapi
from service.http.request import JsonRequest
from service.http.security import SecurityHeaders
from service.ops.logs import configure_logging
from service.ops.metrics import worker_metrics
from service.ops.observe import ObservedRequests, observe_requests
from service.ops.shutdown import prepare_worker_signals
from service.payment_methods.routes import PaymentMethodController
from service.presales.routes import PresaleController
from service.products.routes import ProductController
from service.reports.routes import ReportController
from service.sessions.routes import AuthController
from service.stock.routes import StockController
from service.users.routes import UserController
from service.users.service import bootstrap_admin

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


@asynccontextmanager
async def database_lifespan(app: Litestar) -> AsyncGenerator[None, None]:
    """Open the pool before the first request (with retries); close it after the last one finished."""
    settings: Settings = app.state.settings
    pool = await open_pool(settings)
    app.state.pool = pool
    listener = listen_for_auth_changes(settings, app.state.tokens)
    try:
        await bootstrap_admin(pool, settings)  # ADMIN_EMAIL/ADMIN_PASSWORD: create that admin if missing
        first = await app.state.health.check(pool)
        log.info(
            "initial health check: database %s in %.1f ms, pending migrations: %s",
            "up" if first.up else "down",
            first.response_time_ms,
            first.pending_migrations,
        )
        # Everything loaded so far (modules, routes, pydantic and OpenAPI schemas: most of the heap) lives as long as
        # the process. Left to the collector, each full collection walks it all: pauses that were the whole p99
        # of simple reads under load (figures: bench/README.md). Frozen, they are never walked again.
        gc.collect()
        gc.freeze()
        yield
    finally:
        # Servers run the lifespan shutdown only after in-flight requests completed.
        await app.state.health.close()
        if listener is not None:
            await listener.close()
        await pool.close()
        app.state.pool = None
        log.info("database pool closed")


def create_app(settings: Settings | None = None) -> Litestar:
    if settings is None:  # built by the server in a worker process: configure it like the CLI does
        configure_logging()
        settings = Settings()
    if not settings.database_url:
        raise ValueError("DATABASE_URL is required to build the app (flowcrm serve starts an embedded database)")
    state = State(
        {
            "settings": settings,
            "health": HealthChecker(settings),
            "pool": None,
            "tokens": TokenCache(settings.auth_cache_seconds),
            "pages": PageCache(int(settings.page_cache_mb * 1024 * 1024)),
        }
    )
    app = Litestar(
        route_handlers=[
            liveness,
            readiness,
            api_test,
            AuthController,
            UserController,
            CustomerController,
            ProductController,
            PresaleController,
            PaymentMethodController,
            StockController,
            ReportController,
            DashboardController,
            AuditLogController,
        ],
        state=state,
        lifespan=[database_lifespan, worker_metrics],
        dependencies={"conn": Provide(provide_connection), "session": Provide(provide_session)},
        exception_handlers={Exception: exception_to_response},
        cors_config=CORSConfig(
            allow_origins=settings.cors_origins,
            allow_headers=["Authorization", "Content-Type"],
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        ),
        openapi_config=openapi_config("Flow CRM service", __version__),  # unknown /schema paths: envelope 404
        plugins=[PydanticPlugin(prefer_alias=True)],  # the schema shows the camelCase names actually sent
        request_max_body_size=MAX_BODY_BYTES,
        before_send=[
            SecurityHeaders(settings),  # every response, 404s and preflights too (see security.py)
            OptionsAllow(),
            CorsRejection(),
        ],  # OPTIONS: the path's full Allow; refused preflight: envelope
        request_class=JsonRequest,  # JSON bodies only as application/json (else 415), valid UTF-8 (else 400)
        logging_config=None,  # the process configures logging (flowcrm CLI, the test server)
        debug=False,
    )
    check_route_requirements(app)  # every protected route declares a typed Requirement (service/auth/requirements.py)
    complete_openapi(app)
    observe_requests(app, settings)  # request ids, metrics, access log (service/ops/observe.py)
    return app


def create_server_app() -> ASGIApp:
    """What `flowcrm serve` runs in each granian worker: the app, behind granian's X-Forwarded-For handling for
    the peers in FORWARDED_ALLOW_IPS (the test server, uvicorn, does the same for 127.0.0.1 by itself), with
    liveness answered in front of both (service/http/health.py), and all of it observed (request id, metrics,
    access line: service/ops/observe.py)."""
    app = create_app()
    app.on_startup.append(prepare_worker_signals)  # lame-duck shutdown (service/ops/shutdown.py)
    settings: Settings = app.state.settings
    trusted = settings.forwarded_allow_ips
    return ObservedRequests(
        LivenessFirst(wrap_asgi_with_proxy_headers(app, trusted) if trusted else app, settings), settings
    )
