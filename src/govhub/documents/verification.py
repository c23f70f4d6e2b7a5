"""Verification: what the issuer's record says of a document, and whether a PDF copy is genuine.

A copy is genuine when its signature is intact and chains to a CA govhub trusts, the
signature covers the whole file, and the file's SHA-256 is that of a document govhub
issued. Its status then comes from the record: valid, expired, revoked (with the reason),
or superseded (with the document that replaced it).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.documents import keys, pdf_check
from govhub.documents.models import DocumentStatus, IssuedDocument
from govhub.identity.models import Agency
from govhub.kit.clock import BANGKOK, utcnow


def status_of(document: IssuedDocument, today: date | None = None) -> str:
    """valid | expired | not_yet_valid | revoked | superseded."""
    if document.status != DocumentStatus.VALID:
        return str(document.status)
    today = today or utcnow().astimezone(BANGKOK).date()
    if document.valid_until is not None and today > document.valid_until:
        return "expired"
    if document.valid_from is not None and today < document.valid_from:
        return "not_yet_valid"
    return "valid"


async def public_view(session: AsyncSession, document: IssuedDocument) -> dict[str, Any]:
    """What anyone may read about a document: the API's answer and the page's content."""
    agency = await session.get(Agency, document.agency_id)
    replacement = await session.get(IssuedDocument, document.superseded_by_id) if document.superseded_by_id else None
    return {
        "documentId": document.id, "number": document.number, "kind": document.kind,
        "status": status_of(document), "statusReason": document.status_reason or None,
        "statusChangedAt": document.status_changed_at.isoformat() if document.status_changed_at else None,
        "supersededBy": replacement.id if replacement else None,
        "issuer": {"agency": agency.code if agency else None,
                   "name": {"th": agency.name_th, "en": agency.name_en} if agency else None},
        "title": {"th": document.title_th, "en": document.title_en}, "holder": document.holder_name,
        "fields": [{"label": {"th": th, "en": en}, "value": value} for th, en, value in document.data.get("fields", [])],
        "lineItems": [{"label": label, "amountSatang": amount} for label, amount in document.data.get("line_items", [])],
        "issuedAt": document.issued_at.isoformat(),
        "validFrom": document.valid_from.isoformat() if document.valid_from else None,
        "validUntil": document.valid_until.isoformat() if document.valid_until else None,
        "sha256": document.pdf_sha256, "signerCertificateSha256": document.signer_certificate_sha256,
    }


@dataclass(frozen=True)
class UploadCheck:
    """The verdict on an uploaded PDF."""

    signature: pdf_check.SignatureCheck
    sha256: str
    document: IssuedDocument | None

    @property
    def genuine(self) -> bool:
        """Signed by a trusted agency, untouched, and exactly a file govhub issued."""
        s = self.signature
        return bool(s.signed and s.intact and s.valid and s.trusted and s.covers_whole_document and self.document)


async def check_upload(session: AsyncSession, pdf: bytes) -> UploadCheck:
    """Check an uploaded PDF's signature and find the issued record it must match."""
    digest = hashlib.sha256(pdf).hexdigest()
    document = await session.scalar(select(IssuedDocument).where(IssuedDocument.pdf_sha256 == digest).limit(1))
    roots = await keys.trust_roots(session)
    # A file on record is judged as of its issue time: an agency certificate that expired since
    # does not make a genuine license untrustworthy (its status comes from the record).
    moment = document.issued_at if document is not None else None
    # pyHanko's validation is CPU-bound and synchronous.
    signature = await asyncio.to_thread(functools.partial(pdf_check.check_signed_pdf, pdf, roots, moment=moment))
    return UploadCheck(signature=signature, sha256=digest, document=document)
