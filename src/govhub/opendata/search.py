"""Dataset search: word-level Thai and stemmed English, ranked, with facets and CKAN's fq.

Text is segmented here, not by the database: Thai with PyThaiNLP's newmm dictionary
segmenter (Thai has no spaces between words, and a database parser would either keep a whole
phrase as one token or cut inside words), English with the Snowball stemmer. The same
`terms()` runs when indexing and when querying, so "รถโดยสารประจำทาง" matches the word and
never the inside of another word.

Two engines answer a query, chosen by `opendata_search_engine`: the in-memory index of each
process (`search_memory`, the default), and the database's own full-text engine (FTS5 on
SQLite, a tsvector with a GIN index on PostgreSQL, facets and `fq` over the narrow
`opendata_facet_values` table), which also answers whatever the memory engine cannot yet.
Every index write here feeds both, in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import snowballstemmer
from sqlalchemy import Boolean, Float, Select, String, Text, and_, bindparam, delete, exists, false, func, literal, null, or_, select, text, true, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.db import dialect_insert
from govhub.kit.errors import ValidationFailed
from govhub.kit.i18n import N_
from govhub.opendata import search_memory
from govhub.opendata.models import FACET_SEPARATOR, Dataset, DatasetState, FacetValue, IndexEntry

THAI = re.compile(r"[\u0E00-\u0E7F]")
# Runs of Thai, of Latin letters and digits, or single other letters (any script).
RUNS = re.compile(r"[\u0E00-\u0E7F]+|[^\W_]+", re.UNICODE)
# Thai words too common to rank by (the segmenter returns them as words of their own).
THAI_STOPWORDS = frozenset({"และ", "ของ", "ที่", "ใน", "การ", "ความ", "เป็น", "มี", "ได้", "จาก", "ให้", "กับ", "โดย", "หรือ", "แห่ง"})
ENGLISH_STOPWORDS = frozenset({"a", "an", "and", "are", "as", "at", "by", "for", "from", "in", "is", "of", "on", "or", "the", "to", "with"})

FACET_FIELDS = ("organization", "groups", "tags", "res_format", "license_id", "data_type", "data_category",
                "high_value_dataset")
MAX_FACET_LIMIT = 1000
SORTS = {
    "score desc": None,
    "metadata_modified desc": Dataset.metadata_modified.desc(),
    "metadata_modified asc": Dataset.metadata_modified.asc(),
    "metadata_created desc": Dataset.metadata_created.desc(),
    "metadata_created asc": Dataset.metadata_created.asc(),
    "name asc": Dataset.name.asc(),
    "name desc": Dataset.name.desc(),
    "title_string asc": Dataset.title.asc(),
    "title_string desc": Dataset.title.desc(),
}


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    # Snowball in pure Python costs ~75 µs a word; the catalog's vocabulary repeats endlessly.
    return str(_stemmer().stemWord(word))


@lru_cache(maxsize=1)
def _thai_segmenter() -> Any:
    from pythainlp.tokenize import word_tokenize

    return word_tokenize


def load_segmenter() -> None:
    """Load the Thai segmenter and its dictionary now (at startup) rather than on the first search."""
    _thai_segmenter()("ข้อมูล", engine="newmm")


def _thai_words(run: str) -> tuple[str, ...]:
    # Short runs (query words, titles' phrases) repeat and are cached; long ones would only fill memory.
    return _cached_thai_words(run) if len(run) <= 64 else _segment(run)


@lru_cache(maxsize=4096)
def _cached_thai_words(run: str) -> tuple[str, ...]:
    return _segment(run)


def _segment(run: str) -> tuple[str, ...]:
    words = _thai_segmenter()(run, engine="newmm", keep_whitespace=False)
    return tuple(word for word in words if word.strip() and word not in THAI_STOPWORDS)


def terms(value: str) -> list[str]:
    """The search terms of a text: Thai words and stemmed English words, lower-cased."""
    normalized = unicodedata.normalize("NFC", value or "").lower()
    found: list[str] = []
    for run in RUNS.findall(normalized):
        if THAI.match(run):
            found.extend(_thai_words(run))
        elif run not in ENGLISH_STOPWORDS:
            found.append((_stem(run) if len(run) <= 40 else _stemmer().stemWord(run))
                         if run.isascii() and run.isalpha() else run)
    return found


@dataclass(frozen=True)
class SearchDocument:
    """What the index holds about one dataset."""

    dataset_id: str
    title: list[str]
    tags: list[str]
    notes: list[str]
    # Who may find it, kept beside the words so that a text query never reads the datasets table.
    organization_id: str = ""
    active: bool = True
    private: bool = False
    # "field=value" pairs (PostgreSQL counts facets of text matches from these, not from a join).
    facets: tuple[str, ...] = ()


def document_of(dataset: Dataset, *, organization_title: str = "", group_titles: list[str] | None = None,
                facets: list[tuple[str, str]] | None = None) -> SearchDocument:
    """The searchable words of a dataset: title (weighted most), keywords, then description."""
    title = terms(f"{dataset.title} {dataset.title_en} {dataset.name.replace('-', ' ')}")
    tags = terms(" ".join(dataset.tag_names))
    notes = terms(f"{dataset.notes} {organization_title} {' '.join(group_titles or [])} {dataset.data_source}")
    return SearchDocument(dataset.id, title, tags, notes, organization_id=dataset.organization_id,
                          active=dataset.state == DatasetState.ACTIVE, private=dataset.private,
                          facets=tuple(f"{name}={value}" for name, value in facets or []))


@dataclass
class SearchQuery:
    """A package_search request, already parsed (see `parse_fq`)."""

    q: str = ""
    filters: list[tuple[str, str]] = field(default_factory=list)  # (facet field, value), ANDed
    facet_fields: list[str] = field(default_factory=list)
    facet_limit: int = 50
    rows: int = 10
    start: int = 0
    sort: str = "score desc"
    # Organizations whose private datasets and drafts the caller may see; None = all (admin).
    private_org_ids: frozenset[str] | None = frozenset()
    include_private: bool = False
    include_drafts: bool = False


@dataclass
class SearchResult:
    """Matching dataset ids in order, the total, and facet counts."""

    ids: list[str]
    count: int
    facets: dict[str, dict[str, int]]


class SearchBackend(Protocol):
    """A full-text index of datasets."""

    async def index(self, session: AsyncSession, document: SearchDocument) -> None:
        """Add or replace a dataset's document."""

    async def remove(self, session: AsyncSession, dataset_id: str) -> None:
        """Remove a dataset's document."""

    def matching(self, query_terms: list[str]) -> tuple[Any, Any]:
        """A selectable of (dataset_id, rank) for the terms, and its rank column."""


