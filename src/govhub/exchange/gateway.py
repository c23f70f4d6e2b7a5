"""The GDX call: authenticate, check access right and consent, route, filter, log evidence.

`{METHOD} /gdx/r1/{instance}/{memberClass}/{memberCode}/{subsystemCode}/{serviceCode}/{path}`
with X-Road's headers, plus X-GDX-Purpose (percent-encoded UTF-8) and X-GDX-Consent. Every
call that reaches a known consumer, allowed or refused, leaves an evidence record, committed
(by evidence_writer, in groups) before the answer is sent. Everything a call is checked
against comes from one query (call_context); a call reads a hosted registry or forwards to
the provider's system, and writes nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from urllib.parse import unquote, urlencode
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.exchange import call_context, evidence_writer, repository
from govhub.exchange.call_context import CallContext, ServiceTerms
from govhub.exchange.evidence import EvidenceEntry
from govhub.exchange.models import ExchangeService, Subsystem
from govhub.exchange.service import subject_hash
from govhub.identity.auth import CLIENT_DISABLED, ClientToken
from govhub.kit.clock import utcnow
from govhub.kit.errors import AppError, NotAuthenticated
from govhub.kit.i18n import N_

CLIENT_HEADERS = ("x-road-client", "information-mediator-client")
_FORWARDED = ("content-type", "accept", "accept-language")
_http: httpx.AsyncClient | None = None


class GdxRefused(AppError):
    """A refused exchange call: a stable code; the refusal itself is kept as evidence."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message, code=code)
        self.status_code = status


def refusal(code: str) -> GdxRefused:
    """The refusal for a stable reason code."""
    message, status = REFUSALS[code]
    return GdxRefused(code, message, status)


REFUSALS: dict[str, tuple[str, int]] = {
    "client_mismatch": (N_("The X-Road-Client header does not name the subsystem that signed in."), 403),
    "unknown_client": (N_("This client is not a registered exchange subsystem."), 403),
    "service_not_found": (N_("No such exchange service."), 404),
    "no_access_right": (N_("The consumer has no access right to this service."), 403),
    "purpose_missing": (N_("State the purpose of the call in the X-GDX-Purpose header."), 400),
    "consent_missing": (N_("This service needs the data subject's consent: send its id in X-GDX-Consent."), 403),
    "consent_invalid": (N_("The consent does not cover this consumer, service, person or purpose."), 403),
    "consent_expired": (N_("The consent has expired."), 403),
    "consent_withdrawn": (N_("The data subject has withdrawn the consent."), 403),
    "key_missing": (N_("The request does not name the record to read."), 400),
    "record_not_found": (N_("The registry has no such record."), 404),
    "provider_down": (N_("The provider's system cannot be reached."), 502),
    "provider_timeout": (N_("The provider's system did not answer in time."), 504),
    "provider_error": (N_("The provider's system answered with an error."), 502),
    "unfilterable_response": (N_("The provider's answer cannot be limited to the approved fields."), 502),
}


@dataclass
class Call:
    """What is known about a call as it goes through the checks (and into the evidence)."""

    request_id: str
    context: CallContext
    provider_path: str
    service_code: str
    user_id: str | None
    purpose: str | None
    consent_id: str | None
    request_hash: bytes
    started: float = field(default_factory=time.perf_counter)
    subject: str | None = None


