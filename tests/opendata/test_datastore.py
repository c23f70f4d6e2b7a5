"""The datastore: loading CSV and XLSX files, CKAN's query actions, SQL, exports; on both databases."""

from __future__ import annotations

import asyncio
import codecs
import csv
import hashlib
import io
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from govhub import db
from govhub.config import get_settings
from govhub.kit.errors import Forbidden, NotFound, ValidationFailed
from govhub.kit.ids import new_id
from govhub.opendata import datastore, datastore_load, datastore_sql
from govhub.opendata.models import (
    Dataset,
    DatasetState,
    DatastoreStatus,
    DatastoreTable,
    Organization,
    Resource,
)
from tests.conftest import BACKEND

THAI_CSV = (
    "รหัส,จังหวัด,ชื่อสถานที่,จำนวน,ราคา (บาท),วันที่,เปิด,หมายเหตุ\n"
    "1,กรุงเทพมหานคร,วัดพระแก้ว,120,35.50,2024-01-15,true,สวย\n"
    "2,เชียงใหม่,ดอยสุเทพ,-40,0.25,15/02/2567,false,\n"
    "3,ขอนแก่น,Bus Terminal,7,\"1,250.00\",2024-03-01,yes,รถโดยสารประจำทาง สาย 8\n"
    "4,ภูเก็ต,หาดป่าตอง,0,-12.5,2024-03-02,no,=HYPERLINK(\"http://evil\")\n"
)


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_storage(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Resource files in a directory of this run; old tables dropped without waiting."""
    from govhub.opendata.storage import get_storage

    monkeypatch.setattr(get_settings(), "opendata_storage_dir", str(tmp_path_factory.mktemp("storage")))
    monkeypatch.setattr(datastore, "DROP_GRACE_SECONDS", 0)
    get_storage.cache_clear()
    yield
    get_storage.cache_clear()


async def _organization() -> str:
    async with db.unit_of_work() as session:
        organization = Organization(name=f"org-{new_id()[:8]}", title_th="กรมทดสอบข้อมูล")
        session.add(organization)
    return organization.id


async def make_dataset(*, private: bool = False, state: DatasetState = DatasetState.ACTIVE) -> str:
    """A minimal dataset row of a fresh organization."""
    organization_id = await _organization()
    async with db.unit_of_work() as session:
        dataset = Dataset(
            name=f"ds-{new_id()[:8]}", title="ชุดข้อมูลทดสอบ", organization_id=organization_id,
            dataset_type="statistical", state=state, private=private, license_id="cc-by",
            update_frequency_unit="yearly", geo_coverage="country", data_category="public",
            data_classification="public",
        )
        session.add(dataset)
    return dataset.id


def _store(resource_id: str, content: bytes, tmp_path: Path) -> tuple[str, str]:
    from govhub.opendata.storage import get_storage

    sha = hashlib.sha256(content).hexdigest()
    source = tmp_path / f"upload-{sha[:12]}"
    source.write_bytes(content)
    key = f"resources/{resource_id}/{sha}"
    get_storage().save(key, source)
    return key, sha


async def make_resource(content: bytes, tmp_path: Path, *, fmt: str = "CSV", dataset_id: str | None = None) -> str:
    """An uploaded resource holding content."""
    dataset_id = dataset_id or await make_dataset()
    resource_id = new_id()
    key, sha = _store(resource_id, content, tmp_path)
    async with db.unit_of_work() as session:
        session.add(Resource(
            id=resource_id, dataset_id=dataset_id, name="ไฟล์ทดสอบ", format=fmt, url_type="upload",
            storage_key=key, sha256=sha, size=len(content),
        ))
    return resource_id


async def replace_file(resource_id: str, content: bytes, tmp_path: Path) -> None:
    """A new upload of the resource: new key and SHA-256, as the catalog would record it."""
    key, sha = _store(resource_id, content, tmp_path)
    async with db.unit_of_work() as session:
        resource = await session.get(Resource, resource_id)
        assert resource is not None
        resource.storage_key, resource.sha256 = key, sha


async def loaded(content: bytes | str, tmp_path: Path, **kw: Any) -> tuple[str, datastore.LoadSummary]:
    """A resource of content, loaded; returns its id and the load summary."""
    data = content.encode() if isinstance(content, str) else content
    resource_id = await make_resource(data, tmp_path, **kw)
    summary = await datastore.load_resource(resource_id)
    return resource_id, summary


async def register(resource_id: str) -> DatastoreTable:
    async with db.get_sessionmaker()() as session:
        row = await session.get(DatastoreTable, resource_id)
    assert row is not None
    return row


async def physical_tables(resource_id: str) -> list[str]:
    return await datastore._table_names(datastore.get_datastore_engine(), datastore.table_prefix(resource_id))


async def all_rows(resource_id: str) -> list[dict[str, Any]]:
    return (await datastore.datastore_search(resource_id=resource_id, limit=32000))["records"]


@pytest.fixture
def sql_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "datastore_sql_enabled", True)


# --- reading files -------------------------------------------------------------------------


async def test_thai_csv_with_bom_is_loaded_with_inferred_types(tmp_path: Path) -> None:
    resource_id, summary = await loaded(codecs.BOM_UTF8 + THAI_CSV.encode(), tmp_path)

    assert summary.status == "active", summary.error
    assert summary.encoding == "utf-8-sig"
    assert summary.fields == [
        {"id": "รหัส", "type": "int"}, {"id": "จังหวัด", "type": "text"}, {"id": "ชื่อสถานที่", "type": "text"},
        {"id": "จำนวน", "type": "int"}, {"id": "ราคา (บาท)", "type": "numeric"}, {"id": "วันที่", "type": "date"},
        {"id": "เปิด", "type": "bool"}, {"id": "หมายเหตุ", "type": "text"},
    ]
    row = await register(resource_id)
    assert (row.status, row.row_count, row.bad_row_count, row.source_sha256) == (
        DatastoreStatus.ACTIVE, 4, 0, summary.source_sha256)
    assert row.started_at is not None and row.finished_at is not None and row.finished_at >= row.started_at

    result = await datastore.datastore_search(resource_id=resource_id)
    assert result["fields"][0] == {"id": "_id", "type": "int"}
    assert result["total"] == 4
    first, second, third = result["records"][:3]
    assert first == {
        "_id": 1, "รหัส": 1, "จังหวัด": "กรุงเทพมหานคร", "ชื่อสถานที่": "วัดพระแก้ว", "จำนวน": 120,
        "ราคา (บาท)": 35.5, "วันที่": "2024-01-15", "เปิด": True, "หมายเหตุ": "สวย",
    }
    # A Buddhist-era date (15/02/2567, day first) is 15 February 2024; an empty cell is null.
    assert (second["วันที่"], second["จำนวน"], second["เปิด"], second["หมายเหตุ"]) == ("2024-02-15", -40, False, None)
    assert third["ราคา (บาท)"] == 1250.0  # thousands separators
    assert json.loads(json.dumps(result, ensure_ascii=False)) == result  # JSON-ready as it is


async def test_tis620_with_semicolons_and_tabs(tmp_path: Path) -> None:
    text = "ลำดับ;ชื่อ;คะแนน\n1;สมชาย;10,5\n2;สมหญิง;7\n"
    resource_id, summary = await loaded(text.encode("cp874"), tmp_path)
    assert summary.status == "active", summary.error
    assert summary.encoding == "cp874"
    records = await all_rows(resource_id)
    # "10,5" is not a number here (no thousands grouping), so the column is text.
    assert [(r["ลำดับ"], r["ชื่อ"], r["คะแนน"]) for r in records] == [(1, "สมชาย", "10,5"), (2, "สมหญิง", "7")]

    resource_id, summary = await loaded("a\tb\tc\n1\tx\t2024-01-01 10:30\n2\ty\t2024-01-02T08:00:00+07:00\n", tmp_path)
    assert [f["type"] for f in summary.fields] == ["int", "text", "timestamp"]
    records = await all_rows(resource_id)
    assert [r["c"] for r in records] == ["2024-01-01T10:30:00", "2024-01-02T01:00:00"]  # offsets become UTC

    resource_id, summary = await loaded("x|y\n1|a|\n2|b\n", tmp_path)
    assert [r["y"] for r in await all_rows(resource_id)] == ["a", "b"]  # a trailing empty cell is no error


def test_delimiter_detection() -> None:
    assert datastore_load.detect_delimiter("a,b,c\n1,2,3\n") == ","
    assert datastore_load.detect_delimiter("a;b;c\n1,5;2,5;3\n4;5;6\n") == ";"
    assert datastore_load.detect_delimiter("a\tb\n1,2\t3\n") == "\t"
    assert datastore_load.detect_delimiter("a|b|c\n1|2|3\n") == "|"


def test_type_inference_and_conversion() -> None:
    infer = datastore_load.infer_types
    sample = [
        ["001", "1", "1.5", "2567-01-15", "1/2/2024 10:00", "Y", "x"],
        ["010", "-20", "2", "2024-12-31", "2024-02-01", "n", ""],
        ["", "1,234", "", "", "", "", "3"],
    ]
    assert infer(sample, 7) == ["text", "int", "numeric", "date", "timestamp", "bool", "text"]
    assert infer([["", ""]], 2) == ["text", "text"]
    to_date = datastore_load.make_converter("date", "postgresql")
    assert to_date("15/01/2567") == date(2024, 1, 15)
    assert to_date("2567-01-15") == date(2024, 1, 15)
    assert to_date(datetime(2024, 5, 1)) == date(2024, 5, 1)
    with pytest.raises(ValueError):
        to_date("31/02/2024")
    to_int = datastore_load.make_converter("int", "sqlite")
    assert (to_int("42"), to_int(" -7 "), to_int("1,234,567"), to_int(""), to_int(3.0)) == (42, -7, 1234567, None, 3)
    for bad in ("0812345678", "1.5", "abc", "9" * 30, True):
        with pytest.raises(ValueError):
            to_int(bad)
    assert datastore_load.make_converter("numeric", "sqlite")("1e3") == 1000.0
    for bad in ("NaN", "inf", "1e400", "1e-400", "1e99999"):
        for dialect in ("sqlite", "postgresql"):
            with pytest.raises(ValueError):
                datastore_load.make_converter("numeric", dialect)(bad)
    assert datastore_load.make_converter("timestamp", "sqlite")("2024-01-02 03:04:05.5") == "2024-01-02T03:04:05.500000"
    assert datastore_load.make_converter("bool", "sqlite")("ใช่") == 1


def test_column_names_are_cleaned_and_unique() -> None:
    names = datastore_load.clean_column_names(
        ["ชื่อ", "ชื่อ", "", "_id", 'a"b', "Name", "name", "  two   words ", "ก" * 40, None, "ราคา\u200b"]
    )
    assert names[:8] == ["ชื่อ", "ชื่อ_2", "column_3", "id", "ab", "Name", "name_2", "two words"]
    assert len(names[8].encode()) <= 63 and names[8].startswith("ก")
    assert names[9] == "column_10" and names[10] == "ราคา"
    assert len({name.casefold() for name in names}) == len(names)


async def test_xlsx_first_sheet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openpyxl import Workbook

    monkeypatch.setattr(datastore_load, "SAMPLE_ROWS", 2)  # types from the first two rows

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["สถานี", "ผู้โดยสาร", "อัตรา", "วันที่", "เวลา", "เปิด"])
    sheet.append(["หมอชิต", 1200, 1.5, datetime(2024, 1, 1), datetime(2024, 1, 1, 7, 30), True])
    sheet.append([None, None, None, None, None, None])  # a blank row is skipped silently
    sheet.append(["สยาม", 3400, 2, datetime(2024, 1, 2), datetime(2024, 1, 2, 8, 0), False])
    sheet.append(["อโศก", "ไม่ทราบ", 1, datetime(2024, 1, 3), datetime(2024, 1, 3, 9, 0), True])
    sheet.append(["อารีย์", 15])  # short row: the missing cells are empty
    workbook.create_sheet("อื่น").append(["ignored"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    resource_id, summary = await loaded(buffer.getvalue(), tmp_path, fmt="XLSX")
    assert summary.status == "active", summary.error
    assert [f["type"] for f in summary.fields] == ["text", "int", "numeric", "date", "timestamp", "bool"]
    assert summary.row_count == 3 and summary.bad_row_count == 1
    assert summary.bad_rows[0]["row"] == 5 and "ผู้โดยสาร" in summary.bad_rows[0]["reason"]
    records = await all_rows(resource_id)
    assert records[0] == {"_id": 1, "สถานี": "หมอชิต", "ผู้โดยสาร": 1200, "อัตรา": 1.5, "วันที่": "2024-01-01",
                          "เวลา": "2024-01-01T07:30:00", "เปิด": True}
    assert records[2] == {"_id": 3, "สถานี": "อารีย์", "ผู้โดยสาร": 15, "อัตรา": None, "วันที่": None,
                          "เวลา": None, "เปิด": None}


async def test_bad_rows_are_reported_with_row_numbers_and_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datastore_load, "SAMPLE_ROWS", 5)
    lines = ["id,name,amount"] + [f"{i},n{i},{i * 10}" for i in range(1, 11)]
    lines[3] = "3,n3"  # row 4: one cell short
    lines[5] = "5,n5,50,extra"  # row 6: one cell too many
    lines[8] = "8,n8,eight"  # row 9: not a whole number
    resource_id, summary = await loaded("\n".join(lines) + "\n", tmp_path)
    assert summary.status == "active"
    assert (summary.row_count, summary.bad_row_count) == (7, 3)
    assert summary.bad_rows == [
        {"row": 4, "reason": "2 cells where the header has 3"},
        {"row": 6, "reason": "4 cells where the header has 3"},
        {"row": 9, "reason": 'column "amount": "eight" is not a whole number', "column": "amount"},
    ]
    row = await register(resource_id)
    assert (row.row_count, row.bad_row_count, row.bad_rows) == (7, 3, summary.bad_rows)
    assert [r["id"] for r in await all_rows(resource_id)] == [1, 2, 4, 6, 7, 9, 10]
    assert [r["_id"] for r in await all_rows(resource_id)] == list(range(1, 8))


async def test_a_misfit_in_the_sample_makes_the_column_text(tmp_path: Path) -> None:
    resource_id, summary = await loaded("id,amount\n1,10\n2,ไม่ทราบ\n3,30\n", tmp_path)
    assert summary.fields[1] == {"id": "amount", "type": "text"} and summary.bad_row_count == 0
    assert [r["amount"] for r in await all_rows(resource_id)] == ["10", "ไม่ทราบ", "30"]


async def test_many_bad_rows_keep_the_first_hundred(tmp_path: Path) -> None:
    text = "n\n" + "1\n" * (datastore_load.SAMPLE_ROWS) + "x\n" * 250
    _, summary = await loaded(text, tmp_path)
    assert summary.bad_row_count == 250 and len(summary.bad_rows) == 100
    assert summary.bad_rows[0]["row"] == datastore_load.SAMPLE_ROWS + 2


async def test_unreadable_files_fail_with_a_reason(tmp_path: Path) -> None:
    resource_id, summary = await loaded(b"a,b\n\xfc\xfd,1\n", tmp_path)
    assert summary.status == "failed" and "UTF-8" in summary.error
    row = await register(resource_id)
    assert row.status == DatastoreStatus.FAILED and "UTF-8" in row.error and row.source_sha256 is None
    with pytest.raises(NotFound):
        await datastore.datastore_search(resource_id=resource_id)
    assert await physical_tables(resource_id) == []

    _, summary = await loaded(b"", tmp_path)
    assert summary.status == "failed" and "no rows" in summary.error
    _, summary = await loaded(codecs.BOM_UTF16_LE + "a,b\n1,ก\n".encode("utf-16-le") + b"\x00\xd8", tmp_path)
    assert summary.status == "failed" and "UTF-8" in summary.error  # a broken UTF-16 file
    _, summary = await loaded(codecs.BOM_UTF16_LE + "a,b\n1,ก\n".encode("utf-16-le"), tmp_path)
    assert summary.status == "active" and summary.encoding == "utf-16"  # Excel's "Unicode text"
    resource_id = await make_resource(b"a\n1\n", tmp_path)
    from govhub.opendata.storage import get_storage

    async with db.get_sessionmaker()() as session:
        get_storage().delete((await session.get(Resource, resource_id)).storage_key)  # type: ignore[union-attr]
    summary = await datastore.load_resource(resource_id)
    assert summary.status == "failed" and "missing" in summary.error
    _, summary = await loaded(b"not a workbook", tmp_path, fmt="XLSX")
    assert summary.status == "failed" and "XLSX" in summary.error


async def test_awkward_column_names_are_quoted_everywhere(tmp_path: Path, sql_enabled: None) -> None:
    header = ["ร้อยละ (%)", "select", "x'y", "a;b", "from where", "%(name)s", "?", "$1"]
    text = ",".join(f'"{name}"' for name in header) + "\n" + "12.5,s1,q1,a1,f1,p1,x1,d1\n-3,s2,q2,a2,f2,p2,x2,d2\n"
    resource_id, summary = await loaded(text, tmp_path)
    assert [f["id"] for f in summary.fields] == header
    for name in header[1:]:
        result = await datastore.datastore_search(resource_id=resource_id, filters={name: (await all_rows(
            resource_id))[1][name]}, fields=[name, "ร้อยละ (%)"], sort=f'"{name}" desc', q={name: "2"})
        assert result["records"] == [{name: result["records"][0][name], "ร้อยละ (%)": -3.0}], name
    assert [r["ร้อยละ (%)"] for r in await all_rows(resource_id)] == [12.5, -3.0]
    sql = await datastore.datastore_search_sql(
        sql=f'SELECT "ร้อยละ (%)" AS pct, "x\'y", "%(name)s" FROM "{resource_id}" WHERE "select" = \'s2\'')
    assert sql["records"] == [{"pct": -3.0, "x'y": "q2", "%(name)s": "p2"}]
    info = await datastore.datastore_info(resource_id=resource_id)
    assert [f["id"] for f in info["fields"]] == header


async def test_the_datastore_url_setting_moves_the_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          sql_enabled: None) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setattr(get_settings(), "datastore_url", url)
    assert datastore.datastore_url() == url
    try:
        resource_id, summary = await loaded("a,b\n1,ก\n2,ข\n", tmp_path)
        assert summary.status == "active"
        assert (await datastore.datastore_search(resource_id=resource_id, filters={"b": "ข"}))["records"][0]["a"] == 2
        result = await datastore.datastore_search_sql(sql=f'SELECT sum(a) AS s FROM "{resource_id}"')
        assert result["records"] == [{"s": 3}]
        engine = datastore.get_datastore_engine()
        assert engine.dialect.name == "sqlite" and str(engine.url) == url
    finally:
        await datastore.dispose_datastore_engine()
    assert (tmp_path / "elsewhere.db").exists()


# --- loading in the background, reloading ----------------------------------------------------


async def test_enqueue_load_runs_the_job_after_commit_and_skips_an_unchanged_file(tmp_path: Path) -> None:
    resource_id = await make_resource(THAI_CSV.encode(), tmp_path)
    async with db.unit_of_work() as session:
        resource = await session.get(Resource, resource_id)
        assert resource is not None
        await datastore.enqueue_load(session, resource)
        pending = await session.get(DatastoreTable, resource_id)
        assert pending is not None and pending.status == DatastoreStatus.PENDING
    # GOVHUB_JOB_BACKEND=immediate: the job ran once the session committed.
    row = await register(resource_id)
    assert row.status == DatastoreStatus.ACTIVE and row.row_count == 4
    first_table = row.table_name

    async with db.unit_of_work() as session:
        resource = await session.get(Resource, resource_id)
        assert resource is not None
        await datastore.enqueue_load(session, resource)
    assert (await register(resource_id)).table_name == first_table
    assert (await datastore.load_resource(resource_id)).status == "unchanged"

    # Links and non-tabular files are not the datastore's business.
    async with db.unit_of_work() as session:
        link = Resource(dataset_id=(await session.get(Resource, resource_id)).dataset_id,  # type: ignore[union-attr]
                        format="CSV", url="https://example.org/x.csv")
        session.add(link)
        await session.flush()
        await datastore.enqueue_load(session, link)
        assert await session.get(DatastoreTable, link.id) is None


async def test_reload_swaps_atomically_and_a_failed_reload_keeps_the_old_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resource_id, first = await loaded("code,name\n1,เก่า\n2,เก่า\n", tmp_path)
    seen_during_load: list[Any] = []
    real_index = datastore._index

    async def index_and_look(engine: Any, table: sa.Table, fields: Any) -> Any:
        # The new table is complete but not yet swapped in: readers still get the old one.
        result = await datastore.datastore_search(resource_id=resource_id)
        seen_during_load.append((result["total"], [r["name"] for r in result["records"]], result["fields"]))
        seen_during_load.append((await register(resource_id)).status)
        return await real_index(engine, table, fields)

    monkeypatch.setattr(datastore, "_index", index_and_look)
    await replace_file(resource_id, "code,name,extra\n1,ใหม่,x\n2,ใหม่,y\n3,ใหม่,z\n".encode(), tmp_path)
    second = await datastore.load_resource(resource_id)
    monkeypatch.setattr(datastore, "_index", real_index)

    assert seen_during_load[0] == (2, ["เก่า", "เก่า"], [{"id": "_id", "type": "int"}, {"id": "code", "type": "int"},
                                                        {"id": "name", "type": "text"}])
    assert seen_during_load[1] == DatastoreStatus.LOADING
    assert second.status == "active" and second.table_name != first.table_name
    result = await datastore.datastore_search(resource_id=resource_id)
    assert result["total"] == 3 and [r["name"] for r in result["records"]] == ["ใหม่"] * 3
    assert [f["id"] for f in result["fields"]] == ["_id", "code", "name", "extra"]
    assert await physical_tables(resource_id) == [second.table_name]  # the old table is dropped

    # A reload that fails leaves the previous table serving, and says why.
    await replace_file(resource_id, b"code,name\n\xfc\xfd,1\n", tmp_path)
    third = await datastore.load_resource(resource_id)
    assert third.status == "failed"
    row = await register(resource_id)
    assert row.status == DatastoreStatus.FAILED and row.error and row.table_name == second.table_name
    assert row.row_count == 3 and row.source_sha256 == second.source_sha256
    assert (await datastore.datastore_search(resource_id=resource_id))["total"] == 3
    assert await physical_tables(resource_id) == [second.table_name]


async def test_a_load_that_breaks_half_way_leaves_the_old_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resource_id, first = await loaded("a\n1\n2\n", tmp_path)
    await replace_file(resource_id, ("a\n" + "5\n" * 30).encode(), tmp_path)

    async def broken(*_args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(datastore, "_index", broken)
    with pytest.raises(RuntimeError):
        await datastore.load_resource(resource_id)
    row = await register(resource_id)
    assert row.status == DatastoreStatus.FAILED and "disk full" in row.error and row.table_name == first.table_name
    assert (await datastore.datastore_search(resource_id=resource_id))["total"] == 2
    assert await physical_tables(resource_id) == [first.table_name]


async def test_a_running_load_is_not_claimed_twice(tmp_path: Path) -> None:
    resource_id, _ = await loaded("a\n1\n", tmp_path)
    await replace_file(resource_id, b"a\n1\n2\n", tmp_path)
    async with db.unit_of_work() as session:
        row = await session.get(DatastoreTable, resource_id)
        assert row is not None
        row.status, row.started_at = DatastoreStatus.LOADING, datetime.now().astimezone()
    assert (await datastore.load_resource(resource_id)).status == "busy"


async def test_drop_table(tmp_path: Path) -> None:
    resource_id, _ = await loaded("a\n1\n", tmp_path)
    async with db.unit_of_work() as session:
        await datastore.enqueue_drop(session, resource_id)
    assert await physical_tables(resource_id) == []
    async with db.get_sessionmaker()() as session:
        assert await session.get(DatastoreTable, resource_id) is None
    with pytest.raises(NotFound):
        await datastore.datastore_search(resource_id=resource_id)
    await datastore.drop_table(resource_id)  # twice is fine


async def test_deleted_resources_have_no_datastore(tmp_path: Path) -> None:
    resource_id, _ = await loaded("a\n1\n", tmp_path)
    async with db.unit_of_work() as session:
        resource = await session.get(Resource, resource_id)
        assert resource is not None
        resource.state = "deleted"
    with pytest.raises(NotFound):
        await datastore.datastore_search(resource_id=resource_id)
    with pytest.raises(NotFound):
        await datastore.datastore_info(resource_id=resource_id)
    with pytest.raises(NotFound):
        await datastore.datastore_search(resource_id=new_id())
    with pytest.raises(ValidationFailed):
        await datastore.datastore_search(resource_id=None)  # type: ignore[arg-type]


# --- datastore_search ------------------------------------------------------------------------


@pytest.fixture
async def bus_routes(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Bangkok bus routes: 60 rows, Thai and English text, numbers, dates."""
    rows = ["สาย,ต้นทาง,ปลายทาง,ค่าโดยสาร,ประเภท,เปิดใช้,note"]
    for n in range(1, 61):
        kind = ["รถธรรมดา", "รถปรับอากาศ", "BRT"][n % 3]
        rows.append(f"{n},อู่ {n % 5},Terminal {n % 7},{8 + n % 4 * 2.5},{kind},2024-01-{n % 28 + 1:02d},"
                    f"{'Express line' if n % 10 == 0 else 'ปกติ'}")
    resource_id, summary = await loaded("\n".join(rows) + "\n", tmp_path_factory.mktemp("bus"))
    assert summary.status == "active"
    return resource_id


async def test_filters(bus_routes: str) -> None:
    result = await datastore.datastore_search(resource_id=bus_routes, filters={"ประเภท": "BRT"})
    assert result["total"] == 20 and {r["ประเภท"] for r in result["records"]} == {"BRT"}
    # The total is right whether the page is full, the last one, or past the end.
    for limit, offset, shown in ((5, 0, 5), (5, 18, 2), (5, 20, 0), (5, 40, 0), (20, 0, 20), (0, 3, 0)):
        result = await datastore.datastore_search(resource_id=bus_routes, filters={"ประเภท": "BRT"}, limit=limit,
                                                  offset=offset)
        assert (len(result["records"]), result["total"]) == (shown, 20), (limit, offset)
    result = await datastore.datastore_search(resource_id=bus_routes, filters={"สาย": [1, "2", 3], "ประเภท": "BRT"})
    assert [r["สาย"] for r in result["records"]] == [2]
    result = await datastore.datastore_search(resource_id=bus_routes, filters=json.dumps({"เปิดใช้": "2024-01-02"}))
    assert {r["สาย"] for r in result["records"]} == {1, 29, 57}
    result = await datastore.datastore_search(resource_id=bus_routes, filters={"ค่าโดยสาร": 10.5})
    assert result["total"] == 15
    with pytest.raises(ValidationFailed) as error:
        await datastore.datastore_search(resource_id=bus_routes, filters={"nope": 1})
    assert error.value.field == "filters"
    with pytest.raises(ValidationFailed):
        await datastore.datastore_search(resource_id=bus_routes, filters={"สาย": "one"})
    with pytest.raises(ValidationFailed):
        await datastore.datastore_search(resource_id=bus_routes, filters=["สาย"])  # type: ignore[arg-type]


async def test_q_full_text(bus_routes: str) -> None:
    result = await datastore.datastore_search(resource_id=bus_routes, q="ปรับอากาศ")
    assert result["total"] == 20
    result = await datastore.datastore_search(resource_id=bus_routes, q="express")  # any case
    assert [r["สาย"] for r in result["records"]] == [10, 20, 30, 40, 50, 60]
    result = await datastore.datastore_search(resource_id=bus_routes, q="terminal 3 express")  # every word
    assert [r["สาย"] for r in result["records"]] == [10]
    result = await datastore.datastore_search(resource_id=bus_routes, q={"ต้นทาง": "อู่ 4"})
    assert result["total"] == 12
    assert (await datastore.datastore_search(resource_id=bus_routes, q="100%_"))["total"] == 0
    with pytest.raises(ValidationFailed):
        await datastore.datastore_search(resource_id=bus_routes, q={"nope": "x"})


async def test_fields_sort_limit_offset_total_and_links(bus_routes: str) -> None:
    result = await datastore.datastore_search(
        resource_id=bus_routes, fields=["สาย", "ค่าโดยสาร"], sort="ค่าโดยสาร desc, สาย", limit=5, offset=2,
    )
    assert result["fields"] == [{"id": "สาย", "type": "int"}, {"id": "ค่าโดยสาร", "type": "numeric"}]
    assert result["records"] == [{"สาย": n, "ค่าโดยสาร": 15.5} for n in (11, 15, 19, 23, 27)]
    assert (result["total"], result["limit"], result["offset"]) == (60, 5, 2)
    links = result["_links"]
    assert links["start"].startswith("/api/3/action/datastore_search?") and "offset" not in links["start"]
    assert "offset=7" in links["next"] and "limit=5" in links["next"] and f"resource_id={bus_routes}" in links["next"]

    result = await datastore.datastore_search(resource_id=bus_routes, fields="สาย, ประเภท", sort='"ประเภท" asc, _id desc',
                                              limit=2, include_total=False)
    assert "total" not in result and result["records"] == [{"สาย": 59, "ประเภท": "BRT"}, {"สาย": 56, "ประเภท": "BRT"}]
    result = await datastore.datastore_search(resource_id=bus_routes, fields=["ประเภท"], distinct=True, sort="ประเภท")
    assert result["records"] == [{"ประเภท": t} for t in sorted(["BRT", "รถธรรมดา", "รถปรับอากาศ"])]
    assert result["total"] == 3
    result = await datastore.datastore_search(resource_id=bus_routes, limit=0)
    assert result["records"] == [] and result["total"] == 60
    assert len((await datastore.datastore_search(resource_id=bus_routes, offset=55))["records"]) == 5

    for bad in ({"limit": 32001}, {"limit": -1}, {"offset": -1}, {"limit": "many"}, {"fields": ["nope"]},
                {"sort": "nope desc"}, {"sort": "สาย sideways"}, {"fields": [1]},
                {"fields": ["สาย"], "distinct": True, "sort": "ประเภท"}):
        with pytest.raises(ValidationFailed):
            await datastore.datastore_search(resource_id=bus_routes, **bad)
    assert len((await datastore.datastore_search(resource_id=bus_routes, limit=32000))["records"]) == 60


async def test_injection_attempts_change_nothing(bus_routes: str) -> None:
    attempts = [
        {"fields": ['สาย" FROM x; DROP TABLE opendata_datasets; --']},
        {"fields": "สาย); DELETE FROM opendata_resources; --"},
        {"sort": "สาย; DROP TABLE accounts"},
        {"sort": '"สาย"" desc; DELETE FROM x --"'},
        {"sort": "(SELECT 1)"},
        {"filters": {"สาย = 1 OR 1=1 --": 1}},
        {"q": {"ประเภท\" OR 1=1 --": "x"}},
    ]
    for arguments in attempts:
        with pytest.raises(ValidationFailed):
            await datastore.datastore_search(resource_id=bus_routes, **arguments)
    # Values are bound as parameters: they match literally, or not at all.
    assert (await datastore.datastore_search(resource_id=bus_routes, filters={"ประเภท": "BRT' OR '1'='1"}))["total"] == 0
    assert (await datastore.datastore_search(resource_id=bus_routes, q="' OR 1=1 --"))["total"] == 0
    assert (await datastore.datastore_search(resource_id=bus_routes))["total"] == 60
    assert len(await all_rows(bus_routes)) == 60
    async with db.get_sessionmaker()() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Dataset)) >= 1


