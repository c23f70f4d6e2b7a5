"""Machine APIs accept agency systems' client-credentials tokens with the right scope."""

from __future__ import annotations

import re
import time
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import Depends, FastAPI

from govhub.identity import clients
from govhub.identity.auth import MachineCaller, require_client_scope
from tests import factories as f
from tests.identity.test_oidc import authorize_url, code_for, consent, exchange, machine_client, relying_party


def probe_api() -> FastAPI:
    """A stand-in for a later context's machine API (e.g. a registry), guarded by scope."""
    from govhub.app import handle_app_error
    from govhub.kit.errors import AppError

    probe = FastAPI()
    probe.add_exception_handler(AppError, handle_app_error)  # type: ignore[arg-type]

    @probe.get("/api/v1/probe")
    async def read(caller: Annotated[MachineCaller, Depends(require_client_scope("tax.read"))]) -> dict[str, str]:
        return {"client_id": caller.client_id}

    return probe


async def _machine_token(client, registered, scope: str) -> httpx.Response:
    return await client.post(
        "/oidc/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(registered.client.client_id, registered.secret),
    )


async def test_machine_api_needs_a_client_token_with_the_scope(client, session):
    registered = await machine_client(session)
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=probe_api()), base_url="http://probe")
    async with api:
        assert (await api.get("/api/v1/probe")).status_code == 401
        token = (await _machine_token(client, registered, "tax.read")).json()["access_token"]
        allowed = await api.get("/api/v1/probe", headers={"authorization": f"Bearer {token}"})
        assert allowed.status_code == 200 and allowed.json() == {"client_id": registered.client.client_id}

        narrow = (await _machine_token(client, registered, "tax.write")).json()["access_token"]
        refused = await api.get("/api/v1/probe", headers={"authorization": f"Bearer {narrow}"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"

        await clients.disable_client(session, client_id=registered.client.client_id, actor_id=None)
        await session.commit()
        disabled = await api.get("/api/v1/probe", headers={"authorization": f"Bearer {token}"})
        assert disabled.status_code == 401


async def test_a_persons_token_is_not_a_machine_credential(client, session):
    rp = await relying_party(session, scopes=["openid", "profile", "tax.read"])
    code, verifier = await code_for(client, session, rp, scope="openid profile")
    tokens = await client.post("/oidc/token", data=exchange(code, verifier), auth=(rp.client.client_id, rp.secret))
    user_token = tokens.json()["access_token"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=probe_api()), base_url="http://probe") as api:
        response = await api.get("/api/v1/probe", headers={"authorization": f"Bearer {user_token}"})
    assert response.status_code == 403


async def test_person_with_totp_signs_in_to_a_relying_party(client, session):
    """The authorize URL survives the password step and the second factor intact."""
    rp = await relying_party(session)
    data = await f.register_citizen(client)
    secret = await f.enrol_totp(client)
    await f.sign_out(client)
    verifier = generate_token(48)
    url = authorize_url(rp.client.client_id, challenge=create_s256_code_challenge(verifier), scope="openid profile")
    to_sign_in = await client.get(url)
    assert to_sign_in.headers["location"].startswith("/sign-in")
    page = await client.get(to_sign_in.headers["location"])
    next_url = re.search(r'name="next" value="([^"]*)"', page.text).group(1).replace("&amp;", "&")
    password = await client.post("/sign-in", data={
        "csrf_token": f.csrf_from(page.text), "identifier": data["national_id"], "password": f.PASSWORD, "next": next_url})
    second = await client.get(password.headers["location"])
    code = pyotp.TOTP(secret).at(time.time() + 30)
    done = await client.post("/sign-in/second-factor", data={
        "csrf_token": f.csrf_from(second.text), "code": code,
        "next": re.search(r'name="next" value="([^"]*)"', second.text).group(1).replace("&amp;", "&")})
    assert done.status_code == 303 and done.headers["location"] == next_url
    location = await consent(client, await client.get(done.headers["location"]))
    query = parse_qs(urlsplit(location).query)
    assert "code" in query and query["state"]