def _rowid(dataset_id: str) -> int:
    # FTS5 rows are addressed by integer rowid; a 63-bit hash of the id needs no mapping table.
    return int.from_bytes(hashlib.sha256(dataset_id.encode()).digest()[:8], "big") >> 1


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class SqliteSearch:
    """FTS5 with bm25 ranking (title 10, keywords 5, description 1)."""

    async def index(self, session: AsyncSession, document: SearchDocument) -> None:
        """Replace the dataset's row."""
        rowid = _rowid(document.dataset_id)
        await session.execute(text("DELETE FROM opendata_search_fts WHERE rowid = :rowid"), {"rowid": rowid})
        await session.execute(
            text("INSERT INTO opendata_search_fts (rowid, dataset_id, organization_id, active, private, title, tags, "
                 "notes) VALUES (:rowid, :id, :organization_id, :active, :private, :title, :tags, :notes)"),
            {"rowid": rowid, "id": document.dataset_id, "title": " ".join(document.title),
             "tags": " ".join(document.tags), "notes": " ".join(document.notes),
             "organization_id": document.organization_id, "active": int(document.active),
             "private": int(document.private)},
        )

    async def remove(self, session: AsyncSession, dataset_id: str) -> None:
        """Delete the dataset's row."""
        await session.execute(text("DELETE FROM opendata_search_fts WHERE rowid = :rowid"),
                              {"rowid": _rowid(dataset_id)})

    def matching(self, query_terms: list[str]) -> tuple[Any, Any]:
        """Every term must occur (AND), as CKAN's default `q.op`."""
        match = " AND ".join(_fts_phrase(term) for term in query_terms)
        # bm25() is lower for better matches: negate it so that higher ranks better everywhere.
        matched = text(
            "SELECT dataset_id, organization_id, active, private, "
            "-bm25(opendata_search_fts, 0.0, 0.0, 0.0, 0.0, 10.0, 5.0, 1.0) AS rank "
            "FROM opendata_search_fts WHERE opendata_search_fts MATCH :match"
        ).bindparams(match=match).columns(dataset_id=String, organization_id=String, active=Boolean,
                                          private=Boolean, rank=Float).subquery("matched")
        return matched, matched.c.rank


