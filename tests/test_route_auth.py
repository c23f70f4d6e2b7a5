"""Every route declares who may call it; public routes say so explicitly."""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from govhub.app import PUBLIC_MOUNTS


def _declarations(dependant: Dependant) -> set[str]:
    found: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        kind = getattr(current.call, "__govhub_auth__", None)
        if kind:
            found.add(kind)
        stack.extend(current.dependencies)
    return found


def test_every_route_declares_its_authorization(app):
    undeclared = []
    checked = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            assert route.path in PUBLIC_MOUNTS, f"mount {route.path} is not declared public"
            continue
        assert isinstance(route, APIRoute), f"unexpected route type {type(route).__name__} at {context.path}"
        checked += 1
        if not _declarations(route.dependant):
            undeclared.append(f"{sorted(route.methods)} {context.path}")
    assert checked > 20
    assert not undeclared, "routes without an auth declaration:\n" + "\n".join(undeclared)


def test_meta_test_catches_an_undeclared_route():
    from fastapi import FastAPI

    probe = FastAPI()

    @probe.get("/leaky")
    async def leaky() -> dict[str, str]:
        return {}

    routes = [c.original_route for c in iter_route_contexts(probe.routes) if c.path == "/leaky"]
    assert routes and not _declarations(routes[0].dependant)


async def test_write_routes_refuse_requests_without_csrf(app, client):
    """Every POST/PUT/PATCH/DELETE page route rejects a cookie-carrying form without a token."""
    from tests import factories as f

    await f.register_citizen(client)
    refused = 0
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not (route.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            continue
        if "oauth_client" in _declarations(route.dependant):
            continue  # called by servers with client credentials, not by browsers
        path = context.path.replace("{kind}", "citizen").replace("{", "").replace("}", "")
        method = sorted(route.methods & {"POST", "PUT", "PATCH", "DELETE"})[0]
        response = await client.request(method, path, data={"anything": "x"})
        assert response.status_code == 403, f"{method} {path} answered {response.status_code}"
        refused += 1
    assert refused > 5
