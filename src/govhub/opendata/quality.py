"""Dataset quality: a score per dataset with what to fix, the agencies' machine-readable share,
and the link check that tells whether resources still answer.

The score follows the idea of uData's: a handful of pass/fail criteria a publisher can act on
(an open licence, a real description, a kept update frequency, open machine-readable formats,
reachable and documented resources, keywords, coverage), each weighted, summed to 0-100.
The plan asks agencies to raise the share of their resources published machine-readable;
`machine_readable_share` reports it per organization for the public quality page.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from huey import crontab
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.db import unit_of_work
from govhub.jobs import _run_async, huey, job
from govhub.kit.clock import utcnow
from govhub.kit.i18n import N_, gettext
from govhub.kit.observability import get_logger
from govhub.opendata import service, vocab
from govhub.opendata.models import Dataset, DatasetState, Organization, Resource

log = get_logger("govhub.opendata.quality")

# A description shorter than this rarely says what the data is, how it was made and its limits.
MIN_DESCRIPTION_CHARS = 100
MIN_KEYWORDS = 3
# Frequencies with no period of their own ("other") are held to a year.
DEFAULT_PERIOD_DAYS = 366
# Coverage codes that say nothing about where the data applies.
UNKNOWN_COVERAGE = frozenset({"", "unknown"})


@dataclass(frozen=True)
class Criterion:
    """One quality criterion for one dataset: met or not, its weight, and what to do about it."""

    code: str
    title: str  # N_(): what the criterion checks
    weight: int
    passed: bool
    advice: str  # N_(): what the publisher should do when it is not met
    params: Mapping[str, Any] = field(default_factory=dict)

    def title_text(self) -> str:
        """The criterion's name in the reader's language."""
        return gettext(self.title)

    def advice_text(self) -> str:
        """The advice in the reader's language, with its values filled in."""
        return gettext(self.advice, **self.params) if self.params else gettext(self.advice)


@dataclass(frozen=True)
class Quality:
    """A dataset's criteria and its score out of 100."""

    criteria: tuple[Criterion, ...]

    @property
    def score(self) -> int:
        """The weights of the criteria met (the weights add up to 100)."""
        return sum(criterion.weight for criterion in self.criteria if criterion.passed)

    @property
    def to_fix(self) -> list[Criterion]:
        """Criteria not met, heaviest first: what the publisher should do next."""
        return sorted((c for c in self.criteria if not c.passed), key=lambda c: -c.weight)

    @property
    def met(self) -> list[Criterion]:
        """Criteria met."""
        return [criterion for criterion in self.criteria if criterion.passed]


# code -> (weight, title, advice). The order is the order shown to publishers.
CRITERIA: dict[str, tuple[int, str, str]] = {
    "open_license": (15, N_("Open licence"),
                     N_("Choose an open licence, such as Open Data Common or Creative Commons Attribution, "
                        "so that anyone may reuse the data.")),
    "description": (10, N_("Description"),
                    N_("Describe the data in at least %(min)s characters: what it holds, how it was collected, "
                       "and its limits.")),
    "update_frequency": (5, N_("Update frequency"),
                         N_("Say how often the data is updated (the update frequency).")),
    "up_to_date": (10, N_("Kept up to date"),
                   N_("The data is older than its update frequency promises: publish the latest data and set "
                      "the date it was last updated, or correct the update frequency.")),
    "has_resources": (10, N_("Data to download"),
                      N_("Add at least one resource: upload a file or give a link to the data.")),
    "machine_readable": (10, N_("Machine-readable format"),
                         N_("Publish the data in a machine-readable format such as CSV, JSON or XML, "
                            "not only as PDF, images or web pages.")),
    "open_format": (5, N_("Open format"),
                    N_("Also publish the data in an open format (CSV, JSON, XML, ODS, GeoJSON...) that needs "
                       "no particular vendor's software.")),
    "reachable": (10, N_("Resources reachable"),
                  N_("Some resources could not be reached when last checked: fix or remove %(names)s.")),
    "documented": (10, N_("Resources documented"),
                   N_("Describe each resource (what the file holds, its columns and units): %(names)s.")),
    "keywords": (5, N_("Keywords"),
                 N_("Add at least %(min)s keywords so that people find the dataset.")),
    "spatial_coverage": (5, N_("Geographic coverage"),
                         N_("Say which area the data covers (the country, a province, a district...).")),
    "temporal_coverage": (5, N_("Period covered"),
                          N_("Give the period the data covers: the date it was first collected, or for "
                             "statistics the first and last year of data.")),
}
assert sum(weight for weight, _, _ in CRITERIA.values()) == 100


