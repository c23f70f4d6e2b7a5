"""Applications: start a draft, fill it from GDX with consent, save pages, upload, submit.

Who may see an application is decided here once: the applicant (their own only) and the
officers of the agency that handles it. Anyone else gets "not found", so ids reveal nothing.
Services flush and never commit, except `fill_from_exchange`, which must commit the consent
before the exchange (on its own connection) can see it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity.auth import Caller
from govhub.identity.models import Account
from govhub.kit.clock import BANGKOK, BUDDHIST_ERA_OFFSET, utcnow
from govhub.kit.crypto import pii_hash
from govhub.kit.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.onestop import documents, forms, repository, tracking
from govhub.onestop.definitions import Prefill, ServiceDefinition
from govhub.onestop.models import Application, ApplicationDocument, ApplicationEvent, PublicService

if TYPE_CHECKING:
    from govhub.exchange.models import ExchangeService

DRAFT = "draft"
# The subsystem each agency's one-stop back office uses to read other agencies' registries.
ONESTOP_SUBSYSTEM = "one-stop"
CONSENT_DAYS = 30


class FormInvalid(AppError):
    """The e-form has errors; each is shown next to its field."""

    status_code = 422
    code = "form_invalid"
    message = N_("Some answers need your attention.")

    def __init__(self, errors: list[forms.FieldError]) -> None:
        super().__init__()
        self.errors = errors

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body, with every field's message."""
        body = super().to_dict()
        body["error"]["fields"] = {error.field: error.text() for error in self.errors}
        return body


@lru_cache(maxsize=256)
def _parsed(version_id: str, digest: str, payload: str) -> ServiceDefinition:
    return ServiceDefinition.model_validate_json(payload)


async def definition_of(session: AsyncSession, application: Application) -> ServiceDefinition:
    """The manual version the application started under (parsed once per process)."""
    return await definition_of_version(session, application.manual_version_id)


async def definition_of_version(session: AsyncSession, version_id: str) -> ServiceDefinition:
    """One manual version's definition (parsed once per process)."""
    import json

    version = await repository.version_by_id(session, version_id)
    if version is None:
        raise NotFound()
    return _parsed(version.id, version.digest, json.dumps(version.definition))


# --- who may see what -------------------------------------------------------------------


def is_applicant(caller: Caller, application: Application) -> bool:
    """True if the caller made this application."""
    return caller.account.id == application.applicant_account_id


def officer_roles(caller: Caller, application: Application) -> set[str]:
    """The caller's roles in the agency that handles the application (empty for anyone else)."""
    return {str(role) for role in caller.agency_roles.get(application.agency_id, set())}


async def for_applicant(session: AsyncSession, caller: Caller, application_id: str) -> Application:
    """The caller's own application; another person's is 'not found'."""
    application = await session.get(Application, application_id)
    if application is None or not is_applicant(caller, application):
        raise NotFound()
    return application


async def for_officer(session: AsyncSession, caller: Caller, application_id: str) -> Application:
    """A submitted application of one of the caller's agencies; anything else is 'not found'."""
    application = await session.get(Application, application_id)
    if application is None or application.state == DRAFT or not officer_roles(caller, application):
        raise NotFound()
    return application


async def for_reader(session: AsyncSession, caller: Caller, application_id: str) -> Application:
    """The application, for its applicant or an officer of its agency."""
    application = await session.get(Application, application_id)
    if application is None:
        raise NotFound()
    if is_applicant(caller, application):
        return application
    if application.state != DRAFT and officer_roles(caller, application):
        return application
    raise NotFound()


# --- starting and prefill -----------------------------------------------------------------


def _check_can_apply(account: Account, definition: ServiceDefinition) -> None:
    if account.kind.value not in ("citizen", "business", "foreigner"):
        raise Forbidden(N_("Applications are made with a citizen, business or foreigner account."))
    if not (account.national_id or account.passport_number):
        raise Forbidden(N_("Add your national ID or passport number to your account before applying."))


