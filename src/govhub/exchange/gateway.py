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
from urllib.parse import unquote
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


async def begin(request: Request, client: ClientToken, provider_path: str, service_code: str) -> Call:
    """Load the call's context, and check the consumer is an active subsystem named by X-Road-Client."""
    started = time.perf_counter()
    body = await request.body()
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    consent_id = (request.headers.get("x-gdx-consent") or "").strip()[:64] or None
    context = await call_context.load(
        client_id=client.client_id, provider_path=provider_path, service_code=service_code, consent_id=consent_id
    )
    if context is not None and not context.client_active:
        raise NotAuthenticated(CLIENT_DISABLED)
    if context is None or not context.consumer_active:
        raise refusal("unknown_client")
    call = Call(
        request_id=(request.headers.get("x-road-id") or uuid.uuid4().hex)[:64],
        context=context,
        provider_path=provider_path,
        service_code=service_code,
        user_id=(request.headers.get("x-road-userid") or None),
        # Headers are ASCII: a Thai purpose travels percent-encoded as UTF-8.
        purpose=unquote(request.headers.get("x-gdx-purpose") or "").strip()[:500] or None,
        consent_id=consent_id,
        request_hash=request_hash(request.method, target, body),
        started=started,
    )
    named = next((request.headers[h] for h in CLIENT_HEADERS if h in request.headers), None)
    if named is not None and named.strip().strip("/") != context.consumer_path:
        raise await _refused(call, refusal("client_mismatch"))
    return call


async def handle(request: Request, session: AsyncSession, call: Call, path: str) -> Response:
    """Run the checks, route the call, filter the answer, and log the evidence."""
    try:
        service, fields = _authorize(call, request)
        body, status, media_type = await _route(request, session, call, service, path)
        body = _limit_fields(body, media_type, fields, service)
    except GdxRefused as refused:
        raise await _refused(call, refused) from None
    await _log(call, status="allowed", error=None, response=body)
    return Response(content=body, status_code=status, media_type=media_type, headers=_answer_headers(call))


async def _refused(call: Call, refused: GdxRefused) -> GdxRefused:
    """Log a refusal and give it the call's X-Road headers."""
    await _log(call, status="refused", error=refused.code, response=b"")
    refused.headers = _answer_headers(call)
    return refused


def _answer_headers(call: Call) -> dict[str, str]:
    return {"X-Road-Id": call.request_id, "X-Road-Request-Hash": base64.b64encode(call.request_hash).decode()}


def _authorize(call: Call, request: Request) -> tuple[ServiceTerms, set[str]]:
    """The service, and the fields this consumer may receive from it for this call."""
    context = call.context
    service = context.service
    if service is None or not service.is_active:
        raise refusal("service_not_found")
    if service.key_parameter:
        key = request.query_params.get(service.key_parameter, "")
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
    request: Request, session: AsyncSession, call: Call, service: ServiceTerms, path: str
) -> tuple[bytes, int, str]:
    """Answer from the hosted registry, or forward to the provider's own system."""
    if service.backend == "registry":
        key = request.query_params.get(service.key_parameter or "", "")
        if not key:
            raise refusal("key_missing")
        from govhub.registries.service import lookup  # the registries context's public function

        record = await lookup(
            session, registry_code=service.registry_code or "", version=service.registry_version or "", key=key
        )
        if record is None:
            raise refusal("record_not_found")
        return json.dumps(record, ensure_ascii=False).encode(), 200, "application/json"
    return await _forward(request, call, service, path)


async def _forward(request: Request, call: Call, service: ServiceTerms, path: str) -> tuple[bytes, int, str]:
    url = (service.remote_url or "").rstrip("/") + ("/" + path if path else "")
    if request.url.query:  # passed on as received (already encoded): re-encoding costs and can alter it
        url += "?" + request.url.query
    headers = {name: request.headers[name] for name in _FORWARDED if name in request.headers}
    headers.update({"X-Road-Id": call.request_id, "X-Road-Client": call.context.consumer_path})
    if call.user_id:
        headers["X-Road-UserId"] = call.user_id
    try:
        answer = await _http_client().request(
            request.method, url, content=await request.body(),
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
