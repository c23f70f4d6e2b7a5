"""The public-service catalog pages: search by audience, business type and life event; the manual."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from govhub.db import SessionDep
from govhub.identity.auth import PublicCaller
from govhub.identity.repository import agency_by_id
from govhub.kit.errors import NotFound
from govhub.onestop import catalog, repository
from govhub.onestop.definitions import GROUP_LABELS, Audience, BusinessType, LifeEvent
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


def _choice(value: str, kind: type) -> str | None:
    """A filter value if it is one of the kind's codes (anything else is ignored, not an error)."""
    return value if value in {member.value for member in kind} else None


@router.get("/services")
async def catalog_page(
    request: Request,
    session: SessionDep,
    caller: PublicCaller,
    q: Annotated[str, Query(max_length=100)] = "",
    audience: str = "",
    business_type: str = "",
    life_event: str = "",
    page: str = "1",
) -> HTMLResponse:
    """Find a public service: search words in Thai or English, and filters."""
    # A bad page number (0, -3, "abc", a page past the end) shows the nearest page, not an error.
    page_number = min(max(int(page) if page.isdigit() else 1, 1), 10_000)
    filters = {
        "audience": _choice(audience, Audience),
        "business_type": _choice(business_type, BusinessType),
        "life_event": _choice(life_event, LifeEvent),
    }
    words = catalog.search_words(q)
    services, total = await repository.search_services(
        session, words=words, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE, **filters
    )
    pages = max(1, -(-total // PAGE_SIZE))
    if page_number > pages:
        page_number = pages
        services, total = await repository.search_services(
            session, words=words, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE, **filters
        )
    return render(request, "onestop/catalog.html", {
        "services": services, "total": total, "q": q, "filters": filters, "page": page_number,
        "pages": pages, "audiences": list(Audience), "business_types": list(BusinessType),
        "life_events": list(LifeEvent), "labels": GROUP_LABELS,
    })


@router.get("/services/{code}")
async def manual_page(request: Request, code: str, session: SessionDep, caller: PublicCaller) -> HTMLResponse:
    """A service's manual: legal basis, criteria, steps and times, fees, documents, channels."""
    service = await repository.service_by_code(session, code)
    if service is None or not service.is_active:
        raise NotFound()
    definition = await catalog.current_definition(session, service)
    agency = await agency_by_id(session, service.agency_id)
    return render(request, "onestop/manual.html", {
        "service": service, "manual": definition, "agency": agency, "labels": GROUP_LABELS,
    })
