"""create_app(): one FastAPI app with every context's API and pages, middleware and errors."""

from __future__ import annotations

import gc
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import swagger_ui_bundle
from sqlalchemy.orm.exc import StaleDataError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import govhub
from govhub.config import get_settings
from govhub.db import dispose_engine
from govhub.exchange import api as exchange_api
from govhub.exchange import officer_api as exchange_officer_api
from govhub.exchange import officer_pages as exchange_officer_pages
from govhub.exchange import pages as exchange_pages
from govhub.exchange.proofing import CivilRegistryProofer
from govhub.exchange import evidence_api as exchange_evidence_api
from govhub.identity import admin_pages as identity_admin_pages
from govhub.identity import api_token_pages as identity_api_token_pages
from govhub.identity import api as identity_api
from govhub.identity import oidc as identity_oidc
from govhub.identity import oidc_admin as identity_oidc_admin
from govhub.identity import pages as identity_pages
from govhub.identity.auth import StepUpRequired
from govhub.identity.proofing import set_proofer
from govhub.kit.csrf import CsrfCookieMiddleware
from govhub.kit.http import BodySizeLimitMiddleware
from govhub.kit.errors import AppError, Conflict, NotAuthenticated, NotFound, ValidationFailed
from govhub.kit.i18n import N_, gettext
from govhub.onestop import admin_pages as onestop_admin_pages
from govhub.onestop import api as onestop_api
from govhub.onestop import application_pages as onestop_application_pages
from govhub.onestop import backoffice as onestop_backoffice
from govhub.onestop import pages as onestop_pages
from govhub.onestop import registration_api as onestop_registration_api
from govhub.notify import pages as notify_pages
from govhub.opendata import api as opendata_api
from govhub.opendata import dcat_routes as opendata_dcat_routes
from govhub.opendata import pages as opendata_pages
from govhub.opendata import search as opendata_search
from govhub.documents import pages as documents_pages
from govhub.payments import api as payments_api
from govhub.payments import pages as payments_pages
from govhub.payments import reconcile_pages as payments_reconcile_pages
from govhub.registries import api as registries_api
from govhub.kit.observability import RequestObservabilityMiddleware, configure_logging, get_logger, request_id_var
from govhub.web import system
from govhub.web.middleware import LocaleMiddleware, SecurityHeadersMiddleware
from govhub.web.templating import STATIC_DIR, render

log = get_logger("govhub.app")

# Requests under these prefixes are machine APIs: errors are JSON, never pages.
API_PREFIXES = ("/api/", "/payments/", "/oauth/", "/.well-known/", "/oidc/", "/registries/", "/registration/", "/gdx/r1/", "/gdx/evidence")
# Routes that accept uploaded documents (they get GOVHUB_MAX_UPLOAD_BODY_BYTES).
# Open-data resource files: up to opendata_max_resource_bytes (plus the multipart envelope).
RESOURCE_UPLOAD_PATHS = re.compile(r"^/(api/(3/)?action/resource_(create|update|patch)|dataset/[^/]+/resource/(new|[^/]+/edit))$")
UPLOAD_PATHS = re.compile(r"^/(applications/[^/]+/form/\d+|registration/documents|verify|backoffice/payments/reconcile)$")
# JSON routes under /gdx/ beside the portal's pages (/gdx/catalog, /gdx/services...).
API_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/gdx/listClients")

# Mounted file trees that need no sign-in (the route meta-test reads this list).
PUBLIC_MOUNTS = ("/static", "/static/swagger")


def _wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(API_PREFIXES) or path in API_PATHS:
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _error_page(request: Request, error: AppError) -> Response:
    titles = {
        401: N_("Please sign in"),
        403: N_("You cannot do this"),
        404: N_("Page not found"),
        429: N_("Too many attempts"),
    }
    fallback = N_("Something went wrong")
    title = gettext(titles.get(error.status_code, fallback))
    return render(
        request,
        "error.html",
        {"title": title, "message": error.translated(), "code": error.code, "request_id": request_id_var.get()},
        status_code=error.status_code,
    )


async def handle_app_error(request: Request, error: AppError) -> Response:
    """Domain errors become JSON for APIs, and a readable page or redirect in the portal."""
    if _wants_json(request):
        return JSONResponse(error.to_dict(), status_code=error.status_code, headers=error.headers or None)
    next_url = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
    if isinstance(error, NotAuthenticated) and request.method == "GET":
        return RedirectResponse(f"/sign-in?next={next_url}", status_code=303)
    if isinstance(error, StepUpRequired) and request.method == "GET":
        target = "/sign-in/second-factor" if error.enrolled else "/account/two-factor/setup"
        if error.required_ial > 1:
            target = "/account/verify-identity"
        return RedirectResponse(f"{target}?next={next_url}", status_code=303)
    return _error_page(request, error)


