"""Pages: my messages (the local outbox for the demo) and the administrators' delivery log."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from govhub.db import SessionDep
from govhub.identity.auth import Admin, SignedIn
from govhub.kit.i18n import N_, gettext
from govhub.kit.observability import mask_recipient
from govhub.notify import repository
from govhub.notify.models import Channel, Status
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50

STATUS_LABELS = {
    Status.QUEUED: N_("Waiting to be sent"),
    Status.SENDING: N_("Being sent"),
    Status.SENT: N_("Sent"),
    Status.FAILED: N_("Not delivered"),
    Status.OUTBOX: N_("Kept in the local outbox"),
    Status.LOGGED: N_("Written to the log"),
}
CHANNEL_LABELS = {Channel.EMAIL: N_("Email"), Channel.SMS: N_("SMS")}


def status_label(status: str) -> str:
    """A delivery status in the reader's language."""
    label = STATUS_LABELS.get(Status(status)) if status in Status._value2member_map_ else None
    return gettext(label) if label else status


def channel_label(channel: str) -> str:
    """A channel's name in the reader's language."""
    label = CHANNEL_LABELS.get(Channel(channel)) if channel in Channel._value2member_map_ else None
    return gettext(label) if label else channel


def _paging(page: int, total: int, url: str, filters: dict[str, str]) -> dict[str, object]:
    """Page numbers and links for a list, keeping its filters."""
    return {
        "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "total": total,
        "page_url": lambda n: f"{url}?" + urlencode({**filters, "page": n}),
    }


@router.get("/account/messages")
async def my_messages(
    request: Request, session: SessionDep, caller: SignedIn,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> HTMLResponse:
    """The emails and text messages sent to me, newest first."""
    query = repository.messages_of_account(caller.account.id)
    rows, total = await repository.page(
        session, query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render(request, "notify/account_messages.html", {
        "messages": rows, "status_label": status_label, "channel_label": channel_label,
        **_paging(page, total, "/account/messages", {}),
    })


@router.get("/admin/notifications")
async def admin_notifications(
    request: Request, session: SessionDep, caller: Admin,
    status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> HTMLResponse:
    """Every message with its delivery status, attempts and last error; filter by status."""
    chosen = status if status in Status._value2member_map_ else ""
    query = repository.all_messages(status=chosen or None)
    rows, total = await repository.page(
        session, query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render(request, "notify/admin_notifications.html", {
        "messages": rows, "statuses": list(Status), "filters": {"status": chosen},
        "status_label": status_label, "channel_label": channel_label, "mask": mask_recipient,
        **_paging(page, total, "/admin/notifications", {"status": chosen}),
    })
