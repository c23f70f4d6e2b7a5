"""Digital ID pages: register, sign in (with TOTP), account, 2FA, sign out, identity proofing."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from govhub.config import get_settings
from govhub.db import SessionDep
from govhub.identity import repository, service, sessions, totp
from govhub.identity.auth import PublicCaller, SignedIn, SignedInAnyLevel, require_assurance
from govhub.identity.models import AccountKind, role_label
from govhub.identity.proofing import ProofingEvidence, get_proofer
from govhub.kit import ratelimit
from govhub.kit.csrf import rotate_csrf_cookie
from govhub.kit.errors import AppError, NotAuthenticated
from govhub.kit.i18n import N_, gettext
from govhub.web.forms import client_ip, form_error, safe_next, see_other
from govhub.web.templating import render

# Routes carry full paths (no router prefix) so that metrics and the route meta-test see the
# real path; CSRF is checked by the auth dependency every route declares.
router = APIRouter(include_in_schema=False)

REGISTRABLE = {kind.value: kind for kind in service.SELF_REGISTERED_KINDS}
NATIONALITIES = (
    ("USA", "United States"), ("GBR", "United Kingdom"), ("JPN", "Japan"), ("CHN", "China"),
    ("KOR", "Korea, Republic of"), ("IND", "India"), ("MMR", "Myanmar"), ("LAO", "Lao PDR"),
    ("KHM", "Cambodia"), ("VNM", "Viet Nam"), ("MYS", "Malaysia"), ("SGP", "Singapore"),
    ("IDN", "Indonesia"), ("PHL", "Philippines"), ("DEU", "Germany"), ("FRA", "France"),
    ("AUS", "Australia"), ("RUS", "Russian Federation"), ("NLD", "Netherlands"), ("CAN", "Canada"),
)  # fmt: skip


def _set_session_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        sessions.SESSION_COOKIE,
        token,
        httponly=True,
        secure=settings.https,
        samesite="lax",
        path="/",
        max_age=settings.session_absolute_hours * 3600,
    )


def _clear_session_cookie(response: Response) -> None:
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")


# --- Registration ---------------------------------------------------------------------


@router.get("/register")
async def register_choose(request: Request, _: PublicCaller) -> HTMLResponse:
    """Step 1: who is registering (citizen, foreigner, business representative)."""
    return render(request, "identity/register_choose.html")


@router.get("/register/{kind}")
async def register_form(request: Request, kind: str, _: PublicCaller) -> Response:
    """Step 2: the form for that kind of account."""
    if kind not in REGISTRABLE:
        return see_other("/register")
    return render(request, "identity/register.html", {"kind": kind, "form": {}, "nationalities": NATIONALITIES})


@router.post("/register/{kind}")
async def register_submit(
    request: Request,
    kind: str,
    session: SessionDep,
    _: PublicCaller,
    full_name: Annotated[str, Form(max_length=255)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    national_id: Annotated[str, Form(max_length=32)] = "",
    passport_number: Annotated[str, Form(max_length=32)] = "",
    nationality: Annotated[str, Form(max_length=3)] = "",
    juristic_id: Annotated[str, Form(max_length=32)] = "",
    juristic_name: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    """Create the account, sign the person in, and offer two-factor setup."""
    if kind not in REGISTRABLE:
        return see_other("/register")
    await ratelimit.hit(get_settings().sign_in_rate_per_ip, "register", client_ip(request) or "-")
    form = {
        "full_name": full_name, "email": email, "national_id": national_id,
        "passport_number": passport_number, "nationality": nationality,
        "juristic_id": juristic_id, "juristic_name": juristic_name,
    }
    data = service.Registration(
        kind=REGISTRABLE[kind], password=password, locale=request.state.locale, **form
    )
    try:
        account = await service.register_account(session, data=data, ip=client_ip(request))
    except AppError as error:
        context = {"kind": kind, "form": form, "nationalities": NATIONALITIES}
        return await form_error(request, session, "identity/register.html", error, context)
    issued = await sessions.start_session(
        session, account=account, aal=1, pending_second_factor=False,
        ip=client_ip(request), user_agent=request.headers.get("user-agent"),
    )
    response = see_other("/account?welcome=1")
    _set_session_cookie(response, issued.token)
    rotate_csrf_cookie(request)
    return response


# --- Sign in and out ------------------------------------------------------------------


@router.get("/sign-in")
async def sign_in_form(request: Request, caller: PublicCaller, next: str = "", force: int = 0) -> Response:
    """The sign-in form (email, national ID or passport number, and password)."""
    # force=1: a relying party asked for a fresh sign-in (OIDC prompt=login or max_age).
    if caller is not None and not force:
        return see_other(safe_next(next))
    return render(request, "identity/sign_in.html", {"next": safe_next(next), "form": {}})


@router.post("/sign-in")
async def sign_in_submit(
    request: Request,
    session: SessionDep,
    _: PublicCaller,
    identifier: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Check the password; continue to the second factor if the account has one."""
    ip = client_ip(request)
    target = safe_next(next)
    context = {"next": target, "form": {"identifier": identifier}}
    try:
        await ratelimit.hit(get_settings().sign_in_rate_per_ip, "sign-in", ip or "-")
        account = await service.authenticate_password(session, identifier=identifier, password=password, ip=ip)
    except AppError as error:
        return await form_error(request, session, "identity/sign_in.html", error, context)
    previous = getattr(request.state, "session_record", None)
    if previous is not None:
        previous.revoked_at = previous.revoked_at or sessions.utcnow()
    pending = account.totp_enabled
    issued = await sessions.start_session(
        session, account=account, aal=1, pending_second_factor=pending,
        ip=ip, user_agent=request.headers.get("user-agent"),
    )
    # Encode: the target may be an OIDC authorize URL with its own query string.
    encoded = quote(target, safe="")
    if pending:
        response = see_other(f"/sign-in/second-factor?next={encoded}")
    elif account.requires_second_factor:
        response = see_other(f"/account/two-factor/setup?next={encoded}")
    else:
        response = see_other(target)
    _set_session_cookie(response, issued.token)
    rotate_csrf_cookie(request)
    return response


