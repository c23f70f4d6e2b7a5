"""Harvesting: datasets of another CKAN portal (GDC or not) or of a DCAT catalog, kept in step.

Every remote dataset is written through `service.package_create`/`package_update` as the
system actor "harvest: <url>", so history and the search index stay right. A harvested
dataset is found again by (`harvest_source`, `harvest_remote_id`); one that has not changed
is not written at all, so a second run adds no revision. CKAN sources are read through
package_search sorted by metadata_modified, from the newest remote change already
harvested (kept in the dataset's `harvest_remote_modified` extra, as ckanext-harvest keeps
its own extras); DCAT catalogs are read whole, following Hydra's next links.

Remote GDC portals send Thai labels ("ข้อมูลสาธารณะ", "ปี"): `vocab.code_of` reads them.
A coded value nobody knows, or a missing required GDC field, gets a default (see
DEFAULTS) and a warning; an optional field that fails validation is dropped with a
warning; a record that still fails is reported and skipped. Each record is its own
transaction: one bad record never undoes the others.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from hashlib import sha256
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.kit.errors import AppError
from govhub.kit.observability import get_logger
from govhub.opendata import dcat, repository, service, vocab
from govhub.opendata.models import Dataset, DatasetState, Organization
from govhub.opendata.schemas import (
    ALL_TYPE_FIELDS, NAME_PATTERN, TAG_PATTERN, TYPE_FIELDS, DatasetInvalid, PackageInput, parse_package,
)

log = get_logger("govhub.opendata.harvest")

PAGE_ROWS = 100
ID_PAGE_ROWS = 1000
MAX_PAGES = 10_000
MAX_REDIRECTS = 5
MAX_RESPONSE_BYTES = 50 * 1024 * 1024
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = "govhub-harvester/1 (+https://github.com/govhub)"
REMOTE_MODIFIED_EXTRA = "harvest_remote_modified"

# What a remote dataset without a (recognisable) value for a required GDC field gets.
DEFAULTS: dict[str, Any] = {
    "data_type": "other",
    "objective": ["other"],
    "update_frequency_unit": "other",
    "geo_coverage": "unknown",
    "data_category": "public",  # it is published on an open portal
    "license_id": "notspecified",
}
# Optional fields dropped (with a warning) rather than failing the record when invalid.
DROPPABLE = frozenset({
    "title_en", "url", "maintainer", "maintainer_email", "data_source", "update_frequency_interval",
    "created_date", "last_updated_date", "data_format", "data_language", "extras", *ALL_TYPE_FIELDS,
})
COPIED_TEXT = ("title", "title_en", "notes", "maintainer", "maintainer_email", "data_source")


class SourceError(Exception):
    """The source could not be read (unreachable, not a catalog, a broken page)."""


class Unreachable(SourceError):
    """The source did not answer (connection refused, timeout, broken connection)."""


class BadRecord(Exception):
    """A remote record that cannot become a dataset."""


@dataclass
class Problem:
    """A record that failed or was changed on the way in."""

    remote_id: str
    name: str
    message: str


@dataclass
class HarvestReport:
    """What a run did: counts per outcome, the failures and the warnings."""

    source: str
    kind: str = ""
    dry_run: bool = False
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("created", "updated", "unchanged", "skipped", "deleted", "failed"), 0))
    failures: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    error: str | None = None

    def count(self, outcome: str) -> None:
        """Add one record to an outcome."""
        self.counts[outcome] += 1

    @property
    def exit_code(self) -> int:
        """0 all went well, 1 some record failed, 2 the source could not be read."""
        if self.error:
            return 2
        return 1 if self.counts["failed"] else 0


# ---------------------------------------------------------------- fetching

class Fetcher:
    """GET with a timeout, a size cap, and redirects followed only to http(s)."""

    def __init__(self, client: httpx.AsyncClient, *, max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self.client = client
        self.max_bytes = max_bytes

    async def get(self, url: str, *, params: dict[str, Any] | None = None,
                  accept: str = "*/*") -> tuple[str, int, str, bytes]:
        """(final URL, status, content type, body) of a GET."""
        for _ in range(MAX_REDIRECTS + 1):
            _check_scheme(url)
            try:
                async with self.client.stream("GET", url, params=params, headers={"Accept": accept}) as response:
                    if response.is_redirect:
                        url, params = urljoin(str(response.url), response.headers.get("location", "")), None
                        continue
                    body = await self._read(response)
                    return str(response.url), response.status_code, response.headers.get("content-type", ""), body
            except httpx.HTTPError as error:
                raise Unreachable(f"{url}: {type(error).__name__}: {error}") from None
        raise SourceError(f"{url}: more than {MAX_REDIRECTS} redirects")

    async def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise SourceError(f"{response.url}: response larger than {self.max_bytes} bytes")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise SourceError(f"{response.url}: response larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _check_scheme(url: str) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise SourceError(f"{url}: only http and https addresses are harvested")


class CkanSource:
    """A CKAN site's Action API."""

    def __init__(self, fetcher: Fetcher, base: str) -> None:
        self.fetcher = fetcher
        self.base = base

    async def action(self, name: str, **params: Any) -> Any:
        """An action's result, or SourceError."""
        url = f"{self.base}/api/3/action/{name}"
        _, status, _, body = await self.fetcher.get(url, params=params, accept="application/json")
        try:
            envelope = httpx.Response(200, content=body).json()
        except ValueError:
            raise SourceError(f"{url}: answered {status} with something that is not JSON") from None
        if status != 200 or not isinstance(envelope, dict) or envelope.get("success") is not True:
            error = envelope.get("error") if isinstance(envelope, dict) else None
            raise SourceError(f"{url}: answered {status}: {error!r}"[:500])
        return envelope.get("result")

    async def packages(self, *, since: datetime | None, rows: int = PAGE_ROWS,
                       fields: str | None = None) -> AsyncIterator[list[Any]]:
        """Pages of package_search results, oldest change first (only those since `since`)."""
        params: dict[str, Any] = {"q": "*:*", "rows": rows, "sort": "metadata_modified asc"}
        if since is not None:
            params["fq"] = f"metadata_modified:[{_solr_time(since)} TO *]"
        if fields:
            params["fl"] = fields
        start = 0
        for _ in range(MAX_PAGES):
            result = await self.action("package_search", **params, start=start)
            if not isinstance(result, dict) or not isinstance(result.get("results"), list):
                raise SourceError(f"{self.base}: package_search did not return results")
            results = result["results"]
            if not results:
                return
            yield results
            start += len(results)
            if start >= int(result.get("count") or 0):
                return
        raise SourceError(f"{self.base}: more than {MAX_PAGES} pages")


