"""Tables of the registries context: hosted registries, their versions, records and history.

A registry belongs to one agency and has versions; each version fixes a JSON Schema (draft
2020-12), the name of its primary-key field and the fields that are personal data. Records
belong to a version. The primary-key value is copied out of the JSON into an indexed column,
so lookups by key stay fast on hundreds of thousands of records on both backends. Records
are soft-deleted, and every change appends a row to `registry_history`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from govhub.db import Base
from govhub.kit.clock import utcnow
from govhub.kit.ids import new_id

# Records' data: JSONB on PostgreSQL (parsed once, fast ->> on every row), JSON text on SQLite.
RecordJSON = JSON().with_variant(JSONB(), "postgresql")


class Registry(Base):
    """A registry hosted on govhub, owned by one agency; `code` names it in every URL."""

    __tablename__ = "registries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_th: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def name(self, locale: str) -> str:
        """The registry's name in the reader's language."""
        return self.name_th if locale == "th" else self.name_en


class RegistryVersion(Base):
    """One version of a registry's schema; immutable once it holds records."""

    __tablename__ = "registry_versions"
    __table_args__ = (UniqueConstraint("registry_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    registry_id: Mapped[str] = mapped_column(ForeignKey("registries.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(32))
    json_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    primary_key: Mapped[str] = mapped_column(String(128))
    personal_data_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RegistryRecord(Base):
    """A record of a registry version; `key` is its primary-key value, unique among live records."""

    __tablename__ = "registry_records"
    __table_args__ = (
        # Unique among live records only, so a deleted key can be registered again. Partial
        # indexes exist on both backends; this one also serves every lookup by key.
        Index(
            "uq_registry_records_live_key",
            "registry_version_id",
            "key",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    registry_version_id: Mapped[str] = mapped_column(
        ForeignKey("registry_versions.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(RecordJSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(80))
    deleted_at: Mapped[datetime | None] = mapped_column()


class RegistryRecordHistory(Base):
    """An append-only change of a record: what it was before, what it became, who, when."""

    __tablename__ = "registry_history"
    __table_args__ = (Index("ix_registry_history_record_at", "record_id", "at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    record_id: Mapped[str] = mapped_column(ForeignKey("registry_records.id", ondelete="CASCADE"))
    registry_version_id: Mapped[str] = mapped_column(
        ForeignKey("registry_versions.id", ondelete="CASCADE"), index=True
    )
    # created, updated or deleted.
    change: Mapped[str] = mapped_column(String(16))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # "account:<id>", "client:<client_id>" or "system:<name>" (see schemas.Actor.label).
    actor: Mapped[str] = mapped_column(String(80))
    request_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


@event.listens_for(RegistryRecordHistory, "before_update")
@event.listens_for(RegistryRecordHistory, "before_delete")
def _history_is_append_only(_mapper: Any, _connection: Any, target: RegistryRecordHistory) -> None:
    raise RuntimeError(f"registry history is append-only (row {target.id})")
