"""open data: organizations, groups, datasets, resources, revisions, facets, datastore register; API tokens

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _create_search_index() -> None:
    """The full-text index of datasets: FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL.

    Both hold words already segmented by govhub (PyThaiNLP for Thai, Snowball stems for
    English), so the databases' own parsers never split Thai text; and who may find each
    dataset (organization, active, private), so that a text query never reads the datasets table.
    """
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TABLE opendata_search_docs ("
            " dataset_id VARCHAR(36) PRIMARY KEY REFERENCES opendata_datasets (id) ON DELETE CASCADE,"
            " organization_id VARCHAR(36) NOT NULL, active BOOLEAN NOT NULL, private BOOLEAN NOT NULL,"
            " facets TEXT[] NOT NULL DEFAULT '{}',"
            " document TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX ix_opendata_search_docs_document ON opendata_search_docs USING GIN (document)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE opendata_search_fts USING fts5("
            "dataset_id UNINDEXED, organization_id UNINDEXED, active UNINDEXED, private UNINDEXED,"
            " title, tags, notes, tokenize = 'unicode61 remove_diacritics 0')"
        )


def _drop_search_index() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE opendata_search_docs")
    else:
        op.execute("DROP TABLE opendata_search_fts")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('opendata_groups',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('title_th', sa.String(length=255), nullable=False),
    sa.Column('title_en', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('image_url', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opendata_groups')),
    sa.UniqueConstraint('name', name=op.f('uq_opendata_groups_name'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_api_tokens_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_api_tokens_token_sha256'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_account_id'), ['account_id'], unique=False)

    op.create_table('opendata_organizations',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('title_th', sa.String(length=255), nullable=False),
    sa.Column('title_en', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('image_url', sa.String(length=500), nullable=False),
    sa.Column('agency_id', sa.String(length=36), nullable=True),
    sa.Column('harvest_source', sa.String(length=500), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_opendata_organizations_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opendata_organizations')),
    sa.UniqueConstraint('agency_id', name=op.f('uq_opendata_organizations_agency_id')),
    sa.UniqueConstraint('name', name=op.f('uq_opendata_organizations_name'))
    )
    op.create_table('opendata_datasets',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('title_en', sa.String(length=500), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=False),
    sa.Column('dataset_type', sa.String(length=32), nullable=False),
    sa.Column('state', sa.Enum('draft', 'active', 'deleted', name='opendata_dataset_state', native_enum=False, length=16), nullable=False),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.Column('license_id', sa.String(length=64), nullable=False),
    sa.Column('objectives', sa.JSON(), nullable=False),
    sa.Column('update_frequency_unit', sa.String(length=32), nullable=False),
    sa.Column('update_frequency_interval', sa.Integer(), nullable=True),
    sa.Column('geo_coverage', sa.String(length=32), nullable=False),
    sa.Column('data_source', sa.String(length=500), nullable=False),
    sa.Column('data_formats', sa.JSON(), nullable=False),
    sa.Column('data_category', sa.String(length=32), nullable=False),
    sa.Column('data_classification', sa.String(length=32), nullable=False),
    sa.Column('data_languages', sa.JSON(), nullable=False),
    sa.Column('high_value', sa.Boolean(), nullable=False),
    sa.Column('reference_data', sa.Boolean(), nullable=False),
    sa.Column('allow_harvest', sa.Boolean(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('maintainer', sa.String(length=255), nullable=False),
    sa.Column('maintainer_email', sa.String(length=254), nullable=False),
    sa.Column('data_created', sa.Date(), nullable=True),
    sa.Column('data_updated', sa.Date(), nullable=True),
    sa.Column('type_fields', sa.JSON(), nullable=False),
    sa.Column('extras', sa.JSON(), nullable=False),
    sa.Column('creator_account_id', sa.String(length=36), nullable=True),
    sa.Column('harvest_source', sa.String(length=500), nullable=True),
    sa.Column('harvest_remote_id', sa.String(length=100), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('metadata_created', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metadata_modified', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_account_id'], ['accounts.id'], name=op.f('fk_opendata_datasets_creator_account_id_accounts')),
    sa.ForeignKeyConstraint(['organization_id'], ['opendata_organizations.id'], name=op.f('fk_opendata_datasets_organization_id_opendata_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opendata_datasets')),
    sa.UniqueConstraint('harvest_source', 'harvest_remote_id', name=op.f('uq_opendata_datasets_harvest_source')),
    sa.UniqueConstraint('name', name=op.f('uq_opendata_datasets_name'))
    )
    with op.batch_alter_table('opendata_datasets', schema=None) as batch_op:
        batch_op.create_index('ix_opendata_datasets_listing', ['state', 'private', 'metadata_modified'], unique=False)
        batch_op.create_index(batch_op.f('ix_opendata_datasets_metadata_modified'), ['metadata_modified'], unique=False)
        batch_op.create_index(batch_op.f('ix_opendata_datasets_organization_id'), ['organization_id'], unique=False)

    op.create_table('opendata_dataset_groups',
    sa.Column('dataset_id', sa.String(length=36), nullable=False),
    sa.Column('group_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['opendata_datasets.id'], name=op.f('fk_opendata_dataset_groups_dataset_id_opendata_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['opendata_groups.id'], name=op.f('fk_opendata_dataset_groups_group_id_opendata_groups')),
    sa.PrimaryKeyConstraint('dataset_id', 'group_id', name=op.f('pk_opendata_dataset_groups'))
    )
    with op.batch_alter_table('opendata_dataset_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opendata_dataset_groups_group_id'), ['group_id'], unique=False)

    op.create_table('opendata_dataset_revisions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('dataset_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('actor_account_id', sa.String(length=36), nullable=True),
    sa.Column('actor_label', sa.String(length=255), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_account_id'], ['accounts.id'], name=op.f('fk_opendata_dataset_revisions_actor_account_id_accounts')),
    sa.ForeignKeyConstraint(['dataset_id'], ['opendata_datasets.id'], name=op.f('fk_opendata_dataset_revisions_dataset_id_opendata_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opendata_dataset_revisions')),
    sa.UniqueConstraint('dataset_id', 'number', name=op.f('uq_opendata_dataset_revisions_dataset_id'))
    )
    with op.batch_alter_table('opendata_dataset_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opendata_dataset_revisions_dataset_id'), ['dataset_id'], unique=False)

    op.create_table('opendata_dataset_tags',
    sa.Column('dataset_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['opendata_datasets.id'], name=op.f('fk_opendata_dataset_tags_dataset_id_opendata_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'name', name=op.f('pk_opendata_dataset_tags'))
    )
    with op.batch_alter_table('opendata_dataset_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opendata_dataset_tags_name'), ['name'], unique=False)

    op.create_table('opendata_facet_values',
    sa.Column('dataset_id', sa.String(length=36), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['opendata_datasets.id'], name=op.f('fk_opendata_facet_values_dataset_id_opendata_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'field', 'value', name=op.f('pk_opendata_facet_values'))
    )
    with op.batch_alter_table('opendata_facet_values', schema=None) as batch_op:
        batch_op.create_index('ix_opendata_facet_values_lookup', ['field', 'value', 'dataset_id'], unique=False)

    op.create_table('opendata_resources',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('dataset_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('mimetype', sa.String(length=100), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('url_type', sa.String(length=16), nullable=True),
    sa.Column('storage_key', sa.String(length=255), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reachable', sa.Boolean(), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_modified', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['opendata_datasets.id'], name=op.f('fk_opendata_resources_dataset_id_opendata_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opendata_resources'))
    )
    with op.batch_alter_table('opendata_resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_opendata_resources_dataset_id'), ['dataset_id'], unique=False)

    op.create_table('opendata_datastore_tables',
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('table_name', sa.String(length=63), nullable=False),
    sa.Column('status', sa.Enum('pending', 'loading', 'active', 'failed', name='opendata_datastore_status', native_enum=False, length=16), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('row_count', sa.BigInteger(), nullable=False),
    sa.Column('bad_row_count', sa.BigInteger(), nullable=False),
    sa.Column('bad_rows', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('source_sha256', sa.String(length=64), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['resource_id'], ['opendata_resources.id'], name=op.f('fk_opendata_datastore_tables_resource_id_opendata_resources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('resource_id', name=op.f('pk_opendata_datastore_tables')),
    sa.UniqueConstraint('table_name', name=op.f('uq_opendata_datastore_tables_table_name'))
    )
    _create_search_index()


def downgrade() -> None:
    """Revert this revision."""
    _drop_search_index()
    op.drop_table('opendata_datastore_tables')
    with op.batch_alter_table('opendata_resources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opendata_resources_dataset_id'))

    op.drop_table('opendata_resources')
    with op.batch_alter_table('opendata_facet_values', schema=None) as batch_op:
        batch_op.drop_index('ix_opendata_facet_values_lookup')

    op.drop_table('opendata_facet_values')
    with op.batch_alter_table('opendata_dataset_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opendata_dataset_tags_name'))

    op.drop_table('opendata_dataset_tags')
    with op.batch_alter_table('opendata_dataset_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opendata_dataset_revisions_dataset_id'))

    op.drop_table('opendata_dataset_revisions')
    with op.batch_alter_table('opendata_dataset_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opendata_dataset_groups_group_id'))

    op.drop_table('opendata_dataset_groups')
    with op.batch_alter_table('opendata_datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opendata_datasets_organization_id'))
        batch_op.drop_index(batch_op.f('ix_opendata_datasets_metadata_modified'))
        batch_op.drop_index('ix_opendata_datasets_listing')

    op.drop_table('opendata_datasets')
    op.drop_table('opendata_organizations')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_account_id'))

    op.drop_table('api_tokens')
    op.drop_table('opendata_groups')
