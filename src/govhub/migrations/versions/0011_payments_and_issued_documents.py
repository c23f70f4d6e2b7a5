"""e-Payment (receiving accounts, bills, attempts, payments, callbacks, refunds, reconciliation) and e-Documents (issued documents, internal CA, signing keys)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('documents_certificate_authorities',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('certificate_pem', sa.Text(), nullable=False),
    sa.Column('private_key_encrypted', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents_certificate_authorities'))
    )
    op.create_table('payment_callbacks',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('bill_id', sa.String(length=36), nullable=True),
    sa.Column('payment_id', sa.String(length=36), nullable=True),
    sa.Column('notice', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_callbacks')),
    sa.UniqueConstraint('provider', 'event_id', name=op.f('uq_payment_callbacks_provider'))
    )
    with op.batch_alter_table('payment_callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_callbacks_bill_id'), ['bill_id'], unique=False)

    op.create_table('documents_signing_keys',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agency_id', sa.String(length=36), nullable=False),
    sa.Column('authority_id', sa.String(length=36), nullable=False),
    sa.Column('certificate_pem', sa.Text(), nullable=False),
    sa.Column('private_key_encrypted', sa.Text(), nullable=False),
    sa.Column('certificate_sha256', sa.String(length=64), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_documents_signing_keys_agency_id_agencies')),
    sa.ForeignKeyConstraint(['authority_id'], ['documents_certificate_authorities.id'], name=op.f('fk_documents_signing_keys_authority_id_documents_certificate_authorities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents_signing_keys')),
    sa.UniqueConstraint('certificate_sha256', name=op.f('uq_documents_signing_keys_certificate_sha256'))
    )
    with op.batch_alter_table('documents_signing_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_signing_keys_agency_id'), ['agency_id'], unique=False)

    op.create_table('payment_receiving_accounts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('agency_id', sa.String(length=36), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name_th', sa.String(length=255), nullable=False),
    sa.Column('name_en', sa.String(length=255), nullable=False),
    sa.Column('bank_code', sa.String(length=8), nullable=False),
    sa.Column('account_number', sa.String(length=32), nullable=False),
    sa.Column('biller_id', sa.String(length=15), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_payment_receiving_accounts_agency_id_agencies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_receiving_accounts')),
    sa.UniqueConstraint('biller_id', name=op.f('uq_payment_receiving_accounts_biller_id'))
    )
    with op.batch_alter_table('payment_receiving_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_receiving_accounts_agency_id'), ['agency_id'], unique=False)

    op.create_table('payment_reconciliation_runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=36), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['imported_by'], ['accounts.id'], name=op.f('fk_payment_reconciliation_runs_imported_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_reconciliation_runs')),
    sa.UniqueConstraint('file_sha256', name=op.f('uq_payment_reconciliation_runs_file_sha256'))
    )
    op.create_table('payment_reconciliation_lines',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('line_number', sa.Integer(), nullable=False),
    sa.Column('ref1', sa.String(length=64), nullable=False),
    sa.Column('ref2', sa.String(length=64), nullable=False),
    sa.Column('amount_satang', sa.BigInteger(), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('bill_id', sa.String(length=36), nullable=True),
    sa.Column('payment_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['payment_reconciliation_runs.id'], name=op.f('fk_payment_reconciliation_lines_run_id_payment_reconciliation_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_reconciliation_lines')),
    sa.UniqueConstraint('run_id', 'line_number', name=op.f('uq_payment_reconciliation_lines_run_id'))
    )
    with op.batch_alter_table('payment_reconciliation_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_reconciliation_lines_run_id'), ['run_id'], unique=False)

    op.create_table('documents_issued',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source_key', sa.String(length=120), nullable=False),
    sa.Column('agency_id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=True),
    sa.Column('payment_id', sa.String(length=36), nullable=True),
    sa.Column('holder_account_id', sa.String(length=36), nullable=True),
    sa.Column('holder_name', sa.String(length=255), nullable=False),
    sa.Column('title_th', sa.String(length=500), nullable=False),
    sa.Column('title_en', sa.String(length=500), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('valid', 'revoked', 'superseded', name='document_status', native_enum=False, length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_changed_by', sa.String(length=36), nullable=True),
    sa.Column('superseded_by_id', sa.String(length=36), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('pdf_size', sa.Integer(), nullable=False),
    sa.Column('signer_certificate_sha256', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_documents_issued_agency_id_agencies')),
    sa.ForeignKeyConstraint(['application_id'], ['onestop_applications.id'], name=op.f('fk_documents_issued_application_id_onestop_applications')),
    sa.ForeignKeyConstraint(['holder_account_id'], ['accounts.id'], name=op.f('fk_documents_issued_holder_account_id_accounts')),
    sa.ForeignKeyConstraint(['status_changed_by'], ['accounts.id'], name=op.f('fk_documents_issued_status_changed_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents_issued')),
    sa.UniqueConstraint('number', name=op.f('uq_documents_issued_number')),
    sa.UniqueConstraint('source_key', name=op.f('uq_documents_issued_source_key'))
    )
    with op.batch_alter_table('documents_issued', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_documents_issued_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_issued_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_issued_holder_account_id'), ['holder_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_issued_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_issued_pdf_sha256'), ['pdf_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_documents_issued_status'), ['status'], unique=False)

    op.create_table('payment_bills',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('bill_number', sa.String(length=32), nullable=False),
    sa.Column('agency_id', sa.String(length=36), nullable=False),
    sa.Column('receiving_account_id', sa.String(length=36), nullable=False),
    sa.Column('payer_account_id', sa.String(length=36), nullable=True),
    sa.Column('payer_name', sa.String(length=255), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=True),
    sa.Column('ref1', sa.String(length=20), nullable=False),
    sa.Column('ref2', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_satang', sa.BigInteger(), nullable=False),
    sa.Column('description_th', sa.String(length=500), nullable=False),
    sa.Column('description_en', sa.String(length=500), nullable=False),
    sa.Column('status', sa.Enum('open', 'paid', 'expired', 'cancelled', 'refunded', name='bill_status', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_reason', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], name=op.f('fk_payment_bills_agency_id_agencies')),
    sa.ForeignKeyConstraint(['application_id'], ['onestop_applications.id'], name=op.f('fk_payment_bills_application_id_onestop_applications')),
    sa.ForeignKeyConstraint(['payer_account_id'], ['accounts.id'], name=op.f('fk_payment_bills_payer_account_id_accounts')),
    sa.ForeignKeyConstraint(['receiving_account_id'], ['payment_receiving_accounts.id'], name=op.f('fk_payment_bills_receiving_account_id_payment_receiving_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_bills')),
    sa.UniqueConstraint('bill_number', name=op.f('uq_payment_bills_bill_number')),
    sa.UniqueConstraint('receiving_account_id', 'ref1', 'ref2', name=op.f('uq_payment_bills_receiving_account_id'))
    )
    with op.batch_alter_table('payment_bills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_bills_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_bills_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_bills_payer_account_id'), ['payer_account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_bills_ref1'), ['ref1'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_bills_status'), ['status'], unique=False)

    op.create_table('payment_attempts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('bill_id', sa.String(length=36), nullable=False),
    sa.Column('payer_account_id', sa.String(length=36), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('amount_satang', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'confirmed', 'rejected', 'timed_out', name='payment_attempt_status', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bill_id'], ['payment_bills.id'], name=op.f('fk_payment_attempts_bill_id_payment_bills')),
    sa.ForeignKeyConstraint(['payer_account_id'], ['accounts.id'], name=op.f('fk_payment_attempts_payer_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_attempts')),
    sa.UniqueConstraint('payer_account_id', 'idempotency_key', name=op.f('uq_payment_attempts_payer_account_id'))
    )
    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_attempts_bill_id'), ['bill_id'], unique=False)

    op.create_table('payment_bill_lines',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('bill_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('label_th', sa.String(length=500), nullable=False),
    sa.Column('label_en', sa.String(length=500), nullable=False),
    sa.Column('amount_satang', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['payment_bills.id'], name=op.f('fk_payment_bill_lines_bill_id_payment_bills')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_bill_lines')),
    sa.UniqueConstraint('bill_id', 'seq', name=op.f('uq_payment_bill_lines_bill_id'))
    )
    with op.batch_alter_table('payment_bill_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_bill_lines_bill_id'), ['bill_id'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('transaction_id', sa.String(length=64), nullable=False),
    sa.Column('bill_id', sa.String(length=36), nullable=False),
    sa.Column('attempt_id', sa.String(length=36), nullable=True),
    sa.Column('amount_satang', sa.BigInteger(), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('credited', 'held', 'refunded', name='payment_status', native_enum=False, length=32), nullable=False),
    sa.Column('held_reason', sa.String(length=32), nullable=False),
    sa.Column('reconciled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('receipt_document_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['attempt_id'], ['payment_attempts.id'], name=op.f('fk_payments_attempt_id_payment_attempts')),
    sa.ForeignKeyConstraint(['bill_id'], ['payment_bills.id'], name=op.f('fk_payments_bill_id_payment_bills')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('provider', 'transaction_id', name=op.f('uq_payments_provider'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_bill_id'), ['bill_id'], unique=False)

    op.create_table('payment_refunds',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('payment_id', sa.String(length=36), nullable=False),
    sa.Column('bill_id', sa.String(length=36), nullable=False),
    sa.Column('amount_satang', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=36), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['payment_bills.id'], name=op.f('fk_payment_refunds_bill_id_payment_bills')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_refunds_payment_id_payments')),
    sa.ForeignKeyConstraint(['recorded_by'], ['accounts.id'], name=op.f('fk_payment_refunds_recorded_by_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_refunds')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_payment_refunds_payment_id'))
    )
    with op.batch_alter_table('payment_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_refunds_bill_id'), ['bill_id'], unique=False)



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('payment_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_refunds_bill_id'))

    op.drop_table('payment_refunds')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_bill_id'))

    op.drop_table('payments')
    with op.batch_alter_table('payment_bill_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_bill_lines_bill_id'))

    op.drop_table('payment_bill_lines')
    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_attempts_bill_id'))

    op.drop_table('payment_attempts')
    with op.batch_alter_table('payment_bills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_bills_status'))
        batch_op.drop_index(batch_op.f('ix_payment_bills_ref1'))
        batch_op.drop_index(batch_op.f('ix_payment_bills_payer_account_id'))
        batch_op.drop_index(batch_op.f('ix_payment_bills_application_id'))
        batch_op.drop_index(batch_op.f('ix_payment_bills_agency_id'))

    op.drop_table('payment_bills')
    with op.batch_alter_table('documents_issued', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_issued_status'))
        batch_op.drop_index(batch_op.f('ix_documents_issued_pdf_sha256'))
        batch_op.drop_index(batch_op.f('ix_documents_issued_payment_id'))
        batch_op.drop_index(batch_op.f('ix_documents_issued_holder_account_id'))
        batch_op.drop_index(batch_op.f('ix_documents_issued_application_id'))
        batch_op.drop_index(batch_op.f('ix_documents_issued_agency_id'))

    op.drop_table('documents_issued')
    with op.batch_alter_table('payment_reconciliation_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_reconciliation_lines_run_id'))

    op.drop_table('payment_reconciliation_lines')
    op.drop_table('payment_reconciliation_runs')
    with op.batch_alter_table('payment_receiving_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_receiving_accounts_agency_id'))

    op.drop_table('payment_receiving_accounts')
    with op.batch_alter_table('documents_signing_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_documents_signing_keys_agency_id'))

    op.drop_table('documents_signing_keys')
    with op.batch_alter_table('payment_callbacks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_callbacks_bill_id'))

    op.drop_table('payment_callbacks')
    op.drop_table('documents_certificate_authorities')
