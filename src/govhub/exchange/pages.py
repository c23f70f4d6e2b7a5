"""Citizen pages of the exchange: who read my data (a Data Tracker) and my consents."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from govhub.db import SessionDep
from govhub.exchange import repository
from govhub.exchange import service as exchange_service
from govhub.exchange.api import consent_view
from govhub.identity.auth import SignedIn
from govhub.kit.errors import Forbidden
from govhub.web.forms import see_other
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/account/data-usage")
async def data_usage_page(request: Request, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """Every exchange call about me: which agency, when, why, under which consent, and the outcome."""
    subjects = await exchange_service.subjects_of(session, caller.account)
    records = await repository.usage_of_subject(session, *subjects) if subjects else []
    names = await repository.subsystem_names(session)
    return render(request, "exchange/data_usage.html", {"records": records, "names": names})


@router.get("/account/consents")
async def consents_page(request: Request, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """My consents to data sharing, with a button to withdraw each one in force."""
    consents = [await consent_view(session, c) for c in await repository.consents_of(session, caller.account.id)]
    return render(request, "exchange/consents.html", {"consents": consents, "names": await repository.subsystem_names(session)})


@router.post("/account/consents/{consent_id}/withdraw")
async def consent_withdraw(consent_id: str, session: SessionDep, caller: SignedIn) -> Response:
    """Withdraw a consent from the portal (the same rule as the API)."""
    await exchange_service.withdraw_consent(session, account=caller.account, consent_id=consent_id)
    return see_other("/account/consents?withdrawn=1")


@router.get("/gdx/catalog")
async def catalog_page(request: Request, session: SessionDep, caller: SignedIn, q: str = "") -> HTMLResponse:
    """The data catalog of exchange services, searchable, with policy and classification."""
    if not (caller.is_officer or caller.is_admin):
        raise Forbidden()
    rows = await repository.catalog(session, search=q.strip()[:100])
    return render(request, "exchange/catalog.html", {"rows": rows, "q": q, "names": await repository.subsystem_names(session)})


@router.get("/gdx/traffic")
async def traffic_page(request: Request, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """My agency's exchange history and statistics, from the evidence log."""
    if not caller.is_officer:
        raise Forbidden()
    paths = [s.client_path for s in await repository.subsystems_of_agencies(session, list(caller.agency_roles))]
    recent, counts = await repository.traffic_of(session, paths) if paths else ([], [])
    return render(request, "exchange/traffic.html", {"recent": recent, "counts": counts, "paths": paths})