async def start(
    session: AsyncSession, *, caller: Caller, service: PublicService, definition: ServiceDefinition,
    keys: dict[str, str] | None = None,
) -> Application:
    """A new draft under the service's current manual (`keys`: proven_keys, if already known)."""
    account = caller.account
    _check_can_apply(account, definition)
    version = await repository.version_of(session, service.id, service.current_version)
    if version is None or not service.is_active:
        raise NotFound()
    now = utcnow()
    keys = await proven_keys(session, caller) if keys is None else keys
    application = Application(
        service_id=service.id, manual_version_id=version.id, agency_id=service.agency_id,
        applicant_account_id=account.id, applicant_name=account.full_name,
        applicant_id_hash=pii_hash(account.national_id or account.passport_number or ""),
        juristic_id_hash=pii_hash(keys["juristic_id"]) if "juristic_id" in keys else None,
        state=DRAFT, waiting_on="", data={}, verified={}, consent_ids=[], created_at=now, updated_at=now, state_entered_at=now,
    )
    session.add(application)
    await session.flush()
    return application


@dataclass
class PrefillSource:
    """One exchange service the form reads: what, from whom, why, and for whose record."""

    gdx_service: str
    provider_path: str
    service_code: str
    key: str
    key_value: str | None
    fields: dict[str, str] = field(default_factory=dict)  # form field -> service field
    title: str = ""
    provider_name: str = ""
    requires_consent: bool = False
    available: bool = True
    service: ExchangeService | None = field(default=None, repr=False)


async def proven_keys(session: AsyncSession, caller: Caller) -> dict[str, str]:
    """The identifiers proven to be the caller's own, by prefill key (one registry lookup at most).

    A national ID typed at registration is a claim until identity proofing (IAL2) confirms it;
    a juristic person number, until the registry lists the person as the company's director.
    Without proof, prefilling would hand anyone another person's or company's record.
    """
    from govhub.exchange.service import directs_company

    account = caller.account
    if caller.ial < 2 or not account.national_id:
        return {}
    keys = {"national_id": account.national_id}
    if account.juristic_id and await directs_company(session, account):
        keys.update(juristic_id=account.juristic_id, juristic_head_office=f"{account.juristic_id}-00000")
    return keys


def purpose_of(definition: ServiceDefinition) -> str:
    """The purpose stated to the exchange and in the consent (stable per service)."""
    return f"one-stop application: {definition.code}"


async def prefill_plan(
    session: AsyncSession, definition: ServiceDefinition, caller: Caller, keys: dict[str, str] | None = None,
) -> list[PrefillSource]:
    """What the form will fetch through GDX for this applicant, grouped by exchange service."""
    from govhub.exchange import repository as exchange

    keys = await proven_keys(session, caller) if keys is None else keys
    sources: dict[str, PrefillSource] = {}
    for page in definition.form.pages:
        for form_field in page.fields:
            prefill: Prefill | None = form_field.prefill
            if prefill is None:
                continue
            source = sources.get(prefill.gdx_service)
            if source is None:
                provider_path, _, code = prefill.gdx_service.rpartition("/")
                source = PrefillSource(prefill.gdx_service, provider_path, code, prefill.key, keys.get(prefill.key))
                sources[prefill.gdx_service] = source
            source.fields[form_field.name] = prefill.field
    for source in sources.values():
        provider = await exchange.subsystem_by_path(session, source.provider_path)
        service = await exchange.service_of(session, provider, source.service_code) if provider else None
        if service is None or not service.is_active or not source.key_value:
            source.available = False
            continue
        source.service = service
        source.title = service.title_th if _thai() else service.title_en
        source.provider_name = provider.name if provider else ""
        source.requires_consent = service.requires_consent
    return list(sources.values())


def _thai() -> bool:
    from govhub.kit.i18n import current_locale

    return current_locale.get() == "th"


