"""The security audit log: every sign-in, failure, lockout, 2FA change, token and client."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity.models import AuditEvent
from govhub.kit.crypto import pii_hash
from govhub.kit.observability import get_logger, request_id_var

log = get_logger("govhub.audit")


class AuditAction:
    """The stable names of audited actions (one name per operation across layers)."""

    ACCOUNT_REGISTERED = "account.registered"
    SIGN_IN_SUCCEEDED = "sign_in.succeeded"
    SIGN_IN_FAILED = "sign_in.failed"
    ACCOUNT_LOCKED = "account.locked"
    SIGNED_OUT = "signed_out"
    SIGNED_OUT_EVERYWHERE = "signed_out.everywhere"
    TOTP_ENABLED = "totp.enabled"
    TOTP_DISABLED = "totp.disabled"
    TOTP_FAILED = "totp.failed"
    RECOVERY_CODE_USED = "recovery_code.used"
    RECOVERY_CODES_REGENERATED = "recovery_codes.regenerated"
    PASSWORD_CHANGED = "password.changed"
    IDENTITY_VERIFIED = "identity.verified"
    TOKEN_ISSUED = "token.issued"
    TOKEN_REFUSED = "token.refused"
    API_TOKEN_CREATED = "api_token.created"
    API_TOKEN_REVOKED = "api_token.revoked"
    CLIENT_CREATED = "client.created"
    CLIENT_DISABLED = "client.disabled"
    CONSENT_GRANTED = "oidc_consent.granted"
    AGENCY_CREATED = "agency.created"
    AGENCY_UPDATED = "agency.updated"
    KEY_ROTATED = "signing_key.rotated"
    GDX_SERVICE_PUBLISHED = "gdx_service.published"
    GDX_SERVICE_UPDATED = "gdx_service.updated"
    PUBLIC_SERVICE_PUBLISHED = "public_service.published"


async def record(
    session: AsyncSession,
    action: str,
    *,
    outcome: str = "success",
    actor_id: str | None = None,
    subject_id: str | None = None,
    identifier: str | None = None,
    client_id: str | None = None,
    ip: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Append an audit event in the caller's transaction (it commits with the change)."""
    event = AuditEvent(
        action=action,
        outcome=outcome,
        actor_id=actor_id,
        subject_id=subject_id,
        identifier_hash=pii_hash(identifier.lower()) if identifier else None,
        client_id=client_id,
        ip_hash=pii_hash(ip) if ip else None,
        request_id=request_id_var.get(),
        details=details,
    )
    session.add(event)
    log.info("audit", action=action, outcome=outcome, actor_id=actor_id, client_id=client_id)
    return event
