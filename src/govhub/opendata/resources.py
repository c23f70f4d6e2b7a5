"""Resources: uploaded files (checked by their content) and links, kept through `storage`.

A file's format is what its bytes are, not what its name or the client says: a "CSV" that is
a PDF is refused. Zipped shapefiles, XLSX and ODS are zips, so every zip is inspected without
being extracted: member names, count, declared and actual expanded size (a zip bomb is
refused, not expanded). XML and KML are parsed with entity expansion refused (defusedxml).
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import filetype
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.kit.clock import utcnow
from govhub.kit.errors import ValidationFailed
from govhub.kit.files import pdf_is_active
from govhub.kit.i18n import N_
from govhub.opendata import service
from govhub.opendata.models import Dataset, Resource
from govhub.opendata.schemas import parse_resource
from govhub.opendata.storage import get_storage

MEDIA_TYPES = {
    "CSV": "text/csv", "JSON": "application/json", "GEOJSON": "application/geo+json", "XML": "application/xml",
    "KML": "application/vnd.google-earth.kml+xml", "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ODS": "application/vnd.oasis.opendocument.spreadsheet", "SHP": "application/zip", "PDF": "application/pdf",
}
TABULAR_FORMATS = frozenset({"CSV", "XLSX"})
# Formats a client may name that mean the same as what the bytes show.
FORMAT_ALIASES = {"ZIP": "SHP", "SHAPEFILE": "SHP", "ZIPPED SHP": "SHP", "TXT": "CSV", "TSV": "CSV",
                  "XLS": "XLSX", "GEO+JSON": "GEOJSON", "TEXT/CSV": "CSV"}
MAX_ZIP_MEMBERS = 1000
# Deflate reaches about 1000:1 on pathological input; real spreadsheets and shapefiles stay far below this.
MAX_COMPRESSION_RATIO = 200
FULL_PARSE_BYTES = 50 * 1024 * 1024


class FileRefused(ValidationFailed):
    """An uploaded file that is not what it claims, too large, or unsafe."""

    code = "file_refused"


@dataclass(frozen=True)
class CheckedFile:
    """What an upload turned out to be."""

    format: str
    mimetype: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Upload:
    """A file received from a client, already on local disk (spooled by the web server)."""

    path: Path
    filename: str


def _refuse(message: str, **params: Any) -> FileRefused:
    return FileRefused(message, field="upload", **params)


def check_file(path: Path, filename: str, declared_format: str = "") -> CheckedFile:
    """Type a file by its content, run the checks of that type, and compare with the claim (blocking)."""
    settings = get_settings()
    size = path.stat().st_size
    if size == 0:
        raise _refuse(N_("The file is empty."))
    if size > settings.opendata_max_resource_bytes:
        raise _refuse(N_("The file must be %(limit)s MB or smaller."),
                      limit=settings.opendata_max_resource_bytes // (1024 * 1024))
    with path.open("rb") as handle:
        head = handle.read(65536)
    found = _sniff(path, head, filename)
    claimed = FORMAT_ALIASES.get(declared_format.upper(), declared_format.upper()) if declared_format else ""
    if claimed and claimed != found and not (claimed == "JSON" and found == "GEOJSON"):
        raise _refuse(N_("The file's content is %(found)s, not %(claimed)s."), found=found, claimed=claimed)
    return CheckedFile(format=claimed or found, mimetype=MEDIA_TYPES[found], size=size, sha256=_sha256(path))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _sniff(path: Path, head: bytes, filename: str) -> str:
    kind = filetype.guess(head)
    extension = PurePosixPath(filename.lower()).suffix.lstrip(".")
    if kind is not None and kind.extension == "pdf":
        return _check_pdf(path)
    if head.startswith(b"PK\x03\x04"):
        return _check_zip(path)
    if kind is not None:
        raise _refuse(N_("Files of this kind (%(kind)s) are not accepted."), kind=kind.extension.upper())
    text_head = _decode_head(head)
    stripped = text_head.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        return _check_json(path)
    if stripped.startswith("<"):
        return _check_xml(path, extension)
    return _check_csv(text_head)


def _decode_head(head: bytes) -> str:
    if b"\x00" in head:
        raise _refuse(N_("Files of this kind are not accepted."), kind="binary")
    # The head may end inside a multi-byte character: decode incrementally, not strictly to the end.
    for encoding in ("utf-8-sig", "cp874"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            return decoder.decode(head, final=False)
        except UnicodeDecodeError:
            continue
    raise _refuse(N_("The text must be UTF-8 or TIS-620 (Thai Windows) encoded."))


def _check_pdf(path: Path) -> str:
    data = path.read_bytes()
    if b"%%EOF" not in data[-2048:] or pdf_is_active(data):
        raise _refuse(N_("This PDF cannot be accepted: it is damaged, or it contains scripts or attached files."))
    return "PDF"


def _check_zip(path: Path) -> str:
    limit = get_settings().opendata_max_unzipped_bytes
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_members(members, limit)
            _expand_within(archive, members, limit)
            return _zip_format(archive, members)
    except zipfile.BadZipFile as error:
        raise _refuse(N_("The zip file is damaged.")) from error


def _check_members(members: list[zipfile.ZipInfo], limit: int) -> None:
    if len(members) > MAX_ZIP_MEMBERS:
        raise _refuse(N_("The zip file holds too many files."))
    if sum(member.file_size for member in members) > limit:
        raise _refuse(N_("The zip file expands to more than %(limit)s MB."), limit=limit // (1024 * 1024))
    for member in members:
        name = PurePosixPath(member.filename.replace("\\", "/"))
        if name.is_absolute() or ".." in name.parts:
            raise _refuse(N_("The zip file holds a file with an unsafe name."))
        if member.compress_size and member.file_size / member.compress_size > MAX_COMPRESSION_RATIO:
            raise _refuse(N_("The zip file expands far more than real data does (a zip bomb)."))
        if member.flag_bits & 0x1:
            raise _refuse(N_("Encrypted zip files are not accepted."))


def _expand_within(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], limit: int) -> None:
    """Inflate every member with a running count: headers can lie about sizes, the bytes cannot."""
    total = 0
    for member in members:
        try:
            with archive.open(member) as stream:
                while block := stream.read(1024 * 1024):
                    total += len(block)
                    if total > limit:
                        raise _refuse(N_("The zip file expands to more than %(limit)s MB."),
                                      limit=limit // (1024 * 1024))
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
            raise _refuse(N_("The zip file is damaged.")) from error


def _zip_format(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> str:
    names = {member.filename for member in members}
    if "[Content_Types].xml" in names and any(name.startswith("xl/") for name in names):
        return "XLSX"
    if "mimetype" in names and archive.read("mimetype").strip() == b"application/vnd.oasis.opendocument.spreadsheet":
        return "ODS"
    stems: dict[str, set[str]] = {}
    for name in names:
        path = PurePosixPath(name.lower())
        if path.suffix in (".zip", ".kmz", ".gz", ".7z", ".rar"):
            raise _refuse(N_("Archives inside the zip file are not accepted."))
        stems.setdefault(str(path.with_suffix("")), set()).add(path.suffix)
    for stem, suffixes in stems.items():
        if {".shp", ".shx", ".dbf"} <= suffixes:
            original = next(name for name in names if name.lower() == f"{stem}.shp")
            if archive.read(original)[:4] != (9994).to_bytes(4, "big"):
                raise _refuse(N_("The shapefile's .shp part is not a shapefile."))
            return "SHP"
    raise _refuse(N_("A zip file must hold a shapefile (.shp, .shx and .dbf), or be an XLSX or ODS spreadsheet."))


def _check_json(path: Path) -> str:
    if path.stat().st_size > FULL_PARSE_BYTES:
        return "JSON"  # too large to parse here; the head already looks like JSON
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _refuse(N_("The JSON file is not valid JSON.")) from error
    geo_types = {"FeatureCollection", "Feature", "Point", "LineString", "Polygon", "MultiPoint",
                 "MultiLineString", "MultiPolygon", "GeometryCollection"}
    if isinstance(document, dict) and document.get("type") in geo_types:
        return "GEOJSON"
    return "JSON"


def _check_xml(path: Path, extension: str) -> str:
    root_tag = ""
    try:
        with path.open("rb") as handle:
            for _event, element in iterparse(handle, events=("start",), forbid_dtd=True):
                root_tag = element.tag
                break
            for _event, element in iterparse(path.open("rb"), forbid_dtd=True):
                element.clear()  # walk the whole file so malformed XML is refused, without keeping it
    except DefusedXmlException as error:
        raise _refuse(N_("XML files with document type declarations or entities are not accepted.")) from error
    except Exception as error:  # noqa: BLE001 - any parser failure means the file is not well-formed XML
        raise _refuse(N_("The XML file is not well-formed.")) from error
    if root_tag.endswith("}kml") or root_tag == "kml":
        return "KML"
    return "XML"


def _check_csv(text_head: str) -> str:
    sample = text_head[:16384]
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        raise _refuse(N_("The file is empty."))
    try:
        dialect = csv.Sniffer().sniff(sample if len(lines) > 1 else lines[0], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel  # a one-column table has no delimiter to find
    widths = {len(row) for row in csv.reader(io.StringIO("\n".join(lines[:20])), dialect)}
    if len(lines) > 1 and len(widths) > 3:
        raise _refuse(N_("The file is neither CSV nor another accepted format."))
    return "CSV"


# ---------------------------------------------------------------- operations

async def _store(upload: Upload, resource: Resource, declared_format: str) -> None:
    checked = await asyncio.to_thread(check_file, upload.path, upload.filename, declared_format)
    key = f"resources/{resource.id}/{checked.sha256}"
    await asyncio.to_thread(get_storage().save, key, upload.path)
    resource.url_type, resource.storage_key = "upload", key
    resource.url = _safe_filename(upload.filename, checked.format)
    resource.format, resource.mimetype = checked.format, checked.mimetype
    resource.size, resource.sha256 = checked.size, checked.sha256


def _safe_filename(filename: str, fmt: str) -> str:
    name = PurePosixPath(filename.replace("\\", "/")).name
    cleaned = "".join(ch for ch in name if ch.isalnum() or ch in "._-" or "\u0e00" <= ch <= "\u0e7f")[:120]
    return cleaned or f"data.{fmt.lower()}"


async def resource_create(session: AsyncSession, actor: service.Actor, data: dict[str, Any],
                          upload: Upload | None = None) -> Resource:
    """resource_create: a link, or an uploaded file (tabular files are queued for the datastore)."""
    dataset = await _dataset_for_writing(session, actor, data.get("package_id"))
    values = parse_resource(data, creating=True, is_upload=upload is not None)
    before = await service.package_dict_of(session, dataset)
    position = max((r.position for r in dataset.resources), default=-1) + 1
    resource = Resource(dataset_id=dataset.id, position=position, **values)
    session.add(resource)
    await session.flush()
    if upload is not None:
        await _store(upload, resource, values.get("format", ""))
    await _finish(session, actor, dataset, resource, before, action="resource_created")
    return resource


async def resource_update(session: AsyncSession, actor: service.Actor, data: dict[str, Any],
                          upload: Upload | None = None) -> Resource:
    """resource_update / resource_patch: new metadata, a new link, or a new file."""
    resource, dataset = await service.get_resource(session, actor, str(data.get("id") or ""))
    service.require_publisher(actor, dataset.organization_id)
    before = await service.package_dict_of(session, dataset)
    values = parse_resource(data, creating=False, is_upload=upload is not None or resource.url_type == "upload"
                            and "url" not in data)
    for attr, value in values.items():
        setattr(resource, attr, value)
    if upload is not None:
        await _store(upload, resource, values.get("format", ""))
    elif "url" in values:
        resource.url_type, resource.storage_key, resource.sha256, resource.size = None, None, None, None
    resource.last_modified = utcnow()
    await _finish(session, actor, dataset, resource, before, action="resource_updated")
    return resource


async def resource_delete(session: AsyncSession, actor: service.Actor, resource_id: str) -> None:
    """resource_delete: hidden and dropped from the datastore; the file is kept for the history."""
    resource, dataset = await service.get_resource(session, actor, resource_id)
    service.require_publisher(actor, dataset.organization_id)
    before = await service.package_dict_of(session, dataset)
    resource.state = "deleted"
    await session.flush()
    await service.record_change(session, actor, dataset, action="resource_deleted", before=before)
    from govhub.opendata import datastore

    # The register row goes with this transaction; the table itself is dropped by a job after commit.
    await datastore.enqueue_drop(session, resource_id)


async def _dataset_for_writing(session: AsyncSession, actor: service.Actor, package_id: Any) -> Dataset:
    if not isinstance(package_id, str) or not package_id:
        from govhub.opendata.schemas import DatasetInvalid

        raise DatasetInvalid({"package_id": [N_("Missing value")]})
    dataset = await service.get_dataset(session, actor, package_id)
    service.require_publisher(actor, dataset.organization_id)
    return dataset


async def _finish(session: AsyncSession, actor: service.Actor, dataset: Dataset, resource: Resource,
                  before: dict[str, Any], *, action: str) -> None:
    await session.flush()
    await session.refresh(dataset, ["resources"])
    await service.record_change(session, actor, dataset, action=action, before=before)
    if resource.url_type == "upload" and resource.format in TABULAR_FORMATS:
        from govhub.opendata import datastore

        await datastore.enqueue_load(session, resource)
