"""The GovStack Registration building block's API under /registration: applications, documents, tasks, statistics.

Mapping (../shared/govstack/registration-bb-api.json and registration-bb-statistics-api.json):

- An application file is an `Application`: `fileId` is its id, `serviceId` its service,
  `formData.eFormId` the manual version it started under, `registered` when it was submitted.
  `status.code` is PENDING (a draft, or someone's turn), SENDBACK (returned to the applicant,
  who may resubmit), APPROVED or REJECTED (final; `rejected` and `withdrawn` states are
  REJECTED); `status.title` is the state's label. Extensions: `trackingNumber`, `state`,
  `dueDate`, `decisionDueDate`.
- `formData.data` values are objects, as the spec's schema says: `{"value": v}`, plus
  `"verified": {"source", "at"}` for a value fetched through GDX. Requests may send plain
  values or such objects. Verified values cannot be changed: values sent for them are ignored.
- Documents: `POST /documents` takes the `file`, `documentCode` and `serviceId` or `eFormId`
  as multipart fields; the answer's `url` (and `documentId`) is the document's id. The ids go
  in `documentUrls` (or as the value of the e-form's file field) to attach them; a document
  is attached to one application only, by the account that uploaded it.
- `POST /services/{serviceId}/applications` starts and submits; the extension `"submit": false`
  keeps a draft, `"gdxConsent": true` first fills the form from the registries through GDX
  with the applicant's consent (as the apply page does). `PUT /applications/{fileId}` replaces
  the typed answers while the application is a draft or returned (409 otherwise); `"submit":
  true` then submits or resubmits. An incomplete form is a 422 naming each field; the answers
  are kept and the error carries the `fileId`. `applicantId` may be omitted: the applicant is
  the signed-in account (another id is refused).
- Tasks are the agency's pending work: one per submitted, open application whose current state
  is the agency's turn. `taskId` is `{fileId}.{n}`, n being the history entry that opened the
  state, so a completed task is gone (404) and `mainTaskId` is the `fileId`. `assigneeId` may
  only be the caller's own id: the tasks their roles can act on. Completing a task takes a
  workflow action: `{"data": {"action": "accept", "comment": "..."}}` (plain or `{"value"}`).
- Statistics: see statistics.py. `registrationName` is a service code or title; the extensions
  `groupBy=service|agency` and `agency` (a code) split and filter; `operator` is accepted and
  not applied (statistics by named officer are not published); the references echo only what
  was applied.

Who: applicants and officers with the portal's session cookie (a Caller needs a session; the
OIDC bearer dependency yields only token claims). Officers see their agencies' cases; anything
else is 404. Statistics are public. `Information-Mediator-Client` is not required.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from govhub.db import SessionDep
from govhub.identity.auth import Anyone, Caller, SignedIn
from govhub.identity.models import Agency, OfficerRole, role_label
from govhub.identity.repository import agency_by_code
from govhub.kit.clock import utcnow
from govhub.kit.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from govhub.kit.i18n import N_, current_locale, gettext
from govhub.onestop import applications, documents, forms, repository, statistics, workflow
from govhub.onestop.api import PREFIX
from govhub.onestop.applications import DRAFT, FormInvalid
from govhub.onestop.definitions import ServiceDefinition, Text
from govhub.onestop.models import Application, ApplicationDocument, ApplicationEvent, PublicService

router = APIRouter(tags=["registration"])
APPLICANT = workflow.APPLICANT
PAGE_MAX = 200
DocumentId = Annotated[str, StringConstraints(max_length=64)]
NO_SUCH_UPLOAD = N_("None of your uploaded documents has this id.")


# --- what goes in and out ----------------------------------------------------------------------


class Status(BaseModel):
    """GovStack `statusModel`."""

    code: Literal["PENDING", "APPROVED", "SENDBACK", "REJECTED"]
    title: str


class FormData(BaseModel):
    """GovStack `formData`: the e-form id and the answers."""

    eFormId: str | None = Field(default=None, max_length=64)  # noqa: N815 - GovStack's field names
    data: dict[str, Any] = Field(default_factory=dict, max_length=500)


class ApplicationFileSubmit(BaseModel):
    """GovStack `applicationFileSubmit`, with govhub's `submit` and `gdxConsent`."""

    applicantId: str | None = Field(default=None, max_length=64)  # noqa: N815
    applicationName: str | None = Field(default=None, max_length=300)  # noqa: N815
    created: datetime | None = None
    formData: FormData | None = None  # noqa: N815
    documentUrls: list[DocumentId] = Field(default_factory=list, max_length=50)  # noqa: N815
    submit: bool | None = None  # POST: submit unless false; PUT: submit only if true
    gdxConsent: bool = False  # noqa: N815


