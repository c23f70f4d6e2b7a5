"""The GovStack Digital Registries data API under /registries, called as agencies' systems do."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from govhub.identity import service as identity
from govhub.identity.clients import register_client
from govhub.identity.models import AccountKind, OfficerRole
from govhub.registries.models import RegistryRecordHistory
from tests import factories as f
from tests.registries.test_registries import make_agency, make_registry, person

READ_WRITE = "registries:read registries:write"


async def machine_token(client: httpx.AsyncClient, session, agency_id: str | None, scope: str = READ_WRITE) -> dict[str, str]:
    """An agency system's client-credentials token, as Authorization headers."""
    registered = await register_client(
        session, name="ระบบทะเบียน", client_type="confidential", token_endpoint_auth_method="client_secret_basic",
        redirect_uris=[], grant_types=["client_credentials"], scopes=["registries:read", "registries:write"],
        agency_id=agency_id, actor_id=None,
    )
    await session.commit()
    response = await client.post(
        "/oidc/token", data={"grant_type": "client_credentials", "scope": scope},
        auth=(registered.client.client_id, registered.secret),
    )
    assert response.status_code == 200, response.text
    return {"authorization": f"Bearer {response.json()['access_token']}", "_client_id": registered.client.client_id}


def bearer(token: dict[str, str]) -> dict[str, str]:
    return {"authorization": token["authorization"]}


async def sign_in_officer(client: httpx.AsyncClient, session, agency_id: str, *roles: OfficerRole) -> str:
    """Create an officer with roles in the agency, sign in with TOTP; returns the account id."""
    account = await identity.create_staff_account(
        session, kind=AccountKind.OFFICER, email=f.email(), full_name="นายทะเบียน ทดสอบ",
        national_id=f.national_id(), password=f.PASSWORD, agency_id=agency_id, roles=list(roles),
    )
    await session.commit()
    response = await f.sign_in(client, account.email)
    assert response.headers["location"].startswith("/account/two-factor/setup")
    await f.enrol_totp(client)
    return account.id


async def csrf_header(client: httpx.AsyncClient) -> dict[str, str]:
    return {"x-csrf-token": f.csrf_from((await client.get("/")).text)}


@pytest.fixture
async def hosted(client, session) -> dict[str, Any]:
    """An agency's registry and a read/write token of that agency's system."""
    agency_id = await make_agency(session)
    code = await make_registry(session, agency_id)
    token = await machine_token(client, session, agency_id)
    return {"agency_id": agency_id, "code": code, "base": f"/registries/data/{code}/1.0", "headers": bearer(token),
            "client_id": token["_client_id"]}


def write(content: dict[str, Any]) -> dict[str, Any]:
    return {"write": {"content": content}}


