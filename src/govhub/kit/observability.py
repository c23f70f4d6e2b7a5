"""Structured JSON logs with a request id, personal data masked, and Prometheus metrics."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govhub.kit.http import scope_header

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

HTTP_REQUESTS = Counter(
    "govhub_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "govhub_http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# Thai national IDs and juristic numbers (13 digits), emails and bearer secrets never reach logs.
_THIRTEEN_DIGITS = re.compile(r"(?<![\w-])(\d)[\d -]{10,14}(\d{2})(?![\w-])")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")
_SENSITIVE_KEYS = {"password", "token", "secret", "code", "otp", "authorization", "cookie"}
_NOT_PERSONAL = {"request_id", "timestamp", "route", "logger", "level"}
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _mask_text(text: str) -> str:
    """Mask 13-digit identifiers and emails inside free text."""
    text = _THIRTEEN_DIGITS.sub(lambda m: f"{m.group(1)}*********{m.group(2)}", text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def mask_recipient(value: str) -> str:
    """An email address or phone number with most of it hidden: 's***@example.go.th', '*******678'."""
    if "@" in value:
        masked = _mask_text(value)
        return masked if masked != value else "***"
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) < 7:
        return "***"
    # The last three digits are enough for a person to recognise their own number.
    return "*" * (len(digits) - 3) + digits[-3:]


def mask_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: redact secrets by key and mask identifiers in every value."""
    for key, value in list(event_dict.items()):
        if key in _NOT_PERSONAL:
            continue
        if any(word in key.lower() for word in _SENSITIVE_KEYS):
            event_dict[key] = "[redacted]"
        elif isinstance(value, str):
            event_dict[key] = _mask_text(value)
    return event_dict


def _add_request_id(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event_dict.setdefault("request_id", request_id_var.get())
    return event_dict


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Route structlog and stdlib logging to one JSON (or console) stream on stdout."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer()
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_id,
        mask_personal_data,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # uvicorn's own access log would duplicate ours, unmasked.
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").propagate = False


def get_logger(name: str) -> Any:
    """A structlog logger bound to a module name."""
    return structlog.get_logger(name)


class RequestObservabilityMiddleware:
    """Give every request an id, log one line for it and count it by route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = get_logger("govhub.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = scope_header(scope, b"x-request-id") or ""
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            # Label by template (/users/{id}), never the raw path: bounded metric cardinality.
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template).observe(elapsed)
            if template not in ("/healthz", "/metrics"):
                self.log.info(
                    "request",
                    method=method,
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                )
            request_id_var.reset(token)
