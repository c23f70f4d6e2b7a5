"""The applicant's pages over HTTP: consent and prefill, pages, uploads, review, submit, track, status."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from govhub.db import unit_of_work
from govhub.identity.models import OfficerRole
from govhub.onestop.models import Application, ApplicationDocument
from tests import factories as f
from tests.onestop.conftest import SOMCHAI, SUDA, officer_of, sign_in_demo

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PREMISES = {"shop_name": "ครัวสุดา สาขางามวงศ์วาน", "shop_address": "99 ถนนงามวงศ์วาน อำเภอเมืองนนทบุรี",
            "area_sqm": "250", "seats": "60"}


async def _post(client: httpx.AsyncClient, url: str, data: dict[str, str], files: dict | None = None) -> httpx.Response:
    token = f.csrf_from((await client.get("/account")).text)
    return await client.post(url, data={**data, "csrf_token": token}, files=files)


async def start_food_shop(client: httpx.AsyncClient, consent: str = "yes") -> str:
    """Open the apply page, consent (or not), and return the new application's id."""
    page = await client.get("/services/food-shop-permit/apply?lang=en")
    assert page.status_code == 200
    response = await _post(client, "/services/food-shop-permit/apply", {"consent": consent})
    assert response.status_code == 303, response.text
    return re.search(r"/applications/([^/]+)/form/0", response.headers["location"]).group(1)


async def fill_and_submit(client: httpx.AsyncClient, application_id: str, *, hygiene: bool = True) -> httpx.Response:
    """Fill pages 2 and 3 (page 1 came from the registries) and submit."""
    assert (await _post(client, f"/applications/{application_id}/form/0", {"intent": "next"})).status_code == 303
    assert (await _post(client, f"/applications/{application_id}/form/1", {**PREMISES, "intent": "next"})).status_code == 303
    files = {"floor_plan": ("plan.pdf", PDF, "application/pdf")}
    if hygiene:
        files["hygiene_certificate"] = ("training.pdf", PDF, "application/pdf")
    uploaded = await _post(client, f"/applications/{application_id}/form/2", {"intent": "save"}, files=files)
    assert uploaded.status_code == 303, uploaded.text
    return await _post(client, f"/applications/{application_id}/submit", {})


async def test_the_apply_page_says_what_is_fetched_from_whom_and_why(client, onestop_demo):
    await sign_in_demo(client, SUDA)
    page = await client.get("/services/food-shop-permit/apply?lang=en")
    assert page.status_code == 200
    assert "TH/GOV/DOPA/civil-registry" in page.text and "TH/GOV/DBD/company-registry" in page.text
    assert "Purpose" in page.text and "withdraw your consent" in page.text
    assert 'value="yes" checked' not in page.text  # consent is an active choice
    unanswered = await _post(client, "/services/food-shop-permit/apply?lang=en", {})
    assert unanswered.status_code == 422 and "Choose whether govhub may fetch" in unanswered.text


async def test_prefilled_values_are_verified_and_cannot_be_changed(client, onestop_demo):
    await sign_in_demo(client, SUDA)
    application_id = await start_food_shop(client)
    page = await client.get(f"/applications/{application_id}/form/0?lang=en")
    assert "Verified: fetched from TH/GOV/DOPA/civil-registry/person" in page.text
    assert re.search(r'id="company_name"[^>]*value="บริษัท ครัวสุดา จำกัด"[^>]*readonly', page.text)
    await _post(client, f"/applications/{application_id}/form/0", {"company_name": "บริษัท ปลอม จำกัด", "intent": "next"})
    async with unit_of_work() as session:
        application = await session.get(Application, application_id)
        assert application.data["company_name"] == "บริษัท ครัวสุดา จำกัด"


async def test_errors_in_thai_and_english_and_the_draft_keeps_what_was_typed(client, onestop_demo):
    await sign_in_demo(client, SUDA)
    application_id = await start_food_shop(client, consent="no")
    token = f.csrf_from((await client.get("/account")).text)
    english = await client.post(f"/applications/{application_id}/form/1?lang=en", data={
        "shop_name": "ครัวสุดา", "area_sqm": "12", "seats": "many", "intent": "next", "csrf_token": token})
    assert english.status_code == 422
    assert "Enter Shop address." in english.text
    assert "Area (square metres) must be 200 or more." in english.text
    assert "Enter Number of seats as a whole number." in english.text
    thai = await client.post(f"/applications/{application_id}/form/1?lang=th", data={
        "shop_name": "ครัวสุดา", "intent": "next", "csrf_token": token})
    assert thai.status_code == 422 and "ที่ตั้งร้าน" in thai.text
    async with unit_of_work() as session:
        application = await session.get(Application, application_id)
        assert application.data["shop_name"] == "ครัวสุดา" and application.state == "draft"
    saved = await _post(client, f"/applications/{application_id}/form/1", {"shop_name": "ครัวสุดา 2", "intent": "save"})
    assert saved.headers["location"] == "/applications?saved=1"
    listing = await client.get("/applications?saved=1&lang=en")
    assert application_id in listing.text and "Draft" in listing.text
    resumed = await client.get(f"/applications/{application_id}/form/1")
    assert 'value="ครัวสุดา 2"' in resumed.text


