"""GDX fixtures: a real remote provider on loopback, and members with subsystems and services."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from govhub.exchange import service as gdx
from govhub.exchange.models import AccessPolicy, DataClassification, ExchangeService, Subsystem
from govhub.identity import service as identity
from govhub.identity.clients import register_client


@pytest.fixture(scope="session")
def remote_provider() -> Iterator[str]:
    """The provider agency's own HTTP system, as a separate uvicorn process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.exchange.provider_app:app", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/taxpayers/x", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class Party:
    """An agency on the exchange: its subsystem and the credentials it calls with."""

    subsystem: Subsystem
    client_id: str
    secret: str

    async def token(self, client: httpx.AsyncClient) -> str:
        """A client-credentials access token with the gdx scope."""
        response = await client.post(
            "/oidc/token", data={"grant_type": "client_credentials", "scope": "gdx"}, auth=(self.client_id, self.secret)
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


async def make_party(session, *, member_class: str = "GOV") -> Party:  # type: ignore[no-untyped-def]
    """A new agency with a subsystem bound to a new machine client."""
    code = "A" + secrets.token_hex(3).upper()
    agency = await identity.create_agency(session, code=code, name_th="หน่วยงาน " + code, name_en="Agency " + code, actor_id=None)
    member = await gdx.ensure_member(session, agency=agency, member_class=member_class)
    registered = await register_client(
        session, name="system " + code, client_type="confidential", token_endpoint_auth_method="client_secret_basic",
        redirect_uris=[], grant_types=["client_credentials"], scopes=["gdx"], agency_id=agency.id, actor_id=None,
    )
    subsystem = await gdx.register_subsystem(session, member=member, code="main", name="main system",
                                             oauth_client_id=registered.client.client_id)
    await session.commit()
    return Party(subsystem=subsystem, client_id=registered.client.client_id, secret=registered.secret or "")


async def remote_service(session, provider: Party, url: str, **overrides) -> ExchangeService:  # type: ignore[no-untyped-def]
    """A taxpayer service backed by the remote provider system."""
    values = dict(
        code="taxpayer", title_th="ข้อมูลผู้เสียภาษี", title_en="Taxpayer", backend="remote", remote_url=url,
        returned_fields=["tax_id", "name", "vat_registered", "revenue_last_year", "seen_client", "seen_id"],
        personal_fields=[], classification=DataClassification.CONFIDENTIAL,
        access_policy=AccessPolicy.APPROVAL_REQUIRED, requires_consent=False, timeout_ms=1000,
    )
    values.update(overrides)
    service = await gdx.publish_service(session, provider=provider.subsystem, **values)
    await session.commit()
    return service
