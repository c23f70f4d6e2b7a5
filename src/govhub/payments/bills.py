"""Bills: opening one for a case's fees, who may read it, its Thai QR, expiry and cancellation.

Ref1 is the bill's own number (Buddhist-era year, running number, Luhn check digit: 13 digits
every Thai bank's bill-payment screen accepts); Ref2 names the case (the tracking number
without its dashes). A bank quotes both back when the bill is paid, and reconciliation
matches statement lines on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import luhn

from govhub.config import get_settings
from govhub.identity.auth import Caller
from govhub.identity.models import OfficerRole
from govhub.kit.clock import BANGKOK, BUDDHIST_ERA_OFFSET, utcnow
from govhub.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.onestop.tracking import claim_running_number
from govhub.payments import thaiqr
from govhub.payments.models import Bill, BillLine, BillStatus, ReceivingAccount

BILL_COUNTER = "BILL"
_NOT_REF = re.compile(r"[^0-9A-Z]")
REASON_MAX = 2000


@dataclass(frozen=True)
class Fee:
    """One line to bill."""

    label_th: str
    label_en: str
    amount_satang: int


def format_ref1(year_be: int, number: int) -> str:
    """The bill's Ref1: year, 8-digit running number and a Luhn check digit."""
    body = f"{year_be}{number:08d}"
    return body + luhn.calc_check_digit(body)


def bill_number(ref1: str) -> str:
    """The bill number people read: Ref1 in three groups, e.g. 2569-00000123-4."""
    return f"{ref1[:4]}-{ref1[4:12]}-{ref1[12:]}"


def as_reference(text: str) -> str:
    """Letters and digits only, upper-cased, at most 20: what banks accept as Ref2."""
    return _NOT_REF.sub("", (text or "").upper())[:20] or "0"


async def receiving_account_for(session: AsyncSession, agency_id: str) -> ReceivingAccount:
    """The agency's own active account, else the treasury's."""
    accounts = (await session.scalars(
        select(ReceivingAccount).where(
            ReceivingAccount.is_active.is_(True),
            or_(ReceivingAccount.agency_id == agency_id, ReceivingAccount.agency_id.is_(None)),
        )
    )).all()
    own = [account for account in accounts if account.agency_id == agency_id]
    chosen = (own or accounts or [None])[0]
    if chosen is None:
        raise Conflict(N_("No bank account is set up to receive this agency's fees."), code="no_receiving_account")
    return chosen


async def open_bill(
    session: AsyncSession, *, agency_id: str, payer_account_id: str | None, payer_name: str,
    fees: list[Fee], description_th: str, description_en: str, ref2: str,
    application_id: str | None = None, now: datetime | None = None,
) -> Bill:
    """Open a bill for the fees; a case that already has a live bill gets that one back."""
    if application_id is not None:
        existing = await live_bill_of_application(session, application_id)
        if existing is not None:
            return existing
    if not fees or any(fee.amount_satang <= 0 for fee in fees):
        raise ValidationFailed(N_("A bill needs at least one fee, each more than zero."))
    now = now or utcnow()
    account = await receiving_account_for(session, agency_id)
    year_be = now.astimezone(BANGKOK).year + BUDDHIST_ERA_OFFSET
    number = await claim_running_number(session, counter=BILL_COUNTER, year_be=year_be)
    ref1 = format_ref1(year_be, number)
    bill = Bill(
        bill_number=bill_number(ref1), agency_id=agency_id, receiving_account_id=account.id,
        payer_account_id=payer_account_id, payer_name=payer_name, application_id=application_id,
        ref1=ref1, ref2=as_reference(ref2), amount_satang=sum(fee.amount_satang for fee in fees),
        description_th=description_th[:500], description_en=description_en[:500],
        status=BillStatus.OPEN, created_at=now, due_at=due_date(now),
    )
    session.add(bill)
    await session.flush()
    for seq, fee in enumerate(fees, start=1):
        session.add(BillLine(bill_id=bill.id, seq=seq, label_th=fee.label_th[:500], label_en=fee.label_en[:500],
                             amount_satang=fee.amount_satang))
    await session.flush()
    return bill


def due_date(now: datetime) -> datetime:
    """The end of the last payable day: midnight Bangkok time after bill_due_days."""
    local = (now.astimezone(BANGKOK) + timedelta(days=get_settings().bill_due_days)).replace(
        hour=23, minute=59, second=59, microsecond=0)
    return local.astimezone(now.tzinfo)