async def test_datastore_info(bus_routes: str) -> None:
    info = await datastore.datastore_info(resource_id=bus_routes)
    assert info["meta"]["count"] == 60 and info["meta"]["id"] == bus_routes
    assert info["meta"]["table_type"] == "BASE TABLE" and info["meta"]["status"] == "active"
    by_id = {f["id"]: f for f in info["fields"]}
    assert list(by_id) == ["สาย", "ต้นทาง", "ปลายทาง", "ค่าโดยสาร", "ประเภท", "เปิดใช้", "note"]
    assert by_id["สาย"]["type"] == "int" and by_id["สาย"]["schema"]["is_index"] is True
    assert by_id["สาย"]["schema"]["native_type"] == ("int8" if BACKEND == "postgresql" else "INTEGER")
    assert by_id["ประเภท"]["schema"]["is_index"] is True  # short text: indexed for filters
    assert set(by_id["note"]["schema"]) == {"native_type", "notnull", "index_name", "is_index", "uniquekey"}


async def test_tables_live_outside_the_catalog(bus_routes: str) -> None:
    row = await register(bus_routes)
    assert row.table_name.startswith("ds_") and "-" not in row.table_name
    catalog = db.get_engine()
    async with catalog.connect() as conn:
        catalog_tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    assert row.table_name not in catalog_tables
    if BACKEND == "postgresql":
        assert datastore.datastore_url() == get_settings().database_url
        async with catalog.connect() as conn:
            schema = await conn.scalar(sa.text("SELECT schemaname FROM pg_tables WHERE tablename = :t"),
                                       {"t": row.table_name})
        assert schema == "datastore"
    else:
        assert datastore.datastore_url().endswith("govhub.datastore.db")
        assert Path(datastore.sqlite_path(datastore.datastore_url())).exists()


