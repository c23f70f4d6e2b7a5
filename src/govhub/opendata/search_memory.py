"""The in-memory search engine: package_search in milliseconds at 100,000 datasets.

The databases' full-text indexes find matches fast, but ranking them and counting facets row by
row grows with the number of matches: 60-130 ms for 8,000 matches and over half a second for a
word in every dataset, at 100,000 datasets. Here each web process keeps the catalog's search data
as numpy arrays, as a search engine does: postings with precomputed BM25F weights, each dataset's
facet values, its sort keys and who may see it. A query intersects a few postings, counts facets
with one bincount per field and picks the page with a partial sort.

The database stays the source of truth. Every index write also upserts the dataset's row in
`opendata_index_entries` with the next number of the change sequence (`opendata_index_state`),
in the same transaction. Before answering, a process reads that number (one primary-key lookup)
and applies the entries changed since it last looked, so results are as current as the
database's own engine would give, on every server, with no message bus.

Layout, as in Lucene: an immutable *base* segment built from every entry, and a small *delta*
segment of the entries changed since, rebuilt on each change; base slots whose dataset changed
are masked out. When the delta passes COMPACT_AFTER entries, a new base is built in a thread
while the old one keeps answering. Until a process's first base is ready (building takes ~2 s
per 100,000 datasets), and for the few filters it does not hold (name, id, dataset_type), the
search falls back to the database's engine.
"""

from __future__ import annotations

import asyncio
import logging
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.db import get_sessionmaker
from govhub.opendata.models import FACET_SEPARATOR, IndexEntry, IndexState

log = logging.getLogger(__name__)

# Field weights (title, keywords, description), as the database engines rank them.
TITLE_WEIGHT, TAG_WEIGHT, NOTE_WEIGHT = 10.0, 5.0, 1.0
# BM25 saturation and length normalisation (Lucene's defaults).
K1, B = 1.2, 0.75
# A delta beyond this many entries is merged into a new base (in a thread).
COMPACT_AFTER = 2000
# Filters the engine cannot answer (they name datasets, not facets): the database answers them.
UNSUPPORTED_FILTERS = frozenset({"name", "id", "dataset_type"})
# Below this share of the segment, facets are gathered per match; above it, by one mask over all pairs.
GATHER_SHARE = 0.1
# Entries read and added per step while building a base.
BUILD_CHUNK = 5000


class Unsupported(Exception):
    """The query needs something this engine does not hold; the database's engine answers it."""


@dataclass(frozen=True)
class Entry:
    """One dataset as the engine sees it (a row of opendata_index_entries)."""

    dataset_id: str
    present: bool
    organization_id: str
    active: bool
    private: bool
    title_terms: tuple[str, ...]
    tag_terms: tuple[str, ...]
    note_terms: tuple[str, ...]
    facets: tuple[tuple[str, str], ...]
    name: str
    title: str
    modified: float
    created: float


