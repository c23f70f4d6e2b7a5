"""Relying parties and machine clients of Digital ID: registration, and client authentication."""

from __future__ import annotations

import base64
import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from fastapi import Request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.db import dialect_insert
from govhub.identity import audit, keys, repository
from govhub.identity.audit import AuditAction
from govhub.identity.keys import issuer
from govhub.identity.models import Agency, OAuthClient, UsedClientAssertion
from govhub.kit import ratelimit
from govhub.kit.clock import utcnow
from govhub.kit.crypto import new_token, token_digest
from govhub.kit.ids import new_id
from govhub.kit.errors import AppError, NotFound, TooManyRequests, ValidationFailed
from govhub.kit.i18n import N_
from govhub.web.forms import client_ip

CLIENT_TYPES = ("confidential", "public")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
GRANT_TYPES = ("authorization_code", "client_credentials")
# Scopes that release a person's data; anything else is an API scope for client credentials.
OIDC_SCOPES = ("openid", "profile", "email", "national_id", "ial")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ("ES256", "RS256", "PS256")
# An assertion may live at most this long (Authlib's default lifetime); its jti is remembered
# for longer than that, so a replay within its lifetime is refused.
ASSERTION_MAX_SECONDS = 3600
_API_SCOPE = re.compile(r"^[a-z][a-z0-9_.:-]{1,63}$")


class OAuthError(AppError):
    """An RFC 6749 protocol error: JSON {"error", "error_description"}, never a page."""

    keeps_changes = True  # the token.refused audit event must be kept

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status_code: int = 400,
        headers: dict[str, str] | None = None,
        audit_details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description, code=error)
        self.status_code = status_code
        self.headers = headers or {}
        self.audit_details = audit_details or {}

    def translated(self) -> str:
        """Protocol errors are for developers: English, as RFC 6749 expects."""
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The RFC 6749 section 5.2 error body."""
        return {"error": self.code, "error_description": self.message}


@dataclass
class RegisteredClient:
    """A new client and, for secret-based methods, its secret (shown only now)."""

    client: OAuthClient
    secret: str | None


@dataclass
class AuthenticatedClient:
    """The client that called the token endpoint and how it proved who it is."""

    client: OAuthClient
    method: str


# --- Registration ---------------------------------------------------------------------


def _check_redirect_uri(uri: str) -> str:
    """Absolute, no fragment, HTTPS except on the loopback interface (RFC 8252)."""
    uri = uri.strip()
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc or len(uri) > 2000:
        raise ValidationFailed(
            N_("Each redirect URI must be a full address, like https://service.go.th/callback."),
            field="redirect_uris",
        )
    if "#" in uri or parts.username or parts.password:
        raise ValidationFailed(
            N_("A redirect URI must not contain a fragment (#) or a user name."),
            field="redirect_uris",
        )
    loopback = parts.scheme == "http" and (parts.hostname in ("127.0.0.1", "localhost", "::1"))
    if parts.scheme != "https" and not loopback:
        raise ValidationFailed(
            N_("Redirect URIs must use HTTPS (plain HTTP only for 127.0.0.1 or localhost)."),
            field="redirect_uris",
        )
    return uri


def _check_jwks(jwks: dict[str, Any] | None) -> dict[str, Any]:
    """A JWKS of public keys only, each usable to verify client assertions."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ValidationFailed(
            N_("private_key_jwt needs the client's public keys as a JWKS."), field="jwks"
        )
    try:
        keyset = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise ValidationFailed(N_("The JWKS could not be read."), field="jwks") from error
    if any(key.is_private for key in keyset.keys):
        raise ValidationFailed(
            N_("The JWKS contains a private key. Send only the public keys."), field="jwks"
        )
    return {"keys": [key.as_dict(private=False) for key in keyset.keys]}