# --- datastore_search_sql --------------------------------------------------------------------


async def test_search_sql_is_off_by_default(bus_routes: str) -> None:
    assert get_settings().datastore_sql_enabled is False
    with pytest.raises(Forbidden):
        await datastore.datastore_search_sql(sql=f'SELECT * FROM "{bus_routes}"')


async def test_search_sql_runs_a_select(bus_routes: str, sql_enabled: None) -> None:
    result = await datastore.datastore_search_sql(
        sql=f'SELECT "ประเภท", count(*) AS n, avg("ค่าโดยสาร") AS fare FROM "{bus_routes}" '
            f'WHERE "สาย" <= 30 GROUP BY "ประเภท" ORDER BY "ประเภท"'
    )
    assert [r["ประเภท"] for r in result["records"]] == sorted(["BRT", "รถธรรมดา", "รถปรับอากาศ"])
    assert [r["n"] for r in result["records"]] == [10, 10, 10]
    assert {f["id"]: f["type"] for f in result["fields"]}["n"] == "int"
    assert result["sql"].startswith('SELECT "ประเภท"')
    table = (await register(bus_routes)).table_name
    by_name = await datastore.datastore_search_sql(
        sql=f'WITH t AS (SELECT * FROM {table} WHERE "เปิดใช้" = \'2024-01-02\') SELECT t."สาย" FROM t ORDER BY 1')
    assert [r["สาย"] for r in by_name["records"]] == [1, 29, 57]
    joined = await datastore.datastore_search_sql(
        sql=f'SELECT "{bus_routes}"."สาย" FROM "{bus_routes}" JOIN "{bus_routes}" b ON b."สาย" = "{bus_routes}"."สาย" '
            f'WHERE lower(b.note) LIKE \'%express%\' ORDER BY 1 LIMIT 2')
    assert [r["สาย"] for r in joined["records"]] == [10, 20]