def _solr_time(value: datetime) -> str:
    # Solr's date syntax; truncated to the second, so the newest record is read again (and found unchanged).
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def detect(fetcher: Fetcher, url: str) -> tuple[str, str]:
    """("ckan", API base) or ("dcat", catalog URL) for a source address, or SourceError."""
    _check_scheme(url)
    if dcat.format_of(url, None):
        return "dcat", url
    base = re.sub(r"/api(/3)?(/action(/.*)?)?/?$", "", url.rstrip("/"))
    try:
        await CkanSource(fetcher, base).action("status_show")
        return "ckan", base
    except Unreachable:
        raise
    except SourceError:
        pass  # not a CKAN site: perhaps a catalog served without a suffix
    _, status, content_type, _ = await fetcher.get(url, accept=", ".join(dcat.MEDIA_TYPES.values()))
    if status == 200 and dcat.format_of(url, content_type):
        return "dcat", url
    raise SourceError(f"{url}: neither a CKAN site (no /api/3/action/status_show) nor a DCAT catalog")


# ---------------------------------------------------------------- mapping remote records

def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value).strip()


def _split(value: Any) -> list[str]:
    """A multi-valued GDC field as sent: a list, "a,b", or a PostgreSQL array "{a,b}"."""
    if value in (None, ""):
        return []
    if isinstance(value, list):
        items = value
    else:
        text = str(value).strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        items = text.split(",")
    return [str(item).strip().strip('"') for item in items if str(item).strip().strip('"')]


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().casefold() in ("true", "1", "yes", "y", "on", "ใช่", "t")


def _clean_tag(name: str) -> str:
    cleaned = re.sub(r"[\x00-\x1f\x7f<>\"\\/,;{}|]+", " ", name)
    return " ".join(cleaned.split())[:100].strip()


