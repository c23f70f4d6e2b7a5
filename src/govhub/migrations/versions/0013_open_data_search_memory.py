"""open data: the in-memory search engine entries and change sequence

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# FTS5's unicode61 takes only letters (L*), numbers (N*) and Co as token characters: Thai vowel
# and tone marks (Mn, Mc) were separators, so "ปี" was indexed and searched as "ป" and matched
# "ปู" and "ป่า". Marks (M*) are token characters now, as they are words' letters in Thai.
FTS_COLUMNS = "dataset_id, organization_id, active, private, title, tags, notes"
FTS_TOKENIZERS = {
    "old": "'unicode61 remove_diacritics 0'",
    "new": "\"unicode61 remove_diacritics 0 categories 'L* N* Co M*'\"",
}


def _retokenize_sqlite_index(tokenizer: str) -> None:
    """Make the SQLite index anew with this tokenizer, keeping its rows (their words are re-read)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("ALTER TABLE opendata_search_fts RENAME TO opendata_search_fts_previous")
    op.execute(
        "CREATE VIRTUAL TABLE opendata_search_fts USING fts5("
        "dataset_id UNINDEXED, organization_id UNINDEXED, active UNINDEXED, private UNINDEXED,"
        f" title, tags, notes, tokenize = {FTS_TOKENIZERS[tokenizer]})"
    )
    op.execute(f"INSERT INTO opendata_search_fts (rowid, {FTS_COLUMNS})"
               f" SELECT rowid, {FTS_COLUMNS} FROM opendata_search_fts_previous")
    op.execute("DROP TABLE opendata_search_fts_previous")


def upgrade() -> None:
    """Apply this revision."""
    _retokenize_sqlite_index("new")
    op.create_table('opendata_index_entries',
    sa.Column('dataset_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.Column('title_terms', sa.Text(), nullable=False),
    sa.Column('tag_terms', sa.Text(), nullable=False),
    sa.Column('note_terms', sa.Text(), nullable=False),
    sa.Column('facets', sa.Text(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('metadata_modified', sa.DateTime(timezone=True), nullable=True),
    sa.Column('metadata_created', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('dataset_id', name=op.f('pk_opendata_index_entries'))
    )
    with op.batch_alter_table('opendata_index_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opendata_index_entries_seq'), ['seq'], unique=False)

    op.create_table('opendata_index_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('generation', sa.String(length=36), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opendata_index_state'))
    )
    # A catalog indexed before this revision is not in the entries yet: the state says so, and
    # searches use the database's full-text engine until `govhub opendata reindex` has run.
    indexed_before = op.get_bind().execute(sa.text("SELECT EXISTS (SELECT 1 FROM opendata_datasets)")).scalar()
    op.get_bind().execute(
        sa.text("INSERT INTO opendata_index_state (id, seq, generation, complete) VALUES (1, 0, :generation, :complete)"),
        {"generation": str(uuid.uuid4()), "complete": not indexed_before})


def downgrade() -> None:
    """Revert this revision."""
    _retokenize_sqlite_index("old")
    op.drop_table('opendata_index_state')
    with op.batch_alter_table('opendata_index_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opendata_index_entries_seq'))

    op.drop_table('opendata_index_entries')
