"""The CKAN Action API, driven by CKAN's own client library (ckanapi) and its command line
against govhub served over real HTTP."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import ckanapi
import httpx
import pytest

from tests.opendata.conftest import Catalog, make_catalog, make_publisher, package


@pytest.fixture
async def arranged() -> tuple[Catalog, str, str]:
    """A catalog, a token of a transport publisher and one of a finance publisher."""
    catalog = await make_catalog()
    transport = await make_publisher(catalog.transport.agency_id)
    finance = await make_publisher(catalog.finance.agency_id)
    return catalog, transport.token, finance.token


# ckanapi's console script, installed beside this interpreter.
CKANAPI = str(Path(sys.executable).with_name("ckanapi"))


def _remote(live_server: str, token: str | None = None) -> ckanapi.RemoteCKAN:
    return ckanapi.RemoteCKAN(live_server, apikey=token, user_agent="govhub-tests/1.0")


async def test_ckanapi_create_show_update_search_and_delete(live_server, arranged):
    catalog, token, _ = arranged
    name = f"bus-stops-{secrets.token_hex(3)}"
    with _remote(live_server, token) as ckan:
        created = ckan.action.package_create(**package(
            catalog.transport, name, title="ป้ายหยุดรถโดยสารประจำทาง กรุงเทพมหานคร", title_en="Bangkok bus stops",
            notes="ตำแหน่งป้ายหยุดรถโดยสารประจำทางทุกป้าย", tags=[{"name": "รถเมล์"}, {"name": "transport"}],
            groups=[{"name": catalog.groups["transport"].name}], high_value_dataset=True,
            resources=[{"name": "API", "url": "https://data.example.go.th/api/stops", "format": "JSON"}],
        ))
        assert created["name"] == name and created["organization"]["name"] == catalog.transport.name
        assert created["high_value_dataset"] is True and created["num_resources"] == 1
    with _remote(live_server) as anonymous:
        shown = anonymous.action.package_show(id=name)
        assert shown["title"] == "ป้ายหยุดรถโดยสารประจำทาง กรุงเทพมหานคร"
        assert [tag["name"] for tag in shown["tags"]] == ["transport", "รถเมล์"]
        assert name in anonymous.action.package_list()
        found = anonymous.action.package_search(q="รถโดยสารประจำทาง", fq=f"organization:{catalog.transport.name}",
                                                **{"facet.field": ["organization", "tags", "groups", "res_format"]})
        assert [result["name"] for result in found["results"]] == [name]
        assert found["facets"]["tags"] == {"transport": 1, "รถเมล์": 1}
        assert found["facets"]["res_format"] == {"JSON": 1}
        assert found["search_facets"]["organization"]["items"][0]["display_name"] == catalog.transport.title_th
        assert found["search_facets"]["groups"]["items"] == [{
            "name": catalog.groups["transport"].name, "display_name": catalog.groups["transport"].title_th, "count": 1}]
    with _remote(live_server, token) as ckan:
        updated = ckan.action.package_patch(id=name, title="ป้ายรถเมล์ (ปรับปรุง)")
        assert updated["title"] == "ป้ายรถเมล์ (ปรับปรุง)" and updated["revision"] == 2
        activity = ckan.action.package_activity_list(id=name)
        assert activity[0]["changes"]["title"] == ["ป้ายหยุดรถโดยสารประจำทาง กรุงเทพมหานคร", "ป้ายรถเมล์ (ปรับปรุง)"]
        full = ckan.action.package_show(id=name)
        full["notes"] = "คำอธิบายใหม่"
        replaced = ckan.action.package_update(**full)
        assert replaced["notes"] == "คำอธิบายใหม่" and replaced["title"] == "ป้ายรถเมล์ (ปรับปรุง)"
        assert replaced["resources"][0]["id"] == full["resources"][0]["id"]
        ckan.action.package_delete(id=name)
    with _remote(live_server) as anonymous:
        with pytest.raises(ckanapi.NotFound):
            anonymous.action.package_show(id=name)
        assert name not in anonymous.action.package_list()
        assert anonymous.action.package_search(q="รถโดยสารประจำทาง", fq=f"organization:{catalog.transport.name}")[
            "count"] == 0


async def test_errors_arrive_as_ckanapi_exceptions(live_server, arranged):
    catalog, transport_token, finance_token = arranged
    name = f"fares-{secrets.token_hex(3)}"
    with _remote(live_server, transport_token) as ckan:
        ckan.action.package_create(**package(catalog.transport, name))
        with pytest.raises(ckanapi.NotFound):
            ckan.action.package_show(id="no-such-dataset")
        with pytest.raises(ckanapi.ValidationError) as invalid:
            ckan.action.package_create(**package(catalog.transport, name))  # the name is taken
        assert "name" in invalid.value.error_dict
        with pytest.raises(ckanapi.ValidationError) as invalid:
            ckan.action.package_create(**package(catalog.transport, f"x-{name}", data_category="ลับสุดยอด",
                                                 geo_coverage="ดาวอังคาร", update_frequency_unit="บ่อยๆ"))
        assert {"data_category", "geo_coverage", "update_frequency_unit"} <= set(invalid.value.error_dict)
    with _remote(live_server, finance_token) as other_org:
        with pytest.raises(ckanapi.NotAuthorized):
            other_org.action.package_patch(id=name, title="ยึดชุดข้อมูล")
        with pytest.raises(ckanapi.NotAuthorized):
            other_org.action.package_create(**package(catalog.transport, f"y-{name}"))
        with pytest.raises(ckanapi.NotAuthorized):
            other_org.action.package_delete(id=name)
    with _remote(live_server) as anonymous:
        with pytest.raises(ckanapi.NotAuthorized):
            anonymous.action.package_create(**package(catalog.transport, f"z-{name}"))
        assert anonymous.action.package_show(id=name)["title"].startswith("ชุดข้อมูล")  # unchanged
        assert anonymous.action.package_show(id=name)["revision"] == 1
    with _remote(live_server, "ghk_not-a-real-token") as forged:
        with pytest.raises(ckanapi.NotAuthorized):
            forged.action.package_list()


async def test_private_datasets_and_drafts_stay_inside_their_organization(live_server, arranged):
    catalog, transport_token, finance_token = arranged
    name = f"personal-{secrets.token_hex(3)}"
    with _remote(live_server, transport_token) as ckan:
        with pytest.raises(ckanapi.ValidationError) as invalid:
            ckan.action.package_create(**package(catalog.transport, name, data_category="personal"))
        assert "private" in invalid.value.error_dict  # personal data may not be public
        ckan.action.package_create(**package(catalog.transport, name, data_category="personal", private=True))
        assert ckan.action.package_show(id=name)["private"] is True
        mine = ckan.action.package_search(fq=f"organization:{catalog.transport.name}", include_private=True)
        assert name in [result["name"] for result in mine["results"]]
    for token in (None, finance_token):
        with _remote(live_server, token) as outsider:
            with pytest.raises(ckanapi.NotFound):
                outsider.action.package_show(id=name)
            found = outsider.action.package_search(fq=f"organization:{catalog.transport.name}", include_private=True)
            assert name not in [result["name"] for result in found["results"]]


async def test_lists_organizations_groups_tags_and_licences(live_server, arranged):
    catalog, token, _ = arranged
    name = f"budget-{secrets.token_hex(3)}"
    with _remote(live_server, token) as ckan:
        ckan.action.package_create(**package(catalog.transport, name, tags=[{"name": f"งบประมาณ{name}"}],
                                             groups=[{"name": catalog.groups["finance"].name}]))
    with _remote(live_server) as anonymous:
        assert anonymous.action.site_read() is True
        assert anonymous.action.status_show()["ckan_version"].startswith("2.10")
        assert catalog.transport.name in anonymous.action.organization_list()
        organizations = anonymous.action.organization_list(all_fields=True)
        transport = next(org for org in organizations if org["name"] == catalog.transport.name)
        assert transport["package_count"] == 1 and transport["title"] == catalog.transport.title_th
        shown = anonymous.action.organization_show(id=catalog.transport.name, include_datasets=True)
        assert [item["name"] for item in shown["packages"]] == [name]
        group = anonymous.action.group_show(id=catalog.groups["finance"].name, include_datasets=True)
        assert group["package_count"] == 1 and group["packages"][0]["name"] == name
        assert catalog.groups["finance"].name in anonymous.action.group_list()
        assert anonymous.action.tag_list(query=f"งบประมาณ{name}") == [f"งบประมาณ{name}"]
        licences = {licence["id"]: licence for licence in anonymous.action.license_list()}
        assert licences["Open-D"]["od_conformance"] == "approved"
        recent = anonymous.action.current_package_list_with_resources(limit=5)
        assert recent and all("resources" in item for item in recent)
        with pytest.raises(ckanapi.NotFound):
            anonymous.action.organization_show(id="no-such-organization")


async def test_unversioned_path_envelope_and_bad_requests(live_server):
    async with httpx.AsyncClient(base_url=live_server) as http:
        response = await http.get("/api/action/package_search", params={"q": "x", "rows": "1"})
        body = response.json()
        assert response.status_code == 200 and body["success"] is True and "help" in body
        assert set(body["result"]) >= {"count", "results", "facets", "search_facets"}
        unknown = await http.get("/api/3/action/drop_everything")
        assert unknown.status_code == 400 and unknown.json()["success"] is False
        by_get = await http.get("/api/3/action/package_delete", params={"id": "x"})
        assert by_get.status_code == 400
        broken = await http.post("/api/3/action/package_show", content=b"{not json",
                                 headers={"content-type": "application/json"})
        assert broken.status_code == 400 and "JSON" in broken.json()["error"]["message"]
        too_many = await http.get("/api/3/action/package_search", params={"rows": "1001"})
        assert too_many.status_code == 409 and too_many.json()["error"]["__type"] == "Validation Error"
        bad_fq = await http.get("/api/3/action/package_search", params={"fq": "password:x"})
        assert bad_fq.status_code == 400 and bad_fq.json()["error"]["__type"] == "Search Query Error"


async def test_ckanapi_command_line(live_server, arranged, tmp_path: Path):
    catalog, token, _ = arranged
    name = f"cli-{secrets.token_hex(3)}"
    with _remote(live_server, token) as ckan:
        ckan.action.package_create(**package(catalog.transport, name, title="ข้อมูลสถิติจากบรรทัดคำสั่ง"))
    command = [CKANAPI, "action", "package_show", f"id={name}", "-r", live_server]
    shown = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(shown.stdout)["title"] == "ข้อมูลสถิติจากบรรทัดคำสั่ง"
    patch = [CKANAPI, "action", "package_patch", f"id={name}", "title=แก้จากบรรทัดคำสั่ง",
             "-r", live_server, "-a", token]
    subprocess.run(patch, capture_output=True, text=True, timeout=60, check=True)
    dump = tmp_path / "datasets.jsonl"
    dumped = subprocess.run([CKANAPI, "dump", "datasets", name, "-O", str(dump), "-r", live_server,
                    "-q"], capture_output=True, text=True, timeout=60,
                            # dump starts its workers as `ckanapi` from PATH
                            env={**os.environ, "PATH": f"{Path(CKANAPI).parent}:{os.environ.get('PATH', '')}"})
    assert dumped.returncode == 0, dumped.stdout + dumped.stderr
    assert json.loads(dump.read_text().splitlines()[0])["title"] == "แก้จากบรรทัดคำสั่ง"
    refused = subprocess.run([*patch[:-2], "-a", "ghk_wrong"], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "NotAuthorized" in (refused.stdout + refused.stderr)


async def test_officers_without_their_second_factor_cannot_act_through_the_api(client):
    """A password alone is AAL1: the API treats such an officer as anonymous and refuses writes."""
    from govhub.identity.models import AccountKind, OfficerRole
    from tests import factories as f
    from tests.identity.test_admin import make_staff
    from govhub.db import unit_of_work

    catalog = await make_catalog()
    async with unit_of_work() as session:
        officer = await make_staff(session, kind=AccountKind.OFFICER, agency_id=catalog.transport.agency_id,
                                   roles=[OfficerRole.DATA_STEWARD])
    signed = await f.sign_in(client, officer.email)
    assert signed.headers["location"].startswith("/account/two-factor/setup")
    token = f.csrf_from((await client.get(signed.headers["location"])).text)
    for action, body in (("api_token_create", {"name": "sneaky"}),
                         ("package_create", package(catalog.transport, f"aal1-{secrets.token_hex(3)}"))):
        refused = await client.post(f"/api/3/action/{action}", json=body, headers={"x-csrf-token": token})
        assert refused.status_code == 403 and refused.json()["error"]["__type"] == "Authorization Error"


async def test_tokens_cannot_mint_tokens_and_outsiders_see_a_public_history(live_server, arranged):
    catalog, token, _ = arranged
    name = f"history-{secrets.token_hex(3)}"
    with _remote(live_server, token) as ckan:
        with pytest.raises(ckanapi.NotAuthorized):
            ckan.action.api_token_create(name="successor")
        ckan.action.package_create(**package(catalog.transport, name, private=True, data_category="internal",
                                             data_classification="internal", notes="ร่างภายใน"))
        ckan.action.package_patch(id=name, private=False, data_category="public", data_classification="open",
                                  notes="เผยแพร่แล้ว")
        inside = ckan.action.package_activity_list(id=name)
        assert len(inside) == 2 and inside[-1]["actor"] == "นักเผยแพร่ ข้อมูล"
    with _remote(live_server) as anonymous:
        outside = anonymous.action.package_activity_list(id=name)
        assert len(outside) == 1 and outside[0]["revision"] == 2  # the private revision 1 is not shown
        assert outside[0]["actor"] == catalog.transport.title_th and outside[0]["user_id"] is None
        with pytest.raises(ckanapi.ValidationError):
            anonymous.action.package_search(q="ก" * 501)


async def test_anonymous_writes_are_refused_before_the_body_is_read(client):
    response = await client.post("/api/3/action/resource_create", content=b"x" * (2 * 1024 * 1024),
                                 headers={"content-type": "application/json"})
    assert response.status_code == 403 and response.json()["error"]["__type"] == "Authorization Error"


async def test_a_dataset_cannot_be_named_after_another_datasets_id(client, arranged):
    catalog, token, finance_token = arranged
    created = await client.post("/api/3/action/package_create", headers={"Authorization": token},
                                json=package(catalog.transport, f"target-{secrets.token_hex(3)}"))
    target_id = created.json()["result"]["id"]
    squat = await client.post("/api/3/action/package_create", headers={"Authorization": finance_token},
                              json=package(catalog.finance, target_id))
    assert squat.status_code == 409 and "name" in squat.json()["error"]