def _remote_id(record: dict[str, Any]) -> str:
    remote = _text(record.get("id"))
    # harvest_remote_id holds 100 characters: a longer identifier (a DCAT URI) is kept by its hash.
    return remote if len(remote) <= 100 else "sha256:" + sha256(remote.encode()).hexdigest()[:64]


@dataclass
class Prepared:
    """A remote record made ready for the service: the package dict, its parse, and what was changed."""

    remote_id: str
    wanted_name: str
    data: dict[str, Any]
    parsed: PackageInput
    organization: dict[str, Any]
    warnings: list[str]


def prepare(record: Any, *, landing_url: str | None = None) -> Prepared:
    """Map a remote package dict to one our service accepts (labels to codes, defaults, clean tags)."""
    if not isinstance(record, dict):
        raise BadRecord("the record is not an object")
    remote_id = _remote_id(record)
    if not remote_id:
        raise BadRecord("the record has no id")
    warnings: list[str] = []
    extras: dict[str, str] = {}
    raw_extras = record.get("extras") or []
    if not isinstance(raw_extras, list):
        raise BadRecord("extras is not a list")
    for item in raw_extras:
        if isinstance(item, dict) and isinstance(item.get("key"), str) and len(item["key"]) <= 100:
            extras[item["key"]] = _text(item.get("value"))[:5000]

    def get(key: str) -> Any:
        # CKAN without ckanext-scheming sends GDC fields as extras.
        value = record.get(key)
        return value if value not in (None, "", []) else extras.pop(key, None)

    for key in list(extras):
        if key.startswith("harvest_") or key in record:
            extras.pop(key)
    data: dict[str, Any] = {key: _text(get(key)) for key in COPIED_TEXT}
    name = _text(record.get("name")).lower()
    wanted = name if NAME_PATTERN.match(name) else (dcat._slug(data["title_en"]) or "dataset-" + sha256(
        remote_id.encode()).hexdigest()[:12])
    if not data["title"]:
        data["title"] = data.pop("title_en") or _text(record.get("name")) or wanted
    if not data["maintainer"] and record.get("author"):
        data["maintainer"] = _text(record.get("author"))
    if not data["maintainer_email"] and record.get("author_email"):
        data["maintainer_email"] = _text(record.get("author_email"))
    url = _text(record.get("url"))
    data["url"] = url if url.startswith(("http://", "https://")) else (landing_url or "")
    for key, vocabulary in (("data_type", vocab.DATASET_TYPES), ("update_frequency_unit", vocab.UPDATE_FREQUENCIES),
                            ("geo_coverage", vocab.GEO_COVERAGES), ("data_category", vocab.DATA_CATEGORIES),
                            ("data_classification", vocab.CLASSIFICATIONS)):
        raw = _text(get(key))
        code = vocabulary.code_of(raw) if raw else None
        if code is None and key in DEFAULTS:
            if raw:
                warnings.append(f"{key}: {raw!r} is not a known value; {DEFAULTS[key]!r} used")
            code = DEFAULTS[key]
        elif code is None and raw:
            warnings.append(f"{key}: {raw!r} is not a known value; left out")
        data[key] = code or ""
    for key, vocabulary in (("objective", vocab.OBJECTIVES), ("data_format", vocab.STORAGE_FORMATS),
                            ("data_language", vocab.LANGUAGES)):
        codes, unknown = [], []
        for item in _split(get(key)):
            code = vocabulary.code_of(item)
            if code is None:
                unknown.append(item)
            elif code not in codes:
                codes.append(code)
        if unknown:
            warnings.append(f"{key}: {', '.join(map(repr, unknown))} not known; left out")
        if not codes and key in DEFAULTS:
            codes = list(DEFAULTS[key])
        data[key] = codes
    interval = _text(get("update_frequency_interval"))
    data["update_frequency_interval"] = interval if interval.isdigit() else None
    licence = (vocab.license_id_of(_text(record.get("license_id")))
               or vocab.license_id_of(_text(record.get("license_title")))
               or dcat.licence_id_of_url(_text(record.get("license_url"))))
    if licence is None:
        if record.get("license_id") or record.get("license_title"):
            warnings.append(f"license_id: {record.get('license_id') or record.get('license_title')!r} "
                            f"is not a known licence; {DEFAULTS['license_id']!r} used")
        licence = DEFAULTS["license_id"]
    data["license_id"] = licence
    for key in ("high_value_dataset", "reference_data"):
        data[key] = _truthy(get(key))
    for key in ("created_date", "last_updated_date"):
        value = _text(get(key))
        data[key] = value[:10] if re.match(r"^\d{4}-\d{2}-\d{2}", value) else None
        if value and data[key] is None:
            warnings.append(f"{key}: {value!r} is not a date; left out")
    allowed = TYPE_FIELDS.get(data["data_type"], {})
    for key in ALL_TYPE_FIELDS:
        value = get(key)
        if value in (None, ""):
            continue
        if key in allowed:
            # GDC portals often give years in the Buddhist era (2566 = 2023), as on Thai forms.
            if key.endswith("_year_of_data") and str(value).strip().isdigit() and int(str(value).strip()) > 2400:
                value = int(str(value).strip()) - 543
            data[key] = value
        else:
            warnings.append(f"{key}: does not belong to a {data['data_type']} dataset; left out")
    # Only public, openly classified data may be public here: anything else is catalogued privately.
    data["private"] = not (data["data_category"] == "public" and data["data_classification"] in ("", "open"))
    if data["private"]:
        warnings.append("not public, openly classified data: harvested as a private dataset")
    data["state"] = "active"
    data["tags"] = _tags(record.get("tags"), warnings)
    data["groups"] = [{"name": _text(group.get("name"))} for group in record.get("groups") or []
                      if isinstance(group, dict) and group.get("name")]
    data["resources"] = _resources(record.get("resources"), warnings)
    modified = _text(record.get("metadata_modified"))
    data["extras"] = [{"key": key, "value": value} for key, value in sorted(extras.items())]
    if modified:
        data["extras"].append({"key": REMOTE_MODIFIED_EXTRA, "value": modified})
    organization = record.get("organization") if isinstance(record.get("organization"), dict) else {}
    data["owner_org"] = "-"  # the harvester puts the dataset into an organization of its own choosing
    data["name"] = wanted
    parsed = _parse_dropping(data, warnings)
    return Prepared(remote_id=remote_id, wanted_name=wanted, data=data, parsed=parsed,
                    organization=organization or {}, warnings=warnings)