class ApplicationData(BaseModel):
    """The application file's data as GovStack `applicationFileSubmit`."""

    applicationName: str  # noqa: N815
    applicantId: str  # noqa: N815
    created: datetime
    formData: FormData  # noqa: N815
    documentUrls: list[str]  # noqa: N815


class ApplicationFile(BaseModel):
    """GovStack `applicationFileResponse`."""

    fileId: str  # noqa: N815
    applicantId: str  # noqa: N815 - the spec requires it here too, outside its properties
    registered: datetime | None = None
    serviceId: str  # noqa: N815
    serviceName: str  # noqa: N815
    status: Status
    ended: bool
    applicationData: ApplicationData  # noqa: N815
    trackingNumber: str | None = None  # noqa: N815
    state: str
    dueDate: datetime | None = None  # noqa: N815
    decisionDueDate: datetime | None = None  # noqa: N815


class ApplicationListItem(BaseModel):
    """GovStack `applicantApplicationFileListResponse`."""

    fileId: str  # noqa: N815
    mainTaskId: str  # noqa: N815
    taskTitle: str  # noqa: N815
    roleId: str | None = None  # noqa: N815
    roleName: str | None = None  # noqa: N815
    status: Status
    applicantId: str  # noqa: N815
    created: datetime
    registered: datetime | None = None
    serviceName: str  # noqa: N815
    serviceId: str  # noqa: N815
    eformId: str  # noqa: N815
    trackingNumber: str | None = None  # noqa: N815
    state: str
    dueDate: datetime | None = None  # noqa: N815
    ended: bool


class UploadAnswer(BaseModel):
    """GovStack `uploadResponse`; `url` is the document id to attach."""

    code: int = 200
    type: str
    message: str
    url: str
    documentId: str  # noqa: N815
    documentCode: str  # noqa: N815


class TaskAction(BaseModel):
    """An action the caller may take to complete a task."""

    code: str
    label: str
    commentRequired: bool  # noqa: N815


class TaskItem(BaseModel):
    """GovStack `userTaskResponse`."""

    taskId: str  # noqa: N815
    mainTaskId: str  # noqa: N815
    name: str
    roleId: str | None = None  # noqa: N815
    created: datetime
    description: str
    serviceId: str  # noqa: N815
    serviceName: str  # noqa: N815
    fileId: str  # noqa: N815
    eFormId: str  # noqa: N815
    status: Status
    trackingNumber: str | None = None  # noqa: N815
    state: str
    dueDate: datetime | None = None  # noqa: N815


class TaskRead(BaseModel):
    """GovStack `dataUserTaskResponse`: the task, the case's answers and how to complete it."""

    taskId: str  # noqa: N815
    mainTaskId: str  # noqa: N815
    taskName: str  # noqa: N815
    roleId: str | None = None  # noqa: N815
    created: datetime
    description: str
    fileId: str  # noqa: N815
    serviceId: str  # noqa: N815
    serviceName: str  # noqa: N815
    eFormId: str  # noqa: N815
    formVariables: dict[str, dict[str, Any]]  # noqa: N815
    status: Status
    data: dict[str, dict[str, Any]]
    documentUrls: list[str]  # noqa: N815
    actions: list[TaskAction]
    trackingNumber: str | None = None  # noqa: N815
    state: str
    dueDate: datetime | None = None  # noqa: N815


class TaskCompletion(BaseModel):
    """GovStack `additionalData`: `data.action` (required) and `data.comment`."""

    data: dict[str, Any] = Field(default_factory=dict, max_length=20)


class CompletedTask(BaseModel):
    """GovStack `completedTaskResponse`; `nextTaskId` when the case waits for the agency again."""

    taskId: str  # noqa: N815
    fileId: str  # noqa: N815
    serviceId: str  # noqa: N815
    status: Status
    variables: dict[str, dict[str, Any]]
    nextTaskId: str | None = None  # noqa: N815


class StatisticsReferences(BaseModel):
    """What a statistics row covers (GovStack `datastatistics1.0_references`)."""

    startDate: date | None = None  # noqa: N815
    endDate: date | None = None  # noqa: N815
    registrationName: str | None = None  # noqa: N815
    role: str | None = None
    timeframeDay: bool | None = None  # noqa: N815
    timeframeWeek: bool | None = None  # noqa: N815
    timeframeMonth: bool | None = None  # noqa: N815
    timeframeYear: bool | None = None  # noqa: N815


class StatisticsItem(BaseModel):
    """GovStack statistics row, with govhub's cohort counts."""

    processed: int
    approved: int
    sentBack: int  # noqa: N815
    rejected: int
    submitted: int
    inProgress: int  # noqa: N815
    completed: int
    withdrawn: int
    overdue: int
    references: StatisticsReferences
    serviceId: str | None = None  # noqa: N815
    agencyCode: str | None = None  # noqa: N815


