"""The officers' back office over HTTP: the queue and its filters, a case, actions, comments, downloads."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select, update

from govhub.db import unit_of_work
from govhub.identity.models import OfficerRole
from govhub.kit.clock import utcnow
from govhub.onestop import applications, repository, workflow
from govhub.onestop.models import Application, ApplicationDocument, ApplicationEvent
from tests import factories as f
from tests.onestop.conftest import SOMCHAI, SUDA, officer_of, sign_in_demo
from tests.onestop.test_workflow import _caller, _officer_caller, _submitted

STALE = "Someone else changed this application; reload and try again."


async def _post(browser: httpx.AsyncClient, url: str, data: dict[str, str]) -> httpx.Response:
    token = f.csrf_from((await browser.get("/account")).text)
    return await browser.post(url, data={**data, "csrf_token": token})


async def _case(application_id: str) -> Application:
    async with unit_of_work() as session:
        application = await session.get(Application, application_id)
        assert application is not None
        return application


async def _events(application_id: str) -> list[ApplicationEvent]:
    async with unit_of_work() as session:
        rows = await session.scalars(select(ApplicationEvent).where(
            ApplicationEvent.application_id == application_id).order_by(ApplicationEvent.seq))
        return list(rows)


async def _set(application_id: str, **values: object) -> None:
    async with unit_of_work() as session:
        await session.execute(update(Application).where(Application.id == application_id).values(**values))


async def _tracking_number(application_id: str) -> str:
    number = (await _case(application_id)).tracking_number
    assert number
    return number


@pytest.fixture
async def reviewer(app, onestop_demo):  # type: ignore[no-untyped-def]
    browser = await officer_of(app, "NBM", OfficerRole.REVIEWER)
    yield browser
    await browser.aclose()


async def test_the_queue_holds_my_agencys_cases_and_not_others(app, client, reviewer, onestop_demo):
    application_id, _ = await _submitted(onestop_demo)
    number = await _tracking_number(application_id)
    page = await reviewer.get("/backoffice/applications?lang=en")
    assert page.status_code == 200
    assert number in page.text and f'href="/backoffice/applications/{application_id}"' in page.text
    assert "Permit to operate a food shop" in page.text and "Submitted" in page.text
    assert '<caption>' in page.text and 'scope="col"' in page.text
    dopa = await officer_of(app, "DOPA", OfficerRole.REVIEWER)
    other = await dopa.get("/backoffice/applications?lang=en")
    assert other.status_code == 200 and number not in other.text and application_id not in other.text
    await sign_in_demo(client, SOMCHAI)
    assert (await client.get("/backoffice/applications")).status_code == 403


async def test_filters_by_state_deadline_role_and_tracking_number(app, onestop_demo):
    inspected_id, agency_id = await _submitted(onestop_demo)
    late_id, _ = await _submitted(onestop_demo)
    fresh_id, _ = await _submitted(onestop_demo)
    async with unit_of_work() as session:
        application = await session.get(Application, inspected_id)
        officer = await _officer_caller(session, agency_id, OfficerRole.REVIEWER)
        definition = await applications.definition_of(session, application)
        await workflow.act(session, application=application, definition=definition, caller=officer,
                           action_code="accept")
    await _set(late_id, due_at=utcnow() - timedelta(hours=2))
    inspected, late, fresh = inspected_id, late_id, fresh_id
    approver = await officer_of(app, "NBM", OfficerRole.APPROVER)

    async def shown(query: str, application_id: str) -> bool:
        """Whether the case is listed, searched by a part of its tracking number."""
        number = await _tracking_number(application_id)
        page = await approver.get(f"/backoffice/applications?lang=en&q={quote(number[4:])}&{query}")
        assert page.status_code == 200
        return f'data-application="{application_id}"' in page.text

    assert await shown("state=inspection", inspected) and not await shown("state=inspection", late)
    assert await shown("due=overdue", late) and not await shown("due=overdue", inspected)
    assert await shown("due=due_7_days", fresh) and not await shown("due=due_7_days", inspected)  # ten days to inspect
    assert not await shown("due=due_7_days", late)
    # The approver may refuse during inspection, and has nothing to do with a fresh submission.
    assert await shown("mine=1", inspected) and not await shown("mine=1", late)
    overdue = await approver.get(f"/backoffice/applications?lang=en&q={await _tracking_number(late_id)}")
    assert "Overdue" in overdue.text and 'data-overdue="1"' in overdue.text
    for page in ("abc", "-3", "9999"):
        assert (await approver.get(f"/backoffice/applications?page={page}")).status_code == 200
    await approver.aclose()


async def test_the_role_filter_follows_the_state(reviewer, onestop_demo):
    application_id, _ = await _submitted(onestop_demo)
    number = await _tracking_number(application_id)
    await _set(application_id, state="returned")
    row = f'data-application="{application_id}"'
    listed = await reviewer.get(f"/backoffice/applications?mine=1&q={number}")
    assert row not in listed.text  # the applicant's turn
    await _set(application_id, state="submitted")
    assert row in (await reviewer.get(f"/backoffice/applications?mine=1&q={number}")).text


async def test_a_state_with_only_once_only_actions_counts_until_they_are_used(onestop_demo):
    fresh_id, agency_id = await _submitted(onestop_demo)
    used_id, _ = await _submitted(onestop_demo)
    async with unit_of_work() as session:
        used = await session.get(Application, used_id)
        await applications.record_event(session, used, actor=None, role="reviewer", action="return_incomplete",
                                        from_state="submitted", to_state="returned")
        version_id = used.manual_version_id
    rule = repository.ActOn(version_id, "submitted", ("return_incomplete",))
    async with unit_of_work() as session:
        for application_id, expected in ((fresh_id, 1), (used_id, 0)):
            filters = repository.QueueFilters(agency_ids=[agency_id], now=utcnow(), act_on=[rule],
                                              tracking=await _tracking_number(application_id))
            assert await repository.count_queue(session, filters) == expected
        nothing = repository.QueueFilters(agency_ids=[agency_id], now=utcnow(), act_on=[])
        assert await repository.count_queue(session, nothing) == 0


async def test_an_officer_of_another_agency_finds_nothing(app, reviewer, onestop_demo):
    application_id, _ = await _submitted(onestop_demo)
    async with unit_of_work() as session:
        document_id = await session.scalar(select(ApplicationDocument.id).where(
            ApplicationDocument.application_id == application_id))
    dopa = await officer_of(app, "DOPA", OfficerRole.REVIEWER, OfficerRole.APPROVER)
    assert (await dopa.get(f"/backoffice/applications/{application_id}")).status_code == 404
    assert (await _post(dopa, f"/backoffice/applications/{application_id}/actions/accept", {})).status_code == 404
    comment = await _post(dopa, f"/backoffice/applications/{application_id}/comments", {"comment": "x"})
    assert comment.status_code == 404
    assert (await dopa.get(f"/applications/{application_id}/documents/{document_id}")).status_code == 404
    assert (await _case(application_id)).state == "submitted"
    await dopa.aclose()


async def test_a_draft_is_not_in_the_back_office(reviewer, onestop_demo):
    async with unit_of_work() as session:
        suda = await _caller(session, SUDA)
        service = await repository.service_by_code(session, "food-shop-permit")
        definition = await applications.definition_of_service(session, service)
        draft = await applications.start(session, caller=suda, service=service, definition=definition)
        draft_id = draft.id
    assert (await reviewer.get(f"/backoffice/applications/{draft_id}")).status_code == 404


async def test_the_case_page_shows_data_marks_documents_history_and_actions(reviewer, onestop_demo):
    application_id, _ = await _submitted(onestop_demo)
    page = await reviewer.get(f"/backoffice/applications/{application_id}?lang=en")
    assert page.status_code == 200
    text = page.text
    assert await _tracking_number(application_id) in text
    assert "Verified by TH/GOV/DOPA/civil-registry/person" in text
    assert "Verified by TH/GOV/DBD/company-registry/juristic-person" in text
    assert "Shop name" in text and "ครัวสุดา" in text and "บริษัท ครัวสุดา จำกัด" in text
    assert "Application submitted" in text and "Manual version" in text
    assert f"/applications/{application_id}/documents/" in text and "floor_plan.pdf" in text
    assert "Accept as complete" in text and "Return as incomplete" in text and "Approve" not in text
    assert 'name="csrf_token"' in text and 'for="action-return_incomplete-comment"' in text
    assert "Overdue" not in text and 'id="delay-form"' not in text
    thai = await reviewer.get(f"/backoffice/applications/{application_id}?lang=th")
    assert "ชื่อร้าน" in thai.text and "รับคำขอ" in thai.text


async def test_return_needs_reasons_then_goes_to_the_applicant_and_only_once(client, reviewer, onestop_demo):
    application_id, _ = await _submitted(onestop_demo)
    url = f"/backoffice/applications/{application_id}/actions/return_incomplete"
    missing = await _post(reviewer, f"{url}?lang=en", {"comment": "  "})
    assert missing.status_code == 422
    assert "Write the reasons: the applicant will read them." in missing.text
    assert 'href="#action-return_incomplete-comment"' in missing.text and 'aria-invalid="true"' in missing.text
    assert (await _case(application_id)).state == "submitted"
    assert [e.action for e in await _events(application_id)] == ["submit"]

    returned = await _post(reviewer, url, {"comment": "แผนผังไม่ชัดเจน กรุณาส่งใหม่"})
    assert returned.status_code == 303
    assert returned.headers["location"] == f"/backoffice/applications/{application_id}?done=action"
    assert (await _case(application_id)).state == "returned"
    await sign_in_demo(client, SUDA)
    tracking = await client.get(f"/applications/{application_id}?lang=en")
    assert "แผนผังไม่ชัดเจน กรุณาส่งใหม่" in tracking.text

    async with unit_of_work() as session:
        application = await session.get(Application, application_id)
        definition = await applications.definition_of(session, application)
        suda = await _caller(session, SUDA)
        await workflow.act(session, application=application, definition=definition, caller=suda, action_code="resubmit")
    page = await reviewer.get(f"/backoffice/applications/{application_id}?lang=en")
    assert 'id="action-return_incomplete"' not in page.text and 'id="action-accept"' in page.text
    again = await _post(reviewer, f"{url}?lang=en", {"comment": "อีกครั้ง"})
    assert again.status_code == 409 and "only once" in again.text
    assert (await _case(application_id)).state == "submitted"


async def test_an_action_of_a_role_i_lack_is_refused(reviewer, onestop_demo):
    application_id, _ = await _submitted(onestop_demo)
    url = f"/backoffice/applications/{application_id}/actions/reject?lang=en"
    refused = await _post(reviewer, url, {"comment": "no"})
    assert refused.status_code == 403 and "Your role does not allow this action." in refused.text
    assert (await _case(application_id)).state == "submitted"
    unknown = await _post(reviewer, f"/backoffice/applications/{application_id}/actions/no_such_action", {})
    assert unknown.status_code == 404


async def test_an_internal_comment_stays_with_the_officers(client, reviewer, onestop_demo):
    application_id, _ = await _submitted(onestop_demo)
    comments = f"/backoffice/applications/{application_id}/comments"
    empty = await _post(reviewer, f"{comments}?lang=en", {"comment": "", "internal": "on"})
    assert empty.status_code == 422 and "Write a comment." in empty.text
    internal = await _post(reviewer, comments, {"comment": "โทรหาผู้ขอแล้ว ยังไม่รับสาย", "internal": "on"})
    assert internal.status_code == 303
    assert (await _post(reviewer, comments, {"comment": "จะตรวจสถานที่ในสัปดาหน้า"})).status_code == 303
    events = {e.comment: e.visibility for e in await _events(application_id) if e.action == "comment"}
    assert events == {"โทรหาผู้ขอแล้ว ยังไม่รับสาย": "internal", "จะตรวจสถานที่ในสัปดาหน้า": "applicant"}
    page = await reviewer.get(f"/backoffice/applications/{application_id}?lang=en")
    assert "โทรหาผู้ขอแล้ว ยังไม่รับสาย" in page.text and "Internal: officers only" in page.text
    await sign_in_demo(client, SUDA)
    tracking = await client.get(f"/applications/{application_id}")
    assert tracking.status_code == 200
    assert "จะตรวจสถานที่ในสัปดาหน้า" in tracking.text and "โทรหาผู้ขอแล้ว" not in tracking.text


async def test_a_late_decision_asks_for_the_reason(reviewer, onestop_demo):
    application_id, _ = await _submitted(onestop_demo)
    deadline = (await _case(application_id)).decision_due_at
    await _set(application_id, decision_due_at=utcnow() - timedelta(days=1))
    try:
        page = await reviewer.get(f"/backoffice/applications/{application_id}?lang=en")
        assert 'id="delay-form"' in page.text and "Decision late" in page.text
        url = f"/backoffice/applications/{application_id}/delay-reason"
        empty = await _post(reviewer, f"{url}?lang=en", {"reason": ""})
        assert empty.status_code == 422 and "Write the reason for the delay." in empty.text
        assert (await _post(reviewer, url, {"reason": "รอผลตรวจจากสำนักงานเขต"})).status_code == 303
        assert (await _case(application_id)).delay_reason == "รอผลตรวจจากสำนักงานเขต"
    finally:
        # The late-notice job's tests share this database and count every late case.
        await _set(application_id, decision_due_at=deadline)


async def test_acting_on_an_old_view_or_at_the_same_moment_is_a_conflict(reviewer, onestop_demo, monkeypatch):
    application_id, _ = await _submitted(onestop_demo)
    seen = str((await _case(application_id)).version)
    comments = f"/backoffice/applications/{application_id}/comments"
    note = await _post(reviewer, comments, {"comment": "note", "internal": "on"})
    assert note.status_code == 303
    url = f"/backoffice/applications/{application_id}/actions/accept?lang=en"
    old_view = await _post(reviewer, url, {"version": seen})
    assert old_view.status_code == 409 and STALE in old_view.text
    assert (await _case(application_id)).state == "submitted"

    real_act = workflow.act

    async def someone_else_first(session, *, application, **kw):  # type: ignore[no-untyped-def]
        # Another officer's write lands between our read and our write.
        await session.execute(update(Application).where(Application.id == application.id)
                              .values(version=Application.version + 1).execution_options(synchronize_session=False))
        return await real_act(session, application=application, **kw)

    monkeypatch.setattr(workflow, "act", someone_else_first)
    raced = await _post(reviewer, url, {})
    assert raced.status_code == 409 and STALE in raced.text
    monkeypatch.undo()
    assert (await _case(application_id)).state == "submitted"
    async with unit_of_work() as session:
        accepted = await session.scalar(select(func.count()).select_from(ApplicationEvent).where(
            ApplicationEvent.application_id == application_id, ApplicationEvent.action == "accept"))
    assert accepted == 0


async def test_documents_download_for_the_applicant_and_the_agency_only(client, reviewer, app, onestop_demo):
    application_id, _ = await _submitted(onestop_demo)
    other_id, _ = await _submitted(onestop_demo)
    async with unit_of_work() as session:
        document = await session.scalar(select(ApplicationDocument).where(
            ApplicationDocument.application_id == application_id, ApplicationDocument.document_code == "floor_plan"))
        foreign = await session.scalar(
            select(ApplicationDocument.id).where(ApplicationDocument.application_id == other_id))
    url = f"/applications/{application_id}/documents/{document.id}"
    by_officer = await reviewer.get(url)
    assert by_officer.status_code == 200 and by_officer.content.startswith(b"%PDF-1.4")
    assert by_officer.headers["content-type"] == "application/pdf"
    assert by_officer.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''floor_plan.pdf" in by_officer.headers["content-disposition"]
    assert by_officer.headers["x-content-type-options"] == "nosniff"
    assert by_officer.headers["content-security-policy"] == "sandbox"
    assert by_officer.headers["cache-control"] == "private, no-store"
    assert (await reviewer.get(f"/applications/{application_id}/documents/{foreign}")).status_code == 404
    await sign_in_demo(client, SUDA)
    assert (await client.get(url)).status_code == 200
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as somchai:
        await sign_in_demo(somchai, SOMCHAI)
        assert (await somchai.get(url)).status_code == 404


def test_a_thai_file_name_is_sent_exactly_and_safely() -> None:
    from govhub.kit.http import attachment_disposition as _attachment

    header = _attachment('แผนผัง "ร้าน".pdf')
    assert header.startswith('attachment; filename="')
    assert "filename*=UTF-8''%E0%B9%81" in header and '\\"' not in header and '"ร้าน"' not in header


async def test_officers_find_the_back_office_from_their_account(reviewer, client, onestop_demo):
    account = await reviewer.get("/account?lang=en")
    assert 'href="/backoffice/applications"' in account.text
    await sign_in_demo(client, SOMCHAI)
    assert 'href="/backoffice/applications"' not in (await client.get("/account")).text