def _epoch(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


def entry_from_row(row: Any) -> Entry:
    """An Entry from a database row of opendata_index_entries."""
    return Entry(row.dataset_id, bool(row.present), row.organization_id, bool(row.active), bool(row.private),
                 tuple(row.title_terms.split()), tuple(row.tag_terms.split()), tuple(row.note_terms.split()),
                 tuple(tuple(pair.split("=", 1)) for pair in row.facets.split(FACET_SEPARATOR) if pair),  # type: ignore[misc]
                 row.name, row.title,
                 _epoch(row.metadata_modified), _epoch(row.metadata_created))


def _ranks(values: Sequence[str]) -> np.ndarray:
    """Each value's place in sorted order; equal values share a place."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = np.empty(len(values), dtype=np.int32)
    place, previous = -1, None
    for position, index in enumerate(order):
        if position == 0 or values[index] != previous:
            place, previous = position, values[index]
        ranks[index] = place
    return ranks


class FacetColumn:
    """One facet field of a segment: each dataset's value codes, and each value's datasets."""

    def __init__(self, codes: dict[str, int], pair_slots: np.ndarray, pair_codes: np.ndarray, size: int) -> None:
        self.codes = codes
        self.values = tuple(codes)
        # Pairs arrive in slot order, so the by-slot arrays need no sort.
        self.pair_slots, self.pair_codes = pair_slots, pair_codes
        self.slot_pointers = np.zeros(size + 1, dtype=np.int64)
        np.cumsum(np.bincount(pair_slots, minlength=size), out=self.slot_pointers[1:])
        order = np.argsort(pair_codes, kind="stable")
        self.value_pointers = np.zeros(len(self.values) + 1, dtype=np.int64)
        np.cumsum(np.bincount(pair_codes, minlength=len(self.values)), out=self.value_pointers[1:])
        self.value_slots = pair_slots[order]
        self.value_ranks = _ranks(self.values)

    def slots_with(self, value: str) -> np.ndarray:
        """The (ascending) slots that have this value."""
        code = self.codes.get(value)
        if code is None:
            return np.empty(0, dtype=np.int32)
        return self.value_slots[self.value_pointers[code]:self.value_pointers[code + 1]]

    def counts(self, slots: np.ndarray, size: int) -> np.ndarray:
        """How many of the given slots have each value (indexed by code)."""
        if len(slots) < GATHER_SHARE * size:
            starts, ends = self.slot_pointers[slots], self.slot_pointers[slots + 1]
            lengths = ends - starts
            if not lengths.sum():
                return np.zeros(len(self.values), dtype=np.int64)
            # The pair positions of every match, without a Python loop: start + 0..length-1 each.
            offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
            return np.bincount(self.pair_codes[offsets], minlength=len(self.values))
        chosen = np.zeros(size, dtype=bool)
        chosen[slots] = True
        return np.bincount(self.pair_codes[chosen[self.pair_slots]], minlength=len(self.values))


class SegmentBuilder:
    """Takes entries one at a time into compact arrays, so building never holds every entry at once.

    Each term string is kept once (in the vocabulary); per posting only a term number, a slot and
    a weight are kept, in typed arrays rather than lists of Python objects.
    """

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.names: list[str] = []
        self.titles: list[str] = []
        self.organization_codes: dict[str, int] = {}
        self.organization = array("i")
        self.flags = bytearray()  # bit 1: active, bit 2: private
        self.modified, self.created, self.lengths = array("d"), array("d"), array("d")
        self.vocabulary: dict[str, int] = {}
        self.term_ids, self.term_counts, self.weights = array("i"), array("i"), array("f")
        self.facet_codes: dict[str, dict[str, int]] = {}
        self.facet_slots: dict[str, array[int]] = {}
        self.facet_values: dict[str, array[int]] = {}

    def add(self, entry: Entry) -> None:
        """Append one present dataset."""
        slot = len(self.ids)
        self.ids.append(entry.dataset_id)
        self.names.append(entry.name)
        self.titles.append(entry.title)
        self.organization.append(self.organization_codes.setdefault(entry.organization_id, len(self.organization_codes)))
        self.flags.append(int(entry.active) | int(entry.private) << 1)
        self.modified.append(entry.modified)
        self.created.append(entry.created)
        weighted: dict[str, float] = {}
        for terms, weight in ((entry.title_terms, TITLE_WEIGHT), (entry.tag_terms, TAG_WEIGHT),
                              (entry.note_terms, NOTE_WEIGHT)):
            for term in terms:
                weighted[term] = weighted.get(term, 0.0) + weight
        self.lengths.append(len(entry.title_terms) * TITLE_WEIGHT + len(entry.tag_terms) * TAG_WEIGHT
                            + len(entry.note_terms) * NOTE_WEIGHT)
        self.term_counts.append(len(weighted))
        vocabulary = self.vocabulary
        self.term_ids.extend(vocabulary.setdefault(term, len(vocabulary)) for term in weighted)
        self.weights.extend(weighted.values())
        for name, value in entry.facets:
            codes = self.facet_codes.setdefault(name, {})
            self.facet_slots.setdefault(name, array("i")).append(slot)
            self.facet_values.setdefault(name, array("i")).append(codes.setdefault(value, len(codes)))

    def finish(self) -> Segment:
        """The segment of everything added."""
        return Segment(self)


class Segment:
    """Search data of a fixed set of datasets, as arrays indexed by slot (0..n-1)."""

    def __init__(self, built: SegmentBuilder | Iterable[Entry]) -> None:
        if not isinstance(built, SegmentBuilder):
            builder = SegmentBuilder()
            for entry in built:
                builder.add(entry)
            built = builder
        # Tuples of strings, not lists: the garbage collector stops tracking a tuple that holds only
        # strings, while it walks every element of a list on each full collection (~10 ms here).
        self.ids, self.names, self.titles = tuple(built.ids), tuple(built.names), tuple(built.titles)
        self.size = size = len(built.ids)
        self.slot_of = {dataset_id: slot for slot, dataset_id in enumerate(self.ids)}
        self.organization_codes = built.organization_codes
        self.organization = np.frombuffer(built.organization, dtype=np.int32).copy()
        flags = np.frombuffer(bytes(built.flags), dtype=np.uint8)
        self.active, self.private = (flags & 1).astype(bool), (flags & 2).astype(bool)
        self.modified = np.frombuffer(built.modified, dtype=np.float64).copy()
        self.created = np.frombuffer(built.created, dtype=np.float64).copy()
        self.name_ranks, self.title_ranks = _ranks(self.names), _ranks(self.titles)
        self._build_postings(built)
        self.facets = {name: FacetColumn(codes, np.frombuffer(built.facet_slots[name], dtype=np.int32).copy(),
                                         np.frombuffer(built.facet_values[name], dtype=np.int32).copy(), size)
                       for name, codes in built.facet_codes.items()}

    def _build_postings(self, built: SegmentBuilder) -> None:
        """Term -> (slots, BM25F term-frequency part); the idf is applied per query."""
        self.vocabulary = built.vocabulary
        slots = np.repeat(np.arange(self.size, dtype=np.int32), np.frombuffer(built.term_counts, dtype=np.int32))
        lengths = np.frombuffer(built.lengths, dtype=np.float64)
        average = float(lengths.mean()) if self.size else 1.0
        # In place and in float32: one posting array at a time instead of five float64 temporaries
        # (the build's peak memory, per process, at millions of postings).
        saturated = np.frombuffer(built.weights, dtype=np.float32).copy()  # weighted term frequency
        norm = lengths.astype(np.float32)[slots]
        norm *= B / (average or 1.0)
        norm += 1 - B
        norm *= K1
        norm += saturated
        saturated *= K1 + 1
        saturated /= norm  # tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
        del norm
        terms = np.frombuffer(built.term_ids, dtype=np.int32)
        order = np.argsort(terms, kind="stable")  # by term, slots ascending within each
        self.term_pointers = np.zeros(len(self.vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(terms, minlength=len(self.vocabulary)), out=self.term_pointers[1:])
        self.term_slots = slots[order]
        self.term_weights = saturated[order]

    def frequency(self, term: str) -> int:
        """In how many of this segment's datasets the term occurs."""
        code = self.vocabulary.get(term)
        return 0 if code is None else int(self.term_pointers[code + 1] - self.term_pointers[code])

    def match(self, terms: Sequence[str], idf: dict[str, float]) -> tuple[np.ndarray, np.ndarray | None]:
        """Slots holding every term (ascending) and their scores; every slot when there are no terms."""
        if not terms:
            return np.arange(self.size, dtype=np.int32), None
        slots: np.ndarray | None = None
        scores: np.ndarray | None = None
        for term in dict.fromkeys(terms):
            code = self.vocabulary.get(term)
            if code is None:
                return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float64)
            start, end = self.term_pointers[code], self.term_pointers[code + 1]
            found, weight = self.term_slots[start:end], self.term_weights[start:end] * idf[term]
            if slots is None:
                slots, scores = found, weight.astype(np.float64)
            else:
                slots, mine, theirs = np.intersect1d(slots, found, assume_unique=True, return_indices=True)
                scores = scores[mine] + weight[theirs]  # type: ignore[index]
            if not len(slots):
                break
        return slots, scores  # type: ignore[return-value]


