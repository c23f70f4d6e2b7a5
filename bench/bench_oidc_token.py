"""The OpenID provider's token endpoint (POST /oidc/token) through the real server.

Four ways a relying party or agency system gets tokens, each for a few seconds at C clients:

  * authorization_code + PKCE, public client (no client authentication: the exchange alone)
  * authorization_code + PKCE, confidential client with private_key_jwt
  * client_credentials, client_secret_basic (the server checks the secret against the stored hash)
  * client_credentials, private_key_jwt (RFC 7523; the method recommended for agency systems)

Authorization codes are prepared beforehand in the database, exactly as /oidc/authorize
stores them (one per exchange: they are single-use); one code is also obtained through the
real browser flow (sign in, consent, authorize) and its ID token verified, to check that the
prepared ones are equivalent. Baselines measured in the same run, in this process: signing an
equivalent ID token with joserfc (ES256), verifying a client assertion, and checking a client
secret the way the server stores it (argon2id or SHA-256, whichever the registered client has).

    .venv/bin/python bench/bench_oidc_token.py
    .venv/bin/python bench/bench_oidc_token.py --workers 2,1 --concurrency 16 --duration 8
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import html
import re
import secrets
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from common import Exhausted, OperationFailed, heading, say  # noqa: E402

PASSWORD = "bench-oidc-password-2569"
REDIRECT = "http://127.0.0.1:8765/callback"
USER_SCOPES = ["openid", "profile"]
API_SCOPE = "tax.read"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN = "POST /oidc/token"

SCENARIOS = {
    "code_none": "authorization_code + PKCE, public client",
    "code_pkjwt": "authorization_code + PKCE, private_key_jwt",
    "cc_secret": "client_credentials, client_secret_basic",
    "cc_pkjwt": "client_credentials, private_key_jwt",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="2", help="web worker counts to try (comma-separated)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (C)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=1.0, help="discarded seconds before each scenario")
    parser.add_argument("--codes", type=int, default=5000, help="authorization codes prepared per code scenario and W")
    parser.add_argument("--clients", type=int, default=32, help="registered clients per scenario (rate limit is per client)")
    parser.add_argument("--baseline-duration", type=float, default=2.0, help="seconds per in-process baseline")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="which scenarios, comma-separated")
    parser.add_argument("--no-again", dest="again", action="store_false",
                        help="skip measuring client_credentials + private_key_jwt a second time on the same server")
    parser.add_argument("--keep-alive", action="store_true",
                        help="reuse each client's connection (workers may then share the load unevenly)")
    parser.add_argument("--noisy-retries", type=int, default=1,
                        help="measure a scenario again when other processes disturbed it (within --budget)")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds after which no scenario is measured again")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


# --- arrangement (service layer, bench database) -----------------------------------------


@dataclass
class Client:
    client_id: str
    secret: str | None = None


@dataclass
class PreparedCode:
    code: str
    verifier: str
    client_id: str


@dataclass
class Fixture:
    account_ids: list[str]
    national_ids: list[str]
    clients: dict[str, list[Client]]
    key: Any  # the private key of every private_key_jwt client (joserfc ECKey)
    secret_scheme: str  # how govhub stored the client secrets: "argon2id", "sha256", ...
    codes: dict[str, deque[PreparedCode]] = field(default_factory=dict)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


async def prepare(scenarios: list[str], clients_per_scenario: int) -> Fixture:
    """Citizens, a signing key and the clients, through govhub's own service functions."""
    from joserfc.jwk import ECKey

    from govhub.db import dispose_engine, unit_of_work
    from govhub.identity import keys, service
    from govhub.identity.clients import register_client
    from govhub.identity.models import AccountKind
    from govhub.kit.thai_ids import with_check_digit

    key = ECKey.generate_key("P-256", auto_kid=True)
    jwks = {"keys": [key.as_dict(private=False)]}
    shapes = {
        "code_none": ("public", "none", ["authorization_code"], USER_SCOPES, [REDIRECT]),
        "code_pkjwt": ("confidential", "private_key_jwt", ["authorization_code"], USER_SCOPES, [REDIRECT]),
        "cc_secret": ("confidential", "client_secret_basic", ["client_credentials"], [API_SCOPE], []),
        "cc_pkjwt": ("confidential", "private_key_jwt", ["client_credentials"], [API_SCOPE], []),
    }
    clients: dict[str, list[Client]] = {}
    secret_scheme = "-"
    account_ids: list[str] = []
    national_ids: list[str] = []
    try:
        async with unit_of_work() as session:
            # As `python -m govhub.identity.keys rotate` does at installation: one active key,
            # so that the first token requests do not race to create it.
            await keys.rotate_signing_key(session)
            for index in range(4):
                national_id = with_check_digit(f"3{index:02d}" + "".join(secrets.choice("0123456789") for _ in range(9)))
                account = await service.register_account(
                    session,
                    data=service.Registration(
                        kind=AccountKind.CITIZEN, email=f"bench-oidc-{index}@example.go.th",
                        full_name=f"ผู้ทดสอบ โอไอดีซี {index}", password=PASSWORD, national_id=national_id,
                    ),
                )
                account_ids.append(account.id)
                national_ids.append(national_id)
            for scenario in scenarios:
                client_type, method, grants, scopes, uris = shapes[scenario]
                registered = []
                for index in range(clients_per_scenario):
                    result = await register_client(
                        session, name=f"bench {scenario} {index}", client_type=client_type,
                        token_endpoint_auth_method=method, redirect_uris=uris, grant_types=grants,
                        scopes=scopes, jwks=jwks if method == "private_key_jwt" else None, actor_id=None,
                    )
                    registered.append(Client(result.client.client_id, result.secret))
                    if result.client.secret_hash:
                        secret_scheme = "argon2id" if result.client.secret_hash.startswith("$argon2") else (
                            result.client.secret_hash.split(":", 1)[0] if ":" in result.client.secret_hash else "unknown")
                clients[scenario] = registered
    finally:
        await dispose_engine()
    return Fixture(account_ids, national_ids, clients, key, secret_scheme)


