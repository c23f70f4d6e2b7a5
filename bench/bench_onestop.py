"""One-stop service: applications with GDX prefill, officers' actions, and catalog search.

One run, on a fresh PostgreSQL database, against `govhub serve --workers W`:

  * the demo agencies, the DOPA and DBD registries (--persons synthetic people, --companies
    companies) and the demo catalog are loaded with govhub's own demo loaders; --applicants
    business representatives are registered with identity's service functions, each in the
    civil registry, identity-verified (IAL2, as proofing leaves them) and the director (in the
    DBD registry) of her own company, and NBM officers holding the reviewer, approver and
    finance roles (with TOTP);
  * applicants and officers sign in over HTTP (password; officers also a TOTP code);
  * **applications**: C applicants at a time each do what a browser does for the food-shop
    permit, and nothing else: GET the apply page, POST consent=yes (the draft is filled through
    GDX from the civil and the company registries: a consent recorded, two exchange calls,
    two evidence records), GET and POST the three e-form pages (upload of two small PDFs on the
    third), GET the review page, POST submit, GET the acknowledgement with its tracking
    number. --applications of them, counted from the first to the last.
    Baseline in the same run: the same flow with consent=no, the applicant typing the four
    values instead, so the cost of the prefill is the difference; and GET /healthz;
  * **officer actions**: C officer desks take the submitted cases one by one: the reviewer
    opens the queue and the case, accepts it, records the inspection (with a comment), the
    approver approves and finance confirms the payment; each action is a POST of the case
    page's form (with its CSRF token and the case's version), each followed by the case page
    the redirect leads to;
  * **catalog search**: GET /services with Thai words, English words, filters and page 2, on
    the 34 demo services first (baseline), then after loading --services generated services
    (the demo ones varied: one of 462 districts' Thai and English name in the title, so that a
    district's name finds about twenty services) through `catalog.load`, whose time is reported.

Also printed: SQL statements and CPU per request of applications, officers' actions and
searches (in-process on the same database, before the server starts), lock waits sampled in
PostgreSQL during each phase, CPU per operation of the server, PostgreSQL and the load
generator, peak RSS of the server processes and of the load generator. A phase disturbed by
other processes is measured again (--noisy-retries, within --budget).

    .venv/bin/python bench/bench_onestop.py                 # W = 2, C = 8, ~4 minutes
    .venv/bin/python bench/bench_onestop.py --applications 400 --concurrency 16 --workers 4
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402
from common import Exhausted, OperationFailed, heading, say  # noqa: E402

PASSWORD = "bench-onestop-password-2569"
SERVICE = "food-shop-permit"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PREMISES = {"shop_name": "ครัวทดสอบ สาขางามวงศ์วาน", "shop_address": "99 ถนนงามวงศ์วาน อำเภอเมืองนนทบุรี",
            "area_sqm": "250", "seats": "60"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')
TRACKING = re.compile(r"NBM-\d{4}-\d{6}-[0-9A-Z]")
RESULT_COUNT = re.compile(r'class="result-count">(\d+) service')
FORM_PAGE = re.compile(r"^/applications/([^/]+)/form/0$")
# The food-shop permit's workflow to a permit, and the officer role that takes each action.
ACTIONS = (("accept", "reviewer", ""), ("inspected", "reviewer", "ตรวจสถานที่แล้ว ถูกสุขลักษณะ ระบายอากาศดี"),
           ("approve", "approver", ""), ("confirm_payment", "finance", ""))
ROLES = ("reviewer", "approver", "finance")


# --- arrangement, through govhub's own service functions ----------------------------------


@dataclass
class Person:
    """A business representative: her account's identifiers, and her client once signed in."""

    email: str
    national_id: str
    full_name: str
    juristic_id: str
    company_name: str
    client: Any = None


@dataclass
class Officer:
    email: str
    role: str
    totp_secret: str
    client: Any = None


@dataclass
class Arranged:
    applicants: list[Person] = field(default_factory=list)
    officers: list[Officer] = field(default_factory=list)
    probe_applicant: Person | None = None
    probe_officers: list[Officer] = field(default_factory=list)


