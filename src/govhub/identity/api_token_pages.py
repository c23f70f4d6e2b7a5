"""Pages where a signed-in person creates, lists and revokes their API tokens.

A token is shown once, on the page that answers the creating form (never in a URL, a
redirect or a log), with `Cache-Control: no-store` so the browser does not keep it either.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from govhub.db import SessionDep
from govhub.identity import api_tokens
from govhub.identity.auth import SignedIn
from govhub.kit.errors import ValidationFailed
from govhub.kit.i18n import N_, gettext
from govhub.web.forms import form_error, see_other
from govhub.web.templating import render

router = APIRouter(include_in_schema=False)

DEFAULT_DAYS = 90
DONE = {"revoked": N_("The token was revoked. Programs using it can no longer sign in with it.")}


async def _context(session: SessionDep, account_id: str, **extra: Any) -> dict[str, Any]:
    return {"tokens": await api_tokens.tokens_of(session, account_id), "max_days": api_tokens.MAX_TOKEN_DAYS,
            "form": {"name": "", "days": str(DEFAULT_DAYS)}, **extra}


@router.get("/account/api-tokens")
async def api_tokens_page(request: Request, session: SessionDep, caller: SignedIn, done: str = "") -> HTMLResponse:
    """My API tokens (name, created, expires, last used), and the form for a new one."""
    flash = {"kind": "success", "text": gettext(DONE[done])} if done in DONE else None
    return render(request, "identity/api_tokens.html", await _context(session, caller.account.id, flash=flash))


@router.post("/account/api-tokens")
async def create_api_token(
    request: Request,
    session: SessionDep,
    caller: SignedIn,
    name: Annotated[str, Form(max_length=200)] = "",
    days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Create a token and show it once."""
    account_id = caller.account.id
    form = {"name": name, "days": days}
    try:
        try:
            number = int(days.strip())
        except ValueError:
            raise ValidationFailed(N_("A token may last from 1 to %(days)s days."), field="days",
                                   days=api_tokens.MAX_TOKEN_DAYS) from None
        row, token = await api_tokens.create_token(session, caller.account, name=name, days=number)
    except ValidationFailed as error:
        # The context runs after the rollback; it needs only the account's id, read above.
        return await form_error(request, session, "identity/api_tokens.html", error,
                                lambda: _context(session, account_id, form=form))
    response = render(request, "identity/api_tokens.html",
                      await _context(session, account_id, new_token=token, new_token_id=row.id))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/account/api-tokens/{token_id}/revoke")
async def revoke_api_token(token_id: str, session: SessionDep, caller: SignedIn) -> Response:
    """Revoke one of my tokens at once."""
    await api_tokens.revoke_token(session, caller.account.id, token_id)
    return see_other("/account/api-tokens?done=revoked")
