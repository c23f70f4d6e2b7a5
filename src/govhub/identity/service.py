"""Digital ID rules: registration, sign-in, lockout, 2FA, assurance, agencies, officers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.config import get_settings
from govhub.identity import audit, repository, totp
from govhub.identity.jobs import send_security_notice_later
from govhub.identity.audit import AuditAction
from govhub.identity.models import (
    Account,
    AccountKind,
    Agency,
    AgencyMembership,
    OfficerRole,
    RecoveryCode,
    UserSession,
)
from govhub.identity.passwords import (
    check_password_policy,
    dummy_hash,
    hash_password_async,
    needs_rehash,
    verify_password_async,
)
from govhub.kit.clock import utcnow
from govhub.kit.errors import AppError, Conflict, Forbidden, NotFound, TooManyRequests, ValidationFailed
from govhub.kit.i18n import N_
from govhub.kit.thai_ids import is_valid_juristic_id, is_valid_national_id, normalize_13_digits

SELF_REGISTERED_KINDS = (AccountKind.CITIZEN, AccountKind.FOREIGNER, AccountKind.BUSINESS)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")
_NATIONALITY = re.compile(r"^[A-Z]{3}$")


class SignInFailed(AppError):
    """Wrong identifier or password; the attempt is still counted and audited."""

    status_code = 401
    code = "sign_in_failed"
    message = N_("The ID number, email address or password is not correct.")
    keeps_changes = True


class AccountLocked(TooManyRequests):
    """Too many failed attempts; the account is locked for a while."""

    code = "account_locked"
    message = N_(
        "This account is locked for %(minutes)s minutes after too many failed attempts. "
        "Try again after that time."
    )
    keeps_changes = True


class SecondFactorFailed(AppError):
    """Wrong, expired or reused one-time code."""

    status_code = 401
    code = "second_factor_failed"
    message = N_("The code is not correct or has expired. Enter the newest code from your app.")
    keeps_changes = True


class WrongCurrentPassword(ValidationFailed):
    """The current password given to change it is wrong; the failure is counted."""

    message = N_("Your current password is not correct.")
    keeps_changes = True

    def __init__(self) -> None:
        super().__init__(field="current_password")


@dataclass
class Registration:
    """What a person gives to create an account (self-service kinds only)."""

    kind: AccountKind
    email: str
    full_name: str
    password: str
    national_id: str | None = None
    passport_number: str | None = None
    nationality: str | None = None
    juristic_id: str | None = None
    juristic_name: str | None = None
    locale: str = "th"
    errors: dict[str, str] = field(default_factory=dict)


def _validated_identifiers(data: Registration) -> dict[str, str | None]:
    """Check the identifiers each kind needs; raise with the field that is wrong."""
    values: dict[str, str | None] = {
        "national_id": None,
        "passport_number": None,
        "nationality": None,
        "juristic_id": None,
        "juristic_name": None,
    }
    if data.kind in (AccountKind.CITIZEN, AccountKind.BUSINESS, AccountKind.OFFICER, AccountKind.ADMIN):
        national_id = normalize_13_digits(data.national_id or "")
        if not national_id:
            raise ValidationFailed(N_("Enter your 13-digit national ID number."), field="national_id")
        if not is_valid_national_id(national_id):
            raise ValidationFailed(
                N_("The national ID number is not valid. Check the 13 digits on your ID card."),
                field="national_id",
            )
        values["national_id"] = national_id
    if data.kind == AccountKind.FOREIGNER:
        passport = (data.passport_number or "").strip().upper().replace(" ", "")
        nationality = (data.nationality or "").strip().upper()
        if not _PASSPORT.match(passport):
            raise ValidationFailed(
                N_("Enter your passport number: 5 to 20 letters and digits."), field="passport_number"
            )
        if not _NATIONALITY.match(nationality):
            raise ValidationFailed(N_("Choose your nationality."), field="nationality")
        values["passport_number"], values["nationality"] = passport, nationality
    if data.kind == AccountKind.BUSINESS:
        juristic_id = normalize_13_digits(data.juristic_id or "")
        if not is_valid_juristic_id(juristic_id):
            raise ValidationFailed(
                N_("The juristic person registration number is not valid. Check the 13 digits on the company certificate."),
                field="juristic_id",
            )
        name = (data.juristic_name or "").strip()
        if not name:
            raise ValidationFailed(N_("Enter the company's registered name."), field="juristic_name")
        values["juristic_id"], values["juristic_name"] = juristic_id, name[:255]
    return values


async def register_account(session: AsyncSession, *, data: Registration, ip: str | None = None) -> Account:
    """Create a self-service account after checking identifiers, duplicates and password."""
    if data.kind not in SELF_REGISTERED_KINDS:
        raise Forbidden()
    return await _create_account(session, data=data, ip=ip, actor_id=None)


async def _create_account(
    session: AsyncSession, *, data: Registration, ip: str | None, actor_id: str | None
) -> Account:
    email = (data.email or "").strip().lower()
    full_name = " ".join((data.full_name or "").split())
    if not full_name:
        raise ValidationFailed(N_("Enter your full name."), field="full_name")
    if not _EMAIL.match(email):
        raise ValidationFailed(N_("Enter an email address like name@example.com."), field="email")
    identifiers = _validated_identifiers(data)
    check_password_policy(
        data.password,
        context=(email.split("@")[0], identifiers["national_id"] or "", identifiers["passport_number"] or ""),
    )
    # Duplicate checks name the field but say no more than the form already implies.
    if await repository.email_taken(session, email):
        raise Conflict(N_("An account with this email address already exists. Sign in instead."), code="duplicate_account")
    if identifiers["national_id"] and await repository.national_id_taken(session, identifiers["national_id"]):
        raise Conflict(N_("An account with this national ID number already exists. Sign in instead."), code="duplicate_account")
    if identifiers["passport_number"] and await repository.passport_taken(
        session, identifiers["passport_number"], identifiers["nationality"] or ""
    ):
        raise Conflict(N_("An account with this passport already exists. Sign in instead."), code="duplicate_account")
    account = Account(
        kind=data.kind,
        email=email,
        full_name=full_name[:255],
        preferred_locale=data.locale if data.locale in ("th", "en") else "th",
        password_hash=await hash_password_async(data.password),
        ial=1,
        **identifiers,
    )
    session.add(account)
    await session.flush()
    await audit.record(
        session, AuditAction.ACCOUNT_REGISTERED, actor_id=actor_id or account.id, subject_id=account.id,
        ip=ip, kind=account.kind.value,
    )
    return account


async def authenticate_password(
    session: AsyncSession, *, identifier: str, password: str, ip: str | None = None
) -> Account:
    """Check identifier and password; count failures and lock the account after too many."""
    settings = get_settings()
    account = await repository.account_by_identifier(session, identifier)
    now = utcnow()
    if account is None or not account.is_active:
        await verify_password_async(dummy_hash(), password)  # same cost whether or not it exists
        await audit.record(
            session, AuditAction.SIGN_IN_FAILED, outcome="failure", identifier=identifier, ip=ip,
            reason="unknown_identifier",
        )
        raise SignInFailed()
    if account.locked_until and account.locked_until > now:
        await audit.record(
            session, AuditAction.SIGN_IN_FAILED, outcome="failure", subject_id=account.id, ip=ip,
            reason="locked",
        )
        raise AccountLocked(minutes=settings.lockout_minutes)
    if not await verify_password_async(account.password_hash, password):
        await _count_failure(session, account, ip=ip, counter=Account.failed_sign_ins, reason="wrong_password")
        raise SignInFailed()
    account.failed_sign_ins = 0
    account.locked_until = None
    if needs_rehash(account.password_hash):
        account.password_hash = await hash_password_async(password)
    return account


async def _count_failure(
    session: AsyncSession, account: Account, *, ip: str | None, counter: Any, reason: str
) -> None:
    """Increment one failure counter atomically; lock the account at the threshold."""
    settings = get_settings()
    # Atomic increment: parallel guesses on several web workers all count.
    result = await session.execute(
        update(Account)
        .where(Account.id == account.id)
        .values({counter: counter + 1})
        .returning(counter)
    )
    failures = int(result.scalar_one())
    await audit.record(
        session, AuditAction.SIGN_IN_FAILED, outcome="failure", subject_id=account.id, ip=ip,
        reason=reason, failures=failures,
    )
    if failures >= settings.lockout_threshold:
        locked_until = utcnow() + timedelta(minutes=settings.lockout_minutes)
        await session.execute(
            update(Account).where(Account.id == account.id).values({Account.locked_until: locked_until, counter: 0})
        )
        await audit.record(
            session, AuditAction.ACCOUNT_LOCKED, outcome="failure", subject_id=account.id, ip=ip,
            minutes=settings.lockout_minutes,
        )
        send_security_notice_later(session, account_id=account.id, action=AuditAction.ACCOUNT_LOCKED)
        raise AccountLocked(minutes=settings.lockout_minutes)


async def verify_second_factor(
    session: AsyncSession, *, account: Account, code: str, ip: str | None = None
) -> str:
    """Accept a TOTP code or a recovery code; return 'otp' or 'recovery' (the method used)."""
    if not account.totp_enabled or not account.totp_secret_encrypted:
        raise Forbidden(N_("Two-factor authentication is not set up for this account."))
    if account.locked_until and account.locked_until > utcnow():
        raise AccountLocked(minutes=get_settings().lockout_minutes)
    step = totp.matching_step(
        totp.unseal(account.totp_secret_encrypted), code, last_step=account.totp_last_step
    )
    if step is not None and await _claim_totp_step(session, account, step):
        return "otp"
    if await _use_recovery_code(session, account, code, ip=ip):
        return "recovery"
    await audit.record(session, AuditAction.TOTP_FAILED, outcome="failure", subject_id=account.id, ip=ip)
    await _count_failure(
        session, account, ip=ip, counter=Account.failed_second_factors, reason="wrong_second_factor"
    )
    raise SecondFactorFailed()


_SECOND_FACTOR_PASSED = {Account.failed_second_factors: 0, Account.failed_sign_ins: 0}


async def _claim_totp_step(session: AsyncSession, account: Account, step: int) -> bool:
    """Record the step as used; False if a parallel request with the same code won."""
    claimed = await session.execute(
        update(Account)
        .where(Account.id == account.id)
        .where((Account.totp_last_step.is_(None)) | (Account.totp_last_step < step))
        .values({Account.totp_last_step: step, **_SECOND_FACTOR_PASSED})
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.refresh(account)
    return True


async def _use_recovery_code(session: AsyncSession, account: Account, code: str, *, ip: str | None) -> bool:
    """Spend a matching unused recovery code exactly once (conditional update wins races)."""
    normalized = totp.normalize_recovery_code(code)
    if len(normalized) != 11:
        return False
    for recovery in await repository.unused_recovery_codes(session, account.id):
        if not await verify_password_async(recovery.code_hash, normalized):
            continue
        claimed = await session.execute(
            update(RecoveryCode)
            .where(RecoveryCode.id == recovery.id, RecoveryCode.used_at.is_(None))
            .values(used_at=utcnow())
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await session.execute(update(Account).where(Account.id == account.id).values(_SECOND_FACTOR_PASSED))
        await audit.record(session, AuditAction.RECOVERY_CODE_USED, actor_id=account.id, ip=ip)
        return True
    return False


async def confirm_totp_enrolment(
    session: AsyncSession, *, account: Account, sealed_secret: str, code: str, ip: str | None = None
) -> list[str]:
    """Turn on TOTP once the user proves their app works; return fresh recovery codes."""
    if account.totp_enabled:
        # Replacing an authenticator needs the old one: turn it off first (at AAL2).
        raise Forbidden(N_("Two-factor authentication is already on."))
    try:
        secret = totp.unseal_pending(sealed_secret, account.id)
    except ValueError as error:  # tampered, foreign or expired: start again
        raise ValidationFailed(N_("The setup form has expired. Start again."), field="code") from error
    step = totp.matching_step(secret, code, last_step=None)
    if step is None:
        raise ValidationFailed(
            N_("The code is not correct or has expired. Enter the newest code from your app."), field="code"
        )
    account.totp_secret_encrypted = totp.seal(secret)
    account.totp_enabled_at = utcnow()
    account.totp_last_step = step
    await audit.record(session, AuditAction.TOTP_ENABLED, actor_id=account.id, ip=ip)
    send_security_notice_later(session, account_id=account.id, action=AuditAction.TOTP_ENABLED)
    return await regenerate_recovery_codes(session, account=account, ip=ip, audit_it=False)


async def disable_totp(session: AsyncSession, *, account: Account, ip: str | None = None) -> None:
    """Turn TOTP off; refused for officers and administrators, who must keep it."""
    if account.requires_second_factor:
        raise Forbidden(N_("Officers and administrators must keep two-factor authentication on."))
    account.totp_secret_encrypted = None
    account.totp_enabled_at = None
    account.totp_last_step = None
    for recovery in await repository.unused_recovery_codes(session, account.id):
        await session.delete(recovery)
    await audit.record(session, AuditAction.TOTP_DISABLED, actor_id=account.id, ip=ip)
    send_security_notice_later(session, account_id=account.id, action=AuditAction.TOTP_DISABLED)


async def regenerate_recovery_codes(
    session: AsyncSession, *, account: Account, ip: str | None = None, audit_it: bool = True
) -> list[str]:
    """Replace all recovery codes with ten new ones; return them to show once."""
    for recovery in await repository.unused_recovery_codes(session, account.id):
        await session.delete(recovery)
    codes = totp.new_recovery_codes()
    for code in codes:
        session.add(RecoveryCode(account_id=account.id, code_hash=await hash_password_async(code)))
    if audit_it:
        await audit.record(session, AuditAction.RECOVERY_CODES_REGENERATED, actor_id=account.id, ip=ip)
    return codes


async def change_password(
    session: AsyncSession, *, account: Account, current_password: str, new_password: str, ip: str | None = None
) -> None:
    """Change a password after checking the current one and the policy."""
    if not await verify_password_async(account.password_hash, current_password):
        # Counted like a failed sign-in: a stolen session must not become a password oracle.
        await _count_failure(session, account, ip=ip, counter=Account.failed_sign_ins, reason="wrong_current_password")
        raise WrongCurrentPassword()
    check_password_policy(new_password, context=(account.email.split("@")[0], account.national_id or ""))
    account.password_hash = await hash_password_async(new_password)
    await audit.record(session, AuditAction.PASSWORD_CHANGED, actor_id=account.id, ip=ip)
    send_security_notice_later(session, account_id=account.id, action=AuditAction.PASSWORD_CHANGED)


# --- Agencies and officers (administrators) -------------------------------------------

_AGENCY_CODE = re.compile(r"^[A-Z0-9_-]{2,32}$")


async def create_agency(
    session: AsyncSession, *, code: str, name_th: str, name_en: str, actor_id: str | None, is_demo: bool = False
) -> Agency:
    """Add an agency; codes are unique, short and upper-case."""
    code = (code or "").strip().upper()
    if not _AGENCY_CODE.match(code):
        raise ValidationFailed(N_("Use 2 to 32 letters, digits, dashes or underscores for the code."), field="code")
    if not name_th.strip():
        raise ValidationFailed(N_("Enter the agency's Thai name."), field="name_th")
    if not name_en.strip():
        raise ValidationFailed(N_("Enter the agency's English name."), field="name_en")
    if await repository.agency_by_code(session, code):
        raise Conflict(N_("An agency with this code already exists."), code="duplicate_agency")
    agency = Agency(code=code, name_th=name_th.strip(), name_en=name_en.strip(), is_demo=is_demo)
    session.add(agency)
    await session.flush()
    await audit.record(session, AuditAction.AGENCY_CREATED, actor_id=actor_id, code=code)
    return agency


async def update_agency(
    session: AsyncSession, *, agency_id: str, name_th: str, name_en: str, is_active: bool, actor_id: str
) -> Agency:
    """Rename or (de)activate an agency; the code never changes (other systems key on it)."""
    agency = await session.get(Agency, agency_id)
    if agency is None:
        raise NotFound()
    if not name_th.strip() or not name_en.strip():
        raise ValidationFailed(N_("Enter both the Thai and the English name."), field="name_th")
    agency.name_th, agency.name_en, agency.is_active = name_th.strip(), name_en.strip(), is_active
    await audit.record(session, AuditAction.AGENCY_UPDATED, actor_id=actor_id, code=agency.code)
    return agency


async def create_staff_account(
    session: AsyncSession,
    *,
    kind: AccountKind,
    email: str,
    full_name: str,
    national_id: str,
    password: str,
    agency_id: str | None = None,
    roles: list[OfficerRole] | None = None,
    actor_id: str | None = None,
    is_demo: bool = False,
) -> Account:
    """Create an officer (with agency roles) or an administrator; only admins may do this."""
    if kind not in (AccountKind.OFFICER, AccountKind.ADMIN):
        raise ValidationFailed(N_("Staff accounts are officers or administrators."), field="kind")
    if kind == AccountKind.OFFICER:
        if not agency_id or await session.get(Agency, agency_id) is None:
            raise ValidationFailed(N_("Choose the officer's agency."), field="agency_id")
        if not roles:
            raise ValidationFailed(N_("Give the officer at least one role."), field="roles")
    data = Registration(kind=kind, email=email, full_name=full_name, password=password, national_id=national_id)
    account = await _create_account(session, data=data, ip=None, actor_id=actor_id)
    account.is_demo = is_demo
    # Staff identities are checked by the administrator who creates them.
    account.ial = 2
    account.ial_verified_at = utcnow()
    account.ial_verified_by = "administrator"
    for role in roles or []:
        session.add(AgencyMembership(account_id=account.id, agency_id=agency_id, role=role))
    await session.flush()
    await session.refresh(account, ["memberships"])
    return account


async def mark_identity_verified(
    session: AsyncSession, *, account: Account, source: str, actor_id: str | None = None
) -> None:
    """Raise an account to IAL2 after a registry check (the proofing hook's result)."""
    account.ial = 2
    account.ial_verified_at = utcnow()
    account.ial_verified_by = source[:64]
    await audit.record(session, AuditAction.IDENTITY_VERIFIED, actor_id=actor_id or account.id,
                       subject_id=account.id, source=source)


async def active_session_count(session: AsyncSession, account_id: str) -> int:
    """How many live sessions an account has (shown before 'sign out everywhere')."""
    return len(await repository.live_sessions(session, account_id))


__all__ = [
    "AccountLocked",
    "Registration",
    "SecondFactorFailed",
    "SignInFailed",
    "UserSession",
]