def _registry_rows(persons: int, companies: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The people and companies `load_demo_exchange` puts in the registries (same seed, same steps)."""
    from govhub.exchange import demo
    from govhub.registries import synthetic

    people = list(synthetic.generate_persons(persons, seed=demo.SEED))
    demo_people = demo._demo_citizens(people)
    rows = list(synthetic.generate_companies(companies, seed=demo.SEED, persons=people))
    demo._demo_company(rows[0], demo_people)
    return people, rows


async def arrange(args: argparse.Namespace) -> tuple[Arranged, dict[str, float]]:
    """Demo data, applicants (directors of their companies) and NBM officers with TOTP."""
    import pyotp

    from govhub.db import dispose_engine, unit_of_work
    from govhub.exchange.demo import load_demo_exchange
    from govhub.identity import passwords, repository
    from govhub.identity import service as identity
    from govhub.identity.demo import DEMO_ACCOUNTS, load_demo_identity
    from govhub.identity.models import AccountKind, OfficerRole
    from govhub.identity.totp import seal
    from govhub.kit.clock import utcnow
    from govhub.onestop.demo import load_demo_onestop
    from govhub.registries.service import lookup

    seconds: dict[str, float] = {}
    arranged = Arranged()
    # Every account gets the same password: hash it once at the production cost and let the
    # registrations below store that hash (this process only; the server verifies it in full).
    stored = passwords.hash_password(PASSWORD)

    async def same_hash(_password: str) -> str:
        return stored

    original = identity.hash_password_async
    identity.hash_password_async = same_hash  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        async with unit_of_work() as session:
            await load_demo_identity(session)
        async with unit_of_work() as session:
            await load_demo_exchange(session, persons=args.persons, companies=args.companies)
        async with unit_of_work() as session:
            await load_demo_onestop(session)
        seconds["demo"] = time.perf_counter() - started

        started = time.perf_counter()
        people, companies = _registry_rows(args.persons, args.companies)
        by_id = {person["national_id"]: person for person in people}
        taken = {demo.national_id for demo in DEMO_ACCOUNTS if demo.national_id}
        wanted = args.applicants + 1  # one more for the in-process statement count
        chosen: list[Person] = []
        for company in companies[1:]:
            directors = [d for d in company.get("directors") or [] if d in by_id and d not in taken]
            if not directors:
                continue
            person = by_id[directors[0]]
            taken.add(person["national_id"])
            chosen.append(Person(
                email=f"bench-biz-{len(chosen):04d}@example.go.th", national_id=person["national_id"],
                full_name=f"{person['given_name_th']} {person['surname_th']}",
                juristic_id=company["registration_number"], company_name=company["name_th"],
            ))
            if len(chosen) == wanted:
                break
        if len(chosen) < wanted:
            raise RuntimeError(f"only {len(chosen)} companies with a free director: raise --companies")
        async with unit_of_work() as session:
            for person in chosen:
                account = await identity.register_account(session, data=identity.Registration(
                    kind=AccountKind.BUSINESS, email=person.email, full_name=person.full_name, password=PASSWORD,
                    national_id=person.national_id, juristic_id=person.juristic_id, juristic_name=person.company_name,
                ))
                # What identity proofing against the civil registry ends with (prefill needs IAL2).
                await identity.mark_identity_verified(session, account=account, source="civil-registry")
            # The registries really list each applicant as her company's director.
            for person in (chosen[0], chosen[-1]):
                company = await lookup(session, registry_code="juristic-persons", version="1.0", key=person.juristic_id)
                if not company or person.national_id not in company.get("directors", []):
                    raise RuntimeError(f"{person.juristic_id}: not found in the registry with its director")
            nbm = await repository.agency_by_code(session, "NBM")
            assert nbm is not None
            desks = args.concurrency + 1  # one desk more for the statement count
            for desk in range(desks):
                for role in ROLES:
                    secret = pyotp.random_base32()
                    email = f"bench-officer-{role}-{desk:02d}@nbm.go.th"
                    account = await identity.create_staff_account(
                        session, kind=AccountKind.OFFICER, email=email, full_name=f"เจ้าหน้าที่ {role} {desk}",
                        national_id=_officer_national_id(desk, role), password=PASSWORD, agency_id=nbm.id,
                        roles=[OfficerRole(role)],
                    )
                    account.totp_secret_encrypted = seal(secret)
                    account.totp_enabled_at = utcnow()
                    officer = Officer(email, role, secret)
                    (arranged.probe_officers if desk == desks - 1 else arranged.officers).append(officer)
        arranged.probe_applicant, arranged.applicants = chosen[-1], chosen[:-1]
        seconds["accounts"] = time.perf_counter() - started
    finally:
        identity.hash_password_async = original  # type: ignore[assignment]
        await dispose_engine()
    return arranged, seconds


def _officer_national_id(desk: int, role: str) -> str:
    from govhub.kit.thai_ids import with_check_digit

    return with_check_digit(f"19{ROLES.index(role)}99{desk:07d}")


# --- browsers -----------------------------------------------------------------------------------


KEEP_ALIVE = False
RETRIES = 1  # --noisy-retries
DEADLINE = float("inf")  # time.monotonic() after which no phase is measured again (--budget)
WAIT_QUIET = 0.0  # seconds to wait, before each phase, for other processes to leave the CPUs


def browser(base_url: str, transport: Any = None) -> Any:
    """One person's browser: its own cookie jar; a new connection per request unless --keep-alive
    (uvicorn's workers race to accept(), and one kept-alive connection stays with one worker)."""
    import httpx

    headers = None if KEEP_ALIVE or transport is not None else {"connection": "close"}
    return httpx.AsyncClient(base_url=base_url, timeout=60, follow_redirects=False, headers=headers,
                             transport=transport, limits=httpx.Limits(max_connections=1))


class Steps:
    """Times each request of one operation, under a name per kind of request."""

    def __init__(self, http: Any, sql: list[str] | None = None) -> None:
        self.http, self.sql = http, sql
        self.times: dict[str, list[float]] = {}
        # With `sql`: (request, the SQL it sent, CPU seconds of this process while it ran).
        self.statements: list[tuple[str, list[str], float]] = []

    async def request(self, name: str, method: str, url: str, *, expect: int, **kwargs: Any) -> Any:
        before = len(self.sql) if self.sql is not None else 0
        cpu = time.process_time()
        started = time.perf_counter()
        response = await self.http.request(method, url, **kwargs)
        self.times.setdefault(name, []).append(time.perf_counter() - started)
        if self.sql is not None:
            self.statements.append((f"{method} {name}", self.sql[before:], time.process_time() - cpu))
        if response.status_code != expect:
            raise OperationFailed(f"{method} {name} {response.status_code}")
        return response

    async def get(self, name: str, url: str, expect: int = 200) -> Any:
        return await self.request(name, "GET", url, expect=expect)

    async def post(self, name: str, url: str, data: dict[str, str], token: str, *, files: Any = None,
                   expect: int = 303) -> Any:
        return await self.request(name, "POST", url, expect=expect, data={**data, "csrf_token": token}, files=files)


def _token(response: Any) -> str:
    match = CSRF.search(response.text)
    if match is None:
        raise OperationFailed(f"no CSRF field in {response.request.url.path}")
    return match.group(1)


async def sign_in(http: Any, email: str, totp_secret: str | None = None) -> None:
    """Password sign-in; then the TOTP code when the account has one (officers)."""
    import pyotp

    page = await http.get("/sign-in")
    response = await http.post("/sign-in", data={"identifier": email, "password": PASSWORD, "csrf_token": _token(page)})
    if response.status_code != 303:
        raise RuntimeError(f"sign-in of {email}: {response.status_code}")
    if totp_secret is None:
        return
    if not response.headers["location"].startswith("/sign-in/second-factor"):
        raise RuntimeError(f"sign-in of {email}: no second factor asked ({response.headers['location']})")
    page = await http.get(response.headers["location"])
    response = await http.post("/sign-in/second-factor", data={
        "code": pyotp.TOTP(totp_secret).now(), "csrf_token": _token(page)})
    if response.status_code != 303:
        raise RuntimeError(f"second factor of {email}: {response.status_code} {response.text[:300]}")


async def sign_in_everyone(base_url: str, people: list[Any], concurrency: int) -> float:
    """Sign these applicants or officers in, C at a time (argon2id at the production cost)."""
    started = time.perf_counter()
    queue: asyncio.Queue[tuple[Any, str | None]] = asyncio.Queue()
    for someone in people:
        queue.put_nowait((someone, getattr(someone, "totp_secret", None)))

    async def worker() -> None:
        while not queue.empty():
            someone, secret = queue.get_nowait()
            someone.client = browser(base_url)
            await sign_in(someone.client, someone.email, secret)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


# --- an application, as a browser makes it --------------------------------------------------------


async def application_flow(
    http: Any, person: Person, *, prefill: bool, sql: list[str] | None = None,
) -> tuple[dict[str, list[float]], str, list[tuple[str, list[str], float]]]:
    """Apply (with consent and GDX prefill, or typing the values), fill three pages, upload two
    PDFs, review, submit and read the acknowledgement. Returns the timings, the case id and,
    with `sql` (a log of statements), the statements each request sent."""
    steps = Steps(http, sql)
    started = time.perf_counter()
    page = await steps.get("apply page", f"/services/{SERVICE}/apply")
    response = await steps.post("apply", f"/services/{SERVICE}/apply", {"consent": "yes" if prefill else "no"},
                                _token(page))
    match = FORM_PAGE.match(response.headers.get("location", ""))
    if match is None:
        raise OperationFailed("apply: no draft")
    application_id = match.group(1)
    base = f"/applications/{application_id}"
    page = await steps.get("form page", f"{base}/form/0")
    if prefill:
        for value in (person.national_id, person.juristic_id):
            if f'value="{value}"' not in page.text:
                raise OperationFailed("prefill: the form's first page lacks a value from the registries")
        typed: dict[str, str] = {}
    else:
        typed = {"applicant_national_id": person.national_id, "applicant_name": person.full_name,
                 "juristic_id": person.juristic_id, "company_name": person.company_name}
    response = await steps.post("page post", f"{base}/form/0", {**typed, "intent": "next"}, _token(page))
    page = await steps.get("form page", response.headers["location"])
    response = await steps.post("page post", f"{base}/form/1", {**PREMISES, "intent": "next"}, _token(page))
    page = await steps.get("form page", response.headers["location"])
    files = {"floor_plan": ("plan.pdf", PDF, "application/pdf"),
             "hygiene_certificate": ("training.pdf", PDF, "application/pdf")}
    response = await steps.post("upload", f"{base}/form/2", {"intent": "next"}, _token(page), files=files)
    if response.headers.get("location") != f"{base}/review":
        raise OperationFailed(f"upload -> {response.headers.get('location')}")
    page = await steps.get("review page", f"{base}/review")
    response = await steps.post("submit", f"{base}/submit", {}, _token(page))
    if response.headers.get("location") != f"{base}/submitted":
        raise OperationFailed(f"submit -> {response.headers.get('location')}")
    page = await steps.get("acknowledgement", f"{base}/submitted")
    if not TRACKING.search(page.text):
        raise OperationFailed("no tracking number")
    steps.times["flow"] = [time.perf_counter() - started]
    return steps.times, application_id, steps.statements


async def officer_flow(
    desk: dict[str, Officer], application_id: str, sql: list[str] | None = None,
    statements: list[tuple[str, list[str], float]] | None = None,
) -> tuple[dict[str, list[float]], list[float]]:
    """The case from submitted to permit issued, each action by the officer whose role takes it:
    the case page (for the form's token and the case's version), the POST, and the case page it
    redirects to. The reviewer first opens her queue ("cases I can act on"). Returns the
    timings per kind of request and the time of each action's POST."""
    case = f"/backoffice/applications/{application_id}"
    times: dict[str, list[float]] = {}
    posts: list[float] = []
    page: Any = None
    current_role = None
    for action, role, comment in ACTIONS:
        steps = Steps(desk[role].client, sql)
        if role != current_role:
            if role == "reviewer":
                await steps.get("queue page", "/backoffice/applications?mine=1")
            page = await steps.get("case page", case)
            current_role = role
        position = page.text.find(f'/actions/{action}"')
        if position < 0:
            raise OperationFailed(f"{action}: not offered to the {role}")
        version = VERSION.search(page.text, position)
        if version is None:
            raise OperationFailed(f"{action}: no version field")
        await steps.post(f"action {action}", f"{case}/actions/{action}",
                         {"comment": comment, "version": version.group(1)}, _token(page))
        posts += steps.times[f"action {action}"]
        page = await steps.get("case page", f"{case}?done=action")
        for name, values in steps.times.items():
            times.setdefault(name, []).extend(values)
        if statements is not None:
            statements.extend(steps.statements)
    if "/actions/" in page.text:
        raise OperationFailed("actions still offered after the permit was issued")
    times["case"] = [sum(posts)]
    times["action (any)"] = posts
    return times, posts


# --- the catalog of 10,000 services ------------------------------------------------------------------


@dataclass
class Catalog:
    definitions: list[Any]
    # Of every service after loading (demo ones too): search text, audiences, business types.
    entries: list[tuple[str, set[str], set[str]]]
    thai_words: list[str]
    english_words: list[str]


def generate_catalog(count: int) -> Catalog:
    """`count` services made from the demo ones, each titled with a district (Thai and English)."""
    from urllib.parse import urlencode

    from govhub.onestop import catalog
    from govhub.onestop.definitions import Text
    from govhub.registries import synthetic

    demo = [service for document in catalog.read_paths([catalog.DEMO_CATALOG]) for service in document.services]
    districts = sorted(synthetic._data().districts.values(), key=lambda d: d.code)
    rng = random.Random(2569)
    pairs = [(s, d) for s in range(len(demo)) for d in range(len(districts))]
    if count > len(pairs):
        raise ValueError(f"at most {len(pairs)} generated services")
    chosen = rng.sample(pairs, count)
    definitions = []
    used: Counter[int] = Counter()
    for service_index, district_index in chosen:
        base, district = demo[service_index], districts[district_index]
        used[district_index] += 1
        definitions.append(base.model_copy(update={
            "code": f"{base.code}-{district.code}",
            "title": Text(th=f"{base.title.th} ({district.name_th})", en=f"{base.title.en} ({district.name_en})"),
            "keywords": [*base.keywords, district.name_th, district.province.name_th],
        }))
    everything = demo + definitions
    entries = [(catalog._search_text(d), {a.value for a in d.audiences}, {b.value for b in d.business_types})
               for d in everything]
    generated = Catalog(definitions, entries, [], [])
    # Queries: names of districts that some services carry and that find a few services (1 to
    # 30: "เมือง" alone is in 76 district names, "Bang" in many English ones).
    picks = [districts[i] for i, _n in sorted(used.items())]
    rng.shuffle(picks)
    for district in picks:
        for words, name in ((generated.thai_words, district.name_th), (generated.english_words, district.name_en)):
            if len(words) < 50 and 1 <= expected_hits(generated, "/services?" + urlencode({"q": name})) <= 30:
                words.append(name)
        if len(generated.thai_words) == len(generated.english_words) == 50:
            break
    return generated


def expected_hits(generated: Catalog, url: str) -> int:
    """How many services the search at url finds, computed here as search_services defines it:
    every word a substring of the search text, every filter a member of its list."""
    from urllib.parse import parse_qs, urlsplit

    from govhub.onestop import catalog

    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    words = catalog.search_words(query.get("q", ""))
    audience, business_type = query.get("audience"), query.get("business_type")
    return sum(
        1 for text, audiences, business_types in generated.entries
        if all(word in text for word in words) and (not audience or audience in audiences)
        and (not business_type or business_type in business_types)
    )


async def load_catalog(definitions: list[Any], batch: int) -> float:
    """Load the generated services with catalog.load, `batch` per transaction; seconds taken."""
    from govhub.db import dispose_engine, unit_of_work
    from govhub.onestop import catalog
    from govhub.onestop.definitions import CatalogFile

    started = time.perf_counter()
    try:
        for offset in range(0, len(definitions), batch):
            document = CatalogFile.model_construct(agencies=[], services=definitions[offset : offset + batch])
            async with unit_of_work() as session:
                report = await catalog.load(session, [document])
            if len(report.created) != len(document.services):
                raise RuntimeError(f"catalog.load created {len(report.created)} of {len(document.services)}")
    finally:
        await dispose_engine()
    return time.perf_counter() - started


SEARCHES = ("Thai word", "English word", "Thai, broad", "filters", "filters, page 2", "English, broad, page 2")


def search_url(kind: str, index: int, catalog: Catalog | None) -> str:
    from urllib.parse import urlencode

    thai = catalog.thai_words if catalog else ["อาหาร", "ใบอนุญาต", "ทะเบียน"]
    english = catalog.english_words if catalog else ["food", "permit", "registration"]
    query: dict[str, str] = {"lang": "en"}
    if kind == "Thai word":
        query["q"] = thai[index % len(thai)]
    elif kind == "English word":
        query["q"] = english[index % len(english)]
    elif kind == "Thai, broad":
        query["q"] = "อาหาร"
    elif kind == "filters":
        query.update(audience="business", business_type="restaurant")
    elif kind == "filters, page 2":
        query.update(audience="business", business_type="restaurant", page="2")
    else:
        query.update(q="permit", page="2")
    return "/services?" + urlencode(query)


def search_operation(catalog: Catalog | None, total: int, expected: dict[str, int] | None) -> Any:
    """operation(client, i): the i-th search, kinds in turn; stops after `total`."""

    async def search(http: Any, index: int) -> dict[str, float]:
        if index >= total:
            raise Exhausted()
        kind = SEARCHES[index % len(SEARCHES)]
        url = search_url(kind, index // len(SEARCHES), catalog)
        started = time.perf_counter()
        response = await http.get(url)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise OperationFailed(f"search {response.status_code}")
        found = RESULT_COUNT.search(response.text)
        if found is None:
            raise OperationFailed("search: no result count")
        if expected is not None and url in expected and int(found.group(1)) != expected[url]:
            raise OperationFailed(f"search: {found.group(1)} results, expected {expected[url]}")
        return {"search": elapsed, kind: elapsed}

    return search


# --- measurement helpers ------------------------------------------------------------------------


class WaitSampler:
    """Samples pg_stat_activity of the benchmark database: busy sessions, and what the
    sessions that wait on a lock are running (to find a hot row)."""

    def __init__(self, database: str, every: float = 0.05) -> None:
        self.database, self.every = database, every
        self.samples = 0
        self.busy = 0
        self.lock_waiters = 0
        self.waiting: Counter[str] = Counter()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        import asyncpg

        connection = await asyncpg.connect(common._plain(common.ADMIN_URL))
        try:
            while not self._stop.is_set():
                rows = await connection.fetch(
                    "SELECT state, wait_event_type, wait_event, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS q"
                    " FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", self.database)
                self.samples += 1
                for row in rows:
                    if row["state"] not in ("idle", None):
                        self.busy += 1
                    if row["wait_event_type"] == "Lock":
                        self.lock_waiters += 1
                        self.waiting[f"{row['wait_event']}: {row['q']}"] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=self.every)
        finally:
            await connection.close()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._task is not None:
            await self._task
        n = self.samples or 1
        return {
            "samples": self.samples, "busy_sessions_mean": round(self.busy / n, 2),
            "lock_waiters_mean": round(self.lock_waiters / n, 3),
            "top_lock_waits": [(query, round(count / n, 3)) for query, count in self.waiting.most_common(3)],
        }


class RssSampler:
    """Peak resident set of this process (the load generator) while phases run."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak_kib = max(self.peak_kib, common._status_kib(os.getpid(), "VmRSS"))
            await asyncio.sleep(0.25)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class Phase:
    name: str
    result: common.LoadResult
    waits: dict[str, Any]
    unit: str
    main: str  # the timing that p50/p99 refer to

    def summary(self) -> dict[str, Any]:
        r = self.result
        ok = r.ok or 1
        cores = os.cpu_count() or 1
        # CPU the benchmark's own processes used per operation: server, PostgreSQL, load generator.
        cpu_ms = (sum(r.server_cpu_by_pid.values()) + r.database_cpu + r.client_cpu) / ok * 1000
        return {
            **r.summary(self.main), "name": self.name, "unit": self.unit, "main": self.main,
            "concurrency": r.concurrency, "elapsed_s": round(r.elapsed, 2),
            "timings": {key: {"p50_ms": round(r.p(key, 50), 2), "p99_ms": round(r.p(key, 99), 2), "n": len(values)}
                        for key, values in r.timings.items()},
            "load_generator_cpu_ms_per_op": round(r.client_cpu / ok * 1000, 2),
            "cpu_ms_per_op": round(cpu_ms, 1), "cpu_ceiling_per_s": round(cores * 1000 / cpu_ms, 1) if cpu_ms else None,
            "machine_idle_pct": round(max(0.0, 100 - r.machine_cpu / (r.elapsed * cores) * 100), 1) if r.elapsed else 0,
            "server_cpu_by_process_s": [round(v, 2) for v in r.server_cpu_by_pid.values() if v >= 0.05],
            "waits": self.waits,
        }


def report(phase: Phase, order: tuple[str, ...] = ()) -> None:
    r, s = phase.result, phase.summary()
    say(f"  {phase.name:<44}" + r.line(phase.main, phase.unit))
    keys = [k for k in order if k in r.timings] + sorted(k for k in r.timings if k not in order and k != phase.main)
    for key in keys:
        values = r.timings[key]
        say(f"  {'':<46}{key:<24} p50 {r.p(key, 50):7.1f} ms  p99 {r.p(key, 99):7.1f} ms  n={len(values)}")
    per_process = ", ".join(f"{v:.1f}" for v in s["server_cpu_by_process_s"]) or "-"
    unit = phase.unit.removesuffix("s")
    say(f"  {'':<46}CPU ms/{unit}: server {s['server_cpu_ms_per_op']}"
        f" (per process s: {per_process}), PostgreSQL {s['database_cpu_ms_per_op']}, load generator"
        f" {s['load_generator_cpu_ms_per_op']} = {s['cpu_ms_per_op']} in all, i.e. at most {s['cpu_ceiling_per_s']}"
        f" {phase.unit}/s on {os.cpu_count()} cores; machine idle {s['machine_idle_pct']:.0f}%, noise {r.noise_pct:.0f}%")
    w = phase.waits
    if w:
        # Little's law: sessions waiting on average / operations per second = wait per operation.
        text = "; ".join(f"{share} ({share / r.rate * 1000 if r.rate else 0:.1f} ms per {unit}) on {query}"
                         for query, share in w["top_lock_waits"]) or "none"
        say(f"  {'':<46}PostgreSQL (sampled {w['samples']}x): busy sessions {w['busy_sessions_mean']},"
            f" waiting on a lock {w['lock_waiters_mean']}: {text}")
    if r.failures:
        say(f"  {'':<46}FAILURES: {dict(r.failures)}")


async def measured(
    name: str, database: str, server: common.Server, *, unit: str, main: str, concurrency: int,
    make_client: Callable[[int], Any], make_operation: Callable[[Samples], Any], retries: int | None = None,
) -> Phase:
    """closed_loop with PostgreSQL's waits sampled; per-request samples replace the operation's
    sums. While other processes disturbed a run (noise above common.NOISE_THRESHOLD_PCT), run it
    again, up to --noisy-retries times within --budget, with a new operation (make_operation
    returns None when there is no material left for another run); keep the quietest run."""
    best: Phase | None = None
    retries = RETRIES if retries is None else retries
    for attempt in range(1 + retries):
        samples = Samples()
        operation = make_operation(samples)
        if operation is None:
            break
        if attempt:
            say(f"    (other processes used {best.result.noise_pct:.0f}% of the CPUs during that run:"  # type: ignore[union-attr]
                " measuring again)")
        if WAIT_QUIET > 0:
            busy = common.wait_for_quiet(WAIT_QUIET)
            if busy > 0.15:
                say(f"  (other processes still use {busy * 100:.0f}% of the CPUs: measuring anyway)")
        sampler = WaitSampler(database)
        sampler.start()
        try:
            result = await common.closed_loop(name, server=server, concurrency=concurrency, duration=3600,
                                              make_client=make_client, operation=operation)
        finally:
            waits = await sampler.stop()
        result.timings.update(samples)
        phase = Phase(name, result, waits, unit, main)
        if best is None or phase.result.noise_pct < best.result.noise_pct:
            best = phase
        if best.result.noise_pct <= common.NOISE_THRESHOLD_PCT or time.monotonic() > DEADLINE:
            break
    assert best is not None
    return best


class Samples(dict):  # type: ignore[type-arg]
    """Every request's time by kind, for the whole phase (an operation makes several of a kind)."""

    def add(self, times: dict[str, list[float]]) -> None:
        for name, values in times.items():
            self.setdefault(name, []).extend(values)


class Slots:
    """closed_loop's per-client object: nothing to open, nothing to close (the browsers are
    the people's own, and live as long as their sessions)."""

    async def aclose(self) -> None:
        return None


# --- the run ---------------------------------------------------------------------------------------


async def drive(args: argparse.Namespace, arranged: Arranged, server: common.Server, database: str,
                generated: Catalog) -> dict[str, Any]:
    """Every measured phase against the running server."""
    out: dict[str, Any] = {}
    rss = RssSampler()
    rss.start()
    heading(f"Signing {len(arranged.applicants)} applicants in over HTTP")
    seconds = await sign_in_everyone(server.base_url, arranged.applicants, args.concurrency)
    say(f"  {seconds:.1f} s (argon2id at the production cost)")
    c = args.concurrency
    slots = lambda _i: Slots()  # noqa: E731
    browsers = lambda _i: browser(server.base_url)  # noqa: E731

    # --- applications ---
    free: asyncio.Queue[Person] = asyncio.Queue()
    for person in arranged.applicants:
        free.put_nowait(person)
    submitted: list[str] = []

    def applications(prefill: bool, total: int) -> Callable[[Samples], Any]:
        def make(samples: Samples) -> Any:
            async def operation(_slot: Any, index: int) -> dict[str, float]:
                if index >= total:
                    raise Exhausted()
                person = await free.get()  # each applicant makes one application at a time
                try:
                    times, application_id, _ = await application_flow(person.client, person, prefill=prefill)
                finally:
                    free.put_nowait(person)
                submitted.append(application_id)
                samples.add(times)
                return {"flow": times["flow"][0]}

            return operation

        return make

    order = ("apply page", "apply", "form page", "page post", "upload", "review page", "submit", "acknowledgement")
    heading(f"Applications for the food-shop permit: W = {args.workers}; each application is 11 requests")
    for prefill in (True, False):  # warm both paths (pools, caches, templates); not measured
        await common.closed_loop("warm-up", concurrency=c, duration=3600, make_client=slots,
                                 operation=applications(prefill, c)(Samples()))
    phases: dict[str, Phase] = {}
    kinds = (("prefill", True, "apply with consent: GDX prefill"), ("typed", False, "baseline: consent=no, values typed"))
    if args.solo:
        say(f"  one applicant at a time (C = 1), {args.solo} applications of each kind: latency without queueing")
        for key, prefill, label in kinds:
            phases["solo_" + key] = await measured(
                f"C=1: {label}", database, server, unit="applications", main="flow", concurrency=1,
                make_client=slots, make_operation=applications(prefill, args.solo))
            report(phases["solo_" + key], order)
    say(f"  C = {c} applicants at a time, {args.applications} applications of each kind")
    for key, prefill, label in kinds:
        phases[key] = await measured(label, database, server, unit="applications", main="flow", concurrency=c,
                                     make_client=slots, make_operation=applications(prefill, args.applications))
        report(phases[key], order)
    phases["healthz"] = await measured(
        "baseline: GET /healthz", database, server, unit="req", main="GET /healthz", concurrency=c,
        make_client=browsers, make_operation=lambda _samples: _healthz_for(args.healthz_requests))
    report(phases["healthz"])
    if args.solo:
        p, t = phases["solo_prefill"].result, phases["solo_typed"].result
        say(f"  C=1: prefill adds {p.p('apply', 50) - t.p('apply', 50):+.1f} ms at p50 to POST apply"
            f" ({t.p('apply', 50):.1f} -> {p.p('apply', 50):.1f} ms); whole flow p50 {t.p('flow', 50):.0f} ->"
            f" {p.p('flow', 50):.0f} ms")
    p, t = phases["prefill"].result, phases["typed"].result
    if p.ok and t.ok:
        say(f"  C={c}: prefill adds {p.p('apply', 50) - t.p('apply', 50):+.1f} ms at p50 to POST apply"
            f" ({t.p('apply', 50):.1f} -> {p.p('apply', 50):.1f} ms); {p.rate:.1f} against {t.rate:.1f} applications/s"
            f" ({p.rate / t.rate * 100:.0f}%); server CPU per application {phases['prefill'].summary()['server_cpu_ms_per_op']}"
            f" against {phases['typed'].summary()['server_cpu_ms_per_op']} ms")

    # --- officers ---
    desks = [{officer.role: officer for officer in arranged.officers[i * 3 : i * 3 + 3]} for i in range(c)]
    per_run = min(args.cases, len(submitted)) if args.cases else len(submitted)
    cursor = [0]
    heading(f"Officer actions: {per_run} submitted cases each to a permit (accept, inspected with a comment,"
            f" approve, confirm_payment), C = {c} desks of a reviewer, an approver and a finance officer")
    seconds = await sign_in_everyone(server.base_url, arranged.officers, args.concurrency)
    say(f"  {len(arranged.officers)} officers signed in over HTTP (password and TOTP) in {seconds:.1f} s")

    def officer_run(samples: Samples) -> Any:
        start = cursor[0]
        if start + per_run > len(submitted):
            return None  # no untouched cases left for another run
        cursor[0] += per_run
        cases = submitted[start : start + per_run]

        async def operation(desk: Desk, index: int) -> dict[str, float]:
            if index >= len(cases):
                raise Exhausted()
            times, _posts = await officer_flow(desk.officers, cases[index])
            samples.add(times)
            return {"case": times["case"][0]}

        return operation

    officer_phase = await measured("officer desks: case to permit", database, server, unit="cases", main="case",
                                   concurrency=c, make_client=lambda i: Desk(desks[i]), make_operation=officer_run)
    r = officer_phase.result
    action_times = r.timings.get("action (any)", [])
    actions_rate = len(action_times) / r.elapsed if r.elapsed else 0.0
    say(f"  {len(action_times)} actions in {r.elapsed:.1f} s = {actions_rate:.1f} actions/s (each a POST, then the"
        f" case page it redirects to); per POST p50 {r.p('action (any)', 50):.1f} ms, p99 {r.p('action (any)', 99):.1f} ms")
    report(officer_phase, ("queue page", "case page", "action accept", "action inspected", "action approve",
                           "action confirm_payment"))
    officer_summary = officer_phase.summary()
    officer_summary.update(actions=len(action_times), actions_rate=round(actions_rate, 2),
                           action_p50_ms=round(r.p("action (any)", 50), 2), action_p99_ms=round(r.p("action (any)", 99), 2))

    # --- catalog ---
    heading(f"Catalog search: GET /services, C = {c}, these kinds in turn: {'; '.join(SEARCHES)}")
    demo_search = await measured(
        "34 demo services (baseline)", database, server, unit="req", main="search", concurrency=c,
        make_client=browsers, make_operation=lambda _samples: search_operation(None, args.baseline_searches, None))
    report(demo_search, SEARCHES)
    say(f"  loading {len(generated.definitions):,} generated services with catalog.load"
        f" ({args.catalog_batch} per transaction) ...")
    load_seconds = await load_catalog(generated.definitions, args.catalog_batch)
    say(f"  loaded in {load_seconds:.1f} s = {len(generated.definitions) / load_seconds:.0f} services/s")
    expected: dict[str, int] = {}
    for index in range(max(len(generated.thai_words), len(generated.english_words))):
        for kind in SEARCHES:
            url = search_url(kind, index, generated)
            if url not in expected:
                expected[url] = expected_hits(generated, url)
    hits = {kind: sorted(expected[search_url(kind, i, generated)] for i in range(50)) for kind in SEARCHES}
    say("  services found per query: " + "; ".join(
        f"{kind} {statistics.median(values):.0f}" + (f" (median; {min(values)}-{max(values)})" if min(values) != max(values) else "")
        for kind, values in hits.items()))
    big_search = await measured(
        f"{len(generated.entries):,} services", database, server, unit="req", main="search", concurrency=c,
        make_client=browsers, make_operation=lambda _samples: search_operation(generated, args.searches, expected))
    report(big_search, SEARCHES)
    await rss.stop()
    out["phases"] = {key: phase.summary() for key, phase in phases.items()}
    out["phases"].update(officers=officer_summary, search_demo=demo_search.summary(), search_big=big_search.summary())
    out["catalog"] = {"services": len(generated.entries), "load_s": round(load_seconds, 2),
                      "hits_median": {k: statistics.median(v) for k, v in hits.items()}}
    out["load_generator_peak_rss_mib"] = round(rss.peak_kib / 1024, 1)
    out["failures"] = sum(p["failures"] for p in out["phases"].values())
    for someone in [*arranged.applicants, *arranged.officers]:
        await someone.client.aclose()
    return out


@dataclass
class Desk:
    """One officer desk of closed_loop: a reviewer, an approver and a finance officer."""

    officers: dict[str, Officer]

    async def aclose(self) -> None:
        return None


def _healthz_for(total: int) -> Any:
    async def healthz(http: Any, index: int) -> dict[str, float]:
        if index >= total:
            raise Exhausted()
        return await common.healthz(http, index, timing="GET /healthz")

    return healthz


async def check_database() -> dict[str, int]:
    """What the run left in the database: submitted cases, prefills, consents, evidence, permits."""
    from sqlalchemy import text

    from govhub.db import dispose_engine, unit_of_work

    queries = {
        "submitted": "SELECT count(*) FROM onestop_applications WHERE state <> 'draft'",
        "drafts": "SELECT count(*) FROM onestop_applications WHERE state = 'draft'",
        "prefilled": "SELECT count(*) FROM onestop_applications WHERE prefill_status = 'done'",
        "issued": "SELECT count(*) FROM onestop_applications WHERE state = 'issued'",
        "documents": "SELECT count(*) FROM onestop_application_documents",
        "events": "SELECT count(*) FROM onestop_application_events",
        "consents": "SELECT count(*) FROM gdx_consents",
        "evidence": "SELECT count(*) FROM evidence_records",
        "notifications": "SELECT count(*) FROM notifications",
    }
    found: dict[str, int] = {}
    try:
        async with unit_of_work() as session:
            for name, sql in queries.items():
                try:
                    async with session.begin_nested():
                        found[name] = int(await session.scalar(text(sql)) or 0)
                except Exception:  # noqa: BLE001 - a table name differs: report what can be read
                    found[name] = -1
    finally:
        await dispose_engine()
    return found


# --- SQL statements per request (in-process, same database) ---------------------------------------


async def statements_per_request(
    arranged: Arranged, generated: Catalog | None, repeat: int,
) -> list[tuple[str, list[str], float]]:
    """`repeat` applications of each kind, one case's actions and the searches, through the app in
    this process: the SQL statements each request sends (the evidence writer's too), and the CPU
    time it takes (app and in-process client together; the same client for every kind)."""
    import httpx
    from sqlalchemy import event

    from govhub.app import create_app
    from govhub.db import dispose_engine, get_engine

    app = create_app()
    sql: list[str] = []

    def before(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sql.append(" ".join(statement.split()))

    engine = get_engine()
    event.listen(engine.sync_engine, "before_cursor_execute", before)
    rows: list[tuple[str, list[str], float]] = []
    clients: list[Any] = []
    try:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        person = arranged.probe_applicant
        assert person is not None
        person.client = browser("http://testserver", transport)
        clients.append(person.client)
        await sign_in(person.client, person.email)
        submitted: list[str] = []
        for round_ in range(repeat + 1):  # the first round warms caches and is not shown
            for prefill in (True, False):
                _times, application_id, statements = await application_flow(
                    person.client, person, prefill=prefill, sql=sql)
                submitted.append(application_id)
                if round_:
                    rows += [(f"{'prefill' if prefill else 'typed'}: {name}", texts, cpu)
                             for name, texts, cpu in statements]
        desk: dict[str, Officer] = {}
        for officer in arranged.probe_officers:
            officer.client = browser("http://testserver", transport)
            clients.append(officer.client)
            await sign_in(officer.client, officer.email, officer.totp_secret)
            desk[officer.role] = officer
        for case in range(repeat + 1):
            officer_rows: list[tuple[str, list[str], float]] = []
            await officer_flow(desk, submitted[case], sql, officer_rows)
            if case:
                rows += [(f"officer: {name}", texts, cpu) for name, texts, cpu in officer_rows]
        anonymous = browser("http://testserver", transport)
        clients.append(anonymous)
        for round_ in range(repeat + 1):
            for kind in SEARCHES:
                steps = Steps(anonymous, sql)
                await steps.get(kind, search_url(kind, round_, generated))
                if round_:
                    rows += [(f"search: {name}", texts, cpu) for name, texts, cpu in steps.statements]
    finally:
        for client in clients:
            await client.aclose()
        event.remove(engine.sync_engine, "before_cursor_execute", before)
        await dispose_engine()
    return rows


def print_statements(rows: list[tuple[str, list[str], float]], show: str) -> None:
    """Statements per request and median CPU, grouped by kind of request; with --show-sql, the SQL."""
    grouped: dict[str, list[tuple[list[str], float]]] = {}
    for name, texts, cpu in rows:
        grouped.setdefault(name, []).append((texts, cpu))
    say(f"  {'request':<40} {'statements':>10} {'CPU ms (median)':>16}")
    for name, values in grouped.items():
        counts = sorted({len(texts) for texts, _cpu in values})
        shown = "/".join(str(n) for n in counts)
        say(f"  {name:<40} {shown:>10} {statistics.median(cpu for _t, cpu in values) * 1000:16.1f}")
        if show and show in name:
            for text in values[0][0]:
                say(f"      {text[:220]}")
    flows: dict[str, tuple[int, float]] = {}
    for name, texts, cpu in rows:
        kind = name.split(":", 1)[0]
        if kind in ("prefill", "typed"):
            n, c = flows.get(kind, (0, 0.0))
            flows[kind] = (n + len(texts), c + cpu)
    if flows:
        rounds = max(1, sum(1 for name, _t, _c in rows if name == "prefill: POST submit"))
        say("  per application (11 requests): " + "; ".join(
            f"{kind} {n / rounds:.0f} statements, {c / rounds * 1000:.1f} ms CPU" for kind, (n, c) in flows.items()))


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="govhub web worker processes (W)")
    parser.add_argument("--concurrency", "-c", type=int, default=8,
                        help="concurrent applicants, officer desks and search clients (C)")
    parser.add_argument("--applications", type=int, default=200,
                        help="applications per phase (with prefill, then the typed baseline)")
    parser.add_argument("--applicants", type=int, default=48, help="distinct applicant accounts (>= C)")
    parser.add_argument("--solo", type=int, default=10,
                        help="applications of each kind with one applicant at a time first (0 = skip)")
    parser.add_argument("--cases", type=int, default=200,
                        help="submitted cases the officers take to a permit (0 = every one submitted)")
    parser.add_argument("--services", type=int, default=10_000, help="generated catalog services")
    parser.add_argument("--catalog-batch", type=int, default=500, help="services per catalog.load transaction")
    parser.add_argument("--searches", type=int, default=1200, help="search requests on the big catalog")
    parser.add_argument("--baseline-searches", type=int, default=600, help="search requests on the demo catalog")
    parser.add_argument("--healthz-requests", type=int, default=2000, help="GET /healthz requests (baseline)")
    parser.add_argument("--persons", type=int, default=3000, help="people in the civil registry")
    parser.add_argument("--companies", type=int, default=600, help="companies in the DBD registry")
    parser.add_argument("--no-statements", action="store_true", help="skip the in-process SQL statement count")
    parser.add_argument("--statements-only", action="store_true", help="only the in-process statement count")
    parser.add_argument("--statements-repeat", type=int, default=5,
                        help="applications of each kind measured in-process (statements, CPU per request)")
    parser.add_argument("--show-sql", default="", metavar="TEXT",
                        help="print the statements of the requests whose name contains TEXT (e.g. 'POST apply')")
    parser.add_argument("--keep-alive", action="store_true", help="reuse each browser's connection")
    parser.add_argument("--noisy-retries", type=int, default=1,
                        help="measure a phase again when other processes disturbed it (within --budget)")
    parser.add_argument("--budget", type=float, default=240.0,
                        help="seconds after the start after which no phase is measured again")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each phase, wait up to SECONDS for other processes to leave the CPUs idle")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.applicants < args.concurrency:
        parser.error("--applicants must be at least --concurrency")
    return args


def main(argv: list[str] | None = None) -> int:
    global KEEP_ALIVE, WAIT_QUIET, RETRIES, DEADLINE
    args = parse_args(argv)
    KEEP_ALIVE, WAIT_QUIET, RETRIES = args.keep_alive, args.wait_quiet, args.noisy_retries
    DEADLINE = time.monotonic() + args.budget
    heading("One-stop benchmark: applications with GDX prefill, officers' actions, catalog search")
    say(f"machine: {common.machine_description()}; govhub {common.revision()}")
    database = common.BenchDatabase()
    port = common.free_port()
    directory = common.run_dir()
    server: common.Server | None = None
    began = time.perf_counter()
    succeeded = failures_seen = False
    results: dict[str, Any] = {}
    with common.terminate_cleanly():
        try:
            database.create()
            env = common.bench_env(database.url, port, GOVHUB_DOCUMENT_STORE_PATH=str(directory / "documents"))
            common.use_bench_env(env)
            started = time.perf_counter()
            database.migrate()
            migrate_s = time.perf_counter() - started
            common.quiet_govhub_logs()
            arranged, seconds = asyncio.run(arrange(args))
            say(f"database {database.name}: migrated in {migrate_s:.1f} s; demo agencies, registries ({args.persons:,}"
                f" people, {args.companies:,} companies) and catalog in {seconds['demo']:.1f} s;"
                f" {len(arranged.applicants)} business representatives (each her company's director) and"
                f" {len(arranged.officers)} NBM officers in {seconds['accounts']:.1f} s")
            generated = generate_catalog(args.services)
            if not args.no_statements:
                heading(f"SQL statements and CPU per request (in-process on the same database; {args.statements_repeat}"
                        " applications of each kind, one case and the searches after one warm-up round)")
                rows = asyncio.run(statements_per_request(arranged, None, args.statements_repeat))
                print_statements(rows, args.show_sql)
                results["statements"] = [(name, len(texts), round(cpu * 1000, 2)) for name, texts, cpu in rows]
            if args.statements_only:
                succeeded = True
                return 0
            server = common.Server(env, workers=args.workers, port=port, run_dir=directory)
            server.start()
            say(f"govhub serve --workers {args.workers} on {server.base_url};"
                f" {'keep-alive connections' if KEEP_ALIVE else 'a new connection per request'}")
            results.update(asyncio.run(drive(args, arranged, server, database.name, generated)))
            memory = server.memory()
            say("  " + memory.describe())
            now_rss = {pid: common._status_kib(pid, "VmRSS") / 1024 for pid in server.worker_pids()}
            say("  resident now, after the phases: workers " + ", ".join(f"{v:.0f}" for v in now_rss.values())
                + " MiB (the peak includes the sign-ins: argon2id takes 64 MiB per hash in flight)")
            results["worker_rss_after_mib"] = [round(v, 1) for v in now_rss.values()]
            say(f"  load generator: peak RSS {results['load_generator_peak_rss_mib']:.0f} MiB during the phases"
                f" (VmHWM of the whole run, seeding and catalog generation included:"
                f" {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")
            results.update(memory_max_mib=round(memory.max_mib, 1), memory_sum_mib=round(memory.sum_mib, 1))
            if results["failures"]:
                failures_seen = True
                say("  server errors:\n" + (server.errors()[-3000:] or "(none logged)"))
            server.stop()
            server = None
            found = asyncio.run(check_database())
            results["database"] = found
            say("  left in the database: " + ", ".join(f"{k} {v}" for k, v in found.items()))
            succeeded = True
        finally:
            common.tear_down(server, database=database, directory=directory, keep_logs=not succeeded or failures_seen)
    say(f"(total run {time.perf_counter() - began:.0f} s)")
    results.update(benchmark="onestop", machine=common.machine_description(), revision=common.revision(),
                   workers=args.workers, concurrency=args.concurrency, applications=args.applications,
                   total_s=round(time.perf_counter() - began, 1))
    common.write_results(args.json, results)
    return 1 if failures_seen or not succeeded else 0


if __name__ == "__main__":
    sys.exit(main())
