"""Demo data for the exchange: DOPA, DBD and RD registries, their services, and consumers.

Loaded only by `govhub demo`. The demo citizens of Digital ID are put into the civil
registry (with the laser codes printed by the command), so identity proofing and consent
work for them; everyone else is synthetic, from a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from govhub.exchange import repository
from govhub.exchange import service as gdx
from govhub.exchange.models import AccessPolicy, DataClassification, Subsystem
from govhub.exchange.proofing import CIVIL_REGISTRY, CIVIL_REGISTRY_VERSION
from govhub.identity import repository as identity_repository
from govhub.identity.clients import register_client, secret_digest
from govhub.identity.demo import DEMO_ACCOUNTS
from govhub.registries import service as registries
from govhub.registries import synthetic
from govhub.registries.schemas import Actor

SEED = 2569
# Published demo secret of the demo agency systems (demo data only).
DEMO_CLIENT_SECRET = "demo-client-secret-2569"

REGISTRIES = (
    # agency, code, Thai name, English name, schema, key, personal fields
    ("DOPA", CIVIL_REGISTRY, "ทะเบียนราษฎร", "Civil registration", synthetic.PERSON_SCHEMA,
     synthetic.PERSON_PRIMARY_KEY, synthetic.PERSON_PERSONAL_FIELDS),
    ("DBD", "juristic-persons", "ทะเบียนนิติบุคคล", "Juristic persons", synthetic.COMPANY_SCHEMA,
     synthetic.COMPANY_PRIMARY_KEY, synthetic.COMPANY_PERSONAL_FIELDS),
    ("RD", "vat-registrations", "ทะเบียนภาษีมูลค่าเพิ่ม", "VAT registrations", synthetic.VAT_SCHEMA,
     synthetic.VAT_PRIMARY_KEY, synthetic.VAT_PERSONAL_FIELDS),
)
SUBSYSTEMS = (
    ("DOPA", "civil-registry", "ระบบทะเบียนราษฎร"),
    ("DBD", "company-registry", "ระบบทะเบียนนิติบุคคล"),
    ("RD", "vat-registry", "ระบบภาษีมูลค่าเพิ่ม"),
    ("NBM", "permits", "ระบบอนุญาตของเทศบาล"),
    ("DGA", "digital-id", "Digital ID"),
)
PERSON_FIELDS = [
    "national_id", "title_th", "given_name_th", "surname_th", "given_name_en", "surname_en",
    "full_name_th", "full_name_en", "birth_date", "address", "house_registration_number",
]


@dataclass(frozen=True)
class DemoPerson:
    """A demo citizen as the civil registry knows them (to try identity proofing)."""

    national_id: str
    full_name: str
    birth_date_be: str
    laser_code: str


async def load_demo_exchange(session: AsyncSession, *, persons: int = 100_000, companies: int = 20_000) -> list[DemoPerson]:
    """Registries filled from the seed, subsystems, services (idempotent); returns demo people."""
    people = list(synthetic.generate_persons(persons, seed=SEED))
    demo_people = _demo_citizens(people)
    rows = {
        CIVIL_REGISTRY: people,
        "juristic-persons": list(synthetic.generate_companies(companies, seed=SEED, persons=people)),
    }
    _demo_company(rows["juristic-persons"][0], demo_people)
    rows["vat-registrations"] = list(synthetic.generate_vat(rows["juristic-persons"], seed=SEED))
    for agency_code, code, name_th, name_en, schema, key, personal in REGISTRIES:
        await _registry(session, agency_code, code, name_th, name_en, schema, key, personal, rows[code])
    subsystems = {code: await demo_subsystem(session, agency, code, name) for agency, code, name in SUBSYSTEMS}
    await _services(session, subsystems)
    return [_demo_person(p) for p in demo_people]


# The demo accounts' sexes, so that titles (นาย, นาง, นางสาว) fit their names.
DEMO_SEXES = {"มาลี": "female", "สุดา": "female", "นภา": "female"}


def _demo_citizens(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give adult synthetic people with ID cards the demo accounts' national IDs and names."""
    chosen: list[dict[str, Any]] = []
    candidates = iter(p for p in people if p.get("laser_code") and p["birth_date"] < "2000-01-01")
    for demo in (d for d in DEMO_ACCOUNTS if d.national_id):
        given, _, surname = demo.full_name.partition(" ")
        sex = DEMO_SEXES.get(given, "male")
        person = next(p for p in candidates if p["sex"] == sex)
        person.update(national_id=demo.national_id, given_name_th=given, surname_th=surname,
                      full_name_th=f"{person['title_th']}{demo.full_name}")
        chosen.append(person)
    return chosen


