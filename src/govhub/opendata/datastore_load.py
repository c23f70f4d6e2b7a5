"""Reading tabular resources for the datastore: encodings, delimiters, types, bad rows.

Nothing here touches a database. A `RowParser` streams a CSV or XLSX file, infers each
column's type from a sample, and hands out batches of rows already converted to the
values the target database stores; rows that do not fit are counted and the first ones
reported (row number and reason), never fatal.

Row numbers are spreadsheet row numbers: the header of a file without blank lines at the
top is row 1, so a publisher can find a reported row in the program they exported from.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from govhub.kit.i18n import N_

FIELD_TYPES = ("text", "int", "numeric", "date", "timestamp", "bool")
# The order in which a column's sample is tried: the first type every value fits wins.
INFERENCE_ORDER = ("bool", "int", "numeric", "date", "timestamp")
SAMPLE_ROWS = 5000
BATCH_ROWS = 10_000
MAX_BAD_ROWS_KEPT = 100
MAX_COLUMNS = 1000
MAX_NAME_BYTES = 63  # PostgreSQL's identifier limit, in bytes (a Thai letter takes three)
BUDDHIST_ERA_OFFSET = 543
TABULAR_FORMATS = {"CSV": "csv", "TSV": "csv", "XLSX": "xlsx"}

csv.field_size_limit(16 * 1024 * 1024)


class LoadError(Exception):
    """The file cannot be loaded at all (the reason is kept in the register, in English)."""

    def __init__(self, message: str, **params: Any) -> None:
        self.message, self.params = message, params
        super().__init__(message % params if params else message)


class CellError(ValueError):
    """A cell does not fit its column's type."""


# --- reading files ---------------------------------------------------------------------


def file_digest_and_encoding(path: Path) -> tuple[str, str]:
    """SHA-256 of the file and the text encoding to read it with (one streaming pass).

    A byte-order mark decides (UTF-8, or UTF-16 from Excel's "Unicode text"); otherwise
    UTF-8 if the whole file decodes as UTF-8, else TIS-620 (read as Windows-874, cp874,
    its superset, which Thai agencies' Excel exports use). The whole file is checked, so a
    bad byte near the end fails the load here instead of half way through it.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(0)
        if head.startswith(codecs.BOM_UTF8):
            candidates = ["utf-8-sig"]
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            candidates = ["utf-16"]
        else:
            candidates = ["utf-8", "cp874"]
        decoders = {name: codecs.getincrementaldecoder(name)() for name in candidates}
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            for name, decoder in list(decoders.items()):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    del decoders[name]
        for name, decoder in list(decoders.items()):
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                del decoders[name]
    encoding = next((name for name in candidates if name in decoders), "")
    if not encoding:
        raise LoadError(N_("The file is not text in UTF-8 or TIS-620 (Windows-874)."))
    return digest.hexdigest(), encoding


def detect_delimiter(sample: str) -> str:
    """The delimiter that splits the first lines into the most consistent, widest rows."""
    lines = sample.splitlines()[:100]
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end in the middle of a line
    text = "\n".join(lines)
    best, best_score = ",", (0.0, 0)
    for delimiter in (",", ";", "\t", "|"):
        try:
            widths = [len(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not widths:
            continue
        width, count = Counter(widths).most_common(1)[0]
        if width < 2:
            continue
        score = (round(count / len(widths), 2), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def iter_csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of every non-blank record of a delimited text file."""
    with path.open("r", encoding=encoding, newline="") as handle:
        delimiter = detect_delimiter(handle.read(64 * 1024))
        handle.seek(0)
        reader = csv.reader(handle, delimiter=delimiter)
        number = 0
        try:
            for number, row in enumerate(reader, start=1):
                if any(row):
                    yield number, row
        except csv.Error as error:
            raise LoadError(N_("The file is not valid CSV near row %(row)s: %(reason)s"), row=number + 1,
                            reason=str(error)) from None
        except UnicodeDecodeError:
            raise LoadError(N_("The file is not text in UTF-8 or TIS-620 (Windows-874).")) from None


def _xlsx_cell(value: Any) -> Any:
    return None if value is None or (value.__class__ is str and not value.strip()) else value


