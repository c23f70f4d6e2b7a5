"""Administration of OpenID clients: pages to register and disable them, and a JSON API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from govhub.db import SessionDep
from govhub.identity import clients, repository
from govhub.identity.auth import Admin
from govhub.identity.models import OAuthClient
from govhub.kit.errors import AppError, ValidationFailed
from govhub.kit.i18n import N_
from govhub.web.forms import form_error, see_other
from govhub.web.templating import render

# Full paths in each decorator (no router prefix): metrics and the route meta-test see real paths.
router = APIRouter()
API = "/api/v1/identity/clients"


class ClientCreate(BaseModel):
    """A client to register."""

    name: str = Field(min_length=1, max_length=255, examples=["Tax filing portal"])
    client_type: Literal["confidential", "public"] = "confidential"
    token_endpoint_auth_method: Literal[
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
    ] = "client_secret_basic"
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    grant_types: list[Literal["authorization_code", "client_credentials"]] = Field(
        default_factory=lambda: ["authorization_code"]
    )
    scopes: list[str] = Field(default_factory=lambda: ["openid"], max_length=50)
    jwks: dict[str, Any] | None = None
    agency_id: str | None = None


class ClientRead(BaseModel):
    """A registered client (never its secret)."""

    model_config = ConfigDict(from_attributes=True)

    client_id: str
    name: str
    agency_id: str | None
    client_type: str
    token_endpoint_auth_method: str
    redirect_uris: list[str]
    grant_types: list[str]
    scopes: list[str]
    is_active: bool
    created_at: datetime


class ClientCreated(ClientRead):
    """A new client with its secret: shown once, never stored in clear."""

    client_secret: str | None = None


async def _register(
    session: SessionDep, caller: Admin, body: ClientCreate
) -> clients.RegisteredClient:
    return await clients.register_client(
        session,
        name=body.name,
        client_type=body.client_type,
        token_endpoint_auth_method=body.token_endpoint_auth_method,
        redirect_uris=body.redirect_uris,
        grant_types=list(body.grant_types),
        scopes=body.scopes,
        jwks=body.jwks,
        agency_id=body.agency_id,
        actor_id=caller.account.id,
    )


# --- JSON API ---------------------------------------------------------------------------


@router.post(API, response_model=ClientCreated, status_code=201, tags=["identity"])
async def create_client_api(
    body: ClientCreate, session: SessionDep, caller: Admin
) -> ClientCreated:
    """Register a relying party or machine client (administrators); the secret is shown once."""
    registered = await _register(session, caller, body)
    read = ClientRead.model_validate(registered.client)
    return ClientCreated(**read.model_dump(), client_secret=registered.secret)


@router.get(API, response_model=list[ClientRead], tags=["identity"])
async def list_clients_api(session: SessionDep, caller: Admin) -> list[ClientRead]:
    """Every registered client, newest first (administrators)."""
    return [ClientRead.model_validate(c) for c in await repository.list_clients(session)]


# --- Pages ------------------------------------------------------------------------------


async def _form_context(request: Request, session: SessionDep, form: dict[str, Any]) -> dict[str, Any]:
    # Plain values: form_error rolls back, which would expire ORM rows before the page renders.
    agencies = [(a.id, a.name(request.state.locale)) for a in await repository.list_agencies(session)]
    return {"form": form, "agencies": agencies}


@router.get("/admin/clients", include_in_schema=False)
async def clients_page(request: Request, session: SessionDep, caller: Admin) -> HTMLResponse:
    """The registered clients."""
    rows: list[OAuthClient] = list(await repository.list_clients(session))
    return render(request, "identity/oidc_clients.html", {"clients": rows})


@router.get("/admin/clients/new", include_in_schema=False)
async def new_client_form(request: Request, session: SessionDep, caller: Admin) -> HTMLResponse:
    """The form to register a client."""
    defaults = {
        "client_type": "confidential",
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code"],
        "scopes": "openid profile",
    }
    return render(request, "identity/oidc_client_form.html", await _form_context(request, session, defaults))


def _parsed_jwks(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ValidationFailed(N_("The JWKS could not be read."), field="jwks") from error
    return value if isinstance(value, dict) else {}


@router.post("/admin/clients", include_in_schema=False)
async def new_client_submit(
    request: Request,
    session: SessionDep,
    caller: Admin,
    name: Annotated[str, Form(max_length=255)] = "",
    client_type: Annotated[str, Form(max_length=16)] = "",
    token_endpoint_auth_method: Annotated[str, Form(max_length=32)] = "",
    redirect_uris: Annotated[str, Form(max_length=20000)] = "",
    grant_types: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    scopes: Annotated[str, Form(max_length=2000)] = "",
    jwks: Annotated[str, Form(max_length=50000)] = "",
    agency_id: Annotated[str, Form(max_length=36)] = "",
) -> Response:
    """Register the client and show its secret once."""
    form = {
        "name": name,
        "client_type": client_type,
        "token_endpoint_auth_method": token_endpoint_auth_method,
        "redirect_uris": redirect_uris,
        "grant_types": grant_types,
        "scopes": scopes,
        "jwks": jwks,
        "agency_id": agency_id,
    }
    try:
        registered = await clients.register_client(
            session,
            name=name,
            client_type=client_type,
            token_endpoint_auth_method=token_endpoint_auth_method,
            redirect_uris=redirect_uris.split(),
            grant_types=grant_types,
            scopes=scopes.split(),
            jwks=_parsed_jwks(jwks),
            agency_id=agency_id or None,
            actor_id=caller.account.id,
        )
    except AppError as error:
        context = await _form_context(request, session, form)
        return await form_error(request, session, "identity/oidc_client_form.html", error, context)
    response = render(
        request,
        "identity/oidc_client_created.html",
        {"client": registered.client, "secret": registered.secret},
    )
    response.headers["Cache-Control"] = "no-store"  # the secret must not stay in a cache
    return response


@router.post("/admin/clients/{client_id}/disable", include_in_schema=False)
async def disable_client_submit(client_id: str, session: SessionDep, caller: Admin) -> Response:
    """Switch a client off: no more sign-ins or tokens for it."""
    await clients.disable_client(session, client_id=client_id, actor_id=caller.account.id)
    return see_other("/admin/clients")
