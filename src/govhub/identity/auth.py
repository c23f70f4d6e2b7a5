"""Declared authorization: every route depends on exactly one of these, or on `public`.

The meta-test in tests/test_route_auth.py walks every route and fails on any that does not
depend on a function marked by `_declares_auth`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from govhub.db import SessionDep
from govhub.identity import repository
from govhub.identity.models import Account, AccountKind, OfficerRole, UserSession
from govhub.identity.sessions import SESSION_COOKIE, resolve_session
from govhub.kit.csrf import needs_csrf_check, verify_csrf
from govhub.kit.errors import AppError, Forbidden, NotAuthenticated
from govhub.kit.i18n import N_


class StepUpRequired(AppError):
    """The caller is signed in at too low an assurance level for this."""

    status_code = 401
    code = "step_up_required"
    message = N_("Please confirm it is you with a stronger sign-in to continue.")

    def __init__(self, *, ial: int, aal: int, enrolled: bool) -> None:
        super().__init__()
        self.required_ial, self.required_aal, self.enrolled = ial, aal, enrolled

    def to_dict(self) -> dict[str, Any]:
        """Tell API clients which levels are needed."""
        body = super().to_dict()
        body["error"].update(required_ial=self.required_ial, required_aal=self.required_aal)
        return body


@dataclass
class Caller:
    """Who is making the request, and how strongly they proved it."""

    account: Account
    session: UserSession
    agency_roles: dict[str, set[OfficerRole]] = field(default_factory=dict)

    @property
    def ial(self) -> int:
        """Identity assurance level of this sign-in (1 or 2)."""
        return max(self.session.ial, self.account.ial) if self.account.ial >= 2 else self.session.ial

    @property
    def aal(self) -> int:
        """Authenticator assurance level of this session (1 or 2)."""
        return self.session.aal

    @property
    def is_admin(self) -> bool:
        """True for platform administrators."""
        return self.account.kind == AccountKind.ADMIN

    @property
    def is_officer(self) -> bool:
        """True for agency officers."""
        return self.account.kind == AccountKind.OFFICER

    def has_role(self, agency_id: str, *roles: OfficerRole) -> bool:
        """True if the caller holds any of roles in the agency."""
        return bool(self.agency_roles.get(agency_id, set()) & set(roles))


@dataclass(frozen=True)
class CallerView:
    """Plain values about the caller for templates (safe after a rollback expires the ORM rows)."""

    account_id: str
    full_name: str
    kind: str
    is_admin: bool
    is_officer: bool
    aal: int
    ial: int


def _declares_auth(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a dependency as an authorization declaration (read by the route meta-test)."""

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        function.__govhub_auth__ = kind  # type: ignore[attr-defined]
        return function

    return mark


async def _load_caller(request: Request, session: SessionDep) -> Caller | None:
    """Resolve the session cookie to a caller, after the CSRF check for unsafe requests."""
    if hasattr(request.state, "caller"):
        return request.state.caller  # type: ignore[no-any-return]
    # Every browser-facing route resolves its caller here, so CSRF cannot be forgotten: a
    # form post, or any write that a session cookie would authenticate, needs the token.
    if needs_csrf_check(request, has_session_cookie=SESSION_COOKIE in request.cookies):
        await verify_csrf(request)
    record = await resolve_session(session, request.cookies.get(SESSION_COOKIE))
    caller = None
    if record is not None and not record.pending_second_factor:
        account = await repository.account_by_id(session, record.account_id)
        if account is not None and account.is_active:
            roles: dict[str, set[OfficerRole]] = {}
            for membership in account.memberships:
                roles.setdefault(membership.agency_id, set()).add(membership.role)
            caller = Caller(account=account, session=record, agency_roles=roles)
            request.state.caller_view = CallerView(
                account_id=account.id, full_name=account.full_name, kind=account.kind.value,
                is_admin=caller.is_admin, is_officer=caller.is_officer, aal=caller.aal, ial=caller.ial,
            )
    request.state.caller = caller
    request.state.session_record = record
    return caller


