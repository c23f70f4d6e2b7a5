"""OpenID Connect provider of Digital ID: discovery, JWKS, authorize, consent, token, userinfo.

The server side is written on joserfc (JWT, JWS, JWK) rather than on Authlib's
AuthorizationServer: that server is synchronous, while our storage is async SQLAlchemy, so
its grant and storage hooks could not await the database. Authlib is still used for the
PKCE S256 transform, and relying parties may use any standard client (the tests use Authlib's).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.db import SessionDep
from govhub.identity import audit, keys, repository
from govhub.identity.audit import AuditAction
from govhub.identity.auth import Caller, OAuthBearer, OAuthClientAuth, PublicCaller, SignedIn
from govhub.identity.clients import ACCESS_TOKEN_TYP, OIDC_SCOPES, OAuthError, token_endpoint_url
from govhub.identity.models import Account, Agency, AuthorizationCode, OAuthClient, OAuthConsent
from govhub.kit.clock import utcnow
from govhub.kit.crypto import new_token, token_digest
from govhub.kit.errors import AppError
from govhub.kit.i18n import N_
from govhub.web.forms import see_other
from govhub.web.middleware import DEFAULT_CSP
from govhub.web.templating import render

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Authentication context: identity assurance (IAL) and authenticator assurance (AAL) together.
ACR_VALUES = tuple(f"urn:govhub:ial{ial}:aal{aal}" for ial in (1, 2) for aal in (1, 2))
_ACR = re.compile(r"^urn:govhub:ial(\d):aal(\d)$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256 digest
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 section 4.1
AUTHORIZE_PARAMS = (
    "client_id", "redirect_uri", "response_type", "scope", "state", "nonce",
    "code_challenge", "code_challenge_method", "prompt", "response_mode",
)  # fmt: skip
CONSENT_PATH = "/sign-in/consent"


class OAuthRoute(APIRoute):
    """Answers an OAuthError in the RFC 6749 shape, with no-store and any challenge header."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler, dependencies included, so client-auth failures are caught too."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except OAuthError as error:
                return JSONResponse(
                    error.to_dict(),
                    status_code=error.status_code,
                    headers={**NO_STORE, **error.headers},
                )

        return handle


router = APIRouter(include_in_schema=False, route_class=OAuthRoute)


class UnknownClient(AppError):
    """The authorization request names no active client: shown, never redirected."""

    status_code = 400
    code = "invalid_client"
    message = N_(
        "This service is not registered with Digital ID, or has been switched off. You have not been signed in to it."
    )


class UnregisteredRedirect(AppError):
    """The redirect URI is not one the client registered: shown, never redirected."""

    status_code = 400
    code = "invalid_redirect_uri"
    message = N_(
        "The service asked Digital ID to send you to an address it has not registered. For your safety, you have not been signed in to it."
    )


class AuthorizeError(Exception):
    """An authorization error that is sent back to the client's redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


@dataclass
class AuthorizationRequest:
    """A checked authorization request."""

    client: OAuthClient
    redirect_uri: str
    scopes: list[str]
    state: str | None
    nonce: str | None
    code_challenge: str
    prompt: set[str]
    max_age: int | None = None

    def hidden_fields(self) -> dict[str, str]:
        """The request as the consent form carries it back."""
        fields = {
            "client_id": self.client.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": " ".join(self.scopes),
            "state": self.state or "",
            "nonce": self.nonce or "",
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
        }
        return {name: value for name, value in fields.items() if value}


# --- Discovery and keys ---------------------------------------------------------------


@router.get("/.well-known/openid-configuration")
async def discovery(_: PublicCaller) -> JSONResponse:
    """OpenID Provider metadata (OpenID Connect Discovery 1.0)."""
    base = keys.issuer()
    document = {
        "issuer": base,
        "authorization_endpoint": f"{base}/oidc/authorize",
        "token_endpoint": token_endpoint_url(),
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "jwks_uri": f"{base}/oidc/jwks",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys.ALG],
        "scopes_supported": list(OIDC_SCOPES),
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "name",
            "locale",
            "account_kind",
            "email",
            "email_verified",
            "national_id",
            "ial",
            "aal",
        ],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
        "code_challenge_methods_supported": ["S256"],
        # urn:govhub:ial<1|2>:aal<1|2>: IAL2 = identity checked with a registry, AAL2 = two factors.
        "acr_values_supported": list(ACR_VALUES),
        "ui_locales_supported": ["th", "en"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})


@router.get("/oidc/jwks")
async def jwks(session: SessionDep, _: PublicCaller) -> JSONResponse:
    """The public signing keys, including rotated keys whose tokens may still be live."""
    document = await keys.jwks_document(session)
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})


# --- Authorization endpoint (browser) ---------------------------------------------------


def _client_redirect(redirect_uri: str, params: Mapping[str, str | None]) -> Response:
    """Send the browser back to the client with params added to its redirect URI's query."""
    parts = urlsplit(redirect_uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(name, value) for name, value in params.items() if value]
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    response = see_other(location)
    response.headers.update(NO_STORE)
    return response