def _http_client() -> httpx.AsyncClient:
    # One pooled client per process: a new TCP connection per call would halve throughput.
    global _http
    if _http is None:
        _http = httpx.AsyncClient(limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
    return _http


def request_hash(method: str, target: str, body: bytes) -> bytes:
    """SHA-256 over the method, the target (path and query) and the body."""
    return hashlib.sha256(method.encode() + b"\n" + target.encode() + b"\n" + body).digest()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the consumer asked for, as the provider will receive it."""

    method: str
    query: str  # as received (already encoded)
    params: Mapping[str, str]
    body: bytes
    headers: dict[str, str]


def outgoing_of(request: Request, body: bytes) -> Outgoing:
    """The consumer's request as it will be forwarded."""
    headers = {name: request.headers[name] for name in _FORWARDED if name in request.headers}
    return Outgoing(request.method, request.url.query, request.query_params, body, headers)


async def begin(request: Request, client: ClientToken, provider_path: str, service_code: str) -> Call:
    """Load the call's context, and check the consumer is an active subsystem named by X-Road-Client."""
    started = time.perf_counter()
    body = await request.body()
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    consent_id = (request.headers.get("x-gdx-consent") or "").strip()[:64] or None
    call = await _start(
        client_id=client.client_id, provider_path=provider_path, service_code=service_code,
        request_id=request.headers.get("x-road-id"), user_id=request.headers.get("x-road-userid"),
        # Headers are ASCII: a Thai purpose travels percent-encoded as UTF-8.
        purpose=unquote(request.headers.get("x-gdx-purpose") or ""), consent_id=consent_id,
        request_hash=request_hash(request.method, target, body), started=started,
    )
    named = next((request.headers[h] for h in CLIENT_HEADERS if h in request.headers), None)
    if named is not None and named.strip().strip("/") != call.context.consumer_path:
        raise await _refused(call, refusal("client_mismatch"))
    return call


async def _start(
    *, client_id: str, provider_path: str, service_code: str, request_id: str | None, user_id: str | None,
    purpose: str, consent_id: str | None, request_hash: bytes, started: float,
) -> Call:
    """The call's context loaded, its consumer checked to be an active subsystem."""
    context = await call_context.load(
        client_id=client_id, provider_path=provider_path, service_code=service_code, consent_id=consent_id
    )
    if context is not None and not context.client_active:
        raise NotAuthenticated(CLIENT_DISABLED)
    if context is None or not context.consumer_active:
        raise refusal("unknown_client")
    return Call(
        request_id=(request_id or uuid.uuid4().hex)[:64],
        context=context,
        provider_path=provider_path,
        service_code=service_code,
        user_id=user_id or None,
        purpose=purpose.strip()[:500] or None,
        consent_id=consent_id,
        request_hash=request_hash,
        started=started,
    )


async def handle(request: Request, session: AsyncSession, call: Call, path: str) -> Response:
    """Run the checks, route the call, filter the answer, and log the evidence."""
    body, status, media_type = await _checked(session, call, outgoing_of(request, await request.body()), path)
    return Response(content=body, status_code=status, media_type=media_type, headers=_answer_headers(call))


async def _checked(session: AsyncSession, call: Call, outgoing: Outgoing, path: str) -> tuple[bytes, int, str]:
    """Authorize, route and filter one call; log it as evidence whatever the outcome."""
    try:
        service, fields = _authorize(call, outgoing.params)
        body, status, media_type = await _route(session, call, service, outgoing, path)
        body = _limit_fields(body, media_type, fields, service)
    except GdxRefused as refused:
        raise await _refused(call, refused) from None
    await _log(call, status="allowed", error=None, response=body)
    return body, status, media_type


@dataclass(frozen=True, slots=True)
class LocalAnswer:
    """What a call made from inside govhub returned."""

    request_id: str
    data: Any


async def call_from_inside(
    session: AsyncSession, *, consumer_client_id: str, provider_path: str, service_code: str,
    params: dict[str, str], purpose: str, consent_id: str | None, user_id: str | None,
) -> LocalAnswer:
    """A call by one of govhub's own subsystems (the one-stop's prefill): same checks, same evidence.

    govhub's contexts run in the same process as the exchange, so they skip the HTTP hop to
    themselves, never the rules: the consumer's access right, purpose and consent are checked,
    the answer is limited to the granted fields, and the call is logged for the data subject.
    A service backed by a remote system is still reached over HTTP.
    """
    started = time.perf_counter()
    query = urlencode(params)
    target = f"/gdx/r1/{provider_path}/{service_code}" + (f"?{query}" if query else "")
    call = await _start(
        client_id=consumer_client_id, provider_path=provider_path, service_code=service_code,
        request_id=None, user_id=user_id, purpose=purpose, consent_id=consent_id,
        request_hash=request_hash("GET", target, b""), started=started,
    )
    outgoing = Outgoing("GET", query, params, b"", {"accept": "application/json"})
    body, status, media_type = await _checked(session, call, outgoing, "")
    if status >= 400 or media_type != "application/json":
        raise refusal("provider_error")
    return LocalAnswer(request_id=call.request_id, data=json.loads(body))


async def _refused(call: Call, refused: GdxRefused) -> GdxRefused:
    """Log a refusal and give it the call's X-Road headers."""
    await _log(call, status="refused", error=refused.code, response=b"")
    refused.headers = _answer_headers(call)
    return refused


def _answer_headers(call: Call) -> dict[str, str]:
    return {"X-Road-Id": call.request_id, "X-Road-Request-Hash": base64.b64encode(call.request_hash).decode()}


def _authorize(call: Call, params: Mapping[str, str]) -> tuple[ServiceTerms, set[str]]:
    """The service, and the fields this consumer may receive from it for this call."""
    context = call.context
    service = context.service
    if service is None or not service.is_active:
        raise refusal("service_not_found")
    if service.key_parameter:
        key = params.get(service.key_parameter, "")
        call.subject = subject_hash(key) if key and service.personal_fields else None
    fields = call_context.granted(
        returned_fields=service.returned_fields, access_policy=service.access_policy,
        consumer_path=context.consumer_path, approved=context.approved, approved_fields=context.approved_fields,
    )
    if fields is None:
        raise refusal("no_access_right")
    if service.personal_fields:
        if not call.purpose:
            raise refusal("purpose_missing")
        if service.requires_consent:
            fields &= _consent_fields(call, service)
    return service, fields


async def granted_fields(session: AsyncSession, consumer: Subsystem, service: ExchangeService) -> set[str] | None:
    """The fields the consumer's access right covers now (consent aside), or None without one."""
    approval = await repository.approved_request(session, service_id=service.id, consumer_id=consumer.id, now=utcnow())
    return call_context.granted(
        returned_fields=service.returned_fields, access_policy=service.access_policy,
        consumer_path=consumer.client_path, approved=approval is not None,
        approved_fields=approval.allowed_fields if approval else None,
    )


def _consent_fields(call: Call, service: ServiceTerms) -> set[str]:
    """The fields the data subject's consent covers for this consumer, service and purpose."""
    if not call.consent_id:
        raise refusal("consent_missing")
    consent = call.context.consent
    if (
        consent is None
        or consent.consumer_subsystem_id != call.context.consumer_id
        or consent.service_id != service.id
        or consent.subject_hash != call.subject
        or consent.purpose.strip().lower() != (call.purpose or "").lower()
    ):
        raise refusal("consent_invalid")
    if consent.withdrawn:
        raise refusal("consent_withdrawn")
    if consent.valid_until <= utcnow():
        raise refusal("consent_expired")
    return set(consent.fields)


async def _route(
    session: AsyncSession, call: Call, service: ServiceTerms, outgoing: Outgoing, path: str
) -> tuple[bytes, int, str]:
    """Answer from the hosted registry, or forward to the provider's own system."""
    if service.backend == "registry":
        key = outgoing.params.get(service.key_parameter or "", "")
        if not key:
            raise refusal("key_missing")
        from govhub.registries.service import lookup  # the registries context's public function

        record = await lookup(
            session, registry_code=service.registry_code or "", version=service.registry_version or "", key=key
        )
        if record is None:
            raise refusal("record_not_found")
        return json.dumps(record, ensure_ascii=False).encode(), 200, "application/json"
    return await _forward(call, service, outgoing, path)


async def _forward(call: Call, service: ServiceTerms, outgoing: Outgoing, path: str) -> tuple[bytes, int, str]:
    url = (service.remote_url or "").rstrip("/") + ("/" + path if path else "")
    if outgoing.query:  # passed on as received (already encoded): re-encoding costs and can alter it
        url += "?" + outgoing.query
    headers = dict(outgoing.headers)
    headers.update({"X-Road-Id": call.request_id, "X-Road-Client": call.context.consumer_path})
    if call.user_id:
        headers["X-Road-UserId"] = call.user_id
    try:
        answer = await _http_client().request(
            outgoing.method, url, content=outgoing.body,
            headers=headers, timeout=service.timeout_ms / 1000,
        )
    except httpx.TimeoutException as error:
        raise refusal("provider_timeout") from error
    except httpx.TransportError as error:
        raise refusal("provider_down") from error
    if answer.status_code >= 500:
        raise refusal("provider_error")
    media_type = answer.headers.get("content-type", "application/octet-stream").split(";")[0]
    return answer.content, answer.status_code, media_type


def _limit_fields(body: bytes, media_type: str, fields: set[str], service: ServiceTerms) -> bytes:
    """Drop every field the consumer may not receive; refuse what cannot be filtered."""
    if not service.returned_fields:
        return body  # the service declares no fields (no personal data): nothing to limit
    if media_type != "application/json":
        raise refusal("unfilterable_response")
    data: Any = json.loads(body or b"null")
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k in fields}
    elif isinstance(data, list) and all(isinstance(item, dict) for item in data):
        data = [{k: v for k, v in item.items() if k in fields} for item in data]
    else:
        raise refusal("unfilterable_response")
    return json.dumps(data, ensure_ascii=False).encode()


async def _log(call: Call, *, status: str, error: str | None, response: bytes) -> None:
    """Append the evidence record; it is committed when this returns, before the answer leaves."""
    await evidence_writer.append(EvidenceEntry(
        request_id=call.request_id,
        consumer=call.context.consumer_path,
        provider=call.provider_path,
        service_code=call.service_code,
        user_id=call.user_id,
        purpose=call.purpose,
        consent_id=call.consent_id,
        subject_hash=call.subject,
        request_hash=call.request_hash.hex(),
        response_hash=hashlib.sha256(response).hexdigest(),
        status=status,
        error_code=error,
        duration_ms=round((time.perf_counter() - call.started) * 1000, 2),
    ))