def _tsquery_lexeme(term: str) -> str:
    # Written as a quoted lexeme so PostgreSQL's parser never re-splits Thai words.
    return "'" + term.replace("\\", "").replace("'", "''") + "'"


def _tsvector_literal(words: list[str], weight: str) -> str:
    return " ".join(f"{_tsquery_lexeme(word)}:1{weight}" for word in dict.fromkeys(words))


class PostgresSearch:
    """A weighted tsvector (title A, keywords B, description C) ranked with ts_rank."""

    async def index(self, session: AsyncSession, document: SearchDocument) -> None:
        """Upsert the dataset's tsvector."""
        vector = " ".join(part for part in (
            _tsvector_literal(document.title, "A"), _tsvector_literal(document.tags, "B"),
            _tsvector_literal(document.notes, "C")) if part)
        await session.execute(
            text("INSERT INTO opendata_search_docs (dataset_id, organization_id, active, private, facets, document) "
                 "VALUES (:id, :organization_id, :active, :private, :facets, CAST(:vector AS tsvector)) "
                 "ON CONFLICT (dataset_id) DO UPDATE SET document = EXCLUDED.document, "
                 "organization_id = EXCLUDED.organization_id, active = EXCLUDED.active, private = EXCLUDED.private, "
                 "facets = EXCLUDED.facets").bindparams(bindparam("facets", type_=ARRAY(Text))),
            {"id": document.dataset_id, "vector": vector, "organization_id": document.organization_id,
             "active": document.active, "private": document.private, "facets": list(document.facets)},
        )

    async def remove(self, session: AsyncSession, dataset_id: str) -> None:
        """Delete the dataset's tsvector."""
        await session.execute(text("DELETE FROM opendata_search_docs WHERE dataset_id = :id"), {"id": dataset_id})

    def matching(self, query_terms: list[str]) -> tuple[Any, Any]:
        """Every term must occur (AND); weights D, C, B, A = 0.1, 0.2, 0.5, 1.0."""
        query = " & ".join(_tsquery_lexeme(term) for term in query_terms)
        matched = text(
            "SELECT dataset_id, organization_id, active, private, facets, "
            "ts_rank('{0.1, 0.2, 0.5, 1.0}', document, CAST(:query AS tsquery)) AS rank "
            "FROM opendata_search_docs WHERE document @@ CAST(:query AS tsquery)"
        ).bindparams(query=query).columns(dataset_id=String, organization_id=String, active=Boolean,
                                          private=Boolean, facets=ARRAY(Text), rank=Float).subquery("matched")
        return matched, matched.c.rank