def _error_redirect(auth: tuple[str, str | None], error: AuthorizeError) -> Response:
    redirect_uri, state = auth
    params = {
        "error": error.error,
        "error_description": error.description,
        "state": state,
        "iss": keys.issuer(),
    }
    return _client_redirect(redirect_uri, params)


def _error_page(request: Request, error: AppError) -> Response:
    context = {"message": error.translated(), "code": error.code}
    response = render(request, "identity/oidc_error.html", context, status_code=error.status_code)
    response.headers.update(NO_STORE)
    return response


async def _client_and_redirect(
    session: AsyncSession, params: Mapping[str, Any]
) -> tuple[OAuthClient, str]:
    """The client and its redirect URI, compared by exact string equality (no patterns)."""
    client_id = params.get("client_id")
    client = (
        await repository.client_by_client_id(session, client_id)
        if isinstance(client_id, str)
        else None
    )
    if client is None or not client.is_active:
        raise UnknownClient()
    redirect_uri = params.get("redirect_uri")
    if not isinstance(redirect_uri, str) or redirect_uri not in client.redirect_uris:
        raise UnregisteredRedirect()
    return client, redirect_uri


def _param(params: Mapping[str, Any], name: str, limit: int = 512) -> str | None:
    value = params.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise AuthorizeError("invalid_request", f"{name} is malformed or too long.")
    return value or None


def _checked_scopes(client: OAuthClient, scope: str | None) -> list[str]:
    requested = list(dict.fromkeys((scope or "").split()))
    if "openid" not in requested:
        raise AuthorizeError("invalid_scope", "The openid scope is required.")
    allowed = set(client.scopes) & set(OIDC_SCOPES)
    unknown = [s for s in requested if s not in allowed]
    if unknown:
        raise AuthorizeError(
            "invalid_scope", f"Scopes not allowed for this client: {' '.join(unknown)}."
        )
    return requested


def _checked_request(
    client: OAuthClient, redirect_uri: str, params: Mapping[str, Any]
) -> AuthorizationRequest:
    """Validate everything that is reported back to the client as an error redirect."""
    if "authorization_code" not in client.grant_types:
        raise AuthorizeError(
            "unauthorized_client", "This client may not use the authorization code flow."
        )
    if _param(params, "response_type") != "code":
        raise AuthorizeError("unsupported_response_type", "Only response_type=code is supported.")
    if _param(params, "response_mode") not in (None, "query"):
        raise AuthorizeError("invalid_request", "Only response_mode=query is supported.")
    if params.get("request") or params.get("request_uri"):
        raise AuthorizeError("request_not_supported", "Request objects are not supported.")
    challenge = _param(params, "code_challenge")
    if not challenge:
        raise AuthorizeError("invalid_request", "code_challenge is required (PKCE with S256).")
    if _param(params, "code_challenge_method") != "S256":
        raise AuthorizeError("invalid_request", "code_challenge_method must be S256.")
    if not _CHALLENGE.match(challenge):
        raise AuthorizeError("invalid_request", "code_challenge is not a base64url SHA-256 digest.")
    return AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=_checked_scopes(client, _param(params, "scope")),
        state=_param(params, "state", 1024),
        nonce=_param(params, "nonce", 255),
        code_challenge=challenge,
        prompt=set((_param(params, "prompt") or "").split()),
        max_age=_max_age(_param(params, "max_age")),
    )


