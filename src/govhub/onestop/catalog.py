"""The public-service catalog: load YAML definitions as versioned manuals, find and read them.

Loading is idempotent: a service whose definition is unchanged (same canonical JSON digest)
keeps its version; a changed one gets the next version, and the old versions stay, because
an application keeps the manual it started under.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity import repository as identity_repository
from govhub.identity import service as identity_service
from govhub.kit.clock import utcnow
from govhub.kit.errors import NotFound
from govhub.onestop import repository
from govhub.onestop.definitions import CatalogFile, ServiceDefinition
from govhub.onestop.models import PublicService, ServiceManualVersion

DEMO_CATALOG = Path(__file__).parent / "data" / "catalog"
MAX_FILE_BYTES = 1_000_000


class CatalogError(ValueError):
    """A catalog file that cannot be loaded: which file, and why."""


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: nested aliases can expand a small text exponentially."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass


@dataclass
class LoadReport:
    """What a load did, service by service."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    agencies_created: list[str] = field(default_factory=list)


def read_file(path: Path) -> CatalogFile:
    """Parse and validate one YAML file; CatalogError names the file and the field."""
    if path.stat().st_size > MAX_FILE_BYTES:
        raise CatalogError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        document = _yaml(path.read_text(encoding="utf-8"))
        return CatalogFile.model_validate(document or {})
    except yaml.YAMLError as error:
        raise CatalogError(f"{path}: not valid YAML: {error}") from error
    except ValidationError as error:
        raise CatalogError(f"{path}: {_problems(error)}") from error


def parse_definition(text: str) -> ServiceDefinition:
    """One service definition typed by an administrator (YAML); CatalogError says what is wrong."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise CatalogError(f"larger than {MAX_FILE_BYTES} bytes")
    try:
        return ServiceDefinition.model_validate(_yaml(text) or {})
    except yaml.YAMLError as error:
        raise CatalogError(f"not valid YAML: {error}") from error
    except ValidationError as error:
        raise CatalogError(_problems(error)) from error


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}" for problem in error.errors()[:10]
    )


def as_yaml(definition: ServiceDefinition) -> str:
    """The definition as YAML an administrator edits (Thai kept readable)."""
    return yaml.safe_dump(_stored(definition), allow_unicode=True, sort_keys=False, width=120)


async def publish(session: AsyncSession, definition: ServiceDefinition, *, actor_id: str) -> str:
    """Publish an administrator's definition: a new version if it changed; audited."""
    from govhub.identity import audit

    outcome = await _load_service(session, definition, actor_id=actor_id)
    if outcome != "unchanged":
        await audit.record(session, audit.AuditAction.PUBLIC_SERVICE_PUBLISHED, actor_id=actor_id,
                           code=definition.code, outcome_kind=outcome, digest=digest(definition))
    return outcome


def read_paths(paths: list[Path]) -> list[CatalogFile]:
    """Every YAML file of the given files and directories, in name order; codes must be unique."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    documents = [read_file(path) for path in files]
    seen: dict[str, Path] = {}
    for path, document in zip(files, documents, strict=True):
        for service in document.services:
            if service.code in seen:
                raise CatalogError(f"{path}: service {service.code!r} is also defined in {seen[service.code]}")
            seen[service.code] = path
    return documents


def digest(definition: ServiceDefinition) -> str:
    """SHA-256 of the definition's canonical JSON: equal definitions, equal digests."""
    canonical = json.dumps(_stored(definition), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stored(definition: ServiceDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json", by_alias=True)


def _search_text(definition: ServiceDefinition) -> str:
    parts = [definition.code, definition.title.th, definition.title.en, definition.summary.th, definition.summary.en]
    parts += definition.keywords
    return " ".join(parts).lower()


async def load(
    session: AsyncSession, documents: list[CatalogFile], *, actor_id: str | None = None, demo: bool = False
) -> LoadReport:
    """Create the agencies and services that are new, and version the services that changed."""
    report = LoadReport()
    for document in documents:
        for agency in document.agencies:
            if await identity_repository.agency_by_code(session, agency.code) is None:
                await identity_service.create_agency(
                    session, code=agency.code, name_th=agency.name.th, name_en=agency.name.en, actor_id=actor_id,
                    is_demo=demo,
                )
                report.agencies_created.append(agency.code)
    for document in documents:
        for definition in document.services:
            outcome = await _load_service(session, definition, actor_id=actor_id)
            getattr(report, outcome).append(definition.code)
    return report


async def _load_service(session: AsyncSession, definition: ServiceDefinition, *, actor_id: str | None) -> str:
    agency = await identity_repository.agency_by_code(session, definition.agency)
    if agency is None:
        raise CatalogError(f"service {definition.code!r}: agency {definition.agency!r} is not defined")
    new_digest = digest(definition)
    service = await repository.service_by_code(session, definition.code)
    if service is None:
        service = PublicService(code=definition.code, agency_id=agency.id, current_version=1)
        _describe(service, definition)
        session.add(service)
        await session.flush()
        outcome = "created"
    else:
        current = await repository.version_of(session, service.id, service.current_version)
        if current is not None and current.digest == new_digest and service.agency_id == agency.id:
            return "unchanged"
        service.agency_id = agency.id
        service.current_version += 1
        _describe(service, definition)
        outcome = "updated"
    session.add(ServiceManualVersion(
        service_id=service.id, version=service.current_version, definition=_stored(definition),
        digest=new_digest, published_by=actor_id,
    ))
    await session.flush()
    return outcome


def _describe(service: PublicService, definition: ServiceDefinition) -> None:
    """Copy what listing and search need from the current definition."""
    service.title_th = definition.title.th
    service.title_en = definition.title.en
    service.audiences = [a.value for a in definition.audiences]
    service.business_types = [b.value for b in definition.business_types]
    service.life_events = [e.value for e in definition.life_events]
    service.fee_total_satang = definition.fee_total_satang
    service.time_limit_days = definition.time_limit_days
    service.search_text = _search_text(definition)
    service.updated_at = utcnow()


async def current_definition(session: AsyncSession, service: PublicService) -> ServiceDefinition:
    """The service's manual as it stands now."""
    version = await repository.version_of(session, service.id, service.current_version)
    if version is None:
        raise NotFound()
    return ServiceDefinition.model_validate(version.definition)


def search_words(query: str) -> list[str]:
    """The words of a search box, lower-cased (Thai has no spaces: a word may be a phrase)."""
    return [word for word in query.lower().split() if word][:8]
