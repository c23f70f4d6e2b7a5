"""The evidence log of data exchange: an append-only RFC 6962 Merkle tree with signed checkpoints.

Every exchange call, allowed or refused, becomes one `EvidenceRecord`, leaf `seq` of the tree.

Leaf: SHA-256(0x00 || canonical record), the canonical record being the RFC 8785 (JCS)
JSON text of the object below, UTF-8, keys sorted, no whitespace. Every value is a string,
an integer or null, so JCS is exactly `json.dumps(doc, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`; `time` is UTC with microseconds, `2026-11-23T07:05:01.123456Z`:

    {"consent_id":null,"consumer":"TH/GOV/DBD/registration","duration_us":12345,
     "error_code":null,"provider":"TH/GOV/DOPA/civil-registry","purpose":"...",
     "request_hash":"<64 hex>","request_id":"...","response_hash":"<64 hex>|null",
     "seq":0,"service_code":"person","status":"allowed","subject_hash":"<keyed hash>|null",
     "time":"...Z","user_id":null,"v":1}

`seq` is inside the leaf, so a record moved to another position no longer matches its hash.

Checkpoint: a C2SP signed note (https://c2sp.org/signed-note, tlog-checkpoint) whose body is

    govhub-evidence\n<tree size>\n<base64 root hash>\n<time, RFC 3339 UTC to the second>\n

signed with Ed25519; the key id is the note key hash (first 4 bytes of
SHA-256("govhub-evidence" || 0x0A || 0x01 || public key), in hex).

Indices come from a one-row counter (`UPDATE ... SET size = size + n RETURNING size`) in the
writer's transaction: the row lock (PostgreSQL) or the write lock (SQLite) makes appends
take turns until that transaction commits, and a rollback returns the numbers, so `seq` is
gapless and unique. Exchange calls append through `evidence_writer`, which groups the calls
waiting at one moment into one turn; `append` here writes inside the caller's own
transaction (identity proofing), and should come last, just before the commit.
Checkpoints store the tree's frontier (so the next one only hashes the new leaves) and the
hashes of every complete subtree at levels 4, 8, 12... (so a proof reads a few rows).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time as clock
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    SmallInteger,
    String,
    Text,
    and_,
    bindparam,
    insert,
    or_,
    select,
    text,
    true,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from govhub.db import Base
from govhub.exchange import merkle
from govhub.kit.clock import utcnow
from govhub.kit.crypto import decrypt_secret, encrypt_secret
from govhub.kit.errors import AppError, ValidationFailed

ORIGIN = "govhub-evidence"
FORMAT_VERSION = 1
# Stored subtree levels: a proof piece is built from at most 2**(NODE_STRIDE-1) rows.
NODE_STRIDE = 4
PAGE_SIZE = 10_000
HEAD_ID = 1
# Any constant: the PostgreSQL advisory lock that lets one publisher sign at a time.
CHECKPOINT_LOCK = 0x6576_6964  # "evid"
_HEX64 = re.compile(r"[0-9a-f]{64}")


class EvidenceLogHead(Base):
    """The log's size: the one row every append updates, which serialises the indices."""

    __tablename__ = "evidence_log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)


class EvidenceRecord(Base):
    """One exchange call (allowed or refused): leaf `seq` of the Merkle tree."""

    __tablename__ = "evidence_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[datetime] = mapped_column()
    request_id: Mapped[str] = mapped_column(String(255), index=True)
    consumer: Mapped[str] = mapped_column(String(255))
    provider: Mapped[str] = mapped_column(String(255))
    service_code: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    purpose: Mapped[str | None] = mapped_column(String(1000))
    consent_id: Mapped[str | None] = mapped_column(String(255))
    # Keyed hash of the data subject's identifier: the citizen's access-log page looks it up.
    subject_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    response_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(64))
    # Microseconds: an integer keeps the canonical form free of floating point.
    duration_us: Mapped[int] = mapped_column(BigInteger)
    leaf_hash: Mapped[str] = mapped_column(String(64))

    @property
    def duration_ms(self) -> float:
        """How long the call took, in milliseconds."""
        return self.duration_us / 1000


