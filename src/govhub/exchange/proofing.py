"""IAL2 identity proofing against DOPA's civil registry, logged like any exchange call.

Digital ID (subsystem TH/GOV/DGA/digital-id) reads the civil registry's person record and
compares the name, the birth date and the laser code on the back of the ID card. govhub
hosts the registry, so the lookup is local, but the evidence record is the same as for a
call through the exchange: the person sees it on their "who used my data" page.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from govhub.exchange.service import subject_hash
from govhub.identity.models import Account
from govhub.identity.proofing import ProofingEvidence, ProofingUnavailable
from govhub.kit.errors import ValidationFailed
from govhub.kit.i18n import N_

CIVIL_REGISTRY = "civil-registration"
CIVIL_REGISTRY_VERSION = "1.0"
CONSUMER = "TH/GOV/DGA/digital-id"
PROVIDER = "TH/GOV/DOPA/civil-registry"
PURPOSE = "identity proofing (IAL2)"


def parse_birth_date(text: str) -> str:
    """'21/04/2530' (Buddhist era, as on the card) or '1987-04-21' -> '1987-04-21'."""
    text = (text or "").strip()
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    try:
        if match:
            day, month, year = (int(part) for part in match.groups())
            return date(year - 543 if year > 2400 else year, month, day).isoformat()
        return date.fromisoformat(text).isoformat()
    except ValueError as error:
        raise ValidationFailed(N_("Enter the date of birth as day/month/year, for example 21/04/2530."), field="birth_date") from error


def _same_name(account_name: str, record: dict) -> bool:
    """The account's name matches the registry's, with or without the title."""
    def norm(value: str) -> str:
        return " ".join((value or "").split()).lower()

    given, surname = record.get("given_name_th", ""), record.get("surname_th", "")
    candidates = {
        norm(f"{given} {surname}"), norm(record.get("full_name_th", "")),
        norm(f"{record.get('given_name_en', '')} {record.get('surname_en', '')}"),
    }
    return norm(account_name) in candidates


class CivilRegistryProofer:
    """Confirms a citizen's identity with the hosted civil registration of DOPA."""

    name = "dopa-civil-registration"

    async def verify(self, session: AsyncSession, *, account: Account, evidence: ProofingEvidence) -> bool:
        """True if name, birth date and laser code all match the registry's record."""
        from govhub.exchange.evidence import EvidenceEntry, append
        from govhub.registries.service import lookup, registry_exists

        if not account.national_id:
            raise ValidationFailed(N_("Identity proofing needs a Thai national ID on the account."), field="laser_code")
        if not await registry_exists(session, CIVIL_REGISTRY, CIVIL_REGISTRY_VERSION):
            raise ProofingUnavailable()
        birth_date = parse_birth_date(evidence.birth_date)
        record = await lookup(session, registry_code=CIVIL_REGISTRY, version=CIVIL_REGISTRY_VERSION, key=account.national_id)
        laser = re.sub(r"[^A-Z0-9]", "", evidence.laser_code.upper())
        confirmed = bool(
            record
            and record.get("birth_date") == birth_date
            and (record.get("laser_code") or "") == laser
            and _same_name(account.full_name, record)
        )
        digest = hashlib.sha256(f"{account.national_id}|{birth_date}|{laser}".encode()).hexdigest()
        await append(session, entry=EvidenceEntry(
            request_id=f"proofing-{account.id}-{digest[:12]}", consumer=CONSUMER, provider=PROVIDER,
            service_code="person-verify", status="allowed" if record else "refused",
            request_hash=digest, response_hash=hashlib.sha256(str(confirmed).encode()).hexdigest(),
            user_id=account.id, purpose=PURPOSE, subject_hash=subject_hash(account.national_id),
            error_code=None if record else "record_not_found",
        ))
        return confirmed