async def test_search_sql_allows_ordinary_analysis(bus_routes: str, sql_enabled: None) -> None:
    t = f'"{bus_routes}"'
    common = [
        f'SELECT "ประเภท", count(*), sum("ค่าโดยสาร"), avg("ค่าโดยสาร"), min("สาย"), max("สาย") FROM {t} GROUP BY 1',
        f'SELECT "สาย", row_number() OVER (PARTITION BY "ประเภท" ORDER BY "สาย" DESC) AS n FROM {t}',
        f'SELECT CASE WHEN "ค่าโดยสาร" > 10 THEN \'แพง\' ELSE \'ถูก\' END AS k, count(DISTINCT "ต้นทาง") FROM {t} GROUP BY 1',
        (f'SELECT upper(note), lower(note), length("ต้นทาง"), substr(note, 1, 3), trim(note), replace(note, \'a\', \'b\'),'
         f' coalesce(note, \'-\'), nullif("สาย", 1), abs(-"สาย"), round("ค่าโดยสาร", 1), "สาย" % 7 FROM {t}'),
        f'SELECT * FROM {t} WHERE "สาย" IN (1, 2) OR ("สาย" BETWEEN 5 AND 6 AND note LIKE \'%ปกติ%\') ORDER BY "สาย" LIMIT 3',
        f'SELECT a."สาย" FROM {t} a WHERE EXISTS (SELECT 1 FROM {t} b WHERE b."สาย" = a."สาย" + 1) AND NOT a."สาย" > 3',
        f'SELECT "ประเภท" FROM {t} UNION SELECT "ต้นทาง" FROM {t} ORDER BY 1',
        f'SELECT lag("สาย") OVER (ORDER BY "สาย"), lead("สาย") OVER (ORDER BY "สาย"), rank() OVER (ORDER BY "ประเภท") FROM {t}',
    ]
    postgresql = [
        f'SELECT date_trunc(\'month\', "เปิดใช้"), extract(day FROM "เปิดใช้"), to_char("เปิดใช้", \'YYYY\') FROM {t}',
        f'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY "ค่าโดยสาร"), string_agg("ประเภท", \',\') FROM {t}',
        f'SELECT "สาย"::text || \'-\' || "ต้นทาง", greatest("สาย", 10), "ต้นทาง" ILIKE \'อู่%\' FROM {t}',
        f'SELECT count(*) FILTER (WHERE "ประเภท" = \'BRT\') FROM {t}',
    ]
    sqlite = [
        f'SELECT strftime(\'%Y\', "เปิดใช้"), date("เปิดใช้"), group_concat("ประเภท") FROM {t}',
        f'SELECT ifnull(note, \'\'), instr(note, \'a\'), cast("สาย" AS TEXT) || \'-\' FROM {t}',
    ]
    for sql in common + (postgresql if BACKEND == "postgresql" else sqlite):
        result = await datastore.datastore_search_sql(sql=sql)
        assert result["records"], sql