class EvidenceCheckpoint(Base):
    """A signed statement of the tree's size and root at a moment."""

    __tablename__ = "evidence_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column()
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(String(128))  # base64 Ed25519 signature of the body
    # The perfect subtrees' roots (hex, comma-separated): the next checkpoint resumes here.
    frontier: Mapped[str] = mapped_column(Text)


class EvidenceTreeNode(Base):
    """A complete subtree's hash at level 4, 8, 12...: derived data that makes proofs cheap."""

    __tablename__ = "evidence_tree_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class EvidenceSigningKey(Base):
    """An Ed25519 checkpoint key; the private half is encrypted with the data keys."""

    __tablename__ = "evidence_signing_keys"

    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))  # base64 of the raw 32 bytes
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column()


class EvidenceLogDamaged(AppError):
    """Stored evidence disagrees with itself; `govhub evidence verify` says where."""

    status_code = 500
    code = "evidence_log_damaged"


# --- records ------------------------------------------------------------------------------

# The record's fields in the canonical form, in the order verify selects them.
FIELDS = (
    "seq", "time", "request_id", "consumer", "provider", "service_code", "user_id", "purpose",
    "consent_id", "subject_hash", "request_hash", "response_hash", "status", "error_code", "duration_us",
)  # fmt: skip
_LIMITS = {
    column.name: column.type.length
    for column in EvidenceRecord.__table__.columns
    if hasattr(column.type, "length")
}


@dataclass(frozen=True, kw_only=True)
class EvidenceEntry:
    """What the exchange knows about one call; `append` turns it into a record."""

    request_id: str
    consumer: str
    provider: str
    service_code: str
    status: str
    request_hash: str
    response_hash: str | None = None
    user_id: str | None = None
    purpose: str | None = None
    consent_id: str | None = None
    # The data subject as a keyed hash (govhub.kit.crypto.pii_hash), never the identifier itself.
    subject_hash: str | None = None
    error_code: str | None = None
    duration_ms: float = 0.0  # stored as whole microseconds
    time: datetime | None = None


def body_hash(body: bytes) -> str:
    """Hex SHA-256 of a request or response body, as the evidence records hold it."""
    return hashlib.sha256(body).hexdigest()