async def create_codes(fixture: Fixture, scenario: str, count: int) -> deque[PreparedCode]:
    """Store `count` fresh codes the way /oidc/authorize does (digest, PKCE challenge, binding)."""
    from datetime import timedelta

    from sqlalchemy import insert

    from govhub.config import get_settings
    from govhub.db import dispose_engine, unit_of_work
    from govhub.identity.models import AuthorizationCode
    from govhub.kit.clock import utcnow
    from govhub.kit.crypto import new_token, token_digest

    now = utcnow()
    expires = now + timedelta(seconds=get_settings().oidc_code_ttl_seconds)
    prepared: deque[PreparedCode] = deque()
    rows = []
    clients = fixture.clients[scenario]
    for index in range(count):
        code, verifier = new_token(32), new_token(48)
        client = clients[index % len(clients)]
        prepared.append(PreparedCode(code, verifier, client.client_id))
        rows.append(
            {
                "code_digest": token_digest(code),
                "client_id": client.client_id,
                "account_id": fixture.account_ids[index % len(fixture.account_ids)],
                "session_id": None,
                "redirect_uri": REDIRECT,
                "scope": " ".join(USER_SCOPES),
                "nonce": new_token(12),
                "code_challenge": s256(verifier),
                "code_challenge_method": "S256",
                "acr": "urn:govhub:ial1:aal1",
                "amr": ["pwd"],
                "auth_time": now,
                "expires_at": expires,
            }
        )
    try:
        async with unit_of_work() as session:
            for start in range(0, len(rows), 1000):
                await session.execute(insert(AuthorizationCode), rows[start : start + 1000])
    finally:
        await dispose_engine()
    return prepared


# --- client side ----------------------------------------------------------------------------


class Assertions:
    """RFC 7523 client assertions signed ahead of time (the load generator shares the cores)."""

    def __init__(self, key: Any, audience: str) -> None:
        self.key, self.audience = key, audience
        self.ready: dict[str, deque[str]] = {}

    def sign(self, client_id: str) -> str:
        from joserfc import jwt

        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": self.audience, "iat": now, "exp": now + 300,
                  "jti": secrets.token_urlsafe(16)}
        return jwt.encode({"alg": "ES256", "kid": self.key.kid}, claims, self.key)

    def prepare(self, client_ids: list[str], count: int) -> None:
        for index in range(count):
            client_id = client_ids[index % len(client_ids)]
            self.ready.setdefault(client_id, deque()).append(self.sign(client_id))

    def take(self, client_id: str) -> str:
        queue = self.ready.get(client_id)
        return queue.popleft() if queue else self.sign(client_id)