def _tags(raw: Any, warnings: list[str]) -> list[dict[str, str]]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise BadRecord("tags is not a list")
    names: list[str] = []
    for item in raw:
        original = _text(item.get("name") if isinstance(item, dict) else item)
        name = _clean_tag(original)
        if name != original:
            warnings.append(f"tags: {original!r} cleaned to {name!r}" if name else f"tags: {original!r} left out")
        if name and TAG_PATTERN.match(name) and name not in names:
            names.append(name)
    return [{"name": name} for name in names]


def _resources(raw: Any, warnings: list[str]) -> list[dict[str, Any]]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise BadRecord("resources is not a list")
    resources = []
    for item in raw:
        if not isinstance(item, dict):
            raise BadRecord("a resource is not an object")
        url = _text(item.get("url"))
        if not re.match(r"^https?://\S+$", url) or len(url) > 2000:
            warnings.append(f"resources: {item.get('name') or url!r} has no http(s) address; left out")
            continue
        resources.append({"name": _text(item.get("name"))[:500], "description": _text(item.get("description"))[:10_000],
                          "format": _text(item.get("format")).upper().lstrip(".")[:32], "url": url})
    return resources


def _parse_dropping(data: dict[str, Any], warnings: list[str]) -> PackageInput:
    """parse_package, dropping optional fields it refuses (once) rather than the whole record."""
    try:
        return parse_package(data, creating=True)
    except DatasetInvalid as error:
        droppable = set(error.errors) <= DROPPABLE
        if not droppable:
            raise
        for key in error.errors:
            warnings.append(f"{key}: {data.get(key)!r} is not valid ({'; '.join(error.errors[key])}); left out")
            data.pop(key, None)
        return parse_package(data, creating=True)


# ---------------------------------------------------------------- writing