# Advice for the resource criteria of a dataset that has no resource yet.
NO_RESOURCE_ADVICE = N_("Add resources first; each must then be reachable and described.")


def _criterion(code: str, passed: bool, *, advice: str | None = None, **params: Any) -> Criterion:
    weight, title, default_advice = CRITERIA[code]
    return Criterion(code=code, title=title, weight=weight, passed=passed, advice=advice or default_advice,
                     params={} if advice else params)


def _moment(value: Any) -> datetime | None:
    """A package dict's date or time as an aware UTC datetime (CKAN times are naive UTC)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        text = str(value)
        try:
            parsed = datetime.fromisoformat(text) if len(text) > 10 else datetime.fromisoformat(text[:10])
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def period_days(unit: str | None, interval: Any) -> int | None:
    """Days between two updates the frequency promises; None when no update is expected."""
    if not unit or unit == "never":
        return None
    base = vocab.FREQUENCY_DAYS.get(unit, DEFAULT_PERIOD_DAYS)
    try:
        times = max(int(interval or 1), 1)
    except (TypeError, ValueError):
        times = 1
    return base * times


def _names(resources: Iterable[dict[str, Any]]) -> str:
    return ", ".join(f"“{resource.get('name') or resource.get('format') or resource.get('id')}”" for resource in resources)


def score(package: dict[str, Any], *, now: datetime) -> Quality:
    """The quality of a dataset (a package dict, resources optionally carrying `reachable`)."""
    resources = [r for r in package.get("resources") or [] if r.get("state", "active") == "active"]
    licence = vocab.LICENSES_BY_ID.get(package.get("license_id") or "")
    formats = {str(r.get("format") or "").upper().lstrip(".") for r in resources}
    criteria = [
        _criterion("open_license", bool(licence and licence.is_open)),
        _criterion("description", len((package.get("notes") or "").strip()) >= MIN_DESCRIPTION_CHARS,
                   min=MIN_DESCRIPTION_CHARS),
    ]
    unit = package.get("update_frequency_unit") or ""
    criteria.append(_criterion("update_frequency", unit in vocab.UPDATE_FREQUENCIES.codes() and unit != "other"))
    criteria.append(_criterion("up_to_date", _up_to_date(package, unit, now)))
    criteria.append(_criterion("has_resources", bool(resources)))
    criteria.append(_criterion("machine_readable", bool(formats & vocab.MACHINE_READABLE_FORMATS)))
    criteria.append(_criterion("open_format", bool(formats & vocab.OPEN_FORMATS)))
    unreachable = [r for r in resources if r.get("reachable") is False]
    undocumented = [r for r in resources if not (r.get("description") or "").strip()]
    none_yet = None if resources else NO_RESOURCE_ADVICE
    criteria.append(_criterion("reachable", bool(resources) and not unreachable, advice=none_yet,
                               names=_names(unreachable)))
    criteria.append(_criterion("documented", bool(resources) and not undocumented, advice=none_yet,
                               names=_names(undocumented)))
    criteria.append(_criterion("keywords", len(package.get("tags") or []) >= MIN_KEYWORDS, min=MIN_KEYWORDS))
    criteria.append(_criterion("spatial_coverage", (package.get("geo_coverage") or "") not in UNKNOWN_COVERAGE))
    temporal = bool(package.get("created_date") or package.get("first_year_of_data")
                    or package.get("reference_period"))
    criteria.append(_criterion("temporal_coverage", temporal))
    return Quality(tuple(criteria))


def _up_to_date(package: dict[str, Any], unit: str, now: datetime) -> bool:
    days = period_days(unit, package.get("update_frequency_interval"))
    if days is None:
        return bool(unit)  # "never": nothing to keep up; no frequency: cannot be kept
    # The data's own date if the publisher gave one, else the last change to the dataset.
    last = _moment(package.get("last_updated_date")) or _moment(package.get("metadata_modified"))
    if last is None:
        return False
    # A day of grace: dates are calendar days, and a daily dataset updated yesterday is current.
    return now - last <= timedelta(days=days + 1)


def with_link_checks(package: dict[str, Any], resources: Sequence[Resource]) -> dict[str, Any]:
    """The package dict with each resource's last link check (`reachable`, `checked_at`) added."""
    checks = {resource.id: resource for resource in resources}
    copied = dict(package)
    copied["resources"] = []
    for item in package.get("resources") or []:
        row = checks.get(item.get("id"))
        copied["resources"].append({**item, "reachable": row.reachable if row else None,
                                    "checked_at": service.iso(row.checked_at) if row and row.checked_at else None})
    return copied