def _max_age(value: str | None) -> int | None:
    """OIDC max_age: seconds since the person last actively signed in, or None."""
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise AuthorizeError("invalid_request", "max_age must be a whole number of seconds.")
    return int(value)


def _needs_fresh_sign_in(auth: AuthorizationRequest, caller: Caller) -> bool:
    """prompt=login, or a sign-in older than max_age (OIDC Core 3.1.2.1)."""
    if "login" in auth.prompt:
        return True
    if auth.max_age is None:
        return False
    return (utcnow() - caller.session.auth_time).total_seconds() > auth.max_age


def _return_url(request: Request) -> str:
    """This authorize URL without prompt=login, so that signing in again does not loop."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "prompt"]
    prompt = " ".join(p for p in request.query_params.get("prompt", "").split() if p != "login")
    if prompt:
        params.append(("prompt", prompt))
    return f"{request.url.path}?{urlencode(params)}"


async def _parse(
    request: Request, session: AsyncSession, params: Mapping[str, Any]
) -> AuthorizationRequest | Response:
    """The checked request, or the response that refuses it (a page, or a redirect)."""
    try:
        client, redirect_uri = await _client_and_redirect(session, params)
    except (UnknownClient, UnregisteredRedirect) as error:
        return _error_page(request, error)
    try:
        return _checked_request(client, redirect_uri, params)
    except AuthorizeError as error:
        state = params.get("state") if isinstance(params.get("state"), str) else None
        return _error_redirect((redirect_uri, state), error)


def acr_of(caller: Caller) -> str:
    """The acr value for this sign-in: both assurance levels."""
    return f"urn:govhub:ial{caller.ial}:aal{caller.aal}"


def _amr_of(caller: Caller) -> list[str]:
    # RFC 8176 values; the session does not record whether TOTP or a recovery code was used.
    return ["pwd", "mfa"] if caller.aal >= 2 else ["pwd"]


async def _granted_scopes(session: AsyncSession, account_id: str, client_id: str) -> set[str]:
    consent = await _consent(session, account_id, client_id)
    return set(consent.scopes) if consent is not None and consent.revoked_at is None else set()


async def _consent(session: AsyncSession, account_id: str, client_id: str) -> OAuthConsent | None:
    query = select(OAuthConsent).where(
        OAuthConsent.account_id == account_id, OAuthConsent.client_id == client_id
    )
    return await session.scalar(query)


async def _code_redirect(
    session: AsyncSession, caller: Caller, auth: AuthorizationRequest
) -> Response:
    """Issue a one-time code bound to client, redirect URI and PKCE challenge; send it back."""
    code = new_token(32)
    session.add(
        AuthorizationCode(
            code_digest=token_digest(code),
            client_id=auth.client.client_id,
            account_id=caller.account.id,
            session_id=caller.session.id,
            redirect_uri=auth.redirect_uri,
            scope=" ".join(auth.scopes),
            nonce=auth.nonce,
            code_challenge=auth.code_challenge,
            code_challenge_method="S256",
            acr=acr_of(caller),
            amr=_amr_of(caller),
            auth_time=caller.session.auth_time,
            expires_at=utcnow() + timedelta(seconds=get_settings().oidc_code_ttl_seconds),
        )
    )
    await session.flush()
    params = {"code": code, "state": auth.state, "iss": keys.issuer()}
    return _client_redirect(auth.redirect_uri, params)


def _needs_sign_in(
    request: Request, auth: AuthorizationRequest, caller: Caller | None
) -> Response | None:
    """Send people who are not (fully) signed in to sign in, then back here."""
    here = quote(_return_url(request), safe="")
    if caller is None:
        target = f"/sign-in?next={here}"
    elif _needs_fresh_sign_in(auth, caller):
        target = f"/sign-in?force=1&next={here}"
    elif caller.account.requires_second_factor and caller.aal < 2:
        # Officers and administrators act for the state: never on a password alone.
        target = f"/account/two-factor/setup?next={here}"
    else:
        return None
    if "none" in auth.prompt:
        return _error_redirect(
            (auth.redirect_uri, auth.state),
            AuthorizeError("login_required", "The user is not signed in."),
        )
    return see_other(target)


@router.get("/oidc/authorize")
async def authorize(request: Request, session: SessionDep, caller: PublicCaller) -> Response:
    """Authorization endpoint: sign in, ask consent the first time, return a code."""
    auth = await _parse(request, session, request.query_params)
    if isinstance(auth, Response):
        return auth
    redirect = _needs_sign_in(request, auth, caller)
    if redirect is not None or caller is None:
        return redirect  # type: ignore[return-value]
    granted = await _granted_scopes(session, caller.account.id, auth.client.client_id)
    if set(auth.scopes) <= granted and "consent" not in auth.prompt:
        return await _code_redirect(session, caller, auth)
    if "none" in auth.prompt:
        return _error_redirect(
            (auth.redirect_uri, auth.state),
            AuthorizeError("consent_required", "The user has not consented."),
        )
    return await _consent_page(request, session, auth, granted)


async def _consent_page(
    request: Request, session: AsyncSession, auth: AuthorizationRequest, granted: set[str]
) -> Response:
    agency = await session.get(Agency, auth.client.agency_id) if auth.client.agency_id else None
    context = {
        "client": auth.client,
        "agency_name": agency.name(request.state.locale) if agency else None,
        "scopes": auth.scopes,
        "new_scopes": [s for s in auth.scopes if s not in granted],
        "fields": auth.hidden_fields(),
        "action": CONSENT_PATH,
        "client_host": urlsplit(auth.redirect_uri).hostname,
    }
    response = render(request, "identity/oidc_consent.html", context)
    # The form posts here, and the answer redirects to the client: browsers apply form-action
    # to that redirect too, so this page's policy names the client's origin.
    parts = urlsplit(auth.redirect_uri)
    response.headers["Content-Security-Policy"] = DEFAULT_CSP.replace(
        "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}"
    )
    response.headers.update(NO_STORE)
    return response


async def _remember_consent(
    session: AsyncSession, account_id: str, auth: AuthorizationRequest
) -> None:
    consent = await _consent(session, account_id, auth.client.client_id)
    if consent is None:
        consent = OAuthConsent(account_id=account_id, client_id=auth.client.client_id, scopes=[])
        session.add(consent)
    previous = [] if consent.revoked_at else list(consent.scopes)
    consent.scopes = list(dict.fromkeys(previous + auth.scopes))
    consent.granted_at, consent.revoked_at = utcnow(), None
    await audit.record(
        session,
        AuditAction.CONSENT_GRANTED,
        actor_id=account_id,
        client_id=auth.client.client_id,
        scopes=auth.scopes,
    )


@router.post(CONSENT_PATH)
async def consent_submit(request: Request, session: SessionDep, caller: SignedIn) -> Response:
    """The person's answer on the consent page: remember it and return to the client."""
    form = await request.form()
    auth = await _parse(request, session, {name: form.get(name) for name in AUTHORIZE_PARAMS})
    if isinstance(auth, Response):
        return auth
    if form.get("decision") != "allow":
        return _error_redirect(
            (auth.redirect_uri, auth.state), AuthorizeError("access_denied", "The user declined.")
        )
    await _remember_consent(session, caller.account.id, auth)
    return await _code_redirect(session, caller, auth)


