"""Issuing signed e-documents: the e-license of an issued case, the e-receipt of a payment.

Issuing renders the PDF (render.py), signs it with the agency's key (PAdES, signing.py),
signs the same content as JSON (JWS), stores the PDF outside the web root and records the
document. The `source_key` names what a document was issued for, so a job that runs twice
issues once. Revoking and superseding change the record, never the PDF: verification reads
the record.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.db import unit_of_work
from govhub.documents import jws, keys, render, signing
from govhub.documents.models import DocumentStatus, IssuedDocument
from govhub.identity.auth import Caller
from govhub.identity.models import Agency, OfficerRole
from huey import crontab

from govhub.jobs import _run_async, enqueue, huey, job
from govhub.kit.clock import BANGKOK, BUDDHIST_ERA_OFFSET, utcnow
from govhub.kit.errors import Conflict, Forbidden, NotFound
from govhub.kit.i18n import N_
from govhub.kit.ids import new_id
from govhub.kit.observability import get_logger
from govhub.onestop.applications import definition_of, record_event
from govhub.onestop.documents import LocalDocumentStore
from govhub.onestop.models import Application
from govhub.onestop.tracking import claim_running_number
from govhub.payments.bills import checked_reason
from govhub.payments.models import Bill, BillLine, Payment, PaymentStatus

log = get_logger("govhub.documents")
KIND_LETTER = {"license": "L", "certificate": "C", "receipt": "R"}
# Who may revoke: the officers who decide cases; receipts also the finance officers.
REVOKERS = {OfficerRole.APPROVER, OfficerRole.REGISTRAR, OfficerRole.AGENCY_ADMIN}


@dataclass(frozen=True)
class Draft:
    """What is to be issued, before it has a number and a signature."""

    source_key: str
    kind: str
    agency: Agency
    title_th: str
    title_en: str
    holder_name: str
    holder_account_id: str | None
    fields: tuple[render.DocumentField, ...]
    line_items: tuple[render.LineItem, ...] = ()
    valid_from: date | None = None
    valid_until: date | None = None
    note_th: str = ""
    note_en: str = ""
    application_id: str | None = None
    payment_id: str | None = None


def store() -> LocalDocumentStore:
    """Where issued PDFs are kept (never served statically)."""
    return LocalDocumentStore(Path(get_settings().issued_document_store_path))


def storage_key(document_id: str) -> str:
    """The store key of a document's PDF."""
    return f"{document_id[:2]}/{document_id}"


def verify_url(document_id: str) -> str:
    """The verification page the document's QR code points to."""
    return f"{get_settings().public_url}/verify/{document_id}"


async def _number(agency: Agency, kind: str, now: datetime) -> str:
    """Claim the document's number in a transaction of its own.

    The counter row stays locked until its transaction ends; committing the claim at once
    keeps that lock off the render and signing that follow (a tenth of a second each). A
    document that then fails to issue leaves a gap in the numbers, which is allowed.
    """
    year_be = now.astimezone(BANGKOK).year + BUDDHIST_ERA_OFFSET
    letter = KIND_LETTER[kind]
    async with unit_of_work() as counter_session:
        number = await claim_running_number(counter_session, counter=f"DOC-{agency.code}-{letter}"[:32],
                                            year_be=year_be)
    return f"{agency.code}-{letter}-{year_be}-{number:06d}"


def machine_readable(document_id: str, number: str, draft: Draft, issued_at: datetime, pdf_sha256: str) -> dict[str, Any]:
    """The content the JWS carries: the same facts as the PDF, and the PDF's hash."""
    return {
        "documentId": document_id, "number": number, "kind": draft.kind,
        "issuer": {"agency": draft.agency.code, "name": {"th": draft.agency.name_th, "en": draft.agency.name_en}},
        "title": {"th": draft.title_th, "en": draft.title_en}, "holder": draft.holder_name,
        "fields": [{"label": {"th": f.label_th, "en": f.label_en}, "value": f.value} for f in draft.fields],
        "lineItems": [{"label": item.label, "amountSatang": item.amount_satang} for item in draft.line_items],
        "issuedAt": issued_at.isoformat(),
        "validFrom": draft.valid_from.isoformat() if draft.valid_from else None,
        "validUntil": draft.valid_until.isoformat() if draft.valid_until else None,
        "pdfSha256": pdf_sha256, "verifyUrl": verify_url(document_id),
    }