async def test_search_sql_refuses_everything_but_reading_public_tables(
    bus_routes: str, sql_enabled: None, tmp_path: Path
) -> None:
    table = (await register(bus_routes)).table_name
    private_id, _ = await loaded("secret\n42\n", tmp_path, dataset_id=await make_dataset(private=True))
    draft_id, _ = await loaded("secret\n43\n", tmp_path, dataset_id=await make_dataset(state=DatasetState.DRAFT))
    refused = [
        f'INSERT INTO "{bus_routes}" ("สาย") VALUES (999)',
        f'UPDATE "{bus_routes}" SET "สาย" = 0',
        f'DELETE FROM "{bus_routes}"',
        f'DROP TABLE "{bus_routes}"',
        f'DROP TABLE {table}',
        f'CREATE TABLE x AS SELECT * FROM "{bus_routes}"',
        f'SELECT * INTO copied FROM "{bus_routes}"',
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "PRAGMA table_info(accounts)",
        f'SELECT 1 FROM "{bus_routes}"; DELETE FROM "{bus_routes}"',
        f'SELECT 1 FROM "{bus_routes}"; SELECT 2',
        f'WITH d AS (DELETE FROM "{bus_routes}" RETURNING *) SELECT * FROM d',
        f'SELECT * FROM "{bus_routes}" FOR UPDATE',
        "SELECT * FROM accounts",
        "SELECT * FROM opendata_datasets",
        "SELECT * FROM public.accounts",
        "SELECT * FROM main.opendata_resources",
        "SELECT * FROM sqlite_master",
        "SELECT * FROM pragma_table_info('accounts')",
        "SELECT * FROM json_each('[1]')",
        "SELECT * FROM pg_catalog.pg_class",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM pg_user",
        f'SELECT * FROM "{private_id}"',
        f'SELECT * FROM "{draft_id}"',
        f'SELECT * FROM "{bus_routes}" a, "{private_id}" b',
        f'SELECT * FROM "{bus_routes}" WHERE "สาย" IN (SELECT 1 FROM accounts)',
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_sleep(60)",
        "SELECT set_config('statement_timeout', '0', false)",
        "SELECT query_to_xml('select * from accounts', true, true, '')",
        "SELECT current_setting('data_directory')",
        "SELECT load_extension('x')",
        "SELECT version()",
        "SELECT 'accounts'::regclass",
        "SELECT lpad('x', 1000000000)",
        "SELECT printf('%.*c', 1000000000, 'x')",
        "SELECT repeat('x', 1000000000)",
        "SELECT nextval('some_sequence')",
        "SELECT * FROM pg_ls_dir('.')",
        "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)",
        f'WITH "{bus_routes}" AS (SELECT * FROM accounts) SELECT * FROM "{bus_routes}"',
        f'SELECT * FROM "{bus_routes}" UNION ALL SELECT * FROM opendata_resources',
        f'SELECT * FROM "{bus_routes}" WHERE "สาย" = (SELECT count(*) FROM pg_catalog.pg_authid)',
        "SELECT * FROM datastore.missing_table",
        f'EXPLAIN SELECT * FROM "{bus_routes}"',
        "COPY accounts TO '/tmp/x'",
        "VACUUM",
        "",
        "not sql at all (",
    ]
    for sql in refused:
        try:
            await datastore.datastore_search_sql(sql=sql)
        except ValidationFailed:
            continue
        pytest.fail(f"not refused: {sql}")
    assert (await datastore.datastore_search(resource_id=bus_routes))["total"] == 60
    assert (await datastore.datastore_search(resource_id=private_id))["total"] == 1
    async with db.get_sessionmaker()() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Dataset)) >= 3
    assert await physical_tables(bus_routes) == [table]


