"""The applicant's pages: apply (with consent to fetch from GDX), fill the e-form page by page, submit, track.

Also the public status page: anyone with the tracking number and the applicant's ID number
sees where the case stands, and nothing personal. Forms are plain posts that work without
JavaScript; a page's answers are saved whatever button is pressed, so nothing typed is lost.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from govhub.config import get_settings
from govhub.db import SessionDep
from govhub.identity.auth import PublicCaller, SignedIn
from govhub.identity.repository import agency_by_id
from govhub.kit import ratelimit
from govhub.kit.clock import utcnow
from govhub.kit.crypto import pii_hash
from govhub.kit.errors import AppError, NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.documents import issuing
from govhub.payments import bills
from govhub.onestop import applications, forms, repository, tracking, workflow
from govhub.onestop.applications import DRAFT, FormInvalid
from govhub.onestop.definitions import ServiceDefinition
from govhub.onestop.models import Application, ApplicationEvent
from govhub.web.forms import client_ip, form_error, see_other
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)
UPLOAD_FIELDS = 20
STATUS_RATE_PER_ID = "20/hour"
NO_MATCH = N_("No application matches this tracking number and ID number. Check both and try again.")


async def _service_and_definition(session: SessionDep, code: str) -> tuple[Any, ServiceDefinition]:
    service = await repository.service_by_code(session, code)
    if service is None or not service.is_active:
        raise NotFound()
    return service, await applications.definition_of_service(session, service)


@router.get("/services/{code}/apply")
async def apply_page(request: Request, code: str, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """What applying involves: the data govhub will fetch, from whom and why, and the consent."""
    service, definition = await _service_and_definition(session, code)
    plan = await applications.prefill_plan(session, definition, caller)
    drafts = await repository.drafts_of(session, caller.account.id, service.id)
    return render(request, "onestop/apply.html", {
        "service": service, "manual": definition, "plan": plan, "drafts": drafts,
        "purpose": applications.purpose_of(definition),
    })


@router.post("/services/{code}/apply")
async def apply_start(
    request: Request, code: str, session: SessionDep, caller: SignedIn,
    consent: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Start a draft; with consent, fill it from the registries through the exchange."""
    service, definition = await _service_and_definition(session, code)
    keys = await applications.proven_keys(session, caller)
    plan = await applications.prefill_plan(session, definition, caller, keys)
    if any(source.available for source in plan) and consent not in ("yes", "no"):
        # Consent to share personal data is an active choice (PDPA): nothing is pre-selected.
        error = ValidationFailed(N_("Choose whether govhub may fetch this information for you."), field="consent")
        drafts = await repository.drafts_of(session, caller.account.id, service.id)
        return render(request, "onestop/apply.html", {
            "service": service, "manual": definition, "plan": plan, "drafts": drafts,
            "purpose": applications.purpose_of(definition), "error": error.translated(), "error_field": "consent",
        }, status_code=422)
    application = await applications.start(session, caller=caller, service=service, definition=definition, keys=keys)
    if consent == "yes":
        await applications.fill_from_exchange(session, application=application, caller=caller, definition=definition,
                                              plan=plan)
    else:
        application.prefill_status = "declined"
    return see_other(f"/applications/{application.id}/form/0")


