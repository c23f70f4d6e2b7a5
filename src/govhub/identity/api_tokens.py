"""Personal API tokens (CKAN API tokens): scripts and tools such as ckanapi act as the account.

A token is 32 random bytes shown once; only its SHA-256 is stored (a token is high-entropy,
so a fast hash is enough, unlike a password). Tokens expire, can be revoked, and are created
only by a signed-in person: for officers that means after their second factor, so a token
carries the officer's full (AAL2) standing until it expires or is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity import audit, repository
from govhub.identity.models import Account, ApiToken
from govhub.kit.clock import utcnow
from govhub.kit.errors import NotFound, ValidationFailed
from govhub.kit.i18n import N_

TOKEN_PREFIX = "ghk_"
MAX_TOKEN_DAYS = 365
# Writing last_used_at on every call would turn every read into a write; a day's precision is enough.
LAST_USED_PRECISION = timedelta(minutes=10)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(session: AsyncSession, account: Account, *, name: str, days: int = 90) -> tuple[ApiToken, str]:
    """A new token for the account: the row and the token itself (shown once, never stored)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(N_("Give the token a name of up to 100 characters."), field="name")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationFailed(N_("A token may last from 1 to %(days)s days."), field="days", days=MAX_TOKEN_DAYS)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(account_id=account.id, name=name, token_sha256=_digest(token),
                   expires_at=utcnow() + timedelta(days=days))
    session.add(row)
    await session.flush()
    await audit.record(session, audit.AuditAction.API_TOKEN_CREATED, actor_id=account.id, token_id=row.id, name=name)
    return row, token


async def account_for_token(session: AsyncSession, token: str) -> Account | None:
    """The active account a live token belongs to, or None (unknown, expired or revoked)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = (await session.execute(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))).scalars().first()
    now = utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    account = await repository.account_by_id(session, row.account_id)
    if account is None or not account.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        row.last_used_at = now
    return account


async def tokens_of(session: AsyncSession, account_id: str) -> list[ApiToken]:
    """The account's tokens that are not revoked, newest first."""
    statement = (select(ApiToken).where(ApiToken.account_id == account_id, ApiToken.revoked_at.is_(None))
                 .order_by(ApiToken.created_at.desc()))
    return list((await session.execute(statement)).scalars())


async def revoke_token(session: AsyncSession, account_id: str, token_id: str) -> None:
    """Revoke one of the account's own tokens (404 for anyone else's)."""
    row = await session.get(ApiToken, token_id) if isinstance(token_id, str) else None
    if row is None or row.account_id != account_id or row.revoked_at is not None:
        raise NotFound(N_("Token not found."))
    row.revoked_at = utcnow()
    await audit.record(session, audit.AuditAction.API_TOKEN_REVOKED, actor_id=account_id, token_id=row.id)