def basic_auth(client: Client) -> str:
    raw = f"{quote(client.client_id, safe='')}:{quote(client.secret or '', safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


KEEP_ALIVE = False


def http_client(base_url: str) -> Any:
    """One client = one connection. By default a new connection per request ("Connection:
    close"), so that whichever worker is free accepts it: with keep-alive, uvicorn's workers
    race to accept() and one of them often takes every connection, leaving the others idle."""
    import httpx

    headers = None if KEEP_ALIVE else {"connection": "close"}
    return httpx.AsyncClient(base_url=base_url, timeout=60, headers=headers, limits=httpx.Limits(max_connections=1))


def make_operation(scenario: str, fixture: Fixture, assertions: Assertions) -> Any:
    perf = time.perf_counter
    clients = fixture.clients[scenario]
    codes = fixture.codes.get(scenario)

    async def post(http: Any, data: dict[str, str], headers: dict[str, str] | None = None) -> dict[str, float]:
        started = perf()
        response = await http.post("/oidc/token", data=data, headers=headers)
        elapsed = perf() - started
        if response.status_code != 200:
            try:
                reason = response.json().get("error", "")
            except ValueError:
                reason = ""
            raise OperationFailed(f"{response.status_code} {reason}".strip())
        body = response.json()
        if "access_token" not in body or (scenario.startswith("code") and "id_token" not in body):
            raise OperationFailed("token response without the expected tokens")
        return {TOKEN: elapsed}

    async def code_exchange(http: Any, _iteration: int) -> dict[str, float]:
        if not codes:
            raise Exhausted()
        prepared = codes.popleft()
        data = {"grant_type": "authorization_code", "code": prepared.code, "redirect_uri": REDIRECT,
                "code_verifier": prepared.verifier, "client_id": prepared.client_id}
        if scenario == "code_pkjwt":
            data.update(client_assertion_type=ASSERTION_TYPE, client_assertion=assertions.take(prepared.client_id))
        return await post(http, data)

    async def client_credentials(http: Any, iteration: int) -> dict[str, float]:
        client = clients[iteration % len(clients)]
        data = {"grant_type": "client_credentials", "scope": API_SCOPE}
        if scenario == "cc_secret":
            return await post(http, data, {"authorization": basic_auth(client)})
        data.update(client_id=client.client_id, client_assertion_type=ASSERTION_TYPE,
                    client_assertion=assertions.take(client.client_id))
        return await post(http, data)

    return code_exchange if scenario.startswith("code") else client_credentials


# --- correctness check through the real browser flow --------------------------------------


