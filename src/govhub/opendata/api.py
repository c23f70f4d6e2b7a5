"""The CKAN Action API (`/api/3/action/{name}`, `/api/action/{name}`) and file downloads.

CKAN's envelope, error types and HTTP statuses are kept exactly, because clients branch on
them: ckanapi turns `"__type": "Not Found Error"` into its NotFound exception, and so on.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile

from govhub.config import get_settings
from govhub.db import SessionDep
from govhub.identity.auth import ApiTokenOrSession
from govhub.kit.errors import AppError, Forbidden, NotAuthenticated, NotFound, ValidationFailed
from govhub.kit.http import attachment_disposition
from govhub.kit.i18n import gettext
from govhub.opendata import actions, resources, service
from govhub.opendata.schemas import DatasetInvalid
from govhub.opendata.storage import get_storage

router = APIRouter(tags=["open data (CKAN API)"])


def _envelope(name: str, *, result: Any = None, error: dict[str, Any] | None = None, status: int = 200) -> JSONResponse:
    help_url = f"{get_settings().public_url}/api/3/action/help_show?name={name}"
    body: dict[str, Any] = {"help": help_url, "success": error is None}
    if error is None:
        body["result"] = result
    else:
        body["error"] = error
    return JSONResponse(body, status_code=status)


def _error_of(problem: AppError) -> tuple[int, dict[str, Any]]:
    """CKAN's status and error dict for a govhub error."""
    if isinstance(problem, DatasetInvalid):
        return 409, {"__type": "Validation Error", **problem.translated_errors()}
    if isinstance(problem, ValidationFailed) and problem.code == "search_query_error":
        return 400, {"__type": "Search Query Error", "message": f"Search Query Error: {problem.translated()}"}
    if isinstance(problem, ValidationFailed):
        return 409, {"__type": "Validation Error", problem.field or "message": [problem.translated()]}
    if isinstance(problem, NotFound):
        return 404, {"__type": "Not Found Error", "message": f"Not found: {problem.translated()}"}
    if isinstance(problem, (Forbidden, NotAuthenticated)):
        return 403, {"__type": "Authorization Error", "message": f"Access denied: {problem.translated()}"}
    return problem.status_code, {"__type": "Bad Request", "message": problem.translated()}


async def _parameters(request: Request) -> tuple[dict[str, Any], UploadFile | None]:
    """The action's data dict from the query string, a JSON body or a (multipart) form."""
    if request.method == "GET":
        data: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            data[key] = [*data[key], value] if isinstance(data.get(key), list) else \
                ([data[key], value] if key in data else value)
        return data, None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form(max_files=1, max_fields=200)
        upload = form.get("upload")
        data = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        return data, upload if isinstance(upload, UploadFile) and upload.filename else None
    # JSON bodies are metadata: files come as multipart, so the large upload limit is not for JSON.
    limit = get_settings().max_request_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BadRequest("Bad request - the JSON body is too large")
    raw = await request.body()
    if len(raw) > limit:
        raise _BadRequest("Bad request - the JSON body is too large")
    if not raw.strip():
        return {}, None
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise _BadRequest(f"Bad request - JSON Error: {error}") from None
    if not isinstance(data, dict):
        raise _BadRequest("Bad request - JSON Error: the body must be a JSON object")
    return data, None


class _BadRequest(Exception):
    """A request CKAN would answer with 400 before running the action."""


