"""The console's plumbing: the signed-in person (from the session cookie), CSRF checks, engine calls
that become HTML error pages, and rendering with the console's own Content-Security-Policy."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import engine
from api import deps
from api.console.assets import Assets
from api.console.settings import ConsoleSettings
from api.security import Caller, Permission

T = TypeVar("T")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP}        # no-store and the rest: api.app.SecurityHeaders


def cookie_name(request: Request) -> str:
    """`__Host-` (Secure, whole site, no Domain) over TLS; a plain name over http on 127.0.0.1."""
    return "__Host-rf_session" if request.url.scheme == "https" else "rf_session"


@dataclass(frozen=True)
class Signed:
    """The person signed in to this request, as the API would know them."""

    caller: Caller
    session: engine.SessionInfo
    token: str

    @property
    def actor(self) -> engine.Actor:
        return self.caller.actor

    def can(self, permission: Permission) -> bool:
        return self.caller.can(permission)

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


class SignInRequired(Exception):
    def __init__(self, next_url: str, ended: bool) -> None:
        self.next_url, self.ended = next_url, ended


class PageError(Exception):
    """An HTML error page: 400 bad input, 403 not allowed, 404 not there (or not yours), 409 conflict."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def console_settings(request: Request) -> ConsoleSettings:
    return request.app.state.console_settings


async def signed_in(request: Request) -> Signed:
    """The session's person; a missing, ended, revoked or disabled one goes to the sign-in page."""
    token = request.cookies.get(cookie_name(request))
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise SignInRequired(here, ended=False)
    settings = console_settings(request)
    info = await deps.call(request.app.state.db, engine.resolve_session, token=token,
                           idle=timedelta(minutes=settings.console_idle_minutes))
    if info is None:
        raise SignInRequired(here, ended=True)
    caller = Caller(info.principal_id, frozenset(info.roles), frozenset(info.groups), info.organisation, None,
                    info.via)
    request.state.caller = caller                       # the audit trail names who asked
    return Signed(caller, info, token)


SignedDep = Annotated[Signed, Depends(signed_in)]


def same_origin(request: Request) -> None:
    """Unsafe requests must come from our own pages: Sec-Fetch-Site (browsers send it), else Origin,
    else Referer must name this site. Raises PageError(403)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise PageError(403, "Request refused", "This form was sent from another site.")
        return
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        raise PageError(403, "Request refused", "The request did not say where it came from.")
    parts = urlsplit(origin)
    if f"{parts.scheme}://{parts.netloc}" != f"{request.url.scheme}://{request.url.netloc}":
        raise PageError(403, "Request refused", "This form was sent from another site.")


async def form_of(request: Request, signed: Signed) -> Any:
    """The submitted form, after the origin and CSRF-token checks."""
    same_origin(request)
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, signed.csrf_token):
        raise PageError(403, "Request refused", "The form had expired or was not sent from this page. "
                                                "Go back, reload the page and try again.")
    return form


def need(signed: Signed, permission: Permission) -> None:
    if not signed.can(permission):
        raise PageError(403, "You cannot see this page",
                        f"Your role does not allow it ({permission.value} is needed). Ask the business unit.")


async def call(request: Request, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """An engine call, as the API routes make it; what is not there (or not the caller's to see)
    is a 404 page, a conflict a 409 page."""
    try:
        return await deps.call(request.app.state.db, fn, **kwargs)
    except engine.NotFound as exc:
        raise PageError(404, "Page not found", "There is nothing here, or it is not yours to see.") from exc
    except engine.Conflict as exc:
        raise PageError(409, "That could not be done", exc.message) from exc


def safe_next(value: str | None) -> str:
    """Only a path on this site (never //host or a scheme)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def sign_in_url(next_url: str, notice: str | None = None) -> str:
    url = f"/sign-in?next={quote(safe_next(next_url), safe='/')}"
    return url + (f"&notice={notice}" if notice else "")


class Renderer:
    def __init__(self, assets: Assets, settings: ConsoleSettings) -> None:
        self.assets, self.settings = assets, settings
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                                      autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                      lstrip_blocks=True)
        self.env.globals.update(asset=assets.url, partnership=settings.partnership_name, P=Permission)

    def page(self, request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        signed: Signed | None = context.pop("signed", None)
        html = self.env.get_template(template).render(request=request, signed=signed,
                                                      path=request.url.path, **context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)


def renderer(request: Request) -> Renderer:
    return request.app.state.console_renderer


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=HEADERS)