async def fill_from_exchange(
    session: AsyncSession, *, application: Application, caller: Caller, definition: ServiceDefinition,
    plan: list[PrefillSource] | None = None,
) -> list[str]:
    """Record the applicant's consent, read each source through GDX, fill and mark the fields.

    `plan` is prefill_plan's answer when the caller already has it. Returns the GDX services
    that could not be read (the applicant then types those fields).
    """
    from govhub.exchange import gateway
    from govhub.exchange import repository as exchange
    from govhub.exchange import service as gdx
    from govhub.identity import repository as identity_repository

    agency = await identity_repository.agency_by_id(session, application.agency_id)
    consumer = await exchange.subsystem_by_path(session, f"TH/GOV/{agency.code}/{ONESTOP_SUBSYSTEM}") if agency else None
    if plan is None:
        plan = await prefill_plan(session, definition, caller)
    plan = [source for source in plan if source.available]
    if consumer is None or not plan:
        application.prefill_status = "failed" if plan else "none"
        return [source.gdx_service for source in plan]
    consents: dict[str, str] = {}
    for source in plan:
        if source.requires_consent and source.service is not None:
            consent = await gdx.give_consent(
                session, account=caller.account, service=source.service, consumer=consumer,
                purpose=purpose_of(definition), fields=sorted(set(source.fields.values())), days=CONSENT_DAYS,
                # A company's record is consented to by its (verified) director, for the company.
                subject_id=None if source.key == "national_id" else caller.account.juristic_id,
            )
            consents[source.gdx_service] = consent.id
    application.consent_ids = sorted(set(application.consent_ids) | set(consents.values()))
    # The exchange reads consents on its own connection: they must be committed first.
    await session.commit()
    failed: list[str] = []
    answers = []
    for source in plan:
        try:
            answer = await gateway.call_from_inside(
                session, consumer_client_id=consumer.oauth_client_id, provider_path=source.provider_path,
                service_code=source.service_code, params={_key_parameter(source): source.key_value or ""},
                purpose=purpose_of(definition), consent_id=consents.get(source.gdx_service),
                user_id=caller.account.id,
            )
        except AppError:  # refused, or the consumer client disabled: the applicant types it instead
            failed.append(source.gdx_service)
            continue
        answers.append((source, answer))
    # Changed only after every call: a pending UPDATE here would hold SQLite's write lock while
    # the evidence writer, on its own connection, waits for it.
    for source, answer in answers:
        _apply_answer(application, source, answer.data, answer.request_id)
    application.prefill_status = "failed" if failed else "done"
    application.updated_at = utcnow()
    return failed


def _key_parameter(source: PrefillSource) -> str:
    return {"national_id": "national_id", "juristic_id": "registration_number"}.get(source.key, "vat_registration_id")


def _apply_answer(application: Application, source: PrefillSource, record: Any, request_id: str) -> None:
    """Copy the answer's values into the form and mark them verified by their source."""
    if not isinstance(record, dict):
        return
    data, verified = dict(application.data), dict(application.verified)
    fetched_at = utcnow().isoformat()
    for form_field, service_field in source.fields.items():
        value = record.get(service_field)
        if value in (None, "") or isinstance(value, (dict, list)):
            continue
        data[form_field] = value
        verified[form_field] = {"source": source.gdx_service, "request_id": request_id, "at": fetched_at}
    application.data, application.verified = data, verified


# --- filling in ------------------------------------------------------------------------------


def resubmit_action(definition: ServiceDefinition, state_code: str) -> str | None:
    """The applicant's action that sends an application in this state back to the agency, if any."""
    return next((action.code for action in definition.workflow.actions
                 if "applicant" in action.roles and state_code in action.from_states
                 and action.to == definition.workflow.initial), None)


def returned_to_applicant(application: Application, definition: ServiceDefinition) -> str | None:
    """The applicant's action that sends a returned application back in, if it is returned now."""
    return None if application.state == DRAFT else resubmit_action(definition, application.state)


def check_editable(application: Application, definition: ServiceDefinition) -> None:
    """Drafts, and applications returned for corrections, can be changed; nothing else.

    Not "whenever it is the applicant's turn": after approval the applicant's turn is to pay,
    and changing the answers then would change what was approved.
    """
    if application.state == DRAFT or returned_to_applicant(application, definition):
        return
    raise Conflict(N_("This application can no longer be changed."), code="not_editable")


def save_answers(
    application: Application, definition: ServiceDefinition, posted: dict[str, str], *, page: int, check: bool,
) -> list[forms.FieldError]:
    """Keep the page's answers (verified values stay as their source gave them); check them if asked."""
    check_editable(application, definition)
    if not 0 <= page < len(definition.form.pages):
        raise NotFound()
    form = definition.form
    names = [name for name in forms.page_fields(form, page) if name not in application.verified]
    names = [name for name in names if forms.fields_of(form)[name].widget != "file"]
    data = {key: value for key, value in application.data.items() if key not in names}
    data.update(forms.coerce(form, posted, names))
    application.data = data
    application.last_page = max(application.last_page, page)
    application.updated_at = utcnow()
    return forms.validate(definition, data, only=forms.page_fields(form, page)) if check else []


