"""onestop applications: cases, their history, documents and tracking counters

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "onestop_applications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("service_id", sa.String(length=36), nullable=False),
        sa.Column("manual_version_id", sa.String(length=36), nullable=False),
        sa.Column("agency_id", sa.String(length=36), nullable=False),
        sa.Column("applicant_account_id", sa.String(length=36), nullable=False),
        sa.Column("applicant_name", sa.String(length=255), nullable=False),
        sa.Column("applicant_id_hash", sa.String(length=64), nullable=True),
        sa.Column("juristic_id_hash", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("waiting_on", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("verified", sa.JSON(), nullable=False),
        sa.Column("consent_ids", sa.JSON(), nullable=False),
        sa.Column("prefill_status", sa.String(length=16), nullable=False),
        sa.Column("last_page", sa.Integer(), nullable=False),
        sa.Column("returned_count", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("submitted_at", _TIME, nullable=True),
        sa.Column("state_entered_at", _TIME, nullable=False),
        sa.Column("due_at", _TIME, nullable=True),
        sa.Column("decision_due_at", _TIME, nullable=True),
        sa.Column("decided_at", _TIME, nullable=True),
        sa.Column("is_final", sa.Boolean(), nullable=False),
        sa.Column("delay_reason", sa.Text(), nullable=False),
        sa.Column("late_notices", sa.Integer(), nullable=False),
        sa.Column("last_late_notice_at", _TIME, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name=op.f("fk_onestop_applications_agency_id_agencies")),
        sa.ForeignKeyConstraint(
            ["applicant_account_id"], ["accounts.id"], name=op.f("fk_onestop_applications_applicant_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["manual_version_id"], ["onestop_service_versions.id"],
            name=op.f("fk_onestop_applications_manual_version_id_onestop_service_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["onestop_services.id"], name=op.f("fk_onestop_applications_service_id_onestop_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onestop_applications")),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_onestop_applications_tracking_number")),
    )
    for column in ("agency_id", "applicant_account_id", "due_at", "service_id", "state"):
        op.create_index(op.f(f"ix_onestop_applications_{column}"), "onestop_applications", [column], unique=False)
    op.create_table(
        "onestop_application_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("actor_account_id", sa.String(length=36), nullable=True),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("from_state", sa.String(length=64), nullable=True),
        sa.Column("to_state", sa.String(length=64), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("due_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_account_id"], ["accounts.id"], name=op.f("fk_onestop_application_events_actor_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"], ["onestop_applications.id"],
            name=op.f("fk_onestop_application_events_application_id_onestop_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onestop_application_events")),
        sa.UniqueConstraint("application_id", "seq", name=op.f("uq_onestop_application_events_application_id")),
    )
    op.create_index(
        op.f("ix_onestop_application_events_application_id"), "onestop_application_events", ["application_id"], unique=False
    )
    op.create_table(
        "onestop_application_documents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=True),
        sa.Column("document_code", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by", sa.String(length=36), nullable=False),
        sa.Column("uploaded_at", _TIME, nullable=False),
        sa.Column("replaced_at", _TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"], ["onestop_applications.id"],
            name=op.f("fk_onestop_application_documents_application_id_onestop_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["accounts.id"], name=op.f("fk_onestop_application_documents_uploaded_by_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onestop_application_documents")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_onestop_application_documents_storage_key")),
    )
    for column in ("application_id", "uploaded_by"):
        op.create_index(
            op.f(f"ix_onestop_application_documents_{column}"), "onestop_application_documents", [column], unique=False
        )
    op.create_table(
        "onestop_tracking_counters",
        sa.Column("agency_code", sa.String(length=32), nullable=False),
        sa.Column("year_be", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("agency_code", "year_be", name=op.f("pk_onestop_tracking_counters")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("onestop_tracking_counters")
    for column in ("application_id", "uploaded_by"):
        op.drop_index(op.f(f"ix_onestop_application_documents_{column}"), table_name="onestop_application_documents")
    op.drop_table("onestop_application_documents")
    op.drop_index(op.f("ix_onestop_application_events_application_id"), table_name="onestop_application_events")
    op.drop_table("onestop_application_events")
    for column in ("agency_id", "applicant_account_id", "due_at", "service_id", "state"):
        op.drop_index(op.f(f"ix_onestop_applications_{column}"), table_name="onestop_applications")
    op.drop_table("onestop_applications")
