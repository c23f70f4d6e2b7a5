"""The GovStack Registration API's applications, documents, tasks and statistics, checked against the published spec."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from referencing import Registry, Resource
from sqlalchemy import update

from govhub.db import unit_of_work
from govhub.identity import repository as identity_repository
from govhub.identity.models import OfficerRole
from govhub.kit.clock import BANGKOK, utcnow
from govhub.onestop import repository
from govhub.onestop.models import Application
from tests import factories as f
from tests.onestop.conftest import SOMCHAI, SUDA, officer_of, sign_in_demo

GOVSTACK = Path(__file__).resolve().parents[3] / "shared" / "govstack"
SPECS = {"registration": "registration-bb-api.json", "statistics": "registration-bb-statistics-api.json"}
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PREMISES = {"shop_name": "ครัวสุดา สาขาติวานนท์", "shop_address": "12 ถนนติวานนท์ นนทบุรี", "area_sqm": 250,
            "seats": {"value": 60}}


# --- the published OpenAPI documents -----------------------------------------------------------


@lru_cache(maxsize=2)
def _spec(name: str) -> dict[str, Any]:
    return json.loads((GOVSTACK / SPECS[name]).read_text(encoding="utf-8"))


def assert_matches_spec(path: str, method: str, status: int, body: Any, spec: str = "registration") -> None:
    """The operation documents this status, and the body matches the schema it documents for it."""
    document, uri = _spec(spec), f"urn:govstack:{spec}"
    responses = document["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path}: {status} is not a documented answer"
    answer = responses[str(status)]
    if "$ref" in answer:
        answer = document["components"]["responses"][answer["$ref"].rsplit("/", 1)[-1]]
    content = answer.get("content")
    if not content:
        return  # documented without a body (the spec's 404s and statistics' 400)
    schema = next(iter(content.values()))["schema"]
    # The operation's refs point into the document: make them absolute, into the registry.
    absolute = json.loads(json.dumps(schema).replace('"#/components', f'"{uri}#/components'))
    registry = Registry().with_resource(uri, Resource.opaque(document))
    validator = jsonschema.Draft202012Validator(absolute, registry=registry, format_checker=jsonschema.FormatChecker())
    validator.validate(body)


async def _conforms(response: httpx.Response, path: str, status: int = 200, spec: str = "registration") -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert_matches_spec(path, response.request.method.lower(), status, body, spec)
    return body


# --- helpers -----------------------------------------------------------------------------------


async def _csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"x-csrf-token": f.csrf_from((await client.get("/account")).text)}


async def _ids() -> dict[str, str]:
    async with unit_of_work() as session:
        service = await repository.service_by_code(session, "food-shop-permit")
        suda = await identity_repository.account_by_identifier(session, SUDA)
        return {"service": service.id, "suda": suda.id}


async def _upload(client: httpx.AsyncClient, service_id: str, code: str, content: bytes = PDF) -> httpx.Response:
    return await client.post(
        "/registration/documents", data={"serviceId": service_id, "documentCode": code},
        files={"file": (f"{code}.pdf", content, "application/pdf")}, headers=await _csrf(client),
    )


async def _uploaded(client: httpx.AsyncClient, service_id: str) -> list[str]:
    ids = []
    for code in ("floor_plan", "hygiene_certificate"):
        ids.append((await _conforms(await _upload(client, service_id, code), "/documents"))["url"])
    return ids


async def _apply(client: httpx.AsyncClient, service_id: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post(f"/registration/services/{service_id}/applications", json=body,
                             headers={**await _csrf(client), **headers})


async def _submitted(client: httpx.AsyncClient, ids: dict[str, str]) -> dict[str, Any]:
    """A food-shop application made over the API: uploads, consent to fetch from GDX, submitted."""
    body = {"applicantId": ids["suda"], "gdxConsent": True, "formData": {"data": PREMISES},
            "documentUrls": await _uploaded(client, ids["service"])}
    return await _conforms(await _apply(client, ids["service"], body), "/services/{serviceId}/applications")


async def _task_of(officer: httpx.AsyncClient, file_id: str) -> dict[str, Any]:
    tasks = await _conforms(await officer.get("/registration/tasks", params={"fileId": file_id}), "/tasks")
    assert len(tasks) == 1
    return tasks[0]


async def _complete(officer: httpx.AsyncClient, task_id: str, data: dict[str, Any]) -> httpx.Response:
    return await officer.post(f"/registration/tasks/{task_id}/complete", json={"data": data},
                              headers=await _csrf(officer))


# --- the journey -------------------------------------------------------------------------------


async def test_apply_list_and_complete_a_task_as_the_spec_says(app, client, onestop_demo):
    ids = await _ids()
    await sign_in_demo(client, SUDA)
    refused = await _upload(client, ids["service"], "floor_plan", b"plain text, not a PDF")
    assert (await _conforms(refused, "/documents", 400))["error"]["code"] == "upload_refused"

    made = await _submitted(client, ids)
    file_id = made["fileId"]
    assert made["status"]["code"] == "PENDING" and made["state"] == "submitted" and made["trackingNumber"]
    data = made["applicationData"]["formData"]["data"]
    assert data["company_name"]["value"] == "บริษัท ครัวสุดา จำกัด"
    assert data["company_name"]["verified"]["source"] == "TH/GOV/DBD/company-registry/juristic-person"
    assert data["seats"] == {"value": 60} and data["area_sqm"] == {"value": 250}
    assert len(made["applicationData"]["documentUrls"]) == 2

    mine = await _conforms(await client.get("/registration/applications"), "/applications")
    assert file_id in {item["fileId"] for item in mine}
    one = await _conforms(await client.get(f"/registration/applications/{file_id}"), "/applications/{fileId}")
    assert one["serviceId"] == ids["service"]

    reviewer = await officer_of(app, "NBM", OfficerRole.REVIEWER)
    task = await _task_of(reviewer, file_id)
    assert task["mainTaskId"] == file_id and task["roleId"] == "reviewer"
    agency_cases = await _conforms(await reviewer.get("/registration/applications"), "/applications")
    assert file_id in {item["fileId"] for item in agency_cases}
    read = await _conforms(await reviewer.get(f"/registration/tasks/{task['taskId']}"), "/tasks/{taskId}")
    assert {action["code"] for action in read["actions"]} == {"accept", "return_incomplete"}
    assert read["data"]["shop_name"]["value"] == PREMISES["shop_name"]

    done = await _conforms(await _complete(reviewer, task["taskId"], {"action": {"value": "accept"}}),
                           "/tasks/{taskId}/complete")
    assert done["variables"]["completion"]["data"]["toState"] == {"value": "inspection"}
    assert done["nextTaskId"] and done["nextTaskId"] != task["taskId"]
    gone = await reviewer.get(f"/registration/tasks/{task['taskId']}")
    await _conforms(gone, "/tasks/{taskId}", 404)
    assert (await _complete(reviewer, task["taskId"], {"action": "accept"})).status_code == 404

    other_agency = await officer_of(app, "DOPA", OfficerRole.REGISTRAR)
    await _conforms(await other_agency.get(f"/registration/tasks/{done['nextTaskId']}"), "/tasks/{taskId}", 404)
    await _conforms(await other_agency.get(f"/registration/applications/{file_id}"), "/applications/{fileId}", 404)
    assert (await _complete(other_agency, done["nextTaskId"], {"action": "inspected", "comment": "x"})).status_code == 404
    assert file_id not in {t["fileId"] for t in (await other_agency.get("/registration/tasks")).json()}

    stranger = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await sign_in_demo(stranger, SOMCHAI)
    await _conforms(await stranger.get(f"/registration/applications/{file_id}"), "/applications/{fileId}", 404)
    assert file_id not in {item["fileId"] for item in (await stranger.get("/registration/applications")).json()}
    changed = await stranger.put(f"/registration/applications/{file_id}", json={"formData": {"data": PREMISES}},
                                 headers=await _csrf(stranger))
    assert changed.status_code == 404


async def test_completing_needs_a_known_action_a_role_and_a_comment(app, client, onestop_demo):
    ids = await _ids()
    await sign_in_demo(client, SUDA)
    file_id = (await _submitted(client, ids))["fileId"]
    approver = await officer_of(app, "NBM", OfficerRole.APPROVER)
    task = await _task_of(approver, file_id)
    unknown = await _complete(approver, task["taskId"], {"action": "teleport"})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "data.action"
    assert (await _complete(approver, task["taskId"], {"action": "accept"})).status_code == 403
    reviewer = await officer_of(app, "NBM", OfficerRole.REVIEWER)
    mine = await reviewer.get("/registration/tasks", params={"assigneeId": reviewer.account_id, "fileId": file_id})
    assert [t["fileId"] for t in mine.json()] == [file_id]
    not_approvers = await approver.get("/registration/tasks", params={"assigneeId": approver.account_id, "fileId": file_id})
    assert not_approvers.json() == []
    assert (await reviewer.get("/registration/tasks", params={"assigneeId": approver.account_id})).status_code == 403
    silent = await _complete(reviewer, task["taskId"], {"action": "return_incomplete"})
    assert silent.status_code == 422 and silent.json()["error"]["field"] == "comment"


# --- changing an application -------------------------------------------------------------------


async def test_put_changes_answers_only_while_editable_and_resubmits(app, client, onestop_demo):
    ids = await _ids()
    await sign_in_demo(client, SUDA)
    draft = await _conforms(await _apply(client, ids["service"], {"submit": False, "formData": {"data": PREMISES}}),
                            "/services/{serviceId}/applications")
    file_id = draft["fileId"]
    assert draft["status"]["code"] == "PENDING" and draft["state"] == "draft" and "registered" not in draft
    headers = await _csrf(client)
    full = {"applicantId": ids["suda"], "documentUrls": await _uploaded(client, ids["service"]), "formData": {"data": {
        **PREMISES, "applicant_national_id": SUDA, "applicant_name": "สุดา ค้าขาย", "seats": 80}}}
    updated = await client.put(f"/registration/applications/{file_id}", json=full, headers=headers)
    assert (await _conforms(updated, "/applications/{fileId}"))["applicationData"]["formData"]["data"]["seats"] == {"value": 80}
    submitted = await client.put(f"/registration/applications/{file_id}", json={**full, "submit": True}, headers=headers)
    assert (await _conforms(submitted, "/applications/{fileId}"))["state"] == "submitted"

    frozen = await client.put(f"/registration/applications/{file_id}", json=full, headers=headers)
    assert frozen.status_code == 409 and frozen.json()["error"]["code"] == "not_editable"

    reviewer = await officer_of(app, "NBM", OfficerRole.REVIEWER)
    task = await _task_of(reviewer, file_id)
    returned = await _complete(reviewer, task["taskId"], {"action": "return_incomplete", "comment": {"value": "แผนผังไม่ชัด"}})
    assert (await _conforms(returned, "/tasks/{taskId}/complete"))["status"]["code"] == "SENDBACK"
    assert "nextTaskId" not in returned.json()
    assert (await reviewer.get("/registration/tasks", params={"fileId": file_id})).json() == []

    fixed = {**full, "submit": True, "formData": {"data": {**full["formData"]["data"], "seats": 90}}}
    again = await client.put(f"/registration/applications/{file_id}", json=fixed, headers=headers)
    body = await _conforms(again, "/applications/{fileId}")
    assert body["state"] == "submitted" and body["applicationData"]["formData"]["data"]["seats"] == {"value": 90}
    assert (await _task_of(reviewer, file_id))["taskId"] != task["taskId"]
    officer_put = await reviewer.put(f"/registration/applications/{file_id}", json=full, headers=await _csrf(reviewer))
    assert officer_put.status_code == 403


async def test_an_incomplete_application_keeps_its_answers_and_says_what_is_missing(client, onestop_demo):
    ids = await _ids()
    await sign_in_demo(client, SUDA)
    english = await _apply(client, ids["service"], {"formData": {"data": {"shop_name": "ครัวสุดา", "area_sqm": "12"}}},
                           **{"accept-language": "en"})
    assert english.status_code == 422
    error = english.json()["error"]
    assert error["code"] == "form_invalid" and error["fields"]["shop_address"] == "Enter Shop address."
    assert error["fields"]["area_sqm"] == "Area (square metres) must be 200 or more."
    kept = (await client.get(f"/registration/applications/{error['fileId']}")).json()
    assert kept["state"] == "draft" and kept["applicationData"]["formData"]["data"]["shop_name"] == {"value": "ครัวสุดา"}
    thai = await _apply(client, ids["service"], {"formData": {"data": {"shop_name": "ครัวสุดา"}}}, **{"accept-language": "th"})
    assert "ที่ตั้งร้าน" in thai.json()["error"]["fields"]["shop_address"]


async def test_answers_and_documents_are_checked(app, client, onestop_demo):
    ids = await _ids()
    await sign_in_demo(client, SUDA)
    unknown = await _apply(client, ids["service"], {"submit": False, "formData": {"data": {"favourite_colour": "red"}}})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "formData.data.favourite_colour"
    nested = await _apply(client, ids["service"], {"submit": False, "formData": {"data": {"seats": [1, 2]}}})
    assert nested.status_code == 422
    old_form = await _apply(client, ids["service"], {"submit": False, "formData": {"eFormId": "not-this-one", "data": {}}})
    assert old_form.status_code == 409
    not_mine = await _apply(client, ids["service"], {"submit": False, "applicantId": "someone-else"})
    assert not_mine.status_code == 403
    unknown_code = await client.post("/registration/documents", data={"serviceId": ids["service"], "documentCode": "id_card"},
                                      files={"file": ("id.pdf", PDF, "application/pdf")}, headers=await _csrf(client))
    assert unknown_code.status_code == 400  # a document the state holds is fetched, never uploaded

    stranger = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await sign_in_demo(stranger, SOMCHAI)
    theirs = (await _upload(stranger, ids["service"], "floor_plan")).json()["url"]
    borrowed = await _apply(client, ids["service"], {"submit": False, "documentUrls": [theirs]})
    assert borrowed.status_code == 422 and borrowed.json()["error"]["field"] == "documentUrls"
    assert (await client.post("/registration/documents", files={"file": ("a.pdf", PDF)})).status_code == 403  # no CSRF token


# --- statistics --------------------------------------------------------------------------------


async def _statistics(client: httpx.AsyncClient, path: str = "/registration/data/statistics", **params: str) -> list[dict[str, Any]]:
    response = await client.get(path, params=params)
    return await _conforms(response, "/data/statistics", spec="statistics")


async def test_statistics_count_submitted_and_overdue_for_anyone(app, client, onestop_demo):
    ids = await _ids()
    before = (await _statistics(client, registrationName="food-shop-permit"))[0]
    applicant = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await sign_in_demo(applicant, SUDA)
    first = (await _submitted(applicant, ids))["fileId"]
    await _submitted(applicant, ids)
    async with unit_of_work() as session:
        await session.execute(update(Application).where(Application.id == first).values(due_at=utcnow() - timedelta(hours=1)))

    after = (await _statistics(client, registrationName="food-shop-permit"))[0]
    assert after["submitted"] == before["submitted"] + 2
    assert after["inProgress"] == before["inProgress"] + 2
    assert after["overdue"] == before["overdue"] + 1
    assert after["processed"] == after["approved"] + after["rejected"] + after["withdrawn"]
    assert after["references"] == {"registrationName": "food-shop-permit"}
    aliased = await _statistics(client, "/registration/data/statistics/1.0", registrationName="Permit to operate a food shop")
    assert aliased[0]["submitted"] == after["submitted"]

    today = utcnow().astimezone(BANGKOK).date().isoformat()
    daily = await _statistics(client, startDate=today, endDate=today, timeframe="day", groupBy="service")
    food = next(row for row in daily if row["serviceId"] == ids["service"])
    assert food["submitted"] >= 2 and food["references"]["startDate"] == today and food["references"]["timeframeDay"]
    by_agency = await _statistics(client, groupBy="agency", agency="NBM")
    assert [row["agencyCode"] for row in by_agency] == ["NBM"]
    total = (await _statistics(client))[0]
    assert total["submitted"] >= after["submitted"] and total["references"] == {}

    assert_matches_spec("/data/statistics", "get", 400, None, "statistics")
    bad = await client.get("/registration/data/statistics", params={"startDate": today, "endDate": "2000-01-01"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_query"
    assert (await client.get("/registration/data/statistics", params={"timeframe": "fortnight"})).status_code == 400
    missing = await client.get("/registration/data/statistics", params={"registrationName": "n0tex1st"})
    assert missing.status_code == 404
    assert_matches_spec("/data/statistics", "get", 404, None, "statistics")
