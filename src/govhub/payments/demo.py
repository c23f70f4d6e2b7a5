"""Demo data of e-Payment and e-Documents: where fees are paid, and the agencies' signing keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.documents import keys
from govhub.identity.models import Agency
from govhub.payments.models import ReceivingAccount

# Synthetic biller IDs (13-digit tax ID + 2-digit suffix): not real accounts.
TREASURY = ("บัญชีเงินรายได้แผ่นดิน กรมบัญชีกลาง", "Treasury revenue account, Comptroller General's Department",
            "006", "0000000000", "099400000000100")
AGENCY_ACCOUNTS = {
    # A municipality collects its own fees into its own account (local government revenue).
    "NBM": ("บัญชีรายได้เทศบาลนครนนทบุรี", "Nakhon Nonthaburi Municipality revenue", "006", "1234567890",
            "099400000000201"),
}


async def load_demo_payments(session: AsyncSession) -> None:
    """Receiving accounts (the treasury and NBM's own), the internal CA and each agency's key."""
    known = set((await session.scalars(select(ReceivingAccount.biller_id))).all())
    if TREASURY[4] not in known:
        session.add(ReceivingAccount(agency_id=None, kind="treasury", name_th=TREASURY[0], name_en=TREASURY[1],
                                     bank_code=TREASURY[2], account_number=TREASURY[3], biller_id=TREASURY[4]))
    agencies = (await session.scalars(select(Agency).order_by(Agency.code))).all()
    for agency in agencies:
        account = AGENCY_ACCOUNTS.get(agency.code)
        if account and account[4] not in known:
            session.add(ReceivingAccount(agency_id=agency.id, kind="agency", name_th=account[0], name_en=account[1],
                                         bank_code=account[2], account_number=account[3], biller_id=account[4]))
    await keys.ensure_internal_ca(session)
    for agency in agencies:
        await keys.ensure_agency_key(session, agency)
    await session.flush()
