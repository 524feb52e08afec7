"""Signing in and out of the console: user name and API key, or OpenID Connect (authorization code
with PKCE) where an issuer and a client id are configured. The browser only ever holds a random
session token, in an HttpOnly, SameSite=Strict cookie (Secure over TLS); never the key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

import engine
from api import deps
from api.console.web import (
    HEADERS,
    PageError,
    SignedDep,
    console_settings,
    cookie_name,
    form_of,
    redirect,
    renderer,
    safe_next,
)
from api.security import Caller

router = APIRouter(include_in_schema=False)

SIGNIN_COOKIE = "rf_signin"          # the sign-in form's own CSRF token (double submit)
OIDC_COOKIE = "rf_oidc"              # state, nonce and PKCE verifier of a sign-in under way
NOTICES = {"signed-out": "You have signed out.",
           "ended": "Your session has ended. Sign in again to carry on.",
           "oidc-failed": "Signing in with your organisation account did not work. Try again, or use your API key."}


def _set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int | None,
                same_site: str = "strict") -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, secure=request.url.scheme == "https",
                        samesite=same_site)


def oidc_enabled(request: Request) -> bool:
    return bool(request.app.state.oidc is not None and console_settings(request).oidc_client_id)


def _form_page(request: Request, *, status: int = 200, error: str | None = None, user: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    response = renderer(request).page(request, "sign_in.html", status=status, signin_token=token, error=error,
                                      user=user, next_url=safe_next(request.query_params.get("next")),
                                      notice=notice, oidc=oidc_enabled(request))
    _set_cookie(response, request, SIGNIN_COOKIE, token, max_age=3600)
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    return _form_page(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    from api.console.web import same_origin  # noqa: PLC0415
    same_origin(request)
    form = await request.form()
    sent, kept = form.get("signin_token"), request.cookies.get(SIGNIN_COOKIE)
    if not isinstance(sent, str) or not kept or not hmac.compare_digest(sent, kept):
        raise PageError(403, "Request refused", "The sign-in form had expired. Go back, reload it and try again.")
    user, key = str(form.get("user") or "").strip(), str(form.get("key") or "").strip()
    next_url = safe_next(str(form.get("next") or "/"))
    if not user or not key:
        message = "Enter your user name" if not user else "Enter your API key"
        return _form_page(request, status=400, error=message, user=user)
    settings = console_settings(request)
    opened = await deps.call(request.app.state.db, engine.open_key_session, principal_id=user, secret=key,
                             lifetime=timedelta(minutes=settings.console_session_minutes))
    if opened is None:
        return _form_page(request, status=400, user=user,
                          error="The user name and API key do not match an active account")
    request.state.caller = _caller(opened.session)               # the audit trail names who signed in
    response = redirect(next_url)
    _set_cookie(response, request, cookie_name(request), opened.token, max_age=settings.console_session_minutes * 60)
    response.delete_cookie(SIGNIN_COOKIE, path="/")
    return response


def _caller(info: engine.SessionInfo) -> Caller:
    return Caller(info.principal_id, frozenset(info.roles), frozenset(info.groups), info.organisation, None, info.via)


@router.post("/sign-out")
async def sign_out(request: Request, signed: SignedDep) -> Response:
    await form_of(request, signed)
    await deps.call(request.app.state.db, engine.close_session, token=signed.token)
    response = redirect("/sign-in?notice=signed-out")
    response.delete_cookie(cookie_name(request), path="/")
    return response


# ---- OpenID Connect ----------------------------------------------------------------------------

_discovery: dict[str, tuple[float, dict[str, Any]]] = {}


async def _provider(issuer: str) -> dict[str, Any]:
    cached = _discovery.get(issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
        answer.raise_for_status()
        config = answer.json()
    _discovery[issuer] = (time.monotonic() + 300, config)
    return config


def _redirect_uri(request: Request) -> str:
    return console_settings(request).oidc_redirect_url or str(request.url_for("oidc_callback"))


@router.get("/sign-in/oidc")
async def oidc_start(request: Request) -> Response:
    if not oidc_enabled(request):
        raise PageError(404, "Page not found", "Signing in with an organisation account is not set up here.")
    settings, server = console_settings(request), request.app.state.settings
    provider = await _provider(server.oidc_issuer)
    state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"response_type": "code", "client_id": settings.oidc_client_id,
                       "redirect_uri": _redirect_uri(request), "scope": "openid profile", "state": state,
                       "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"})
    location = f"{provider['authorization_endpoint']}?{query}"
    response = Response(status_code=303, headers={**HEADERS, "Location": location})
    next_url = safe_next(request.query_params.get("next"))
    # Lax: the identity provider sends the browser back from its own site, where a Strict cookie is withheld
    _set_cookie(response, request, OIDC_COOKIE, " ".join((state, nonce, verifier, next_url)), max_age=600,
                same_site="lax")
    return response


@router.get("/sign-in/oidc/callback", name="oidc_callback")
async def oidc_callback(request: Request, code: str = "", state: str = "") -> Response:
    if not oidc_enabled(request):
        raise PageError(404, "Page not found", "Signing in with an organisation account is not set up here.")
    kept = (request.cookies.get(OIDC_COOKIE) or "").split(" ")
    failed = redirect("/sign-in?notice=oidc-failed")
    failed.delete_cookie(OIDC_COOKIE, path="/")
    if len(kept) != 4 or not code or not hmac.compare_digest(kept[0], state):
        return failed
    _, nonce, verifier, next_url = kept
    settings, server = console_settings(request), request.app.state.settings
    try:
        provider = await _provider(server.oidc_issuer)
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(provider["token_endpoint"], data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": _redirect_uri(request),
                "client_id": settings.oidc_client_id, "client_secret": settings.oidc_client_secret or "",
                "code_verifier": verifier})
        answer.raise_for_status()
        id_token = answer.json()["id_token"]
        caller = request.app.state.oidc.verify(id_token)                       # signature, issuer, audience, expiry
        claims = jwt.decode(id_token, options={"verify_signature": False})     # verified just above
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            return failed
        opened = await deps.call(request.app.state.db, engine.open_token_session, principal_id=caller.id,
                                 roles=sorted(caller.roles), groups=sorted(caller.groups),
                                 organisation=caller.organisation,
                                 lifetime=timedelta(minutes=settings.console_session_minutes))
    except (httpx.HTTPError, KeyError, ValueError, HTTPException, engine.Invalid):
        return failed
    request.state.caller = caller
    # A page, not a redirect: the browser then follows a same-site link, so the Strict cookie goes with it.
    response = renderer(request).page(request, "signed_in.html", next_url=safe_next(next_url))
    _set_cookie(response, request, cookie_name(request), opened.token, max_age=settings.console_session_minutes * 60)
    response.delete_cookie(OIDC_COOKIE, path="/")
    return response