def format_time(value: datetime) -> str:
    """A record time in canonical form: UTC, microseconds, 'Z' (naive is UTC, as SQLite gives it)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


# The canonical form is what json.dumps(document, sort_keys=True, separators=(",", ":"),
# ensure_ascii=False) writes; it is built directly from the sorted keys because verify does
# this a million times and json.dumps costs twice as much (a test checks they agree).
_ESCAPE = json.encoder.encode_basestring  # type: ignore[attr-defined]  # JSON string escaping, in C
_KEY_ORDER = tuple(
    (key, FIELDS.index(key) if key in FIELDS else -1) for key in sorted([*FIELDS, "v"])
)
_TIME = FIELDS.index("time")


def _json_value(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is int:
        return str(value)
    if isinstance(value, str):
        return _ESCAPE(value)  # type: ignore[no-any-return]
    raise TypeError(f"evidence fields are text, integers or null, not {type(value).__name__}")


def canonical_bytes(values: Sequence[Any]) -> bytes:
    """The canonical JSON of a record from its FIELDS values in order (later values ignored)."""
    time_text = format_time(values[_TIME])
    parts = []
    for key, position in _KEY_ORDER:
        if position < 0:
            value = _json_value(FORMAT_VERSION)
        else:
            value = _ESCAPE(time_text) if position == _TIME else _json_value(values[position])
        parts.append(f'"{key}":{value}')
    return ("{" + ",".join(parts) + "}").encode()


def record_leaf_hash(values: Sequence[Any]) -> bytes:
    """The leaf hash of a record given its FIELDS values in order."""
    return merkle.leaf_hash(canonical_bytes(values))


def entry_values(entry: EvidenceEntry) -> dict[str, Any]:
    """Validate an entry and give the record's columns (all but seq and leaf_hash)."""
    moment = entry.time or utcnow()
    if moment.tzinfo is None:
        raise ValueError("naive datetime; use govhub.kit.clock.utcnow()")
    values: dict[str, Any] = {
        "time": moment.astimezone(UTC),
        "request_id": entry.request_id,
        "consumer": entry.consumer,
        "provider": entry.provider,
        "service_code": entry.service_code,
        "user_id": entry.user_id,
        "purpose": entry.purpose,
        "consent_id": entry.consent_id,
        "subject_hash": entry.subject_hash,
        "request_hash": entry.request_hash,
        "response_hash": entry.response_hash,
        "status": entry.status,
        "error_code": entry.error_code,
        "duration_us": round(entry.duration_ms * 1000),
    }
    for name in ("request_hash", "response_hash"):
        if values[name] is not None and not _HEX64.fullmatch(values[name]):
            raise ValueError(f"evidence {name} must be 64 lowercase hex digits")
    for name, limit in _LIMITS.items():
        # Checked here so that SQLite refuses what PostgreSQL would, before the turn is taken.
        if isinstance(values.get(name), str) and len(values[name]) > limit:
            raise ValueError(f"evidence {name} is longer than {limit} characters")
    return values


_HEAD = EvidenceLogHead.__table__
# Built once: per-call statement construction would cost more than the database round trips.
_CLAIM = (
    update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(size=_HEAD.c.size + bindparam("n")).returning(_HEAD.c.size)
)
INSERT_RECORD = insert(EvidenceRecord.__table__)


async def claim_indices(executor: AsyncSession | AsyncConnection, count: int) -> int:
    """Take the next `count` leaf indices, the first returned; the row stays locked until commit."""
    size = (await executor.execute(_CLAIM, {"n": count})).scalar_one_or_none()
    if size is None:
        raise EvidenceLogDamaged(code="evidence_log_head_missing")
    return int(size) - count


def numbered(values: dict[str, Any], seq: int) -> dict[str, Any]:
    """A record's columns given its entry values and index: adds seq and the leaf hash."""
    row = dict(values, seq=seq)
    row["leaf_hash"] = record_leaf_hash([row[name] for name in FIELDS]).hex()
    return row


async def append(session: AsyncSession, *, entry: EvidenceEntry) -> EvidenceRecord:
    """Record a call as the next leaf; it commits (or not) with the caller's transaction.

    The returned record is not attached to the session: evidence is never updated.
    """
    values = numbered(entry_values(entry), await claim_indices(session, 1))
    await session.execute(INSERT_RECORD, values)
    return EvidenceRecord(**values)


async def log_size(session: AsyncSession) -> int:
    """Number of records committed to the log."""
    size = await session.scalar(select(EvidenceLogHead.size).where(EvidenceLogHead.id == HEAD_ID))
    return int(size or 0)


async def _leaf_pages(
    session: AsyncSession, start: int, end: int, columns: Sequence[Any]
) -> AsyncIterator[Sequence[Any]]:
    """Rows of records with start <= seq < end in seq order, a page at a time (keyset)."""
    seq = EvidenceRecord.__table__.c.seq
    after = start - 1
    while True:
        query = select(*columns).where(seq > after, seq < end).order_by(seq).limit(PAGE_SIZE)
        rows = (await session.execute(query)).all()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


# --- signing keys -------------------------------------------------------------------------

_private_keys: dict[str, Ed25519PrivateKey] = {}


def note_key_id(public_key: bytes) -> str:
    """The C2SP signed-note key hash: SHA-256(name || '\\n' || 0x01 || key)[:4], in hex."""
    return hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public_key).digest()[:4].hex()


