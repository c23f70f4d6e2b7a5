"""Tables of e-Payment: receiving accounts, bills and their lines, payments, callbacks, refunds,
and bank-statement reconciliation.

Money is held in satang (integers), never in floating point. A bill is paid by exactly one
payment; any other money that arrives for it (a second payment, a wrong amount, a payment
after the bill expired) is recorded as a payment that is *held* for a finance officer to
refund, and never credits the bill a second time.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govhub.db import Base, string_enum
from govhub.kit.clock import utcnow
from govhub.kit.ids import new_id



class BillStatus(enum.StrEnum):
    """Where a bill stands (GovStack Payments' bill states, as the issue names them)."""

    OPEN = "open"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class PaymentStatus(enum.StrEnum):
    """What became of money that arrived."""

    CREDITED = "credited"  # it paid its bill
    HELD = "held"  # received but credited to nothing: to be refunded
    REFUNDED = "refunded"


class AttemptStatus(enum.StrEnum):
    """A payment the payer started with a provider, before the bank answers."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"


class ReceivingAccount(Base):
    """Where fees are paid to: the treasury or an agency's own bank account."""

    __tablename__ = "payment_receiving_accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # None: the treasury (รายได้แผ่นดิน); else the agency that owns the account.
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "treasury" | "agency"
    name_th: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255))
    bank_code: Mapped[str] = mapped_column(String(8))
    account_number: Mapped[str] = mapped_column(String(32))
    # The Thai QR bill-payment biller ID: the 13-digit tax ID and a 2-digit suffix.
    biller_id: Mapped[str] = mapped_column(String(15), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Bill(Base):
    """A demand to pay fees, with the references a bank quotes back when it is paid."""

    __tablename__ = "payment_bills"
    __table_args__ = (UniqueConstraint("receiving_account_id", "ref1", "ref2"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    bill_number: Mapped[str] = mapped_column(String(32), unique=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    receiving_account_id: Mapped[str] = mapped_column(ForeignKey("payment_receiving_accounts.id"))
    payer_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    payer_name: Mapped[str] = mapped_column(String(255))
    # What the bill is for: an application of the one-stop service (None for other fees).
    application_id: Mapped[str | None] = mapped_column(ForeignKey("onestop_applications.id"), index=True)
    # Ref1 identifies the bill, Ref2 the payer's case: both digits/letters the banks accept.
    ref1: Mapped[str] = mapped_column(String(20), index=True)
    ref2: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3), default="THB")
    amount_satang: Mapped[int] = mapped_column(BigInteger)
    description_th: Mapped[str] = mapped_column(String(500))
    description_en: Mapped[str] = mapped_column(String(500))
    status: Mapped[BillStatus] = mapped_column(string_enum(BillStatus, "bill_status"), default=BillStatus.OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column()
    # Why the bill was cancelled or refunded, as the finance officer wrote it.
    status_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class BillLine(Base):
    """One fee of a bill."""

    __tablename__ = "payment_bill_lines"
    __table_args__ = (UniqueConstraint("bill_id", "seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    bill_id: Mapped[str] = mapped_column(ForeignKey("payment_bills.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    label_th: Mapped[str] = mapped_column(String(500))
    label_en: Mapped[str] = mapped_column(String(500))
    amount_satang: Mapped[int] = mapped_column(BigInteger)


class PaymentAttempt(Base):
    """A payment the payer started with a provider; the idempotency key makes retries safe."""

    __tablename__ = "payment_attempts"
    __table_args__ = (UniqueConstraint("payer_account_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    bill_id: Mapped[str] = mapped_column(ForeignKey("payment_bills.id"), index=True)
    payer_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(32))
    amount_satang: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[AttemptStatus] = mapped_column(
        string_enum(AttemptStatus, "payment_attempt_status"), default=AttemptStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class Payment(Base):
    """Money a provider reported received, and what it was credited to."""

    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("provider", "transaction_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(32))
    # The bank's own reference for the transfer: a second notice of it is the same payment.
    transaction_id: Mapped[str] = mapped_column(String(64))
    bill_id: Mapped[str] = mapped_column(ForeignKey("payment_bills.id"), index=True)
    attempt_id: Mapped[str | None] = mapped_column(ForeignKey("payment_attempts.id"))
    amount_satang: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[PaymentStatus] = mapped_column(string_enum(PaymentStatus, "payment_status"))
    # Why money was held rather than credited (amount_mismatch, already_paid, bill_expired...).
    held_reason: Mapped[str] = mapped_column(String(32), default="")
    # Set when a bank statement line confirmed this payment.
    reconciled_at: Mapped[datetime | None] = mapped_column()
    receipt_document_id: Mapped[str | None] = mapped_column(String(36))


class CallbackReceipt(Base):
    """Every callback that passed its signature check, once: the replay guard and the audit trail."""

    __tablename__ = "payment_callbacks"
    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(64))
    body_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(32))
    bill_id: Mapped[str | None] = mapped_column(String(36), index=True)
    payment_id: Mapped[str | None] = mapped_column(String(36))
    # The notice as received: money that matched no bill must still be traceable and refundable.
    notice: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Refund(Base):
    """Money given back, recorded by a finance officer with the reason."""

    __tablename__ = "payment_refunds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), unique=True)
    bill_id: Mapped[str] = mapped_column(ForeignKey("payment_bills.id"), index=True)
    amount_satang: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReconciliationRun(Base):
    """One bank statement file imported and matched against payments."""

    __tablename__ = "payment_reconciliation_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # The same file imported twice is refused by its digest.
    file_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    imported_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ReconciliationLine(Base):
    """One line of a statement and what it matched."""

    __tablename__ = "payment_reconciliation_lines"
    __table_args__ = (UniqueConstraint("run_id", "line_number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("payment_reconciliation_runs.id"), index=True)
    line_number: Mapped[int] = mapped_column(Integer)
    ref1: Mapped[str] = mapped_column(String(64))
    ref2: Mapped[str] = mapped_column(String(64))
    amount_satang: Mapped[int | None] = mapped_column(BigInteger)
    paid_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    bill_id: Mapped[str | None] = mapped_column(String(36))
    payment_id: Mapped[str | None] = mapped_column(String(36))
