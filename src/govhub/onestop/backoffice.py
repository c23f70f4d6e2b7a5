"""The officers' back office: the queue of their agencies' cases, one case in full, and acting on it.

Who may see a case is decided by `applications.for_officer` (another agency's case, or a draft,
is "not found"); what may be done, by `workflow`. The pages only show and post. Documents are
downloaded here too, by the applicant or the agency's officers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm.exc import StaleDataError

from govhub.db import SessionDep
from govhub.identity import repository as identity_repository
from govhub.identity.auth import Caller, SignedIn
from govhub.identity.models import role_label
from govhub.kit.clock import utcnow
from govhub.kit.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from govhub.kit.http import attachment_disposition
from govhub.kit.i18n import N_, gettext
from govhub.documents import issuing
from govhub.payments import bills
from govhub.onestop import applications, documents, repository, tracking, workflow
from govhub.onestop.definitions import PAYMENT_ROLE, ServiceDefinition
from govhub.onestop.models import Application
from govhub.onestop.repository import ActOn, QueueFilters
from govhub.web.forms import see_other
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
# Generous bounds on posted text; workflow gives the precise, translated limit (4,000 characters).
COMMENT_FORM_MAX = workflow.COMMENT_MAX * 2
STALE = N_("Someone else changed this application; reload and try again.")
DONE = {
    "action": N_("The action was recorded."),
    "comment": N_("The comment was added."),
    "delay": N_("The reason for the delay was recorded."),
}
DUE_LABELS = {
    "any": N_("Any deadline"),
    "overdue": N_("Overdue"),
    "due_7_days": N_("Due in the next 7 days"),
}


def _agencies_of(caller: Caller) -> list[str]:
    """The agencies where the caller holds an officer role; nobody else has a back office."""
    agencies = sorted(caller.agency_roles)
    if not agencies:
        raise Forbidden()
    return agencies


def _page_number(text: str, pages: int) -> int:
    """The page asked for, kept between 1 and the last page (a bad number is not an error)."""
    try:
        number = int(text)
    except ValueError:
        number = 1
    return min(max(number, 1), pages)


# --- the queue -------------------------------------------------------------------------------


async def _definitions_in_queue(session: SessionDep, agency_ids: list[str]) -> list[tuple[str, str, ServiceDefinition]]:
    """(version id, agency id, manual) of every manual version the queue holds, each parsed once."""
    found = []
    for version_id, agency_id in await repository.manual_versions_in_queue(session, agency_ids):
        # definition_of reads only the version id; a transient row lets it use the parse cache.
        definition = await applications.definition_of_version(session, version_id)
        found.append((version_id, agency_id, definition))
    return found


def _act_on(caller: Caller, manuals: list[tuple[str, str, ServiceDefinition]]) -> list[ActOn]:
    """Where the caller's roles have an action, per manual version (as workflow.allowed_actions decides)."""
    rules = []
    for version_id, agency_id, definition in manuals:
        roles = {str(role) for role in caller.agency_roles.get(agency_id, set())}
        for state in definition.workflow.states:
            actions = [a for a in definition.workflow.actions if state.code in a.from_states and roles & set(a.roles)]
            if not actions:
                continue
            once_only = all(action.once for action in actions)
            rules.append(ActOn(version_id, state.code, tuple(a.code for a in actions) if once_only else ()))
    return rules


def _state_labels(manuals: list[tuple[str, str, ServiceDefinition]]) -> dict[str, Any]:
    """Every state code of the queue's manuals and its label (the first manual naming it wins)."""
    labels: dict[str, Any] = {}
    for _version, _agency, definition in manuals:
        for state in definition.workflow.states:
            labels.setdefault(state.code, state.label)
    return labels


