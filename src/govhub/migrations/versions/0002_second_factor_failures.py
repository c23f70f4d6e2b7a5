"""Count failed second-factor attempts apart from failed passwords.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add accounts.failed_second_factors."""
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(
            sa.Column("failed_second_factors", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    """Drop accounts.failed_second_factors."""
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.drop_column("failed_second_factors")
