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