@dataclass
class Page:
    """One segment's contribution to a result: count, facet counts and the candidates for the page."""

    segment: Segment
    count: int
    facets: dict[str, np.ndarray]  # field -> count per value code of the segment
    candidates: list[tuple[Any, str]] = field(default_factory=list)  # (sort value, dataset id)


class MemoryIndex:
    """A base segment, a delta segment of later changes, and the base slots those changes replace."""

    def __init__(self, generation: str, seq: int, base: Segment, delta: dict[str, Entry] | None = None) -> None:
        self.generation, self.seq, self.base = generation, seq, base
        self.delta_entries = dict(delta or {})
        self.delta = Segment([entry for entry in self.delta_entries.values() if entry.present])
        self.alive = np.ones(base.size, dtype=bool)
        replaced = [base.slot_of[dataset_id] for dataset_id in self.delta_entries if dataset_id in base.slot_of]
        self.alive[replaced] = False

    @classmethod
    def build(cls, generation: str, seq: int, entries: Iterable[Entry]) -> MemoryIndex:
        """A fresh index holding every present entry in its base."""
        return cls(generation, seq, Segment(entry for entry in entries if entry.present))

    def with_changes(self, seq: int, changed: Iterable[Entry]) -> MemoryIndex:
        """A new index with these entries applied (this one is left as it is for searches in flight)."""
        delta = dict(self.delta_entries)
        for entry in changed:
            delta[entry.dataset_id] = entry
        return MemoryIndex(self.generation, seq, self.base, delta)

    @property
    def size(self) -> int:
        """Datasets held (present ones)."""
        return int(self.alive.sum()) + self.delta.size

    def search(self, query: Any, query_terms: list[str], descending: bool) -> tuple[list[str], int, dict[str, dict[str, int]]]:
        """Ranked ids of the page, the total and the facet counts, as the database engines give them."""
        for name, _value in query.filters:
            if name in UNSUPPORTED_FILTERS:
                raise Unsupported(name)
        terms = list(dict.fromkeys(query_terms))
        total = self.size or 1
        idf = {}
        for term in terms:
            frequency = self.base.frequency(term) + self.delta.frequency(term)
            idf[term] = math.log(1 + (total - frequency + 0.5) / (frequency + 0.5))
        wanted = query.start + query.rows
        pages = [self._segment_page(segment, alive, query, terms, idf, wanted, descending)
                 for segment, alive in ((self.base, self.alive), (self.delta, None)) if segment.size]
        count = sum(page.count for page in pages)
        candidates = [candidate for page in pages for candidate in page.candidates]
        candidates.sort(key=lambda candidate: candidate[1])  # ties: dataset id ascending
        candidates.sort(key=lambda candidate: candidate[0], reverse=descending)
        ids = [dataset_id for _key, dataset_id in candidates[query.start:wanted]]
        facets = {name: _merge_counts([(page.segment.facets[name], page.facets[name]) for page in pages
                                       if name in page.facets], query.facet_limit)
                  for name in query.facet_fields}
        return ids, count, facets

    def _segment_page(self, segment: Segment, alive: np.ndarray | None, query: Any, terms: list[str],
                      idf: dict[str, float], wanted: int, descending: bool) -> Page:
        slots, scores = segment.match(terms, idf)
        keep = _visible(segment, query)[slots]
        if alive is not None:
            keep &= alive[slots]
        for name, value in query.filters:
            keep &= _has(segment, name, value)[slots]
        slots = slots[keep]
        scores = scores[keep] if scores is not None else None
        facets = {name: segment.facets[name].counts(slots, segment.size)
                  for name in query.facet_fields if name in segment.facets and len(slots)}
        return Page(segment, len(slots), facets, _candidates(segment, slots, scores, query.sort, wanted, descending))


