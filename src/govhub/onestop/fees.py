"""What entering a state sets off: a bill for the manual's fees, or the signed e-document."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from govhub.jobs import enqueue
from govhub.onestop.definitions import ServiceDefinition, State
from govhub.onestop.models import Application
from govhub.payments import bills
from govhub.payments.models import Bill

ISSUE_JOB = "documents.issue_for_application"


async def on_state_entered(
    session: AsyncSession, *, application: Application, definition: ServiceDefinition, state: State,
) -> None:
    """Open the bill of a billing state; queue the e-document of an issuing state."""
    if state.bill:
        await bill_for(session, application=application, definition=definition)
    if state.issue:
        # Rendering and signing take a good part of a second: the worker does it, after commit.
        enqueue(session, ISSUE_JOB, application_id=application.id)


async def on_state_left(
    session: AsyncSession, *, application: Application, definition: ServiceDefinition, state: State, action: str,
) -> None:
    """A billing state left by anything but the payment: cancel the bill, so nobody pays for nothing."""
    paid = definition.workflow.payment_action(state.code)
    if state.bill and paid is not None and action != paid.code:
        await bills.cancel_open_bills_of_application(
            session, application.id, reason=f"The application left the fee step ({action}).")


async def bill_for(session: AsyncSession, *, application: Application, definition: ServiceDefinition) -> Bill:
    """The case's bill for the fees of the manual it was made under (opened once)."""
    return await bills.open_bill(
        session, agency_id=application.agency_id, payer_account_id=application.applicant_account_id,
        payer_name=application.applicant_name, application_id=application.id,
        fees=[bills.Fee(fee.label.th, fee.label.en, fee.amount_satang) for fee in definition.fees],
        description_th=f"{definition.title.th} ({application.tracking_number})",
        description_en=f"{definition.title.en} ({application.tracking_number})",
        ref2=application.tracking_number or application.id,
    )
