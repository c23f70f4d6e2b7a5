"""The GDX evidence log: records (Merkle leaves), its size counter, signed checkpoints,
stored subtree hashes and the Ed25519 checkpoint keys.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the evidence tables and the log's size row (0 records)."""
    head = op.create_table(
        "evidence_log_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_log_head")),
    )
    # Appends only ever UPDATE this row, so it must exist from the start.
    op.bulk_insert(head, [{"id": 1, "size": 0}])
    op.create_table(
        "evidence_records",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("consumer", sa.String(length=255), nullable=False),
        sa.Column("provider", sa.String(length=255), nullable=False),
        sa.Column("service_code", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("purpose", sa.String(length=1000), nullable=True),
        sa.Column("consent_id", sa.String(length=255), nullable=True),
        sa.Column("subject_hash", sa.String(length=64), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("duration_us", sa.BigInteger(), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_evidence_records")),
    )
    with op.batch_alter_table("evidence_records") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_records_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_evidence_records_subject_hash"), ["subject_hash"], unique=False
        )
    op.create_table(
        "evidence_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_evidence_checkpoints")),
    )
    op.create_table(
        "evidence_tree_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name=op.f("pk_evidence_tree_nodes")),
    )
    op.create_table(
        "evidence_signing_keys",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("private_key_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_evidence_signing_keys")),
    )


def downgrade() -> None:
    """Drop the evidence tables."""
    op.drop_table("evidence_signing_keys")
    op.drop_table("evidence_tree_nodes")
    op.drop_table("evidence_checkpoints")
    with op.batch_alter_table("evidence_records") as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_records_subject_hash"))
        batch_op.drop_index(batch_op.f("ix_evidence_records_request_id"))
    op.drop_table("evidence_records")
    op.drop_table("evidence_log_head")
