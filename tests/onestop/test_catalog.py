"""The public-service catalog: the YAML format, loading and versioning, search, pages, the GovStack API."""

from __future__ import annotations

import copy
import json
import secrets
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from sqlalchemy import select

from govhub.db import unit_of_work
from govhub.exchange.demo import PERSON_FIELDS
from govhub.onestop import catalog, repository
from govhub.onestop.definitions import BusinessType, CatalogFile, ServiceDefinition
from govhub.onestop.models import ServiceManualVersion
from govhub.registries import synthetic

EXAMPLE = catalog.DEMO_CATALOG / "nbm-food-shop-permit.yaml"
GOVSTACK = Path(__file__).resolve().parents[3] / "shared" / "govstack" / "registration-bb-api.json"
SPEC_URI = "urn:govstack:registration-bb-api"
# The exchange services the demo installation publishes, with the fields they return.
DEMO_GDX_FIELDS = {
    "TH/GOV/DOPA/civil-registry/person": set(PERSON_FIELDS),
    "TH/GOV/DBD/company-registry/juristic-person": set(synthetic.COMPANY_SCHEMA["properties"]),
    "TH/GOV/RD/vat-registry/vat-registration": set(synthetic.VAT_SCHEMA["properties"]),
}


def _example(**changes: Any) -> dict[str, Any]:
    """The food-shop permit's definition as data, with a fresh code (and any changes)."""
    document = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    service = copy.deepcopy(document["services"][0])
    service["code"] = f"test-{secrets.token_hex(4)}"
    service.update(changes)
    return service


def _write(tmp_path: Path, name: str, services: list[dict[str, Any]], agencies: list[dict[str, Any]] | None = None) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"agencies": agencies or [], "services": services}, allow_unicode=True), encoding="utf-8")
    return path


# --- the demo catalog ---------------------------------------------------------------------------


def test_demo_catalog_covers_the_issue_and_refers_only_to_real_exchange_services() -> None:
    documents = catalog.read_paths([catalog.DEMO_CATALOG])
    services = [service for document in documents for service in document.services]
    agencies = {agency.code for document in documents for agency in document.agencies}
    assert len(services) >= 25
    assert {service.agency for service in services} <= agencies | {"DGA", "DOPA", "DBD", "RD", "NBM"}
    assert len({service.agency for service in services}) >= 4
    six = {BusinessType.RESTAURANT, BusinessType.RETAIL, BusinessType.HOTEL, BusinessType.FACTORY,
           BusinessType.IMPORT_EXPORT, BusinessType.CONSTRUCTION}
    assert six <= {kind for service in services for kind in service.business_types}
    assert {audience for service in services for audience in service.audiences} == {"citizen", "business", "foreigner"}
    for service in services:
        for document in service.documents:
            assert document.gdx_service is None or document.gdx_service in DEMO_GDX_FIELDS, (service.code, document.code)
        for page in service.form.pages:
            for field in page.fields:
                if field.prefill:
                    assert field.prefill.field in DEMO_GDX_FIELDS[field.prefill.gdx_service], (service.code, field.name)


# --- the format refuses what would break later --------------------------------------------------


