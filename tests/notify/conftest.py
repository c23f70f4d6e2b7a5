"""Notify fixtures: a real SMTP server on loopback, and mail settings pointed at it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from govhub.config import get_settings


def free_port() -> int:
    """A TCP port on loopback that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Inbox:
    """What the test SMTP server received: envelope recipients and parsed messages."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def] # noqa: N802
        """aiosmtpd's hook: keep the message."""
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """The messages delivered to one address."""
        return [message for rcpts, message in self.received if address in rcpts]


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """aiosmtpd on a free loopback port, with govhub's SMTP settings pointing at it (no TLS)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", port)
    monkeypatch.setattr(settings, "smtp_starttls", False)
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """SMTP settings pointing at a loopback port where no server listens."""
    settings = get_settings()
    monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(settings, "smtp_port", free_port())
    monkeypatch.setattr(settings, "smtp_starttls", False)
