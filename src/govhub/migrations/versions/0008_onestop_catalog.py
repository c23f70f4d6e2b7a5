"""onestop catalog: public services and their versioned manuals

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "onestop_services",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=36), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("title_th", sa.String(length=500), nullable=False),
        sa.Column("title_en", sa.String(length=500), nullable=False),
        sa.Column("audiences", sa.JSON(), nullable=False),
        sa.Column("business_types", sa.JSON(), nullable=False),
        sa.Column("life_events", sa.JSON(), nullable=False),
        sa.Column("fee_total_satang", sa.Integer(), nullable=False),
        sa.Column("time_limit_days", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_onestop_services_agency_id_agencies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onestop_services")),
        sa.UniqueConstraint("code", name=op.f("uq_onestop_services_code")),
    )
    op.create_index(op.f("ix_onestop_services_agency_id"), "onestop_services", ["agency_id"], unique=False)
    op.create_table(
        "onestop_service_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("service_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"], ["onestop_services.id"], name=op.f("fk_onestop_service_versions_service_id_onestop_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onestop_service_versions")),
        sa.UniqueConstraint("service_id", "version", name=op.f("uq_onestop_service_versions_service_id")),
    )
    op.create_index(
        op.f("ix_onestop_service_versions_service_id"), "onestop_service_versions", ["service_id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_onestop_service_versions_service_id"), table_name="onestop_service_versions")
    op.drop_table("onestop_service_versions")
    op.drop_index(op.f("ix_onestop_services_agency_id"), table_name="onestop_services")
    op.drop_table("onestop_services")