@router.get("/backoffice/applications")
async def queue_page(
    request: Request,
    session: SessionDep,
    caller: SignedIn,
    agency: Annotated[str, Query(max_length=36)] = "",
    service: Annotated[str, Query(max_length=36)] = "",
    state: Annotated[str, Query(max_length=64)] = "",
    due: Annotated[str, Query(max_length=16)] = "any",
    mine: Annotated[str, Query(max_length=8)] = "",
    q: Annotated[str, Query(max_length=64)] = "",
    page: Annotated[str, Query(max_length=12)] = "1",
) -> HTMLResponse:
    """Submitted cases of my agencies, soonest deadline first, with filters; overdue ones flagged."""
    agencies = _agencies_of(caller)
    chosen = [agency] if agency in agencies else agencies
    manuals = await _definitions_in_queue(session, chosen)
    filters = QueueFilters(
        agency_ids=chosen, now=utcnow(), service_id=service or None, state=state or None,
        due=due if due in repository.DUE_FILTERS else "any", tracking=tracking.normalize(q),
        act_on=_act_on(caller, manuals) if mine else None,
    )
    total = await repository.count_queue(session, filters)
    pages = max(1, -(-total // PAGE_SIZE))
    number = _page_number(page, pages)
    rows = await repository.queue(session, filters, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    return render(request, "onestop/backoffice_queue.html", {
        "rows": rows, "total": total, "page": number, "pages": pages, "now": filters.now,
        "manuals": {version_id: definition for version_id, _agency, definition in manuals},
        "titles": await repository.service_titles(session, {row.service_id for row in rows}),
        "agencies": [await identity_repository.agency_by_id(session, agency_id) for agency_id in agencies],
        "services": await repository.services_of_agencies(session, chosen),
        "states": _state_labels(manuals), "due_labels": DUE_LABELS,
        "filters": {"agency": agency if agency in agencies else "", "service": service, "state": state,
                    "due": filters.due, "mine": "1" if mine else "", "q": q},
    })


# --- one case ----------------------------------------------------------------------------------


def _actor_label(role: str) -> str:
    """Who acted, as a word: the applicant, the system, or the officer's role."""
    if role == workflow.APPLICANT:
        return gettext(N_("Applicant"))
    if role == "system":
        return gettext(N_("System"))
    if role == PAYMENT_ROLE:
        return gettext(N_("govhub (payment received)"))
    try:
        return role_label(role)  # type: ignore[arg-type]
    except KeyError:
        return role


async def _case_context(
    session: SessionDep, caller: Caller, application_id: str, *, done: str = "", **extra: Any,
) -> dict[str, Any]:
    application = await applications.for_officer(session, caller, application_id)
    definition = await applications.definition_of(session, application)
    allowed = await workflow.allowed_actions(session, application=application, definition=definition, caller=caller)
    version = await repository.version_by_id(session, application.manual_version_id)
    files = await applications.documents_of(session, application)
    now = utcnow()
    return {
        "application": application, "manual": definition, "manual_version": version.version if version else None,
        "allowed": allowed, "documents": {d.id: d for d in files}, "files": files,
        "document_titles": {d.code: d.title for d in definition.documents},
        "history": await repository.history_of(session, application.id), "actor_label": _actor_label,
        "agency": await identity_repository.agency_by_id(session, application.agency_id), "now": now,
        "decision_late": bool(application.decision_due_at and not application.is_final
                              and application.decision_due_at < now),
        "done": gettext(DONE[done]) if done in DONE else None, "posted": {}, "error_form": None,
        "bills": await bills.bills_of_application(session, application.id),
        "issued": await issuing.documents_of_application(session, application.id), **extra,
    }


@router.get("/backoffice/applications/{application_id}")
async def case_page(
    request: Request, application_id: str, session: SessionDep, caller: SignedIn,
    done: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    """One case: its data with the marks of verified values, documents, history, and what I may do."""
    _agencies_of(caller)
    context = await _case_context(session, caller, application_id, done=done)
    return render(request, "onestop/backoffice_case.html", context)


Change = Callable[[Application], Awaitable[Any]]


async def _change_case(
    request: Request, session: SessionDep, caller: Caller, application_id: str, change: Change,
    *, posted: dict[str, Any], done: str,
) -> Response:
    """Apply a change to the case and go back to it; on refusal show the case with the error in place."""
    _agencies_of(caller)
    application = await applications.for_officer(session, caller, application_id)
    try:
        await change(application)
        # Writes now, so that a concurrent change surfaces here and not at the commit.
        await session.flush()
    except NotFound:
        raise
    except StaleDataError:
        return await _show_refusal(request, session, caller, application_id, Conflict(STALE, code="stale"), posted)
    except AppError as error:
        return await _show_refusal(request, session, caller, application_id, error, posted)
    return see_other(f"/backoffice/applications/{application_id}?done={done}")


async def _show_refusal(
    request: Request, session: SessionDep, caller: Caller, application_id: str, error: AppError, posted: dict[str, Any],
) -> HTMLResponse:
    """Undo the request's changes, then show the case again with the error beside the form that failed."""
    await session.rollback()
    # The rollback expired every loaded row, the caller's account too: load it again.
    await session.refresh(caller.account)
    context = await _case_context(session, caller, application_id, posted=posted, error_form=posted.get("form"))
    field = error.field if isinstance(error, ValidationFailed) else None
    context.update(error=error.translated(), error_field=field)
    return render(request, "onestop/backoffice_case.html", context, status_code=error.status_code)


def _check_seen_version(application: Application, seen: str) -> None:
    """Refuse an action decided on an older view of the case (someone changed it since)."""
    if seen and seen != str(application.version):
        raise Conflict(STALE, code="stale")


@router.post("/backoffice/applications/{application_id}/actions/{action}")
async def take_action(
    request: Request, application_id: str, action: str, session: SessionDep, caller: SignedIn,
    comment: Annotated[str, Form(max_length=COMMENT_FORM_MAX)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Take one of the allowed actions, with the officer's comment (required when the manual says so)."""

    async def change(application: Application) -> None:
        _check_seen_version(application, version)
        definition = await applications.definition_of(session, application)
        await workflow.act(session, application=application, definition=definition, caller=caller,
                           action_code=action, comment=comment)

    posted = {"form": f"action-{action}", "comment": comment}
    return await _change_case(request, session, caller, application_id, change, posted=posted, done="action")


@router.post("/backoffice/applications/{application_id}/comments")
async def add_comment(
    request: Request, application_id: str, session: SessionDep, caller: SignedIn,
    comment: Annotated[str, Form(max_length=COMMENT_FORM_MAX)] = "",
    internal: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """A note on the case: internal (officers only) or a message the applicant reads."""

    async def change(application: Application) -> None:
        await workflow.add_comment(session, application=application, caller=caller, comment=comment,
                                   internal=internal == "on")

    posted = {"form": "comment-form", "comment": comment, "internal": internal == "on"}
    return await _change_case(request, session, caller, application_id, change, posted=posted, done="comment")


@router.post("/backoffice/applications/{application_id}/delay-reason")
async def explain_delay(
    request: Request, application_id: str, session: SessionDep, caller: SignedIn,
    reason: Annotated[str, Form(max_length=COMMENT_FORM_MAX)] = "",
) -> Response:
    """Why the decision is late; the applicant's weekly late-decision notice carries it."""

    async def change(application: Application) -> None:
        await workflow.explain_delay(session, application=application, caller=caller, reason=reason)

    posted = {"form": "delay-form", "reason": reason}
    return await _change_case(request, session, caller, application_id, change, posted=posted, done="delay")


# --- documents ---------------------------------------------------------------------------------


@router.get("/applications/{application_id}/documents/{document_id}")
async def download_document(application_id: str, document_id: str, session: SessionDep, caller: SignedIn) -> Response:
    """A document of the application, for its applicant or the agency's officers; never shown inline."""
    application = await applications.for_reader(session, caller, application_id)
    document = await repository.document_of(session, application.id, document_id)
    if document is None:
        raise NotFound()
    content = await documents.store().get(document.storage_key)
    return Response(content, media_type=document.media_type, headers={
        # Saved with the extension of its real type: a PNG named plan.pdf must not open as a PDF.
        "Content-Disposition": attachment_disposition(documents.download_name(document.filename, document.media_type)),
        "X-Content-Type-Options": "nosniff",
        # Even if a browser renders it, an uploaded file runs no script and reaches no origin.
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, no-store",
    })
