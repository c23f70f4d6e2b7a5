"""The `govhub` command: serve, worker, db upgrade, demo, and administration tasks."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from govhub.config import get_settings
from govhub.opendata.cli import opendata_app
from govhub.payments.cli import payments_app

app = typer.Typer(help="govhub: digital government platform", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations", no_args_is_help=True)
app.add_typer(db_app, name="db")
evidence_app = typer.Typer(help="The GDX evidence log", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")
catalog_app = typer.Typer(help="The one-stop service's public-service catalog", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(payments_app, name="payments")
app.add_typer(opendata_app, name="opendata")
documents_app = typer.Typer(help="e-Documents: the internal CA and agencies' signing keys", no_args_is_help=True)
app.add_typer(documents_app, name="documents")
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
def demo(
    persons: Annotated[int, typer.Option(help="Synthetic people in DOPA's civil registration")] = 100_000,
    companies: Annotated[int, typer.Option(help="Synthetic juristic persons in DBD's registry")] = 20_000,
) -> None:
    """Load demo data (marked as demo) and print the demo accounts and agency systems."""
    from govhub.db import unit_of_work
    from govhub.exchange.demo import DEMO_CLIENT_SECRET, load_demo_exchange
    from govhub.exchange.repository import list_subsystems
    from govhub.identity.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, load_demo_identity
    from govhub.kit.observability import configure_logging
    from govhub.onestop.demo import load_demo_onestop
    from govhub.opendata.demo import load_demo_datastore, load_demo_opendata
    from govhub.payments.demo import load_demo_payments

    # The tables below are the output; per-record audit lines would bury them.
    configure_logging("WARNING", json=False)

    async def load() -> tuple[list[Any], list[Any], list[Any]]:
        async with unit_of_work() as session:
            accounts = await load_demo_identity(session)
        async with unit_of_work() as session:
            people = await load_demo_exchange(session, persons=persons, companies=companies)
        async with unit_of_work() as session:
            await load_demo_onestop(session)
        async with unit_of_work() as session:
            await load_demo_payments(session)
        async with unit_of_work() as session:
            tables = await load_demo_opendata(session)
        await load_demo_datastore(tables)
        async with unit_of_work() as session:
            systems = [(s.client_path, s.oauth_client_id) for s in await list_subsystems(session)]
        return accounts, people, systems

    with console.status("Loading demo data (registries of 100,000 people take a little while)..."):
        accounts, people, systems = asyncio.run(load())
    _print_accounts(accounts, DEMO_PASSWORD, DEMO_TOTP_SECRET)
    _print_registry_people(people)
    _print_systems(systems, DEMO_CLIENT_SECRET)


def _print_accounts(accounts: list[Any], password: str, totp_secret: str) -> None:
    table = Table(title="govhub demo accounts (demo data only)")
    for column in ("kind", "sign in with", "name", "2FA (TOTP)"):
        table.add_column(column)
    for demo_account, _account in accounts:
        identifier = demo_account.national_id or demo_account.email
        table.add_row(demo_account.kind.value, identifier, demo_account.full_name, "yes" if demo_account.totp else "-")
    console.print(table)
    console.print(f"Password for every demo account: [bold]{password}[/bold]")
    console.print(
        f"TOTP secret for accounts with 2FA: [bold]{totp_secret}[/bold] "
        "(add it to an authenticator app, or run: govhub totp-code)"
    )
    console.print("Foreigner signs in with the email address.")


def _print_registry_people(people: list[Any]) -> None:
    table = Table(title="Demo citizens in DOPA's civil registry (for 'Verify your identity')")
    for column in ("national ID", "name", "birth date", "laser code"):
        table.add_column(column)
    for person in people:
        table.add_row(person.national_id, person.full_name, person.birth_date_be, person.laser_code or "-")
    console.print(table)


def _print_systems(systems: list[tuple[str, str | None]], secret: str) -> None:
    table = Table(title="Demo agency systems on the exchange (client credentials, scope gdx)")
    table.add_column("subsystem")
    table.add_column("client_id")
    for path, client_id in systems:
        table.add_row(path, client_id or "-")
    console.print(table)
    console.print(f"Client secret of every demo agency system: [bold]{secret}[/bold]")


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


@catalog_app.command("load")
def catalog_load(
    paths: Annotated[list[Path] | None, typer.Argument(help="YAML files or directories (default: the demo catalog)")] = None,
) -> None:
    """Load public services from YAML: new ones are created, changed ones get a new manual version."""
    from govhub.onestop.catalog_cli import load

    raise typer.Exit(load(console, paths or []))


if __name__ == "__main__":
    app()


@documents_app.command("init-ca")
def documents_init_ca() -> None:
    """Create the internal document CA and a signing key for every agency (where none is configured)."""
    from govhub.db import unit_of_work
    from govhub.documents import keys
    from sqlalchemy import select

    from govhub.identity.models import Agency

    async def run() -> list[str]:
        async with unit_of_work() as session:
            authority = await keys.ensure_internal_ca(session)
            agencies = (await session.scalars(select(Agency).where(Agency.is_active.is_(True)))).all()
            for agency in agencies:
                await keys.ensure_agency_key(session, agency)
            return [authority.certificate_pem, *sorted(agency.code for agency in agencies)]

    pem, *codes = asyncio.run(run())
    console.print(f"Internal CA ready; signing keys for {len(codes)} agencies: {', '.join(codes)}")
    console.print("Give verifiers this CA certificate (PEM):")
    console.print(pem, markup=False, highlight=False)