# --- Token endpoint (servers) -------------------------------------------------------------


def _form_value(form: Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


async def _consume_code(session: AsyncSession, code: str) -> AuthorizationCode:
    """Mark the code used in one conditional UPDATE, so of two redemptions only one wins."""
    digest, now = token_digest(code), utcnow()
    claimed = await session.scalars(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.code_digest == digest,
            AuthorizationCode.used_at.is_(None),
            AuthorizationCode.expires_at > now,
        )
        .values(used_at=now)
        .returning(AuthorizationCode)
    )
    row = claimed.one_or_none()
    if row is not None:
        return row
    known = await session.scalar(
        select(AuthorizationCode).where(AuthorizationCode.code_digest == digest)
    )
    if known is not None and known.used_at is not None:
        # A second redemption means the code leaked (or a client bug): record it for review.
        raise OAuthError(
            "invalid_grant",
            "The authorization code has already been used.",
            audit_details={"reason": "code_reused", "subject_id": known.account_id},
        )
    raise OAuthError("invalid_grant", "The authorization code is invalid or has expired.")


def _check_binding(
    row: AuthorizationCode, client: OAuthClient, redirect_uri: str, verifier: str
) -> None:
    """The code must come back from its client, with its redirect URI and PKCE verifier."""
    if row.client_id != client.client_id:
        raise OAuthError("invalid_grant", "The authorization code was issued to another client.")
    if row.redirect_uri != redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.")
    expected = create_s256_code_challenge(verifier) if _VERIFIER.match(verifier) else ""
    if not hmac.compare_digest(expected.encode(), row.code_challenge.encode()):
        raise OAuthError("invalid_grant", "PKCE verification failed.")