class UploadRefused(ValidationFailed):
    """An upload the API refuses: the spec's 400 'file upload failed'."""

    status_code = 400
    code = "upload_refused"


class IncompleteApplication(FormInvalid):
    """The answers are kept, but the form is incomplete, so nothing was submitted."""

    keeps_changes = True

    def __init__(self, errors: list[forms.FieldError], file_id: str) -> None:
        super().__init__(errors)
        self.file_id = file_id

    def to_dict(self) -> dict[str, Any]:
        """The field errors and the application's id, to correct it with PUT."""
        body = super().to_dict()
        body["error"]["fileId"] = self.file_id
        return body


# --- shared pieces -----------------------------------------------------------------------------


def _text(pair: Text) -> str:
    return pair.th if current_locale.get() == "th" else pair.en


def status_of(application: Application, definition: ServiceDefinition) -> Status:
    """The GovStack status: the code from the state's kind, the title from its label."""
    if application.state == DRAFT:
        return Status(code="PENDING", title=gettext(N_("Draft")))
    state = definition.workflow.state(application.state)
    if state.final:
        code = "REJECTED" if statistics.is_refusal(state.code) else "APPROVED"
    else:
        code = "SENDBACK" if applications.resubmit_action(definition, state.code) else "PENDING"
    return Status(code=code, title=_text(state.label))


def _turn(application: Application, definition: ServiceDefinition) -> str | None:
    """Whose move it is: the applicant, the first officer role that can act, or nobody (final)."""
    if application.state == DRAFT:
        return APPLICANT
    state = definition.workflow.state(application.state)
    if state.final:
        return None
    if state.actor == APPLICANT:
        return APPLICANT
    return next((role for action in definition.workflow.actions if state.code in action.from_states
                 for role in action.roles if role != APPLICANT), None)


def _role_name(role: str | None) -> str | None:
    if role is None:
        return None
    if role == APPLICANT:
        return gettext(N_("Applicant"))
    try:
        return role_label(OfficerRole(role))
    except ValueError:  # a role a manual names that no officer holds yet
        return role


def _form_values(application: Application) -> dict[str, dict[str, Any]]:
    """The answers as GovStack objects, each GDX value marked with its source."""
    values: dict[str, dict[str, Any]] = {}
    for name, value in application.data.items():
        values[name] = {"value": value}
        source = application.verified.get(name)
        if source:
            values[name]["verified"] = {"source": source.get("source"), "at": source.get("at")}
    return values


async def _application_file(
    session: AsyncSession, application: Application, definition: ServiceDefinition,
) -> ApplicationFile:
    attached = await applications.documents_of(session, application)
    return ApplicationFile(
        fileId=application.id, applicantId=application.applicant_account_id, registered=application.submitted_at,
        serviceId=application.service_id,
        serviceName=_text(definition.title), status=status_of(application, definition), ended=application.is_final,
        applicationData=ApplicationData(
            applicationName=application.applicant_name, applicantId=application.applicant_account_id,
            created=application.created_at, documentUrls=[document.id for document in attached],
            formData=FormData(eFormId=application.manual_version_id, data=_form_values(application)),
        ),
        trackingNumber=application.tracking_number, state=application.state, dueDate=application.due_at,
        decisionDueDate=application.decision_due_at,
    )


async def _active_service(session: AsyncSession, service_id: str) -> PublicService:
    service = await repository.service_by_id(session, service_id)
    if service is None or not service.is_active:
        raise NotFound()
    return service


def _order(column: Any, order: str) -> Any:
    return column.desc().nulls_last() if order == "desc" else column.asc().nulls_last()


# --- the applicant's answers and documents ------------------------------------------------------


def _posted_text(value: Any, *, field: str) -> str:
    """A JSON answer (plain, or GovStack's {"value": ...}) as the text a form would post."""
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ValidationFailed(N_("This answer must be text, a number or true/false."), field=field)


def _answers(definition: ServiceDefinition, body: ApplicationFileSubmit) -> tuple[dict[str, str], list[str]]:
    """The typed answers as posted text, and the document ids given as file fields' values."""
    by_name = forms.fields_of(definition.form)
    posted: dict[str, str] = {}
    document_ids: list[str] = []
    for name, value in (body.formData.data if body.formData else {}).items():
        field = by_name.get(name)
        if field is None:
            raise ValidationFailed(N_("The e-form has no field with this name."), field=f"formData.data.{name}")
        text = _posted_text(value, field=f"formData.data.{name}")
        if field.widget == "file":
            document_ids += [text] if text else []
        else:
            posted[name] = text
    return posted, document_ids