@dataclass
class Harvester:
    """One run against one source."""

    source: str
    actor: service.Actor
    report: HarvestReport
    organization: str | None = None
    dry_run: bool = False
    seen: set[str] = field(default_factory=set)

    async def record(self, record: Any, *, landing_url: str | None = None) -> None:
        """Create, update, skip or delete one remote record; failures are reported, not raised."""
        remote_id = _remote_id(record) if isinstance(record, dict) else ""
        label = _text(record.get("name") or record.get("title")) if isinstance(record, dict) else ""
        try:
            if isinstance(record, dict) and remote_id and self._withdrawn(record):
                self.seen.discard(remote_id)
                outcome = await self._in_session(lambda session: self._withdraw(session, remote_id))
                self.report.count(outcome)
                return
            prepared = prepare(record, landing_url=landing_url)
            self.seen.add(prepared.remote_id)
            outcome = await self._in_session(lambda session: self._write(session, prepared))
        except BadRecord as error:
            self._fail(remote_id, label, str(error))
            return
        except DatasetInvalid as error:
            details = "; ".join(f"{key}: {', '.join(messages)}" for key, messages in error.errors.items())
            self._fail(remote_id, label, details)
            return
        except AppError as error:
            self._fail(remote_id, label, error.message)
            return
        except Exception as error:  # noqa: BLE001 - one broken record must not end the run
            log.exception("harvest.record_failed", source=self.source, remote_id=remote_id)
            self._fail(remote_id, label, f"{type(error).__name__}: {error}")
            return
        self.report.count(outcome)
        self.report.warnings.extend(Problem(prepared.remote_id, prepared.wanted_name, warning)
                                    for warning in prepared.warnings)

    def _fail(self, remote_id: str, name: str, message: str) -> None:
        self.report.count("failed")
        self.report.failures.append(Problem(remote_id, name, message))
        # A record that failed is not known to be gone: never delete its earlier copy.
        if remote_id:
            self.seen.add(remote_id)

    @staticmethod
    def _withdrawn(record: dict[str, Any]) -> bool:
        return (record.get("state") not in (None, "", "active") or _truthy(record.get("private") or False)
                or ("allow_harvest" in record and record["allow_harvest"] not in (None, "")
                    and not _truthy(record["allow_harvest"])))

    async def _in_session(self, work: Any) -> str:
        from govhub.db import commit, get_sessionmaker

        async with get_sessionmaker()() as session:
            try:
                outcome: str = await work(session)
                if self.dry_run:
                    await session.rollback()
                else:
                    await commit(session)
                return outcome
            except BaseException:
                await session.rollback()
                raise

    async def _local(self, session: AsyncSession, remote_id: str) -> Dataset | None:
        statement = select(Dataset).where(Dataset.harvest_source == self.source,
                                          Dataset.harvest_remote_id == remote_id)
        return (await session.execute(statement)).scalars().first()

    async def _withdraw(self, session: AsyncSession, remote_id: str) -> str:
        local = await self._local(session, remote_id)
        if local is None or local.state == DatasetState.DELETED:
            return "skipped"
        await service.package_delete(session, self.actor, local.id)
        return "deleted"

    async def _write(self, session: AsyncSession, prepared: Prepared) -> str:
        organization = await self._organization(session, prepared.organization)
        data = dict(prepared.data, owner_org=organization.id)
        data["groups"] = [group for group in data["groups"]
                          if await repository.group_by_id_or_name(session, group["name"]) is not None]
        local = await self._local(session, prepared.remote_id)
        if local is None:
            data["name"] = await self._free_name(session, prepared.wanted_name)
            dataset = await service.package_create(session, self.actor, data)
            dataset.harvest_source, dataset.harvest_remote_id = self.source, prepared.remote_id
            await session.flush()
            return "created"
        data["id"], data["name"] = local.id, local.name
        if not await _differs(session, local, data):
            return "unchanged"
        # Resources are matched by position, so an unchanged file keeps its id and address.
        current = sorted(local.resources, key=lambda resource: resource.position)
        data["resources"] = [dict(item, id=current[index].id) if index < len(current) else item
                             for index, item in enumerate(data["resources"])]
        await service.package_update(session, self.actor, data)
        return "updated"

    async def _free_name(self, session: AsyncSession, wanted: str) -> str:
        if await repository.dataset_by_name(session, wanted) is None:
            return wanted
        for number in range(2, 10_000):
            suffix = f"-{number}"
            candidate = wanted[: 100 - len(suffix)] + suffix
            if await repository.dataset_by_name(session, candidate) is None:
                return candidate
        raise BadRecord("no free URL name")

    async def _organization(self, session: AsyncSession, remote: dict[str, Any]) -> Organization:
        if self.organization:
            found = await repository.organization_by_id_or_name(session, self.organization)
            if found is None:
                raise SourceError(f"no organization {self.organization!r} here")
            return found
        host = _host_slug(self.source)
        remote_name = _text(remote.get("name")).lower()
        if not NAME_PATTERN.match(remote_name):
            remote_name = f"harvest-{host}"[:100]
        title = _text(remote.get("title") or remote.get("display_name")) or remote_name
        # The remote organization's own name, unless a local organization (or another source's) has it.
        for candidate in (remote_name, f"{host}-{remote_name}"[:100],
                          f"{host}-{sha256(self.source.encode()).hexdigest()[:6]}-{remote_name}"[:100]):
            found = (await session.execute(select(Organization).where(Organization.name == candidate))).scalars().first()
            if found is None:
                organization = Organization(name=candidate, title_th=title[:255],
                                            title_en=_text(remote.get("title_en"))[:255],
                                            description=_text(remote.get("description"))[:10_000],
                                            image_url=_text(remote.get("image_url"))[:500]
                                            if _text(remote.get("image_url")).startswith(("http://", "https://")) else "",
                                            harvest_source=self.source)
                session.add(organization)
                await session.flush()
                return organization
            if found.harvest_source == self.source:
                return found
        raise BadRecord(f"no free name for the organization {remote_name!r}")

    async def delete_missing(self) -> None:
        """Mark deleted the datasets harvested from this source that it no longer lists."""
        from govhub.db import get_sessionmaker

        async with get_sessionmaker()() as session:
            rows = (await session.execute(select(Dataset.harvest_remote_id).where(
                Dataset.harvest_source == self.source, Dataset.state != DatasetState.DELETED))).scalars().all()
        for remote_id in sorted(set(rows) - self.seen - {None}):
            try:
                self.report.count(await self._in_session(lambda session, rid=remote_id: self._withdraw(session, rid)))
            except Exception as error:  # noqa: BLE001
                self._fail(remote_id or "", "", f"could not mark deleted: {type(error).__name__}: {error}")


