"""The console's settings, from the same REVIEWFLOW_* environment as the server's."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ASSETS = Path(__file__).resolve().parents[2] / "console" / "dist"


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEWFLOW_", extra="ignore")

    console: bool = Field(True, description="serve the web console at /")
    console_assets: Path = Field(ASSETS, description="the built front-end assets (make run builds them)")
    console_session_minutes: int = Field(480, ge=5, le=24 * 60,
                                         description="a console sign-in lasts at most this long")
    console_idle_minutes: int = Field(30, ge=1, le=24 * 60,
                                      description="a console sign-in ends after this long without a request")
    partnership_name: str = Field("Safeguarding Children Partnership", description="shown in the console's header")
    oidc_client_id: str | None = Field(None, description="the console's client id at the OpenID Connect issuer "
                                                         "(enables 'Sign in with your organisation account')")
    oidc_client_secret: str | None = None
    oidc_redirect_url: str | None = Field(None, description="the callback the issuer knows; default: "
                                                            "<this server>/sign-in/oidc/callback")