def _at_hash(access_token: str) -> str:
    """OIDC at_hash: left half of the SHA-256 of the access token (ES256 uses SHA-256)."""
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


async def _authorization_code_grant(
    session: AsyncSession, client: OAuthClient, form: Mapping[str, Any]
) -> dict[str, Any]:
    code, redirect_uri = _form_value(form, "code"), _form_value(form, "redirect_uri")
    verifier = _form_value(form, "code_verifier")
    if "authorization_code" not in client.grant_types:
        raise OAuthError(
            "unauthorized_client", "This client may not use the authorization code grant."
        )
    if not code or not redirect_uri:
        raise OAuthError("invalid_request", "code and redirect_uri are required.")
    if not verifier:
        raise OAuthError("invalid_request", "code_verifier is required (PKCE).")
    row = await _consume_code(session, code)
    _check_binding(row, client, redirect_uri, verifier)
    account = await repository.account_by_id(session, row.account_id)
    if account is None or not account.is_active:
        raise OAuthError("invalid_grant", "The account is no longer active.")
    return await _user_tokens(session, client, account, row)


async def _user_tokens(
    session: AsyncSession, client: OAuthClient, account: Account, row: AuthorizationCode
) -> dict[str, Any]:
    """An RFC 9068 access token and an ID token for the person who signed in."""
    ttl, now = get_settings().oidc_access_token_ttl_seconds, int(time.time())
    common = {
        "iss": keys.issuer(),
        "sub": account.id,
        "iat": now,
        "exp": now + ttl,
        "auth_time": int(row.auth_time.timestamp()),
        "acr": row.acr,
        "amr": row.amr,
    }
    access_token = await keys.sign(
        session,
        {
            **common,
            "aud": keys.issuer(),
            "client_id": client.client_id,
            "scope": row.scope,
            "jti": new_token(16),
        },
        typ=ACCESS_TOKEN_TYP,
    )
    id_claims = {
        **common,
        "aud": client.client_id,
        "azp": client.client_id,
        "at_hash": _at_hash(access_token),
    }
    if row.nonce:
        id_claims["nonce"] = row.nonce
    id_token = await keys.sign(session, id_claims, typ="JWT")
    await audit.record(
        session,
        AuditAction.TOKEN_ISSUED,
        subject_id=account.id,
        client_id=client.client_id,
        grant_type="authorization_code",
        scope=row.scope,
    )
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": row.scope,
        "id_token": id_token,
    }