async def _spool(upload: UploadFile) -> Path:
    """Copy the upload to a named file, which the checks and the storage read."""
    fd, name = tempfile.mkstemp(prefix="govhub-resource-")

    def copy() -> None:
        with os.fdopen(fd, "wb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out, 1024 * 1024)

    await asyncio.to_thread(copy)
    return Path(name)


async def _call(name: str, request: Request, session: SessionDep, auth: ApiTokenOrSession) -> JSONResponse:
    function = actions.ACTIONS.get(name)
    if function is None:
        return _envelope(name, status=400, error={"__type": "Bad Request",
                                                  "message": f"Bad request - Action name not known: {name}"})
    if name in actions.WRITE_ACTIONS and request.method != "POST":
        return _envelope(name, status=400, error={"__type": "Bad Request",
                                                  "message": "Bad request - This action must be called with POST"})
    if auth.bad_token:
        return _envelope(name, status=403, error={"__type": "Authorization Error",
                                                  "message": "Access denied: the API token is not valid"})
    if name in actions.WRITE_ACTIONS and auth.caller is None:
        # Refused before the body is read: an anonymous client cannot make the server parse 100 MB.
        message = "Access denied: sign in with your second factor first" if auth.needs_second_factor \
            else "Access denied: an API token is required"
        return _envelope(name, status=403, error={"__type": "Authorization Error", "message": message})
    spooled: Path | None = None
    try:
        data, upload = await _parameters(request)
        actor = await service.actor_for(session, auth.caller)
        if upload is not None:
            spooled = await _spool(upload)
        context = actions.Context(actor=actor, caller=auth.caller, via_token=auth.via_token,
                                  upload=resources.Upload(spooled, upload.filename or "") if spooled and upload else None)
        result = await function(session, context, data)
        await session.flush()
    except _BadRequest as error:
        await session.rollback()
        return _envelope(name, status=400, error={"__type": "Bad Request", "message": str(error)})
    except AppError as problem:
        # Nothing of a refused call is kept: the request's changes are rolled back here.
        await session.rollback()
        status, error_dict = _error_of(problem)
        return _envelope(name, status=status, error=error_dict)
    except IntegrityError:
        # Two clients raced for the same name: the loser gets CKAN's validation error.
        await session.rollback()
        return _envelope(name, status=409, error={"__type": "Validation Error",
                                                  "name": [gettext("That URL is already in use.")]})
    finally:
        if spooled is not None:
            spooled.unlink(missing_ok=True)
    return _envelope(name, result=result)


@router.api_route("/api/3/action/{name}", methods=["GET", "POST"])
async def call_action(name: str, request: Request, session: SessionDep, auth: ApiTokenOrSession) -> JSONResponse:
    """Call a CKAN action (API token in the Authorization header for writes)."""
    return await _call(name, request, session, auth)


@router.api_route("/api/action/{name}", methods=["GET", "POST"])
async def call_action_unversioned(name: str, request: Request, session: SessionDep,
                                  auth: ApiTokenOrSession) -> JSONResponse:
    """Call a CKAN action (the unversioned path older clients use)."""
    return await _call(name, request, session, auth)


@router.get("/dataset/{dataset_id}/resource/{resource_id}/download/{filename}")
async def download_resource(dataset_id: str, resource_id: str, filename: str, session: SessionDep,
                            auth: ApiTokenOrSession) -> StreamingResponse:
    """Download an uploaded resource file (private datasets: their organization only)."""
    actor = await service.actor_for(session, auth.caller)
    resource, dataset = await service.get_resource(session, actor, resource_id)
    if dataset.id != dataset_id and dataset.name != dataset_id or resource.url_type != "upload" \
            or not resource.storage_key:
        raise service.ResourceNotFound()
    stream = await asyncio.to_thread(get_storage().open, resource.storage_key)

    def chunks() -> Any:
        with stream:
            while block := stream.read(256 * 1024):
                yield block

    safe_name = resource.url or "data"
    return StreamingResponse(chunks(), media_type=resource.mimetype or "application/octet-stream", headers={
        # Attachment: a hostile HTML or SVG upload can never render on the portal's origin.
        "Content-Disposition": attachment_disposition(safe_name),
        "X-Content-Type-Options": "nosniff", "Content-Length": str(resource.size or 0),
    })


@router.get("/datastore/dump/{resource_id}")
async def dump_datastore(resource_id: str, session: SessionDep, auth: ApiTokenOrSession,
                         format: str = "csv", bom: bool = False) -> StreamingResponse:
    """The whole datastore table as CSV, TSV, JSON or XLSX (formula-like cells neutralised)."""
    from govhub.opendata import datastore

    actor = await service.actor_for(session, auth.caller)
    await service.get_resource(session, actor, resource_id)
    stream = await datastore.export_rows(resource_id, format, bom=bom)
    fmt = format.lower()
    return StreamingResponse(stream, media_type=datastore.EXPORT_MEDIA_TYPES[fmt], headers={
        "Content-Disposition": attachment_disposition(f"{resource_id}.{fmt}"), "X-Content-Type-Options": "nosniff"})
