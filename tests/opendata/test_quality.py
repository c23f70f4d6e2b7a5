"""The quality score, the agencies' machine-readable share, and the link check against a real
HTTP server on loopback."""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from govhub.config import get_settings
from govhub.db import unit_of_work
from govhub.kit.i18n import current_locale
from govhub.opendata import quality, resources, service
from govhub.opendata.models import Resource
from govhub.opendata.quality import score
from tests.opendata.conftest import Catalog, make_catalog, package

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


def good_package(**overrides: Any) -> dict[str, Any]:
    """A package dict meeting every criterion at NOW."""
    data: dict[str, Any] = {
        "license_id": "Open-D", "notes": "ข้อมูลเส้นทางเดินรถโดยสารประจำทาง " * 8,
        "update_frequency_unit": "month", "update_frequency_interval": 1,
        "last_updated_date": "2025-06-10", "metadata_modified": "2025-01-01T00:00:00.000000",
        "tags": [{"name": "รถเมล์"}, {"name": "ขนส่ง"}, {"name": "transport"}],
        "geo_coverage": "province", "created_date": "2015-01-01",
        "resources": [
            {"id": "r1", "name": "เส้นทาง", "format": "CSV", "description": "สาย ต้นทาง ปลายทาง", "reachable": True},
            {"id": "r2", "name": "รายงาน", "format": "PDF", "description": "รายงานประจำปี", "reachable": None},
        ],
    }
    data.update(overrides)
    return data


def failing(quality_: quality.Quality) -> set[str]:
    return {criterion.code for criterion in quality_.criteria if not criterion.passed}


def test_the_weights_add_up_to_100_and_a_good_dataset_scores_them_all() -> None:
    assert sum(weight for weight, _title, _advice in quality.CRITERIA.values()) == 100
    result = score(good_package(), now=NOW)
    assert result.score == 100 and result.to_fix == [] and len(result.met) == len(quality.CRITERIA)


def test_a_poor_dataset_fails_every_criterion_with_advice() -> None:
    poor = {"license_id": "notspecified", "notes": "สั้น", "update_frequency_unit": "", "tags": [],
            "geo_coverage": "unknown", "resources": [], "metadata_modified": None}
    result = score(poor, now=NOW)
    assert result.score == 0 and failing(result) == set(quality.CRITERIA)
    # Heaviest first, each with a message the publisher can act on, in English and in Thai.
    assert result.to_fix[0].code == "open_license"
    token = current_locale.set("en")
    try:
        advice = {criterion.code: criterion.advice_text() for criterion in result.to_fix}
    finally:
        current_locale.reset(token)
    assert advice["open_license"].startswith("Choose an open licence")
    assert "at least 100 characters" in advice["description"] and "at least 3 keywords" in advice["keywords"]
    assert advice["reachable"] == advice["documented"] == "Add resources first; each must then be reachable and described."


@pytest.mark.parametrize(("overrides", "code"), [
    ({"license_id": "cc-nc"}, "open_license"),
    ({"license_id": "other-closed"}, "open_license"),
    ({"notes": "ข้อมูล" * 10}, "description"),
    ({"update_frequency_unit": "other", "last_updated_date": "2025-01-01"}, "update_frequency"),
    ({"last_updated_date": "2025-04-01"}, "up_to_date"),  # monthly, three months old
    ({"tags": [{"name": "รถเมล์"}, {"name": "ขนส่ง"}]}, "keywords"),
    ({"geo_coverage": "unknown"}, "spatial_coverage"),
    ({"created_date": None}, "temporal_coverage"),
])
def test_each_criterion_fails_alone(overrides: dict[str, Any], code: str) -> None:
    result = score(good_package(**overrides), now=NOW)
    assert failing(result) == {code}
    assert result.score == 100 - quality.CRITERIA[code][0]