def verifier_key(row: EvidenceSigningKey) -> str:
    """The key as a signed-note verifier key: '<name>+<key hash>+<base64(0x01 || key)>'."""
    encoded = base64.b64encode(b"\x01" + base64.b64decode(row.public_key)).decode()
    return f"{ORIGIN}+{row.key_id}+{encoded}"


async def _create_key(session: AsyncSession) -> EvidenceSigningKey:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes_raw()
    row = EvidenceSigningKey(
        key_id=note_key_id(public),
        public_key=base64.b64encode(public).decode(),
        private_key_encrypted=encrypt_secret(
            base64.b64encode(private.private_bytes_raw()).decode()
        ),
    )
    session.add(row)
    await session.flush()
    return row


async def _active_key(session: AsyncSession) -> EvidenceSigningKey:
    """The newest key that is not retired, created on first use."""
    query = (
        select(EvidenceSigningKey)
        .where(EvidenceSigningKey.retired_at.is_(None))
        .order_by(EvidenceSigningKey.created_at.desc())
        .limit(1)
    )
    return await session.scalar(query) or await _create_key(session)


def _private_key(row: EvidenceSigningKey) -> Ed25519PrivateKey:
    key = _private_keys.get(row.key_id)
    if key is None:
        raw = base64.b64decode(decrypt_secret(row.private_key_encrypted))
        key = _private_keys[row.key_id] = Ed25519PrivateKey.from_private_bytes(raw)
    return key


async def public_keys(session: AsyncSession) -> list[EvidenceSigningKey]:
    """Every checkpoint key ever used (old checkpoints must stay verifiable), newest first."""
    query = select(EvidenceSigningKey).order_by(EvidenceSigningKey.created_at.desc())
    return list((await session.scalars(query)).all())


async def rotate_signing_key(session: AsyncSession) -> EvidenceSigningKey:
    """Retire the active key and sign further checkpoints with a new one."""
    await session.execute(
        update(EvidenceSigningKey)
        .where(EvidenceSigningKey.retired_at.is_(None))
        .values(retired_at=utcnow())
    )
    return await _create_key(session)


# --- checkpoints --------------------------------------------------------------------------