async def _differs(session: AsyncSession, dataset: Dataset, data: dict[str, Any]) -> bool:
    """True if writing data would change the dataset (fields, keywords, groups or resources)."""
    parsed = parse_package(data, creating=True)
    for attr, value in parsed.values.items():
        current = getattr(dataset, attr)
        if attr == "state":
            current = current.value
        if current != value:
            return True
    if dataset.organization_id != parsed.owner_org:
        return True
    if sorted(parsed.tags or []) != dataset.tag_names:
        return True
    groups = [await repository.group_by_id_or_name(session, name) for name in parsed.groups or []]
    if sorted(group.id for group in groups if group) != sorted(link.group_id for link in dataset.group_links):
        return True
    current_resources = [(resource.name, resource.description, resource.format, resource.url)
                         for resource in sorted(dataset.resources, key=lambda resource: resource.position)]
    wanted = [(item["name"], item["description"], item["format"], item["url"]) for item in parsed.resources or []]
    return current_resources != wanted


def _host_slug(url: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (urlsplit(url).netloc or "remote").lower()).strip("-")[:40] or "remote"


async def _remote_cursor(source: str) -> datetime | None:
    """The newest remote metadata_modified already harvested from the source."""
    from govhub.db import get_sessionmaker

    async with get_sessionmaker()() as session:
        rows = (await session.execute(select(Dataset.extras).where(Dataset.harvest_source == source))).scalars().all()
    newest: datetime | None = None
    for extras in rows:
        value = (extras or {}).get(REMOTE_MODIFIED_EXTRA)
        parsed = parse_time(value) if value else None
        if parsed and (newest is None or parsed > newest):
            newest = parsed
    return newest