def _demo_company(company: dict[str, Any], demo_people: list[dict[str, Any]]) -> None:
    """The demo business representative's company, with her as its director."""
    business = next(d for d in DEMO_ACCOUNTS if d.juristic_id)
    company.update(registration_number=business.juristic_id, name_th=business.juristic_name,
                   name_en="Krua Suda Company Limited", type="company_limited", status="active")
    representative = next(p for p in demo_people if p["national_id"] == business.national_id)
    company["directors"] = [representative["national_id"]]


def _demo_person(record: dict[str, Any]) -> DemoPerson:
    year, month, day = record["birth_date"].split("-")
    return DemoPerson(
        national_id=record["national_id"], full_name=f"{record['given_name_th']} {record['surname_th']}",
        birth_date_be=f"{day}/{month}/{int(year) + 543}", laser_code=record.get("laser_code") or "",
    )


async def _registry(session, agency_code, code, name_th, name_en, schema, key, personal, rows) -> None:  # type: ignore[no-untyped-def]
    agency = await identity_repository.agency_by_code(session, agency_code)
    if agency is None or await registries.registry_exists(session, code, "1.0"):
        return
    actor = Actor.system("demo", agency.id)
    await registries.create_registry(session, actor=actor, agency_id=agency.id, code=code, name_th=name_th, name_en=name_en)
    await registries.add_version(session, actor=actor, registry_code=code, version=CIVIL_REGISTRY_VERSION,
                                 json_schema=schema, primary_key=key, personal_data_fields=list(personal))
    # The generator's output is validated against these schemas in its own tests.
    await registries.bulk_load(session, registry_code=code, version="1.0", rows=rows, actor=actor, validate=False)


async def demo_subsystem(session: AsyncSession, agency_code: str, code: str, name: str) -> Subsystem:
    """The agency's demo subsystem with this code (registered with the demo client secret if new)."""
    agency = await identity_repository.agency_by_code(session, agency_code)
    assert agency is not None, f"demo agency {agency_code} missing: load the identity demo first"
    member = await gdx.ensure_member(session, agency=agency)
    existing = await repository.subsystem_by_path(session, f"{member.path}/{code}")
    if existing is not None:
        return existing
    registered = await register_client(
        session, name=f"{agency_code} {name}", client_type="confidential",
        token_endpoint_auth_method="client_secret_basic", redirect_uris=[], grant_types=["client_credentials"],
        scopes=["gdx", "registries:read"], agency_id=agency.id, actor_id=None, is_demo=True,
    )
    registered.client.secret_hash = secret_digest(DEMO_CLIENT_SECRET)
    return await gdx.register_subsystem(session, member=member, code=code, name=name,
                                        oauth_client_id=registered.client.client_id)


async def _services(session: AsyncSession, subsystems: dict[str, Subsystem]) -> None:
    specs = [
        ("civil-registry", dict(
            code="person", title_th="ข้อมูลบุคคลจากทะเบียนราษฎร", title_en="Person from the civil registration",
            backend="registry", registry_code=CIVIL_REGISTRY, registry_version="1.0", key_parameter="national_id",
            returned_fields=PERSON_FIELDS, personal_fields=PERSON_FIELDS,
            classification=DataClassification.CONFIDENTIAL, access_policy=AccessPolicy.OPEN_TO_GOVERNMENT,
            requires_consent=True)),
        ("company-registry", dict(
            code="juristic-person", title_th="ข้อมูลนิติบุคคล", title_en="Juristic person",
            backend="registry", registry_code="juristic-persons", registry_version="1.0",
            key_parameter="registration_number", returned_fields=_fields(synthetic.COMPANY_SCHEMA),
            personal_fields=["directors"], classification=DataClassification.INTERNAL,
            access_policy=AccessPolicy.OPEN_TO_GOVERNMENT, requires_consent=False)),
        ("vat-registry", dict(
            code="vat-registration", title_th="ข้อมูลการจดทะเบียนภาษีมูลค่าเพิ่ม", title_en="VAT registration",
            backend="registry", registry_code="vat-registrations", registry_version="1.0",
            key_parameter=synthetic.VAT_PRIMARY_KEY, returned_fields=_fields(synthetic.VAT_SCHEMA),
            personal_fields=[], classification=DataClassification.INTERNAL,
            access_policy=AccessPolicy.OPEN_TO_GOVERNMENT, requires_consent=False)),
    ]
    for subsystem_code, spec in specs:
        provider = subsystems[subsystem_code]
        if await repository.service_of(session, provider, spec["code"]) is None:  # type: ignore[arg-type]
            await gdx.publish_service(session, provider=provider, **spec)  # type: ignore[arg-type]


def _fields(schema: dict[str, Any]) -> list[str]:
    return list(schema["properties"])