def _check_scopes(scopes: list[str], grant_types: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    if any(s not in OIDC_SCOPES and not _API_SCOPE.match(s) for s in cleaned):
        raise ValidationFailed(
            N_("Scopes are short lower-case names such as openid or tax.read."), field="scopes"
        )
    if "authorization_code" in grant_types and "openid" not in cleaned:
        raise ValidationFailed(N_("A sign-in client needs the openid scope."), field="scopes")
    return cleaned


def _check_shape(
    client_type: str, method: str, grant_types: list[str], redirect_uris: list[str]
) -> None:
    if client_type not in CLIENT_TYPES:
        raise ValidationFailed(
            N_("Choose whether the client is confidential or public."), field="client_type"
        )
    if method not in AUTH_METHODS:
        raise ValidationFailed(
            N_("Choose how the client authenticates."), field="token_endpoint_auth_method"
        )
    if (client_type == "public") != (method == "none"):
        raise ValidationFailed(
            N_(
                "Public clients (apps that cannot keep a secret) use no client authentication, and only they do."
            ),
            field="token_endpoint_auth_method",
        )
    if not grant_types or any(g not in GRANT_TYPES for g in grant_types):
        raise ValidationFailed(N_("Choose at least one grant type."), field="grant_types")
    if client_type == "public" and "client_credentials" in grant_types:
        raise ValidationFailed(
            N_("Only confidential clients may use client credentials."), field="grant_types"
        )
    if "authorization_code" in grant_types and not redirect_uris:
        raise ValidationFailed(
            N_("A sign-in client needs at least one redirect URI."), field="redirect_uris"
        )


async def register_client(
    session: AsyncSession,
    *,
    name: str,
    client_type: str,
    token_endpoint_auth_method: str,
    redirect_uris: list[str],
    grant_types: list[str],
    scopes: list[str],
    jwks: dict[str, Any] | None = None,
    agency_id: str | None = None,
    actor_id: str | None,
    is_demo: bool = False,
) -> RegisteredClient:
    """Register a client after checking its shape; return it with its secret, if any."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed(
            N_("Enter the name people will see when they sign in."), field="name"
        )
    grant_types = list(dict.fromkeys(grant_types))
    uris = list(dict.fromkeys(u.strip() for u in redirect_uris if u.strip()))
    _check_shape(client_type, token_endpoint_auth_method, grant_types, uris)
    uris = [_check_redirect_uri(u) for u in uris]
    cleaned_scopes = _check_scopes(scopes, grant_types)
    keys = _check_jwks(jwks) if token_endpoint_auth_method == "private_key_jwt" else None
    if agency_id and await session.get(Agency, agency_id) is None:
        raise ValidationFailed(N_("Choose an agency from the list."), field="agency_id")
    secret = new_token(32) if token_endpoint_auth_method.startswith("client_secret") else None
    client = OAuthClient(
        client_id="gh-" + new_token(15),
        name=name[:255],
        agency_id=agency_id or None,
        client_type=client_type,
        token_endpoint_auth_method=token_endpoint_auth_method,
        # A 256-bit random secret needs no slow hash: SHA-256 is enough, and keeps the token
        # endpoint from spending argon2 time on every guess sent under a public client_id.
        secret_hash=secret_digest(secret) if secret else None,
        jwks=keys,
        redirect_uris=uris,
        grant_types=grant_types,
        scopes=cleaned_scopes,
        created_by=actor_id,
        is_demo=is_demo,
    )
    session.add(client)
    await session.flush()
    await audit.record(
        session,
        AuditAction.CLIENT_CREATED,
        actor_id=actor_id,
        client_id=client.client_id,
        client_type=client_type,
        auth_method=token_endpoint_auth_method,
        grant_types=grant_types,
    )
    return RegisteredClient(client=client, secret=secret)


async def disable_client(
    session: AsyncSession, *, client_id: str, actor_id: str | None
) -> OAuthClient:
    """Stop a client from signing anyone in or getting tokens."""
    client = await repository.client_by_client_id(session, client_id)
    if client is None:
        raise NotFound()
    client.is_active = False
    await audit.record(session, AuditAction.CLIENT_DISABLED, actor_id=actor_id, client_id=client_id)
    return client


# --- Client authentication at the token endpoint ----------------------------------------


def token_endpoint_url() -> str:
    """The token endpoint's absolute URL (an audience of client assertions)."""
    return issuer() + "/oidc/token"


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """client_id and secret from an RFC 6749 section 2.3.1 Basic header (form-encoded)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as error:
        raise _invalid_client("Malformed Basic credentials.", basic=True) from error
    return unquote_plus(client_id), unquote_plus(secret)


def _invalid_client(description: str, *, basic: bool = False) -> OAuthError:
    headers = {"WWW-Authenticate": 'Basic realm="govhub"'} if basic else None
    return OAuthError("invalid_client", description, status_code=401, headers=headers)


async def _refuse(
    session: AsyncSession, client_id: str | None, reason: str, error: OAuthError
) -> OAuthError:
    await audit.record(
        session,
        AuditAction.TOKEN_REFUSED,
        outcome="failure",
        client_id=(client_id or "")[:64] or None,
        reason=reason,
    )
    return error


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) and value else None


def _presented(request: Request, form: Any) -> tuple[str, str | None, str]:
    """Which method the caller used, the client_id it claims and the credential it sent."""
    basic = _basic_credentials(request)
    assertion, secret = _field(form, "client_assertion"), _field(form, "client_secret")
    if sum(x is not None for x in (basic, assertion, secret)) > 1:
        raise OAuthError("invalid_request", "Use exactly one client authentication method.")
    if basic is not None:
        return "client_secret_basic", basic[0], basic[1]
    if secret is not None:
        return "client_secret_post", _field(form, "client_id"), secret
    if assertion is not None:
        if _field(form, "client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError("invalid_request", "Unsupported client_assertion_type.")
        claimed, named = _assertion_issuer(assertion), _field(form, "client_id")
        if named is not None and claimed is not None and named != claimed:
            raise _invalid_client("client_id does not match the client assertion.")
        return "private_key_jwt", claimed or named, assertion
    return "none", _field(form, "client_id"), ""


def _assertion_issuer(assertion: str) -> str | None:
    """The unverified iss of an assertion: only used to find the keys that then verify it."""
    try:
        claims = json.loads(jws.extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError, TypeError):
        return None
    value = claims.get("iss") if isinstance(claims, dict) else None
    return value if isinstance(value, str) else None


async def authenticate_client(session: AsyncSession, request: Request) -> AuthenticatedClient:
    """Authenticate the caller of the token endpoint by its registered method."""
    form = await request.form()
    method, client_id, credential = _presented(request, form)
    if not client_id:
        raise await _refuse(
            session, None, "no_client_id", _invalid_client("Client authentication is required.")
        )
    try:
        # Keyed by client and address: wrong secrets sent from elsewhere under a client's id
        # must not use up the real client's allowance.
        address = client_ip(request) or "-"
        await ratelimit.hit(get_settings().oidc_token_rate_per_client, "oidc-token", client_id, address)
    except TooManyRequests as error:
        raise OAuthError(
            "slow_down", "Too many token requests from this client.", status_code=429
        ) from error
    client = await repository.client_by_client_id(session, client_id)
    if client is None or not client.is_active:
        raise await _refuse(
            session,
            client_id,
            "unknown_client",
            _invalid_client("Unknown or disabled client.", basic=method == "client_secret_basic"),
        )
    if method != client.token_endpoint_auth_method:
        raise await _refuse(
            session,
            client_id,
            "wrong_auth_method",
            _invalid_client(
                f"This client must authenticate with {client.token_endpoint_auth_method}."
            ),
        )
    if method.startswith("client_secret") and not (
        client.secret_hash and hmac.compare_digest(client.secret_hash, secret_digest(credential or ""))
    ):
        raise await _refuse(
            session,
            client_id,
            "wrong_secret",
            _invalid_client("Client authentication failed.", basic=method == "client_secret_basic"),
        )
    if method == "private_key_jwt":
        await _verify_assertion(session, client, credential)
    return AuthenticatedClient(client=client, method=method)


async def _verify_assertion(session: AsyncSession, client: OAuthClient, assertion: str) -> None:
    """RFC 7523: signed by a registered key, iss = sub = client_id, for us, short-lived, once."""
    try:
        keyset = KeySet.import_key_set(client.jwks or {"keys": []})  # type: ignore[arg-type]
        claims = jwt.decode(assertion, keyset, algorithms=list(ASSERTION_ALGS)).claims
        jwt.JWTClaimsRegistry(
            leeway=30,
            iss={"essential": True, "value": client.client_id},
            sub={"essential": True, "value": client.client_id},
            aud={"essential": True, "values": [token_endpoint_url(), issuer()]},
            exp={"essential": True},
            jti={"essential": True},
        ).validate(claims)
    except (JoseError, ValueError, TypeError) as error:
        raise await _refuse(
            session,
            client.client_id,
            "bad_assertion",
            _invalid_client("The client assertion is not valid."),
        ) from error
    if int(claims["exp"]) - time.time() > ASSERTION_MAX_SECONDS + 60:
        raise await _refuse(
            session,
            client.client_id,
            "long_assertion",
            _invalid_client("The client assertion lives too long."),
        )
    if not await _first_use_of_assertion(session, client.client_id, claims):
        raise await _refuse(
            session,
            client.client_id,
            "assertion_replayed",
            _invalid_client("The client assertion was already used."),
        )


async def _first_use_of_assertion(session: AsyncSession, client_id: str, claims: dict[str, Any]) -> bool:
    """Record the assertion's jti; False if it was seen before (a replay).

    A database row with a unique (client_id, jti) works across every web worker; a parallel
    replay waits on the first insert's lock and then inserts nothing.
    """
    now = utcnow()
    expires_at = datetime.fromtimestamp(int(claims["exp"]), tz=UTC) + timedelta(seconds=60)
    await session.execute(
        delete(UsedClientAssertion).where(
            UsedClientAssertion.client_id == client_id, UsedClientAssertion.expires_at < now
        )
    )
    statement = (
        dialect_insert(session)(UsedClientAssertion)
        .values(id=new_id(), client_id=client_id, jti=str(claims["jti"])[:255], expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["client_id", "jti"])
    )
    result = await session.execute(statement)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


# --- Access tokens presented to our own endpoints ----------------------------------------

ACCESS_TOKEN_TYP = "at+jwt"


def secret_digest(secret: str) -> str:
    """How a client secret is stored: a SHA-256 digest, prefixed to say so."""
    return "sha256:" + token_digest(secret)


def _invalid_token(description: str, *, error: str | None = "invalid_token") -> OAuthError:
    challenge = 'Bearer realm="govhub"' + (f', error="{error}"' if error else "")
    return OAuthError(
        error or "invalid_token",
        description,
        status_code=401,
        headers={"WWW-Authenticate": challenge},
    )


async def verify_bearer_token(session: AsyncSession, authorization: str) -> dict[str, Any]:
    """Verify an RFC 6750 Bearer access token (RFC 9068 JWT) we issued; return its claims."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _invalid_token("An access token is required.", error=None)
    try:
        return await keys.verify(session, token.strip(), typ=ACCESS_TOKEN_TYP, audience=issuer())
    except keys.TokenInvalid as exc:
        raise _invalid_token("The access token is invalid or has expired.") from exc
