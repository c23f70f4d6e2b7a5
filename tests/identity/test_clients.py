"""Registering OpenID clients: the rules, the secret shown once, the admin pages and API."""

from __future__ import annotations

import pytest
from joserfc.jwk import ECKey
from sqlalchemy import select

from govhub.identity import service
from govhub.identity.clients import disable_client, register_client
from govhub.identity.models import AccountKind, AuditEvent, OAuthClient
from govhub.identity.clients import secret_digest
from govhub.kit.errors import NotFound, ValidationFailed
from tests import factories as f

WEB = "https://service.example.go.th/callback"


def shape(**overrides):
    """Arguments of a valid confidential sign-in client, with overrides."""
    values = {
        "name": "ระบบจองคิว",
        "client_type": "confidential",
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": [WEB],
        "grant_types": ["authorization_code"],
        "scopes": ["openid", "profile"],
        "actor_id": None,
    }
    values.update(overrides)
    return values


async def test_secret_is_returned_once_and_stored_hashed(session):
    registered = await register_client(session, **shape())
    client = registered.client
    assert client.client_id.startswith("gh-") and len(registered.secret) >= 40
    assert registered.secret not in client.secret_hash
    assert client.secret_hash == secret_digest(registered.secret)
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "client.created", AuditEvent.client_id == client.client_id
        )
    )
    assert event is not None and event.details["auth_method"] == "client_secret_basic"


@pytest.mark.parametrize(
    "uri",
    [
        "http://service.example.go.th/callback",  # plain HTTP off the loopback interface
        "https://service.example.go.th/callback#done",
        "/callback",
        "service.example.go.th/callback",
        "https://user:pw@service.example.go.th/callback",
    ],
)
async def test_bad_redirect_uris_are_refused(session, uri):
    with pytest.raises(ValidationFailed) as refused:
        await register_client(session, **shape(redirect_uris=[uri]))
    assert refused.value.field == "redirect_uris"


async def test_loopback_http_and_query_strings_are_allowed(session):
    uris = [
        "http://127.0.0.1:3000/cb",
        "http://localhost/cb",
        "https://x.example.go.th/cb?tenant=1",
    ]
    registered = await register_client(session, **shape(redirect_uris=uris))
    assert registered.client.redirect_uris == uris


async def test_public_clients_use_no_secret_and_no_client_credentials(session):
    public = await register_client(
        session, **shape(client_type="public", token_endpoint_auth_method="none")
    )
    assert public.secret is None and public.client.secret_hash is None
    for bad in (
        shape(client_type="public", token_endpoint_auth_method="client_secret_basic"),
        shape(client_type="confidential", token_endpoint_auth_method="none"),
        shape(
            client_type="public",
            token_endpoint_auth_method="none",
            grant_types=["client_credentials"],
        ),
    ):
        with pytest.raises(ValidationFailed):
            await register_client(session, **bad)


async def test_private_key_jwt_needs_public_keys(session):
    key = ECKey.generate_key("P-256", auto_kid=True)
    method = {"token_endpoint_auth_method": "private_key_jwt"}
    with pytest.raises(ValidationFailed) as missing:
        await register_client(session, **shape(**method))
    with pytest.raises(ValidationFailed) as private:
        await register_client(
            session, **shape(**method, jwks={"keys": [key.as_dict(private=True)]})
        )
    assert missing.value.field == private.value.field == "jwks"
    registered = await register_client(
        session, **shape(**method, jwks={"keys": [key.as_dict(private=False)]})
    )
    assert registered.secret is None and registered.client.jwks["keys"][0]["kid"] == key.kid


async def test_scopes_and_grants_are_checked(session):
    for bad in (
        shape(scopes=["profile"]),  # sign-in without openid
        shape(scopes=["openid", "Tax Read!"]),
        shape(grant_types=["password"]),
        shape(grant_types=[]),
        shape(redirect_uris=[]),
        shape(name="  "),
    ):
        with pytest.raises(ValidationFailed):
            await register_client(session, **bad)
    machine = await register_client(
        session, **shape(redirect_uris=[], grant_types=["client_credentials"], scopes=["tax.read"])
    )
    assert machine.client.grant_types == ["client_credentials"]


