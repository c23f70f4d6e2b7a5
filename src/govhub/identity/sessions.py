"""Browser sessions: random cookie tokens, rotation, idle and absolute timeouts, sign-out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.identity import audit, repository
from govhub.identity.audit import AuditAction
from govhub.identity.jobs import send_security_notice_later
from govhub.identity.models import Account, UserSession
from govhub.kit.clock import utcnow
from govhub.kit.crypto import new_token, pii_hash, token_digest

SESSION_COOKIE = "govhub_session"
# Touch last_seen_at at most once a minute: a write per page view would not scale.
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass
class IssuedSession:
    """A new session and the token to put in the cookie (shown only now)."""

    record: UserSession
    token: str


async def start_session(
    session: AsyncSession,
    *,
    account: Account,
    aal: int,
    pending_second_factor: bool,
    ip: str | None,
    user_agent: str | None,
    amr: str = "pwd",
) -> IssuedSession:
    """Open a new session (a new token every sign-in: no session fixation)."""
    settings = get_settings()
    token = new_token()
    now = utcnow()
    record = UserSession(
        account_id=account.id,
        token_digest=token_digest(token),
        ial=account.ial,
        aal=aal,
        pending_second_factor=pending_second_factor,
        auth_time=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
        ip_hash=pii_hash(ip) if ip else None,
        user_agent=(user_agent or "")[:255],
    )
    session.add(record)
    await session.flush()
    if not pending_second_factor:
        await audit.record(
            session, AuditAction.SIGN_IN_SUCCEEDED, actor_id=account.id, ip=ip, aal=aal, amr=amr
        )
    return IssuedSession(record=record, token=token)


async def elevate_session(
    session: AsyncSession, *, current: UserSession, account: Account, ip: str | None, amr: str
) -> IssuedSession:
    """After the second factor: revoke the half-signed-in session and issue an AAL2 one."""
    current.revoked_at = utcnow()
    return await start_session(
        session, account=account, aal=2, pending_second_factor=False, ip=ip,
        user_agent=current.user_agent, amr=amr,
    )


async def resolve_session(session: AsyncSession, token: str | None) -> UserSession | None:
    """Return the live session for a cookie token, or None if unknown, expired or idle."""
    if not token or len(token) > 128:
        return None
    record = await repository.session_by_digest(session, token_digest(token))
    if record is None:
        return None
    now = utcnow()
    idle_limit = timedelta(minutes=get_settings().session_idle_minutes)
    if record.expires_at <= now or record.last_seen_at + idle_limit <= now:
        record.revoked_at = now
        return None
    if now - record.last_seen_at >= TOUCH_INTERVAL:
        record.last_seen_at = now
    return record


async def end_session(session: AsyncSession, *, record: UserSession, ip: str | None) -> None:
    """Sign out of this browser."""
    record.revoked_at = utcnow()
    await audit.record(session, AuditAction.SIGNED_OUT, actor_id=record.account_id, ip=ip)


async def end_all_sessions(
    session: AsyncSession, *, account_id: str, ip: str | None, notify: bool = True
) -> int:
    """Sign out everywhere: revoke every session of the account; return how many."""
    result = await session.execute(
        update(UserSession)
        .where(UserSession.account_id == account_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    await audit.record(session, AuditAction.SIGNED_OUT_EVERYWHERE, actor_id=account_id, ip=ip, sessions=count)
    if notify:  # a password or 2FA change sends its own notice
        send_security_notice_later(session, account_id=account_id, action=AuditAction.SIGNED_OUT_EVERYWHERE)
    return count
