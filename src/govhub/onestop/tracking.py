"""Tracking numbers: agency, Buddhist-era year, running number and an ISO 7064 check character.

`NBM-2569-000123-J`. The check character (ISO 7064 MOD 37,36) catches every single mistyped
character and every swap of two neighbours, so a status lookup with a typo says "check the
number" instead of showing nothing or, worse, someone else's case.
"""

from __future__ import annotations

import re


from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.iso7064 import mod_37_36

from govhub.db import dialect_insert
from govhub.onestop.models import TrackingCounter

PATTERN = re.compile(r"^([A-Z0-9_-]{2,32})-(\d{4})-(\d{6,9})-([0-9A-Z])$")


def _payload(agency_code: str, year_be: int, number: int) -> str:
    """The characters the check character covers (letters and digits only)."""
    return re.sub(r"[^0-9A-Z]", "", agency_code.upper()) + f"{year_be}{number:06d}"


def format_number(agency_code: str, year_be: int, number: int) -> str:
    """The tracking number for this agency, year and running number."""
    check = mod_37_36.calc_check_digit(_payload(agency_code, year_be, number))
    return f"{agency_code.upper()}-{year_be}-{number:06d}-{check}"


def normalize(text: str) -> str:
    """What a person typed, upper-cased and without spaces."""
    return re.sub(r"\s+", "", text or "").upper()


def is_valid(text: str) -> bool:
    """True if the text is a well-formed tracking number whose check character matches."""
    match = PATTERN.match(normalize(text))
    if not match:
        return False
    agency, year, number, check = match.groups()
    return mod_37_36.calc_check_digit(_payload(agency, int(year), int(number))) == check


async def next_number(session: AsyncSession, *, agency_code: str, year_be: int) -> str:
    """Claim the next running number of the agency's year (one upsert; concurrent-safe)."""
    number = await claim_running_number(session, counter=agency_code, year_be=year_be)
    return format_number(agency_code, year_be, number)


async def claim_running_number(session: AsyncSession, *, counter: str, year_be: int) -> int:
    """Claim the next number of a named yearly counter (bills use one too); one upsert."""
    values = {"agency_code": counter, "year_be": year_be, "last_number": 1}
    statement = (
        dialect_insert(session)(TrackingCounter)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["agency_code", "year_be"],
            set_={"last_number": TrackingCounter.last_number + 1},
        )
        .returning(TrackingCounter.last_number)
    )
    return (await session.execute(statement)).scalar_one()
