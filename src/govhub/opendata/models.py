"""Tables of the Open Data Platform: organizations, groups, datasets with the Thai GDC
metadata, resources, the history of every metadata change, search facets and the datastore's
register of loaded tables.

Coded GDC fields hold the codes of `opendata.vocab`; labels are looked up when shown. The
rows of datastore tables themselves live outside these tables (see `opendata.datastore`).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from govhub.db import Base, string_enum
from govhub.kit.clock import utcnow
from govhub.kit.ids import new_id


class DatasetState(enum.StrEnum):
    """CKAN's dataset states: a draft is seen only by its publishers; deleted is kept, hidden."""

    DRAFT = "draft"
    ACTIVE = "active"
    DELETED = "deleted"


class Organization(Base):
    """A publisher of datasets: usually an agency of the platform, or one harvested from elsewhere."""

    __tablename__ = "opendata_organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # the URL name (CKAN `name`)
    title_th: Mapped[str] = mapped_column(String(255))
    title_en: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str] = mapped_column(String(500), default="")
    # The platform agency whose data stewards publish here; None for harvested organizations.
    agency_id: Mapped[str | None] = mapped_column(ForeignKey("agencies.id"), unique=True)
    harvest_source: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def title(self, locale: str) -> str:
        """The organization's name in the reader's language."""
        return self.title_en if locale == "en" and self.title_en else self.title_th


class Group(Base):
    """A theme datasets are filed under (CKAN group), such as transport or public finance."""

    __tablename__ = "opendata_groups"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title_th: Mapped[str] = mapped_column(String(255))
    title_en: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def title(self, locale: str) -> str:
        """The group's name in the reader's language."""
        return self.title_en if locale == "en" and self.title_en else self.title_th