def quality_of(package: dict[str, Any], dataset: Dataset, *, now: datetime | None = None) -> Quality:
    """The score of a loaded dataset's package dict, with its resources' link checks."""
    return score(with_link_checks(package, dataset.resources), now=now or utcnow())


# ---------------------------------------------------------------- the agencies' share

@dataclass(frozen=True)
class OrganizationShare:
    """An organization's public resources, how many are machine-readable, and its average quality."""

    organization_id: str
    name: str
    title_th: str
    title_en: str
    datasets: int
    resources: int
    machine_readable: int
    average_quality: float | None

    @property
    def share(self) -> float | None:
        """Machine-readable resources as a percentage of all resources (None with no resources)."""
        return 100.0 * self.machine_readable / self.resources if self.resources else None

    def title(self, locale: str) -> str:
        """The organization's name in the reader's language."""
        return self.title_en if locale == "en" and self.title_en else self.title_th


BATCH = 500


async def machine_readable_share(session: AsyncSession, *, now: datetime | None = None) -> list[OrganizationShare]:
    """Per active organization: public datasets, resources, machine-readable ones, average quality."""
    now = now or utcnow()
    organizations = list((await session.execute(
        select(Organization).where(Organization.is_active.is_(True)).order_by(Organization.name))).scalars())
    totals: dict[str, list[Any]] = {org.id: [0, 0, 0, 0.0] for org in organizations}
    last_id = ""
    while True:
        # Keyset pages: resources load with one SELECT ... IN per page, not one per dataset.
        batch = list((await session.execute(
            select(Dataset).where(Dataset.state == DatasetState.ACTIVE, Dataset.private.is_(False),
                                  Dataset.id > last_id)
            .order_by(Dataset.id).limit(BATCH))).scalars())
        if not batch:
            break
        for dataset in batch:
            entry = totals.get(dataset.organization_id)
            if entry is None:
                continue
            package = service.package_dict(dataset, [])
            entry[0] += 1
            entry[1] += len(dataset.resources)
            entry[2] += sum(1 for r in dataset.resources
                            if (r.format or "").upper().lstrip(".") in vocab.MACHINE_READABLE_FORMATS)
            entry[3] += quality_of(package, dataset, now=now).score
        last_id = batch[-1].id
        session.expunge_all()  # a national catalog does not fit in one session's identity map
    return [
        OrganizationShare(
            organization_id=org.id, name=org.name, title_th=org.title_th, title_en=org.title_en,
            datasets=totals[org.id][0], resources=totals[org.id][1], machine_readable=totals[org.id][2],
            average_quality=totals[org.id][3] / totals[org.id][0] if totals[org.id][0] else None,
        )
        for org in organizations
    ]


# The public page would otherwise score the whole catalog on every visit (seconds at 100,000
# datasets): each process keeps the last figures for a while, and one computation at a time.
_share_cache: dict[str, Any] = {"at": None, "rows": None}
_share_lock = asyncio.Lock()


async def cached_machine_readable_share(session: AsyncSession) -> list[OrganizationShare]:
    """machine_readable_share, computed at most once per GOVHUB_OPENDATA_QUALITY_CACHE_SECONDS per process."""
    async with _share_lock:
        now = utcnow()
        at = _share_cache["at"]
        if at is None or (now - at).total_seconds() >= get_settings().opendata_quality_cache_seconds:
            _share_cache["rows"] = await machine_readable_share(session, now=now)
            _share_cache["at"] = now
        return list(_share_cache["rows"])


# ---------------------------------------------------------------- the link check

CHECK_TIMEOUT_S = 10.0
MAX_REDIRECTS = 5
CONCURRENCY = 10
USER_AGENT = "govhub-linkcheck/1.0 (+open data quality)"
# Cloud metadata and other link-local addresses: never fetched on a publisher's say-so.
BLOCKED_NETWORKS = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"),
                    ipaddress.ip_network("0.0.0.0/8"))


@dataclass(frozen=True)
class LinkTarget:
    """What the checker needs of a resource (plain values: no session is open while checking)."""

    id: str
    url: str
    url_type: str | None
    storage_key: str | None


async def _blocked_host(host: str) -> bool:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False  # the request itself will fail and say so
    allow_private = get_settings().opendata_link_check_allow_private
    for info in infos:
        try:
            address = ipaddress.ip_address(info[4][0])
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
        if any(address in network for network in BLOCKED_NETWORKS):
            return True
        # An open portal's links are public: loopback and private networks are not checked
        # (the public "not reachable" mark would otherwise map an agency's internal network).
        if not address.is_global and not allow_private:
            return True
    return False