def test_resource_criteria() -> None:
    only_pdf = [{"id": "r", "name": "รายงาน", "format": "PDF", "description": "รายงาน"}]
    assert failing(score(good_package(resources=only_pdf), now=NOW)) == {"machine_readable", "open_format"}
    spreadsheet = [{"id": "r", "name": "ตาราง", "format": "xlsx", "description": "ตาราง"}]
    assert failing(score(good_package(resources=spreadsheet), now=NOW)) == {"open_format"}
    assert failing(score(good_package(resources=[]), now=NOW)) == {
        "has_resources", "machine_readable", "open_format", "reachable", "documented"}
    broken = good_package()
    broken["resources"][1]["reachable"] = False
    result = score(broken, now=NOW)
    assert failing(result) == {"reachable"}
    assert "“รายงาน”" in next(c for c in result.to_fix if c.code == "reachable").advice_text()
    undocumented = good_package()
    undocumented["resources"][0]["description"] = " "
    assert failing(score(undocumented, now=NOW)) == {"documented"}
    deleted = good_package()
    deleted["resources"].append({"id": "r3", "name": "เก่า", "format": "CSV", "state": "deleted", "reachable": False})
    assert score(deleted, now=NOW).score == 100


def test_kept_up_to_date_follows_the_frequency() -> None:
    def up_to_date(**overrides: Any) -> bool:
        result = score(good_package(**overrides), now=NOW)
        return "up_to_date" not in failing(result)

    assert up_to_date(update_frequency_unit="month", last_updated_date="2025-06-01")
    assert not up_to_date(update_frequency_unit="month", last_updated_date="2025-05-01")
    assert up_to_date(update_frequency_unit="month", update_frequency_interval=3, last_updated_date="2025-04-15")
    assert up_to_date(update_frequency_unit="year", last_updated_date="2024-07-15")
    assert not up_to_date(update_frequency_unit="year", last_updated_date="2024-06-01")
    assert up_to_date(update_frequency_unit="day", last_updated_date="2025-06-29")
    assert not up_to_date(update_frequency_unit="day", last_updated_date="2025-06-20")
    # "Not updated after collection" promises nothing; without a data date the metadata date counts.
    assert up_to_date(update_frequency_unit="never", last_updated_date="2001-01-01")
    assert up_to_date(last_updated_date=None, metadata_modified="2025-06-20T03:00:00.000000")
    assert not up_to_date(last_updated_date=None, metadata_modified="2025-01-20T03:00:00.000000")
    assert not up_to_date(update_frequency_unit="")


async def test_machine_readable_share_per_organization() -> None:
    catalog: Catalog = await make_catalog()
    suffix = secrets.token_hex(3)
    links = {
        "CSV": "https://data.example.go.th/a.csv", "JSON": "https://data.example.go.th/a.json",
        "PDF": "https://data.example.go.th/a.pdf",
    }
    async with unit_of_work() as session:
        system = service.system_actor("tests")
        await service.package_create(session, system, package(catalog.transport, f"routes-{suffix}", resources=[
            {"name": fmt, "url": links[fmt], "format": fmt} for fmt in ("CSV", "JSON", "PDF")]))
        await service.package_create(session, system, package(catalog.transport, f"fares-{suffix}", resources=[
            {"name": "PDF", "url": links["PDF"], "format": "PDF"}]))
        # Private datasets are not counted on the public page.
        await service.package_create(session, system, package(
            catalog.transport, f"internal-{suffix}", private=True, data_category="internal",
            data_classification="internal", resources=[{"name": "PDF", "url": links["PDF"], "format": "PDF"}]))
    async with unit_of_work() as session:
        shares = {row.organization_id: row for row in await quality.machine_readable_share(session, now=NOW)}
    transport, finance = shares[catalog.transport.id], shares[catalog.finance.id]
    assert (transport.datasets, transport.resources, transport.machine_readable) == (2, 4, 2)
    assert transport.share == 50.0 and transport.average_quality is not None
    assert 0 < transport.average_quality < 100
    assert (finance.datasets, finance.resources, finance.share, finance.average_quality) == (0, 0, None, None)
    assert transport.title("en") == "Bangkok Mass Transit Authority" and transport.title("th") == catalog.transport.title_th


# ---------------------------------------------------------------- the link check

