"""The notify context's table: every message rendered, queued and delivered (or not)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govhub.db import Base
from govhub.kit.clock import utcnow
from govhub.kit.ids import new_id


class Channel(enum.StrEnum):
    """How a message reaches the person."""

    EMAIL = "email"
    SMS = "sms"


class Status(enum.StrEnum):
    """Where a message is in its delivery."""

    QUEUED = "queued"
    # Claimed by a worker that is sending it now (a lease: see delivery.CLAIM_LEASE).
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # No SMTP server is configured: the message is kept here, in the local outbox (the demo).
    OUTBOX = "outbox"
    # SMS written to the log by the logging sender (no SMS gateway).
    LOGGED = "logged"


DELIVERED = (Status.SENT, Status.OUTBOX, Status.LOGGED)


class Notification(Base):
    """One message to one recipient, rendered when queued, with its delivery status."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_subject", "subject_kind", "subject_id"),
        Index("ix_notifications_status_created_at", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(8))
    template: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(1000), default="")
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=Status.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Short and without secrets: the exception's type and the first part of its message.
    last_error: Mapped[str | None] = mapped_column(String(500))
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    subject_kind: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
