"""`Services`: the outbound clients every handler receives, built once per process from the
partnership directory and the worker's settings."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.runtime import WorkerSettings
from workers.services._directory import Directory, load_directory, resolve_directory_path
from workers.services._documents import Documents
from workers.services._mail import Mailer
from workers.services._national_panel import NationalPanel
from workers.services._website import Website
from workers.services._word import Templates

__all__ = ["Services", "ServicesSettings", "services_for"]

log = logging.getLogger(__name__)


class ServicesSettings(BaseSettings):
    """Where the partnership directory is: REVIEWFLOW_WORKER_DIRECTORY (default `partnership.toml`,
    else `partnership.example.toml` with a warning)."""

    model_config = SettingsConfigDict(env_prefix="REVIEWFLOW_WORKER_", extra="ignore")

    directory: Path | None = Field(default=None, description="the partnership directory file (TOML)")


@dataclass
class Services:
    """What handlers use to reach the world: `directory`, `national_panel`, `website`, `mailer`,
    `documents`, and the partnership's Word `templates`. Build with `Services.build(directory,
    engine_url=…)` (tests aim it at fakes) or `Services.from_settings()`."""

    directory: Directory
    national_panel: NationalPanel
    website: Website
    mailer: Mailer
    documents: Documents
    templates: Templates

    @classmethod
    def build(cls, directory: Directory, *, engine_url: str, token: str | None = None, username: str | None = None,
              password: str | None = None, timeout_seconds: float = 30.0) -> Services:
        return cls(
            directory=directory,
            national_panel=NationalPanel(directory.national_panel, directory.outbox),
            website=Website(directory.publishing, directory.site, partnership=directory.name),
            mailer=Mailer(sender=directory.mail_from, outbox=directory.outbox, smtp=directory.smtp,
                          reply_to=directory.contact_email),
            documents=Documents(engine_url, token=token, username=username, password=password,
                                timeout_seconds=timeout_seconds),
            templates=Templates(directory.templates),
        )

    @classmethod
    def from_settings(cls, settings: WorkerSettings | None = None, *, directory: Path | None = None,
                      cwd: Path | None = None) -> Services:
        """From the worker's settings (engine URL and credentials) and the directory file.

        Raises: DirectoryError (an Incident) when the directory is missing or wrong.
        """
        settings = settings or WorkerSettings()
        path = resolve_directory_path(directory or ServicesSettings().directory, cwd)
        return cls.build(
            load_directory(path), engine_url=str(settings.engine_url),
            token=settings.token.get_secret_value().removeprefix("Bearer ").strip() if settings.token else None,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            timeout_seconds=max(settings.request_timeout.total_seconds(), 30.0))

    def close(self) -> None:
        for client in (self.national_panel, self.website, self.documents):
            client.close()


_default: Services | None = None
_default_lock = threading.Lock()


def services_for(services: Any) -> Services:
    """The `Services` a handler should use: the ones the worker was given, else the process's own,
    built on first use from the environment (`reviewflow worker` and `serve` pass none today).

    Raises: DirectoryError (an Incident) when they cannot be built.
    """
    global _default
    if isinstance(services, Services):
        return services
    if services is not None:
        raise TypeError(f"expected workers.services.Services, got {type(services).__name__}")
    with _default_lock:
        if _default is None:
            _default = Services.from_settings()
            log.info("services built from the partnership directory", extra={"directory": str(
                _default.directory.source)})
        return _default