def _visible(segment: Segment, query: Any) -> np.ndarray:
    """Public active datasets; private ones and drafts only when asked for and the caller's own."""
    if query.private_org_ids is None:
        mine = np.ones(segment.size, dtype=bool)
    else:
        codes = [segment.organization_codes[org] for org in query.private_org_ids if org in segment.organization_codes]
        mine = np.isin(segment.organization, codes) if codes else np.zeros(segment.size, dtype=bool)
    state_ok = segment.active | mine if query.include_drafts else segment.active
    private_ok = ~segment.private | mine if query.include_private else ~segment.private
    return state_ok & private_ok


def _has(segment: Segment, name: str, value: str) -> np.ndarray:
    """Which slots pass one fq filter."""
    if name in ("capacity", "state"):
        return np.ones(segment.size, dtype=bool)  # CKAN clients send these; visibility decides
    if name == "owner_org":
        code = segment.organization_codes.get(value)
        return segment.organization == code if code is not None else np.zeros(segment.size, dtype=bool)
    mask = np.zeros(segment.size, dtype=bool)
    column = segment.facets.get(name)
    if column is not None:
        mask[column.slots_with(value)] = True
    return mask


def _merge_counts(parts: list[tuple[FacetColumn, np.ndarray]], limit: int) -> dict[str, int]:
    """The top values of a field over the segments (the delta's counts added to the base's by value)."""
    if not parts:
        return {}
    column, counts = parts[0]
    if len(parts) == 1:
        return _top_values(column, counts, limit)
    counts = counts.copy()
    extra: Counter[str] = Counter()
    for other, other_counts in parts[1:]:
        for code in np.flatnonzero(other_counts):
            value, n = other.values[code], int(other_counts[code])
            if value in column.codes:
                counts[column.codes[value]] += n
            else:
                extra[value] += n
    # The base's own top `limit` (with the delta's counts added) and the values only the delta has
    # hold the exact top `limit`: a base value outside its top cannot pass those inside it.
    merged = Counter(_top_values(column, counts, limit)) + extra
    best = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
    return dict(best[:limit] if limit >= 0 else best)


