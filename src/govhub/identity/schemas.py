"""Request and response models of the identity API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AccountRead(BaseModel):
    """The signed-in person, as their own API client sees them (identifiers masked)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    full_name: str
    email: str
    national_id_masked: str | None = None
    juristic_id: str | None = None
    ial: int
    aal: int
    totp_enabled: bool


class AgencyCreate(BaseModel):
    """A new agency."""

    code: str = Field(min_length=2, max_length=32, examples=["DOPA"])
    name_th: str = Field(min_length=1, max_length=255, examples=["กรมการปกครอง"])
    name_en: str = Field(min_length=1, max_length=255, examples=["Department of Provincial Administration"])


class AgencyRead(BaseModel):
    """An agency."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    name_th: str
    name_en: str
    is_active: bool


class AuditEventRead(BaseModel):
    """One security audit event."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    at: datetime
    action: str
    outcome: str
    actor_id: str | None
    subject_id: str | None
    client_id: str | None
    request_id: str | None
    details: dict[str, Any]


class AuditEventPage(BaseModel):
    """A page of audit events."""

    total: int
    limit: int
    offset: int
    items: list[AuditEventRead]