async def test_the_database_itself_refuses_what_the_parser_might_miss(bus_routes: str) -> None:
    """The second layer alone (the parser skipped): the database refuses reads outside the allowed tables."""
    table = (await register(bus_routes)).table_name
    if BACKEND == "postgresql":
        engine = datastore.get_datastore_engine()
        run = datastore_sql._run_postgresql
        for sql in ("SELECT * FROM public.accounts", "SELECT count(*) FROM pg_class",
                    "SELECT pg_read_file('/etc/hostname')",
                    f'SELECT lower(x."ประเภท") FROM datastore.{table} x, LATERAL (SELECT * FROM public.opendata_datasets) d',
                    f"DELETE FROM datastore.{table}", f"SELECT 1; DELETE FROM datastore.{table}",
                    "SELECT * FROM generate_series(1, 2) g, pg_ls_dir('.') f"):
            with pytest.raises(ValidationFailed):
                await run(engine, sql, {table}, 2000)
        names, _, rows = await run(engine, f'SELECT count(*) AS n FROM datastore.{table}', {table}, 2000)
        assert names == ["n"] and rows == [(60,)]
    else:
        path = datastore.sqlite_path(datastore.datastore_url())
        run_sqlite = datastore_sql._run_sqlite
        other = f"{datastore.table_prefix(new_id())}x"
        async with datastore.get_datastore_engine().begin() as conn:
            await conn.exec_driver_sql(f'CREATE TABLE "{other}" (secret TEXT)')
        for sql in (f"SELECT * FROM {other}", "SELECT * FROM sqlite_master", "PRAGMA table_info(x)",
                    "SELECT * FROM pragma_table_info('x')", f"SELECT * FROM {table} WHERE note IN (SELECT secret FROM {other})",
                    f"DELETE FROM {table}", f"INSERT INTO {table} (_id) VALUES (99)",
                    "ATTACH DATABASE ':memory:' AS x", f"SELECT load_extension('x') FROM {table}",
                    f"SELECT 1 FROM {table}; DELETE FROM {table}", f"DROP TABLE {table}"):
            with pytest.raises(ValidationFailed):
                await asyncio.to_thread(run_sqlite, path, sql, {table}, 2000)
        names, _, rows = await asyncio.to_thread(run_sqlite, path, f"SELECT count(*) AS n FROM {table}", {table}, 2000)
        assert rows == [(60,)]
        async with datastore.get_datastore_engine().begin() as conn:
            await conn.exec_driver_sql(f'DROP TABLE "{other}"')
    assert (await datastore.datastore_search(resource_id=bus_routes))["total"] == 60


