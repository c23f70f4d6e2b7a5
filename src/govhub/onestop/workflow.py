"""The workflow engine: a service's state machine, as its manual defines it, applied to one case.

An action is allowed when the case is in one of its `from` states and the caller holds one of
its roles: "applicant" for the person who applied, else an officer role in the agency that
handles the case. `once` actions (the Act's single return for incompleteness) are refused the
second time. Every transition appends a history row; the case's version column makes two
people acting at the same moment conflict instead of both winning.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity.auth import Caller
from govhub.kit.clock import utcnow
from govhub.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.identity.models import Account
from govhub.onestop import applications, fees, notices
from govhub.onestop.applications import DRAFT
from govhub.onestop.definitions import PAYMENT_ROLE, Action, ServiceDefinition
from govhub.onestop.models import Application, ApplicationEvent

APPLICANT = "applicant"
COMMENT_MAX = 4000


@dataclass(frozen=True)
class Allowed:
    """An action the caller may take now, and the role they take it in."""

    action: Action
    role: str


def _roles(caller: Caller, application: Application) -> set[str]:
    # The applicant acts only as the applicant, even if they also work for the agency.
    if applications.is_applicant(caller, application):
        return {APPLICANT}
    return applications.officer_roles(caller, application)


async def _used(session: AsyncSession, application: Application, action_code: str) -> bool:
    found = await session.scalar(
        select(ApplicationEvent.id)
        .where(ApplicationEvent.application_id == application.id, ApplicationEvent.action == action_code)
        .limit(1)
    )
    return found is not None


async def allowed_actions(
    session: AsyncSession, *, application: Application, definition: ServiceDefinition, caller: Caller,
) -> list[Allowed]:
    """The actions the caller may take on the case in its current state."""
    if application.state == DRAFT:
        return []
    roles = _roles(caller, application)
    allowed = []
    for action in definition.workflow.actions:
        role = next((r for r in action.roles if r in roles), None)
        if role is None or application.state not in action.from_states:
            continue
        if action.once and await _used(session, application, action.code):
            continue
        allowed.append(Allowed(action, role))
    return allowed


async def act(
    session: AsyncSession, *, application: Application, definition: ServiceDefinition, caller: Caller,
    action_code: str, comment: str = "",
) -> ApplicationEvent:
    """Take an action: check state, role, the once-only rule and the comment; move; record; tell."""
    action = next((a for a in definition.workflow.actions if a.code == action_code), None)
    if action is None:
        raise NotFound()
    role = next((r for r in action.roles if r in _roles(caller, application)), None)
    if role is None:
        raise Forbidden(N_("Your role does not allow this action."))
    if application.state not in action.from_states:
        raise Conflict(N_("This action is not possible in the application's current state."), code="wrong_state")
    if action.once and await _used(session, application, action.code):
        raise Conflict(
            N_("An application can be returned for incompleteness only once (Licensing Facilitation Act B.E. 2558)."),
            code="already_returned",
        )
    comment = (comment or "").strip()
    if action.comment_required and not comment:
        raise ValidationFailed(N_("Write the reasons: the applicant will read them."), field="comment")
    if len(comment) > COMMENT_MAX:
        raise ValidationFailed(N_("The comment is too long (at most 4,000 characters)."), field="comment")
    if role == APPLICANT and action.to == definition.workflow.initial:
        # Resubmitting: the form must be complete again, and the Act's clock starts anew.
        applications.check_complete(application, definition)
    return await _move(session, application=application, definition=definition, actor=caller.account,
                       action=action, role=role, comment=comment)


async def take_payment_action(session: AsyncSession, *, application: Application) -> ApplicationEvent | None:
    """The case's bill was paid: take the action that leaves its billing state (govhub acts).

    Only payments.callbacks calls this, after a verified callback credited the bill; a case
    that has meanwhile left the billing state (withdrawn) is left as it is.
    """
    definition = await applications.definition_of(session, application)
    action = definition.workflow.payment_action(application.state)
    if action is None:
        return None
    return await _move(session, application=application, definition=definition, actor=None,
                       action=action, role=PAYMENT_ROLE, comment="")


async def _move(
    session: AsyncSession, *, application: Application, definition: ServiceDefinition, actor: Account | None,
    action: Action, role: str, comment: str,
) -> ApplicationEvent:
    now = utcnow()
    from_state, target = application.state, definition.workflow.state(action.to)
    application.state, application.state_entered_at, application.updated_at = target.code, now, now
    application.waiting_on = "" if target.final else target.actor
    application.due_at = None if target.final else applications.due(now, target.days)
    if action.once:
        application.returned_count += 1
    if role == APPLICANT and target.code == definition.workflow.initial:
        application.decision_due_at = applications.due(now, definition.time_limit_days)
    if target.final:
        application.is_final, application.decided_at = True, now
    event = await applications.record_event(
        session, application, actor=actor, role=role, action=action.code,
        from_state=from_state, to_state=target.code, comment=comment,
    )
    await fees.on_state_left(session, application=application, definition=definition,
                             state=definition.workflow.state(from_state), action=action.code)
    await fees.on_state_entered(session, application=application, definition=definition, state=target)
    if role != APPLICANT:
        template = "application_decided" if target.final else (
            "application_returned" if action.once else "application_state_changed")
        await notices.tell_applicant(session, application=application, definition=definition,
                                     template=template, message=comment)
    return event


async def add_comment(
    session: AsyncSession, *, application: Application, caller: Caller, comment: str, internal: bool,
) -> ApplicationEvent:
    """An officer's note on the case: internal (officers only) or to the applicant."""
    roles = applications.officer_roles(caller, application)
    if not roles:
        raise NotFound()
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed(N_("Write a comment."), field="comment")
    if len(comment) > COMMENT_MAX:
        raise ValidationFailed(N_("The comment is too long (at most 4,000 characters)."), field="comment")
    application.updated_at = utcnow()
    return await applications.record_event(
        session, application, actor=caller.account, role=sorted(roles)[0], action="comment",
        from_state=application.state, to_state=application.state, comment=comment,
        visibility="internal" if internal else "applicant",
    )


async def explain_delay(
    session: AsyncSession, *, application: Application, caller: Caller, reason: str,
) -> ApplicationEvent:
    """Record why the decision is late; the weekly late-decision notice carries it."""
    if not applications.officer_roles(caller, application):
        raise NotFound()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(N_("Write the reason for the delay."), field="reason")
    application.delay_reason = reason[:COMMENT_MAX]
    application.updated_at = utcnow()
    return await applications.record_event(
        session, application, actor=caller.account, role=sorted(applications.officer_roles(caller, application))[0],
        action="delay_reason", from_state=application.state, to_state=application.state, comment=reason,
    )
