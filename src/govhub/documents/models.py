"""Tables of e-Documents: issued documents, agencies' signing keys and the internal CA."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from govhub.db import Base, string_enum
from govhub.kit.clock import utcnow
from govhub.kit.ids import new_id


class DocumentStatus(enum.StrEnum):
    """What the issuer says of a document now (expiry is worked out from valid_until)."""

    VALID = "valid"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


class IssuedDocument(Base):
    """An e-license, e-certificate or e-receipt: the record verification checks a copy against."""

    __tablename__ = "documents_issued"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # license | certificate | receipt
    # What it was issued for, once: "application:<id>:license", "payment:<id>:receipt";
    # a reissue appends ":2", ":3"... The unique key makes a job that runs twice issue once.
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    application_id: Mapped[str | None] = mapped_column(ForeignKey("onestop_applications.id"), index=True)
    payment_id: Mapped[str | None] = mapped_column(String(36), index=True)
    holder_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    holder_name: Mapped[str] = mapped_column(String(255))
    title_th: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str] = mapped_column(String(500))
    # The lines printed on the document, as shown on the verification page.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    valid_from: Mapped[date | None] = mapped_column()
    valid_until: Mapped[date | None] = mapped_column()
    status: Mapped[DocumentStatus] = mapped_column(
        string_enum(DocumentStatus, "document_status", length=16), default=DocumentStatus.VALID, index=True)
    status_reason: Mapped[str] = mapped_column(Text, default="")
    status_changed_at: Mapped[datetime | None] = mapped_column()
    status_changed_by: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    superseded_by_id: Mapped[str | None] = mapped_column(String(36))
    # The signed PDF as issued: its SHA-256 names it, and an uploaded copy must match it.
    pdf_sha256: Mapped[str] = mapped_column(String(64), index=True)
    pdf_size: Mapped[int] = mapped_column(Integer)
    signer_certificate_sha256: Mapped[str] = mapped_column(String(64))
    # The same content as JSON signed with the agency's key (compact JWS), for other systems.
    jws: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class CertificateAuthority(Base):
    """A CA verification trusts; the internal one (the demo's) also keeps its key, encrypted."""

    __tablename__ = "documents_certificate_authorities"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    certificate_pem: Mapped[str] = mapped_column(Text)
    # Fernet-encrypted PEM (kit.crypto); None for a CA whose key govhub never holds.
    private_key_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SigningKey(Base):
    """An agency's document-signing key and certificate, issued by the internal CA."""

    __tablename__ = "documents_signing_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    authority_id: Mapped[str] = mapped_column(ForeignKey("documents_certificate_authorities.id"))
    certificate_pem: Mapped[str] = mapped_column(Text)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    certificate_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    not_after: Mapped[datetime] = mapped_column()
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
