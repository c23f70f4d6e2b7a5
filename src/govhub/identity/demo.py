"""Demo data for Digital ID: agencies and one account of each kind, clearly marked as demo."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity import repository, service
from govhub.identity.models import Account, AccountKind, OfficerRole
from govhub.identity.totp import seal
from govhub.kit.clock import utcnow

DEMO_AGENCIES = (
    ("DGA", "สำนักงานพัฒนารัฐบาลดิจิทัล (องค์การมหาชน)", "Digital Government Development Agency"),
    ("DOPA", "กรมการปกครอง", "Department of Provincial Administration"),
    ("DBD", "กรมพัฒนาธุรกิจการค้า", "Department of Business Development"),
    ("RD", "กรมสรรพากร", "The Revenue Department"),
    ("NBM", "เทศบาลนครนนทบุรี", "Nakhon Nonthaburi City Municipality"),
    # Publishers of the demo's open data.
    ("BMTA", "องค์การขนส่งมวลชนกรุงเทพ", "Bangkok Mass Transit Authority"),
    ("CGD", "กรมบัญชีกลาง", "The Comptroller General's Department"),
    ("NSO", "สำนักงานสถิติแห่งชาติ", "National Statistical Office"),
)

# Known, published demo secrets: these accounts exist only when `govhub demo` is run.
DEMO_PASSWORD = "demo-password-2569"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@dataclass(frozen=True)
class DemoAccount:
    """A demo account as printed for the person trying govhub."""

    kind: AccountKind
    email: str
    full_name: str
    national_id: str | None = None
    passport_number: str | None = None
    nationality: str | None = None
    juristic_id: str | None = None
    juristic_name: str | None = None
    agency: str | None = None
    roles: tuple[OfficerRole, ...] = ()
    totp: bool = False


# National and juristic IDs below carry valid check digits.
DEMO_ACCOUNTS = (
    DemoAccount(AccountKind.CITIZEN, "somchai@demo.govhub.local", "สมชาย ใจดี", national_id="1101700230708"),
    DemoAccount(AccountKind.CITIZEN, "malee@demo.govhub.local", "มาลี รักไทย", national_id="3100600123450", totp=True),
    DemoAccount(
        AccountKind.BUSINESS, "suda@demo.govhub.local", "สุดา ค้าขาย", national_id="1103700012346",
        juristic_id="0105561012346", juristic_name="บริษัท ครัวสุดา จำกัด",
    ),
    DemoAccount(
        AccountKind.FOREIGNER, "john.smith@demo.govhub.local", "John Smith",
        passport_number="GB1234567", nationality="GBR",
    ),
    DemoAccount(
        AccountKind.OFFICER, "officer.nbm@demo.govhub.local", "วิชัย ตรวจสอบ", national_id="1409900123454",
        agency="NBM", roles=(OfficerRole.REVIEWER, OfficerRole.APPROVER, OfficerRole.FINANCE), totp=True,
    ),
    DemoAccount(
        AccountKind.OFFICER, "officer.dopa@demo.govhub.local", "นภา ทะเบียน", national_id="1509900456789",
        agency="DOPA", roles=(OfficerRole.REGISTRAR, OfficerRole.DATA_STEWARD), totp=True,
    ),
    DemoAccount(
        AccountKind.OFFICER, "publisher.bmta@demo.govhub.local", "ปรีชา ข้อมูลเปิด", national_id="1102003456781",
        agency="BMTA", roles=(OfficerRole.DATA_STEWARD,), totp=True,
    ),
    DemoAccount(
        AccountKind.ADMIN, "admin@demo.govhub.local", "ผู้ดูแลระบบ DGA", national_id="1100400789016",
        agency="DGA", totp=True,
    ),
)


async def load_demo_identity(session: AsyncSession) -> list[tuple[DemoAccount, Account]]:
    """Create the demo agencies and accounts if missing; return the accounts (idempotent)."""
    for code, name_th, name_en in DEMO_AGENCIES:
        if await repository.agency_by_code(session, code) is None:
            await service.create_agency(
                session, code=code, name_th=name_th, name_en=name_en, actor_id=None, is_demo=True
            )
    created = []
    for demo in DEMO_ACCOUNTS:
        account = await repository.account_by_identifier(session, demo.email)
        if account is None:
            account = await _create(session, demo)
        created.append((demo, account))
    return created


async def _create(session: AsyncSession, demo: DemoAccount) -> Account:
    if demo.kind in (AccountKind.OFFICER, AccountKind.ADMIN):
        agency = await repository.agency_by_code(session, demo.agency or "DGA")
        account = await service.create_staff_account(
            session, kind=demo.kind, email=demo.email, full_name=demo.full_name,
            national_id=demo.national_id or "", password=DEMO_PASSWORD,
            agency_id=agency.id if agency and demo.kind == AccountKind.OFFICER else None,
            roles=list(demo.roles), is_demo=True,
        )
    else:
        data = service.Registration(
            kind=demo.kind, email=demo.email, full_name=demo.full_name, password=DEMO_PASSWORD,
            national_id=demo.national_id, passport_number=demo.passport_number,
            nationality=demo.nationality, juristic_id=demo.juristic_id, juristic_name=demo.juristic_name,
        )
        account = await service.register_account(session, data=data)
        account.is_demo = True
    if demo.totp:
        account.totp_secret_encrypted = seal(DEMO_TOTP_SECRET)
        account.totp_enabled_at = utcnow()
    return account
