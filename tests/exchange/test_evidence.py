"""The evidence log: RFC 6962 hashing and proofs checked by an independent verifier, signed
checkpoints, gapless indices under concurrency, and tampering found by `govhub evidence verify`.

The test database is shared by the whole run, so tests never assume an empty log: they work
relative to its current size and undo every change they make to stored evidence.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from sqlalchemy import delete, insert, select, update

from govhub.db import unit_of_work
from govhub.exchange import evidence, evidence_cli, merkle
from govhub.exchange.evidence import (
    EvidenceCheckpoint,
    EvidenceEntry,
    EvidenceLogHead,
    EvidenceRecord,
    EvidenceTreeNode,
)
from tests.exchange import rfc6962_verifier as rfc

RECORDS = EvidenceRecord.__table__
CHECKPOINTS = EvidenceCheckpoint.__table__

# Certificate Transparency's reference test vectors: the entries and the root of each prefix.
CT_ENTRIES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
              bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]  # fmt: skip
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _leaves(count: int, seed: int = 6962) -> list[bytes]:
    rng = random.Random(seed)
    return [rfc.leaf(rng.randbytes(rng.randint(0, 40))) for _ in range(count)]


def _pairs(limit: int, extra: int, seed: int) -> list[tuple[int, int]]:
    """Every (m, n) with n <= limit, plus random pairs in larger trees."""
    rng = random.Random(seed)
    pairs = [(m, n) for n in range(1, limit + 1) for m in range(n)]
    for _ in range(extra):
        n = rng.randint(limit, 3000)
        pairs.append((rng.randrange(n), n))
    return pairs


# --- pure hashing, checked against the RFC transcription -------------------------------------


def test_roots_of_known_trees() -> None:
    assert merkle.root([]).hex() == hashlib.sha256(b"").hexdigest() == rfc.mth([]).hex()
    for size, expected in enumerate(CT_ROOTS, start=1):
        leaves = [merkle.leaf_hash(entry) for entry in CT_ENTRIES[:size]]
        assert merkle.root(leaves).hex() == expected
        assert rfc.mth_entries(CT_ENTRIES[:size]).hex() == expected


def test_streaming_root_matches_the_rfc_definition() -> None:
    leaves = _leaves(600)
    frontier = merkle.Frontier()
    for size in range(601):
        assert frontier.root() == rfc.mth(leaves[:size]), size
        if size < 600:
            frontier.append(leaves[size])


def test_inclusion_proofs_pass_the_independent_verifier() -> None:
    leaves = _leaves(3000)
    roots: dict[int, bytes] = {}
    for m, n in _pairs(40, 300, seed=1):
        path = merkle.inclusion_proof(m, leaves[:n])
        root = roots.setdefault(n, rfc.mth(leaves[:n]))
        assert rfc.verify_inclusion(m, n, leaves[m], path, root), (m, n)
        if n <= 40:
            assert path == rfc.path(m, leaves[:n])
        assert merkle.verify_inclusion(m, n, leaves[m], path, root)


def test_consistency_proofs_pass_the_independent_verifier() -> None:
    leaves = _leaves(3000)
    roots: dict[int, bytes] = {}
    for m, n in _pairs(40, 300, seed=2):
        first = m + 1  # sizes start at 1
        path = merkle.consistency_proof(first, leaves[:n])
        first_root = roots.setdefault(first, rfc.mth(leaves[:first]))
        second_root = roots.setdefault(n, rfc.mth(leaves[:n]))
        assert rfc.verify_consistency(first, n, first_root, second_root, path), (first, n)
        if n <= 40:
            assert path == rfc.proof(first, leaves[:n])
        assert merkle.verify_consistency(first, n, first_root, second_root, path)


def test_altered_proofs_fail_both_verifiers() -> None:
    leaves = _leaves(50)
    root = rfc.mth(leaves)
    path = merkle.inclusion_proof(13, leaves)
    bent = [path[0][:-1] + bytes([path[0][-1] ^ 1]), *path[1:]]
    for verify in (rfc.verify_inclusion, merkle.verify_inclusion):
        assert verify(13, 50, leaves[13], path, root)
        assert not verify(13, 50, leaves[13], bent, root)
        assert not verify(14, 50, leaves[13], path, root)
        assert not verify(13, 100, leaves[13], path, root)  # another shape (51 has the same one)
        assert not verify(13, 50, leaves[13], path[:-1], root)
        assert not verify(13, 50, leaves[13], [*path, root], root)
    proof = merkle.consistency_proof(20, leaves)
    old_root = rfc.mth(leaves[:20])
    for verify in (rfc.verify_consistency, merkle.verify_consistency):
        assert verify(20, 50, old_root, root, proof)
        assert not verify(20, 50, old_root, rfc.mth(leaves[:49]), proof)
        assert not verify(20, 50, rfc.mth(leaves[:19]), root, proof)
        assert not verify(20, 50, old_root, root, proof[1:])
        assert not verify(16, 50, rfc.mth(leaves[:16]), root, [])


def test_frontier_resumes_and_reports_stored_subtrees() -> None:
    leaves = _leaves(700)
    nodes: dict[tuple[int, int], bytes] = {}
    first = merkle.Frontier(
        sink=lambda level, position, node: nodes.__setitem__((level, position), node)
    )
    first.extend(leaves[:333])
    resumed = merkle.Frontier(
        first.size, first.hashes, sink=lambda lv, p, h: nodes.__setitem__((lv, p), h)
    )
    resumed.extend(leaves[333:])
    assert resumed.root() == rfc.mth(leaves)
    assert sorted({level for level, _ in nodes}) == [4, 8]  # levels 4 and 8 in 700 leaves
    for (level, position), node in nodes.items():
        width = 1 << level
        assert node == rfc.mth(leaves[position * width : (position + 1) * width])
    assert len(nodes) == 700 // 16 + 700 // 256


# --- the canonical record ------------------------------------------------------------------


def test_canonical_form_is_sorted_compact_utf8_json() -> None:
    values = [
        7,
        datetime(2026, 11, 23, 7, 5, 1, 123456, tzinfo=UTC),
        "req-1",
        "TH/GOV/DBD/registration",
        "TH/GOV/DOPA/civil-registry",
        "person",
        None,
        'ตรวจสอบ "สิทธิ"',
        None,
        "ab" * 12,
        "0" * 64,
        None,
        "refused",
        "consent_missing",
        1500,
    ]
    expected = (
        '{"consent_id":null,"consumer":"TH/GOV/DBD/registration","duration_us":1500,'
        '"error_code":"consent_missing","provider":"TH/GOV/DOPA/civil-registry",'
        '"purpose":"ตรวจสอบ \\"สิทธิ\\"","request_hash":"' + "0" * 64 + '","request_id":"req-1",'
        '"response_hash":null,"seq":7,"service_code":"person","status":"refused",'
        '"subject_hash":"'
        + "ab" * 12
        + '","time":"2026-11-23T07:05:01.123456Z","user_id":null,"v":1}'
    ).encode()
    assert evidence.canonical_bytes(values) == expected
    assert evidence.record_leaf_hash(values) == hashlib.sha256(b"\x00" + expected).digest()


# --- the log in the database ---------------------------------------------------------------


def _entry(number: int = 0, **overrides: object) -> EvidenceEntry:
    fields: dict[str, object] = {
        "request_id": f"test-{number}-{random.getrandbits(32):08x}",
        "consumer": "TH/GOV/DBD/registration",
        "provider": "TH/GOV/DOPA/civil-registry",
        "service_code": "person-by-id",
        "status": "allowed",
        "request_hash": hashlib.sha256(f"request {number}".encode()).hexdigest(),
        "response_hash": hashlib.sha256(f"response {number}".encode()).hexdigest(),
        "purpose": "ตรวจสอบคุณสมบัติผู้ขอใบอนุญาต",
        "subject_hash": "c0ffee" * 4,
        "duration_ms": 3.217,
    }
    fields.update(overrides)
    return EvidenceEntry(**fields)  # type: ignore[arg-type]


async def _append(count: int) -> list[EvidenceRecord]:
    async with unit_of_work() as session:
        return [await evidence.append(session, entry=_entry(n)) for n in range(count)]


async def _publish() -> EvidenceCheckpoint:
    async with unit_of_work() as session:
        return await evidence.publish_checkpoint(session)


async def _verify() -> evidence.VerifyReport:
    async with unit_of_work() as session:
        return await evidence.verify_log(session)


async def _stored_leaves(size: int) -> list[bytes]:
    async with unit_of_work() as session:
        rows = await session.execute(
            select(RECORDS.c.leaf_hash).where(RECORDS.c.seq < size).order_by(RECORDS.c.seq)
        )
        return [bytes.fromhex(leaf) for (leaf,) in rows]


EVIDENCE_TABLES = (RECORDS, CHECKPOINTS, EvidenceTreeNode.__table__, EvidenceLogHead.__table__)


@asynccontextmanager
async def _tampered(*statements: object) -> AsyncIterator[None]:
    """Apply direct SQL changes to stored evidence; put every evidence table back afterwards."""
    async with unit_of_work() as session:
        saved = {
            table: [dict(row._mapping) for row in await session.execute(select(table))]
            for table in EVIDENCE_TABLES
        }
        for statement in statements:
            await session.execute(statement)  # type: ignore[call-overload]
    try:
        yield
    finally:
        async with unit_of_work() as session:
            for table, rows in saved.items():
                await session.execute(delete(table))
                if rows:
                    await session.execute(insert(table), rows)


async def test_append_takes_the_next_index_and_stores_the_leaf_hash() -> None:
    async with unit_of_work() as session:
        before = await evidence.log_size(session)
    records = await _append(3)
    assert [r.seq for r in records] == [before, before + 1, before + 2]
    async with unit_of_work() as session:
        stored = (
            await session.scalars(select(EvidenceRecord).where(EvidenceRecord.seq == before))
        ).one()
        assert await evidence.log_size(session) == before + 3
    values = [getattr(stored, name) for name in evidence.FIELDS]
    assert stored.leaf_hash == evidence.record_leaf_hash(values).hex() == records[0].leaf_hash
    assert stored.duration_us == 3217 and stored.duration_ms == 3.217
    assert stored.time.tzinfo is not None


async def test_a_rolled_back_append_leaves_no_gap() -> None:
    with pytest.raises(RuntimeError):
        async with unit_of_work() as session:
            lost = await evidence.append(session, entry=_entry())
            raise RuntimeError("the call failed before its commit")
    [kept] = await _append(1)
    assert kept.seq == lost.seq


async def test_bad_entries_are_refused_before_an_index_is_taken() -> None:
    async with unit_of_work() as session:
        before = await evidence.log_size(session)
        with pytest.raises(ValueError):
            await evidence.append(session, entry=_entry(request_hash="not-hex"))
        with pytest.raises(ValueError):
            await evidence.append(session, entry=_entry(consumer="x" * 300))
        with pytest.raises(ValueError):
            await evidence.append(session, entry=_entry(time=datetime(2026, 1, 1)))
        assert await evidence.log_size(session) == before


async def test_concurrent_appends_get_gapless_unique_indices() -> None:
    async with unit_of_work() as session:
        before = await evidence.log_size(session)

    async def one(number: int) -> int | None:
        try:
            async with unit_of_work() as session:
                record = await evidence.append(session, entry=_entry(number))
                if number % 7 == 3:
                    raise LookupError("rolled back")  # its index must go to someone else
                return record.seq
        except LookupError:
            return None

    results = await asyncio.gather(*(one(n) for n in range(50)))
    committed = sorted(seq for seq in results if seq is not None)
    assert len(committed) == 50 - len([n for n in range(50) if n % 7 == 3])
    assert committed == list(range(before, before + len(committed)))
    async with unit_of_work() as session:
        assert await evidence.log_size(session) == before + len(committed)
        stored = (
            await session.scalars(select(EvidenceRecord.seq).where(EvidenceRecord.seq >= before))
        ).all()
    assert sorted(stored) == committed
    assert (await _verify()).ok


async def test_checkpoints_are_incremental_signed_and_match_the_rfc_root(client) -> None:  # type: ignore[no-untyped-def]
    await _append(5)
    first = await _publish()
    await _append(21)
    second = await _publish()
    assert second.tree_size == first.tree_size + 21
    assert (await _publish()).tree_size == second.tree_size  # nothing new: no new checkpoint
    leaves = await _stored_leaves(second.tree_size)
    assert first.root_hash == rfc.mth(leaves[: first.tree_size]).hex()
    assert second.root_hash == rfc.mth(leaves).hex()

    keys = (await client.get("/gdx/evidence/public-key")).json()
    latest = (await client.get("/gdx/evidence/checkpoints/latest")).json()
    assert latest["tree_size"] == second.tree_size
    key = next(k for k in keys["keys"] if k["key_id"] == latest["key_id"])
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    root = base64.b64encode(bytes.fromhex(second.root_hash)).decode()
    body = f"govhub-evidence\n{second.tree_size}\n{root}\n{latest['timestamp']}\n"
    assert latest["body"] == body
    public.verify(base64.b64decode(latest["signature"]), body.encode())
    forged = body.replace(f"\n{second.tree_size}\n", f"\n{second.tree_size + 1}\n")
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode(latest["signature"]), forged.encode())
    _check_signed_note(latest["note"], body, key)


def _check_signed_note(note: str, body: str, key: dict[str, str]) -> None:
    """The note follows C2SP signed-note: body, blank line, '— name base64(key hash || sig)'."""
    assert note.startswith(body + "\n")
    name, blob = note[len(body) + 1 :].removeprefix("\u2014 ").rstrip("\n").split(" ")
    raw = base64.b64decode(blob)
    public = base64.b64decode(key["public_key"])
    assert name == "govhub-evidence"
    assert raw[:4] == hashlib.sha256(b"govhub-evidence\n\x01" + public).digest()[:4]
    Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], body.encode())
    encoded = base64.b64encode(b"\x01" + public).decode()
    assert key["verifier_key"] == f"govhub-evidence+{raw[:4].hex()}+{encoded}"


async def test_proofs_from_the_api_pass_the_independent_verifier(client) -> None:  # type: ignore[no-untyped-def]
    await _append(3)
    small = await _publish()
    await _append(40)
    large = await _publish()
    leaves = await _stored_leaves(large.tree_size)
    roots = {
        small.tree_size: bytes.fromhex(small.root_hash),
        large.tree_size: bytes.fromhex(large.root_hash),
    }
    rng = random.Random(9162)
    for size in roots:
        for index in {0, size - 1, *rng.sample(range(size), min(size, 12))}:
            response = await client.get(
                "/gdx/evidence/proof/inclusion", params={"index": index, "tree_size": size}
            )
            assert response.status_code == 200, response.text
            proof = response.json()
            assert proof["leaf_hash"] == leaves[index].hex()
            path = [bytes.fromhex(h) for h in proof["audit_path"]]
            assert rfc.verify_inclusion(index, size, leaves[index], path, roots[size]), (
                index,
                size,
            )
    response = await client.get(
        "/gdx/evidence/proof/consistency", params={"first": small.tree_size}
    )
    path = [bytes.fromhex(h) for h in response.json()["consistency_path"]]
    assert response.json()["second"] == large.tree_size
    assert rfc.verify_consistency(
        small.tree_size, large.tree_size, roots[small.tree_size], roots[large.tree_size], path
    )
    for first in sorted({1, 2, 15, 16, 17, *rng.sample(range(1, large.tree_size), 20)}):
        async with unit_of_work() as session:
            proof = await evidence.consistency_proof(session, first, large.tree_size)
        path = [bytes.fromhex(h) for h in proof.consistency_path]
        assert rfc.verify_consistency(
            first, large.tree_size, rfc.mth(leaves[:first]), roots[large.tree_size], path
        )


async def test_proofs_are_refused_beyond_the_published_tree(client) -> None:  # type: ignore[no-untyped-def]
    published = await _publish()
    await _append(1)
    response = await client.get(
        "/gdx/evidence/proof/inclusion", params={"index": 0, "tree_size": published.tree_size + 1}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "evidence_tree_size_unpublished"
    response = await client.get(
        "/gdx/evidence/proof/inclusion",
        params={"index": published.tree_size, "tree_size": published.tree_size},
    )
    assert response.json()["error"]["code"] == "evidence_index_out_of_range"
    response = await client.get(
        "/gdx/evidence/proof/consistency",
        params={"first": published.tree_size + 1, "second": published.tree_size},
    )
    assert response.json()["error"]["code"] == "evidence_first_out_of_range"
    listing = (await client.get("/gdx/evidence/checkpoints", params={"limit": 2})).json()[
        "checkpoints"
    ]
    assert listing[0]["tree_size"] == published.tree_size and len(listing) <= 2


async def _checkpointed_records(count: int) -> list[EvidenceRecord]:
    """Fresh records inside a checkpoint, so that both the leaf and the root checks apply."""
    records = await _append(count)
    await _publish()
    assert (await _verify()).ok
    return records


async def test_verify_names_a_changed_record() -> None:
    records = await _checkpointed_records(4)
    target = records[2].seq
    async with _tampered(update(RECORDS).where(RECORDS.c.seq == target).values(purpose="อื่น ๆ")):
        report = await _verify()
        assert not report.ok
        assert report.first_bad_record.seq == target
        assert "do not match its leaf hash" in report.first_bad_record.message
        assert any(p.tree_size and "signed root" in p.message for p in report.problems)
    assert (await _verify()).ok


async def test_verify_names_a_deleted_record() -> None:
    records = await _checkpointed_records(3)
    target = records[1].seq
    async with _tampered(delete(RECORDS).where(RECORDS.c.seq == target)):
        report = await _verify()
        assert report.first_bad_record.seq == target
        assert f"record {target} is missing" in report.first_bad_record.message
    last = records[-1].seq
    async with _tampered(delete(RECORDS).where(RECORDS.c.seq >= last)):
        report = (
            await _verify()
        )  # the newest record: only the size counter and the checkpoint know it
        assert report.first_bad_record.seq == last
        assert any(p.tree_size and "holds only" in p.message for p in report.problems)


async def test_verify_names_swapped_records() -> None:
    records = await _checkpointed_records(4)
    a, b = records[1].seq, records[3].seq
    # Swap the rows' positions: each keeps its fields and stored leaf hash.
    async with _tampered(
        update(RECORDS).where(RECORDS.c.seq == a).values(seq=-1),
        update(RECORDS).where(RECORDS.c.seq == b).values(seq=a),
        update(RECORDS).where(RECORDS.c.seq == -1).values(seq=b),
    ):
        report = await _verify()
        assert report.first_bad_record.seq == a
        assert report.bad_records == 2
    # Swap the contents: every column but the position.
    moved = [name for name in RECORDS.c.keys() if name != "seq"]
    first, second = (dict(r.__dict__) for r in (records[1], records[3]))
    async with _tampered(
        update(RECORDS).where(RECORDS.c.seq == a).values({name: second[name] for name in moved}),
        update(RECORDS).where(RECORDS.c.seq == b).values({name: first[name] for name in moved}),
    ):
        report = await _verify()
        assert report.first_bad_record.seq == a
        assert [p.seq for p in report.problems if p.seq is not None] == [a, b]
    assert (await _verify()).ok


async def test_verify_catches_a_record_rewritten_with_its_leaf_hash() -> None:
    records = await _checkpointed_records(3)
    target = records[1]
    values = [getattr(target, name) for name in evidence.FIELDS]
    values[evidence.FIELDS.index("status")] = "refused"
    rewritten = evidence.record_leaf_hash(values).hex()
    latest = records[-1].seq + 1
    async with _tampered(
        update(RECORDS)
        .where(RECORDS.c.seq == target.seq)
        .values(status="refused", leaf_hash=rewritten),
        # and the stored frontier lost, so that publishing must rebuild the tree from the leaves
        update(CHECKPOINTS).where(CHECKPOINTS.c.tree_size == latest).values(frontier=""),
    ):
        report = await _verify()
        first = report.first_bad_record
        # Only the signed root can tell: verify names the records between two checkpoints.
        assert first.seq <= target.seq and f"..{records[-1].seq}:" in first.message
        await _append(1)
        with pytest.raises(evidence.EvidenceLogDamaged):
            await _publish()  # never sign a tree that disagrees with the last signed root


async def test_verify_catches_an_altered_checkpoint(client) -> None:  # type: ignore[no-untyped-def]
    await _checkpointed_records(2)
    published = (await client.get("/gdx/evidence/checkpoints/latest")).json()
    forged_root = hashlib.sha256(b"forged").hexdigest()
    size = published["tree_size"]
    async with _tampered(
        update(CHECKPOINTS).where(CHECKPOINTS.c.tree_size == size).values(root_hash=forged_root)
    ):
        report = await _verify()
        assert report.first_bad_record is None
        messages = [p.message for p in report.problems if p.tree_size == size]
        assert any("signature does not verify" in m for m in messages)
        assert any("signed root" in m for m in messages)
        altered = (await client.get("/gdx/evidence/checkpoints/latest")).json()
        key = (await client.get("/gdx/evidence/public-key")).json()["keys"][0]
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
        with pytest.raises(InvalidSignature):
            public.verify(base64.b64decode(altered["signature"]), altered["body"].encode())


async def test_publishing_refuses_a_log_with_a_missing_record() -> None:
    records = await _append(2)
    async with _tampered(delete(RECORDS).where(RECORDS.c.seq == records[0].seq)):
        with pytest.raises(evidence.EvidenceLogDamaged):
            await _publish()


async def test_cli_verify_reports_the_rate_and_the_first_bad_record() -> None:
    records = await _checkpointed_records(3)
    output = io.StringIO()
    code = await asyncio.to_thread(evidence_cli.verify, Console(file=output, width=200))
    assert code == 0, output.getvalue()
    assert "Evidence log intact" in output.getvalue() and "records/s" in output.getvalue()

    target = records[1].seq
    async with _tampered(
        update(RECORDS).where(RECORDS.c.seq == target).values(consumer="TH/GOV/EVIL/x")
    ):
        # The real command, as an operator runs it, against this run's database.
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "govhub.cli", "evidence", "verify"],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
            timeout=120,
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"First bad record: {target}" in done.stdout


async def test_cli_checkpoint_prints_the_signed_note() -> None:
    await _append(1)
    output = io.StringIO()
    code = await asyncio.to_thread(evidence_cli.checkpoint, Console(file=output, width=200))
    assert code == 0
    assert (
        "govhub-evidence\n" in output.getvalue() and "\u2014 govhub-evidence " in output.getvalue()
    )


async def test_checkpoint_job_is_registered_and_runs() -> None:
    from govhub.exchange import jobs
    from govhub.jobs import huey, registered_jobs
    from govhub.jobs.registry import load_all_jobs

    load_all_jobs()
    assert "exchange.publish_checkpoint" in registered_jobs()
    assert "exchange.publish_checkpoint.periodic" in {
        task.name for task in huey._registry.periodic_tasks
    }
    await _append(2)
    # What the worker's scheduler does every five minutes (immediate mode runs it here).
    await asyncio.to_thread(jobs._periodic_checkpoint)
    async with unit_of_work() as session:
        latest = await evidence.latest_checkpoint(session)
        assert latest is not None and latest.tree_size == await evidence.log_size(session)


def test_canonical_form_equals_json_dumps_for_any_text() -> None:
    """The fast serialiser writes exactly what json.dumps(sort_keys, compact, UTF-8) writes."""
    rng = random.Random(8785)
    alphabet = 'aZ09 "\\/\b\f\n\r\t\x00\x1f\x7fกขฃ๙é€\u2028\u2029\U0001f600'
    for _ in range(500):
        values: list[object] = [rng.randrange(2**53), datetime.now(UTC)]
        values += [
            "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
            if rng.random() < 0.8
            else None
            for _ in range(12)
        ]
        values.append(rng.randrange(2**40))
        document = dict(zip(evidence.FIELDS, values, strict=True))
        document["time"] = evidence.format_time(values[1])  # type: ignore[arg-type]
        document["v"] = 1
        reference = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
        assert evidence.canonical_bytes(values) == reference
    with pytest.raises(TypeError):
        evidence.canonical_bytes([0, datetime.now(UTC), *["x"] * 12, 1.5])