async def live_bill_of_application(session: AsyncSession, application_id: str) -> Bill | None:
    """The case's open bill, if it has one (a paid one is never handed out again)."""
    return await session.scalar(
        select(Bill).where(Bill.application_id == application_id, Bill.status == BillStatus.OPEN)
        .order_by(Bill.created_at.desc()).limit(1)
    )


async def cancel_open_bills_of_application(session: AsyncSession, application_id: str, *, reason: str) -> int:
    """The case left its fee step another way (withdrawn, refused): its bill can no longer be paid."""
    result = await session.execute(
        update(Bill).where(Bill.application_id == application_id, Bill.status == BillStatus.OPEN)
        .values(status=BillStatus.CANCELLED, status_reason=reason, version=Bill.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def bills_of_application(session: AsyncSession, application_id: str) -> list[Bill]:
    """Every bill of a case, newest first."""
    return list((await session.scalars(
        select(Bill).where(Bill.application_id == application_id).order_by(Bill.created_at.desc())
    )).all())


def is_payer(caller: Caller, bill: Bill) -> bool:
    """True if the bill is addressed to the caller."""
    return bill.payer_account_id is not None and caller.account.id == bill.payer_account_id


def is_agency_staff(caller: Caller, bill: Bill) -> bool:
    """True if the caller works for the agency that billed."""
    return bool(caller.agency_roles.get(bill.agency_id))


def is_finance(caller: Caller, bill: Bill) -> bool:
    """True if the caller is a finance officer of the agency that billed."""
    return OfficerRole.FINANCE in caller.agency_roles.get(bill.agency_id, set())


async def for_reader(session: AsyncSession, caller: Caller, bill_id: str) -> Bill:
    """The bill, for its payer or the billing agency's staff; anyone else gets 'not found'."""
    bill = await session.get(Bill, bill_id)
    if bill is None or not (is_payer(caller, bill) or is_agency_staff(caller, bill)):
        raise NotFound()
    return bill


async def lines_of(session: AsyncSession, bill: Bill) -> list[BillLine]:
    """The bill's fee lines in order."""
    return list((await session.scalars(
        select(BillLine).where(BillLine.bill_id == bill.id).order_by(BillLine.seq)
    )).all())


def is_payable(bill: Bill, now: datetime | None = None) -> bool:
    """Open and not past its due time."""
    return bill.status == BillStatus.OPEN and (now or utcnow()) <= bill.due_at


def qr_payload(bill: Bill, account: ReceivingAccount) -> str:
    """The Thai QR bill-payment payload for this bill."""
    return thaiqr.encode(thaiqr.BillPayment(
        biller_id=account.biller_id, ref1=bill.ref1, ref2=bill.ref2, amount_satang=bill.amount_satang,
        merchant_name=_ascii_name(account.name_en),
    ))


def _ascii_name(name: str) -> str | None:
    """Tag 59 takes at most 25 ASCII characters."""
    cleaned = "".join(ch for ch in name if ch.isascii() and ch.isprintable()).strip()[:25]
    return cleaned or None


async def expire_overdue(session: AsyncSession, now: datetime | None = None) -> int:
    """Mark open bills past their due time expired; returns how many."""
    result = await session.execute(
        update(Bill).where(Bill.status == BillStatus.OPEN, Bill.due_at < (now or utcnow()))
        .values(status=BillStatus.EXPIRED, version=Bill.version + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def cancel(session: AsyncSession, *, bill: Bill, caller: Caller, reason: str) -> Bill:
    """A finance officer cancels an open bill, with the reason."""
    require_finance(caller, bill)
    reason = checked_reason(reason)
    if bill.status != BillStatus.OPEN:
        raise Conflict(N_("Only an open bill can be cancelled."), code="bill_not_open")
    bill.status, bill.status_reason = BillStatus.CANCELLED, reason
    await session.flush()
    return bill


def require_finance(caller: Caller, bill: Bill) -> None:
    """Refuse anyone but the billing agency's finance officers (outsiders do not see the bill)."""
    if not is_agency_staff(caller, bill):
        raise NotFound()
    if not is_finance(caller, bill):
        raise Forbidden(N_("Only the agency's finance officers may do this."))


def checked_reason(reason: str) -> str:
    """The reason a finance officer wrote, required and bounded."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(N_("Write the reason: it is kept with the record."), field="reason")
    if len(reason) > REASON_MAX:
        raise ValidationFailed(N_("The reason is too long (at most 2,000 characters)."), field="reason")
    return reason