@_declares_auth("public")
async def public(request: Request, caller: Annotated[Caller | None, Depends(_load_caller)]) -> Caller | None:
    """Anyone may call this route; the caller, if signed in, is still known to the page."""
    return caller


@_declares_auth("public")
async def anyone() -> None:
    """Public, and needs nothing about the caller: health probes, the API description."""


def _check_staff_second_factor(caller: Caller) -> None:
    # Officers and administrators act for the state: never on a password alone.
    if caller.account.requires_second_factor and caller.aal < 2:
        raise StepUpRequired(ial=1, aal=2, enrolled=caller.account.totp_enabled)


@_declares_auth("signed_in")
async def signed_in(caller: Annotated[Caller | None, Depends(_load_caller)]) -> Caller:
    """Any signed-in person (staff must have used their second factor)."""
    if caller is None:
        raise NotAuthenticated()
    _check_staff_second_factor(caller)
    return caller


@_declares_auth("signed_in_any_level")
async def signed_in_any_level(caller: Annotated[Caller | None, Depends(_load_caller)]) -> Caller:
    """Signed in at any level: only for the pages that raise the level (2FA enrolment)."""
    if caller is None:
        raise NotAuthenticated()
    return caller


def require_assurance(*, ial: int = 1, aal: int = 1) -> Callable[..., Any]:
    """Build a dependency that demands minimum identity and authenticator levels."""

    @_declares_auth(f"assurance:ial{ial}:aal{aal}")
    async def dependency(caller: Annotated[Caller, Depends(signed_in)]) -> Caller:
        if caller.aal < aal or caller.ial < ial:
            raise StepUpRequired(ial=ial, aal=aal, enrolled=caller.account.totp_enabled)
        return caller

    return dependency


@_declares_auth("admin")
async def admin(caller: Annotated[Caller, Depends(signed_in)]) -> Caller:
    """Platform administrators only (always at AAL2)."""
    if not caller.is_admin:
        raise Forbidden()
    return caller


@dataclass(frozen=True)
class TokenOrSessionCaller:
    """The caller of a CKAN-style API: by API token, by session cookie, or anonymous."""

    caller: Caller | None
    # True when a token was sent but is unknown, expired or revoked (the API answers 403).
    bad_token: bool = False
    via_token: bool = False
    # True for staff signed in with a password only: they are treated as anonymous, and refused writes.
    needs_second_factor: bool = False


def _api_token_from(request: Request) -> str | None:
    # CKAN clients send the bare token in Authorization (ckanapi also in X-CKAN-API-Key).
    value = request.headers.get("authorization") or request.headers.get("x-ckan-api-key")
    if not value:
        return None
    return value[7:].strip() if value.lower().startswith("bearer ") else value.strip()


@_declares_auth("api_token_or_session")
async def api_token_or_session(request: Request, session: SessionDep) -> TokenOrSessionCaller:
    """An API token if one is sent (no CSRF: a token is not ambient), else the browser session."""
    from govhub.identity import api_tokens

    token = _api_token_from(request)
    if token is None:
        caller = await _load_caller(request, session)
        if caller is not None and caller.account.requires_second_factor and caller.aal < 2:
            # Officers act for the state only after their second factor, through the API as on pages.
            return TokenOrSessionCaller(caller=None, needs_second_factor=True)
        return TokenOrSessionCaller(caller=caller)
    account = await api_tokens.account_for_token(session, token)
    if account is None:
        return TokenOrSessionCaller(caller=None, bad_token=True)
    roles: dict[str, set[OfficerRole]] = {}
    for membership in account.memberships:
        roles.setdefault(membership.agency_id, set()).add(membership.role)
    # Not stored: a token stands for the AAL2 session that created it (see identity.api_tokens).
    standing = UserSession(account_id=account.id, token_digest="", ial=account.ial, aal=2)
    return TokenOrSessionCaller(caller=Caller(account=account, session=standing, agency_roles=roles), via_token=True)


