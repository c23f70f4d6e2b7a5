"""The one query a GDX call needs: consumer, service, access right and consent, in one round trip.

A call used to cost six ORM lookups (client, consumer subsystem, provider, service, approval,
consent and its withdrawal), each with its own round trip: over a third of the gateway's CPU.
This reads the same facts with one Core statement, on an autocommit connection (no BEGIN or
ROLLBACK), and returns plain frozen values. Nothing is cached: a revoked approval, a disabled
client or a withdrawn consent takes effect on the very next call.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.engine import Row

from govhub.db import get_engine
from govhub.exchange.models import (
    AccessPolicy,
    AccessRequest,
    AccessRequestStatus,
    Consent,
    ConsentEvent,
    ExchangeService,
    Subsystem,
)
from govhub.identity.models import OAuthClient
from govhub.kit.clock import utcnow


@dataclass(frozen=True, slots=True)
class ServiceTerms:
    """What the gateway needs of a published service."""

    id: str
    code: str
    is_active: bool
    backend: str
    registry_code: str | None
    registry_version: str | None
    key_parameter: str | None
    remote_url: str | None
    timeout_ms: int
    returned_fields: list[str]
    personal_fields: list[str]
    access_policy: AccessPolicy
    requires_consent: bool


@dataclass(frozen=True, slots=True)
class ConsentTerms:
    """A consent named by a call, and whether its subject has withdrawn it."""

    id: str
    consumer_subsystem_id: str
    service_id: str
    subject_hash: str
    purpose: str
    fields: list[str]
    valid_until: datetime
    withdrawn: bool


@dataclass(frozen=True, slots=True)
class CallContext:
    """Everything a call is checked against, as it stood when the call arrived."""

    client_active: bool
    consumer_id: str
    consumer_path: str
    consumer_active: bool
    service: ServiceTerms | None
    # The newest approved, unexpired access request of this consumer for this service.
    approved: bool
    approved_fields: list[str] | None
    consent: ConsentTerms | None


_CONSUMER = Subsystem.__table__.alias("consumer")
_PROVIDER = Subsystem.__table__.alias("provider")
_SERVICE = ExchangeService.__table__
_CLIENT = OAuthClient.__table__
_CONSENT = Consent.__table__
_REQUEST = AccessRequest.__table__
_EVENT = ConsentEvent.__table__
_SERVICE_NAMES = [f.name for f in fields(ServiceTerms)]
_CONSENT_NAMES = [f.name for f in fields(ConsentTerms) if f.name != "withdrawn"]


def _newest_approval(column: Any) -> Any:
    """A scalar subquery: `column` of the consumer's newest approved, unexpired request."""
    return (
        select(column)
        .where(
            _REQUEST.c.service_id == _SERVICE.c.id,
            _REQUEST.c.consumer_subsystem_id == _CONSUMER.c.id,
            _REQUEST.c.status == AccessRequestStatus.APPROVED,
            or_(_REQUEST.c.valid_until.is_(None), _REQUEST.c.valid_until > bindparam("now", type_=_REQUEST.c.valid_until.type)),
        )
        .order_by(_REQUEST.c.requested_at.desc())
        .limit(1)
        .scalar_subquery()
    )


# Built once: constructing it per call would cost more than running it.
_QUERY = (
    select(
        _CLIENT.c.is_active.label("client_active"),
        _CONSUMER.c.id.label("consumer_id"),
        _CONSUMER.c.client_path.label("consumer_path"),
        _CONSUMER.c.is_active.label("consumer_active"),
        *[_SERVICE.c[name].label("service_" + name) for name in _SERVICE_NAMES],
        _newest_approval(_REQUEST.c.id).label("approval_id"),
        _newest_approval(_REQUEST.c.allowed_fields).label("approved_fields"),
        *[_CONSENT.c[name].label("consent_" + name) for name in _CONSENT_NAMES],
        exists().where(_EVENT.c.consent_id == _CONSENT.c.id, _EVENT.c.event == "withdrawn").label("withdrawn"),
    )
    .select_from(
        _CONSUMER.join(_CLIENT, _CLIENT.c.client_id == _CONSUMER.c.oauth_client_id)
        .outerjoin(_PROVIDER, _PROVIDER.c.client_path == bindparam("provider_path"))
        .outerjoin(_SERVICE, and_(_SERVICE.c.provider_subsystem_id == _PROVIDER.c.id, _SERVICE.c.code == bindparam("service_code")))
        .outerjoin(_CONSENT, _CONSENT.c.id == bindparam("consent_id"))
    )
    .where(_CONSUMER.c.oauth_client_id == bindparam("client_id"))
)


def _context(row: Row[Any]) -> CallContext:
    values = row._mapping
    service = None
    if values["service_id"] is not None:
        service = ServiceTerms(**{name: values["service_" + name] for name in _SERVICE_NAMES})
    consent = None
    if values["consent_id"] is not None:
        consent = ConsentTerms(
            **{name: values["consent_" + name] for name in _CONSENT_NAMES}, withdrawn=bool(values["withdrawn"])
        )
    return CallContext(
        client_active=bool(values["client_active"]),
        consumer_id=values["consumer_id"],
        consumer_path=values["consumer_path"],
        consumer_active=bool(values["consumer_active"]),
        service=service,
        approved=values["approval_id"] is not None,
        approved_fields=values["approved_fields"],
        consent=consent,
    )


async def load(
    *, client_id: str, provider_path: str, service_code: str, consent_id: str | None, now: datetime | None = None
) -> CallContext | None:
    """The call's context, or None when the client is no exchange subsystem."""
    parameters = {
        "client_id": client_id, "provider_path": provider_path, "service_code": service_code,
        "consent_id": consent_id, "now": now or utcnow(),
    }
    async with get_engine().connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        row = (await autocommit.execute(_QUERY, parameters)).first()
    return _context(row) if row is not None else None


def granted(
    *, returned_fields: list[str], access_policy: AccessPolicy, consumer_path: str,
    approved: bool, approved_fields: list[str] | None,
) -> set[str] | None:
    """The fields a consumer's access right covers (consent aside), or None without one.

    Open services serve every government member at once; the others need an approved,
    unexpired request, which may narrow the fields.
    """
    allowed = set(returned_fields)
    if access_policy == AccessPolicy.OPEN_TO_GOVERNMENT and consumer_path.split("/")[1] == "GOV":
        return allowed
    if not approved:
        return None
    return allowed & set(approved_fields or returned_fields)