def query(content: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {"query": {"content": content}, **rest}


# --- Every endpoint, as an agency system ---------------------------------------------------------


async def test_create_read_exists(client, hosted):
    base, headers = hosted["base"], hosted["headers"]
    data = person()
    created = await client.post(f"{base}/create", json=write(data), headers=headers)
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["content"] == data and body["uuid"] and body["createdAt"] and body["modifiedAt"]

    found = await client.post(f"{base}/read", json=query({"national_id": data["national_id"]}), headers=headers)
    assert found.status_code == 200 and found.json()["content"] == data and found.json()["uuid"] == body["uuid"]
    by_name = await client.post(f"{base}/read", json=query({"first_name_th": "สมชาย", "national_id": data["national_id"]}),
                                headers=headers)
    assert by_name.json()["content"]["national_id"] == data["national_id"]

    missing = await client.post(f"{base}/read", json=query({"national_id": "0000000000000"}), headers=headers)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no record found" and missing.json()["error"]["code"] == "record_not_found"

    yes = await client.post(f"{base}/exists", json=query({"national_id": data["national_id"]}), headers=headers)
    no = await client.post(f"{base}/exists", json=query({"national_id": "0000000000000"}), headers=headers)
    assert yes.status_code == 200 and yes.json()["answer"]["status"] is True and yes.json()["answer"]["message"]
    assert no.json()["answer"]["status"] is False


async def test_validation_and_duplicates_over_http(client, hosted):
    base, headers = hosted["base"], hosted["headers"]
    bad = await client.post(f"{base}/create?lang=en", json=write(person(birth_date="31/12/2020")), headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "birth_date" and "birth_date" in bad.json()["error"]["message"]
    missing = await client.post(f"{base}/create", json=write(person(last_name_th=None)), headers=headers)
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "last_name_th"
    unwrapped = await client.post(f"{base}/create", json=person(), headers=headers)
    assert unwrapped.status_code == 422 and unwrapped.json()["error"]["field"] == "write"

    data = person()
    assert (await client.post(f"{base}/create", json=write(data), headers=headers)).status_code == 200
    again = await client.post(f"{base}/create", json=write(data), headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_key"


async def test_update_update_entries_and_aliases(client, hosted, session):
    base, headers = hosted["base"], hosted["headers"]
    province = "จังหวัด-" + secrets.token_hex(3)
    people = [person(province=province) for _ in range(3)]
    for data in people:
        assert (await client.post(f"{base}/create", json=write(data), headers=headers)).status_code == 200

    key = people[0]["national_id"]
    updated = await client.put(
        f"{base}/update", json={**query({"national_id": key}), **write({"children": 5})}, headers=headers
    )
    assert updated.status_code == 200 and updated.json()["content"]["children"] == 5
    by_key = await client.put(f"{base}/update", json=write({"national_id": key, "alive": False}), headers=headers)
    assert by_key.status_code == 200 and by_key.json()["content"]["alive"] is False
    ambiguous = await client.put(
        f"{base}/update", json={**query({"province": province}), **write({"children": 1})}, headers=headers
    )
    assert ambiguous.status_code == 409 and ambiguous.json()["error"]["code"] == "ambiguous_query"
    nowhere = await client.put(
        f"{base}/update", json={**query({"national_id": "0000000000000"}), **write({"children": 1})}, headers=headers
    )
    assert nowhere.status_code == 404
    invalid = await client.put(f"{base}/update", json=write({"national_id": key, "children": -3}), headers=headers)
    assert invalid.status_code == 422 and invalid.json()["error"]["field"] == "children"

    for path, value in (("updateEntries", 7), ("update-entries", 8)):
        response = await client.put(
            f"{base}/{path}", json={**query({"province": province}), **write({"children": value})}, headers=headers
        )
        assert response.status_code == 200 and response.json() == {"count": 3}, (path, response.text)
    listed = await client.get(base, params={"province": province, "children": "8"}, headers=headers)
    assert listed.json()["count"] == 3
    no_query = await client.put(f"{base}/updateEntries", json=write({"children": 1}), headers=headers)
    assert no_query.status_code == 422 and no_query.json()["error"]["field"] == "query"

    count = await session.scalar(
        select(func.count()).select_from(RegistryRecordHistory)
        .where(RegistryRecordHistory.actor == f"client:{hosted['client_id']}")
    )
    assert count == 3 + 2 + 3 + 3  # created, two updates of one, two updateEntries of three


async def test_update_or_create_and_alias(client, hosted):
    base, headers = hosted["base"], hosted["headers"]
    key = f.national_id()
    fields = {"first_name_th": "ใหม่", "last_name_th": "สกุล", "birth_date": "1999-09-09"}
    created = await client.post(f"{base}/updateOrCreate", json={**query({"national_id": key}), **write(fields)},
                                headers=headers)
    assert created.status_code == 200 and created.json()["content"] == {"national_id": key, **fields}
    updated = await client.post(f"{base}/update-or-create",
                                json={**query({"national_id": key}), **write({"province": "สตูล"})}, headers=headers)
    assert updated.status_code == 200 and updated.json()["uuid"] == created.json()["uuid"]
    assert updated.json()["content"]["province"] == "สตูล"
    from_content = await client.post(f"{base}/updateOrCreate", json=write(person()), headers=headers)
    assert from_content.status_code == 200


async def test_delete_read_value_and_history(client, hosted):
    base, headers = hosted["base"], hosted["headers"]
    data = person(address={"house_no": "12/3", "postcode": "10200"})
    uuid = (await client.post(f"{base}/create", json=write(data), headers=headers)).json()["uuid"]
    key = data["national_id"]

    for path in ("readValue", "read-value"):
        as_json = await client.get(f"{base}/{key}/{path}/first_name_th.json", headers=headers)
        assert as_json.status_code == 200 and as_json.json() == {"value": "สมชาย"}
    as_text = await client.get(f"{base}/{uuid}/readValue/first_name_th.txt", headers=headers)
    assert as_text.status_code == 200 and as_text.text == "สมชาย" and as_text.headers["content-type"].startswith("text/plain")
    nested = await client.get(f"{base}/{key}/readValue/address.json", headers=headers)
    assert nested.json() == {"value": {"house_no": "12/3", "postcode": "10200"}}
    number = await client.get(f"{base}/{key}/readValue/children.txt", headers=headers)
    assert number.text == "2"
    unset = await client.get(f"{base}/{key}/readValue/province.json", headers=headers)
    assert unset.status_code == 200
    unknown = await client.get(f"{base}/{key}/readValue/nickname.json", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "field_not_found"
    bad_ext = await client.get(f"{base}/{key}/readValue/first_name_th.xml", headers=headers)
    assert bad_ext.status_code == 422 and bad_ext.json()["error"]["field"] == "ext"

    deleted = await client.delete(f"{base}/{key}/delete", headers=headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await client.delete(f"{base}/{key}/delete", headers=headers)).status_code == 404
    gone = await client.post(f"{base}/read", json=query({"national_id": key}), headers=headers)
    assert gone.status_code == 404
    assert (await client.get(f"{base}/{key}/readValue/first_name_th.json", headers=headers)).status_code == 404

    history = await client.get(f"{base}/{key}/history", headers=headers)
    assert history.status_code == 200
    entries = history.json()
    assert [e["change"] for e in entries] == ["created", "deleted"]
    assert entries[0]["after"] == data and entries[1]["before"] == data and entries[1]["after"] is None
    assert all(e["actor"] == f"client:{hosted['client_id']}" and e["at"] and e["request_id"] for e in entries)


async def test_list_filters_paging_search_and_ordering(client, hosted):
    base, headers = hosted["base"], hosted["headers"]
    province = "ทดสอบ-" + secrets.token_hex(3)
    names = ["Arun", "Busaba", "Chai", "Duang", "Ekachai"]
    for i, name in enumerate(names):
        data = person(first_name_en=name, province=province, children=i % 2, alive=i != 2)
        assert (await client.post(f"{base}/create", json=write(data), headers=headers)).status_code == 200

    first = await client.get(base, params={"query.province": province, "ordering": "first_name_en", "pageSize": 2},
                             headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["count"] == 5 and [r["first_name_en"] for r in body["results"]] == ["Arun", "Busaba"]
    assert body["previous"] is None and body["next"].startswith("http://testserver/registries/data/")
    second = (await client.get(body["next"], headers=headers)).json()
    assert [r["first_name_en"] for r in second["results"]] == ["Chai", "Duang"]
    assert "page=1" in second["previous"] and "page=3" in second["next"]
    last = (await client.get(second["next"], headers=headers)).json()
    assert [r["first_name_en"] for r in last["results"]] == ["Ekachai"] and last["next"] is None

    odd = await client.get(base, params={"province": province, "children": "1", "ordering": "-first_name_en"},
                           headers=headers)
    assert [r["first_name_en"] for r in odd.json()["results"]] == ["Duang", "Busaba"]
    dead = await client.get(base, params={"province": province, "alive": "false"}, headers=headers)
    assert [r["first_name_en"] for r in dead.json()["results"]] == ["Chai"]
    snake = await client.get(base, params={"province": province, "page_size": 1}, headers=headers)
    assert len(snake.json()["results"]) == 1 and snake.json()["count"] == 5
    search = await client.get(base, params={"province": province, "search": "chai", "filter": "first_name_en",
                                            "ordering": "first_name_en"}, headers=headers)
    assert [r["first_name_en"] for r in search.json()["results"]] == ["Chai", "Ekachai"]

    unknown = await client.get(base, params={"query.nickname": "x"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "nickname"
    too_big = await client.get(base, params={"pageSize": 1000}, headers=headers)
    assert too_big.status_code == 422
    no_registry = await client.get("/registries/data/no-such-registry/1.0", headers=headers)
    assert no_registry.status_code == 404
    no_version = await client.get(f"/registries/data/{hosted['code']}/9.9", headers=headers)
    assert no_version.status_code == 404 and no_version.json()["error"]["code"] == "version_not_found"


# --- Who may call ------------------------------------------------------------------------------


async def test_anonymous_callers_other_agencies_and_citizens_are_refused(client, session, hosted):
    base = hosted["base"]
    assert (await client.get(base)).status_code == 401
    assert (await client.post(f"{base}/read", json=query({"national_id": "1"}))).status_code == 401
    garbage = await client.get(base, headers={"authorization": "Bearer not-a-token"})
    assert garbage.status_code == 401

    other_agency = await make_agency(session)
    other = bearer(await machine_token(client, session, other_agency))
    for method, path, body in (
        ("GET", base, None),
        ("POST", f"{base}/read", query({"national_id": "1"})),
        ("POST", f"{base}/create", write(person())),
        ("DELETE", f"{base}/1/delete", None),
    ):
        response = await client.request(method, path, json=body, headers=other)
        assert response.status_code == 403 and response.json()["error"]["code"] == "other_agency", (method, path)

    no_agency = bearer(await machine_token(client, session, None))
    assert (await client.get(base, headers=no_agency)).status_code == 403

    await f.register_citizen(client)
    assert (await client.get(base)).status_code == 403
    assert (await client.get("/registries/data/myPersonalDataUsage")).status_code == 200


async def test_scopes_limit_what_a_token_may_do(client, session, hosted):
    base = hosted["base"]
    reader = bearer(await machine_token(client, session, hosted["agency_id"], scope="registries:read"))
    writer = bearer(await machine_token(client, session, hosted["agency_id"], scope="registries:write"))

    assert (await client.get(base, headers=reader)).status_code == 200
    for method, path, body in (
        ("POST", f"{base}/create", write(person())),
        ("PUT", f"{base}/update", write({"national_id": "1", "alive": True})),
        ("PUT", f"{base}/updateEntries", {**query({"province": "x"}), **write({"alive": True})}),
        ("POST", f"{base}/update-or-create", write(person())),
        ("DELETE", f"{base}/1/delete", None),
    ):
        refused = await client.request(method, path, json=body, headers=reader)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope", path

    data = person()
    assert (await client.post(f"{base}/create", json=write(data), headers=writer)).status_code == 200
    cannot_read = await client.post(f"{base}/read", json=query({"national_id": data["national_id"]}), headers=writer)
    assert cannot_read.status_code == 403 and cannot_read.json()["error"]["code"] == "insufficient_scope"


async def test_a_persons_access_token_is_not_accepted(client, session, hosted):
    """An OIDC token issued to a person is not an agency system's credential."""
    from tests.identity.test_oidc import code_for, exchange, relying_party

    rp = await relying_party(session, scopes=["openid", "profile", "registries:read"])
    code, verifier = await code_for(client, session, rp, scope="openid profile")
    tokens = await client.post("/oidc/token", data=exchange(code, verifier), auth=(rp.client.client_id, rp.secret))
    client.cookies.clear()
    response = await client.get(hosted["base"], headers={"authorization": f"Bearer {tokens.json()['access_token']}"})
    assert response.status_code == 403


async def test_registrar_of_the_owning_agency_uses_the_portal_session(client, session, hosted):
    base = hosted["base"]
    account_id = await sign_in_officer(client, session, hosted["agency_id"], OfficerRole.REGISTRAR)
    assert (await client.get(base)).status_code == 200

    data = person()
    without_csrf = await client.post(f"{base}/create", json=write(data))
    assert without_csrf.status_code == 403 and without_csrf.json()["error"]["code"] == "csrf_failed"
    created = await client.post(f"{base}/create", json=write(data), headers=await csrf_header(client))
    assert created.status_code == 200, created.text
    deleted = await client.delete(f"{base}/{data['national_id']}/delete", headers=await csrf_header(client))
    assert deleted.status_code == 204
    history = (await client.get(f"{base}/{data['national_id']}/history")).json()
    assert {e["actor"] for e in history} == {f"account:{account_id}"}


async def test_officers_without_the_role_or_of_another_agency_are_refused(client, session, hosted):
    await sign_in_officer(client, session, hosted["agency_id"], OfficerRole.REVIEWER)
    refused = await client.get(hosted["base"])
    assert refused.status_code == 403


async def test_data_steward_of_another_agency_is_refused(client, session, hosted):
    other = await make_agency(session)
    await make_registry(session, other)
    await sign_in_officer(client, session, other, OfficerRole.DATA_STEWARD)
    refused = await client.get(hosted["base"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "other_agency"


async def test_my_personal_data_usage_and_aliases(client):
    for path in ("/registries/data/myPersonalDataUsage", "/registries/data/MyPersonalDataUsage/1.0",
                 "/registries/data/mypersonalDataUsage"):
        assert (await client.get(path)).status_code == 401, path
    data = await f.register_citizen(client)
    for path in ("/registries/data/myPersonalDataUsage", "/registries/data/MyPersonalDataUsage/1.0",
                 "/registries/data/mypersonalDataUsage"):
        response = await client.get(path, params={"databaseId": "civil-registration"})
        assert response.status_code == 200 and response.json() == [], path
    own = await client.get("/registries/data/myPersonalDataUsage", params={"userId": data["national_id"]})
    assert own.status_code == 200
    someone_else = await client.get("/registries/data/myPersonalDataUsage", params={"userId": f.national_id()})
    assert someone_else.status_code == 403


async def test_aliases_are_routed_but_not_listed(app):
    from fastapi.routing import iter_route_contexts

    routes = {(c.path, c.original_route.include_in_schema) for c in iter_route_contexts(app.routes)
              if c.path.startswith("/registries/")}
    base = "/registries/data/{registryname}/{versionnumber}"
    for path in (f"{base}/update-entries", f"{base}/update-or-create", f"{base}/{{uuid}}/read-value/{{field}}.{{ext}}",
                 "/registries/data/MyPersonalDataUsage/1.0"):
        assert (path, False) in routes
    for path in (f"{base}/updateEntries", f"{base}/updateOrCreate", f"{base}/{{uuid}}/readValue/{{field}}.{{ext}}",
                 "/registries/data/myPersonalDataUsage", base, f"{base}/create", f"{base}/exists", f"{base}/read",
                 f"{base}/update", f"{base}/{{id}}/delete"):
        assert (path, True) in routes