def backend_for(session: AsyncSession) -> SearchBackend:
    """The index of the session's database."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return PostgresSearch() if dialect == "postgresql" else SqliteSearch()


def facet_values_of(dataset: Dataset, *, organization_name: str, group_names: list[str]) -> list[tuple[str, str]]:
    """The (field, value) pairs a dataset is counted and filtered under."""
    pairs = {("organization", organization_name), ("license_id", dataset.license_id),
             ("data_type", dataset.dataset_type), ("data_category", dataset.data_category),
             ("high_value_dataset", "true" if dataset.high_value else "false")}
    pairs.update(("tags", tag[:255]) for tag in dataset.tag_names)
    pairs.update(("groups", name) for name in group_names)
    pairs.update(("res_format", resource.format[:255]) for resource in dataset.resources if resource.format)
    return sorted(pairs)


async def index_dataset(session: AsyncSession, dataset: Dataset, *, organization_name: str,
                        organization_title: str, group_names: list[str], group_titles: list[str]) -> None:
    """Write a dataset's search document and facet values (in the caller's transaction)."""
    # The sequence lock comes first: every index writer takes the same locks in the same order
    # (state row, then the dataset's rows), so two writers never wait for each other in a circle.
    seq = await next_sequence_number(session)
    pairs = facet_values_of(dataset, organization_name=organization_name, group_names=group_names)
    document = document_of(dataset, organization_title=organization_title, group_titles=group_titles, facets=pairs)
    await backend_for(session).index(session, document)
    await session.execute(delete(FacetValue).where(FacetValue.dataset_id == dataset.id))
    rows = [{"dataset_id": dataset.id, "field": name, "value": value} for name, value in pairs]
    if rows:
        await session.execute(FacetValue.__table__.insert(), rows)
    await _write_entry(session, {**entry_of(document, pairs, dataset), "seq": seq})


async def remove_dataset(session: AsyncSession, dataset_id: str) -> None:
    """Take a dataset out of the index."""
    seq = await next_sequence_number(session)
    await backend_for(session).remove(session, dataset_id)
    await session.execute(delete(FacetValue).where(FacetValue.dataset_id == dataset_id))
    await _write_entry(session, {**removed_entry(dataset_id), "seq": seq})


def entry_of(document: SearchDocument, pairs: list[tuple[str, str]], dataset: Dataset) -> dict[str, Any]:
    """The `opendata_index_entries` row of an indexed dataset (without its sequence number)."""
    return {"dataset_id": dataset.id, "present": True, "organization_id": document.organization_id,
            "active": document.active, "private": document.private, "title_terms": " ".join(document.title),
            "tag_terms": " ".join(document.tags), "note_terms": " ".join(document.notes),
            "facets": FACET_SEPARATOR.join(f"{name}={value.replace(FACET_SEPARATOR, ' ')}" for name, value in pairs),
            "name": dataset.name, "title": dataset.title,
            "metadata_modified": dataset.metadata_modified, "metadata_created": dataset.metadata_created}


def removed_entry(dataset_id: str) -> dict[str, Any]:
    """The row that tells every process a dataset left the index."""
    return {"dataset_id": dataset_id, "present": False, "organization_id": "", "active": False, "private": False,
            "title_terms": "", "tag_terms": "", "note_terms": "", "facets": "", "name": "", "title": "",
            "metadata_modified": None, "metadata_created": None}


# Advancing the one state row locks it until commit, so sequence numbers follow commit order.
NEXT_SEQUENCE_NUMBER = "UPDATE opendata_index_state SET seq = seq + 1 WHERE id = 1 RETURNING seq"
# The same lock without a number: taken before reading what is about to be indexed (reindexing).
LOCK_SEQUENCE = "UPDATE opendata_index_state SET seq = seq WHERE id = 1"


async def next_sequence_number(session: AsyncSession) -> int:
    """The next change sequence number; the index is locked for other writers until commit."""
    session.info["search_index_written"] = True
    return int((await session.execute(text(NEXT_SEQUENCE_NUMBER))).scalar_one())


async def lock_index(session: AsyncSession) -> None:
    """Hold the index's write lock until commit (other index writers wait)."""
    session.info["search_index_written"] = True
    await session.execute(text(LOCK_SEQUENCE))


async def _write_entry(session: AsyncSession, row: dict[str, Any]) -> None:
    """Upsert a dataset's entry (row holds its sequence number)."""
    insert = dialect_insert(session)(IndexEntry).values(row)
    await session.execute(insert.on_conflict_do_update(
        index_elements=[IndexEntry.dataset_id], set_={key: insert.excluded[key] for key in row if key != "dataset_id"}))