async def attach_document(
    session: AsyncSession, *, application: Application, definition: ServiceDefinition, caller: Caller,
    field_name: str, filename: str, content: bytes,
) -> ApplicationDocument:
    """Check and store an upload for a file field; it replaces the field's previous file."""
    check_editable(application, definition)
    form_field = forms.fields_of(definition.form).get(field_name)
    if form_field is None or form_field.widget != "file":
        raise NotFound()
    document = next(d for d in definition.documents if d.code == form_field.document)
    media_type = documents.check_upload(document, content)
    key = documents.new_storage_key()
    await documents.store().put(key, content)
    now = utcnow()
    previous = application.data.get(field_name)
    if previous:
        old = await session.get(ApplicationDocument, previous)
        if old is not None and old.application_id == application.id:
            old.replaced_at = now
    row = ApplicationDocument(
        application_id=application.id, document_code=document.code, filename=documents.clean_filename(filename),
        media_type=media_type, size=len(content), sha256=hashlib.sha256(content).hexdigest(),
        storage_key=key, uploaded_by=caller.account.id, uploaded_at=now,
    )
    session.add(row)
    await session.flush()
    application.data = {**application.data, field_name: row.id}
    application.updated_at = now
    return row


async def documents_of(session: AsyncSession, application: Application) -> list[ApplicationDocument]:
    """The application's current (not replaced) documents."""
    rows = await session.scalars(
        select(ApplicationDocument)
        .where(ApplicationDocument.application_id == application.id, ApplicationDocument.replaced_at.is_(None))
        .order_by(ApplicationDocument.uploaded_at)
    )
    return list(rows)


# --- submitting ------------------------------------------------------------------------------


def due(now: datetime, days: int | None) -> datetime | None:
    """The end of a time limit of some calendar days (None: no limit)."""
    return None if days is None else now + timedelta(days=days)


async def record_event(
    session: AsyncSession, application: Application, *, actor: Account | None, role: str, action: str,
    from_state: str | None, to_state: str | None, comment: str = "", visibility: str = "applicant",
) -> ApplicationEvent:
    """Append one history row (the next sequence number of this application)."""
    last = await session.scalar(
        select(func.max(ApplicationEvent.seq)).where(ApplicationEvent.application_id == application.id)
    )
    event = ApplicationEvent(
        application_id=application.id, seq=(last or 0) + 1, at=utcnow(), actor_account_id=actor.id if actor else None,
        actor_role=role, action=action, from_state=from_state, to_state=to_state, comment=comment.strip(),
        visibility=visibility, due_at=application.due_at,
    )
    session.add(event)
    await session.flush()
    return event


def check_complete(application: Application, definition: ServiceDefinition) -> None:
    """Refuse, field by field, a form that breaks its schema."""
    errors = forms.validate(definition, application.data)
    if errors:
        raise FormInvalid(errors)


async def submit(session: AsyncSession, *, application: Application, definition: ServiceDefinition, caller: Caller) -> Application:
    """Submit a complete draft: tracking number, first state and its deadline, history, email."""
    from govhub.identity import repository as identity_repository
    from govhub.onestop import notices

    if application.state != DRAFT:
        raise Conflict(N_("This application has already been submitted."), code="already_submitted")
    check_complete(application, definition)
    agency = await identity_repository.agency_by_id(session, application.agency_id)
    now = utcnow()
    year_be = now.astimezone(BANGKOK).year + BUDDHIST_ERA_OFFSET
    application.tracking_number = await tracking.next_number(session, agency_code=agency.code, year_be=year_be)  # type: ignore[union-attr]
    initial = definition.workflow.state(definition.workflow.initial)
    application.state, application.state_entered_at = initial.code, now
    application.waiting_on = "" if initial.final else initial.actor
    application.submitted_at = application.updated_at = now
    application.due_at = due(now, initial.days)
    application.decision_due_at = due(now, definition.time_limit_days)
    await record_event(session, application, actor=caller.account, role="applicant", action="submit",
                       from_state=DRAFT, to_state=initial.code)
    await notices.tell_applicant(session, application=application, definition=definition, template="application_received")
    return application



async def definition_of_service(session: AsyncSession, service: PublicService) -> ServiceDefinition:
    """The service's current manual (parsed once per process and version)."""
    import json

    version = await repository.version_of(session, service.id, service.current_version)
    if version is None:
        raise NotFound()
    return _parsed(version.id, version.digest, json.dumps(version.definition))
