"""Tables of the one-stop service's catalog: public services and their versioned manuals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govhub.db import Base
from govhub.kit.clock import utcnow
from govhub.kit.ids import new_id


class PublicService(Base):
    """A license, permit, registration or certificate; its manual lives in versions."""

    __tablename__ = "onestop_services"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    current_version: Mapped[int] = mapped_column(Integer)
    # Copied from the current version for listing, filtering and search without parsing manuals.
    title_th: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str] = mapped_column(String(500))
    audiences: Mapped[list[str]] = mapped_column(JSON, default=list)
    business_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    life_events: Mapped[list[str]] = mapped_column(JSON, default=list)
    fee_total_satang: Mapped[int] = mapped_column(Integer, default=0)
    time_limit_days: Mapped[int] = mapped_column(Integer)
    # Lower-cased titles, summaries and keywords in both languages: what search matches.
    search_text: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServiceManualVersion(Base):
    """Append-only: one version of a service's manual, e-form and workflow, as loaded.

    An application keeps the version it started under, so a later change of the manual never
    changes the rules of an application already made.
    """

    __tablename__ = "onestop_service_versions"
    __table_args__ = (UniqueConstraint("service_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    service_id: Mapped[str] = mapped_column(ForeignKey("onestop_services.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    # The ServiceDefinition as loaded (definitions.py), and the SHA-256 of its canonical JSON.
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[str | None] = mapped_column(String(36))


class Application(Base):
    """An application for a public service: a draft until submitted, then a workflow case.

    It keeps the manual version it started under. `version` guards against two officers (or
    an officer and the applicant) acting at once: the second write fails instead of winning.
    """

    __tablename__ = "onestop_applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tracking_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("onestop_services.id"), index=True)
    manual_version_id: Mapped[str] = mapped_column(ForeignKey("onestop_service_versions.id"))
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    applicant_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    applicant_name: Mapped[str] = mapped_column(String(255))
    # Keyed hashes of the ID numbers the public status page accepts (no ID stored in clear here).
    applicant_id_hash: Mapped[str | None] = mapped_column(String(64))
    juristic_id_hash: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64), index=True)
    # Whose turn the current state is ("agency" or "applicant"; "" for drafts and final states),
    # copied from the workflow so deadline queries need not read manuals.
    waiting_on: Mapped[str] = mapped_column(String(16), default="")
    # The e-form's values, and for each value fetched through GDX: its source and request id.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    verified: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    consent_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    prefill_status: Mapped[str] = mapped_column(String(16), default="none")  # none|done|declined|failed
    last_page: Mapped[int] = mapped_column(Integer, default=0)
    returned_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column()
    state_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the current state's time limit ends (None: no limit, or a final state).
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    # When the whole service's time limit ends (the Act's deadline for a decision).
    decision_due_at: Mapped[datetime | None] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()
    is_final: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the decision is late, as the agency explains it; sent with every late-decision notice.
    delay_reason: Mapped[str] = mapped_column(Text, default="")
    late_notices: Mapped[int] = mapped_column(Integer, default=0)
    last_late_notice_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class ApplicationEvent(Base):
    """Append-only history: every transition and comment, who, when, from, to, why."""

    __tablename__ = "onestop_application_events"
    __table_args__ = (UniqueConstraint("application_id", "seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str] = mapped_column(ForeignKey("onestop_applications.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    actor_role: Mapped[str] = mapped_column(String(32))  # applicant, an officer role, or system
    action: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    # "applicant": the applicant sees it; "internal": officers only.
    visibility: Mapped[str] = mapped_column(String(16), default="applicant")
    due_at: Mapped[datetime | None] = mapped_column()


class ApplicationDocument(Base):
    """An uploaded file answering one of the manual's documents; kept outside the web root."""

    __tablename__ = "onestop_application_documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    application_id: Mapped[str | None] = mapped_column(ForeignKey("onestop_applications.id"), index=True)
    document_code: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    uploaded_by: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A newer upload for the same document replaces this one; the old file stays for the record.
    replaced_at: Mapped[datetime | None] = mapped_column()


class TrackingCounter(Base):
    """The running number of tracking numbers, per agency and Buddhist-era year."""

    __tablename__ = "onestop_tracking_counters"

    agency_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    year_be: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
