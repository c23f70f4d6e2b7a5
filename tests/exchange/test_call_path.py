"""The GDX call's fast path: grouped evidence appends, the one-query context, remembered tokens."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select, update

from govhub.db import unit_of_work
from govhub.exchange import evidence, evidence_writer
from govhub.exchange.evidence import EvidenceLogHead, EvidenceRecord
from govhub.exchange.models import Subsystem
from govhub.identity import clients, keys
from tests.exchange.conftest import make_party, remote_service
from tests.exchange.test_evidence import _entry, _verify
from tests.exchange.test_gateway_remote import _approve, _path


async def _log_size() -> int:
    async with unit_of_work() as session:
        return await evidence.log_size(session)


async def test_concurrent_appends_share_groups_and_stay_gapless(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    groups: list[int] = []
    write = evidence_writer._write

    async def counting(connection, group):  # type: ignore[no-untyped-def]
        groups.append(len(group))
        return await write(connection, group)

    monkeypatch.setattr(evidence_writer, "_write", counting)
    before = await _log_size()
    indices = await asyncio.gather(*(evidence_writer.append(_entry(n)) for n in range(40)))
    assert sorted(indices) == list(range(before, before + 40))
    assert sum(groups) == 40 and len(groups) < 40  # calls waiting together shared a commit
    async with unit_of_work() as session:
        stored = (await session.execute(
            select(EvidenceRecord.seq, EvidenceRecord.request_id).where(EvidenceRecord.seq >= before)
        )).all()
    assert sorted(seq for seq, _ in stored) == sorted(indices)
    assert (await _verify()).ok


async def test_a_bad_entry_fails_alone_and_takes_no_index() -> None:
    before = await _log_size()
    good = asyncio.ensure_future(evidence_writer.append(_entry(1)))
    with pytest.raises(ValueError):
        await evidence_writer.append(_entry(2, request_hash="not-hex"))
    assert await good == before
    assert await _log_size() == before + 1


async def test_a_failed_group_fails_every_caller_and_writes_nothing() -> None:
    before = await _log_size()
    async with unit_of_work() as session:
        await session.execute(update(EvidenceLogHead).values(id=99))  # the counter row is gone
    try:
        results = await asyncio.gather(*(evidence_writer.append(_entry(n)) for n in range(5)), return_exceptions=True)
        assert all(isinstance(r, evidence.EvidenceLogDamaged) for r in results)
    finally:
        async with unit_of_work() as session:
            await session.execute(update(EvidenceLogHead).values(id=evidence.HEAD_ID))
    assert await _log_size() == before
    assert await evidence_writer.append(_entry(9)) == before  # the writer carries on afterwards


async def test_a_disabled_client_or_subsystem_is_refused_on_the_next_call(client, session, remote_provider) -> None:  # type: ignore[no-untyped-def]
    provider, consumer = await make_party(session), await make_party(session)
    service = await remote_service(session, provider, remote_provider)
    await _approve(session, service, consumer)
    token = await consumer.token(client)
    url = _path(provider, "taxpayer", "taxpayers/0105561012346")
    headers = {"authorization": f"Bearer {token}"}
    assert (await client.get(url, headers=headers)).status_code == 200

    await session.execute(update(Subsystem).where(Subsystem.id == consumer.subsystem.id).values(is_active=False))
    await session.commit()
    refused = await client.get(url, headers=headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "unknown_client"

    await session.execute(update(Subsystem).where(Subsystem.id == consumer.subsystem.id).values(is_active=True))
    await clients.disable_client(session, client_id=consumer.client_id, actor_id=None)
    await session.commit()
    disabled = await client.get(url, headers=headers)
    assert disabled.status_code == 401


async def test_a_remembered_token_still_expires_and_a_forged_one_is_refused(session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    now = int(time.time())
    claims = {"iss": keys.issuer(), "aud": keys.issuer(), "sub": "c1", "client_id": "c1", "exp": now + 60}
    token = await keys.sign(session, claims, typ="at+jwt")
    assert (await keys.verify(session, token, typ="at+jwt", audience=keys.issuer()))["sub"] == "c1"
    assert (await keys.verify(session, token, typ="at+jwt", audience=keys.issuer()))["sub"] == "c1"  # remembered

    head, payload, signature = token.split(".")
    forged = ".".join([head, payload, ("A" if signature[0] != "A" else "B") + signature[1:]])
    with pytest.raises(keys.TokenInvalid):
        await keys.verify(session, forged, typ="at+jwt", audience=keys.issuer())
    with pytest.raises(keys.TokenInvalid):  # the same token, for another audience, is checked afresh
        await keys.verify(session, token, typ="at+jwt", audience="https://elsewhere.example")

    monkeypatch.setattr(time, "time", lambda: now + 120.0)
    with pytest.raises(keys.TokenInvalid):
        await keys.verify(session, token, typ="at+jwt", audience=keys.issuer())


async def test_an_idle_writer_gives_its_connection_back(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(evidence_writer, "IDLE_SECONDS", 0.05)
    await evidence_writer.close()
    await evidence_writer.append(_entry(1))
    writer = evidence_writer._writers[asyncio.get_running_loop()]
    assert writer._connection is not None  # kept for the next group
    for _ in range(100):
        await asyncio.sleep(0.02)
        if writer._connection is None:
            break
    assert writer._connection is None
    assert await evidence_writer.append(_entry(2)) == await _log_size() - 1  # and takes one again