def _render_and_sign(content: render.DocumentContent, signer: keys.AgencySigner, location: str) -> bytes:
    """CPU-bound: run in a worker thread."""
    pdf = render.render_document(content)
    pdf_signer = signing.PdfSigner.from_key(signer.key, signer.certificate, list(signer.chain))  # type: ignore[arg-type]
    return signing.sign_pdf(pdf, pdf_signer, reason="Issued by govhub", location=location,
                            tsa_url=get_settings().tsa_url or None)


async def issue(session: AsyncSession, draft: Draft) -> IssuedDocument:
    """Number, render, sign (PDF and JWS), store and record one document; once per source."""
    existing = await session.scalar(select(IssuedDocument).where(IssuedDocument.source_key == draft.source_key))
    if existing is not None:
        return existing
    now = utcnow()
    document_id, number = new_id(), await _number(draft.agency, draft.kind, now)
    signer = await keys.signer_for(session, draft.agency)
    content = render.DocumentContent(
        document_id=number, kind=draft.kind, title_th=draft.title_th, title_en=draft.title_en,  # type: ignore[arg-type]
        agency_name_th=draft.agency.name_th, agency_name_en=draft.agency.name_en, holder_name=draft.holder_name,
        fields=draft.fields, issued_at=now, valid_from=draft.valid_from, valid_until=draft.valid_until,
        verify_url=verify_url(document_id), line_items=draft.line_items,
        footer_note_th=draft.note_th, footer_note_en=draft.note_en,
    )
    pdf = await asyncio.to_thread(_render_and_sign, content, signer, draft.agency.name_en)
    digest = hashlib.sha256(pdf).hexdigest()
    token = jws.sign_json(machine_readable(document_id, number, draft, now, digest), signer.key,
                          [signer.certificate, *signer.chain])
    await store().put(storage_key(document_id), pdf)
    document = IssuedDocument(
        id=document_id, number=number, kind=draft.kind, source_key=draft.source_key, agency_id=draft.agency.id,
        application_id=draft.application_id, payment_id=draft.payment_id, holder_account_id=draft.holder_account_id,
        holder_name=draft.holder_name, title_th=draft.title_th, title_en=draft.title_en,
        data={"fields": [[f.label_th, f.label_en, f.value] for f in draft.fields],
              "line_items": [[item.label, item.amount_satang] for item in draft.line_items],
              "note": [draft.note_th, draft.note_en]},
        issued_at=now, valid_from=draft.valid_from, valid_until=draft.valid_until, status=DocumentStatus.VALID,
        pdf_sha256=digest, pdf_size=len(pdf), signer_certificate_sha256=signer.certificate_sha256, jws=token,
    )
    session.add(document)
    await session.flush()
    log.info("document issued", document_id=document_id, kind=draft.kind, agency=draft.agency.code)
    return document