class _Handler(BaseHTTPRequestHandler):
    """/ok answers, /missing is 404, /no-head refuses HEAD but serves GET, /moved redirects."""

    def _answer(self, with_body: bool) -> None:
        path = self.path
        if path == "/ok" or (path == "/no-head" and self.command == "GET"):
            status = 206 if self.headers.get("Range") else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            if with_body:
                self.wfile.write(b"ok")
            return
        if path == "/no-head":
            self.send_response(405)
        elif path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/ok")
        elif path == "/to-ftp":
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1/file.csv")
        elif path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:
        self._answer(False)

    def do_GET(self) -> None:
        self._answer(True)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    """A real HTTP server on a loopback port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_link_check_records_what_answers(http_server: str, tmp_path: Path, monkeypatch) -> None:
    # The test server is on loopback, which the check refuses unless told the portal is internal.
    monkeypatch.setattr(get_settings(), "opendata_link_check_allow_private", True)
    catalog = await make_catalog()
    name = f"links-{secrets.token_hex(3)}"
    urls = {
        "ok": f"{http_server}/ok", "missing": f"{http_server}/missing", "no-head": f"{http_server}/no-head",
        "moved": f"{http_server}/moved", "to-ftp": f"{http_server}/to-ftp", "loop": f"{http_server}/loop",
        "refused": f"http://127.0.0.1:{_closed_port()}/data.csv",
    }
    csv_file = tmp_path / "stops.csv"
    csv_file.write_text("stop,name\n1,หมอชิต\n", encoding="utf-8")
    async with unit_of_work() as session:
        dataset = await service.package_create(session, service.system_actor("tests"), package(
            catalog.transport, name, resources=[{"name": key, "url": url, "format": "CSV"} for key, url in urls.items()]))
        ids = {resource.name: resource.id for resource in dataset.resources}
        uploaded = await resources.resource_create(session, service.system_actor("tests"),
                                                   {"package_id": dataset.id, "name": "file"},
                                                   resources.Upload(csv_file, "stops.csv"))
        ids["file"] = uploaded.id

    results = await quality.check_links(list(ids.values()))
    by_name = {key: results[resource_id] for key, resource_id in ids.items()}
    assert by_name == {"ok": True, "missing": False, "no-head": True, "moved": True, "to-ftp": False, "loop": False,
                       "refused": False, "file": True}
    async with unit_of_work() as session:
        rows = {row.name: row for row in [await session.get(Resource, resource_id) for resource_id in ids.values()]}
        assert rows["ok"].reachable is True and rows["missing"].reachable is False
        assert all(row.checked_at is not None for row in rows.values())
        assert datetime.now(UTC) - rows["ok"].checked_at.replace(tzinfo=UTC) < timedelta(minutes=5)

    # The score now reflects the check, and says which resources to fix.
    async with unit_of_work() as session:
        dataset = await service.get_dataset(session, service.system_actor("tests"), name)
        result = quality.quality_of(await service.package_dict_of(session, dataset), dataset)
    reachable = next(criterion for criterion in result.criteria if criterion.code == "reachable")
    assert not reachable.passed and "“missing”" in reachable.advice_text() and "“ok”" not in reachable.advice_text()


async def test_link_check_of_a_missing_upload_and_of_blocked_addresses(tmp_path: Path) -> None:
    targets = [
        quality.LinkTarget(id="gone", url="", url_type="upload", storage_key="resources/none/0000"),
        quality.LinkTarget(id="metadata", url="http://169.254.169.254/latest/meta-data/", url_type=None, storage_key=None),
        quality.LinkTarget(id="scheme", url="file:///etc/passwd", url_type=None, storage_key=None),
        quality.LinkTarget(id="mapped", url="http://[::ffff:169.254.169.254]/", url_type=None, storage_key=None),
        quality.LinkTarget(id="loopback", url="http://127.0.0.1:1/", url_type=None, storage_key=None),
        quality.LinkTarget(id="private", url="http://10.0.0.1/", url_type=None, storage_key=None),
    ]
    assert await quality.check_targets(targets) == {"gone": False, "metadata": False, "scheme": False,
                                                    "mapped": False, "loopback": False, "private": False}
    # Refused before any connection: the private address is never tried.
    assert await quality._blocked_host("10.0.0.1") and await quality._blocked_host("::ffff:169.254.169.254")


def test_the_link_check_is_a_registered_job() -> None:
    from govhub.jobs import registered_jobs
    from govhub.jobs.registry import JOB_MODULES

    assert "govhub.opendata.quality" in JOB_MODULES
    assert "opendata.check_links" in registered_jobs()
