"""Fixtures of the one-stop tests: demo agencies, accounts, a small exchange and the demo catalog."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from govhub.db import unit_of_work
from govhub.exchange.demo import load_demo_exchange
from govhub.identity.demo import DEMO_PASSWORD, load_demo_identity
from govhub.identity.models import AccountKind, OfficerRole
from govhub.onestop.demo import load_demo_onestop
from govhub.payments.demo import load_demo_payments
from govhub.kit.clock import utcnow
from tests import factories as f

SUDA = "1103700012346"  # the demo business representative (บริษัท ครัวสุดา จำกัด)
SOMCHAI = "1101700230708"
NBM_OFFICER = "officer.nbm@demo.govhub.local"
DOPA_OFFICER = "officer.dopa@demo.govhub.local"


@pytest.fixture(scope="module")
async def onestop_demo() -> dict[str, Any]:
    """The demo data the one-stop journey needs (idempotent, so modules may share a database)."""
    async with unit_of_work() as session:
        await load_demo_identity(session)
    async with unit_of_work() as session:
        people = await load_demo_exchange(session, persons=300, companies=60)
    async with unit_of_work() as session:
        await load_demo_onestop(session)
    async with unit_of_work() as session:
        await load_demo_payments(session)
    async with unit_of_work() as session:
        await verify_identity_of(session, SUDA)
    return {"people": people}


async def verify_identity_of(session: Any, national_id: str) -> None:
    """Mark a demo account as identity-verified (IAL2), as proofing against the registry would."""
    from govhub.identity import repository

    account = await repository.account_by_identifier(session, national_id)
    assert account is not None
    account.ial, account.ial_verified_by = 2, "test"
    account.ial_verified_at = utcnow()


async def sign_in_demo(client: httpx.AsyncClient, identifier: str) -> None:
    """Sign a demo account without a second factor in."""
    response = await f.sign_in(client, identifier, DEMO_PASSWORD)
    assert response.status_code == 303, response.text


async def officer_of(app: Any, agency_code: str, *roles: OfficerRole) -> httpx.AsyncClient:
    """A browser signed in (with TOTP) as a new officer of the agency holding these roles."""
    from govhub.identity import repository
    from tests.identity.test_admin import make_staff, sign_in_staff_with_totp

    async with unit_of_work() as session:
        agency = await repository.agency_by_code(session, agency_code)
        assert agency is not None
        officer = await make_staff(session, kind=AccountKind.OFFICER, agency_id=agency.id, roles=list(roles))
    browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await sign_in_staff_with_totp(browser, officer)
    browser.account_id = officer.id  # type: ignore[attr-defined]
    return browser