class _NoAnswer(Exception):
    """The link did not answer at all (refused, timed out, not http(s), a blocked address)."""


async def _status(client: httpx.AsyncClient, method: str, url: str) -> int:
    """The final status after up to MAX_REDIRECTS http(s) redirects (never to another scheme)."""
    headers = {"Range": "bytes=0-1023"} if method == "GET" else {}
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or await _blocked_host(parts.hostname):
            raise _NoAnswer(url)
        try:
            # Streamed and closed unread: a GET reads at most the headers and what is buffered.
            async with client.stream(method, url, headers=headers) as response:
                status, location = response.status_code, response.headers.get("location")
        except (httpx.HTTPError, OSError, ValueError) as error:
            raise _NoAnswer(url) from error
        if status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            continue
        return status
    raise _NoAnswer(url)  # too many redirects


async def check_link(client: httpx.AsyncClient, url: str) -> bool:
    """True if the link answers: HEAD, or (for servers that refuse HEAD) a GET of its first kilobyte."""
    try:
        if await _status(client, "HEAD", url) < 400:
            return True
        # Some servers answer HEAD with 403, 404 or 405 and GET properly; one that did not
        # answer at all is not asked twice (a dead host would cost two timeouts).
        return await _status(client, "GET", url) < 400
    except _NoAnswer:
        return False


async def _check_target(client: httpx.AsyncClient, target: LinkTarget) -> bool:
    if target.url_type == "upload":
        if not target.storage_key:
            return False
        from govhub.opendata.storage import get_storage

        try:
            return await asyncio.to_thread(get_storage().exists, target.storage_key)
        except (OSError, ValueError):
            return False
    return await check_link(client, target.url)


async def check_targets(targets: Sequence[LinkTarget], *,
                        transport: httpx.AsyncBaseTransport | None = None) -> dict[str, bool]:
    """Check each resource (CONCURRENCY at a time); resource id -> reachable."""
    limit = asyncio.Semaphore(CONCURRENCY)
    results: dict[str, bool] = {}
    async with httpx.AsyncClient(timeout=CHECK_TIMEOUT_S, follow_redirects=False, transport=transport,
                                 headers={"User-Agent": USER_AGENT}) as client:

        async def one(target: LinkTarget) -> None:
            async with limit:
                results[target.id] = await _check_target(client, target)

        await asyncio.gather(*(one(target) for target in targets))
    return results


async def _targets(session: AsyncSession, resource_ids: Sequence[str] | None) -> list[LinkTarget]:
    statement = (select(Resource.id, Resource.url, Resource.url_type, Resource.storage_key)
                 .join(Dataset, Dataset.id == Resource.dataset_id)
                 .where(Resource.state == "active", Dataset.state != DatasetState.DELETED))
    if resource_ids is not None:
        statement = statement.where(Resource.id.in_(list(resource_ids)))
    rows = (await session.execute(statement.order_by(Resource.id))).all()
    return [LinkTarget(id=row.id, url=row.url or "", url_type=row.url_type, storage_key=row.storage_key)
            for row in rows]


async def check_links(resource_ids: Sequence[str] | None = None, *,
                      transport: httpx.AsyncBaseTransport | None = None) -> dict[str, bool]:
    """Check the given resources (every active one if None) and record `reachable` and `checked_at`."""
    async with unit_of_work() as session:
        targets = await _targets(session, resource_ids)
    results: dict[str, bool] = {}
    # In slices, so that a national catalog's results are saved as they come, not at the very end.
    for start in range(0, len(targets), BATCH):
        chunk = await check_targets(targets[start:start + BATCH], transport=transport)
        checked_at = utcnow()
        async with unit_of_work() as session:
            for resource_id, reachable in chunk.items():
                await session.execute(update(Resource).where(Resource.id == resource_id)
                                      .values(reachable=reachable, checked_at=checked_at))
        results.update(chunk)
    broken = sum(1 for ok in results.values() if not ok)
    log.info("links checked", count=len(results), unreachable=broken)
    return results


@job("opendata.check_links", retries=1, retry_delay=300)
async def check_links_job(*, resource_ids: list[str] | None = None) -> None:
    """The link check as a background job (some resources, or all of them)."""
    await check_links(resource_ids)


@huey.periodic_task(crontab(hour="2", minute="23"), name="opendata.check_links_daily")
def _daily_link_check() -> None:
    _run_async(check_links_job())