def _top_values(column: FacetColumn, counts: np.ndarray, limit: int) -> dict[str, int]:
    """The most frequent values (ties by value), at most limit (all when limit < 0)."""
    present = np.flatnonzero(counts)
    order = present[np.lexsort((column.value_ranks[present], -counts[present]))]
    if limit >= 0:
        order = order[:limit]
    return {column.values[code]: int(counts[code]) for code in order}


def _candidates(segment: Segment, slots: np.ndarray, scores: np.ndarray | None, sort: str, wanted: int,
                descending: bool) -> list[tuple[Any, str]]:
    """The slots that could be on the page (the best `wanted`, with every tie of the last one)."""
    if not len(slots) or wanted <= 0:
        return []
    kind = sort.split()[0]
    if kind == "score" and scores is None:
        kind = "metadata_modified"  # browsing ranks the newest first, as the database engines do
    if kind == "score":
        rank, values = scores, scores
    elif kind in ("metadata_modified", "metadata_created"):
        values = segment.modified[slots] if kind == "metadata_modified" else segment.created[slots]
        rank = values
    else:
        rank = (segment.name_ranks if kind == "name" else segment.title_ranks)[slots].astype(np.float64)
        values = None
    key = -rank if descending else rank  # ascending key: smaller is better
    if len(slots) > wanted:
        threshold = np.partition(key, wanted - 1)[wanted - 1]
        chosen = np.flatnonzero(key <= threshold)
    else:
        chosen = np.arange(len(slots))
    texts = segment.names if kind == "name" else segment.titles
    return [((float(values[position]) if values is not None else texts[slots[position]]),
             segment.ids[slots[position]]) for position in chosen]


# ---------------------------------------------------------------- keeping each process's index current

class _Holder:
    """This process's index, per database, and the build running in the background if any."""

    def __init__(self) -> None:
        self.indexes: dict[str, MemoryIndex] = {}
        self.building: dict[str, asyncio.Task[None]] = {}  # background builds
        self.inline: dict[str, asyncio.Task[MemoryIndex]] = {}  # builds that searches wait for


_holder = _Holder()


def forget() -> None:
    """Drop this process's indexes (tests, and after the database is replaced)."""
    _holder.indexes.clear()


async def read_state(session: AsyncSession) -> tuple[str, int, bool] | None:
    """(generation, seq, complete) of the index state row."""
    row = (await session.execute(select(IndexState.generation, IndexState.seq, IndexState.complete)
                                 .where(IndexState.id == 1))).one_or_none()
    return None if row is None else (row.generation, int(row.seq), bool(row.complete))


async def current_index(state: tuple[str, int, bool] | None) -> MemoryIndex | None:
    """This process's index brought up to `state`, or None while it is being built."""
    if state is None or not state[2]:
        return None
    generation, seq, _complete = state
    key = get_settings().database_url
    index = _holder.indexes.get(key)
    if index is not None and index.generation == generation:
        if index.seq >= seq:
            return index
        # Numbers are dense, so seq - index.seq bounds how many entries changed: while a new base
        # is being built after a burst, searches do not read the burst again each time.
        if not (_building(key) and seq - index.seq > COMPACT_AFTER):
            # Only committed rows count: `seq` may be the caller's own uncommitted change, which
            # could still roll back, so the index moves to the newest number it has actually read.
            changed = await _load(after=index.seq, limit=COMPACT_AFTER + 1)
            if not changed:
                return index
            if len(changed) <= COMPACT_AFTER:
                index = _keep(key, index.with_changes(changed[-1][0], [entry for _seq, entry in changed]))
                if len(index.delta_entries) > COMPACT_AFTER // 2:
                    _start_build(key)
                return index
    if _building(key):
        return None
    if await _entry_count() <= get_settings().opendata_search_memory_inline_build:
        # A small catalog is built here and now (tests, small portals): no fallback needed.
        return await _build_inline(key, generation)
    _start_build(key)
    return None


