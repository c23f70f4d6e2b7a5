"""Operational routes: liveness, readiness, metrics, the OpenAPI document and its viewer."""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from govhub.config import get_settings
from govhub.db import get_engine
from govhub.identity.auth import Anyone, PublicCaller, _declares_auth
from govhub.kit.errors import NotAuthenticated
from govhub.kit.observability import get_logger
from govhub.web.templating import render

router = APIRouter()
log = get_logger("govhub.system")


@router.get("/", include_in_schema=False)
async def home(request: Request, caller: PublicCaller) -> HTMLResponse:
    """The portal's front page."""
    return render(request, "home.html")


@router.get("/healthz", tags=["system"])
async def healthz(_: Anyone) -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok"}


READINESS_TIMEOUT_SECONDS = 3


@router.get("/readyz", tags=["system"])
async def readyz(_: Anyone) -> JSONResponse:
    """Readiness: the database answers; load balancers stop routing here when it does not."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            async with get_engine().connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means not ready
        log.warning("database not ready", error_type=type(error).__name__)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


@_declares_auth("metrics_token")
async def metrics_access(request: Request) -> None:
    """Open on one machine; behind a bearer token when GOVHUB_METRICS_TOKEN is set."""
    expected = get_settings().metrics_token
    if expected is None:
        return
    sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(sent.encode(), expected.get_secret_value().encode()):
        raise NotAuthenticated()


@router.get("/metrics", tags=["system"], include_in_schema=False)
async def metrics(_: Annotated[None, Depends(metrics_access)]) -> Response:
    """Prometheus metrics: requests and latency by route."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", include_in_schema=False)
async def openapi_document(request: Request, _: Anyone) -> JSONResponse:
    """The OpenAPI 3 description of every JSON API."""
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False)
async def api_docs(_: Anyone) -> HTMLResponse:
    """Swagger UI, served from this host (no CDN)."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="govhub API",
        swagger_js_url="/static/swagger/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger/swagger-ui.css",
        swagger_favicon_url="/static/swagger/favicon-32x32.png",
    )
