"""Demo data of the one-stop service: the demo catalog, and each agency's one-stop subsystem."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from govhub.identity.models import Agency
from govhub.onestop import catalog
from govhub.onestop.applications import ONESTOP_SUBSYSTEM
from govhub.onestop.models import PublicService


async def load_demo_onestop(session: AsyncSession) -> None:
    """Load the demo catalog; give every agency with services a subsystem that prefill reads through."""
    from govhub.exchange.demo import demo_subsystem

    await catalog.load(session, catalog.read_paths([catalog.DEMO_CATALOG]), demo=True)
    codes = (await session.scalars(
        select(Agency.code).join(PublicService, PublicService.agency_id == Agency.id).distinct()
    )).all()
    for code in sorted(codes):
        await demo_subsystem(session, code, ONESTOP_SUBSYSTEM, "ระบบบริการแบบเบ็ดเสร็จ (One-Stop Service)")
