"""The OpenID provider, driven by a real OIDC client (Authlib) against the running server."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError as OAuthClientError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import select, update

from govhub.identity import keys, service
from govhub.identity.clients import register_client
from govhub.identity.models import AccountKind, AuditEvent, SigningKey
from govhub.kit.clock import utcnow
from tests import factories as f

REDIRECT = "http://127.0.0.1:8765/callback"
USER_SCOPES = "openid profile email national_id ial"


# --- Arrangement ------------------------------------------------------------------------


async def relying_party(session, *, method="client_secret_basic", client_type="confidential", **kw):
    """Register a sign-in client and commit, so the live server sees it."""
    registered = await register_client(
        session,
        name=kw.pop("name", "บริการทดสอบ"),
        client_type=client_type,
        token_endpoint_auth_method=method,
        redirect_uris=kw.pop("redirect_uris", [REDIRECT]),
        grant_types=kw.pop("grant_types", ["authorization_code"]),
        scopes=kw.pop("scopes", USER_SCOPES.split()),
        actor_id=None,
        **kw,
    )
    await session.commit()
    return registered


async def machine_client(session, *, method="client_secret_basic", jwks=None):
    """Register a client-credentials client with two API scopes."""
    registered = await register_client(
        session,
        name="ระบบภาษี",
        client_type="confidential",
        token_endpoint_auth_method=method,
        redirect_uris=[],
        grant_types=["client_credentials"],
        scopes=["tax.read", "tax.write"],
        jwks=jwks,
        actor_id=None,
    )
    await session.commit()
    return registered


async def citizen(session) -> service.Registration:
    """A citizen account (IAL1, password only); returns what it was registered with."""
    data = service.Registration(
        kind=AccountKind.CITIZEN,
        email=f.email(),
        full_name="สมศรี ทดสอบ",
        password=f.PASSWORD,
        national_id=f.national_id(),
    )
    await service.register_account(session, data=data)
    await session.commit()
    return data


def authorize_url(client_id: str, *, challenge: str | None = None, **params: str | None) -> str:
    """An authorization request with PKCE S256 unless told otherwise."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": generate_token(12),
        "nonce": generate_token(12),
        "code_challenge_method": "S256",
        "code_challenge": challenge or create_s256_code_challenge(generate_token(48)),
    }
    query.update(params)
    return "/oidc/authorize?" + urlencode({k: v for k, v in query.items() if v is not None})


def hidden_fields(page: str, form_id: str) -> dict[str, str]:
    """The hidden inputs of one form on a page."""
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', page, re.S)
    assert form, f"no form {form_id}"
    return {
        name: html.unescape(value)
        for name, value in re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form.group(0))
    }


