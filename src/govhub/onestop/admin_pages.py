"""Administrators edit the catalog in the browser: a service's whole definition, manual, e-form and workflow.

The text is the same YAML that `govhub catalog load` reads, checked by the same models, and
publishing it makes a new manual version: applications already made keep theirs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from govhub.db import SessionDep
from govhub.identity.auth import Admin
from govhub.kit.errors import NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.onestop import catalog, repository
from govhub.onestop.applications import definition_of_service
from govhub.web.forms import form_error, see_other
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)
DEFINITION_TEXT = catalog.MAX_FILE_BYTES


@router.get("/admin/services")
async def services_list(request: Request, session: SessionDep, caller: Admin) -> HTMLResponse:
    """Every public service, with its current version and a link to edit it."""
    services = await repository.search_services(session, words=[], limit=1000, offset=0)
    return render(request, "onestop/admin_services.html", {"services": services[0]})


@router.get("/admin/services/new")
async def new_service_form(request: Request, caller: Admin) -> HTMLResponse:
    """An empty definition to fill in (a copy of an existing one is the easiest start)."""
    return render(request, "onestop/admin_service_edit.html", {"service": None, "text": ""})


@router.get("/admin/services/{code}/edit")
async def edit_service_form(request: Request, code: str, session: SessionDep, caller: Admin) -> HTMLResponse:
    """The service's current definition as YAML."""
    service = await repository.service_by_code(session, code)
    if service is None:
        raise NotFound()
    definition = await definition_of_service(session, service)
    return render(request, "onestop/admin_service_edit.html", {"service": service, "text": catalog.as_yaml(definition)})


@router.post("/admin/services/publish")
async def publish_service(
    request: Request, session: SessionDep, caller: Admin,
    definition: Annotated[str, Form(max_length=DEFINITION_TEXT)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Check the definition and publish it as the service's next version (or as a new service)."""

    async def context() -> dict[str, object]:
        # Runs after the rollback, which expires every loaded row.
        return {"service": await repository.service_by_code(session, code) if code else None, "text": definition}

    try:
        parsed = catalog.parse_definition(definition)
        if code and parsed.code != code:
            raise ValidationFailed(N_("The code of a service cannot change; create a new service instead."), field="definition")
        if not code and await repository.service_by_code(session, parsed.code) is not None:
            raise ValidationFailed(N_("A service with this code exists already; edit it instead."), field="definition")
        outcome = await catalog.publish(session, parsed, actor_id=caller.account.id)
    except catalog.CatalogError as error:
        invalid = ValidationFailed(N_("The definition is not valid: %(problems)s"), field="definition", problems=str(error))
        return await form_error(request, session, "onestop/admin_service_edit.html", invalid, context)
    except ValidationFailed as error:
        return await form_error(request, session, "onestop/admin_service_edit.html", error, context)
    return see_other(f"/services/{parsed.code}?published={outcome}")