@router.get("/sign-in/second-factor")
async def second_factor_form(request: Request, _: PublicCaller, next: str = "") -> Response:
    """Ask for the 6-digit code (or a recovery code) after the password."""
    if getattr(request.state, "session_record", None) is None:
        return see_other(f"/sign-in?next={quote(safe_next(next), safe='')}")
    return render(request, "identity/second_factor.html", {"next": safe_next(next)})


@router.post("/sign-in/second-factor")
async def second_factor_submit(
    request: Request,
    session: SessionDep,
    _: PublicCaller,
    code: Annotated[str, Form(max_length=32)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Verify the code and upgrade to an AAL2 session with a new token."""
    record = getattr(request.state, "session_record", None)
    if record is None:
        raise NotAuthenticated()
    account = await repository.account_by_id(session, record.account_id)
    if account is None:
        raise NotAuthenticated()
    ip = client_ip(request)
    try:
        await ratelimit.hit(get_settings().sign_in_rate_per_ip, "second-factor", ip or "-")
        method = await service.verify_second_factor(session, account=account, code=code, ip=ip)
    except AppError as error:
        return await form_error(request, session, "identity/second_factor.html", error, {"next": safe_next(next)})
    issued = await sessions.elevate_session(session, current=record, account=account, ip=ip, amr=method)
    response = see_other(safe_next(next))
    _set_session_cookie(response, issued.token)
    rotate_csrf_cookie(request)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, session: SessionDep, _: PublicCaller) -> Response:
    """Sign out of this browser."""
    record = getattr(request.state, "session_record", None)
    if record is not None:
        await sessions.end_session(session, record=record, ip=client_ip(request))
    response = see_other("/?signed_out=1")
    _clear_session_cookie(response)
    rotate_csrf_cookie(request)
    return response


@router.post("/account/sign-out-everywhere")
async def sign_out_everywhere(request: Request, session: SessionDep, caller: SignedInAnyLevel) -> Response:
    """Revoke every session of this account, on every device, including this one."""
    await sessions.end_all_sessions(session, account_id=caller.account.id, ip=client_ip(request))
    response = see_other("/sign-in?signed_out_everywhere=1")
    _clear_session_cookie(response)
    rotate_csrf_cookie(request)
    return response


# --- Account and two-factor authentication --------------------------------------------


@router.get("/account")
async def account_page(request: Request, session: SessionDep, caller: SignedIn, welcome: int = 0) -> HTMLResponse:
    """The person's account: identifiers (masked), assurance levels, 2FA, sessions."""
    account = caller.account
    agencies = {agency.id: agency for agency in await repository.list_agencies(session)}
    context = {
        "account": account,
        "session_record": caller.session,
        "ial": caller.ial,
        "aal": caller.aal,
        "sessions": await repository.live_sessions(session, account.id),
        "recovery_left": len(await repository.unused_recovery_codes(session, account.id)),
        "memberships": [(agencies[m.agency_id], m.role) for m in account.memberships if m.agency_id in agencies],
        "flash": {"kind": "success", "text": gettext(N_("Your account has been created."))} if welcome else None,
        "role_label": role_label,
    }
    return render(request, "identity/account.html", context)


@router.get("/account/two-factor/setup")
async def totp_setup_form(request: Request, caller: SignedInAnyLevel, next: str = "") -> Response:
    """Show a new TOTP secret as a QR code and as text to type."""
    if caller.account.totp_enabled:
        return see_other("/account")
    secret = totp.new_secret()
    return render(request, "identity/totp_setup.html", _totp_context(caller, secret, next))


def _totp_context(caller: SignedInAnyLevel, secret: str, next: str) -> dict[str, object]:
    uri = totp.provisioning_uri(secret, caller.account.email)
    return {
        "qr_svg": totp.qr_svg(uri),
        "secret_grouped": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "sealed_secret": totp.seal_pending(secret, caller.account.id),
        "next": safe_next(next),
        "required": caller.account.requires_second_factor,
    }


@router.post("/account/two-factor/setup")
async def totp_setup_submit(
    request: Request,
    session: SessionDep,
    caller: SignedInAnyLevel,
    sealed_secret: Annotated[str, Form(max_length=1024)] = "",
    code: Annotated[str, Form(max_length=32)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Confirm the first code, turn TOTP on, show recovery codes once."""
    ip = client_ip(request)
    try:
        codes = await service.confirm_totp_enrolment(
            session, account=caller.account, sealed_secret=sealed_secret, code=code, ip=ip
        )
    except AppError as error:
        if caller.account.totp_enabled:
            raise
        try:
            secret = totp.unseal_pending(sealed_secret, caller.account.id)
        except ValueError:  # tampered, foreign or expired: a new secret, never the one sent
            secret = totp.new_secret()
        return await form_error(
            request, session, "identity/totp_setup.html", error, _totp_context(caller, secret, next)
        )
    # Proving possession of the new authenticator raises this session to AAL2; every other
    # session (opened with the password alone) ends, as after a password change.
    await sessions.end_all_sessions(session, account_id=caller.account.id, ip=ip, notify=False)
    issued = await sessions.start_session(
        session, account=caller.account, aal=2, pending_second_factor=False, ip=ip,
        user_agent=request.headers.get("user-agent"), amr="otp",
    )
    response = render(request, "identity/recovery_codes.html", {"codes": codes, "next": safe_next(next)})
    _set_session_cookie(response, issued.token)
    return response


@router.post("/account/two-factor/disable")
async def totp_disable(
    request: Request, session: SessionDep, caller: Annotated[SignedIn, Depends(require_assurance(aal=2))]
) -> Response:
    """Turn TOTP off (citizens only; staff must keep it)."""
    await service.disable_totp(session, account=caller.account, ip=client_ip(request))
    return see_other("/account")


@router.post("/account/recovery-codes")
async def recovery_codes_regenerate(
    request: Request, session: SessionDep, caller: Annotated[SignedIn, Depends(require_assurance(aal=2))]
) -> HTMLResponse:
    """Replace the recovery codes and show the new ones once."""
    codes = await service.regenerate_recovery_codes(session, account=caller.account, ip=client_ip(request))
    return render(request, "identity/recovery_codes.html", {"codes": codes, "next": "/account"})


@router.get("/account/password")
async def password_form(request: Request, caller: SignedIn) -> HTMLResponse:
    """Change password form."""
    return render(request, "identity/password.html", {})


@router.post("/account/password")
async def password_submit(
    request: Request,
    session: SessionDep,
    caller: SignedIn,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Change the password and sign out every other session."""
    ip = client_ip(request)
    try:
        await service.change_password(
            session, account=caller.account, current_password=current_password, new_password=new_password, ip=ip
        )
    except AppError as error:
        return await form_error(request, session, "identity/password.html", error, {})
    await sessions.end_all_sessions(session, account_id=caller.account.id, ip=ip, notify=False)
    issued = await sessions.start_session(
        session, account=caller.account, aal=caller.aal, pending_second_factor=False, ip=ip,
        user_agent=request.headers.get("user-agent"),
    )
    response = see_other("/account")
    _set_session_cookie(response, issued.token)
    rotate_csrf_cookie(request)
    return response


@router.get("/account/verify-identity")
async def verify_identity_form(request: Request, caller: SignedIn, next: str = "") -> HTMLResponse:
    """IAL2: confirm identity against the civil registry (when a proofer is connected)."""
    return render(request, "identity/verify_identity.html", {"next": safe_next(next), "proofer": get_proofer().name})


@router.post("/account/verify-identity")
async def verify_identity_submit(
    request: Request,
    session: SessionDep,
    caller: SignedIn,
    laser_code: Annotated[str, Form(max_length=16)] = "",
    birth_date: Annotated[str, Form(max_length=10)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Ask the configured proofer; on success the account and this session become IAL2."""
    proofer = get_proofer()
    context = {"next": safe_next(next), "proofer": proofer.name}
    try:
        evidence = ProofingEvidence(laser_code=laser_code.strip().upper(), birth_date=birth_date.strip())
        confirmed = await proofer.verify(session, account=caller.account, evidence=evidence)
        if not confirmed:
            raise service.ValidationFailed(
                N_("The civil registry did not confirm these details. Check the laser code on the back of your ID card."),
                field="laser_code",
            )
    except AppError as error:
        return await form_error(request, session, "identity/verify_identity.html", error, context)
    await service.mark_identity_verified(session, account=caller.account, source=proofer.name)
    caller.session.ial = 2
    return see_other(safe_next(next))


__all__ = ["router", "AccountKind"]