def iter_xlsx_rows(path: Path) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) of every non-blank row of the first sheet of a workbook."""
    from openpyxl import load_workbook

    # A file object, not the path: openpyxl judges a path by its extension, and storage keys have none.
    handle = path.open("rb")
    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable workbook is the file's fault
        handle.close()
        raise LoadError(N_("The file is not a readable XLSX workbook: %(reason)s"), reason=str(error)[:200]) from None
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=sheet.min_row or 1):
            cells = [_xlsx_cell(value) for value in row]
            while cells and cells[-1] is None:
                cells.pop()
            if cells:
                yield number, cells
    finally:
        workbook.close()
        handle.close()


# --- column names ----------------------------------------------------------------------

_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


def _truncate_bytes(name: str, limit: int) -> str:
    encoded = name.encode("utf-8")
    if len(encoded) <= limit:
        return name
    return encoded[:limit].decode("utf-8", errors="ignore").rstrip()


def clean_column_names(header: Iterable[Any]) -> list[str]:
    """Column names from a header row: Thai kept, control characters and quotes dropped, unique."""
    names: list[str] = []
    seen: set[str] = {"_id"}
    for position, raw in enumerate(header, start=1):
        text = "" if raw is None else str(raw)
        text = unicodedata.normalize("NFC", text)
        text = "".join(ch for ch in text if ch != '"' and unicodedata.category(ch) not in _DROPPED_CATEGORIES)
        text = " ".join(text.split()).lstrip("_ ")
        name = _truncate_bytes(text, MAX_NAME_BYTES) or f"column_{position}"
        # SQLite compares column names without case, so "Name" and "name" must differ in more.
        base, suffix = name, 2
        while name.casefold() in seen:
            tail = f"_{suffix}"
            name = _truncate_bytes(base, MAX_NAME_BYTES - len(tail)) + tail
            suffix += 1
        seen.add(name.casefold())
        names.append(name)
    return names


# --- converters ------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?(?:0|[1-9][0-9]*|[1-9][0-9]{0,2}(?:,[0-9]{3})+)")
_NUMERIC_RE = re.compile(
    r"[+-]?(?:(?:0|[1-9][0-9]*|[1-9][0-9]{0,2}(?:,[0-9]{3})+)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
)
_DATE_ISO_RE = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})")
_DATE_DMY_RE = re.compile(r"([0-9]{1,2})[-/]([0-9]{1,2})[-/]([0-9]{4})")
_TIME_RE = re.compile(
    r"(?:[T ]+)([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6})[0-9]*)?)?\s*(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "ใช่", "จริง"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "ไม่ใช่", "เท็จ"})
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
MAX_EXPONENT = 300  # numbers the size of a double: the same answer on SQLite and PostgreSQL

_TYPE_PHRASES = {
    "int": "a whole number",
    "numeric": "a number",
    "date": "a date",
    "timestamp": "a date and time",
    "bool": "true or false",
}


def _fail(value: Any, kind: str) -> CellError:
    shown = str(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return CellError(f'"{shown}" is not {_TYPE_PHRASES[kind]}')


def _year(year: int) -> int:
    # A year past 2400 is a Buddhist-era year (B.E. 2567 = C.E. 2024), as Thai agencies write them.
    return year - BUDDHIST_ERA_OFFSET if year > 2400 else year


def parse_date(text: str) -> date:
    """ISO (YYYY-MM-DD, YYYY/MM/DD) or Thai day-first (DD/MM/YYYY) dates; B.E. years allowed."""
    match = _DATE_ISO_RE.fullmatch(text)
    if match:
        return date(_year(int(match[1])), int(match[2]), int(match[3]))
    match = _DATE_DMY_RE.fullmatch(text)
    if match:
        return date(_year(int(match[3])), int(match[2]), int(match[1]))
    raise ValueError(text)


def parse_timestamp(text: str) -> datetime:
    """A date, optionally followed by a time and an offset; times with an offset become UTC."""
    match = _DATE_ISO_RE.match(text) or _DATE_DMY_RE.match(text)
    if match is None:
        raise ValueError(text)
    day = parse_date(match[0])
    rest = text[match.end():]
    if not rest:
        return datetime.combine(day, time())
    clock = _TIME_RE.fullmatch(rest)
    if clock is None:
        raise ValueError(text)
    fraction = int((clock[4] or "0").ljust(6, "0"))
    value = datetime.combine(day, time(int(clock[1]), int(clock[2]), int(clock[3] or 0), fraction))
    zone = clock[5]
    if zone:
        offset = timedelta() if zone == "Z" else timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:]))
        value = (value - offset) if zone[0] != "-" else (value + offset)
    return value


def _to_int(value: Any) -> int | None:
    if value.__class__ is str:
        if value.isascii() and value.isdigit() and (value[0] != "0" or len(value) == 1) and len(value) < 19:
            return int(value)
        text = value.strip()
        if not text:
            return None
        # A leading zero (postal codes, phone numbers) means the digits are a code, not a number.
        if not _INT_RE.fullmatch(text):
            raise _fail(value, "int")
        number = int(text.replace(",", ""))
    elif value is None:
        return None
    elif value.__class__ is bool:
        raise _fail(value, "int")
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise _fail(value, "int")
    if not INT_MIN <= number <= INT_MAX:
        raise _fail(value, "int")
    return number


def _to_decimal(value: Any) -> Decimal | None:
    if value.__class__ is str:
        text = value.strip()
        if not text:
            return None
        if not _NUMERIC_RE.fullmatch(text):
            raise _fail(value, "numeric")
        number = Decimal(text.replace(",", ""))
        if abs(number.adjusted()) > MAX_EXPONENT:
            # PostgreSQL's numeric would refuse it, and with it the whole COPY.
            raise _fail(value, "numeric")
        return number
    if value is None:
        return None
    if value.__class__ is bool or not isinstance(value, int | float | Decimal):
        raise _fail(value, "numeric")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(value, "numeric")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _to_float(value: Any) -> float | None:
    if value.__class__ is str:
        text = value.strip()
        if not text:
            return None
        if not _NUMERIC_RE.fullmatch(text):
            raise _fail(value, "numeric")
        text = text.replace(",", "")
        if (len(text) > 30 or "e" in text or "E" in text) and abs(Decimal(text).adjusted()) > MAX_EXPONENT:
            raise _fail(value, "numeric")
        return float(text)
    if value is None:
        return None
    if value.__class__ is bool or not isinstance(value, int | float | Decimal):
        raise _fail(value, "numeric")
    number = float(value)
    if not math.isfinite(number):
        raise _fail(value, "numeric")
    return number


def _to_date(value: Any) -> date | None:
    if value.__class__ is str:
        text = value.strip()
        if not text:
            return None
        try:
            return parse_date(text)
        except ValueError:
            raise _fail(value, "date") from None
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.time() != time():
            raise _fail(value, "date")
        return value.date()
    if isinstance(value, date):
        return value
    raise _fail(value, "date")


def _to_timestamp(value: Any) -> datetime | None:
    if value.__class__ is str:
        text = value.strip()
        if not text:
            return None
        try:
            return parse_timestamp(text)
        except ValueError:
            raise _fail(value, "timestamp") from None
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime.combine(value, time())
    raise _fail(value, "timestamp")


def _to_bool(value: Any) -> bool | None:
    if value.__class__ is str:
        text = value.strip().casefold()
        if not text:
            return None
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        raise _fail(value, "bool")
    if value is None:
        return None
    if value.__class__ is bool:
        return value
    raise _fail(value, "bool")


def _to_text(value: Any) -> str | None:
    if value.__class__ is str:
        if not value:
            return None
        if "\x00" in value:
            # PostgreSQL text cannot hold NUL; drop it rather than lose the row.
            value = value.replace("\x00", "")
        return value
    if value is None:
        return None
    if value.__class__ is bool:
        return "true" if value else "false"
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def make_converter(kind: str, dialect: str) -> Callable[[Any], Any]:
    """A function from a cell (text, or a spreadsheet value) to the value stored for `kind`.

    PostgreSQL gets Python's own types; SQLite gets ISO text for dates and times, floats
    for numbers and 0/1 for booleans, so that comparisons and sorting work on the text.
    """
    sqlite = dialect == "sqlite"
    if kind == "text":
        return _to_text
    if kind == "int":
        return _to_int
    if kind == "numeric":
        return _to_float if sqlite else _to_decimal
    if kind == "date":
        if sqlite:
            return lambda value: None if (day := _to_date(value)) is None else day.isoformat()
        return _to_date
    if kind == "timestamp":
        if sqlite:
            return lambda value: None if (moment := _to_timestamp(value)) is None else moment.isoformat()
        return _to_timestamp
    if kind == "bool":
        if sqlite:
            return lambda value: None if (flag := _to_bool(value)) is None else int(flag)
        return _to_bool
    raise ValueError(f"unknown field type {kind!r}")


def infer_types(sample: list[list[Any]], width: int) -> list[str]:
    """Each column's type: the first of INFERENCE_ORDER that every sampled value fits, else text."""
    checks = {kind: make_converter(kind, "postgresql") for kind in INFERENCE_ORDER}
    kinds: list[str] = []
    for column in range(width):
        values = [row[column] for row in sample if column < len(row) and _present(row[column])]
        chosen = "text"
        if values:
            for kind in INFERENCE_ORDER:
                check = checks[kind]
                try:
                    for value in values:
                        check(value)
                except (ValueError, ArithmeticError):
                    continue
                chosen = kind
                break
        kinds.append(chosen)
    return kinds