async def _client_credentials_grant(
    session: AsyncSession, client: OAuthClient, form: Mapping[str, Any]
) -> dict[str, Any]:
    """A machine client's own access token, for scopes it was registered with."""
    if client.client_type != "confidential" or "client_credentials" not in client.grant_types:
        raise OAuthError(
            "unauthorized_client", "This client may not use the client credentials grant."
        )
    allowed = [s for s in client.scopes if s not in OIDC_SCOPES]
    requested = list(dict.fromkeys((_form_value(form, "scope") or "").split())) or allowed
    if not requested or not set(requested) <= set(allowed):
        raise OAuthError("invalid_scope", "The requested scope is not registered for this client.")
    ttl, now = get_settings().oidc_access_token_ttl_seconds, int(time.time())
    scope = " ".join(requested)
    claims = {
        "iss": keys.issuer(),
        "sub": client.client_id,
        "aud": keys.issuer(),
        "client_id": client.client_id,
        "scope": scope,
        "iat": now,
        "exp": now + ttl,
        "jti": new_token(16),
    }
    access_token = await keys.sign(session, claims, typ=ACCESS_TOKEN_TYP)
    await audit.record(
        session,
        AuditAction.TOKEN_ISSUED,
        client_id=client.client_id,
        grant_type="client_credentials",
        scope=scope,
    )
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl, "scope": scope}


GRANTS = {
    "authorization_code": _authorization_code_grant,
    "client_credentials": _client_credentials_grant,
}


@router.post("/oidc/token")
async def token(request: Request, session: SessionDep, caller: OAuthClientAuth) -> JSONResponse:
    """Token endpoint: authorization code (with PKCE) and client credentials."""
    form = await request.form()
    grant_type = _form_value(form, "grant_type") or ""
    try:
        grant = GRANTS.get(grant_type)
        if grant is None:
            raise OAuthError(
                "unsupported_grant_type", "Use authorization_code or client_credentials."
            )
        body = await grant(session, caller.client, form)
    except OAuthError as error:
        details = {"reason": error.code, **error.audit_details}
        await audit.record(
            session,
            AuditAction.TOKEN_REFUSED,
            outcome="failure",
            client_id=caller.client.client_id,
            grant_type=grant_type[:64],
            **details,
        )
        raise
    return JSONResponse(body, headers=NO_STORE)


# --- UserInfo (resource) -----------------------------------------------------------------


def _levels(acr: Any) -> tuple[int, int]:
    match = _ACR.match(acr) if isinstance(acr, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


def _claims(account: Account, scopes: set[str], token: Mapping[str, Any]) -> dict[str, Any]:
    """What the person agreed to share, by scope."""
    claims: dict[str, Any] = {"sub": account.id}
    if "profile" in scopes:
        claims.update(
            name=account.full_name, locale=account.preferred_locale, account_kind=account.kind.value
        )
    if "email" in scopes:
        # Addresses are typed at registration and never confirmed by a message.
        claims.update(email=account.email, email_verified=False)
    if "national_id" in scopes and account.national_id:
        claims["national_id"] = account.national_id
    if "ial" in scopes:
        ial, aal = _levels(token.get("acr"))
        claims.update(ial=ial, aal=aal)
    return claims


@router.api_route("/oidc/userinfo", methods=["GET", "POST"])
async def userinfo(session: SessionDep, token: OAuthBearer) -> JSONResponse:
    """UserInfo endpoint: the signed-in person's claims, for an access token with openid."""
    scopes = set(str(token.get("scope", "")).split())
    if "openid" not in scopes:
        challenge = 'Bearer realm="govhub", error="insufficient_scope", scope="openid"'
        raise OAuthError(
            "insufficient_scope",
            "The access token lacks the openid scope.",
            status_code=403,
            headers={"WWW-Authenticate": challenge},
        )
    account = await repository.account_by_id(session, str(token["sub"]))
    if account is None or not account.is_active:
        raise OAuthError(
            "invalid_token",
            "The account is no longer active.",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="govhub", error="invalid_token"'},
        )
    return JSONResponse(_claims(account, scopes, token), headers=NO_STORE)
