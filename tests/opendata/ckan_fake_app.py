"""A remote GDC portal for the harvest tests: CKAN's package_search with Thai GDC labels, as
data.go.th answers it, and static DCAT documents; served over real HTTP on loopback by uvicorn
in a thread, so tests can change the remote's data between harvests.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class FakePortal:
    """The remote site's state: its packages (any state), DCAT documents and the requests it saw."""

    packages: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    clock: datetime = field(default_factory=lambda: datetime(2024, 3, 1, 10, 0, tzinfo=UTC))

    def tick(self) -> str:
        """A later metadata_modified, as CKAN writes it (naive UTC with microseconds)."""
        self.clock += timedelta(minutes=1, microseconds=1234)
        return self.clock.replace(tzinfo=None).isoformat(timespec="microseconds")

    def put(self, record: dict[str, Any]) -> dict[str, Any]:
        """Add or change a package, stamping it as modified now."""
        record = {**record, "metadata_modified": self.tick()}
        self.packages[record["id"]] = record
        return record

    def app(self) -> Starlette:
        """The ASGI app serving this state."""
        return Starlette(routes=[
            Route("/api/3/action/status_show", self._status),
            Route("/api/3/action/package_search", self._package_search),
            Route("/dcat/{path:path}", self._document),
            Route("/redirect-to-file", lambda request: RedirectResponse("file:///etc/passwd", status_code=302)),
            Route("/huge.ttl", self._huge),
        ])

    async def _status(self, request: Request) -> JSONResponse:
        self.requests.append(str(request.url))
        return JSONResponse({"help": "", "success": True, "result": {
            "ckan_version": "2.10.4", "site_title": "ศูนย์กลางข้อมูลเปิดภาครัฐ (ทดสอบ)", "extensions": ["thai_gdc"]}})

    async def _package_search(self, request: Request) -> JSONResponse:
        self.requests.append(str(request.url))
        params = request.query_params
        visible = [p for p in self.packages.values() if p.get("state", "active") == "active" and not p.get("private")]
        fq = params.get("fq", "")
        if fq:
            match = re.fullmatch(r"metadata_modified:\[(\S+) TO \*\]", fq)
            if not match:
                return JSONResponse({"success": False, "error": {"__type": "Search Query Error"}}, status_code=409)
            since = datetime.fromisoformat(match.group(1).replace("Z", "+00:00")).replace(tzinfo=None)
            visible = [p for p in visible if datetime.fromisoformat(p["metadata_modified"]) >= since]
        if params.get("sort", "metadata_modified asc") != "metadata_modified asc":
            return JSONResponse({"success": False, "error": {"__type": "Validation Error"}}, status_code=409)
        visible.sort(key=lambda p: (p["metadata_modified"], p["id"]))
        start, rows = int(params.get("start", 0)), min(int(params.get("rows", 10)), 1000)
        page = visible[start:start + rows]
        if params.get("fl"):
            fields = params["fl"].split(",")
            page = [{key: p.get(key) for key in fields} for p in page]
        return JSONResponse({"help": "", "success": True, "result": {
            "count": len(visible), "results": page, "facets": {}, "search_facets": {}, "sort": "metadata_modified asc"}})

    async def _document(self, request: Request) -> Response:
        self.requests.append(str(request.url))
        found = self.documents.get(request.path_params["path"])
        if found is None:
            return Response("not found", status_code=404)
        body, media_type = found
        return Response(body, media_type=media_type)

    async def _huge(self, request: Request) -> Response:
        return Response(b"# " + b"x" * 200_000, media_type="text/turtle")


class ServedApp:
    """An ASGI app served by uvicorn in a daemon thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the fake portal did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def gdc_record(remote_id: str, name: str, organization: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A package as a GDC portal's package_search returns it: Thai labels, "{a,b}" lists, strings for flags."""
    record: dict[str, Any] = {
        "id": remote_id, "name": name, "title": f"ชุดข้อมูล {name}", "notes": "ข้อมูลจากพอร์ทัลต้นทาง",
        "type": "dataset", "state": "active", "private": False, "owner_org": organization["id"],
        "organization": organization, "license_id": "Open-D", "license_title": "Open Data Common",
        "url": "", "maintainer": "ฝ่ายเทคโนโลยีสารสนเทศ", "maintainer_email": "it@agency.example.go.th",
        "data_type": "ข้อมูลสถิติ", "objective": "{ยุทธศาสตร์ชาติ,เพื่อการให้บริการประชาชน}",
        "update_frequency_unit": "ปี", "update_frequency_interval": "1", "geo_coverage": "ประเทศ",
        "data_source": "กองสถิติ", "data_format": "{CSV,Database}", "data_category": "ข้อมูลสาธารณะ",
        "data_classification": "เปิดเผย", "data_language": "{ไทย}", "high_value_dataset": "True",
        "reference_data": "False", "allow_harvest": "True", "created_date": "2566-01-15",
        "last_updated_date": "2567-06-30", "first_year_of_data": "2558", "last_year_of_data": "2566",
        "unit_of_measure": "คน",
        "tags": [{"name": "สถิติ", "display_name": "สถิติ"}, {"name": "ภาษี/อากร", "display_name": "ภาษี/อากร"}],
        "groups": [], "extras": [{"key": "data_support", "value": "หน่วยงานของรัฐ"}],
        "resources": [{"id": f"{remote_id}-r1", "name": "ข้อมูล CSV", "description": "ไฟล์ข้อมูล", "format": "CSV",
                       "url": f"https://remote.example.go.th/dataset/{name}/resource/1/download/data.csv",
                       "url_type": "upload"}],
    }
    record.update(overrides)
    return record