@router.get("/applications")
async def my_applications(request: Request, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """The caller's applications, drafts first."""
    rows = await repository.applications_of(session, caller.account.id)
    titles = await repository.service_titles(session, {row.service_id for row in rows})
    return render(request, "onestop/my_applications.html", {"rows": rows, "titles": titles})


# --- the e-form ------------------------------------------------------------------------------


async def _editable(session: SessionDep, caller: SignedIn, application_id: str) -> tuple[Application, ServiceDefinition]:
    application = await applications.for_applicant(session, caller, application_id)
    return application, await applications.definition_of(session, application)


def _form_context(application: Application, definition: ServiceDefinition, page: int, **extra: Any) -> dict[str, Any]:
    return {
        "application": application, "manual": definition, "page": page, "form_page": definition.form.pages[page],
        "pages": definition.form.pages, "required": set(definition.form.json_schema.get("required") or []),
        "errors": {}, **extra,
    }


@router.get("/applications/{application_id}/form/{page}")
async def form_page(request: Request, application_id: str, page: int, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """One page of the e-form, with saved answers and the marks of verified values."""
    application, definition = await _editable(session, caller, application_id)
    if not 0 <= page < len(definition.form.pages):
        raise NotFound()
    documents = {d.id: d for d in await applications.documents_of(session, application)}
    return render(request, "onestop/form_page.html", _form_context(application, definition, page, documents=documents))


@router.post("/applications/{application_id}/form/{page}")
async def form_page_submit(request: Request, application_id: str, page: int, session: SessionDep, caller: SignedIn) -> Response:
    """Save the page's answers and files; go on, back, or stop here as the button says."""
    application, definition = await _editable(session, caller, application_id)
    posted = await request.form(max_files=UPLOAD_FIELDS, max_fields=200)
    intent = str(posted.get("intent") or "save")
    texts = {key: value for key, value in posted.items() if isinstance(value, str)}
    try:
        applications.save_answers(application, definition, texts, page=page, check=False)
    except AppError as error:
        return await form_error(request, session, "onestop/form_page.html", error,
                                lambda: _reload_context(session, caller, application_id, page))
    errors = await _save_uploads(session, application, definition, caller, posted, page)
    if intent == "next":
        # Checked after the uploads, so that a file chosen on this very page counts as given.
        checked = forms.validate(definition, application.data, only=forms.page_fields(definition.form, page))
        errors = _merge(checked, errors)
    if errors:
        documents = {d.id: d for d in await applications.documents_of(session, application)}
        by_field = {error.field: error.text() for error in errors}
        return render(request, "onestop/form_page.html", _form_context(
            application, definition, page, documents=documents, errors=by_field,
            error=N_("Some answers need your attention."),
        ), status_code=422)
    if intent == "back":
        return see_other(f"/applications/{application.id}/form/{max(page - 1, 0)}")
    if intent == "next":
        last = len(definition.form.pages) - 1
        return see_other(f"/applications/{application.id}/review" if page >= last else f"/applications/{application.id}/form/{page + 1}")
    return see_other("/applications?saved=1")


async def _reload_context(session: SessionDep, caller: SignedIn, application_id: str, page: int) -> dict[str, Any]:
    application, definition = await _editable(session, caller, application_id)
    documents = {d.id: d for d in await applications.documents_of(session, application)}
    return _form_context(application, definition, min(max(page, 0), len(definition.form.pages) - 1), documents=documents)


async def _save_uploads(
    session: SessionDep, application: Application, definition: ServiceDefinition, caller: SignedIn, posted: Any, page: int,
) -> list[forms.FieldError]:
    """Store each file chosen on this page; a refused file becomes that field's error."""
    errors = []
    for name in forms.page_fields(definition.form, page):
        upload = posted.get(name)
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        content = await upload.read()
        try:
            await applications.attach_document(session, application=application, definition=definition, caller=caller,
                                               field_name=name, filename=upload.filename, content=content)
        except ValidationFailed as error:
            errors.append(forms.FieldError(name, error.message, error.params))
    return errors


def _merge(first: list[forms.FieldError], second: list[forms.FieldError]) -> list[forms.FieldError]:
    """Upload refusals win over 'upload this file' for the same field."""
    named = {error.field for error in second}
    return [error for error in first if error.field not in named] + second


# --- review, submit, acknowledgement ----------------------------------------------------------


@router.get("/applications/{application_id}/review")
async def review_page(request: Request, application_id: str, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """Check every answer before submitting (or resubmitting a returned application)."""
    application, definition = await _editable(session, caller, application_id)
    errors = {error.field: error.text() for error in forms.validate(definition, application.data)}
    documents = {d.id: d for d in await applications.documents_of(session, application)}
    return render(request, "onestop/review.html", {
        "application": application, "manual": definition, "errors": errors, "documents": documents,
        "resubmit": applications.returned_to_applicant(application, definition),
    })


@router.post("/applications/{application_id}/submit")
async def submit(request: Request, application_id: str, session: SessionDep, caller: SignedIn) -> Response:
    """Submit the draft, or resubmit the returned application."""
    application, definition = await _editable(session, caller, application_id)
    try:
        resubmit = applications.returned_to_applicant(application, definition)
        if resubmit:
            await workflow.act(session, application=application, definition=definition, caller=caller, action_code=resubmit)
            return see_other(f"/applications/{application.id}")
        await applications.submit(session, application=application, definition=definition, caller=caller)
    except FormInvalid:
        await session.rollback()
        return see_other(f"/applications/{application_id}/review")
    return see_other(f"/applications/{application.id}/submitted")


@router.get("/applications/{application_id}/submitted")
async def acknowledgement(request: Request, application_id: str, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """The acknowledgement: tracking number, deadline, what happens next."""
    application = await applications.for_applicant(session, caller, application_id)
    if application.state == DRAFT:
        raise NotFound()
    definition = await applications.definition_of(session, application)
    agency = await agency_by_id(session, application.agency_id)
    return render(request, "onestop/submitted.html", {"application": application, "manual": definition, "agency": agency})


# --- tracking --------------------------------------------------------------------------------


async def timeline(session: SessionDep, application: Application, *, internal: bool = False) -> list[ApplicationEvent]:
    """The case's history in order; officers' internal notes only when asked for."""
    query = select(ApplicationEvent).where(ApplicationEvent.application_id == application.id)
    if not internal:
        query = query.where(ApplicationEvent.visibility == "applicant")
    return list(await session.scalars(query.order_by(ApplicationEvent.seq)))


@router.get("/applications/{application_id}")
async def tracking_page(request: Request, application_id: str, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """The applicant's tracking page: state, current deadline, timeline, documents, what they can do."""
    application = await applications.for_applicant(session, caller, application_id)
    if application.state == DRAFT:
        return see_other(f"/applications/{application.id}/form/{application.last_page}")  # type: ignore[return-value]
    definition = await applications.definition_of(session, application)
    allowed = await workflow.allowed_actions(session, application=application, definition=definition, caller=caller)
    return render(request, "onestop/tracking.html", {
        "application": application, "manual": definition, "events": await timeline(session, application),
        "documents": await applications.documents_of(session, application),
        "actions": [item.action for item in allowed if item.action.code != applications.returned_to_applicant(application, definition)],
        "resubmit": applications.returned_to_applicant(application, definition),
        "agency": await agency_by_id(session, application.agency_id), "now": utcnow(),
        "bills": await bills.bills_of_application(session, application.id),
        "issued": await issuing.documents_of_application(session, application.id),
    })


@router.post("/applications/{application_id}/actions/{action}")
async def applicant_action(
    request: Request, application_id: str, action: str, session: SessionDep, caller: SignedIn,
    comment: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """An applicant's own action, such as withdrawing the application."""
    application = await applications.for_applicant(session, caller, application_id)
    definition = await applications.definition_of(session, application)
    await workflow.act(session, application=application, definition=definition, caller=caller,
                       action_code=action, comment=comment)
    return see_other(f"/applications/{application.id}")


# --- the public status page ------------------------------------------------------------------


@router.get("/status")
async def status_form(request: Request, _: PublicCaller) -> HTMLResponse:
    """Ask for the tracking number and the applicant's ID number."""
    return render(request, "onestop/status.html", {"result": None})


@router.post("/status")
async def status_lookup(
    request: Request, session: SessionDep, _: PublicCaller,
    tracking_number: Annotated[str, Form(max_length=64)] = "",
    id_number: Annotated[str, Form(max_length=32)] = "",
) -> HTMLResponse:
    """Where the case stands: service, state, dates and steps; nothing personal."""
    values = {"tracking_number": tracking_number, "result": None}
    try:
        await ratelimit.hit(get_settings().sign_in_rate_per_ip, "status", client_ip(request) or "-")
        # Also per ID number: a company's number is public, so walking tracking numbers with it
        # from many addresses must stay slow.
        await ratelimit.hit(STATUS_RATE_PER_ID, "status-id", pii_hash(_id_digits(id_number)))
        result = await _status_of(session, tracking_number, id_number)
    except AppError as error:
        return await form_error(request, session, "onestop/status.html", error, values)
    return render(request, "onestop/status.html", {**values, "result": result})


def _id_digits(id_number: str) -> str:
    """An ID number as stored: letters and digits only, upper case."""
    return "".join(ch for ch in id_number if ch.isalnum()).upper()


async def _status_of(session: SessionDep, number: str, id_number: str) -> dict[str, Any]:
    number = tracking.normalize(number)
    if not tracking.is_valid(number):
        raise ValidationFailed(N_("Check the tracking number: it should look like NBM-2569-000123-J."), field="tracking_number")
    id_hash = pii_hash(_id_digits(id_number))
    application = await repository.application_by_tracking_number(session, number)
    if application is None or id_hash not in (application.applicant_id_hash, application.juristic_id_hash):
        raise NotFound(NO_MATCH)
    definition = await applications.definition_of(session, application)
    steps = [event for event in await timeline(session, application) if event.from_state != event.to_state]
    return {"application": application, "manual": definition, "steps": steps,
            "agency": await agency_by_id(session, application.agency_id)}