def test_plan_check_reads_calls_out_of_expressions() -> None:
    calls = datastore_sql._calls
    assert calls("(lower(t.a) ~~* '%x(%'::text)") == [(None, "lower")]
    assert calls('"left"(a, 2)') == [(None, "left")]
    assert calls('t."ราคา (บาท)" * 2') == []
    assert calls("pg_catalog.pg_read_file('x'::text)") == [("pg_catalog", "pg_read_file")]
    datastore_sql._check_expression("(count(*) FILTER (WHERE b)) OVER (?)")
    with pytest.raises(ValidationFailed):
        datastore_sql._check_expression("public.lower(a)")
    with pytest.raises(ValidationFailed):
        datastore_sql._check_expression("('accounts'::regclass)")


async def test_search_sql_statement_timeout(bus_routes: str, sql_enabled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "datastore_sql_timeout_ms", 200)
    heavy = (f'SELECT count(*) FROM "{bus_routes}" a, "{bus_routes}" b, "{bus_routes}" c, "{bus_routes}" d, '
             f'"{bus_routes}" e WHERE a.note || b.note || c.note || d.note || e.note LIKE \'%never%\'')
    started = time.monotonic()
    with pytest.raises(ValidationFailed, match="longer than 200 ms"):
        await datastore.datastore_search_sql(sql=heavy)
    assert time.monotonic() - started < 10
    # Recursion that never ends is stopped too.
    with pytest.raises(ValidationFailed):
        await datastore.datastore_search_sql(
            sql=f'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r, "{bus_routes}"')


