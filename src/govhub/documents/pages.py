"""Pages and API of e-Documents: public verification (by link, QR or upload), the holder's
download, the machine-readable JWS, and officers revoking or reissuing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.datastructures import UploadFile

from govhub.config import get_settings
from govhub.db import SessionDep
from govhub.documents import issuing, verification
from govhub.documents.models import IssuedDocument
from govhub.identity.auth import PublicCaller, SignedIn
from govhub.kit import ratelimit
from govhub.kit.errors import AppError, NotFound, ValidationFailed
from govhub.kit.i18n import N_, gettext
from govhub.web.forms import client_ip, form_error, see_other
from govhub.web.templating import render

router = APIRouter(tags=["documents"])
VERIFY_UPLOADS_PER_IP = "30/hour"
STATUS_LABELS = {
    "valid": N_("Valid"), "expired": N_("Expired"), "not_yet_valid": N_("Not yet valid"),
    "revoked": N_("Revoked"), "superseded": N_("Superseded by a newer document"),
}
KIND_LABELS = {"license": N_("License"), "certificate": N_("Certificate"), "receipt": N_("Receipt")}


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.query_params.get("format") == "json" or (
        "application/json" in accept and "text/html" not in accept)


def _labels() -> dict[str, Any]:
    return {"status_labels": {k: gettext(v) for k, v in STATUS_LABELS.items()},
            "kind_labels": {k: gettext(v) for k, v in KIND_LABELS.items()}}


async def _document(session: SessionDep, document_id: str) -> IssuedDocument:
    document = await session.get(IssuedDocument, document_id) if len(document_id) <= 36 else None
    if document is None:
        raise NotFound(N_("No document with this number was issued through govhub."))
    return document


@router.get("/verify", include_in_schema=False)
async def verify_form(request: Request, caller: PublicCaller) -> HTMLResponse:
    """Check a document: upload the PDF (or follow the QR code printed on it)."""
    return render(request, "documents/verify_upload.html", {})


@router.post("/verify", include_in_schema=False)
async def verify_upload(request: Request, session: SessionDep, caller: PublicCaller) -> Response:
    """Check an uploaded PDF: signature, trusted signer, untouched, and issued by govhub."""
    try:
        await ratelimit.hit(VERIFY_UPLOADS_PER_IP, "verify-upload", client_ip(request) or "-")
        pdf = await _uploaded_pdf(request)
    except AppError as error:
        return await form_error(request, session, "documents/verify_upload.html", error, {})
    check = await verification.check_upload(session, pdf)
    view = await verification.public_view(session, check.document) if check.document else None
    return render(request, "documents/verify_result.html", {"check": check, "view": view, **_labels()})


async def _uploaded_pdf(request: Request) -> bytes:
    posted = await request.form(max_files=1, max_fields=5)
    upload = posted.get("document")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ValidationFailed(N_("Choose the PDF file to check."), field="document")
    limit = get_settings().max_verify_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationFailed(N_("The file is too large to be a govhub document (at most 10 MB)."), field="document")
    if not data.startswith(b"%PDF-"):
        raise ValidationFailed(N_("This file is not a PDF."), field="document")
    return data


@router.get("/verify/{document_id}", response_model=None)
async def verify_document(request: Request, document_id: str, session: SessionDep, caller: PublicCaller) -> Response:
    """A document's status (valid, expired, revoked with its reason, superseded), data and hash.

    JSON for `Accept: application/json` or `?format=json`; otherwise the public page.
    """
    document = await _document(session, document_id)
    view = await verification.public_view(session, document)
    if _wants_json(request):
        return JSONResponse(view, headers={"Cache-Control": "no-store"})
    return render(request, "documents/verify.html", {"view": view, "document": document, **_labels()})


@router.get("/verify/{document_id}/jws", response_class=PlainTextResponse)
async def document_jws(document_id: str, session: SessionDep, caller: PublicCaller) -> PlainTextResponse:
    """The document as JSON signed by the issuing agency (compact JWS, certificate chain in x5c)."""
    document = await _document(session, document_id)
    return PlainTextResponse(document.jws, media_type="application/jose")


@router.get("/documents/{document_id}/pdf", include_in_schema=False)
async def download_pdf(document_id: str, session: SessionDep, caller: SignedIn) -> Response:
    """The signed PDF, for its holder and the issuing agency."""
    document = await issuing.for_holder_or_agency(session, caller, document_id)
    pdf = await issuing.store().get(issuing.storage_key(document.id))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{document.number}.pdf"', "Cache-Control": "no-store"})


@router.post("/documents/{document_id}/revoke", include_in_schema=False)
async def revoke(
    request: Request, document_id: str, session: SessionDep, caller: SignedIn,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """An officer of the issuing agency revokes a document, with the reason."""
    try:
        document = await issuing.revoke(session, caller=caller, document_id=document_id, reason=reason)
    except AppError as error:
        return await _officer_error(request, session, document_id, error)
    return see_other(_back(document))


@router.post("/documents/{document_id}/reissue", include_in_schema=False)
async def reissue(
    request: Request, document_id: str, session: SessionDep, caller: SignedIn,
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """An officer reissues a case's document (the old one becomes superseded)."""
    try:
        fresh = await issuing.reissue(session, caller=caller, document_id=document_id, reason=reason)
    except AppError as error:
        return await _officer_error(request, session, document_id, error)
    return see_other(_back(fresh))


def _back(document: IssuedDocument) -> str:
    return f"/backoffice/applications/{document.application_id}" if document.application_id else f"/verify/{document.id}"


async def _officer_error(request: Request, session: SessionDep, document_id: str, error: AppError) -> HTMLResponse:
    async def context() -> dict[str, Any]:
        document = await _document(session, document_id)
        return {"view": await verification.public_view(session, document), "document": document, **_labels()}
    return await form_error(request, session, "documents/verify.html", error, context)
