"""Tables of the identity context: agencies, accounts, sessions, 2FA, OIDC, audit."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govhub.db import Base, string_enum
from govhub.kit.clock import utcnow
from govhub.kit.i18n import N_, gettext
from govhub.kit.ids import new_id


class AccountKind(enum.StrEnum):
    """Who the account belongs to; decides the identifiers it must carry."""

    CITIZEN = "citizen"
    FOREIGNER = "foreigner"
    BUSINESS = "business"
    OFFICER = "officer"
    ADMIN = "admin"


class OfficerRole(enum.StrEnum):
    """Roles an officer holds inside an agency (later contexts add permissions to them)."""

    AGENCY_ADMIN = "agency_admin"
    REVIEWER = "reviewer"
    APPROVER = "approver"
    REGISTRAR = "registrar"
    FINANCE = "finance"
    DATA_STEWARD = "data_steward"


ROLE_LABELS = {
    OfficerRole.AGENCY_ADMIN: N_("Agency administrator"),
    OfficerRole.REVIEWER: N_("Reviewer"),
    OfficerRole.APPROVER: N_("Approver"),
    OfficerRole.REGISTRAR: N_("Registrar"),
    OfficerRole.FINANCE: N_("Finance officer"),
    OfficerRole.DATA_STEWARD: N_("Data steward"),
}


def role_label(role: OfficerRole) -> str:
    """The role's name in the reader's language."""
    return gettext(ROLE_LABELS[role])



class Agency(Base):
    """A government agency: a member of the platform that officers belong to."""

    __tablename__ = "agencies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_th: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def name(self, locale: str) -> str:
        """The agency's name in the reader's language."""
        return self.name_th if locale == "th" else self.name_en


class Account(Base):
    """A person who signs in: citizen, foreigner, business representative, officer or admin."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("passport_number", "nationality"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[AccountKind] = mapped_column(string_enum(AccountKind, "account_kind"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(255))
    preferred_locale: Mapped[str] = mapped_column(String(2), default="th")
    national_id: Mapped[str | None] = mapped_column(String(13), unique=True)
    passport_number: Mapped[str | None] = mapped_column(String(20))
    nationality: Mapped[str | None] = mapped_column(String(3))
    juristic_id: Mapped[str | None] = mapped_column(String(13), index=True)
    juristic_name: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    # Identity assurance: 1 = self-asserted, 2 = verified against a registry (NIST 800-63A).
    ial: Mapped[int] = mapped_column(Integer, default=1)
    ial_verified_at: Mapped[datetime | None] = mapped_column()
    ial_verified_by: Mapped[str | None] = mapped_column(String(64))
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    totp_enabled_at: Mapped[datetime | None] = mapped_column()
    # The last TOTP time step accepted: a code is never accepted twice (RFC 6238 section 5.2).
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    # Counted apart from passwords: a correct password must not reset the guesses at the code.
    failed_second_factors: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column()
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    memberships: Mapped[list[AgencyMembership]] = relationship(
        back_populates="account", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def totp_enabled(self) -> bool:
        """True once the account has confirmed a TOTP authenticator."""
        return self.totp_enabled_at is not None

    @property
    def requires_second_factor(self) -> bool:
        """Officers and administrators must use two factors (AAL2) for everything."""
        return self.kind in (AccountKind.OFFICER, AccountKind.ADMIN)


class AgencyMembership(Base):
    """An officer's role in an agency; one row per role held."""

    __tablename__ = "agency_memberships"
    __table_args__ = (UniqueConstraint("account_id", "agency_id", "role"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    role: Mapped[OfficerRole] = mapped_column(string_enum(OfficerRole, "officer_role"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship(back_populates="memberships")


class RecoveryCode(Base):
    """A single-use 2FA recovery code, stored as an argon2 hash."""

    __tablename__ = "recovery_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserSession(Base):
    """A browser session; the cookie holds a random token, the table only its digest."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    ial: Mapped[int] = mapped_column(Integer)
    aal: Mapped[int] = mapped_column(Integer)
    # Set between the password and the second factor: the session is not yet signed in.
    pending_second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    auth_time: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    ip_hash: Mapped[str | None] = mapped_column(String(24))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class AuditEvent(Base):
    """An append-only security event: sign-in, failure, lockout, 2FA change, token, client."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_action_at", "action", "at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    actor_id: Mapped[str | None] = mapped_column(String(36), index=True)
    subject_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # The identifier someone typed, as a keyed hash: failures are traceable without storing IDs.
    identifier_hash: Mapped[str | None] = mapped_column(String(24), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    ip_hash: Mapped[str | None] = mapped_column(String(24))
    request_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OAuthClient(Base):
    """A relying party (OIDC sign-in) or machine client (client credentials) of Digital ID."""

    __tablename__ = "oauth_clients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    # "confidential" (can keep a secret or a key), "public" (SPA, mobile: PKCE only).
    client_type: Mapped[str] = mapped_column(String(16))
    # client_secret_basic, client_secret_post, private_key_jwt or none.
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str | None] = mapped_column(String(255))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    grant_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OAuthConsent(Base):
    """Scopes a user agreed to share with a client; asked again only for new scopes."""

    __tablename__ = "oauth_consents"
    __table_args__ = (UniqueConstraint("account_id", "client_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id"))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


class AuthorizationCode(Base):
    """A one-time authorization code; consumed atomically so it can never be used twice."""

    __tablename__ = "oauth_authorization_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    session_id: Mapped[str | None] = mapped_column(String(36))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(255))
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_time: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SigningKey(Base):
    """A key that signs ID and access tokens; rotated, and kept in the JWKS until retired."""

    __tablename__ = "signing_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(8))
    private_jwk_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Signs new tokens until rotated; still published (to verify old tokens) until retired.
    rotated_at: Mapped[datetime | None] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column()


class UsedClientAssertion(Base):
    """A private_key_jwt assertion's jti, kept until the assertion expires: each works once."""

    __tablename__ = "oauth_used_assertions"
    __table_args__ = (UniqueConstraint("client_id", "jti"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(64))
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ApiToken(Base):
    """A personal API token (CKAN API token): scripts act as the account that created it.

    Only the token's SHA-256 is kept; the token itself is shown once when created.
    """

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