def parse_time(value: str) -> datetime | None:
    """An ISO date or date-time (naive means UTC), or None."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value.strip()), datetime.min.time())
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---------------------------------------------------------------- a run

async def harvest(url: str, *, organization: str | None = None, since: datetime | None = None, dry_run: bool = False,
                  client: httpx.AsyncClient | None = None, max_bytes: int = MAX_RESPONSE_BYTES) -> HarvestReport:
    """Harvest a CKAN site or a DCAT catalog into this catalog; the report says what happened."""
    source = url.strip()
    report = HarvestReport(source=source, dry_run=dry_run)
    own_client = client is None
    client = client or httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False,
                                         headers={"User-Agent": USER_AGENT})
    try:
        fetcher = Fetcher(client, max_bytes=max_bytes)
        kind, address = await detect(fetcher, source)
        report.kind = kind
        if kind == "ckan":
            source = report.source = address
        harvester = Harvester(source=source, actor=service.system_actor(f"harvest: {source}"[:255]), report=report,
                              organization=organization, dry_run=dry_run)
        if organization:
            await _check_organization(organization)
        if kind == "ckan":
            await _harvest_ckan(harvester, CkanSource(fetcher, address), since)
        else:
            await _harvest_dcat(harvester, fetcher, address)
        await harvester.delete_missing()
    except SourceError as error:
        report.error = str(error)
    finally:
        if own_client:
            await client.aclose()
    log.info("harvest.finished", source=report.source, kind=report.kind, dry_run=dry_run, error=report.error,
             **report.counts)
    return report


async def _check_organization(name: str) -> None:
    from govhub.db import get_sessionmaker

    async with get_sessionmaker()() as session:
        if await repository.organization_by_id_or_name(session, name) is None:
            raise SourceError(f"no organization {name!r} here to harvest into")


async def _harvest_ckan(harvester: Harvester, ckan: CkanSource, since: datetime | None) -> None:
    incremental = since or await _remote_cursor(harvester.source)
    async for page in ckan.packages(since=incremental):
        for record in page:
            name = _text(record.get("name")) if isinstance(record, dict) else ""
            await harvester.record(record, landing_url=f"{ckan.base}/dataset/{name}" if name else None)
    if incremental is not None:
        # Records not changed since the cursor were not read: list every remote id (cheaply,
        # with fl) to find the ones deleted or made private remotely.
        async for page in ckan.packages(since=None, rows=ID_PAGE_ROWS, fields="id"):
            harvester.seen.update(_remote_id(item) for item in page if isinstance(item, dict) and item.get("id"))


async def _harvest_dcat(harvester: Harvester, fetcher: Fetcher, url: str) -> None:
    visited: set[str] = set()
    next_url: str | None = url
    # A catalog's next page must be on the catalog's own host: a remote document may not
    # send the harvester to fetch addresses elsewhere (an internal service, say).
    hosts = {urlsplit(url).netloc}
    while next_url and next_url not in visited:
        if len(visited) >= MAX_PAGES:
            raise SourceError(f"{url}: more than {MAX_PAGES} pages")
        visited.add(next_url)
        final_url, status, content_type, body = await fetcher.get(
            next_url, accept=", ".join(dcat.MEDIA_TYPES.values()))
        if status != 200:
            raise SourceError(f"{next_url}: answered {status}")
        if len(visited) == 1:
            hosts.add(urlsplit(final_url).netloc)
        fmt = dcat.format_of(next_url, content_type) or dcat.format_of(final_url, content_type)
        if fmt is None:
            raise SourceError(f"{next_url}: not a DCAT format ({content_type or 'no content type'})")
        try:
            graph = dcat.parse(body, fmt, base=final_url)
        except Exception as error:  # noqa: BLE001 - rdflib raises many kinds
            raise SourceError(f"{next_url}: could not be read as {fmt}: {error}") from None
        for package in dcat.packages_from_dcat(graph):
            await harvester.record(package)
        next_url = dcat.next_page(graph)
        if next_url:
            _check_scheme(next_url)
            if urlsplit(next_url).netloc not in hosts:
                raise SourceError(f"{url}: the next page {next_url} is on another host")
