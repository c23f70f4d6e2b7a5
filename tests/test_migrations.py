"""Migrations build the same schema as the models, from empty, on the run's database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from govhub.db import is_modelled, load_all_models
from tests.conftest import DATABASE_URL


async def test_models_and_migrations_agree():
    metadata = load_all_models()
    engine = create_async_engine(DATABASE_URL)

    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": is_modelled})
        return compare_metadata(context, metadata)

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    await engine.dispose()
    assert differences == [], f"models and migrations disagree: {differences}"


async def test_upgrade_from_empty_and_downgrade(tmp_path):
    """A second, empty database migrates to head, back to base, and to head again."""
    import asyncio

    from govhub.migrations.runner import downgrade, upgrade
    from tests import conftest

    if conftest.BACKEND == "postgresql":
        name = conftest.PG_DATABASE + "_mig"
        await conftest._postgres_admin(f'CREATE DATABASE "{name}"')
        url = conftest._postgres_url(name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    try:
        # Alembic's env runs its own event loop: call it off this test's loop.
        await asyncio.to_thread(upgrade, url)
        await asyncio.to_thread(downgrade, url, "base")
        await asyncio.to_thread(upgrade, url)
    finally:
        if conftest.BACKEND == "postgresql":
            await conftest._postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_have_a_single_head():
    """Parallel branches are merged, so the next migration has one parent to build on."""
    from alembic.script import ScriptDirectory

    from govhub.migrations.runner import alembic_config

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"several migration heads {heads}: add a merge revision"