async def test_disabled_client_gets_no_tokens(client, session):
    machine = await register_client(
        session, **shape(redirect_uris=[], grant_types=["client_credentials"], scopes=["tax.read"])
    )
    await disable_client(session, client_id=machine.client.client_id, actor_id=None)
    await session.commit()
    response = await client.post(
        "/oidc/token",
        data={"grant_type": "client_credentials"},
        auth=(machine.client.client_id, machine.secret),
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    with pytest.raises(NotFound):
        await disable_client(session, client_id="gh-missing", actor_id=None)


# --- Administrators -------------------------------------------------------------------------


async def signed_in_admin(client, session):
    """An administrator signed in at AAL2 (TOTP enrolled on first sign-in)."""
    admin = await service.create_staff_account(
        session,
        kind=AccountKind.ADMIN,
        email=f.email(),
        full_name="ผู้ดูแล ระบบ",
        national_id=f.national_id(),
        password=f.PASSWORD,
    )
    await session.commit()
    await f.sign_in(client, admin.email)
    await f.enrol_totp(client)
    return admin


async def test_admin_registers_a_client_and_sees_the_secret_once(client, session):
    await signed_in_admin(client, session)
    data = {
        "name": "ระบบภาษีออนไลน์",
        "client_type": "confidential",
        "token_endpoint_auth_method": "client_secret_post",
        "redirect_uris": WEB,
        "grant_types": ["authorization_code", "client_credentials"],
        "scopes": "openid profile tax.read",
        "jwks": "",
        "agency_id": "",
    }
    created = await f.form_post(client, "/admin/clients/new", "/admin/clients", data)
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    secret = created.text.split('id="client-secret">')[1].split("<")[0]
    client_id = created.text.split('id="client-id">')[1].split("<")[0]
    row = await session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    assert row.token_endpoint_auth_method == "client_secret_post"
    assert row.secret_hash == secret_digest(secret)
    listing = await client.get("/admin/clients")
    assert client_id in listing.text and secret not in listing.text
    disabled = await f.form_post(
        client, "/admin/clients", f"/admin/clients/{client_id}/disable", {}
    )
    assert disabled.status_code == 303
    await session.refresh(row)
    assert row.is_active is False


async def test_admin_form_shows_the_error_in_place(client, session):
    await signed_in_admin(client, session)
    data = {
        "name": "แอป",
        "client_type": "confidential",
        "token_endpoint_auth_method": "client_secret_basic",
        "redirect_uris": "http://app.example.com/cb",
        "grant_types": ["authorization_code"],
        "scopes": "openid",
    }
    response = await f.form_post(client, "/admin/clients/new?lang=en", "/admin/clients", data)
    assert response.status_code == 422 and 'id="redirect_uris-error"' in response.text
    assert "http://app.example.com/cb" in response.text  # what was typed is kept


async def test_admin_api_registers_and_lists_clients(client, session):
    await signed_in_admin(client, session)
    token = f.csrf_from((await client.get("/admin/clients/new")).text)
    body = {
        "name": "Mobile app",
        "client_type": "public",
        "token_endpoint_auth_method": "none",
        "redirect_uris": ["http://127.0.0.1:4000/cb"],
        "scopes": ["openid", "email"],
    }
    created = await client.post(
        "/api/v1/identity/clients", json=body, headers={"x-csrf-token": token}
    )
    assert created.status_code == 201, created.text
    assert created.json()["client_secret"] is None and created.json()["grant_types"] == [
        "authorization_code"
    ]
    secret_client = await client.post(
        "/api/v1/identity/clients",
        headers={"x-csrf-token": token},
        json={"name": "Back office", "redirect_uris": [WEB], "scopes": ["openid"]},
    )
    assert secret_client.status_code == 201 and secret_client.json()["client_secret"]
    listed = await client.get("/api/v1/identity/clients")
    ids = {c["client_id"] for c in listed.json()}
    assert {created.json()["client_id"], secret_client.json()["client_id"]} <= ids
    assert all("client_secret" not in c for c in listed.json())
    assert secret_client.json()["client_secret"] not in listed.text
    refused = await client.post(
        "/api/v1/identity/clients",
        headers={"x-csrf-token": token},
        json={**body, "redirect_uris": ["http://evil.example.com/cb"]},
    )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "redirect_uris"


async def test_citizens_cannot_manage_clients(client):
    await f.register_citizen(client)
    assert (await client.get("/api/v1/identity/clients")).status_code == 403
    assert (await client.get("/admin/clients", headers={"accept": "text/html"})).status_code == 403
