"""Identity JSON API: the caller's account, agencies and the audit log (administrators)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from govhub.db import SessionDep
from govhub.identity import repository, service
from govhub.identity.auth import Admin, SignedIn
from govhub.identity.schemas import AccountRead, AgencyCreate, AgencyRead, AuditEventPage, AuditEventRead
from govhub.kit.crypto import mask_identifier

router = APIRouter(tags=["identity"])
PREFIX = "/api/v1/identity"


@router.get(f"{PREFIX}/me", response_model=AccountRead)
async def read_me(caller: SignedIn) -> AccountRead:
    """The signed-in account and the assurance levels of this session."""
    account = caller.account
    return AccountRead(
        id=account.id,
        kind=account.kind.value,
        full_name=account.full_name,
        email=account.email,
        national_id_masked=mask_identifier(account.national_id) if account.national_id else None,
        juristic_id=account.juristic_id,
        ial=caller.ial,
        aal=caller.aal,
        totp_enabled=account.totp_enabled,
    )


@router.get(f"{PREFIX}/agencies", response_model=list[AgencyRead])
async def list_agencies(session: SessionDep, caller: SignedIn) -> list[AgencyRead]:
    """Every agency on the platform."""
    return [AgencyRead.model_validate(a) for a in await repository.list_agencies(session)]


@router.post(f"{PREFIX}/agencies", response_model=AgencyRead, status_code=201)
async def create_agency(body: AgencyCreate, session: SessionDep, caller: Admin) -> AgencyRead:
    """Add an agency (administrators)."""
    agency = await service.create_agency(
        session, code=body.code, name_th=body.name_th, name_en=body.name_en, actor_id=caller.account.id
    )
    return AgencyRead.model_validate(agency)


@router.get(f"{PREFIX}/audit-events", response_model=AuditEventPage)
async def list_audit_events(
    session: SessionDep,
    caller: Admin,
    action: str | None = None,
    outcome: str | None = None,
    actor_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> AuditEventPage:
    """Security audit events, newest first, filtered (administrators)."""
    query = repository.audit_query(action=action, outcome=outcome, actor_id=actor_id, since=since, until=until)
    rows, total = await repository.audit_page(session, query, limit=limit, offset=offset)
    return AuditEventPage(
        total=total, limit=limit, offset=offset, items=[AuditEventRead.model_validate(r) for r in rows]
    )
