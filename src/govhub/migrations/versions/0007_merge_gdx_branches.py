"""Join the three GDX branches (registries, evidence log, exchange) into one head.

Revision ID: 0007
Revises: 0004, 0005, 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007"
down_revision: tuple[str, ...] = ("0004", "0005", "0006")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the merge only gives later migrations a single parent."""


def downgrade() -> None:
    """Nothing to change."""