async def handle_http_error(request: Request, error: StarletteHTTPException) -> Response:
    """Framework errors (404 for unknown paths, 405) in the same shape as domain errors."""
    if error.status_code == 404:
        return await handle_app_error(request, NotFound())
    app_error = AppError(N_("The request could not be processed."), code=f"http_{error.status_code}")
    app_error.status_code = error.status_code
    return await handle_app_error(request, app_error)


async def handle_validation_error(request: Request, error: RequestValidationError) -> Response:
    """Malformed requests: a 422 naming the first bad field, in the user's language."""
    first = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "form")]
    app_error = ValidationFailed(
        N_("The request is malformed or missing a required value."), field=".".join(location) or None
    )
    return await handle_app_error(request, app_error)


async def handle_unexpected(request: Request, error: Exception) -> Response:
    """Anything unforeseen: log it with the request id, show a calm message, leak nothing."""
    log.exception("unhandled error", error_type=type(error).__name__)
    app_error = AppError(N_("Something went wrong on our side. Please try again in a moment."), code="internal_error")
    app_error.status_code = 500
    return await handle_app_error(request, app_error)


async def handle_stale_write(request: Request, error: StaleDataError) -> Response:
    """Two people changed the same record at once: the later one is told, nothing is overwritten."""
    conflict = Conflict(N_("Someone else changed this at the same moment. Reload the page and try again."),
                        code="concurrent_change")
    return await handle_app_error(request, conflict)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Keep startup's objects out of the garbage collector; close the database pool on shutdown."""
    # Modules, routes, models and templates live as long as the process, yet each full
    # collection walks all of them (about 160,000 objects: ~100 ms measured, during which no
    # request in the worker moves). Frozen, they are skipped. PyThaiNLP's word dictionary is
    # loaded first for the same reason: loaded by the first Thai search instead, its ~540,000
    # objects made every later full collection take ~240 ms (the 130-150 ms stalls in bench_opendata).
    opendata_search.load_segmenter()
    gc.collect()
    gc.freeze()
    yield
    await dispose_engine()


def create_app() -> FastAPI:
    """Build the govhub application."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    # Digital ID proves identities (IAL2) against the civil registry the exchange serves.
    set_proofer(CivilRegistryProofer())
    app = FastAPI(
        title="govhub",
        version=govhub.__version__,
        description="Digital government platform: Digital ID, data exchange, one-stop service.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.add_exception_handler(AppError, handle_app_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, handle_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, handle_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StaleDataError, handle_stale_write)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, handle_unexpected)

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(system.router)
    # Routes are tried in order: the exchange's call, the busiest route, comes early.
    app.include_router(exchange_api.router)
    app.include_router(identity_api.router)
    app.include_router(identity_oidc.router)
    app.include_router(identity_oidc_admin.router)
    app.include_router(identity_pages.router)
    app.include_router(identity_admin_pages.router)
    app.include_router(identity_api_token_pages.router)
    app.include_router(registries_api.router)
    app.include_router(exchange_pages.router)
    app.include_router(exchange_officer_pages.router)
    app.include_router(exchange_officer_api.router)
    app.include_router(exchange_evidence_api.router)
    app.include_router(onestop_api.router)
    app.include_router(onestop_registration_api.router)
    app.include_router(onestop_pages.router)
    app.include_router(onestop_application_pages.router)
    app.include_router(onestop_backoffice.router)
    app.include_router(onestop_admin_pages.router)
    app.include_router(notify_pages.router)
    app.include_router(payments_api.router)
    app.include_router(payments_pages.router)
    app.include_router(payments_reconcile_pages.router)
    app.include_router(documents_pages.router)
    app.include_router(opendata_api.router)
    app.include_router(opendata_dcat_routes.router)
    app.include_router(opendata_pages.router)

    # Outermost last: observability sees every response, including error pages.
    app.add_middleware(CsrfCookieMiddleware)
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestObservabilityMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes,
        upload_paths=UPLOAD_PATHS, upload_max_bytes=settings.max_upload_body_bytes,
        path_limits=((RESOURCE_UPLOAD_PATHS, settings.opendata_max_resource_bytes + 1024 * 1024),),
    )
    return app
