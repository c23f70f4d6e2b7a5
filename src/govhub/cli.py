"""The `govhub` command: serve, worker, db upgrade, demo, and administration tasks."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from govhub.config import get_settings

app = typer.Typer(help="govhub: digital government platform", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations", no_args_is_help=True)
app.add_typer(db_app, name="db")
evidence_app = typer.Typer(help="The GDX evidence log", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")
console = Console()


@db_app.command("upgrade")
def db_upgrade(revision: str = "heads") -> None:
    """Migrate the database to the newest schema (or to REVISION)."""
    from govhub.migrations.runner import upgrade

    upgrade(get_settings().database_url, revision)
    console.print(f"[green]Database at {revision}[/green]")


@db_app.command("downgrade")
def db_downgrade(revision: str = "-1") -> None:
    """Step the schema back (to REVISION)."""
    from govhub.migrations.runner import downgrade

    downgrade(get_settings().database_url, revision)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (GOVHUB_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (GOVHUB_PORT, default 8000)")] = None,
    workers: Annotated[int, typer.Option(help="Web worker processes")] = 1,
    reload: bool = False,
) -> None:
    """Serve the portal and APIs with uvicorn."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "govhub.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        # Trust X-Forwarded-* only from the reverse proxy's address.
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        access_log=False,
        server_header=False,
    )


@app.command()
def worker(threads: Annotated[int, typer.Option(help="Worker threads")] = 2) -> None:
    """Run background jobs (and the outbox relay) until stopped."""
    from govhub.jobs import huey, registered_jobs
    from govhub.jobs.registry import load_all_jobs
    from govhub.kit.observability import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    load_all_jobs()
    console.print(f"[bold]govhub worker[/bold] on {settings.job_backend}: {', '.join(registered_jobs())}")
    consumer = huey.create_consumer(workers=threads, worker_type="thread", periodic=True, check_worker_health=True)
    consumer.run()


@app.command()
def demo() -> None:
    """Load demo data (marked as demo) and print the demo accounts."""
    from govhub.db import unit_of_work
    from govhub.identity.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, load_demo_identity

    from govhub.kit.observability import configure_logging

    # The table below is the output; per-record audit lines would bury it.
    configure_logging("WARNING", json=False)

    async def load() -> list[tuple[object, object]]:
        async with unit_of_work() as session:
            return await load_demo_identity(session)  # type: ignore[return-value]

    accounts = asyncio.run(load())
    table = Table(title="govhub demo accounts (demo data only)")
    for column in ("kind", "sign in with", "name", "2FA (TOTP)"):
        table.add_column(column)
    for demo_account, _account in accounts:
        identifier = demo_account.national_id or demo_account.email  # type: ignore[attr-defined]
        table.add_row(
            demo_account.kind.value,  # type: ignore[attr-defined]
            identifier,
            demo_account.full_name,  # type: ignore[attr-defined]
            "yes" if demo_account.totp else "-",  # type: ignore[attr-defined]
        )
    console.print(table)
    console.print(f"Password for every demo account: [bold]{DEMO_PASSWORD}[/bold]")
    console.print(
        f"TOTP secret for accounts with 2FA: [bold]{DEMO_TOTP_SECRET}[/bold] "
        "(add it to an authenticator app, or run: govhub totp-code)"
    )
    console.print("Foreigner signs in with the email address.")


@app.command("rotate-signing-key")
def rotate_signing_key() -> None:
    """Start signing tokens with a new key; the old one stays in the JWKS until retired."""
    from govhub.identity.keys import main as keys_main

    keys_main(["rotate"])


@app.command("totp-code")
def totp_code(secret: str = "") -> None:
    """Print the current TOTP code for the demo secret (or SECRET): for trying the demo."""
    import pyotp

    from govhub.identity.demo import DEMO_TOTP_SECRET

    console.print(pyotp.TOTP(secret or DEMO_TOTP_SECRET).now())


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True)],
    full_name: Annotated[str, typer.Option(prompt=True)],
    national_id: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create a platform administrator (the first one, on a new installation)."""
    from govhub.db import unit_of_work
    from govhub.identity.models import AccountKind
    from govhub.identity.service import create_staff_account
    from govhub.kit.errors import AppError

    async def create() -> None:
        async with unit_of_work() as session:
            await create_staff_account(
                session, kind=AccountKind.ADMIN, email=email, full_name=full_name,
                national_id=national_id, password=password,
            )

    try:
        asyncio.run(create())
    except AppError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    console.print("[green]Administrator created. They must set up two-factor authentication at first sign-in.[/green]")


@evidence_app.command("verify")
def evidence_verify() -> None:
    """Recompute the evidence Merkle tree, check every checkpoint, name the first bad record."""
    from govhub.exchange.evidence_cli import verify

    raise typer.Exit(verify(console))


@evidence_app.command("checkpoint")
def evidence_checkpoint() -> None:
    """Publish a signed checkpoint of the evidence log now."""
    from govhub.exchange.evidence_cli import checkpoint

    raise typer.Exit(checkpoint(console))


if __name__ == "__main__":
    app()