def _present(value: Any) -> bool:
    return value is not None and not (value.__class__ is str and not value.strip())


# --- the parser --------------------------------------------------------------------------


class RowParser:
    """Streams a tabular file: header, inferred fields, then batches of converted rows."""

    def __init__(self, rows: Iterator[tuple[int, list[Any]]], *, dialect: str, pad_short_rows: bool = False,
                 sample_rows: int | None = None, batch_rows: int | None = None) -> None:
        self._rows = rows
        self._batch_rows = batch_rows or BATCH_ROWS
        sample_rows = sample_rows or SAMPLE_ROWS
        self._pad = pad_short_rows
        first = next(rows, None)
        if first is None:
            raise LoadError(N_("The file has no rows."))
        self.header_row, header = first
        if len(header) > MAX_COLUMNS:
            raise LoadError(N_("The file has %(count)s columns; at most %(limit)s can be loaded."),
                            count=len(header), limit=MAX_COLUMNS)
        self.names = clean_column_names(header)
        self._sample: list[tuple[int, list[Any]]] = []
        for item in rows:
            self._sample.append(item)
            if len(self._sample) >= sample_rows:
                break
        self.types = infer_types([cells for _, cells in self._sample], len(self.names))
        self._converters = [make_converter(kind, dialect) for kind in self.types]
        self.row_count = 0
        self.bad_row_count = 0
        self.bad_rows: list[dict[str, Any]] = []
        self._done = False

    @property
    def fields(self) -> list[dict[str, str]]:
        """The loaded fields as the register keeps them: [{"id", "type"}], `_id` not included."""
        return [{"id": name, "type": kind} for name, kind in zip(self.names, self.types, strict=True)]

    def _bad(self, row: int, reason: str, column: str | None = None) -> None:
        self.bad_row_count += 1
        if len(self.bad_rows) < MAX_BAD_ROWS_KEPT:
            entry: dict[str, Any] = {"row": row, "reason": reason}
            if column is not None:
                entry["column"] = column
            self.bad_rows.append(entry)

    def batches(self) -> Iterator[list[tuple[Any, ...]]]:
        """Converted rows, `_id` first, in lists of up to batch_rows; bad rows counted, not yielded."""
        width, converters, names = len(self.names), self._converters, self.names
        pairs = list(zip(converters, range(width), strict=True))
        batch: list[tuple[Any, ...]] = []
        next_id = self.row_count + 1
        source = self._sample_then_rows()
        for number, cells in source:
            count = len(cells)
            if count != width:
                if count > width and not any(_present(cell) for cell in cells[width:]):
                    cells = cells[:width]
                elif count < width and self._pad:
                    cells = cells + [None] * (width - count)
                else:
                    self._bad(number, f"{count} cells where the header has {width}")
                    continue
            try:
                batch.append((next_id, *[convert(cells[index]) for convert, index in pairs]))
            except (ValueError, ArithmeticError):
                for convert, index in pairs:
                    try:
                        convert(cells[index])
                    except (ValueError, ArithmeticError) as error:
                        self._bad(number, f'column "{names[index]}": {error}', names[index])
                        break
                continue
            next_id += 1
            self.row_count += 1
            if len(batch) >= self._batch_rows:
                yield batch
                batch = []
        if batch:
            yield batch

    def _sample_then_rows(self) -> Iterator[tuple[int, list[Any]]]:
        sample, self._sample = self._sample, []
        yield from sample
        del sample
        yield from self._rows


def open_rows(path: Path, kind: str, encoding: str | None) -> tuple[Iterator[tuple[int, list[Any]]], bool]:
    """The row iterator of a file of kind "csv" or "xlsx", and whether short rows are padded."""
    if kind == "xlsx":
        return iter_xlsx_rows(path), True
    return iter_csv_rows(path, encoding or "utf-8"), False
