"""Signing in to the console with OpenID Connect (authorization code + PKCE) against an identity
provider played by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

import engine
from api.settings import ServerSettings
from tests.conftest import Server, free_port
from tests.console.conftest import ROOT

CLIENT_ID, CLIENT_SECRET = "reviewflow-console", "s3cret"


class FakeIdentityProvider:
    """Signs anyone in as `user` (with these claims): /authorize answers at once with a code."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.claims: dict[str, Any] = {"sub": "dana", "roles": ["crg-member"], "groups": ["case-review-group"]}
        self.codes: dict[str, dict[str, str]] = {}
        self.tamper_nonce = False
        app = Starlette(routes=[Route("/.well-known/openid-configuration", self.discovery),
                                Route("/authorize", self.authorize), Route("/token", self.token, methods=["POST"]),
                                Route("/jwks", self.jwks)])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> FakeIdentityProvider:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    async def discovery(self, request: Request) -> JSONResponse:
        return JSONResponse({"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                             "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks"})

    async def authorize(self, request: Request) -> RedirectResponse:
        q = request.query_params
        assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID and q["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self.codes[code] = dict(q)
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

    async def token(self, request: Request) -> JSONResponse:
        form = await request.form()
        asked = self.codes.pop(str(form["code"]), None)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if asked is None or challenge != asked["code_challenge"] or form.get("client_secret") != CLIENT_SECRET \
                or form.get("redirect_uri") != asked["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {**self.claims, "iss": self.url, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": "wrong" if self.tamper_nonce else asked["nonce"]}
        token = jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})
        return JSONResponse({"id_token": token, "access_token": "unused", "token_type": "Bearer"})

    async def jwks(self, request: Request) -> JSONResponse:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return JSONResponse({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})


@pytest.fixture
def idp() -> Iterator[FakeIdentityProvider]:
    provider = FakeIdentityProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def oidc_server(console_db: engine.Database, idp: FakeIdentityProvider,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("REVIEWFLOW_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("REVIEWFLOW_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    settings = ServerSettings(timers=False, bpmn_dir=ROOT / "bpmn", oidc_issuer=idp.url, oidc_audience=CLIENT_ID,
                              oidc_jwks_url=f"{idp.url}/jwks")
    srv = Server(console_db, settings).start()
    yield srv
    srv.stop()


def sign_in_with_idp(server: Server) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=server.url, timeout=10, follow_redirects=False)
    assert "Sign in with your organisation account" in client.get("/sign-in").text
    start = client.get("/sign-in/oidc", params={"next": "/tasks"})
    assert start.status_code == 303
    at_idp = httpx.get(start.headers["location"], follow_redirects=False)          # the browser at the IdP
    assert at_idp.status_code == 302
    back = urlsplit(at_idp.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == server.url
    return client, client.get(back.path, params=parse_qs(back.query))


def test_signing_in_with_the_identity_provider_gives_a_session_with_its_claims(
        oidc_server: Server, console_db: engine.Database) -> None:
    client, landed = sign_in_with_idp(oidc_server)
    assert landed.status_code == 200 and 'content="0; url=/tasks"' in landed.text
    assert "rf_session" in client.cookies
    tasks = client.get("/tasks")
    assert tasks.status_code == 200 and "Signed in as <strong>dana</strong>" in tasks.text
    assert "case-review-group" in tasks.text                                  # the groups claim
    with console_db.engine.connect() as conn:
        row = conn.execute(engine.commands.sessions.web_session.select()).one()
    assert (row.principal_id, row.via, row.key_id, row.groups) == ("dana", "oidc", None, ["case-review-group"])
    engine.create_principal(console_db, principal_id="dana", roles=["crg-member"])
    engine.disable_principal(console_db, principal_id="dana")
    assert client.get("/tasks").status_code == 303                            # disabled here: the session ends


def test_a_forged_state_or_a_replayed_nonce_signs_nobody_in(oidc_server: Server, idp: FakeIdentityProvider) -> None:
    client = httpx.Client(base_url=oidc_server.url, timeout=10, follow_redirects=False)
    start = client.get("/sign-in/oidc")
    at_idp = httpx.get(start.headers["location"], follow_redirects=False)
    back = urlsplit(at_idp.headers["location"])
    params = {k: v[0] for k, v in parse_qs(back.query).items()}
    forged = client.get(back.path, params={**params, "state": "someone-elses"})
    assert forged.status_code == 303 and "oidc-failed" in forged.headers["location"]
    assert "rf_session" not in client.cookies
    idp.tamper_nonce = True
    client, landed = sign_in_with_idp(oidc_server)
    assert landed.status_code == 303 and "oidc-failed" in landed.headers["location"]
    assert "rf_session" not in client.cookies