def _keep(key: str, index: MemoryIndex) -> MemoryIndex:
    """Install an index unless a newer one of the same database is already installed."""
    installed = _holder.indexes.get(key)
    if installed is None or installed.generation != index.generation or installed.seq <= index.seq:
        _holder.indexes[key] = index
        return index
    return installed


async def _install_built(key: str, built: MemoryIndex) -> MemoryIndex:
    """Bring a new base up to the newest committed change, then install it.

    Searches may install newer deltas of the old base while this one is being built or caught up;
    a new base is only installed once it is at least as current, so it is never thrown away.
    """
    installed = built
    for _attempt in range(5):
        changed = await _load(after=built.seq, limit=None)
        if changed:
            built = built.with_changes(changed[-1][0], [entry for _seq, entry in changed])
        installed = _keep(key, built)
        if installed is built:
            break
    return installed


async def _build_inline(key: str, generation: str) -> MemoryIndex:
    """Build now; searches arriving meanwhile wait for the same build instead of starting their own."""
    installed = _holder.indexes.get(key)
    if installed is not None and installed.generation == generation:
        return installed  # another search built it while this one was counting entries
    loop = asyncio.get_running_loop()
    task = _holder.inline.get(key)
    if task is None or task.done() or task.get_loop() is not loop:
        task = loop.create_task(_build_and_install(key, generation))
        _holder.inline[key] = task
    # Shielded: a request that gives up must not cancel the build the others are waiting for.
    return await asyncio.shield(task)


async def _build_and_install(key: str, generation: str) -> MemoryIndex:
    return await _install_built(key, await _build(generation))


def _building(key: str) -> bool:
    """Whether a background build for this database runs on this event loop."""
    running = _holder.building.get(key)
    return running is not None and not running.done() and running.get_loop() is asyncio.get_running_loop()


def _start_build(key: str) -> None:
    """Build a new base in the background (one at a time per database)."""
    if _building(key):
        return

    async def run() -> None:
        try:
            state = await _state_now()
            if state is not None:
                await _install_built(key, await _build(state[0]))
        except Exception:  # the database engine keeps answering; the next search tries again
            log.exception("building the in-memory search index failed")

    _holder.building[key] = asyncio.get_running_loop().create_task(run())


async def _state_now() -> tuple[str, int, bool] | None:
    async with get_sessionmaker()() as session:
        return await read_state(session)


async def _build(generation: str) -> MemoryIndex:
    """Every entry, streamed in its own session (never the caller's uncommitted writes) into a builder.

    Rows are taken a chunk at a time and added in a thread, so neither every row nor every entry
    is ever held at once (building 100,000 datasets holds only the arrays and one chunk).
    """
    builder, seq = SegmentBuilder(), 0
    async with get_sessionmaker()() as session:
        result = await session.stream(_entries_after(-1).execution_options(yield_per=BUILD_CHUNK))
        async for rows in result.partitions(BUILD_CHUNK):
            seq = int(rows[-1].seq)
            await asyncio.to_thread(_add_rows, builder, rows)
    return MemoryIndex(generation, seq, await asyncio.to_thread(builder.finish))


def _add_rows(builder: SegmentBuilder, rows: Sequence[Any]) -> None:
    for row in rows:
        if row.present:
            builder.add(entry_from_row(row))


def _entries_after(after: int) -> Any:
    """Every column of the entries with a sequence number above `after`, oldest change first."""
    return select(*IndexEntry.__table__.columns).where(IndexEntry.seq > after).order_by(IndexEntry.seq)


async def _load(*, after: int, limit: int | None) -> list[tuple[int, Entry]]:
    """Committed entries changed after sequence number `after`, in order."""
    statement = _entries_after(after)
    if limit is not None:
        statement = statement.limit(limit)
    async with get_sessionmaker()() as session:
        rows = (await session.execute(statement)).all()
    return [(int(row.seq), entry_from_row(row)) for row in rows]


async def _entry_count() -> int:
    async with get_sessionmaker()() as session:
        return int((await session.execute(select(func.count()).select_from(IndexEntry)
                                          .where(IndexEntry.present.is_(True)))).scalar_one())