def _file_fields(definition: ServiceDefinition) -> dict[str | None, str]:
    """The e-form's file fields by the code of the document each one answers."""
    return {field.document: field.name for field in forms.fields_of(definition.form).values() if field.widget == "file"}


def _check_request(caller: Caller, body: ApplicationFileSubmit, version_id: str) -> None:
    if body.applicantId not in (None, "", caller.account.id):
        raise Forbidden(N_("Applications are made in your own name: applicantId must be your account's id."))
    if body.formData and body.formData.eFormId not in (None, "", version_id):
        raise Conflict(N_("This e-form is not the version the application uses. Fetch the service's latest e-form."),
                       code="eform_version")


async def _checked_uploads(
    session: AsyncSession, caller: Caller, definition: ServiceDefinition, ids: list[str], current: Application | None,
) -> list[tuple[str, ApplicationDocument]]:
    """The caller's uploads to attach, each with the file field it answers (checked by this manual's rules)."""
    fields = _file_fields(definition)
    rules = {document.code: document for document in definition.documents}
    chosen: list[tuple[str, ApplicationDocument]] = []
    for document_id in dict.fromkeys(ids):
        row = await session.get(ApplicationDocument, document_id)
        if row is None or row.uploaded_by != caller.account.id or row.replaced_at is not None \
                or row.application_id not in (None, current.id if current else None):
            raise ValidationFailed(NO_SUCH_UPLOAD, field="documentUrls")
        field_name = fields.get(row.document_code)
        if field_name is None:
            raise ValidationFailed(N_("The e-form does not ask for this document."), field="documentUrls")
        if current is not None and current.data.get(field_name) == row.id:
            continue
        # Uploaded against another version of the manual, perhaps: its rules may differ.
        documents.check_upload(rules[row.document_code], await documents.store().get(row.storage_key))
        chosen.append((field_name, row))
    return chosen


