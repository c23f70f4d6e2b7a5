"""Hosted registries: registries, their schema versions, records and record history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "deleted_at IS NULL"


def upgrade() -> None:
    """Create registries, registry_versions, registry_records and registry_history."""
    op.create_table(
        "registries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agency_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_th", sa.String(length=255), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_registries_agency_id_agencies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registries")),
        sa.UniqueConstraint("code", name=op.f("uq_registries_code")),
    )
    op.create_index(op.f("ix_registries_agency_id"), "registries", ["agency_id"], unique=False)

    op.create_table(
        "registry_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("registry_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("json_schema", sa.JSON(), nullable=False),
        sa.Column("primary_key", sa.String(length=128), nullable=False),
        sa.Column("personal_data_fields", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registry_id"], ["registries.id"], name=op.f("fk_registry_versions_registry_id_registries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_versions")),
        sa.UniqueConstraint("registry_id", "version", name=op.f("uq_registry_versions_registry_id")),
    )
    op.create_index(op.f("ix_registry_versions_registry_id"), "registry_versions", ["registry_id"], unique=False)

    op.create_table(
        "registry_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("registry_version_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["registry_version_id"], ["registry_versions.id"],
            name=op.f("fk_registry_records_registry_version_id_registry_versions"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_records")),
    )
    op.create_index(
        op.f("ix_registry_records_registry_version_id"), "registry_records", ["registry_version_id"], unique=False
    )
    op.create_index(
        "uq_registry_records_live_key", "registry_records", ["registry_version_id", "key"], unique=True,
        sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE),
    )

    op.create_table(
        "registry_history",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("registry_version_id", sa.String(length=36), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["registry_records.id"],
            name=op.f("fk_registry_history_record_id_registry_records"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registry_version_id"], ["registry_versions.id"],
            name=op.f("fk_registry_history_registry_version_id_registry_versions"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_history")),
    )
    op.create_index(
        "ix_registry_history_record_at", "registry_history", ["record_id", "at"], unique=False
    )
    op.create_index(
        op.f("ix_registry_history_registry_version_id"), "registry_history", ["registry_version_id"],
        unique=False,
    )


def downgrade() -> None:
    """Drop the registries tables."""
    op.drop_table("registry_history")
    op.drop_table("registry_records")
    op.drop_table("registry_versions")
    op.drop_table("registries")