class Dataset(Base):
    """A dataset with its GDC metadata (CKAN `package`)."""

    __tablename__ = "opendata_datasets"
    __table_args__ = (
        Index("ix_opendata_datasets_listing", "state", "private", "metadata_modified"),
        UniqueConstraint("harvest_source", "harvest_remote_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    title_en: Mapped[str] = mapped_column(String(500), default="")
    notes: Mapped[str] = mapped_column(Text, default="")  # description (Markdown)
    organization_id: Mapped[str] = mapped_column(ForeignKey("opendata_organizations.id"), index=True)
    dataset_type: Mapped[str] = mapped_column(String(32))  # vocab.DATASET_TYPES
    state: Mapped[DatasetState] = mapped_column(string_enum(DatasetState, "opendata_dataset_state", length=16))
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    license_id: Mapped[str] = mapped_column(String(64))
    objectives: Mapped[list[str]] = mapped_column(JSON, default=list)  # vocab.OBJECTIVES
    update_frequency_unit: Mapped[str] = mapped_column(String(32))  # vocab.UPDATE_FREQUENCIES
    update_frequency_interval: Mapped[int | None] = mapped_column(Integer)
    geo_coverage: Mapped[str] = mapped_column(String(32))  # vocab.GEO_COVERAGES
    data_source: Mapped[str] = mapped_column(String(500), default="")
    data_formats: Mapped[list[str]] = mapped_column(JSON, default=list)  # vocab.STORAGE_FORMATS
    data_category: Mapped[str] = mapped_column(String(32))  # vocab.DATA_CATEGORIES
    data_classification: Mapped[str] = mapped_column(String(32))  # vocab.CLASSIFICATIONS
    data_languages: Mapped[list[str]] = mapped_column(JSON, default=list)  # vocab.LANGUAGES
    high_value: Mapped[bool] = mapped_column(Boolean, default=False)
    reference_data: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_harvest: Mapped[bool] = mapped_column(Boolean, default=True)
    url: Mapped[str] = mapped_column(String(500), default="")  # the source's own page
    maintainer: Mapped[str] = mapped_column(String(255), default="")
    maintainer_email: Mapped[str] = mapped_column(String(254), default="")
    # When the data (not the metadata) was first collected and last updated.
    data_created: Mapped[date | None] = mapped_column(Date)
    data_updated: Mapped[date | None] = mapped_column(Date)
    # Fields of the dataset type (statistical: unit of measure, ...; geospatial: bounding box, ...).
    type_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Key-value pairs a harvested portal sent that the GDC schema has no place for.
    extras: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    creator_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    harvest_source: Mapped[str | None] = mapped_column(String(500))
    harvest_remote_id: Mapped[str | None] = mapped_column(String(100))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    metadata_created: Mapped[datetime] = mapped_column(default=utcnow)
    metadata_modified: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    organization: Mapped[Organization] = relationship(lazy="joined")
    resources: Mapped[list[Resource]] = relationship(
        back_populates="dataset", lazy="selectin", order_by="Resource.position",
        primaryjoin="and_(Resource.dataset_id == Dataset.id, Resource.state == 'active')",
        viewonly=True,
    )
    tags: Mapped[list[DatasetTag]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    group_links: Mapped[list[DatasetGroup]] = relationship(lazy="selectin", cascade="all, delete-orphan")

    @property
    def tag_names(self) -> list[str]:
        """The dataset's keywords, sorted."""
        return sorted(tag.name for tag in self.tags)


class DatasetTag(Base):
    """A keyword of a dataset (Thai allowed)."""

    __tablename__ = "opendata_dataset_tags"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class DatasetGroup(Base):
    """A dataset's membership of a group."""

    __tablename__ = "opendata_dataset_groups"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("opendata_groups.id"), primary_key=True, index=True)


class Resource(Base):
    """A file or a link of a dataset (CKAN `resource`)."""

    __tablename__ = "opendata_resources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(32), default="")  # upper case: CSV, XLSX, GEOJSON, ...
    mimetype: Mapped[str] = mapped_column(String(100), default="")
    url: Mapped[str] = mapped_column(String(2000), default="")  # a link, or "" for an upload
    # "upload" when the file is kept by the platform (storage_key names it), else None.
    url_type: Mapped[str | None] = mapped_column(String(16))
    storage_key: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | deleted
    # Last link check (quality score): None until checked.
    reachable: Mapped[bool | None] = mapped_column(Boolean)
    checked_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_modified: Mapped[datetime] = mapped_column(default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="resources", viewonly=True)


class DatasetRevision(Base):
    """One change to a dataset's metadata: who, when, and each field's old and new value."""

    __tablename__ = "opendata_dataset_revisions"
    __table_args__ = (UniqueConstraint("dataset_id", "number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # "created" | "updated" | "deleted" | "resource_created" | "resource_updated" | "resource_deleted" | "harvested"
    action: Mapped[str] = mapped_column(String(32))
    actor_account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    actor_label: Mapped[str] = mapped_column(String(255), default="")  # "harvest: URL", "system"
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field -> [old, new]
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the package dict after the change
    at: Mapped[datetime] = mapped_column(default=utcnow)


class FacetValue(Base):
    """One facet value of a dataset (organization, group, tag, format, licence, ...).

    Search counts facets and filters `fq` over this one narrow table, on every database.
    """

    __tablename__ = "opendata_facet_values"
    __table_args__ = (Index("ix_opendata_facet_values_lookup", "field", "value", "dataset_id"),)

    dataset_id: Mapped[str] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(255), primary_key=True)


class IndexEntry(Base):
    """What the in-memory search engine (`search_memory`) knows of one dataset, and when it changed.

    Written with the full-text index in the same transaction; `seq` is the change sequence
    number, so each worker process applies only the entries changed since it last looked. A
    removed dataset keeps its row with present=False, so that removals reach every process too.
    """

    __tablename__ = "opendata_index_entries"

    dataset_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    organization_id: Mapped[str] = mapped_column(String(36), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    # Search terms (already segmented and stemmed), space-separated, by field.
    title_terms: Mapped[str] = mapped_column(Text, default="")
    tag_terms: Mapped[str] = mapped_column(Text, default="")
    note_terms: Mapped[str] = mapped_column(Text, default="")
    # "field=value" pairs separated by FACET_SEPARATOR (plain text: decoding JSON for every row
    # took a third of the time to build the index at 100,000 datasets).
    facets: Mapped[str] = mapped_column(Text, default="")
    # Sort keys of package_search.
    name: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(Text, default="")
    metadata_modified: Mapped[datetime | None] = mapped_column(default=None)
    metadata_created: Mapped[datetime | None] = mapped_column(default=None)


FACET_SEPARATOR = "\x1f"  # ASCII unit separator; removed from the values themselves


class IndexState(Base):
    """The search index's one row: the last change sequence number, and whether every dataset is in.

    The row lock taken to advance `seq` orders the numbers as the transactions commit, so a
    process that has applied every entry up to `seq` has missed none. `generation` changes when
    the database is made anew, so that no process mistakes another database's index for its own.
    """

    __tablename__ = "opendata_index_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    generation: Mapped[str] = mapped_column(String(36), default=new_id)
    # False after an upgrade from a catalog indexed before the entries existed: the memory engine
    # waits for `govhub opendata reindex`, and searches use the database's full-text engine meanwhile.
    complete: Mapped[bool] = mapped_column(Boolean, default=True)


class DatastoreStatus(enum.StrEnum):
    """Where a resource's datastore table stands."""

    PENDING = "pending"
    LOADING = "loading"
    ACTIVE = "active"
    FAILED = "failed"


class DatastoreTable(Base):
    """The datastore table a tabular resource was loaded into, and how the load went."""

    __tablename__ = "opendata_datastore_tables"

    resource_id: Mapped[str] = mapped_column(ForeignKey("opendata_resources.id", ondelete="CASCADE"), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[DatastoreStatus] = mapped_column(string_enum(DatastoreStatus, "opendata_datastore_status", length=16))
    # [{"id": column, "type": "text" | "int" | "numeric" | "date" | "timestamp" | "bool"}]
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    bad_row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    bad_rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # the first ones, with reasons
    error: Mapped[str] = mapped_column(Text, default="")
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
