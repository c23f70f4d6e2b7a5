"""A provider agency's own system, run as a real HTTP server on loopback for the GDX tests."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

TAXPAYERS = {
    "0105561012346": {"tax_id": "0105561012346", "name": "บริษัท ครัวสุดา จำกัด", "vat_registered": True,
                      "revenue_last_year": 1250000000, "internal_note": "audit 2568"},
}


async def taxpayer(request: Request) -> JSONResponse:
    record = TAXPAYERS.get(request.path_params["tax_id"])
    if record is None:
        return JSONResponse({"error": "not found"}, status_code=404)
    # Echo what the exchange told us, so tests can check the headers it forwards.
    return JSONResponse({**record, "seen_client": request.headers.get("x-road-client"),
                         "seen_id": request.headers.get("x-road-id")})


async def person(request: Request) -> JSONResponse:
    national_id = request.query_params.get("national_id", "")
    return JSONResponse({"national_id": national_id, "first_name_th": "สมหญิง", "last_name_th": "ทดสอบ",
                         "birth_date": "1990-04-21", "address": "99 หมู่ 1 ต.บางกระสอ อ.เมืองนนทบุรี จ.นนทบุรี"})


async def slow(request: Request) -> PlainTextResponse:
    await asyncio.sleep(3)
    return PlainTextResponse("late")


async def broken(request: Request) -> PlainTextResponse:
    return PlainTextResponse("boom", status_code=500)


app = Starlette(routes=[
    Route("/taxpayers/{tax_id}", taxpayer),
    Route("/persons", person),
    Route("/slow", slow),
    Route("/broken", broken),
])
