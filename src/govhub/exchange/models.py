"""Tables of the exchange: members, subsystems, services, access rights and consent."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govhub.db import Base, string_enum
from govhub.kit.clock import utcnow
from govhub.kit.ids import new_id


class DataClassification(enum.StrEnum):
    """The data-governance classes of the plan, least to most sensitive."""

    OPEN = "open"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    SECRET = "secret"
    TOP_SECRET = "top_secret"


class AccessPolicy(enum.StrEnum):
    """Whether government members may call a service at once, or only once approved."""

    OPEN_TO_GOVERNMENT = "open_to_government"
    APPROVAL_REQUIRED = "approval_required"


class AccessRequestStatus(enum.StrEnum):
    """Where a consumer's request for a service stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"



class Member(Base):
    """An X-Road style member: instance TH, class GOV/COM/NGO, and a code (an agency's)."""

    __tablename__ = "gdx_members"
    __table_args__ = (UniqueConstraint("instance", "member_class", "member_code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    instance: Mapped[str] = mapped_column(String(16), default="TH")
    member_class: Mapped[str] = mapped_column(String(8), default="GOV")
    member_code: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def path(self) -> str:
        """INSTANCE/CLASS/CODE, as X-Road writes member identifiers."""
        return f"{self.instance}/{self.member_class}/{self.member_code}"


class Subsystem(Base):
    """An information system of a member; it authenticates as an OAuth client of Digital ID."""

    __tablename__ = "gdx_subsystems"
    __table_args__ = (UniqueConstraint("member_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    member_id: Mapped[str] = mapped_column(ForeignKey("gdx_members.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    oauth_client_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The full X-Road style identifier, kept denormalised: it keys every call and log line.
    client_path: Mapped[str] = mapped_column(String(200), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExchangeService(Base):
    """A service a provider subsystem publishes: backed by a hosted registry or a remote URL."""

    __tablename__ = "gdx_services"
    __table_args__ = (UniqueConstraint("provider_subsystem_id", "code"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    provider_subsystem_id: Mapped[str] = mapped_column(ForeignKey("gdx_subsystems.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    title_th: Mapped[str] = mapped_column(String(255))
    title_en: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    # "registry": govhub answers from a hosted registry; "remote": govhub calls remote_url.
    backend: Mapped[str] = mapped_column(String(16))
    registry_code: Mapped[str | None] = mapped_column(String(64))
    registry_version: Mapped[str | None] = mapped_column(String(16))
    # The query parameter that carries the record's key (e.g. national_id), also the subject.
    key_parameter: Mapped[str | None] = mapped_column(String(64))
    remote_url: Mapped[str | None] = mapped_column(Text)
    timeout_ms: Mapped[int] = mapped_column(Integer, default=5000)
    returned_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    personal_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    classification: Mapped[DataClassification] = mapped_column(string_enum(DataClassification, "data_classification"))
    access_policy: Mapped[AccessPolicy] = mapped_column(string_enum(AccessPolicy, "access_policy"))
    requires_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    openapi: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessRequest(Base):
    """A consumer's request for a service and its current decision (decisions keep history)."""

    __tablename__ = "gdx_access_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("gdx_services.id"), index=True)
    consumer_subsystem_id: Mapped[str] = mapped_column(ForeignKey("gdx_subsystems.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    status: Mapped[AccessRequestStatus] = mapped_column(string_enum(AccessRequestStatus, "access_request_status"))
    allowed_fields: Mapped[list[str] | None] = mapped_column(JSON)
    valid_until: Mapped[datetime | None] = mapped_column()
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessDecision(Base):
    """Append-only: every approval, rejection or revocation, with who, when and why."""

    __tablename__ = "gdx_access_decisions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(ForeignKey("gdx_access_requests.id"), index=True)
    decision: Mapped[AccessRequestStatus] = mapped_column(string_enum(AccessRequestStatus, "access_decision"))
    reason: Mapped[str] = mapped_column(Text, default="")
    allowed_fields: Mapped[list[str] | None] = mapped_column(JSON)
    valid_until: Mapped[datetime | None] = mapped_column()
    decided_by: Mapped[str] = mapped_column(String(36))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(Base):
    """Append-only consent a data subject gave a consumer for a service, purpose and fields.

    Follows the GovStack Consent record where it fits: subject, data consumer, purpose,
    fields (the data agreement), validity. Withdrawal is a ConsentEvent, never an update.
    """

    __tablename__ = "gdx_consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    subject_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    # Keyed hash of the subject's national ID: calls name their subject by the same hash.
    subject_hash: Mapped[str] = mapped_column(String(24), index=True)
    consumer_subsystem_id: Mapped[str] = mapped_column(ForeignKey("gdx_subsystems.id"), index=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("gdx_services.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[datetime] = mapped_column()


class ConsentEvent(Base):
    """Append-only history of a consent: given, withdrawn."""

    __tablename__ = "gdx_consent_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    consent_id: Mapped[str] = mapped_column(ForeignKey("gdx_consents.id"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    by: Mapped[str] = mapped_column(String(36))
