"""Administrator pages: agencies, staff accounts, and the security audit log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from govhub.db import SessionDep
from govhub.identity import repository, service
from govhub.identity.audit import AuditAction
from govhub.identity.auth import Admin
from govhub.identity.models import AccountKind, OfficerRole, role_label
from govhub.kit.clock import BANGKOK
from govhub.kit.errors import AppError
from govhub.web.forms import form_error, see_other
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)
AUDIT_PAGE_SIZE = 50
AUDIT_ACTIONS = sorted(v for k, v in vars(AuditAction).items() if k.isupper())


@router.get("/admin")
async def admin_home(request: Request, caller: Admin) -> HTMLResponse:
    """The administrator's start page."""
    return render(request, "identity/admin_home.html")


@router.get("/admin/agencies")
async def agencies_page(request: Request, session: SessionDep, caller: Admin) -> HTMLResponse:
    """Every agency, and a form to add one."""
    return render(request, "identity/admin_agencies.html", await _agencies_context(session))


async def _agencies_context(session: SessionDep, form: dict[str, str] | None = None) -> dict[str, object]:
    return {"agencies": await repository.list_agencies(session), "form": form or {}}


@router.post("/admin/agencies")
async def agency_create(
    request: Request,
    session: SessionDep,
    caller: Admin,
    code: Annotated[str, Form(max_length=32)] = "",
    name_th: Annotated[str, Form(max_length=255)] = "",
    name_en: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    """Add an agency."""
    form = {"code": code, "name_th": name_th, "name_en": name_en}
    try:
        await service.create_agency(session, code=code, name_th=name_th, name_en=name_en, actor_id=caller.account.id)
    except AppError as error:
        return await form_error(
            request, session, "identity/admin_agencies.html", error, lambda: _agencies_context(session, form)
        )
    return see_other("/admin/agencies?created=1")


@router.post("/admin/agencies/{agency_id}")
async def agency_update(
    request: Request,
    agency_id: str,
    session: SessionDep,
    caller: Admin,
    name_th: Annotated[str, Form(max_length=255)] = "",
    name_en: Annotated[str, Form(max_length=255)] = "",
    is_active: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Rename or (de)activate an agency."""
    try:
        await service.update_agency(
            session, agency_id=agency_id, name_th=name_th, name_en=name_en,
            is_active=is_active == "on", actor_id=caller.account.id,
        )
    except AppError as error:
        return await form_error(
            request, session, "identity/admin_agencies.html", error, lambda: _agencies_context(session)
        )
    return see_other("/admin/agencies?updated=1")


@router.get("/admin/staff/new")
async def staff_form(request: Request, session: SessionDep, caller: Admin) -> HTMLResponse:
    """Form to create an officer or administrator."""
    return render(request, "identity/admin_staff.html", await _staff_context(session))


async def _staff_context(session: SessionDep, form: dict[str, object] | None = None) -> dict[str, object]:
    return {
        "agencies": await repository.list_agencies(session),
        "roles": list(OfficerRole),
        "role_label": role_label,
        "form": form or {},
    }


@router.post("/admin/staff/new")
async def staff_create(
    request: Request,
    session: SessionDep,
    caller: Admin,
    kind: Annotated[str, Form(max_length=16)] = "officer",
    full_name: Annotated[str, Form(max_length=255)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    national_id: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    agency_id: Annotated[str, Form(max_length=36)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Create the staff account; they must enrol TOTP at their first sign-in."""
    chosen = [OfficerRole(r) for r in (roles or []) if r in OfficerRole._value2member_map_]
    form = {"kind": kind, "full_name": full_name, "email": email, "national_id": national_id,
            "agency_id": agency_id, "roles": [r.value for r in chosen]}
    try:
        staff_kind = AccountKind.ADMIN if kind == "admin" else AccountKind.OFFICER
        await service.create_staff_account(
            session, kind=staff_kind, email=email, full_name=full_name, national_id=national_id,
            password=password, agency_id=agency_id or None, roles=chosen, actor_id=caller.account.id,
        )
    except AppError as error:
        return await form_error(
            request, session, "identity/admin_staff.html", error, lambda: _staff_context(session, form)
        )
    return see_other("/admin?staff_created=1")


def _parse_local_date(value: str | None) -> datetime | None:
    """A yyyy-mm-dd date typed by an administrator, as midnight in Bangkok, in UTC."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=BANGKOK)
    except ValueError:
        return None


@router.get("/admin/audit")
async def audit_log_page(
    request: Request,
    session: SessionDep,
    caller: Admin,
    action: str = "",
    outcome: str = "",
    since: str = "",
    until: str = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> HTMLResponse:
    """Browse and filter the security audit log, newest first."""
    until_at = _parse_local_date(until)
    query = repository.audit_query(
        action=action or None,
        outcome=outcome or None,
        since=_parse_local_date(since),
        until=until_at + timedelta(days=1) if until_at else None,
    )
    rows, total = await repository.audit_page(
        session, query, limit=AUDIT_PAGE_SIZE, offset=(page - 1) * AUDIT_PAGE_SIZE
    )
    filters = {"action": action, "outcome": outcome, "since": since, "until": until}
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))
    return render(request, "identity/admin_audit.html", {
        "events": rows, "total": total, "page": page, "pages": pages, "filters": filters,
        "actions": AUDIT_ACTIONS,
        "page_url": lambda n: "/admin/audit?" + urlencode({**filters, "page": n}),
    })