@pytest.mark.parametrize("change, message", [
    ({"time_limit_days": 5}, "steps take longer"),
    ({"fees": [{"label": {"th": "ค่า", "en": "Fee"}, "amount_satang": 12.5}]}, "amount_satang"),
    ({"audiences": ["tourist"]}, "audiences"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_definitions_are_refused_with_the_field_named(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = _write(tmp_path, "bad.yaml", [_example(**change)])
    with pytest.raises(catalog.CatalogError, match=message):
        catalog.read_paths([path])


def test_workflow_and_form_must_be_consistent() -> None:
    service = _example()
    service["workflow"]["actions"][0]["to"] = "nowhere"
    with pytest.raises(ValueError, match="unknown states"):
        ServiceDefinition.model_validate(service)
    service = _example()
    service["form"]["pages"][0]["fields"].append({"name": "extra", "label": {"th": "ก", "en": "x"}, "widget": "text"})
    with pytest.raises(ValueError, match="schema properties differ"):
        ServiceDefinition.model_validate(service)
    service = _example()
    service["form"]["pages"][2]["fields"][0]["document"] = "no_such_document"
    with pytest.raises(ValueError, match="must name one of the manual's documents"):
        ServiceDefinition.model_validate(service)


def test_a_code_defined_twice_or_broken_yaml_loads_nothing(tmp_path: Path) -> None:
    one = _example()
    _write(tmp_path, "a.yaml", [one])
    _write(tmp_path, "b.yaml", [dict(one)])
    with pytest.raises(catalog.CatalogError, match="also defined in"):
        catalog.read_paths([tmp_path])
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "c.yaml").write_text("services: [ {code: x", encoding="utf-8")
    with pytest.raises(catalog.CatalogError, match="not valid YAML"):
        catalog.read_paths([broken])


# --- loading and versioning ---------------------------------------------------------------------


async def test_loading_is_idempotent_and_a_change_is_a_new_version(tmp_path: Path) -> None:
    agency = {"code": f"TST{secrets.token_hex(2).upper()}", "name": {"th": "หน่วยงานทดสอบ", "en": "Test agency"}}
    service = _example(agency=agency["code"])
    path = _write(tmp_path, "one.yaml", [service], [agency])
    async with unit_of_work() as session:
        first = await catalog.load(session, catalog.read_paths([path]))
    assert first.created == [service["code"]] and first.agencies_created == [agency["code"]]
    async with unit_of_work() as session:
        again = await catalog.load(session, catalog.read_paths([path]))
    assert again.unchanged == [service["code"]] and not again.created and not again.agencies_created

    service["fees"][0]["amount_satang"] = 300000
    _write(tmp_path, "one.yaml", [service], [agency])
    async with unit_of_work() as session:
        changed = await catalog.load(session, catalog.read_paths([path]))
        assert changed.updated == [service["code"]]
        stored = await repository.service_by_code(session, service["code"])
        assert stored.current_version == 2 and stored.fee_total_satang == 300000
        versions = (await session.scalars(
            select(ServiceManualVersion).where(ServiceManualVersion.service_id == stored.id)
            .order_by(ServiceManualVersion.version))).all()
        assert [v.version for v in versions] == [1, 2]
        assert versions[0].definition["fees"][0]["amount_satang"] == 200000  # the old manual is kept as it was
        assert (await catalog.current_definition(session, stored)).fee_total_satang == 300000


async def test_a_service_of_an_unknown_agency_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "orphan.yaml", [_example(agency="NOSUCHAGENCY")])
    with pytest.raises(catalog.CatalogError, match="NOSUCHAGENCY"):
        async with unit_of_work() as session:
            await catalog.load(session, catalog.read_paths([path]))


# --- search and pages ---------------------------------------------------------------------------


async def _demo_catalog() -> None:
    async with unit_of_work() as session:
        from govhub.identity.demo import load_demo_identity

        await load_demo_identity(session)
        await catalog.load(session, catalog.read_paths([catalog.DEMO_CATALOG]), demo=True)


async def test_search_in_thai_and_english_with_filters(client) -> None:  # type: ignore[no-untyped-def]
    await _demo_catalog()
    async with unit_of_work() as session:
        thai, _ = await repository.search_services(session, words=catalog.search_words("อาหาร"))
        english, _ = await repository.search_services(session, words=catalog.search_words("FOOD shop"))
        hotels, _ = await repository.search_services(session, business_type="hotel")
        foreigners, _ = await repository.search_services(session, audience="foreigner")
        nothing, total = await repository.search_services(session, words=["ไม่มีบริการนี้แน่นอน"])
    assert "food-shop-permit" in {s.code for s in thai} and "food-shop-permit" in {s.code for s in english}
    assert hotels and all("hotel" in s.business_types for s in hotels)
    assert foreigners and all("foreigner" in s.audiences for s in foreigners)
    assert nothing == [] and total == 0

    page = await client.get("/services", params={"q": "อาหาร", "business_type": "restaurant"})
    assert page.status_code == 200 and 'data-service="food-shop-permit"' in page.text
    odd = await client.get("/services", params={"audience": "<script>", "q": "%"})
    assert odd.status_code == 200 and "<script>" not in odd.text  # unknown filters are ignored, text escaped
    for bad_page in ("0", "-3", "abc", "999"):
        clamped = await client.get("/services", params={"page": bad_page, "business_type": "hotel"})
        assert clamped.status_code == 200 and 'data-service="hotel-license"' in clamped.text, bad_page


async def test_the_manual_page_in_thai_and_english(client) -> None:  # type: ignore[no-untyped-def]
    await _demo_catalog()
    thai = await client.get("/services/food-shop-permit?lang=th")
    assert thai.status_code == 200
    for text in ("ใบอนุญาตจัดตั้งสถานที่จำหน่ายอาหาร", "พระราชบัญญัติการสาธารณสุข", "2,000.00", "30 วัน",
                 "ดึงจากหน่วยงานที่ถือข้อมูล"):
        assert text in thai.text, text
    english = await client.get("/services/food-shop-permit?lang=en")
    assert "Permit to operate a food shop" in english.text and "Site inspection" in english.text
    assert (await client.get("/services/no-such-service")).status_code == 404


# --- the GovStack Registration API --------------------------------------------------------------


def _validator(path: str, method: str = "get", status: str = "200") -> jsonschema.protocols.Validator:
    """A validator for one operation's response, from the published OpenAPI document."""
    spec = json.loads(GOVSTACK.read_text(encoding="utf-8"))
    schema = spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    registry = Registry().with_resource(SPEC_URI, Resource.opaque(spec))
    # The operation's refs point into the document: make them absolute, into the registry.
    resolver_schema = json.loads(json.dumps(schema).replace('"#/components', f'"{SPEC_URI}#/components'))
    return jsonschema.Draft202012Validator(resolver_schema, registry=registry)


async def test_registration_api_answers_as_the_govstack_spec_says(client) -> None:  # type: ignore[no-untyped-def]
    await _demo_catalog()
    services = await client.get("/registration/services")
    assert services.status_code == 200
    _validator("/services").validate(services.json())
    food = next(s for s in services.json() if {"code": "code", "value": "food-shop-permit"} in s["serviceBody"])
    one = await client.get(f"/registration/services/{food['id']}")
    _validator("/services/{serviceId}").validate(one.json())
    assert one.json()["name"] == "Permit to operate a food shop"
    named = await client.get("/registration/services", params={"name": "อาหาร"})
    assert food["id"] in {s["id"] for s in named.json()}

    forms = await client.get(f"/registration/services/{food['id']}/eForms")
    _validator("/services/{serviceId}/eForms").validate(forms.json())
    latest = next(f for f in forms.json() if f["latest"])
    form = await client.get(f"/registration/eForms/{latest['eFormId']}")
    _validator("/eForms/{eFormId}").validate(form.json())
    schema = form.json()["schema"]
    assert "shop_name" in schema["properties"] and schema["x-govhub-pages"][0]["fields"][0]["prefill"]
    jsonschema.Draft202012Validator.check_schema({k: v for k, v in schema.items() if k != "x-govhub-pages"})
    assert (await client.get("/registration/services/00000000-0000-0000-0000-000000000000")).status_code == 404
    assert (await client.get("/registration/eForms/nope")).status_code == 404


def test_only_the_payment_or_an_ending_leaves_a_billing_state():
    """No officer action may move a case past its fee; a fee step needs a fee of at least one satang."""
    import pytest as _pytest
    from pydantic import ValidationError

    from govhub.onestop.definitions import Workflow

    states = [{"code": "review", "label": {"th": "พิจารณา", "en": "Review"}},
              {"code": "to_pay", "label": {"th": "รอชำระ", "en": "To pay"}, "bill": True, "actor": "applicant"},
              {"code": "issued", "label": {"th": "ออกแล้ว", "en": "Issued"}, "final": True, "issue": True},
              {"code": "withdrawn", "label": {"th": "ยกเลิก", "en": "Withdrawn"}, "final": True}]
    label = {"th": "ก", "en": "a"}
    approve = {"code": "approve", "label": label, "from": ["review"], "to": "to_pay", "roles": ["approver"]}
    paid = {"code": "paid", "label": label, "from": ["to_pay"], "to": "issued", "roles": ["payment"]}
    withdraw = {"code": "withdraw", "label": label, "from": ["to_pay"], "to": "withdrawn", "roles": ["applicant"]}
    Workflow.model_validate({"initial": "review", "states": states, "actions": [approve, paid, withdraw]})
    skip_fee = {"code": "skip", "label": label, "from": ["to_pay"], "to": "issued", "roles": ["finance"]}
    back = {"code": "back", "label": label, "from": ["to_pay"], "to": "review", "roles": ["approver"]}
    for extra in (skip_fee, back):
        with _pytest.raises(ValidationError, match="only role 'payment' may"):
            Workflow.model_validate({"initial": "review", "states": states, "actions": [approve, paid, extra]})
    mixed = {**paid, "roles": ["payment", "finance"]}
    with _pytest.raises(ValidationError, match="role 'payment' is alone"):
        Workflow.model_validate({"initial": "review", "states": states, "actions": [approve, mixed]})
