"""The identity-proofing hook (IAL2): check what a person claims against a registry.

Digital ID itself holds no registry. The data-exchange context will provide a proofer that
asks the civil registry (DOPA) through GDX whether the national ID, name and the laser code
on the back of the ID card match. Until one is configured, proofing is unavailable, and
that is said plainly rather than pretended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity.models import Account
from govhub.kit.errors import AppError
from govhub.kit.i18n import N_


@dataclass(frozen=True)
class ProofingEvidence:
    """What the person presents: for Thai ID cards, the laser code and birth date."""

    laser_code: str
    birth_date: str


class ProofingUnavailable(AppError):
    """No registry is connected for identity proofing on this platform yet."""

    status_code = 503
    code = "proofing_unavailable"
    message = N_("Identity verification against the civil registry is not available yet.")


class IdentityProofer(Protocol):
    """A source that can confirm a person's identity (IAL2)."""

    name: str

    async def verify(self, session: AsyncSession, *, account: Account, evidence: ProofingEvidence) -> bool:
        """True if the registry confirms the account's identity with this evidence."""
        ...


class NoProofer:
    """The default: nothing configured, so verification is refused with a clear message."""

    name = "none"

    async def verify(self, session: AsyncSession, *, account: Account, evidence: ProofingEvidence) -> bool:
        """Always raise: there is no registry to ask."""
        raise ProofingUnavailable()


_proofer: IdentityProofer = NoProofer()


def set_proofer(proofer: IdentityProofer) -> None:
    """Install the proofer (the exchange context does this at start-up)."""
    global _proofer
    _proofer = proofer


def get_proofer() -> IdentityProofer:
    """The configured proofer."""
    return _proofer