async def test_search_sql_caps_rows(tmp_path: Path, sql_enabled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datastore_sql, "MAX_ROWS", 5)
    resource_id, _ = await loaded("n\n" + "".join(f"{i}\n" for i in range(20)), tmp_path)
    result = await datastore.datastore_search_sql(sql=f'SELECT n FROM "{resource_id}" ORDER BY n')
    assert [r["n"] for r in result["records"]] == [0, 1, 2, 3, 4] and result["records_truncated"] is True


# --- exports ---------------------------------------------------------------------------------


def test_neutralise_formula() -> None:
    for dangerous in ("=1+1", "+A1", "-2+3", "@SUM(A1)", "\tx", "\r=1", '=HYPERLINK("http://evil")'):
        assert datastore.neutralise_formula(dangerous) == "'" + dangerous
    for harmless in ("ข้อความ", "-5", "+66812345678", "-12.5", "", "a=b"):
        assert datastore.neutralise_formula(harmless) == harmless
    assert datastore.neutralise_formula(-5) == -5 and datastore.neutralise_formula(None) is None


async def _collect(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def test_exports_neutralise_formulas_and_keep_numbers(tmp_path: Path) -> None:
    content = THAI_CSV + "5,สงขลา,@cmd,-3,-0.75,2024-04-01,true,+SUM(A1:A9)\n"
    resource_id, _ = await loaded(content, tmp_path)

    exported = (await _collect(await datastore.export_rows(resource_id, "csv"))).decode("utf-8")
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["_id", "รหัส", "จังหวัด", "ชื่อสถานที่", "จำนวน", "ราคา (บาท)", "วันที่", "เปิด", "หมายเหตุ"]
    assert len(rows) == 6
    assert rows[4][8] == "'=HYPERLINK(\"http://evil\")"
    assert rows[5][3] == "'@cmd" and rows[5][8] == "'+SUM(A1:A9)"
    assert rows[5][4] == "-3" and float(rows[5][5]) == -0.75  # negative numbers keep their sign
    assert rows[2][4] == "-40" and rows[2][6] == "2024-02-15" and rows[2][7] == "false"

    with_bom = await _collect(await datastore.export_rows(resource_id, "csv", bom=True))
    assert with_bom.startswith(codecs.BOM_UTF8)

    document = json.loads(await _collect(await datastore.export_rows(resource_id, "json")))
    assert document["fields"][0] == {"id": "_id", "type": "int"} and len(document["records"]) == 5
    assert document["records"][3][8] == '=HYPERLINK("http://evil")'  # JSON is data, not a spreadsheet

    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(await _collect(await datastore.export_rows(resource_id, "xlsx"))))
    sheet = workbook.worksheets[0]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[4][8] == "'=HYPERLINK(\"http://evil\")" and sheet.cell(5, 9).data_type == "s"
    assert values[5][4] == -3 and values[5][5] == -0.75

    with pytest.raises(ValidationFailed):
        await datastore.export_rows(resource_id, "exe")
    with pytest.raises(NotFound):
        await datastore.export_rows(new_id(), "csv")


# --- size --------------------------------------------------------------------------------------


def _write_big_csv(path: Path, rows: int) -> None:
    provinces = ["กรุงเทพมหานคร", "เชียงใหม่", "ขอนแก่น", "ภูเก็ต", "สงขลา", "นครราชสีมา", "ชลบุรี", "อุดรธานี"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["รหัส", "จังหวัด", "ชื่อสถานที่", "จำนวน", "ราคา (บาท)", "วันที่", "เปิด", "หมายเหตุ"])
        for i in range(rows):
            writer.writerow([i + 1, provinces[i % 8], f"สถานที่ {i}", (i * 7919) % 5000 - 500, f"{(i % 1000) / 7:.2f}",
                             f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}", "true" if i % 3 else "false",
                             "หมายเหตุ" if i % 5 == 0 else ""])
        writer.writerow(["x", "bad", "row", "1", "1", "2024-01-01", "true", ""])


async def _load_big(tmp_path: Path, rows: int) -> None:
    path = tmp_path / "big.csv"
    _write_big_csv(path, rows)
    resource_id = new_id()
    from govhub.opendata.storage import get_storage

    key = f"resources/{resource_id}/big"
    get_storage().save(key, path)
    dataset_id = await make_dataset()
    async with db.unit_of_work() as session:
        session.add(Resource(id=resource_id, dataset_id=dataset_id, format="CSV", url_type="upload", storage_key=key,
                             sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size))
    started = time.monotonic()
    summary = await datastore.load_resource(resource_id)
    seconds = time.monotonic() - started
    assert summary.status == "active", summary.error
    assert (summary.row_count, summary.bad_row_count) == (rows, 1)
    assert summary.bad_rows[0]["row"] == rows + 2
    print(f"\ndatastore load on {BACKEND}: {rows:,} rows x 8 columns ({path.stat().st_size / 1e6:.0f} MB) "
          f"in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")

    started = time.monotonic()
    result = await datastore.datastore_search(resource_id=resource_id, filters={"จังหวัด": "ภูเก็ต"}, limit=10)
    filtered = time.monotonic() - started
    assert result["total"] == rows // 8 and len(result["records"]) == 10
    assert all(r["จังหวัด"] == "ภูเก็ต" for r in result["records"])
    result = await datastore.datastore_search(resource_id=resource_id, filters={"รหัส": rows // 2})
    assert [r["_id"] for r in result["records"]] == [rows // 2]
    started = time.monotonic()
    result = await datastore.datastore_search(resource_id=resource_id, q=f"สถานที่ {rows - 7}", limit=5)
    searched = time.monotonic() - started
    assert [r["รหัส"] for r in result["records"]] == [rows - 6] and result["total"] == 1
    print(f"datastore_search with a filter on {BACKEND}: {filtered * 1000:.0f} ms (first call); "
          f"with q (a scan of the text columns): {searched * 1000:.0f} ms")
    assert (await datastore.datastore_search(resource_id=resource_id, limit=1))["total"] == rows


async def test_a_200000_row_csv_loads(tmp_path: Path) -> None:
    await _load_big(tmp_path, 200_000)
# The 1,000,000-row load is timed in bench/bench_opendata.py, not here.