def format_checkpoint_time(value: datetime) -> str:
    """A checkpoint time in its note: RFC 3339 UTC to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def checkpoint_body(tree_size: int, root_hash: str, published_at: datetime) -> bytes:
    """The signed text of a checkpoint (a C2SP tlog checkpoint with the time as extension line)."""
    root = base64.b64encode(bytes.fromhex(root_hash)).decode()
    return f"{ORIGIN}\n{tree_size}\n{root}\n{format_checkpoint_time(published_at)}\n".encode()


def signed_note(checkpoint: EvidenceCheckpoint) -> str:
    """The checkpoint as a C2SP signed note: body, blank line, one signature line."""
    body = checkpoint_body(
        checkpoint.tree_size, checkpoint.root_hash, checkpoint.published_at
    ).decode()
    signature = bytes.fromhex(checkpoint.key_id) + base64.b64decode(checkpoint.signature)
    return f"{body}\n\u2014 {ORIGIN} {base64.b64encode(signature).decode()}\n"


def signature_valid(checkpoint: EvidenceCheckpoint, key: EvidenceSigningKey | None) -> bool:
    """True when key signed this checkpoint's body."""
    if key is None or key.key_id != checkpoint.key_id:
        return False
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key.public_key))
    try:
        public.verify(
            base64.b64decode(checkpoint.signature),
            checkpoint_body(checkpoint.tree_size, checkpoint.root_hash, checkpoint.published_at),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


async def latest_checkpoint(session: AsyncSession) -> EvidenceCheckpoint | None:
    """The checkpoint of the largest tree, if any."""
    query = select(EvidenceCheckpoint).order_by(EvidenceCheckpoint.tree_size.desc()).limit(1)
    return await session.scalar(query)


async def list_checkpoints(
    session: AsyncSession, *, before: int | None = None, limit: int = 100
) -> list[EvidenceCheckpoint]:
    """Checkpoints newest first, those with tree_size < before when given."""
    query = select(EvidenceCheckpoint).order_by(EvidenceCheckpoint.tree_size.desc()).limit(limit)
    if before is not None:
        query = query.where(EvidenceCheckpoint.tree_size < before)
    return list((await session.scalars(query)).all())


async def _lock_checkpointing(session: AsyncSession) -> None:
    """One publisher at a time, until this transaction ends."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHECKPOINT_LOCK})
    else:
        # SQLite has one writer: taking the write lock now keeps others out until commit.
        head = EvidenceLogHead.__table__
        await session.execute(update(head).where(head.c.id == HEAD_ID).values(size=head.c.size))


def _frontier_of(checkpoint: EvidenceCheckpoint | None) -> merkle.Frontier | None:
    """The tree as the checkpoint left it, or None when its stored frontier is not trustworthy."""
    if checkpoint is None:
        return merkle.Frontier()
    hashes = [bytes.fromhex(h) for h in checkpoint.frontier.split(",") if h]
    try:
        frontier = merkle.Frontier(checkpoint.tree_size, hashes)
    except ValueError:
        return None
    return frontier if frontier.root().hex() == checkpoint.root_hash else None


async def _extend(
    session: AsyncSession, frontier: merkle.Frontier, end: int, sink: merkle.NodeSink | None = None
) -> merkle.Frontier:
    """The tree grown with the stored leaf hashes from frontier.size up to end."""
    table = EvidenceRecord.__table__
    grown = merkle.Frontier(frontier.size, frontier.hashes, sink=sink, sink_stride=NODE_STRIDE)
    async for rows in _leaf_pages(session, frontier.size, end, (table.c.seq, table.c.leaf_hash)):
        for seq, leaf in rows:
            if seq != grown.size:
                raise EvidenceLogDamaged(code="evidence_record_missing")
            grown.append(bytes.fromhex(leaf))
    if grown.size != end:
        raise EvidenceLogDamaged(code="evidence_record_missing")
    return grown


async def _rebuild_to(session: AsyncSession, checkpoint: EvidenceCheckpoint) -> merkle.Frontier:
    """Recompute the tree up to a checkpoint whose frontier is unusable; it must match its root."""
    frontier = await _extend(session, merkle.Frontier(), checkpoint.tree_size)
    if frontier.root().hex() != checkpoint.root_hash:
        raise EvidenceLogDamaged(code="evidence_checkpoint_mismatch")
    return frontier


async def publish_checkpoint(session: AsyncSession) -> EvidenceCheckpoint:
    """Sign the tree at its current size (nothing new if the size has not changed)."""
    await _lock_checkpointing(session)
    latest = await latest_checkpoint(session)
    size = await log_size(session)
    if latest is not None and latest.tree_size == size:
        return latest
    if latest is not None and latest.tree_size > size:
        raise EvidenceLogDamaged(code="evidence_log_shrank")
    frontier = _frontier_of(latest)
    if frontier is None:
        frontier = await _rebuild_to(session, latest)  # type: ignore[arg-type]
    nodes: list[dict[str, Any]] = []

    def keep(level: int, position: int, node: bytes) -> None:
        nodes.append({"level": level, "position": position, "hash": node.hex()})

    frontier = await _extend(session, frontier, size, keep)
    for start in range(0, len(nodes), 5000):
        await session.execute(insert(EvidenceTreeNode.__table__), nodes[start : start + 5000])
    return await _sign(session, frontier)


async def _sign(session: AsyncSession, frontier: merkle.Frontier) -> EvidenceCheckpoint:
    key = await _active_key(session)
    checkpoint = EvidenceCheckpoint(
        tree_size=frontier.size,
        root_hash=frontier.root().hex(),
        published_at=utcnow().replace(microsecond=0),
        key_id=key.key_id,
        frontier=",".join(h.hex() for h in frontier.hashes),
    )
    body = checkpoint_body(checkpoint.tree_size, checkpoint.root_hash, checkpoint.published_at)
    checkpoint.signature = base64.b64encode(_private_key(key).sign(body)).decode()
    session.add(checkpoint)
    await session.flush()
    return checkpoint


# --- proofs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InclusionProof:
    """Leaf `index`'s hash and audit path in the tree of `tree_size` leaves (hex)."""

    index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


@dataclass(frozen=True)
class ConsistencyProof:
    """The proof that the tree of `second` leaves extends the tree of `first` (hex)."""

    first: int
    second: int
    consistency_path: list[str]


async def _published_size(session: AsyncSession) -> int:
    latest = await latest_checkpoint(session)
    return latest.tree_size if latest else 0


async def inclusion_proof(session: AsyncSession, index: int, tree_size: int) -> InclusionProof:
    """Audit path of record `index` in a published tree (tree_size <= latest checkpoint)."""
    if not 0 < tree_size <= await _published_size(session):
        raise ValidationFailed(code="evidence_tree_size_unpublished", field="tree_size")
    if not 0 <= index < tree_size:
        raise ValidationFailed(code="evidence_index_out_of_range", field="index")
    ranges = merkle.inclusion_ranges(index, tree_size)
    hashes = await _range_hashes(session, [(index, index + 1), *ranges])
    return InclusionProof(index, tree_size, hashes[0].hex(), [h.hex() for h in hashes[1:]])


async def consistency_proof(session: AsyncSession, first: int, second: int) -> ConsistencyProof:
    """Proof that published tree `second` extends tree `first` (0 < first <= second)."""
    if not 0 < second <= await _published_size(session):
        raise ValidationFailed(code="evidence_tree_size_unpublished", field="second")
    if not 0 < first <= second:
        raise ValidationFailed(code="evidence_first_out_of_range", field="first")
    ranges = merkle.consistency_ranges(first, second)
    return ConsistencyProof(first, second, [h.hex() for h in await _range_hashes(session, ranges)])


async def _range_hashes(session: AsyncSession, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH of each range, read from stored subtrees and leaves in one query per level."""
    pieces = {piece for start, end in ranges for piece in merkle.perfect_pieces(start, end)}
    known = await _piece_hashes(session, pieces)
    return [merkle.fold_pieces([known[p] for p in merkle.perfect_pieces(s, e)]) for s, e in ranges]


def _stored_span(start: int, level: int) -> tuple[int, int, int]:
    """(stored level, first position, count) of the rows that make up a perfect subtree."""
    stored = level - level % NODE_STRIDE
    return stored, start >> stored, 1 << (level - stored)


async def _piece_hashes(
    session: AsyncSession, pieces: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """Hash of each perfect subtree (start, level) from the fewest stored rows."""
    by_level: dict[int, list[tuple[int, int]]] = {}
    for start, level in pieces:
        stored, first, count = _stored_span(start, level)
        by_level.setdefault(stored, []).append((first, first + count))
    rows: dict[tuple[int, int], bytes] = {}
    for stored, spans in by_level.items():
        rows.update(await _stored_rows(session, stored, spans))
    result = {}
    for start, level in pieces:
        stored, first, count = _stored_span(start, level)
        try:
            result[(start, level)] = merkle.root(
                rows[(stored, p)] for p in range(first, first + count)
            )
        except KeyError as missing:
            raise EvidenceLogDamaged(code="evidence_tree_node_missing") from missing
    return result


async def _stored_rows(
    session: AsyncSession, level: int, spans: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """Leaf hashes (level 0) or stored node hashes whose positions fall in the spans."""
    if level == 0:
        column, hash_column, table_filter = EvidenceRecord.seq, EvidenceRecord.leaf_hash, true()
    else:
        column, hash_column = EvidenceTreeNode.position, EvidenceTreeNode.hash
        table_filter = EvidenceTreeNode.level == level
    within = or_(*(and_(column >= first, column < end) for first, end in spans))
    result = await session.execute(select(column, hash_column).where(table_filter, within))
    return {(level, position): bytes.fromhex(value) for position, value in result.all()}


# --- verification -------------------------------------------------------------------------


@dataclass
class Problem:
    """One thing verify found wrong: about record `seq`, or about checkpoint `tree_size`."""

    message: str
    seq: int | None = None
    tree_size: int | None = None


@dataclass
class VerifyReport:
    """What `verify_log` checked and what it found."""

    log_size: int = 0
    records: int = 0
    checkpoints: int = 0
    signatures_ok: int = 0
    seconds: float = 0.0
    bad_records: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was wrong."""
        return not self.problems

    @property
    def first_bad_record(self) -> Problem | None:
        """The problem with the lowest record number (what the operator must look at first)."""
        found = [p for p in self.problems if p.seq is not None]
        return min(found, key=lambda p: p.seq) if found else None  # type: ignore[arg-type, return-value]

    @property
    def rate(self) -> float:
        """Records verified per second."""
        return self.records / self.seconds if self.seconds else 0.0


def _missing(first: int, end: int) -> str:
    return (
        f"record {first} is missing"
        if end == first + 1
        else f"records {first}..{end - 1} are missing"
    )


class _Verifier:
    """Walks records in seq order, rebuilding the tree and checking each checkpoint at its size."""

    def __init__(self, report: VerifyReport, checkpoints: AsyncIterator[Any], keys: dict[str, Any]):
        self.report = report
        self.checkpoints = checkpoints
        self.keys = keys
        self.frontier = merkle.Frontier()
        self.expected = 0
        self.pending: deque[Any] = deque()  # checkpoints loaded but not yet reached
        self.exhausted = False
        self.previous_ok = 0  # size of the last checkpoint whose root matched

    def record_problem(self, seq: int, message: str) -> None:
        self.report.bad_records += 1
        if self.report.bad_records <= 100:  # the first ones tell the story; keep the rest counted
            self.report.problems.append(Problem(message, seq=seq))

    async def load_checkpoints(self, up_to: int) -> None:
        """Have every checkpoint of size <= up_to in pending (async, so rows() need not wait)."""
        while not self.exhausted and (not self.pending or self.pending[-1].tree_size <= up_to):
            checkpoint = await anext(self.checkpoints, None)
            if checkpoint is None:
                self.exhausted = True
            else:
                self.pending.append(checkpoint)

    def reached(self) -> None:
        """Check the checkpoints of exactly the tree's current size."""
        while self.pending and self.pending[0].tree_size == self.frontier.size:
            self.check_checkpoint(self.pending.popleft())

    def rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Check a page of (FIELDS..., leaf_hash) rows."""
        for row in rows:
            seq = row[0]
            if seq != self.expected:
                self.record_problem(
                    self.expected, _missing(self.expected, seq) + " (deleted, or renumbered)"
                )
                self.expected = seq
            leaf = merkle.leaf_hash(canonical_bytes(row))
            if leaf.hex() != row[-1]:
                self.record_problem(
                    seq,
                    f"record {seq}: its fields do not match its leaf hash"
                    " (changed, or moved from another position)",
                )
            self.frontier.append(leaf)
            self.expected += 1
            if self.pending and self.pending[0].tree_size == self.frontier.size:
                self.reached()
        self.report.records += len(rows)

    async def finish(self) -> None:
        """Checkpoints beyond the records: the log lost records they had signed."""
        await self.load_checkpoints(2**63)
        while self.pending:
            self.check_checkpoint(self.pending.popleft())

    def check_checkpoint(self, checkpoint: Any) -> None:
        size = checkpoint.tree_size
        self.report.checkpoints += 1
        signed = signature_valid(checkpoint, self.keys.get(checkpoint.key_id))
        if signed:
            self.report.signatures_ok += 1
        else:
            message = (
                f"checkpoint {size}: the signature does not verify"
                f" (checkpoint altered, or key {checkpoint.key_id} unknown)"
            )
            self.report.problems.append(Problem(message, tree_size=size))
        if size != self.frontier.size:
            message = f"checkpoint {size}: the log holds only {self.frontier.size} records"
            self.report.problems.append(Problem(message, tree_size=size))
        elif self.frontier.root().hex() != checkpoint.root_hash:
            self.root_mismatch(checkpoint, signed=signed)
        else:
            self.previous_ok = size

    def root_mismatch(self, checkpoint: Any, *, signed: bool) -> None:
        size = checkpoint.tree_size
        message = f"checkpoint {size}: the records do not give its signed root"
        self.report.problems.append(Problem(message, tree_size=size))
        if signed and self.report.bad_records == 0:
            # A genuine root the records no longer give, yet every leaf matches its stored hash:
            # fields and leaf hash were rewritten together, so only the range is known.
            self.report.bad_records += 1
            self.report.problems.append(
                Problem(
                    f"records {self.previous_ok}..{size - 1}: one of them differs from what"
                    f" checkpoint {size} signed "
                    "(fields and leaf hash rewritten together)",
                    seq=self.previous_ok,
                )
            )


async def _checkpoints_in_order(session: AsyncSession, up_to: int) -> AsyncIterator[Any]:
    """Checkpoints of size <= up_to, smallest first, as plain rows a page at a time."""
    table = EvidenceCheckpoint.__table__
    columns = [
        table.c.tree_size,
        table.c.root_hash,
        table.c.published_at,
        table.c.key_id,
        table.c.signature,
    ]
    after = -1
    while True:
        query = (
            select(*columns)
            .where(table.c.tree_size > after, table.c.tree_size <= up_to)
            .order_by(table.c.tree_size)
            .limit(1000)
        )
        page = (await session.execute(query)).all()
        if not page:
            return
        for checkpoint in page:
            yield checkpoint
        after = page[-1].tree_size


def _verify_columns() -> list[Any]:
    """FIELDS then leaf_hash; time as a plain DateTime, since format_time needs no UTCDateTime step."""
    table = EvidenceRecord.__table__
    columns = [table.c[name] for name in FIELDS] + [table.c.leaf_hash]
    columns[_TIME] = type_coerce(table.c.time, DateTime(timezone=True)).label("time")
    return columns


async def verify_log(
    session: AsyncSession, *, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    """Recompute every leaf and the tree from storage; check every checkpoint's root and signature."""
    started = clock.perf_counter()
    keys = {key.key_id: key for key in await public_keys(session)}
    report = VerifyReport()
    # The latest checkpoint before the size: checkpoints published meanwhile wait for next time,
    # and one larger than the size read after it means records were removed.
    latest = await latest_checkpoint(session)
    signed = latest.tree_size if latest else 0
    report.log_size = await log_size(session)
    verifier = _Verifier(report, _checkpoints_in_order(session, signed), keys)
    await verifier.load_checkpoints(0)
    verifier.reached()
    async for rows in _leaf_pages(session, 0, report.log_size, _verify_columns()):
        await verifier.load_checkpoints(verifier.frontier.size + len(rows))
        verifier.rows(rows)
        if progress is not None:
            progress(report.records, report.log_size)
    if verifier.expected < report.log_size:
        message = (
            _missing(verifier.expected, report.log_size)
            + f" (deleted: the log's size is {report.log_size})"
        )
        verifier.record_problem(verifier.expected, message)
    await verifier.finish()
    report.seconds = clock.perf_counter() - started
    return report
