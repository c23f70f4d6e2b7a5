"""Public JSON routes of the evidence log: checkpoints, proofs and the checkpoint keys.

Anyone may read them: they reveal hashes and sizes, never the records themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from govhub.db import SessionDep
from govhub.exchange import evidence
from govhub.identity.auth import Anyone
from govhub.kit.errors import NotFound

router = APIRouter(tags=["evidence"])
PREFIX = "/gdx/evidence"


class CheckpointRead(BaseModel):
    """A signed checkpoint: `note` is the C2SP signed note, `body` the exact signed bytes."""

    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str
    body: str
    note: str


class CheckpointPage(BaseModel):
    """Checkpoints newest first; ask again with before=<smallest tree_size> for older ones."""

    checkpoints: list[CheckpointRead]


class InclusionRead(BaseModel):
    """Audit path (hex, leaf side first) of record `index` in the tree of `tree_size` records."""

    index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


class ConsistencyRead(BaseModel):
    """Proof (hex) that the tree of `second` records extends the tree of `first`."""

    first: int
    second: int
    consistency_path: list[str]


class PublicKeyRead(BaseModel):
    """A checkpoint key: raw Ed25519 key in base64, and as a signed-note verifier key."""

    key_id: str
    algorithm: str
    public_key: str
    verifier_key: str
    created_at: str
    retired_at: str | None


class PublicKeys(BaseModel):
    """Every key that signed checkpoints, the active one first."""

    origin: str
    keys: list[PublicKeyRead]


def _checkpoint(checkpoint: evidence.EvidenceCheckpoint) -> CheckpointRead:
    body = evidence.checkpoint_body(
        checkpoint.tree_size, checkpoint.root_hash, checkpoint.published_at
    )
    return CheckpointRead(
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash,
        timestamp=evidence.format_checkpoint_time(checkpoint.published_at),
        key_id=checkpoint.key_id,
        signature=checkpoint.signature,
        body=body.decode(),
        note=evidence.signed_note(checkpoint),
    )


@router.get(f"{PREFIX}/checkpoints", response_model=CheckpointPage)
async def list_checkpoints(
    session: SessionDep,
    _: Anyone,
    before: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CheckpointPage:
    """Signed checkpoints, newest first."""
    rows = await evidence.list_checkpoints(session, before=before, limit=limit)
    return CheckpointPage(checkpoints=[_checkpoint(row) for row in rows])


@router.get(f"{PREFIX}/checkpoints/latest", response_model=CheckpointRead)
async def latest_checkpoint(session: SessionDep, _: Anyone) -> CheckpointRead:
    """The checkpoint of the largest tree."""
    latest = await evidence.latest_checkpoint(session)
    if latest is None:
        raise NotFound(code="evidence_no_checkpoint")
    return _checkpoint(latest)


@router.get(f"{PREFIX}/proof/inclusion", response_model=InclusionRead)
async def inclusion_proof(
    session: SessionDep,
    _: Anyone,
    index: Annotated[int, Query(ge=0)],
    tree_size: Annotated[int | None, Query(ge=1)] = None,
) -> InclusionRead:
    """Audit path of a record in a published tree (the latest checkpoint's when tree_size is absent)."""
    size = tree_size if tree_size is not None else await _latest_size(session)
    proof = await evidence.inclusion_proof(session, index, size)
    return InclusionRead(
        index=proof.index,
        tree_size=proof.tree_size,
        leaf_hash=proof.leaf_hash,
        audit_path=proof.audit_path,
    )


@router.get(f"{PREFIX}/proof/consistency", response_model=ConsistencyRead)
async def consistency_proof(
    session: SessionDep,
    _: Anyone,
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int | None, Query(ge=1)] = None,
) -> ConsistencyRead:
    """Proof that a published tree extends an earlier one (the latest when second is absent)."""
    size = second if second is not None else await _latest_size(session)
    proof = await evidence.consistency_proof(session, first, size)
    return ConsistencyRead(
        first=proof.first, second=proof.second, consistency_path=proof.consistency_path
    )


@router.get(f"{PREFIX}/public-key", response_model=PublicKeys)
async def public_key(session: SessionDep, _: Anyone) -> PublicKeys:
    """The Ed25519 keys that sign checkpoints."""
    keys = await evidence.public_keys(session)
    return PublicKeys(
        origin=evidence.ORIGIN,
        keys=[
            PublicKeyRead(
                key_id=key.key_id,
                algorithm="Ed25519",
                public_key=key.public_key,
                verifier_key=evidence.verifier_key(key),
                created_at=evidence.format_checkpoint_time(key.created_at),
                retired_at=evidence.format_checkpoint_time(key.retired_at)
                if key.retired_at
                else None,
            )
            for key in keys
        ],
    )


async def _latest_size(session: SessionDep) -> int:
    latest = await evidence.latest_checkpoint(session)
    if latest is None:
        raise NotFound(code="evidence_no_checkpoint")
    return latest.tree_size