FQ_TERM = re.compile(r'(?P<neg>-?)(?P<field>[a-z_]+):(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s"()]+))')


def parse_fq(fq: str) -> list[tuple[str, str]]:
    """CKAN's `fq` as ANDed field:value pairs (`organization:x tags:"ขนส่ง" +res_format:CSV`)."""
    filters: list[tuple[str, str]] = []
    remainder = fq.replace("+", " ")
    for match in FQ_TERM.finditer(remainder):
        name = match["field"]
        if name == "owner_org":
            name = "owner_org"
        elif name not in FACET_FIELDS and name not in ("dataset_type", "capacity", "state", "name", "id"):
            raise ValidationFailed(N_("Cannot filter on %(name)s"), field="fq", code="search_query_error", name=name)
        if match["neg"]:
            raise ValidationFailed(N_("Negative filters are not supported"), field="fq", code="search_query_error")
        filters.append((name, match["quoted"] if match["quoted"] is not None else match["bare"]))
    leftover = FQ_TERM.sub("", remainder).strip()
    if leftover and leftover not in ("*:*",):
        raise ValidationFailed(N_("Could not understand the filter: %(text)s"), field="fq",
                               code="search_query_error", text=leftover[:100])
    return filters


def _visibility(query: SearchQuery, *, active: Any, private: Any, organization_id: Any) -> Any:
    """Public active datasets; private ones and drafts only when asked for and the caller's own."""
    ids = query.private_org_ids
    mine = true() if ids is None else (organization_id.in_(ids) if ids else false())
    state_ok = or_(active, mine) if query.include_drafts else active
    private_ok = or_(private.is_(False), mine) if query.include_private else private.is_(False)
    return and_(state_ok, private_ok)


def _dataset_visibility(query: SearchQuery) -> Any:
    # Deleted datasets are never found (and are not in the text index at all).
    active = Dataset.state == DatasetState.ACTIVE
    if query.include_drafts:
        return and_(Dataset.state != DatasetState.DELETED, _visibility(
            query, active=active, private=Dataset.private, organization_id=Dataset.organization_id))
    return _visibility(query, active=active, private=Dataset.private, organization_id=Dataset.organization_id)


def _apply_filters(statement: Select[Any], query: SearchQuery, *, dataset_id: Any, organization_id: Any,
                   facets: Any = None) -> Select[Any]:
    needs_dataset = False
    for name, value in query.filters:
        if name == "owner_org":
            statement = statement.where(organization_id == value)
        elif name in ("dataset_type", "name", "id"):
            needs_dataset = True
            column = {"dataset_type": Dataset.dataset_type, "name": Dataset.name, "id": Dataset.id}[name]
            statement = statement.where(column == value)
        elif name in ("capacity", "state"):
            continue  # CKAN clients send these; visibility is decided by _visibility
        elif facets is not None:
            statement = statement.where(facets.contains([f"{name}={value}"]))
        else:
            statement = statement.where(exists().where(
                FacetValue.dataset_id == dataset_id, FacetValue.field == name, FacetValue.value == value))
    if needs_dataset and dataset_id is not Dataset.id:
        statement = statement.join(Dataset, Dataset.id == dataset_id)
    return statement


