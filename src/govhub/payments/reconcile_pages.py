"""Finance officers' reconciliation pages: upload a bank statement, see earlier runs, read a run's report.

Only finance officers use them. Other officers are told so (403); anyone else, and a finance
officer of an agency the run does not belong to, gets "not found". What a run shows is decided
by `reconcile.may_read`: its lines were judged against the uploader's agencies' bills only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from govhub.config import get_settings
from govhub.db import SessionDep
from govhub.identity.auth import Caller, SignedIn
from govhub.identity.models import OfficerRole
from govhub.kit.errors import AppError, Forbidden, NotFound, ValidationFailed
from govhub.kit.i18n import N_
from govhub.payments import reconcile
from govhub.payments.models import ReconciliationRun
from govhub.web.forms import form_error, see_other
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)

UPLOAD_PATH = "/backoffice/payments/reconcile"
FIELD = "statement"
# A report lists at most this many lines at once; the counts link to each outcome's lines.
SHOWN_LINES = 1000
NOT_FINANCE = N_("Only finance officers may import bank statements and read reconciliation reports.")


def finance_agencies(caller: Caller) -> set[str]:
    """The agencies where the caller is a finance officer; other officers are refused, anyone else 'not found'."""
    if not caller.agency_roles:
        raise NotFound()
    agencies = {agency for agency, roles in caller.agency_roles.items() if OfficerRole.FINANCE in roles}
    if not agencies:
        raise Forbidden(NOT_FINANCE)
    return agencies


async def _upload_context(session: SessionDep, agencies: set[str]) -> dict[str, Any]:
    return {"runs": await reconcile.recent_runs(session, agencies), "outcome_counts": reconcile.outcome_counts,
            "labels": reconcile.OUTCOME_LABELS, "max_mb": get_settings().max_statement_bytes // (1024 * 1024)}


@router.get(UPLOAD_PATH)
async def upload_page(request: Request, session: SessionDep, caller: SignedIn) -> HTMLResponse:
    """The upload form and the earlier runs of my agencies."""
    agencies = finance_agencies(caller)
    return render(request, "payments/reconcile.html", await _upload_context(session, agencies))


@router.post(UPLOAD_PATH)
async def upload(request: Request, session: SessionDep, caller: SignedIn) -> Response:
    """Import the uploaded statement and show its report; a refused file is shown on the form, nothing kept."""
    agencies = finance_agencies(caller)
    try:
        filename, data = await _statement_from(request)
        run = await reconcile.reconcile(session, data=data, filename=filename, actor_id=caller.account.id,
                                        agency_ids=agencies)
    except AppError as error:
        return await form_error(request, session, "payments/reconcile.html", error,
                                lambda: _upload_context(session, agencies))
    return see_other(f"{UPLOAD_PATH}/{run.id}")


async def _statement_from(request: Request) -> tuple[str, bytes]:
    """The uploaded file's name and bytes (one byte past the limit is enough to refuse it)."""
    posted = await request.form(max_files=1, max_fields=5)
    upload = posted.get(FIELD)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ValidationFailed(N_("Choose the bank statement file (CSV) to import."), field=FIELD)
    return upload.filename, await upload.read(get_settings().max_statement_bytes + 1)


@router.get(UPLOAD_PATH + "/{run_id}")
async def report_page(
    request: Request, run_id: str, session: SessionDep, caller: SignedIn,
    outcome: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    """One run: how many lines had each outcome, and the lines themselves (of one outcome if asked)."""
    agencies = finance_agencies(caller)
    run = await session.get(ReconciliationRun, run_id)
    if run is None or not reconcile.may_read(run, agencies):
        raise NotFound()
    chosen = outcome if outcome in reconcile.OUTCOME_LABELS else ""
    counts = reconcile.outcome_counts(run)
    return render(request, "payments/reconcile_run.html", {
        "run": run, "counts": counts, "total": sum(counts.values()), "labels": reconcile.OUTCOME_LABELS,
        "chosen": chosen, "shown_max": SHOWN_LINES, "detail_text": reconcile.detail_text,
        "lines": await reconcile.lines_of(session, run, outcome=chosen or None, limit=SHOWN_LINES),
    })
