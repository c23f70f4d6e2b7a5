"""Who acts on a registry, and the request and response bodies of the GovStack data API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class Actor:
    """Whoever changes or reads records: an officer, an agency system, or govhub itself.

    `agency_ids` are the agencies whose registries the actor may manage; the repository's
    scoping filters on it. `label` is what history rows and records store as the actor.
    """

    kind: str  # account, client or system
    id: str
    agency_ids: frozenset[str]
    can_read: bool = True
    can_write: bool = True

    @property
    def label(self) -> str:
        """'account:<id>', 'client:<client_id>' or 'system:<name>'."""
        return f"{self.kind}:{self.id}"[:80]

    @classmethod
    def system(cls, name: str, *agency_ids: str) -> Actor:
        """govhub itself acting for the given agencies (demo data, imports)."""
        return cls(kind="system", id=name, agency_ids=frozenset(agency_ids))


class Content(BaseModel):
    """GovStack's wrapper around a record or a query: {"content": {...}}."""

    model_config = ConfigDict(extra="ignore")

    content: dict[str, Any] = Field(examples=[{"national_id": "1101700203451"}])


class WriteBody(BaseModel):
    """Body of create: {"write": {"content": {...}}}."""

    write: Content


class QueryBody(BaseModel):
    """Body of exists and read: {"query": {"content": {...}}}."""

    query: Content


class QueryWriteBody(BaseModel):
    """Body of update, updateEntries and updateOrCreate: an optional query and the write."""

    query: Content | None = None
    write: Content


class RecordContent(BaseModel):
    """A record as GovStack returns it, with govhub's metadata beside the content."""

    content: dict[str, Any]
    uuid: str
    createdAt: str  # noqa: N815 - GovStack's spelling
    modifiedAt: str  # noqa: N815


class RecordList(BaseModel):
    """A page of records: GovStack's count, next, previous and results."""

    count: int
    next: str | None
    previous: str | None
    results: list[dict[str, Any]]


class ExistsAnswer(BaseModel):
    """The inner answer of exists."""

    status: bool
    message: str


class ExistsResponse(BaseModel):
    """{"answer": {"status": true, "message": "..."}}."""

    answer: ExistsAnswer


class UpdateEntriesResponse(BaseModel):
    """How many records updateEntries changed."""

    count: int


class HistoryEntry(BaseModel):
    """One change of a record (govhub extension)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    change: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    actor: str
    request_id: str | None
    at: str


class PersonalDataUsage(BaseModel):
    """GovStack's personalDataUsage item: who read a person's data, when and what."""

    id: str
    readerId: str  # noqa: N815
    readerInitials: str | None = None  # noqa: N815
    readerInstitutionId: str  # noqa: N815
    readerInstitutionName: str  # noqa: N815
    readerApplicationName: str | None = None  # noqa: N815
    searchDateTime: str  # noqa: N815
    refrences: list[dict[str, str]] = []  # GovStack's spelling