class _ResultCache:
    """Recent search results of this process, valid while the catalog has not changed.

    Every index write (metadata, resources, deletion, harvest) advances the change sequence, so
    (generation, seq) tells whether any cached result may be out of date; the time limit bounds
    how long a result is kept at all. Results are exact, never estimates: a hit returns what the
    query would return now.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[Any, ...], tuple[Any, float, SearchResult]] = OrderedDict()

    def get(self, key: tuple[Any, ...], version: Any, ttl: float) -> SearchResult | None:
        """The cached result for key if it was computed at this catalog version, recently."""
        entry = self.entries.get(key)
        if entry is None or entry[0] != version or time.monotonic() - entry[1] > ttl:
            return None
        self.entries.move_to_end(key)
        result = entry[2]
        # A copy: callers may reshape the facets, and the cached result must stay as computed.
        return SearchResult(list(result.ids), result.count, {name: dict(values) for name, values in result.facets.items()})

    def put(self, key: tuple[Any, ...], version: Any, result: SearchResult) -> None:
        """Remember a result, forgetting the least recently used beyond the size."""
        self.entries[key] = (version, time.monotonic(), result)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


_cache = _ResultCache()


def _cache_key(query: SearchQuery, query_terms: list[str]) -> tuple[Any, ...]:
    # Words that yield no terms ("!!!") find nothing, while no words at all browse everything.
    browsing = query.q.strip() in ("", "*:*")
    return (browsing, tuple(query_terms), tuple(query.filters), tuple(query.facet_fields), query.facet_limit, query.rows,
            query.start, query.sort, query.private_org_ids, query.include_private, query.include_drafts)


async def search(session: AsyncSession, query: SearchQuery) -> SearchResult:
    """Run a query (from this process's result cache while the catalog is unchanged)."""
    ttl = get_settings().opendata_search_cache_seconds
    # A session that has written to the index sees its own uncommitted sequence number, which
    # a rollback would give to another change: its results are never cached under it.
    if ttl <= 0 or session.info.get("search_index_written"):
        return await search_uncached(session, query)
    state = await search_memory.read_state(session)
    key = _cache_key(query, terms(query.q))
    # Every index write advances the change sequence, so (generation, seq) names the catalog's version.
    version = state[:2] if state is not None else None
    cached = _cache.get(key, version, ttl)
    if cached is not None:
        return cached
    result = await search_uncached(session, query, state=state)
    _cache.put(key, version, result)
    return result


async def search_uncached(session: AsyncSession, query: SearchQuery, *,
                          state: tuple[str, int, bool] | None = None) -> SearchResult:
    """Run a query: ranked ids of one page, the total, and the requested facets' counts.

    The in-memory engine answers when it is configured and ready; otherwise the database's.
    """
    if query.sort not in SORTS:
        raise ValidationFailed(N_("Cannot sort by %(sort)s"), field="sort", code="search_query_error", sort=query.sort)
    query_terms = terms(query.q) if query.q.strip() not in ("", "*:*") else []
    if query.q.strip() and query.q.strip() != "*:*" and not query_terms:
        return SearchResult([], 0, {name: {} for name in query.facet_fields})
    descending = SORTS[query.sort] is None or query.sort.endswith("desc")
    if get_settings().opendata_search_engine == "memory":
        index = await search_memory.current_index(state if state is not None else
                                                  await search_memory.read_state(session))
        if index is not None:
            try:
                ids, count, facets = index.search(query, query_terms, descending)
                return SearchResult(ids, count, facets)
            except search_memory.Unsupported:
                pass
    return await database_search(session, query, query_terms, descending)


async def database_search(session: AsyncSession, query: SearchQuery, query_terms: list[str],
                          descending: bool) -> SearchResult:
    """The query on the database's full-text engine.

    One statement: the matches are found once (a CTE the database materializes) and the page,
    the count and the facet counts are all read from them.
    """
    matches = _matches(session, query, query_terms).cte("matches")
    key = matches.c.sort_key.desc() if descending else matches.c.sort_key.asc()
    page = (select(matches.c.id, func.row_number().over(order_by=(key, matches.c.id)).label("n"))
            .order_by(key, matches.c.id).offset(query.start).limit(query.rows).subquery("page"))
    parts = [
        select(literal("p").label("part"), page.c.id.label("a"), null().label("b"), page.c.n.label("n")),
        select(literal("c"), null(), null(), func.count()).select_from(matches),
    ]
    names = [name for name in query.facet_fields if name in FACET_FIELDS]
    if names:
        parts.append(_facet_counts(matches, names, query.facet_limit))
    rows = (await session.execute(union_all(*parts))).all()
    ids = [row.a for row in sorted((row for row in rows if row.part == "p"), key=lambda row: row.n)]
    count = next(row.n for row in rows if row.part == "c")
    facets: dict[str, dict[str, int]] = {name: {} for name in query.facet_fields}
    for row in sorted((row for row in rows if row.part == "f"), key=lambda row: (-row.n, row.b)):
        facets[row.a][row.b] = row.n
    return SearchResult(ids, count, facets)


def _matches(session: AsyncSession, query: SearchQuery, query_terms: list[str]) -> Select[Any]:
    """The visible, filtered datasets matching the terms, with the key they are sorted by.

    A text query reads only the index (words, visibility and organization are kept there) unless
    it is sorted or filtered by a column of the datasets table.
    """
    ordering = SORTS[query.sort]
    if not query_terms:
        key = Dataset.metadata_modified if ordering is None else ordering.element
        statement = select(Dataset.id.label("id"), key.label("sort_key")).where(_dataset_visibility(query))
        return _apply_filters(statement, query, dataset_id=Dataset.id, organization_id=Dataset.organization_id)
    matched, rank = backend_for(session).matching(query_terms)
    facets = matched.c.facets if "facets" in matched.c else None
    columns = [matched.c.dataset_id.label("id"), (rank if ordering is None else ordering.element).label("sort_key")]
    statement = select(*columns, *([facets.label("facets")] if facets is not None else [])).where(_visibility(
        query, active=matched.c.active, private=matched.c.private, organization_id=matched.c.organization_id))
    if ordering is not None:
        statement = statement.join(Dataset, Dataset.id == matched.c.dataset_id)
    return _apply_filters(statement, query, dataset_id=matched.c.dataset_id if ordering is None else Dataset.id,
                          organization_id=matched.c.organization_id, facets=facets)


def _facet_counts(matches: Any, names: list[str], limit: int) -> Select[Any]:
    """The most frequent values of each facet among the matches (at most limit per facet)."""
    if "facets" in matches.c:
        return _facet_counts_from_arrays(matches, names, limit)
    # Looked up by each match's id (the primary key's first column). The field test is kept off
    # the (field, value) index on purpose: through it SQLite would walk every dataset's values of
    # the field and then check each against the matches, a million rows for a ten-row match.
    counted = (
        select(FacetValue.field, FacetValue.value, func.count().label("n"))
        .where(FacetValue.dataset_id.in_(select(matches.c.id)), (FacetValue.field + "").in_(names))
        .group_by(FacetValue.field, FacetValue.value)
        .subquery("counted")
    )
    ranked = select(counted, func.row_number().over(
        partition_by=counted.c.field, order_by=(counted.c.n.desc(), counted.c.value)).label("place")).subquery("ranked")
    return select(literal("f"), ranked.c.field, ranked.c.value, ranked.c.n).where(ranked.c.place <= limit)


def _facet_counts_from_arrays(matches: Any, names: list[str], limit: int) -> Select[Any]:
    """As _facet_counts, from the matches' own "field=value" arrays (PostgreSQL): no join per match."""
    unnested = select(func.unnest(matches.c.facets).label("pair")).select_from(matches).subquery("unnested")
    # Group the pairs first and pick the requested fields among the few hundred groups, rather than
    # splitting each of the hundred thousand unnested pairs before grouping.
    grouped = select(unnested.c.pair, func.count().label("n")).group_by(unnested.c.pair).subquery("grouped")
    field = func.split_part(grouped.c.pair, "=", 1)
    counted = (
        select(field.label("field"), func.substr(grouped.c.pair, func.strpos(grouped.c.pair, "=") + 1).label("value"),
               grouped.c.n)
        .where(field.in_(names))
        .subquery("counted")
    )
    ranked = select(counted, func.row_number().over(
        partition_by=counted.c.field, order_by=(counted.c.n.desc(), counted.c.value)).label("place")).subquery("ranked")
    return select(literal("f"), ranked.c.field, ranked.c.value, ranked.c.n).where(ranked.c.place <= limit)