def _value(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


async def application_draft(session: AsyncSession, application: Application, *, generation: int = 1) -> Draft:
    """The e-license (or certificate) of an issued case, from its manual's template."""
    definition = await definition_of(session, application)
    agency = await session.get(Agency, application.agency_id)
    assert agency is not None
    template = definition.document
    data = application.data or {}
    if template is not None:
        fields = tuple(render.DocumentField(line.label.th, line.label.en, _value(data.get(line.field)))
                       for line in template.lines)
        holder = str(data.get(template.holder_field) or application.applicant_name) if template.holder_field \
            else application.applicant_name
        title, kind, days, note = template.title, template.kind, template.valid_days, template.note
    else:
        # No template: no answers at all. What a document shows is public (its QR opens the
        # verification page), so only a template may choose answers to print.
        fields = ()
        holder, title, kind, days, note = application.applicant_name, definition.title, "certificate", None, None
    today = utcnow().astimezone(BANGKOK).date()
    fields = (render.DocumentField("เลขที่คำขอ", "Application number", application.tracking_number or ""), *fields)
    suffix = "" if generation == 1 else f":{generation}"
    return Draft(
        source_key=f"application:{application.id}:{kind}{suffix}", kind=kind, agency=agency, title_th=title.th,
        title_en=title.en, holder_name=holder, holder_account_id=application.applicant_account_id, fields=fields,
        valid_from=today, valid_until=today + timedelta(days=days) if days else None,
        note_th=note.th if note else "", note_en=note.en if note else "", application_id=application.id,
    )


async def receipt_draft(session: AsyncSession, payment: Payment) -> Draft:
    """The e-receipt of a payment that paid its bill."""
    bill = await session.get(Bill, payment.bill_id)
    assert bill is not None
    agency = await session.get(Agency, bill.agency_id)
    assert agency is not None
    lines = (await session.scalars(select(BillLine).where(BillLine.bill_id == bill.id).order_by(BillLine.seq))).all()
    paid_local = payment.paid_at.astimezone(BANGKOK)
    fields = (
        render.DocumentField("เลขที่ใบแจ้งชำระ", "Bill number", bill.bill_number),
        render.DocumentField("รายการ", "For", bill.description_th),
        render.DocumentField("อ้างอิง 1 / อ้างอิง 2", "Ref1 / Ref2", f"{bill.ref1} / {bill.ref2}"),
        render.DocumentField("วันที่ชำระ", "Paid on", f"{render.thai_date(paid_local.date())} {paid_local:%H:%M}"),
        render.DocumentField("เลขอ้างอิงธนาคาร", "Bank reference", payment.transaction_id),
    )
    return Draft(
        source_key=f"payment:{payment.id}:receipt", kind="receipt", agency=agency, title_th="ใบเสร็จรับเงิน",
        title_en="Receipt", holder_name=bill.payer_name, holder_account_id=bill.payer_account_id, fields=fields,
        line_items=tuple(render.LineItem(f"{line.label_th} / {line.label_en}", line.amount_satang) for line in lines),
        payment_id=payment.id, application_id=bill.application_id,
    )


async def issue_for_application(session: AsyncSession, application_id: str) -> IssuedDocument | None:
    """Issue the case's e-document (once)."""
    application = await session.get(Application, application_id)
    if application is None:
        return None
    return await issue(session, await application_draft(session, application))


async def issue_receipt(session: AsyncSession, payment_id: str) -> IssuedDocument | None:
    """Issue the e-receipt of a credited payment (once) and link it to the payment."""
    payment = await session.get(Payment, payment_id)
    if payment is None or payment.status != PaymentStatus.CREDITED:
        return None
    document = await issue(session, await receipt_draft(session, payment))
    payment.receipt_document_id = document.id
    return document


@job("documents.issue_for_application")
async def issue_for_application_job(*, application_id: str) -> None:
    """Worker: issue a case's e-document."""
    async with unit_of_work() as session:
        await issue_for_application(session, application_id)


@job("documents.issue_receipt")
async def issue_receipt_job(*, payment_id: str) -> None:
    """Worker: issue a payment's e-receipt."""
    async with unit_of_work() as session:
        await issue_receipt(session, payment_id)


def may_manage(caller: Caller, document: IssuedDocument) -> bool:
    """True if the caller may revoke or reissue the document for its agency."""
    roles = caller.agency_roles.get(document.agency_id, set())
    allowed = REVOKERS | ({OfficerRole.FINANCE} if document.kind == "receipt" else set())
    return bool(roles & allowed)


async def for_manager(session: AsyncSession, caller: Caller, document_id: str) -> IssuedDocument:
    """A document of the caller's agency, for an officer who may manage it."""
    document = await session.get(IssuedDocument, document_id)
    if document is None or not caller.agency_roles.get(document.agency_id):
        raise NotFound()
    if not may_manage(caller, document):
        raise Forbidden(N_("Your role does not allow revoking this document."))
    return document


async def revoke(session: AsyncSession, *, caller: Caller, document_id: str, reason: str) -> IssuedDocument:
    """Revoke a valid document, recording who, when and why; verification says so at once."""
    document = await for_manager(session, caller, document_id)
    reason = checked_reason(reason)
    if document.status != DocumentStatus.VALID:
        raise Conflict(N_("Only a valid document can be revoked."), code="document_not_valid")
    document.status, document.status_reason = DocumentStatus.REVOKED, reason
    document.status_changed_at, document.status_changed_by = utcnow(), caller.account.id
    await _record_on_case(session, caller, document, "document_revoked", f"{document.number}: {reason}")
    await session.flush()
    return document


async def _record_on_case(session: AsyncSession, caller: Caller, document: IssuedDocument, action: str,
                          comment: str) -> None:
    """Revoking or reissuing shows in the case's history, for the officers and the holder."""
    if document.application_id is None:
        return
    application = await session.get(Application, document.application_id)
    if application is None:
        return
    role = sorted(str(r) for r in caller.agency_roles.get(document.agency_id, set()) if r in REVOKERS | {OfficerRole.FINANCE})
    await record_event(session, application, actor=caller.account, role=role[0] if role else "system", action=action,
                       from_state=application.state, to_state=application.state, comment=comment)


async def reissue(session: AsyncSession, *, caller: Caller, document_id: str, reason: str) -> IssuedDocument:
    """Issue a fresh copy of a case's document (corrected data); the old one is superseded."""
    document = await for_manager(session, caller, document_id)
    reason = checked_reason(reason)
    if document.status != DocumentStatus.VALID or document.application_id is None or document.kind == "receipt":
        raise Conflict(N_("Only a valid license or certificate of a case can be reissued."), code="document_not_valid")
    application = await session.get(Application, document.application_id)
    assert application is not None
    generation = 1 + len((await session.scalars(select(IssuedDocument.id).where(
        IssuedDocument.application_id == application.id, IssuedDocument.kind == document.kind))).all())
    fresh = await issue(session, await application_draft(session, application, generation=generation))
    document.status, document.status_reason, document.superseded_by_id = DocumentStatus.SUPERSEDED, reason, fresh.id
    document.status_changed_at, document.status_changed_by = utcnow(), caller.account.id
    await _record_on_case(session, caller, document, "document_reissued", f"{document.number} → {fresh.number}: {reason}")
    await session.flush()
    return fresh


async def documents_of_application(session: AsyncSession, application_id: str) -> list[IssuedDocument]:
    """The documents issued for a case (licenses and receipts), newest first."""
    return list((await session.scalars(select(IssuedDocument).where(
        IssuedDocument.application_id == application_id).order_by(IssuedDocument.issued_at.desc()))).all())


async def for_holder_or_agency(session: AsyncSession, caller: Caller, document_id: str) -> IssuedDocument:
    """The document, for its holder or its agency's staff (the PDF download)."""
    document = await session.get(IssuedDocument, document_id)
    if document is None or not (
            document.holder_account_id == caller.account.id or caller.agency_roles.get(document.agency_id)):
        raise NotFound()
    return document


STRAGGLER_AGE = timedelta(minutes=15)
STRAGGLER_BATCH = 500


async def queue_stragglers(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Queue again what should have been issued and was not (a job that ran out of retries).

    A credited payment without its receipt, or a case in an issuing state without its
    document, a quarter of an hour on: nothing acknowledged is left unissued for good.
    """
    cutoff = (now or utcnow()) - STRAGGLER_AGE
    payments = (await session.scalars(select(Payment.id).where(
        Payment.status == PaymentStatus.CREDITED, Payment.receipt_document_id.is_(None),
        Payment.received_at < cutoff).limit(STRAGGLER_BATCH))).all()
    for payment_id in payments:
        enqueue(session, "documents.issue_receipt", payment_id=payment_id)
    issued = select(IssuedDocument.application_id).where(IssuedDocument.application_id.is_not(None),
                                                          IssuedDocument.kind != "receipt")
    cases = (await session.scalars(select(Application).where(
        Application.is_final.is_(True), Application.decided_at < cutoff, Application.id.not_in(issued),
    ).order_by(Application.decided_at.desc()).limit(STRAGGLER_BATCH))).all()
    queued = len(payments)
    for application in cases:
        definition = await definition_of(session, application)
        if definition.workflow.state(application.state).issue:
            enqueue(session, "documents.issue_for_application", application_id=application.id)
            queued += 1
    if queued:
        log.warning("documents queued again", count=queued)
    return queued


async def _sweep() -> None:
    async with unit_of_work() as session:
        await queue_stragglers(session)


@huey.periodic_task(crontab(minute="23"), name="documents.queue_stragglers")
def _hourly_sweep() -> None:
    _run_async(_sweep())

