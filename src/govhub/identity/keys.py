"""Signing keys of the OpenID provider and the JWTs they sign (ES256, through joserfc).

The active key signs; a rotated key stays in the JWKS until it is retired, so tokens it
signed still verify. Private keys are stored encrypted with the platform's data keys.
Rotate by hand with `python -m govhub.identity.keys rotate`; signing also rotates lazily
once the active key is older than settings.oidc_key_rotation_days.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.identity import audit
from govhub.identity.audit import AuditAction
from govhub.identity.models import SigningKey
from govhub.kit.clock import utcnow
from govhub.kit.crypto import decrypt_secret, encrypt_secret

ALG = "ES256"
CURVE = "P-256"
# The public set is re-read at most this often, or at once when a token names an unknown kid.
PUBLIC_CACHE_SECONDS = 30.0
# Relying parties cache the JWKS for up to a day: keep a rotated key published that long.
RETIRE_GRACE = timedelta(days=1)


class TokenInvalid(Exception):
    """A JWT that does not verify: bad signature, unknown key, wrong type, expired."""


def issuer() -> str:
    """The issuer identifier: the public origin of the platform."""
    return get_settings().public_url


@dataclass
class _PublicSet:
    loaded_at: float
    kids: frozenset[str]
    keyset: KeySet
    document: dict[str, Any]


# Decrypted private keys by kid: key rows never change, so this needs no expiry.
_private_keys: dict[str, ECKey] = {}
_public: _PublicSet | None = None


def _invalidate_public() -> None:
    global _public
    _public = None


def _private_key(row: SigningKey) -> ECKey:
    """The decrypted key of a row (decrypting and parsing once per process)."""
    key = _private_keys.get(row.kid)
    if key is None:
        if len(_private_keys) > 32:  # only a handful of keys ever live at once
            _private_keys.clear()
        key = ECKey.import_key(json.loads(decrypt_secret(row.private_jwk_encrypted)))
        _private_keys[row.kid] = key
    return key


async def _active_row(session: AsyncSession) -> SigningKey | None:
    query = (
        select(SigningKey)
        .where(SigningKey.rotated_at.is_(None), SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def _create_key(session: AsyncSession, *, actor_id: str | None) -> SigningKey:
    """Generate a new ES256 key, store it encrypted, and retire keys past their grace."""
    key = ECKey.generate_key(CURVE, auto_kid=True)  # kid = RFC 7638 thumbprint
    public = {**key.as_dict(private=False), "use": "sig", "alg": ALG}
    row = SigningKey(
        kid=key.kid,
        alg=ALG,
        public_jwk=public,
        private_jwk_encrypted=encrypt_secret(json.dumps(key.as_dict(private=True))),
    )
    session.add(row)
    await session.flush()
    await _retire_old_keys(session)
    await audit.record(session, AuditAction.KEY_ROTATED, actor_id=actor_id, kid=row.kid)
    _invalidate_public()
    return row


async def _retire_old_keys(session: AsyncSession) -> None:
    """Stop publishing keys rotated long enough ago that no live token or cache needs them."""
    ttl = timedelta(seconds=get_settings().oidc_access_token_ttl_seconds)
    cutoff = utcnow() - max(2 * ttl, RETIRE_GRACE)
    await session.execute(
        update(SigningKey)
        .where(SigningKey.rotated_at < cutoff, SigningKey.retired_at.is_(None))
        .values(retired_at=utcnow())
    )


async def rotate_signing_key(session: AsyncSession, *, actor_id: str | None = None) -> SigningKey:
    """Make a new active key; the previous one stays published to verify its tokens."""
    await session.execute(
        update(SigningKey).where(SigningKey.rotated_at.is_(None)).values(rotated_at=utcnow())
    )
    return await _create_key(session, actor_id=actor_id)


async def _rotate_lazily(session: AsyncSession, stale: SigningKey | None) -> SigningKey:
    """Replace a missing or expired key, unless another worker has just done so."""
    if stale is not None:
        # Conditional update: of two workers racing to rotate, only one creates a key.
        claimed = await session.execute(
            update(SigningKey)
            .where(SigningKey.id == stale.id, SigningKey.rotated_at.is_(None))
            .values(rotated_at=utcnow())
        )
        if claimed.rowcount == 0:  # type: ignore[attr-defined]
            fresh = await _active_row(session)
            if fresh is not None:
                return fresh
    return await _create_key(session, actor_id=None)


def _expired(created_at: datetime) -> bool:
    return created_at <= utcnow() - timedelta(days=get_settings().oidc_key_rotation_days)


async def signing_key(session: AsyncSession) -> ECKey:
    """The active private key, created or rotated first when needed."""
    row = await _active_row(session)
    if row is None or _expired(row.created_at):
        row = await _rotate_lazily(session, row)
    if _public is not None and row.kid not in _public.kids:
        _invalidate_public()  # the database has a newer key than the cached JWKS
    return _private_key(row)


async def _load_public(session: AsyncSession) -> _PublicSet:
    rows = (
        await session.scalars(
            select(SigningKey)
            .where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())
        )
    ).all()
    document = {"keys": [dict(row.public_jwk) for row in rows]}
    return _PublicSet(
        loaded_at=time.monotonic(),
        kids=frozenset(row.kid for row in rows),
        keyset=KeySet.import_key_set(document),  # type: ignore[arg-type]
        document=document,
    )


async def published_keys(session: AsyncSession, *, kid: str | None = None) -> _PublicSet:
    """The keys in the JWKS, cached briefly; re-read at once for a kid not yet seen."""
    global _public
    stale = _public is None or time.monotonic() - _public.loaded_at > PUBLIC_CACHE_SECONDS
    if stale or (kid is not None and kid not in _public.kids):  # type: ignore[union-attr]
        _public = await _load_public(session)
    return _public  # type: ignore[return-value]


async def jwks_document(session: AsyncSession) -> dict[str, Any]:
    """The JWKS served to relying parties: every key that is not retired."""
    if _public is None or not _public.kids:
        await signing_key(session)  # a fresh installation publishes its first key at once
    return (await published_keys(session)).document


async def sign(session: AsyncSession, claims: dict[str, Any], *, typ: str) -> str:
    """Sign claims as a compact JWT with the active key (kid and typ in the header)."""
    key = await signing_key(session)
    return jwt.encode({"alg": ALG, "kid": key.kid, "typ": typ}, claims, key)


async def verify(session: AsyncSession, token: str, *, typ: str, audience: str) -> dict[str, Any]:
    """Verify signature, header type, issuer, audience and expiry; return the claims."""
    try:
        header = jws.extract_compact(token.encode()).protected
        keys = await published_keys(session, kid=header.get("kid"))
        cache_key = hashlib.sha256(f"{typ}\n{audience}\n{token}".encode()).digest()
        claims = _verified.get(cache_key)
        if claims is None or header.get("kid") not in keys.kids:
            claims = _verify_signature(token, keys.keyset, typ=typ)
            _remember_verified(cache_key, claims)
        # Claims are checked on every use, so a remembered token still expires on time.
        _claims_registry(audience).validate(claims)
    except (JoseError, ValueError, TypeError) as error:
        raise TokenInvalid(str(error)) from error
    return dict(claims)


# Machine clients send the same access token for its whole life (GDX: every call), and the
# ES256 check is the costliest step of authenticating them; a token whose signature checked
# out once is remembered (by digest) while its key stays published.
VERIFIED_CACHE_SIZE = 4096
_verified: OrderedDict[bytes, dict[str, Any]] = OrderedDict()


def _verify_signature(token: str, keyset: KeySet, *, typ: str) -> dict[str, Any]:
    decoded = jwt.decode(token, keyset, algorithms=[ALG])
    if decoded.header.get("typ", "").lower() != typ.lower():
        raise TokenInvalid("wrong token type")
    return dict(decoded.claims)


def _remember_verified(cache_key: bytes, claims: dict[str, Any]) -> None:
    _verified[cache_key] = claims
    _verified.move_to_end(cache_key)
    while len(_verified) > VERIFIED_CACHE_SIZE:
        _verified.popitem(last=False)


def _claims_registry(audience: str) -> jwt.JWTClaimsRegistry:
    return jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer()},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        sub={"essential": True},
    )


async def _rotate_from_command_line() -> str:
    from govhub.db import unit_of_work

    async with unit_of_work() as session:
        row = await rotate_signing_key(session)
        return row.kid


def main(argv: list[str]) -> int:
    """Command line: `python -m govhub.identity.keys rotate`."""
    if argv != ["rotate"]:
        print("usage: python -m govhub.identity.keys rotate", file=sys.stderr)
        return 2
    print(f"new signing key: {asyncio.run(_rotate_from_command_line())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