async def test_uploads_are_typed_by_content_and_size_limited(client, onestop_demo):
    await sign_in_demo(client, SUDA)
    application_id = await start_food_shop(client)
    fake = await _post(client, f"/applications/{application_id}/form/2?lang=en", {"intent": "save"},
                       files={"floor_plan": ("plan.pdf", b"MZ\x90\x00 not a pdf at all", "application/pdf")})
    assert fake.status_code == 422 and "Its content is not one of these types" in fake.text
    script = PDF.replace(b"/Catalog", b"/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>")
    active = await _post(client, f"/applications/{application_id}/form/2?lang=en", {"intent": "save"},
                         files={"floor_plan": ("plan.pdf", script, "application/pdf")})
    assert active.status_code == 422 and "scripts" in active.text
    import zlib

    hidden = PDF.replace(b"/Catalog", b"/Catalog/OpenAction<</S/Java#53cript/J#53(app.alert(1))>>")
    compressed = PDF.replace(b"trailer", b"2 0 obj<</Type/ObjStm/Filter/FlateDecode>>stream\n"
                             + zlib.compress(b"<</S/JavaScript/JS(app.alert(1))>>") + b"\nendstream\nendobj\ntrailer")
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de")
    for name, content, message in (("hidden.pdf", hidden, "scripts"), ("compressed.pdf", compressed, "scripts"),
                                   ("plan.pdf", png + PDF, "another kind of file")):
        refused = await _post(client, f"/applications/{application_id}/form/2?lang=en", {"intent": "save"},
                              files={"floor_plan": (name, content, "application/pdf")})
        assert refused.status_code == 422 and message in refused.text, name
    big = PDF + b"0" * (10 * 1024 * 1024)
    too_big = await _post(client, f"/applications/{application_id}/form/2?lang=en", {"intent": "save"},
                          files={"floor_plan": ("plan.pdf", big, "application/pdf")})
    assert too_big.status_code == 422 and "10 MB or smaller" in too_big.text
    async with unit_of_work() as session:
        stored = (await session.scalars(select(ApplicationDocument).where(
            ApplicationDocument.application_id == application_id))).all()
        assert stored == []


async def test_submit_acknowledge_track_and_public_status(client, onestop_demo):
    await sign_in_demo(client, SUDA)
    application_id = await start_food_shop(client)
    incomplete = await fill_and_submit(client, application_id, hygiene=False)
    assert incomplete.headers["location"].endswith("/review")
    review = await client.get(f"/applications/{application_id}/review?lang=en")
    assert "Upload Food handler training certificate." in review.text
    submitted = await fill_and_submit(client, application_id)
    assert submitted.headers["location"] == f"/applications/{application_id}/submitted"
    acknowledgement = await client.get(f"/applications/{application_id}/submitted?lang=en")
    number = re.search(r"NBM-\d{4}-\d{6}-[0-9A-Z]", acknowledgement.text).group(0)
    tracking = await client.get(f"/applications/{application_id}?lang=en")
    assert number in tracking.text and "Application submitted" in tracking.text and "Decision due by" in tracking.text
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as stranger:
        form = await stranger.get("/status?lang=en")
        token = f.csrf_from(form.text)
        found = await stranger.post("/status?lang=en", data={"tracking_number": number.lower(), "id_number": SUDA, "csrf_token": token})
        assert found.status_code == 200 and "Submitted" in found.text and "Permit to operate a food shop" in found.text
        assert "สุดา" not in found.text and SUDA not in found.text
        by_company = await stranger.post("/status?lang=en", data={"tracking_number": number, "id_number": "0105561012346", "csrf_token": token})
        assert by_company.status_code == 200
        wrong_person = await stranger.post("/status?lang=en", data={"tracking_number": number, "id_number": SOMCHAI, "csrf_token": token})
        assert wrong_person.status_code == 404 and "No application matches" in wrong_person.text
        typo = number[:-1] + ("0" if number[-1] != "0" else "1")
        mistyped = await stranger.post("/status?lang=en", data={"tracking_number": typo, "id_number": SUDA, "csrf_token": token})
        assert mistyped.status_code == 422 and "Check the tracking number" in mistyped.text


async def test_another_applicant_cannot_see_the_application(client, onestop_demo):
    await sign_in_demo(client, SUDA)
    application_id = await start_food_shop(client)
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as somchai:
        await sign_in_demo(somchai, SOMCHAI)
        for url in (f"/applications/{application_id}", f"/applications/{application_id}/form/0",
                    f"/applications/{application_id}/review"):
            assert (await somchai.get(url)).status_code == 404
