"""The application service and workflow engine, below the pages: prefill, submit, return once, deadlines."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from govhub.db import unit_of_work
from govhub.exchange.evidence import EvidenceRecord
from govhub.exchange.models import Consent
from govhub.identity import repository as identity_repository
from govhub.identity.auth import Caller
from govhub.identity.models import AccountKind, OfficerRole
from govhub.kit.errors import Conflict, Forbidden, NotFound
from govhub.notify.models import Notification
from govhub.onestop import applications, repository, tracking, workflow
from govhub.onestop.models import Application, ApplicationEvent
from govhub.onestop.notices import send_late_notices
from tests.onestop.conftest import SUDA

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108020000009077" "53de0000000c4944415408d763f8ffff3f0005fe02fea7d6a00000000049454e44ae426082")


async def _caller(session, national_id: str) -> Caller:  # type: ignore[no-untyped-def]
    account = await identity_repository.account_by_identifier(session, national_id)
    assert account is not None
    return Caller(account=account, session=SimpleNamespace(ial=account.ial, aal=2))  # type: ignore[arg-type]


async def _officer_caller(session, agency_id: str, *roles: OfficerRole) -> Caller:  # type: ignore[no-untyped-def]
    """A new officer of the agency with these roles, as the engine sees them."""
    from tests.identity.test_admin import make_staff

    officer = await make_staff(session, kind=AccountKind.OFFICER, agency_id=agency_id, roles=list(roles))
    return Caller(account=officer, session=SimpleNamespace(ial=1, aal=2), agency_roles={agency_id: set(roles)})  # type: ignore[arg-type]


async def _submitted(onestop_demo) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    async with unit_of_work() as session:
        suda = await _caller(session, SUDA)
        service = await repository.service_by_code(session, "food-shop-permit")
        definition = await applications.definition_of_service(session, service)
        application = await applications.start(session, caller=suda, service=service, definition=definition)
        failed = await applications.fill_from_exchange(session, application=application, caller=suda, definition=definition)
        assert failed == []
        errors = applications.save_answers(application, definition, {
            "shop_name": "ครัวสุดา", "shop_address": "99 ถนนงามวงศ์วาน นนทบุรี", "area_sqm": "250", "seats": "60",
        }, page=1, check=True)
        assert errors == []
        for name in ("floor_plan", "hygiene_certificate"):
            await applications.attach_document(session, application=application, definition=definition, caller=suda,
                                               field_name=name, filename=f"{name}.pdf", content=PDF)
        await applications.submit(session, application=application, definition=definition, caller=suda)
        return application.id, application.agency_id


async def test_prefill_reads_two_registries_through_the_exchange_with_consent(onestop_demo):
    async with unit_of_work() as session:
        before = await session.scalar(select(func.count()).select_from(EvidenceRecord))
    application_id, _ = await _submitted(onestop_demo)
    async with unit_of_work() as session:
        application = await session.get(Application, application_id)
        assert application.data["applicant_national_id"] == SUDA
        assert application.data["juristic_id"] == "0105561012346"
        assert application.data["company_name"] == "บริษัท ครัวสุดา จำกัด"
        assert application.verified["company_name"]["source"] == "TH/GOV/DBD/company-registry/juristic-person"
        assert application.verified["applicant_name"]["source"] == "TH/GOV/DOPA/civil-registry/person"
        assert "shop_name" not in application.verified
        records = (await session.scalars(select(EvidenceRecord).order_by(EvidenceRecord.seq.desc()).limit(2))).all()
        assert await session.scalar(select(func.count()).select_from(EvidenceRecord)) == before + 2
        assert {r.provider for r in records} == {"TH/GOV/DOPA/civil-registry", "TH/GOV/DBD/company-registry"}
        assert {r.consumer for r in records} == {"TH/GOV/NBM/one-stop"} and {r.status for r in records} == {"allowed"}
        consent = await session.get(Consent, application.consent_ids[0])
        assert consent.purpose == "one-stop application: food-shop-permit"
        assert tracking.is_valid(application.tracking_number) and application.tracking_number.startswith("NBM-25")
        assert application.state == "submitted" and application.due_at is not None


async def test_returned_once_then_resubmitted_and_issued(onestop_demo):
    application_id, agency_id = await _submitted(onestop_demo)
    async with unit_of_work() as session:
        application = await session.get(Application, application_id)
        definition = await applications.definition_of(session, application)
        suda = await _caller(session, SUDA)
        reviewer = await _officer_caller(session, agency_id, OfficerRole.REVIEWER)
        approver = await _officer_caller(session, agency_id, OfficerRole.APPROVER)
        with pytest.raises(Forbidden):
            await workflow.act(session, application=application, definition=definition, caller=approver, action_code="accept")
        with pytest.raises(Conflict):
            await workflow.act(session, application=application, definition=definition, caller=approver, action_code="approve")
        await workflow.act(session, application=application, definition=definition, caller=reviewer,
                           action_code="return_incomplete", comment="แผนผังไม่ชัดเจน")
        assert application.state == "returned" and application.returned_count == 1
        await workflow.act(session, application=application, definition=definition, caller=suda, action_code="resubmit")
        with pytest.raises(Conflict) as refused:
            await workflow.act(session, application=application, definition=definition, caller=reviewer,
                               action_code="return_incomplete", comment="อีกครั้ง")
        assert refused.value.code == "already_returned"
        allowed = [a.action.code for a in await workflow.allowed_actions(
            session, application=application, definition=definition, caller=reviewer)]
        assert allowed == ["accept"]
        for caller, action, comment in ((reviewer, "accept", ""), (reviewer, "inspected", "ผ่าน"), (approver, "approve", "")):
            await workflow.act(session, application=application, definition=definition, caller=caller,
                               action_code=action, comment=comment)
        assert application.state == "awaiting_payment"
        history = (await session.scalars(select(ApplicationEvent).where(
            ApplicationEvent.application_id == application.id).order_by(ApplicationEvent.seq))).all()
        assert [e.action for e in history] == ["submit", "return_incomplete", "resubmit", "accept", "inspected", "approve"]
        assert history[1].comment == "แผนผังไม่ชัดเจน" and history[1].actor_role == "reviewer"
        templates = (await session.scalars(select(Notification.template).where(
            Notification.subject_id == application.id).order_by(Notification.created_at))).all()
        assert templates[:2] == ["application_received", "application_returned"]


async def test_late_decision_notice_every_seven_days_and_only_then(onestop_demo):
    application_id, _ = await _submitted(onestop_demo)
    async with unit_of_work() as session:
        application = await session.get(Application, application_id)
        start = application.decision_due_at
        # Other tests' late cases share the database: count this case's notices, not the job's total.
        await send_late_notices(session, now=start - timedelta(hours=1))
        assert application.late_notices == 0
        late = start + timedelta(hours=1)
        await send_late_notices(session, now=late)
        assert application.late_notices == 1
        await send_late_notices(session, now=late + timedelta(days=3))
        await send_late_notices(session, now=late + timedelta(days=6, hours=23))
        assert application.late_notices == 1
        await send_late_notices(session, now=late + timedelta(days=7))
        assert application.late_notices == 2
        notices = await session.scalar(select(func.count()).select_from(Notification).where(
            Notification.subject_id == application.id, Notification.template == "late_decision_notice"))
        assert notices == 2


async def test_tracking_numbers_catch_typos() -> None:
    number = tracking.format_number("NBM", 2569, 123)
    assert tracking.is_valid(number) and tracking.is_valid(number.lower())
    body, check = number[:-1], number[-1]
    assert not tracking.is_valid(body + ("0" if check != "0" else "1"))
    swapped = number.replace("000123", "000213")
    assert not tracking.is_valid(swapped)


async def test_another_persons_application_is_not_found(onestop_demo):
    application_id, _ = await _submitted(onestop_demo)
    async with unit_of_work() as session:
        somchai = await _caller(session, "1101700230708")
        with pytest.raises(NotFound):
            await applications.for_applicant(session, somchai, application_id)
        dopa = await identity_repository.agency_by_code(session, "DOPA")
        other_agency = await _officer_caller(session, dopa.id, OfficerRole.REVIEWER)
        with pytest.raises(NotFound):
            await applications.for_officer(session, other_agency, application_id)


async def test_no_prefill_from_an_unproven_identity_or_company(onestop_demo):
    """A self-asserted ID (IAL1) or a company the registry does not link to the person reads nothing."""
    from govhub.identity import service as identity_service
    from tests import factories as f

    async with unit_of_work() as session:
        victim = await _person_without_account(session)
        impostor = await identity_service.register_account(session, data=identity_service.Registration(
            kind=AccountKind.BUSINESS, email=f.email(), full_name="ผู้แอบอ้าง ทดสอบ", password=f.PASSWORD,
            national_id=victim, juristic_id="0105561012346", juristic_name="บริษัท ครัวสุดา จำกัด",
        ))
        caller = Caller(account=impostor, session=SimpleNamespace(ial=1, aal=1))  # type: ignore[arg-type]
        service = await repository.service_by_code(session, "food-shop-permit")
        definition = await applications.definition_of_service(session, service)
        plan = await applications.prefill_plan(session, definition, caller)
        assert plan and not any(source.available for source in plan)
        impostor.ial = 2  # even verified, the registry does not list this person as the company's director
        caller = Caller(account=impostor, session=SimpleNamespace(ial=2, aal=1))  # type: ignore[arg-type]
        plan = {source.key: source.available for source in await applications.prefill_plan(session, definition, caller)}
        assert plan == {"national_id": True, "juristic_id": False}
        application = await applications.start(session, caller=caller, service=service, definition=definition)
        assert application.juristic_id_hash is None
        await session.rollback()


async def _person_without_account(session) -> str:  # type: ignore[no-untyped-def]
    """A national ID in the civil registry that no account uses."""
    from govhub.identity.models import Account
    from govhub.registries.models import RegistryRecord

    taken = select(Account.national_id).where(Account.national_id.is_not(None))
    key = await session.scalar(select(RegistryRecord.key).where(
        RegistryRecord.key.like("_____________"), RegistryRecord.key.not_in(taken)).limit(1))
    assert key is not None
    return key


async def test_after_approval_the_answers_cannot_change(onestop_demo):
    application_id, agency_id = await _submitted(onestop_demo)
    async with unit_of_work() as session:
        application = await session.get(Application, application_id)
        definition = await applications.definition_of(session, application)
        reviewer = await _officer_caller(session, agency_id, OfficerRole.REVIEWER)
        approver = await _officer_caller(session, agency_id, OfficerRole.APPROVER)
        for caller, action, comment in ((reviewer, "accept", ""), (reviewer, "inspected", "ผ่าน"), (approver, "approve", "")):
            await workflow.act(session, application=application, definition=definition, caller=caller,
                               action_code=action, comment=comment)
        assert application.state == "awaiting_payment"
        with pytest.raises(Conflict):
            applications.save_answers(application, definition, {"area_sqm": "99999"}, page=1, check=False)
