"""The web console, served at / by `reviewflow serve`: server-rendered pages (Jinja2, GOV.UK
Frontend), a session cookie instead of an API key, and the same engine calls as the API with the
signed-in person's actor. Assets are built from npm packages by `make run` (console/build.mjs)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from api.console import pages, signin
from api.console.assets import AssetFiles, Assets
from api.console.settings import ConsoleSettings
from api.console.web import PageError, Renderer, SignInRequired, redirect, sign_in_url

__all__ = ["ConsoleSettings", "install"]


def install(app: FastAPI, settings: ConsoleSettings | None = None) -> bool:
    """Add the console's pages to the app (unless REVIEWFLOW_CONSOLE=false), and its assets in
    front of every other middleware (public files: no session, no audit entry). Call it after the
    app's own middleware is added. The console's responses carry their own Content-Security-Policy:
    scripts and styles from this site only, nothing inline."""
    settings = settings or ConsoleSettings()
    if not settings.console:
        return False
    assets = Assets(settings.console_assets)
    app.state.console_settings = settings
    app.state.console_assets = assets
    app.state.console_renderer = Renderer(assets, settings)
    app.include_router(signin.router)
    app.include_router(pages.router)
    app.add_middleware(AssetFiles, assets=assets)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        response = redirect(sign_in_url(exc.next_url, "ended" if exc.ended else None))
        if exc.ended:
            from api.console.web import cookie_name  # noqa: PLC0415
            response.delete_cookie(cookie_name(request), path="/")
        return response

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return app.state.console_renderer.page(request, "error.html", status=exc.status, title=exc.title,
                                               message=exc.message)
    return True