async def browser_flow_check(base_url: str, fixture: Fixture) -> str:
    """Sign in, consent, authorize, exchange: the ID token must verify against the JWKS."""
    import httpx
    from joserfc import jwt
    from joserfc.jwk import KeySet

    client_id = fixture.clients["code_none"][0].client_id if "code_none" in fixture.clients else None
    if client_id is None:
        return "skipped (no public client scenario)"
    verifier, nonce, state = secrets.token_urlsafe(48), secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    query = urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": " ".join(USER_SCOPES),
        "state": state, "nonce": nonce, "code_challenge": s256(verifier), "code_challenge_method": "S256",
    })
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as browser:
        response = await browser.get(f"/oidc/authorize?{query}")
        if response.status_code == 303 and response.headers["location"].startswith("/sign-in"):
            page = await browser.get(response.headers["location"])
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            next_url = re.search(r'name="next" value="([^"]*)"', page.text)
            if not csrf or not next_url:
                raise RuntimeError("sign-in page without csrf_token or next")
            signed_in = await browser.post("/sign-in", data={
                "csrf_token": csrf.group(1), "identifier": fixture.national_ids[0], "password": PASSWORD,
                "next": html.unescape(next_url.group(1)),
            })
            if signed_in.status_code != 303:
                raise RuntimeError(f"sign-in answered {signed_in.status_code}")
            response = await browser.get(signed_in.headers["location"])
        if response.status_code == 200 and 'id="consent-form"' in response.text:
            form = re.search(r'<form[^>]*id="consent-form".*?</form>', response.text, re.S)
            fields = {name: html.unescape(value) for name, value in
                      re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', form.group(0) if form else "")}
            response = await browser.post("/sign-in/consent", data={**fields, "decision": "allow"})
        if response.status_code != 303 or not response.headers["location"].startswith(REDIRECT):
            raise RuntimeError(f"authorization did not redirect to the client: {response.status_code}")
        params = parse_qs(urlsplit(response.headers["location"]).query)
        if params.get("state") != [state] or "code" not in params:
            raise RuntimeError(f"authorization response without code or state: {params}")
        token = await browser.post("/oidc/token", data={
            "grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT,
            "code_verifier": verifier, "client_id": client_id,
        })
        if token.status_code != 200:
            raise RuntimeError(f"token endpoint answered {token.status_code}: {token.text[:300]}")
        jwks = (await browser.get("/oidc/jwks")).json()
    claims = jwt.decode(token.json()["id_token"], KeySet.import_key_set(jwks), algorithms=["ES256"]).claims
    if claims.get("aud") != client_id or claims.get("nonce") != nonce or claims.get("iss") != base_url:
        raise RuntimeError(f"unexpected ID token claims: {claims}")
    return "ok: signed in, consented, code exchanged, ID token verified against /oidc/jwks"


# --- in-process baselines -----------------------------------------------------------------


def timed_loop(function: Any, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < duration:
        begin = time.perf_counter()
        function()
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - started
    return {"rate": len(latencies) / elapsed, "p50_ms": common.percentile(latencies, 50) * 1000,
            "p99_ms": common.percentile(latencies, 99) * 1000, "n": len(latencies)}


def baselines(duration: float, issuer: str, params: dict[str, int], secret_scheme: str) -> list[dict[str, Any]]:
    """joserfc ES256 ID-token signing, client-assertion verification, a client-secret check."""
    import hmac

    from argon2 import PasswordHasher, Type
    from joserfc import jwt
    from joserfc.jwk import ECKey, KeySet

    key = ECKey.generate_key("P-256", auto_kid=True)
    now = int(time.time())
    id_claims = {
        "iss": issuer, "sub": "0b7ec07c-3a30-4abd-b55a-0bd3d208ddbd", "aud": "gh-" + secrets.token_urlsafe(15),
        "azp": "gh-" + secrets.token_urlsafe(15), "iat": now, "exp": now + 3600, "auth_time": now,
        "acr": "urn:govhub:ial1:aal1", "amr": ["pwd"], "at_hash": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(12),
    }
    header = {"alg": "ES256", "kid": key.kid, "typ": "JWT"}
    sign = timed_loop(lambda: jwt.encode(header, id_claims, key), duration)

    client_key = ECKey.generate_key("P-256", auto_kid=True)
    jwks = {"keys": [client_key.as_dict(private=False)]}
    assertion = jwt.encode({"alg": "ES256", "kid": client_key.kid},
                           {"iss": "c", "sub": "c", "aud": issuer, "exp": now + 300, "jti": "j"}, client_key)
    verify = timed_loop(
        lambda: jwt.decode(assertion, KeySet.import_key_set(jwks), algorithms=["ES256", "RS256", "PS256"]), duration
    )

    secret = secrets.token_urlsafe(32)
    if secret_scheme == "argon2id":
        hasher = PasswordHasher(time_cost=params["time_cost"], memory_cost=params["memory_kib"],
                                parallelism=params["parallelism"], type=Type.ID)
        stored = hasher.hash(secret)
        check = timed_loop(lambda: hasher.verify(stored, secret), duration)
    else:
        stored_digest = hashlib.sha256(secret.encode()).hexdigest()
        check = timed_loop(
            lambda: hmac.compare_digest(stored_digest, hashlib.sha256(secret.encode()).hexdigest()), duration
        )
    return [
        {"label": "joserfc ES256 sign of an ID token", "unit": "JWT/s", **sign,
         "note": f"a code exchange signs 2 JWTs (access + ID token): {sign['rate'] / 2:.0f} responses/s of signing on 1 core"},
        {"label": "joserfc import client JWKS + verify assertion", "unit": "verifies/s", **verify,
         "note": "the private_key_jwt check the server does per request"},
        {"label": f"client secret check ({secret_scheme})", "unit": "checks/s", **check,
         "note": f"the client_secret_* check the server does per request (secrets stored as {secret_scheme})"},
    ]


# --- main ---------------------------------------------------------------------------------------


async def measure_scenario(
    server: common.Server, scenario: str, fixture: Fixture, assertions: Assertions, args: argparse.Namespace,
    deadline: float, *, warmup: float, retries: int,
) -> common.LoadResult:
    operation = make_operation(scenario, fixture, assertions)
    base_url = server.base_url

    async def measure() -> common.LoadResult:
        return await common.closed_loop(
            scenario, concurrency=args.concurrency, duration=args.duration, operation=operation, server=server,
            warmup=warmup, make_client=lambda _index: http_client(base_url),
        )

    return await common.quietest(measure, noise=lambda r: r.noise_pct, retries=retries, deadline=deadline)  # type: ignore[no-any-return]


def report(label: str, result: common.LoadResult) -> None:
    say(f"  {label:<46}" + result.line(TOKEN, "tokens"))
    say(" " * 48 + result.cpu_line())
    if result.exhausted:
        say(" " * 48 + "WARNING: ran out of prepared codes before the deadline; raise --codes")


def main(argv: list[str] | None = None) -> int:
    global KEEP_ALIVE
    args = parse_args(argv)
    KEEP_ALIVE = args.keep_alive
    worker_counts = [int(value) for value in args.workers.split(",") if value.strip()]
    scenarios = [name for name in args.scenarios.split(",") if name in SCENARIOS]
    heading("OIDC token endpoint benchmark: POST /oidc/token")
    say(f"machine: {common.machine_description()}; govhub {common.revision()}")

    database = common.BenchDatabase()
    port = common.free_port()
    directory = common.run_dir()
    server: common.Server | None = None
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    measured_baselines: list[dict[str, Any]] = []
    succeeded = failures_seen = False
    with common.terminate_cleanly():
        try:
            database.create()
            # Codes are prepared ahead of the run: let them live long enough to be used.
            env = common.bench_env(database.url, port, GOVHUB_OIDC_CODE_TTL_SECONDS="3600")
            common.use_bench_env(env)
            database.migrate()
            common.quiet_govhub_logs()
            params = common.argon2_settings()
            say(f"argon2id: time_cost {params['time_cost']}, memory {params['memory_kib'] // 1024} MiB, "
                f"parallelism {params['parallelism']} (Settings defaults, not lowered)")
            started = time.perf_counter()
            fixture = asyncio.run(prepare(scenarios, args.clients))
            say(f"database {database.name}: migrated; signing key, 4 citizens and "
                f"{sum(len(c) for c in fixture.clients.values())} clients registered in {time.perf_counter() - started:.1f} s;"
                f" client secrets stored as {fixture.secret_scheme}")

            from govhub.identity.clients import token_endpoint_url

            assertions = Assertions(fixture.key, token_endpoint_url())

            heading("Baselines in this process (no server)")
            measured_baselines = baselines(args.baseline_duration, env["GOVHUB_BASE_URL"], params, fixture.secret_scheme)
            for baseline in measured_baselines:
                say(f"  {baseline['label']:<46} {baseline['rate']:8.0f} {baseline['unit']:<10} p50 {baseline['p50_ms']:.3f} ms"
                    f"  p99 {baseline['p99_ms']:.3f} ms   ({baseline['note']})")

            for workers in worker_counts:
                started = time.perf_counter()
                for scenario in scenarios:
                    if scenario.startswith("code"):
                        fixture.codes[scenario] = asyncio.run(create_codes(fixture, scenario, args.codes))
                pkjwt_clients = [c.client_id for s in scenarios if s.endswith("pkjwt") for c in fixture.clients[s]]
                if pkjwt_clients:
                    assertions.prepare(pkjwt_clients, 12000)
                say(f"\nprepared {args.codes} codes per code scenario and {12000 if pkjwt_clients else 0} client assertions"
                    f" in {time.perf_counter() - started:.1f} s")

                heading(f"Server: govhub serve --workers {workers}, {args.concurrency} clients, {args.duration:.0f} s per scenario,"
                        f" {'keep-alive connections' if KEEP_ALIVE else 'a new connection per request'}; a fresh server per scenario")
                sign_rate = measured_baselines[0]["rate"]
                for position, scenario in enumerate(scenarios):
                    # A fresh server per scenario: the rate limiter's in-memory state (which
                    # remembers every assertion's jti for 65 minutes) must not carry over.
                    server = common.Server(env, workers=workers, port=port, run_dir=directory)
                    server.start()
                    if position == 0:
                        say(f"  browser flow check: {asyncio.run(browser_flow_check(server.base_url, fixture))}")
                    deadline = time.monotonic() + max(0.0, args.budget - (time.perf_counter() - began))
                    measured = [(scenario, SCENARIOS[scenario], asyncio.run(measure_scenario(
                        server, scenario, fixture, assertions, args, deadline, warmup=args.warmup,
                        retries=args.noisy_retries,
                    )))]
                    report(SCENARIOS[scenario], measured[0][2])
                    if scenario == "cc_pkjwt" and args.again:
                        remembered = measured[0][2].ok + int(args.warmup * measured[0][2].rate)
                        label = f"  same server again (~{remembered} jti remembered)"
                        again = asyncio.run(measure_scenario(
                            server, scenario, fixture, assertions, args, deadline, warmup=0.0, retries=0,
                        ))
                        report(label, again)
                        measured.append(("cc_pkjwt_again", label, again))
                    if position == len(scenarios) - 1:
                        base_url = server.base_url

                        async def healthz_alone() -> common.LoadResult:
                            return await common.closed_loop(
                                "healthz", concurrency=args.concurrency, duration=2.0, server=server, warmup=0.5,
                                make_client=lambda _index: http_client(base_url), operation=healthz,
                            )

                        health = asyncio.run(common.quietest(
                            healthz_alone, noise=lambda r: r.noise_pct, retries=args.noisy_retries, deadline=deadline
                        ))
                        say(f"  {'GET /healthz (HTTP stack alone)':<46}" + health.line("GET /healthz", "req"))
                        measured.append(("healthz", "  GET /healthz at the same W and C", health))
                    memory = server.memory()
                    say(" " * 48 + memory.describe())
                    if any(result.failures for _, _, result in measured):
                        failures_seen = True
                        say("  server errors:\n" + (server.errors()[-3000:] or "(none logged)"))
                    server.stop()
                    server = None
                    for name, label, result in measured:
                        if name.startswith("code"):
                            note = f"ES256 signing alone: {sign_rate / 2:.0f} exchanges/s/core"
                        elif name == "cc_secret":
                            note = f"{fixture.secret_scheme} secret check alone: {measured_baselines[2]['rate']:.0f}/s/core"
                        elif name == "healthz":
                            note = "HTTP stack alone"
                        else:
                            note = f"ES256 signing alone: {sign_rate:.0f} tokens/s/core"
                        timing = "GET /healthz" if name == "healthz" else TOKEN
                        rows.append({
                            "scenario": name, "label": ("OIDC token: " + label) if name in SCENARIOS else label,
                            "workers": workers, "concurrency": args.concurrency, "result": result.summary(timing),
                            "baseline": note, "memory_max_mib": round(memory.max_mib, 1),
                            "memory_sum_mib": round(memory.sum_mib, 1), "exhausted": result.exhausted,
                        })
            succeeded = True
        finally:
            common.tear_down(server, database=database, directory=directory,
                             keep_logs=not succeeded or failures_seen)

    heading("OIDC token summary")
    say(f"{'W':>2} {'C':>3}  {'scenario':<46} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8} {'fail':>5} {'noise':>6}")
    for row in rows:
        r = row["result"]
        say(f"{row['workers']:>2} {row['concurrency']:>3}  {row['label'].replace('OIDC token: ', ''):<46} {r['rate']:>9.1f}"
            f" {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['failures']:>5} {r['other_cpu_pct']:>5.0f}%"
            f"  server CPU {r['server_cpu_ms_per_op']} ms/op")
    for baseline in measured_baselines:
        say(f"baseline: {baseline['label']}: {baseline['rate']:.0f} {baseline['unit']} ({baseline['note']})")
    say(f"(total run {time.perf_counter() - began:.0f} s)")
    common.write_results(args.json, {
        "benchmark": "oidc_token", "machine": common.machine_description(), "revision": common.revision(), "rows": rows,
        "baselines": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in b.items()} for b in measured_baselines],
    })
    return 0


async def healthz(client: Any, _iteration: int) -> dict[str, float]:
    started = time.perf_counter()
    response = await client.get("/healthz")
    if response.status_code != 200:
        raise OperationFailed(f"GET /healthz {response.status_code}")
    return {"GET /healthz": time.perf_counter() - started}


if __name__ == "__main__":
    sys.exit(main())