async def sign_in_and_authorize(
    browser: httpx.AsyncClient, url: str, identifier: str
) -> httpx.Response:
    """Open the authorization URL, sign in through the form when asked, and come back."""
    response = await browser.get(url)
    if response.status_code == 303 and response.headers["location"].startswith("/sign-in"):
        page = await browser.get(response.headers["location"])
        next_url = html.unescape(re.search(r'name="next" value="([^"]*)"', page.text).group(1))  # type: ignore[union-attr]
        signed_in = await browser.post(
            "/sign-in",
            data={
                "csrf_token": f.csrf_from(page.text),
                "identifier": identifier,
                "password": f.PASSWORD,
                "next": next_url,
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == next_url
        response = await browser.get(next_url)
    return response


async def consent(browser: httpx.AsyncClient, page: httpx.Response, decision: str = "allow") -> str:
    """Answer the consent page; return where the provider sends the browser."""
    assert page.status_code == 200 and 'id="consent-form"' in page.text, page.text[:500]
    fields = hidden_fields(page.text, "consent-form")
    response = await browser.post("/sign-in/consent", data={**fields, "decision": decision})
    assert response.status_code == 303, response.text
    return response.headers["location"]


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect, one value each."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def code_for(
    client, session, rp, *, scope="openid profile", verifier=None, identifier=None
) -> tuple[str, str]:
    """Sign a new citizen in to rp in-process; return (code, verifier)."""
    verifier = verifier or generate_token(48)
    if identifier is None:
        identifier = (await citizen(session)).email
    url = authorize_url(
        rp.client.client_id, challenge=create_s256_code_challenge(verifier), scope=scope
    )
    page = await sign_in_and_authorize(client, url, identifier)
    location = await consent(client, page) if page.status_code == 200 else page.headers["location"]
    return query_of(location)["code"], verifier


def exchange(code: str, verifier: str | None, **extra: str) -> dict[str, str]:
    """The form of an authorization-code token request."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def verify_with_jwks(token: str, jwks: dict) -> jwt.Token:
    """Check a token's signature against the published keys, as a relying party would."""
    return jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256"])


# --- The whole flow with a real client library, against the running server ------------------


async def test_discovery_document(live_server):
    async with httpx.AsyncClient(base_url=live_server) as http:
        meta = (await http.get("/.well-known/openid-configuration")).json()
        jwks = (await http.get(meta["jwks_uri"])).json()
    assert meta["issuer"] == live_server
    assert meta["authorization_endpoint"] == f"{live_server}/oidc/authorize"
    assert meta["token_endpoint"] == f"{live_server}/oidc/token"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "urn:govhub:ial2:aal2" in meta["acr_values_supported"]
    assert {"openid", "profile", "email", "national_id", "ial"} <= set(meta["scopes_supported"])
    assert jwks["keys"] and all("d" not in key for key in jwks["keys"])  # public halves only


async def test_sign_in_with_authlib_client_and_pkce(live_server, session):
    person = await citizen(session)
    rp = await relying_party(session)
    verifier, nonce = generate_token(64), generate_token(16)
    async with AsyncOAuth2Client(
        rp.client.client_id,
        rp.secret,
        scope=USER_SCOPES,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    ) as oauth:
        meta = (
            await oauth.request(
                "GET", f"{live_server}/.well-known/openid-configuration", withhold_token=True
            )
        ).json()
        url, state = oauth.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        async with httpx.AsyncClient(base_url=live_server) as browser:
            page = await sign_in_and_authorize(browser, url.removeprefix(live_server), person.email)
            assert "บริการทดสอบ" in page.text
            csp = page.headers["content-security-policy"]
            assert (
                "form-action 'self' http://127.0.0.1:8765" in csp
                and "frame-ancestors 'none'" in csp
            )
            location = await consent(browser, page)
        assert location.startswith(REDIRECT + "?")
        returned = query_of(location)
        assert returned["state"] == state and returned["iss"] == live_server
        token = await oauth.fetch_token(
            meta["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
        claims_response = await oauth.get(meta["userinfo_endpoint"])
        posted = await oauth.post(meta["userinfo_endpoint"])
        jwks = (await oauth.request("GET", meta["jwks_uri"], withhold_token=True)).json()

    assert token["token_type"] == "Bearer" and set(token["scope"].split()) == set(
        USER_SCOPES.split()
    )
    id_token = verify_with_jwks(token["id_token"], jwks)
    assert (
        id_token.header["kid"] in {key["kid"] for key in jwks["keys"]}
        and id_token.header["alg"] == "ES256"
    )
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": live_server},
        aud={"essential": True, "value": rp.client.client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(id_token.claims)
    assert id_token.claims["acr"] == "urn:govhub:ial1:aal1" and id_token.claims["amr"] == ["pwd"]
    assert id_token.claims["auth_time"] <= id_token.claims["iat"]
    access = verify_with_jwks(token["access_token"], jwks)
    assert access.header["typ"] == "at+jwt" and access.claims["client_id"] == rp.client.client_id

    info = claims_response.json()
    assert claims_response.status_code == 200 and posted.json() == info
    assert info["sub"] == id_token.claims["sub"]
    assert info["name"] == person.full_name and info["account_kind"] == "citizen"
    assert info["email"] == person.email and info["email_verified"] is False
    assert info["national_id"] == person.national_id
    assert info["ial"] == 1 and info["aal"] == 1
    assert claims_response.headers["cache-control"] == "no-store"


async def test_reused_code_is_refused_and_audited(live_server, session):
    person = await citizen(session)
    rp = await relying_party(session)
    verifier = generate_token(48)
    async with httpx.AsyncClient(base_url=live_server) as browser:
        url = authorize_url(rp.client.client_id, challenge=create_s256_code_challenge(verifier))
        location = await consent(browser, await sign_in_and_authorize(browser, url, person.email))
    async with AsyncOAuth2Client(rp.client.client_id, rp.secret, redirect_uri=REDIRECT) as oauth:
        token_url = f"{live_server}/oidc/token"
        await oauth.fetch_token(token_url, authorization_response=location, code_verifier=verifier)
        again = await oauth.request(
            "POST",
            token_url,
            data=exchange(query_of(location)["code"], verifier),
            auth=(rp.client.client_id, rp.secret),
            withhold_token=True,
        )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert again.headers["cache-control"] == "no-store"
    events = (
        await session.scalars(select(AuditEvent).where(AuditEvent.client_id == rp.client.client_id))
    ).all()
    refused = [e for e in events if e.action == "token.refused"]
    assert (
        refused
        and refused[0].details["reason"] == "code_reused"
        and refused[0].outcome == "failure"
    )
    assert sum(e.action == "token.issued" for e in events) == 1
    assert any(e.action == "oidc_consent.granted" for e in events)


async def test_client_credentials_with_client_secret_basic(live_server, session):
    machine = await machine_client(session)
    async with AsyncOAuth2Client(
        machine.client.client_id, machine.secret, scope="tax.read"
    ) as oauth:
        token = await oauth.fetch_token(
            f"{live_server}/oidc/token", grant_type="client_credentials"
        )
        everything = await oauth.fetch_token(
            f"{live_server}/oidc/token", grant_type="client_credentials", scope=""
        )
        too_much = await oauth.request(
            "POST",
            f"{live_server}/oidc/token",
            data={"grant_type": "client_credentials", "scope": "tax.read national_id"},
            auth=(machine.client.client_id, machine.secret),
            withhold_token=True,
        )
        jwks = (await oauth.request("GET", f"{live_server}/oidc/jwks", withhold_token=True)).json()
        userinfo = await oauth.get(f"{live_server}/oidc/userinfo")
    claims = verify_with_jwks(token["access_token"], jwks).claims
    assert claims["sub"] == machine.client.client_id and claims["scope"] == "tax.read"
    assert "id_token" not in token
    assert set(everything["scope"].split()) == {"tax.read", "tax.write"}
    assert too_much.status_code == 400 and too_much.json()["error"] == "invalid_scope"
    # A machine token names no person: it cannot read anyone's claims.
    assert userinfo.status_code == 403 and userinfo.json()["error"] == "insufficient_scope"


async def test_client_credentials_with_private_key_jwt(live_server, session):
    key = ECKey.generate_key("P-256", auto_kid=True)
    machine = await machine_client(
        session, method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]}
    )
    assert machine.secret is None
    token_url = f"{live_server}/oidc/token"
    async with AsyncOAuth2Client(
        machine.client.client_id,
        key,
        token_endpoint_auth_method="private_key_jwt",
        scope="tax.write",
    ) as oauth:
        oauth.register_client_auth_method(PrivateKeyJWT(token_url, alg="ES256"))
        token = await oauth.fetch_token(token_url, grant_type="client_credentials")
    assert token["scope"] == "tax.write"

    intruder = ECKey.generate_key("P-256", auto_kid=True)
    async with AsyncOAuth2Client(
        machine.client.client_id, intruder, token_endpoint_auth_method="private_key_jwt"
    ) as oauth:
        oauth.register_client_auth_method(PrivateKeyJWT(token_url, alg="ES256"))
        with pytest.raises(OAuthClientError) as forged:
            await oauth.fetch_token(token_url, grant_type="client_credentials")
    assert forged.value.error == "invalid_client"

    # The same assertion twice: the second is a replay.
    assertion = PrivateKeyJWT(token_url, alg="ES256").sign(
        type("Auth", (), {"client_id": machine.client.client_id, "client_secret": key})(), token_url
    )
    form = {
        "grant_type": "client_credentials",
        "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    async with httpx.AsyncClient() as http:
        first, replay = await http.post(token_url, data=form), await http.post(token_url, data=form)
    assert first.status_code == 200
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    query = select(AuditEvent).where(
        AuditEvent.client_id == machine.client.client_id, AuditEvent.action == "token.refused"
    )
    assert [
        e.details["reason"] for e in (await session.scalars(query.order_by(AuditEvent.at))).all()
    ] == [
        "bad_assertion",
        "assertion_replayed",
    ]


async def test_key_rotation_keeps_old_tokens_verifiable(live_server, session):
    machine = await machine_client(session)
    token_url = f"{live_server}/oidc/token"
    async with AsyncOAuth2Client(machine.client.client_id, machine.secret) as oauth:
        old = (await oauth.fetch_token(token_url, grant_type="client_credentials"))["access_token"]
        new_row = await keys.rotate_signing_key(session)
        await session.commit()
        new = (await oauth.fetch_token(token_url, grant_type="client_credentials"))["access_token"]
        jwks = (await oauth.request("GET", f"{live_server}/oidc/jwks", withhold_token=True)).json()
    old_kid = verify_with_jwks(old, jwks).header["kid"]
    assert verify_with_jwks(new, jwks).header["kid"] == new_row.kid != old_kid
    assert {old_kid, new_row.kid} <= {key["kid"] for key in jwks["keys"]}


# --- Refusals, in-process -------------------------------------------------------------------


async def test_wrong_redirect_uri_shows_a_page_and_never_redirects(client, session):
    rp = await relying_party(session)
    for uri in (
        "https://evil.example/callback",
        REDIRECT + "/extra",
        REDIRECT.replace("8765", "8766"),
        "",
    ):
        response = await client.get(
            authorize_url(rp.client.client_id, redirect_uri=uri), headers={"accept": "text/html"}
        )
        assert response.status_code == 400 and "location" not in response.headers
        assert 'id="oidc-error"' in response.text and "invalid_redirect_uri" in response.text


async def test_unknown_or_disabled_client_shows_a_page(client, session):
    response = await client.get(authorize_url("gh-nobody"))
    assert response.status_code == 400 and "location" not in response.headers
    assert "invalid_client" in response.text
    rp = await relying_party(session)
    rp.client.is_active = False
    await session.commit()
    assert (await client.get(authorize_url(rp.client.client_id))).status_code == 400


async def test_pkce_is_required_and_plain_is_refused(client, session):
    rp = await relying_party(session)
    await f.register_citizen(client)
    missing = await client.get(authorize_url(rp.client.client_id, code_challenge=None, state="s1"))
    plain = await client.get(
        authorize_url(rp.client.client_id, code_challenge_method="plain", state="s2")
    )
    for response, state in ((missing, "s1"), (plain, "s2")):
        assert response.status_code == 303 and response.headers["location"].startswith(REDIRECT)
        returned = query_of(response.headers["location"])
        assert returned["error"] == "invalid_request" and returned["state"] == state
        assert "code" not in returned


async def test_other_request_errors_redirect_to_the_client(client, session):
    rp = await relying_party(session, scopes=["openid", "profile"])
    not_openid = await client.get(authorize_url(rp.client.client_id, scope="profile", state="a"))
    not_registered = await client.get(
        authorize_url(rp.client.client_id, scope="openid national_id", state="b")
    )
    token_flow = await client.get(
        authorize_url(rp.client.client_id, response_type="token", state="c")
    )
    assert query_of(not_openid.headers["location"])["error"] == "invalid_scope"
    assert query_of(not_registered.headers["location"])["error"] == "invalid_scope"
    assert query_of(token_flow.headers["location"])["error"] == "unsupported_response_type"


async def test_not_signed_in_goes_to_sign_in_then_back(client, session):
    rp = await relying_party(session)
    url = authorize_url(rp.client.client_id)
    response = await client.get(url)
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert target.path == "/sign-in" and parse_qs(target.query)["next"] == [url]
    silent = await client.get(authorize_url(rp.client.client_id, prompt="none", state="q"))
    returned = query_of(silent.headers["location"])
    assert returned["error"] == "login_required" and returned["state"] == "q"


async def test_consent_is_remembered_and_asked_again_for_new_scopes(client, session):
    rp = await relying_party(session)
    person = await citizen(session)
    await code_for(client, session, rp, identifier=person.email)
    again = await client.get(authorize_url(rp.client.client_id))
    assert again.status_code == 303 and "code" in query_of(again.headers["location"])
    more = await client.get(authorize_url(rp.client.client_id, scope="openid profile email"))
    assert more.status_code == 200 and 'data-scope="email"' in more.text
    denied = await consent(client, more, decision="deny")
    assert query_of(denied)["error"] == "access_denied"


async def test_consent_post_needs_csrf(client, session):
    rp = await relying_party(session)
    person = await citizen(session)
    page = await sign_in_and_authorize(client, authorize_url(rp.client.client_id), person.email)
    fields = {
        k: v for k, v in hidden_fields(page.text, "consent-form").items() if k != "csrf_token"
    }
    response = await client.post("/sign-in/consent", data={**fields, "decision": "allow"})
    assert response.status_code == 403 and "location" not in response.headers


async def test_missing_or_wrong_verifier_and_redirect_are_refused(client, session):
    rp = await relying_party(session)
    auth = (rp.client.client_id, rp.secret)
    code, verifier = await code_for(client, session, rp)
    missing = await client.post("/oidc/token", data=exchange(code, None), auth=auth)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    wrong = await client.post("/oidc/token", data=exchange(code, generate_token(48)), auth=auth)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code, verifier = await code_for(client, session, rp)
    elsewhere = await client.post(
        "/oidc/token", data=exchange(code, verifier, redirect_uri=REDIRECT + "x"), auth=auth
    )
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_grant"


async def test_expired_code_is_refused(client, session):
    from govhub.identity.models import AuthorizationCode
    from govhub.kit.crypto import token_digest

    rp = await relying_party(session)
    code, verifier = await code_for(client, session, rp)
    await session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_digest == token_digest(code))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    response = await client.post(
        "/oidc/token", data=exchange(code, verifier), auth=(rp.client.client_id, rp.secret)
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_confidential_client_with_wrong_secret_is_refused(client, session):
    rp = await relying_party(session, method="client_secret_post")
    code, verifier = await code_for(client, session, rp)
    wrong = await client.post(
        "/oidc/token",
        data={
            **exchange(code, verifier),
            "client_id": rp.client.client_id,
            "client_secret": "guess",
        },
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["cache-control"] == "no-store"
    basic = await client.post(
        "/oidc/token", data=exchange(code, verifier), auth=(rp.client.client_id, rp.secret)
    )
    assert basic.status_code == 401  # registered for client_secret_post, not Basic
    no_secret = await client.post(
        "/oidc/token", data={**exchange(code, verifier), "client_id": rp.client.client_id}
    )
    assert no_secret.status_code == 401
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "token.refused", AuditEvent.client_id == rp.client.client_id
        )
    )
    assert event is not None and event.details["reason"] == "wrong_secret"
    good = await client.post(
        "/oidc/token",
        data={
            **exchange(code, verifier),
            "client_id": rp.client.client_id,
            "client_secret": rp.secret,
        },
    )
    assert good.status_code == 200 and "id_token" in good.json()


async def test_public_client_uses_pkce_alone(client, session):
    app = await relying_party(session, method="none", client_type="public")
    assert app.secret is None
    code, verifier = await code_for(client, session, app)
    response = await client.post(
        "/oidc/token", data={**exchange(code, verifier), "client_id": app.client.client_id}
    )
    assert response.status_code == 200 and response.json()["id_token"]
    machine = await client.post(
        "/oidc/token", data={"grant_type": "client_credentials", "client_id": app.client.client_id}
    )
    assert machine.status_code == 400 and machine.json()["error"] == "unauthorized_client"


async def test_userinfo_refuses_bad_tokens(client):
    missing = await client.get("/oidc/userinfo")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    forged_key = ECKey.generate_key("P-256", auto_kid=True)
    forged = jwt.encode(
        {"alg": "ES256", "kid": forged_key.kid, "typ": "at+jwt"},
        {
            "sub": "x",
            "scope": "openid",
            "iss": "http://127.0.0.1:8000",
            "aud": "http://127.0.0.1:8000",
            "exp": 9999999999,
        },
        forged_key,
    )
    response = await client.get("/oidc/userinfo", headers={"authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_signing_key_rotates_when_too_old(session):
    active = await keys.signing_key(session)
    await session.execute(
        update(SigningKey)
        .where(SigningKey.kid == active.kid)
        .values(created_at=utcnow() - timedelta(days=400))
    )
    token = await keys.sign(
        session,
        {"iss": keys.issuer(), "sub": "s", "aud": keys.issuer(), "exp": 9999999999},
        typ="at+jwt",
    )
    await session.commit()
    assert (
        jwt.decode(token, (await keys.published_keys(session)).keyset).header["kid"] != active.kid
    )
    old = await session.scalar(select(SigningKey).where(SigningKey.kid == active.kid))
    assert old.rotated_at is not None and old.retired_at is None  # still published
    assert active.kid in {key["kid"] for key in (await keys.jwks_document(session))["keys"]}
    stored = await session.scalar(
        select(SigningKey).where(SigningKey.kid != active.kid, SigningKey.rotated_at.is_(None))
    )
    assert stored.alg == "ES256" and '"d"' not in stored.private_jwk_encrypted  # encrypted at rest