async def _attach(
    session: AsyncSession, application: Application, uploads: list[tuple[str, ApplicationDocument]],
) -> None:
    """Put each upload in its field; the field's previous file is kept, marked replaced."""
    data, now = dict(application.data), utcnow()
    for field_name, row in uploads:
        previous = await session.get(ApplicationDocument, data[field_name]) if data.get(field_name) else None
        if previous is not None and previous.application_id == application.id:
            previous.replaced_at = now
        # Claimed with a conditional UPDATE: two requests attaching one upload cannot both win.
        claimed = await session.execute(
            update(ApplicationDocument)
            .where(ApplicationDocument.id == row.id,
                   or_(ApplicationDocument.application_id.is_(None), ApplicationDocument.application_id == application.id))
            .values(application_id=application.id)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise ValidationFailed(NO_SUCH_UPLOAD, field="documentUrls")
        data[field_name] = row.id
    application.data, application.updated_at = data, now


def _save_answers(application: Application, definition: ServiceDefinition, posted: dict[str, str]) -> None:
    """Replace the typed answers page by page (refused unless the application is editable)."""
    for page in range(len(definition.form.pages)):
        applications.save_answers(application, definition, posted, page=page, check=False)


async def _submit(
    session: AsyncSession, application: Application, definition: ServiceDefinition, caller: Caller,
) -> None:
    """Submit a draft or resubmit a returned application; incomplete answers are kept and named."""
    try:
        if application.state == DRAFT:
            await applications.submit(session, application=application, definition=definition, caller=caller)
            return
        action = applications.resubmit_action(definition, application.state)
        if action is None:
            raise Conflict(N_("This application is not waiting to be submitted."), code="not_submittable")
        await workflow.act(session, application=application, definition=definition, caller=caller, action_code=action)
    except FormInvalid as error:
        raise IncompleteApplication(error.errors, application.id) from error


@router.post(
    PREFIX + "/services/{service_id}/applications", response_model=ApplicationFile, response_model_exclude_none=True,
)
async def create_application(
    service_id: str, body: ApplicationFileSubmit, session: SessionDep, caller: SignedIn,
) -> ApplicationFile:
    """Start an application under the service's current e-form, fill it, attach uploads and submit it."""
    service = await _active_service(session, service_id)
    definition = await applications.definition_of_service(session, service)
    version = await repository.version_of(session, service.id, service.current_version)
    _check_request(caller, body, version.id if version else "")
    posted, file_ids = _answers(definition, body)
    uploads = await _checked_uploads(session, caller, definition, [*body.documentUrls, *file_ids], None)
    application = await applications.start(session, caller=caller, service=service, definition=definition)
    if body.gdxConsent:
        await applications.fill_from_exchange(session, application=application, caller=caller, definition=definition)
    else:
        application.prefill_status = "declined"
    _save_answers(application, definition, posted)
    await _attach(session, application, uploads)
    if body.submit is not False:
        await _submit(session, application, definition, caller)
    return await _application_file(session, application, definition)


@router.put(PREFIX + "/applications/{file_id}", response_model=ApplicationFile, response_model_exclude_none=True)
async def update_application(
    file_id: str, body: ApplicationFileSubmit, session: SessionDep, caller: SignedIn,
) -> ApplicationFile:
    """Replace the answers of a draft or returned application, attach uploads, and (re)submit if asked."""
    application = await applications.for_reader(session, caller, file_id)
    if not applications.is_applicant(caller, application):
        raise Forbidden(N_("Only the applicant can change the answers of an application."))
    definition = await applications.definition_of(session, application)
    _check_request(caller, body, application.manual_version_id)
    posted, file_ids = _answers(definition, body)
    uploads = await _checked_uploads(session, caller, definition, [*body.documentUrls, *file_ids], application)
    _save_answers(application, definition, posted)
    await _attach(session, application, uploads)
    if body.submit:
        await _submit(session, application, definition, caller)
    return await _application_file(session, application, definition)


async def _upload_definition(session: AsyncSession, service_id: str, eform_id: str) -> ServiceDefinition:
    """The manual an upload is checked against: the e-form's, or the service's current one."""
    if eform_id:
        version = await repository.version_by_id(session, eform_id)
        if version is None:
            raise NotFound()
        return ServiceDefinition.model_validate(version.definition)
    return await applications.definition_of_service(session, await _active_service(session, service_id))


@router.post(PREFIX + "/documents", response_model=UploadAnswer)
async def upload_document(request: Request, session: SessionDep, caller: SignedIn) -> UploadAnswer:
    """Store a checked upload for one of a service's documents; attach it later by its id."""
    posted = await request.form(max_files=2, max_fields=20)
    upload, code = posted.getlist("file"), str(posted.get("documentCode") or "")
    if len(upload) != 1 or not isinstance(upload[0], UploadFile):
        raise UploadRefused(N_("Send exactly one file, in the field named file."), field="file")
    definition = await _upload_definition(session, str(posted.get("serviceId") or ""), str(posted.get("eFormId") or ""))
    document = next((d for d in definition.documents if d.code == code and d.code in _file_fields(definition)), None)
    if document is None:
        raise UploadRefused(N_("The e-form does not ask for this document."), field="documentCode")
    content = await upload[0].read()
    try:
        media_type = documents.check_upload(document, content)
    except ValidationFailed as error:
        raise UploadRefused(error.message, field=error.field, **error.params) from error
    row = await _store_upload(session, caller, document.code, upload[0].filename or "", media_type, content)
    return UploadAnswer(type=media_type, message=row.filename, url=row.id, documentId=row.id,
                        documentCode=row.document_code)


async def _store_upload(
    session: AsyncSession, caller: Caller, code: str, filename: str, media_type: str, content: bytes,
) -> ApplicationDocument:
    key = documents.new_storage_key()
    await documents.store().put(key, content)
    row = ApplicationDocument(
        application_id=None, document_code=code, filename=documents.clean_filename(filename), media_type=media_type,
        size=len(content), sha256=hashlib.sha256(content).hexdigest(), storage_key=key,
        uploaded_by=caller.account.id, uploaded_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


# --- reading applications ----------------------------------------------------------------------

ApplicationSort = Literal["created", "registered", "dueDate", "id"]
APPLICATION_SORT = {"created": Application.created_at, "registered": Application.submitted_at,
                    "dueDate": Application.due_at, "id": Application.id}


@router.get(PREFIX + "/applications", response_model=list[ApplicationListItem], response_model_exclude_none=True)
async def list_applications(
    session: SessionDep, caller: SignedIn,
    service_id: Annotated[str | None, Query(alias="serviceId", max_length=64)] = None,
    applicant_id: Annotated[str | None, Query(alias="applicantId", max_length=64)] = None,
    first: Annotated[int, Query(alias="firstResult", ge=0)] = 0,
    limit: Annotated[int, Query(alias="maxResult", ge=1, le=PAGE_MAX)] = 50,
    sort_by: Annotated[ApplicationSort, Query(alias="sortBy")] = "created",
    sort_order: Annotated[Literal["asc", "desc"] | None, Query(alias="sortOrder")] = None,
) -> list[ApplicationListItem]:
    """The caller's own applications; for officers, their agencies' submitted applications."""
    query = select(Application)
    if caller.agency_roles:
        query = query.where(Application.agency_id.in_(list(caller.agency_roles)), Application.state != DRAFT)
    else:
        query = query.where(Application.applicant_account_id == caller.account.id)
    if service_id:
        query = query.where(Application.service_id == service_id)
    if applicant_id:
        query = query.where(Application.applicant_account_id == applicant_id)
    order = sort_order or ("desc" if sort_by in ("created", "registered") else "asc")
    query = query.order_by(_order(APPLICATION_SORT[sort_by], order), Application.id).offset(first).limit(limit)
    return [await _list_item(session, application) for application in await session.scalars(query)]


async def _list_item(session: AsyncSession, application: Application) -> ApplicationListItem:
    definition = await applications.definition_of(session, application)
    status, turn = status_of(application, definition), _turn(application, definition)
    return ApplicationListItem(
        fileId=application.id, mainTaskId=application.id, taskTitle=status.title,
        roleId=turn, roleName=_role_name(turn),
        status=status, applicantId=application.applicant_account_id, created=application.created_at,
        registered=application.submitted_at, serviceName=_text(definition.title), serviceId=application.service_id,
        eformId=application.manual_version_id, trackingNumber=application.tracking_number, state=application.state,
        dueDate=application.due_at, ended=application.is_final,
    )


@router.get(PREFIX + "/applications/{file_id}", response_model=ApplicationFile, response_model_exclude_none=True)
async def get_application(file_id: str, session: SessionDep, caller: SignedIn) -> ApplicationFile:
    """One application file, for its applicant or an officer of its agency."""
    application = await applications.for_reader(session, caller, file_id)
    return await _application_file(session, application, await applications.definition_of(session, application))


# --- tasks: the agency's pending work -----------------------------------------------------------

TaskSort = Literal["created", "dueDate", "id"]
TASK_SORT = {"created": Application.state_entered_at, "dueDate": Application.due_at, "id": Application.id}


def _agency_turn_states(definition: ServiceDefinition, roles: set[str] | None) -> list[str]:
    """Open states where the agency acts (and, when roles are given, one of them may act)."""
    return [
        state.code for state in definition.workflow.states
        if not state.final and state.actor == "agency" and (roles is None or any(
            roles & set(action.roles) for action in definition.workflow.actions if state.code in action.from_states))
    ]


def _open_cases(agency_ids: list[str]) -> list[Any]:
    return [
        Application.agency_id.in_(agency_ids), Application.submitted_at.is_not(None), Application.is_final.is_(False),
    ]


async def _task_condition(session: AsyncSession, caller: Caller, *, mine: bool) -> Any | None:
    """SQL for 'the agency's turn' over the manual versions the caller's agencies have open cases under."""
    agency_ids = list(caller.agency_roles)
    if not agency_ids:
        return None
    pairs = await session.execute(
        select(Application.manual_version_id, Application.agency_id).where(*_open_cases(agency_ids)).distinct())
    clauses = []
    for version_id, agency_id in pairs.all():
        version = await repository.version_by_id(session, version_id)
        roles = {str(role) for role in caller.agency_roles.get(agency_id, set())} if mine else None
        states = _agency_turn_states(ServiceDefinition.model_validate(version.definition), roles) if version else []
        if states:
            clauses.append((Application.manual_version_id == version_id) & (Application.agency_id == agency_id)
                           & Application.state.in_(states))
    return or_(*clauses) if clauses else None


async def _opening_entries(session: AsyncSession, application_ids: list[str]) -> dict[str, int]:
    """For each application, the history entry that moved it into its current state."""
    if not application_ids:
        return {}
    rows = await session.execute(
        select(ApplicationEvent.application_id, func.max(ApplicationEvent.seq))
        .where(ApplicationEvent.application_id.in_(application_ids),
               ApplicationEvent.from_state.is_distinct_from(ApplicationEvent.to_state))
        .group_by(ApplicationEvent.application_id)
    )
    return {application_id: int(seq) for application_id, seq in rows.all()}


def _task_id(application: Application, entry: int) -> str:
    return f"{application.id}.{entry}"


@router.get(PREFIX + "/tasks", response_model=list[TaskItem], response_model_exclude_none=True)
async def list_tasks(
    session: SessionDep, caller: SignedIn,
    main_task_id: Annotated[str | None, Query(alias="mainTaskId", max_length=64)] = None,
    file_id: Annotated[str | None, Query(alias="fileId", max_length=64)] = None,
    assignee_id: Annotated[str | None, Query(alias="assigneeId", max_length=64)] = None,
    first: Annotated[int, Query(alias="firstResult", ge=0)] = 0,
    limit: Annotated[int, Query(alias="maxResult", ge=1, le=PAGE_MAX)] = 50,
    sort_by: Annotated[TaskSort, Query(alias="sortBy")] = "dueDate",
    sort_order: Annotated[Literal["asc", "desc"], Query(alias="sortOrder")] = "asc",
) -> list[TaskItem]:
    """The caller's agencies' cases waiting for the agency, most urgent first."""
    if assignee_id not in (None, caller.account.id):
        raise Forbidden(N_("Tasks go to roles, not people: assigneeId can only be your own account's id."))
    condition = await _task_condition(session, caller, mine=assignee_id is not None)
    if condition is None:
        return []
    query = select(Application).where(*_open_cases(list(caller.agency_roles)), condition)
    for wanted in {main_task_id, file_id} - {None}:
        query = query.where(Application.id == wanted)
    query = query.order_by(_order(TASK_SORT[sort_by], sort_order), Application.id).offset(first).limit(limit)
    cases = list(await session.scalars(query))
    entries = await _opening_entries(session, [case.id for case in cases])
    return [await _task_item(session, case, entries.get(case.id, 0)) for case in cases]


async def _task_item(session: AsyncSession, application: Application, entry: int) -> TaskItem:
    definition = await applications.definition_of(session, application)
    status = status_of(application, definition)
    return TaskItem(
        taskId=_task_id(application, entry), mainTaskId=application.id, name=status.title,
        roleId=_turn(application, definition), created=application.state_entered_at,
        description=_describe(application, definition), serviceId=application.service_id,
        serviceName=_text(definition.title), fileId=application.id, eFormId=application.manual_version_id,
        status=status, trackingNumber=application.tracking_number, state=application.state, dueDate=application.due_at,
    )


def _describe(application: Application, definition: ServiceDefinition) -> str:
    return f"{application.tracking_number}: {_text(definition.title)}"


async def _current_task(session: AsyncSession, caller: Caller, task_id: str) -> tuple[Application, ServiceDefinition]:
    """The task's case, if the task is still open and the caller's agency handles it; else 404."""
    file_id, _, entry = task_id.rpartition(".")
    if not file_id or not entry.isdigit():
        raise NotFound()
    application = await applications.for_officer(session, caller, file_id)
    definition = await applications.definition_of(session, application)
    if application.state not in _agency_turn_states(definition, None):
        raise NotFound()
    if (await _opening_entries(session, [application.id])).get(application.id) != int(entry):
        raise NotFound()
    return application, definition


@router.get(PREFIX + "/tasks/{task_id}", response_model=TaskRead, response_model_exclude_none=True)
async def get_task(task_id: str, session: SessionDep, caller: SignedIn) -> TaskRead:
    """A task: the case's answers and documents, and the actions the caller may complete it with."""
    application, definition = await _current_task(session, caller, task_id)
    allowed = await workflow.allowed_actions(session, application=application, definition=definition, caller=caller)
    actions = [
        TaskAction(code=item.action.code, label=_text(item.action.label), commentRequired=item.action.comment_required)
        for item in allowed
    ]
    status = status_of(application, definition)
    variables: dict[str, dict[str, Any]] = {
        "action": {"type": "string", **({"enum": [action.code for action in actions]} if actions else {})},
        "comment": {"type": "string", "maxLength": workflow.COMMENT_MAX},
    }
    attached = await applications.documents_of(session, application)
    return TaskRead(
        taskId=task_id, mainTaskId=application.id, taskName=status.title, roleId=_turn(application, definition),
        created=application.state_entered_at, description=_describe(application, definition), fileId=application.id,
        serviceId=application.service_id, serviceName=_text(definition.title), eFormId=application.manual_version_id,
        formVariables=variables, status=status, data=_form_values(application),
        documentUrls=[document.id for document in attached], actions=actions,
        trackingNumber=application.tracking_number, state=application.state, dueDate=application.due_at,
    )


@router.post(PREFIX + "/tasks/{task_id}/complete", response_model=CompletedTask, response_model_exclude_none=True)
async def complete_task(task_id: str, body: TaskCompletion, session: SessionDep, caller: SignedIn) -> CompletedTask:
    """Complete a task by taking one of the workflow's actions, with a comment when it needs one."""
    application, definition = await _current_task(session, caller, task_id)
    action = _posted_text(body.data.get("action"), field="data.action")
    if action not in {item.code for item in definition.workflow.actions}:
        raise ValidationFailed(N_("Name one of the workflow's actions."), field="data.action")
    from_state = application.state
    event = await workflow.act(session, application=application, definition=definition, caller=caller,
                               action_code=action, comment=_posted_text(body.data.get("comment"), field="data.comment"))
    completion = {"action": action, "comment": event.comment, "fromState": from_state, "toState": event.to_state}
    still_ours = application.state in _agency_turn_states(definition, None)
    return CompletedTask(
        taskId=task_id, fileId=application.id, serviceId=application.service_id,
        status=status_of(application, definition),
        variables={"completion": {"data": {name: {"value": value} for name, value in completion.items()}}},
        nextTaskId=_task_id(application, event.seq) if still_ours else None,
    )


# --- statistics ----------------------------------------------------------------------------------


class BadStatisticsQuery(AppError):
    """The statistics query cannot be answered as asked (the spec's 400)."""

    code = "invalid_query"


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadStatisticsQuery(N_("Give dates as YYYY-MM-DD.")) from None


async def _services_named(session: AsyncSession, name: str) -> tuple[str, ...]:
    """The services whose code or title is the name (404 when none)."""
    named = or_(PublicService.code == name.lower(), func.lower(PublicService.title_en) == name.lower(),
                PublicService.title_th == name)
    rows = await session.scalars(select(PublicService.id).where(named))
    found = tuple(rows.all())
    if not found:
        raise NotFound(N_("No service has this name."))
    return found


async def _statistics_query(
    session: AsyncSession, *, start: str | None, end: str | None, name: str | None, role: str | None,
    timeframe: str | None, group_by: str | None, agency: str | None,
) -> statistics.StatisticsQuery:
    first, last = _day(start), _day(end)
    if first and last and last < first:
        raise BadStatisticsQuery(N_("The end date is before the start date."))
    if timeframe not in (None, *statistics.TIMEFRAMES):
        raise BadStatisticsQuery(N_("The timeframe must be day, week, month or year."))
    if group_by not in (None, *statistics.GROUPINGS):
        raise BadStatisticsQuery(N_("Statistics can be grouped by service or agency."))
    agency_row = await agency_by_code(session, agency.upper()) if agency else None
    if agency and agency_row is None:
        raise NotFound(N_("No agency has this code."))
    return statistics.StatisticsQuery(
        start=first, end=last, service_ids=await _services_named(session, name) if name else None,
        agency_id=agency_row.id if agency_row else None, role=role or None, timeframe=timeframe, group_by=group_by,
    )


@router.get(PREFIX + "/data/statistics", response_model=list[StatisticsItem], response_model_exclude_none=True)
@router.get(PREFIX + "/data/statistics/1.0", response_model=list[StatisticsItem], response_model_exclude_none=True)
async def get_statistics(
    session: SessionDep, caller: Anyone,
    start_date: Annotated[str | None, Query(alias="startDate", max_length=10)] = None,
    end_date: Annotated[str | None, Query(alias="endDate", max_length=10)] = None,
    registration_name: Annotated[str | None, Query(alias="registrationName", max_length=500)] = None,
    operator: Annotated[str | None, Query(max_length=200)] = None,
    role: Annotated[str | None, Query(max_length=64)] = None,
    timeframe: Annotated[str | None, Query(max_length=20)] = None,
    group_by: Annotated[str | None, Query(alias="groupBy", max_length=20)] = None,
    agency: Annotated[str | None, Query(max_length=32)] = None,
) -> list[StatisticsItem]:
    """Applications submitted, in progress, completed, sent back and overdue: in total, by period, service or agency."""
    del operator  # accepted for GovStack clients, not applied: see the module's docstring
    query = await _statistics_query(session, start=start_date, end=end_date, name=registration_name, role=role,
                                    timeframe=timeframe, group_by=group_by, agency=agency)
    rows = await statistics.application_statistics(session, query)
    codes = await _codes(session, rows)
    return [_statistics_item(row, query, codes, registration_name) for row in rows]


async def _codes(session: AsyncSession, rows: list[statistics.StatisticsRow]) -> dict[str, str]:
    """Service and agency codes of the rows' groups, by id."""
    service_ids = {row.service_id for row in rows if row.service_id}
    agency_ids = {row.agency_id for row in rows if row.agency_id}
    codes: dict[str, str] = {}
    if service_ids:
        rows = await session.execute(
            select(PublicService.id, PublicService.code).where(PublicService.id.in_(service_ids)))
        codes.update({row.id: row.code for row in rows})
    if agency_ids:
        rows = await session.execute(select(Agency.id, Agency.code).where(Agency.id.in_(agency_ids)))
        codes.update({row.id: row.code for row in rows})
    return codes


def _statistics_item(
    row: statistics.StatisticsRow, query: statistics.StatisticsQuery, codes: dict[str, str], name: str | None,
) -> StatisticsItem:
    counts = row.counts
    timeframes = {f"timeframe{kind.title()}": query.timeframe == kind for kind in statistics.TIMEFRAMES}
    references = StatisticsReferences(
        startDate=row.period_start, endDate=row.period_end, role=query.role,
        registrationName=codes.get(row.service_id, name) if row.service_id else name,
        **(timeframes if query.timeframe else {}),
    )
    return StatisticsItem(
        processed=counts.completed, approved=counts.approved, sentBack=counts.sent_back, rejected=counts.rejected,
        submitted=counts.submitted, inProgress=counts.in_progress, completed=counts.completed,
        withdrawn=counts.withdrawn, overdue=counts.overdue, references=references,
        serviceId=row.service_id, agencyCode=codes.get(row.agency_id) if row.agency_id else None,
    )
