"""Telling applicants: emails at each step, and the late-decision notice every 7 days.

The Licensing Facilitation Act B.E. 2558 requires an agency that has not decided within the
manual's time limit to tell the applicant the reason, every 7 days until it decides. A
scheduled job (`onestop.send_late_notices`, hourly) finds such cases; a case gets its next
notice only when 7 days have passed since the last, so running the job often, or twice, is safe.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from huey import crontab
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.db import unit_of_work
from govhub.identity.models import Account, Agency
from govhub.jobs import _run_async, huey, job
from govhub.kit.clock import format_datetime, utcnow
from govhub.kit.observability import get_logger
from govhub.onestop.definitions import ServiceDefinition
from govhub.onestop.models import Application

log = get_logger("govhub.onestop.notices")
NOTICE_INTERVAL = timedelta(days=7)


def tracking_url(application: Application) -> str:
    """The applicant's tracking page, as a full link for emails."""
    settings = get_settings()
    base = settings.base_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    return f"{base}/applications/{application.id}"


def _context(application: Application, definition: ServiceDefinition, locale: str, **extra: str) -> dict[str, str]:
    title = definition.title.th if locale == "th" else definition.title.en
    state = definition.workflow.state(application.state) if application.state != "draft" else None
    return {
        "tracking_number": application.tracking_number or "",
        "service_title": title,
        "applicant_name": application.applicant_name,
        "state_label": (state.label.th if locale == "th" else state.label.en) if state else "",
        "due_date": format_datetime(application.due_at, locale) if application.due_at else "",
        "tracking_url": tracking_url(application),
        "message": "",
        **extra,
    }


async def tell_applicant(
    session: AsyncSession, *, application: Application, definition: ServiceDefinition, template: str,
    message: str = "", **extra: str,
) -> None:
    """Email the applicant about their application, in their language (sent after commit)."""
    from govhub.notify.service import queue_email

    account = await session.get(Account, application.applicant_account_id)
    if account is None:
        return
    locale = account.preferred_locale or "th"
    await queue_email(
        session, to=account.email, template=template, locale=locale, account_id=account.id,
        context=_context(application, definition, locale, message=message, **extra),
        subject_kind="application", subject_id=application.id,
    )


def late_condition(now: datetime) -> object:
    """SQL: submitted, undecided, past the decision deadline, and the agency's turn."""
    return and_(
        Application.is_final.is_(False),
        Application.waiting_on == "agency",
        Application.submitted_at.is_not(None),
        Application.decision_due_at.is_not(None),
        Application.decision_due_at < now,
    )


async def send_late_notices(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Notify every late case whose last notice is 7 days old (or that has none); returns how many."""
    from govhub.onestop import applications
    from govhub.onestop.applications import definition_of

    now = now or utcnow()
    due_for_notice = or_(Application.last_late_notice_at.is_(None), Application.last_late_notice_at <= now - NOTICE_INTERVAL)
    cases = (await session.scalars(
        select(Application).where(late_condition(now), due_for_notice).order_by(Application.decision_due_at).limit(500)
    )).all()
    sent = 0
    for application in cases:
        definition = await definition_of(session, application)
        agency = await session.get(Agency, application.agency_id)
        days_late = (now - application.decision_due_at).days if application.decision_due_at else 0
        reason = application.delay_reason or _default_reason(agency, definition, application)
        application.late_notices += 1
        application.last_late_notice_at = now
        await applications.record_event(
            session, application, actor=None, role="system", action="late_notice",
            from_state=application.state, to_state=application.state, comment=reason,
        )
        await tell_applicant(session, application=application, definition=definition, template="late_decision_notice",
                             reason=reason, days_late=str(days_late))
        sent += 1
    return sent


def _default_reason(agency: Agency | None, definition: ServiceDefinition, application: Application) -> str:
    """When the agency has written no reason: say where the case stands, in both languages."""
    state = definition.workflow.state(application.state)
    name = f"{agency.name_th} / {agency.name_en}" if agency else ""
    return f"{name}: {state.label.th} / {state.label.en}"


@job("onestop.send_late_notices")
async def send_late_notices_job() -> None:
    """The scheduled run of the late-decision notices."""
    async with unit_of_work() as session:
        sent = await send_late_notices(session)
    log.info("late-decision notices", sent=sent)


@huey.periodic_task(crontab(minute="17"), name="onestop.send_late_notices.periodic")
def _periodic_late_notices() -> None:
    _run_async(send_late_notices_job())