PublicCaller = Annotated[Caller | None, Depends(public)]
ApiTokenOrSession = Annotated[TokenOrSessionCaller, Depends(api_token_or_session)]
Anyone = Annotated[None, Depends(anyone)]
SignedIn = Annotated[Caller, Depends(signed_in)]
SignedInAnyLevel = Annotated[Caller, Depends(signed_in_any_level)]
Admin = Annotated[Caller, Depends(admin)]


# The OpenID provider's server-to-server callers (imported here, after the browser rules).
from govhub.identity.clients import AuthenticatedClient, authenticate_client, verify_bearer_token  # noqa: E402, I001


@_declares_auth("oauth_client")
async def oauth_client_auth(request: Request, session: SessionDep) -> AuthenticatedClient:
    """Servers at the token endpoint: client secret, private_key_jwt, or (public) client_id alone."""
    # Not a browser route: no cookie, so no CSRF token; the client's own credential is the proof.
    return await authenticate_client(session, request)


@_declares_auth("oauth_client")
async def oauth_bearer(request: Request, session: SessionDep) -> dict[str, Any]:
    """A server holding an access token we issued (RFC 6750 Bearer header): UserInfo and APIs."""
    # Same kind as the token endpoint: an OAuth client calling, never a cookie, so no CSRF.
    return await verify_bearer_token(session, request.headers.get("authorization", ""))


OAuthClientAuth = Annotated[AuthenticatedClient, Depends(oauth_client_auth)]
OAuthBearer = Annotated[dict[str, Any], Depends(oauth_bearer)]


@dataclass(frozen=True)
class MachineCaller:
    """An agency system calling with its own client-credentials access token."""

    client_id: str
    agency_id: str | None
    scopes: frozenset[str]


def _machine_scopes(claims: dict[str, Any], scope: str) -> frozenset[str]:
    """The scopes of an agency system's own token, which must include `scope`."""
    # A token issued to a person (sub = account) is not an agency system's credential.
    if claims.get("sub") != claims.get("client_id"):
        raise Forbidden(N_("This API is for agency systems using their own client credentials."))
    granted = frozenset(str(claims.get("scope", "")).split())
    if scope not in granted:
        raise Forbidden(N_("The access token does not carry the scope this API needs."), code="insufficient_scope")
    return granted


def require_client_scope(scope: str) -> Callable[..., Any]:
    """Build a dependency for machine APIs: a client-credentials token carrying `scope`."""

    @_declares_auth("oauth_client")
    async def dependency(claims: OAuthBearer, session: SessionDep) -> MachineCaller:
        granted = _machine_scopes(claims, scope)
        client = await repository.client_by_client_id(session, str(claims["client_id"]))
        if client is None or not client.is_active:
            raise NotAuthenticated(CLIENT_DISABLED)
        return MachineCaller(client_id=client.client_id, agency_id=client.agency_id, scopes=granted)

    return dependency


CLIENT_DISABLED = N_("This client is disabled.")


@dataclass(frozen=True)
class ClientToken:
    """A verified client-credentials token; whether its client is still active is not yet known."""

    client_id: str
    scopes: frozenset[str]


def require_client_token(scope: str) -> Callable[..., Any]:
    """Like require_client_scope, for a route whose own query checks that the client is active.

    The GDX call does (its one query joins the client), saving a round trip on the hottest
    route; such a route must refuse with CLIENT_DISABLED when the client is inactive.
    """

    @_declares_auth("oauth_client")
    async def dependency(claims: OAuthBearer) -> ClientToken:
        return ClientToken(client_id=str(claims["client_id"]), scopes=_machine_scopes(claims, scope))

    return dependency
