"""Fixtures for handler tests: fakes on 127.0.0.1, services aimed at them, and tasks built by hand."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.workers.services.fakes import (
    ENVIRONMENT,
    TOKEN,
    FakeEngineDocuments,
    FakeNationalPanel,
    FakeWebsite,
    write_directory,
)
from workers.runtime import ExternalTask, HandlerModule, LockedTask
from workers.services import Services, load_directory


@pytest.fixture
def national_panel() -> Iterator[FakeNationalPanel]:
    fake = FakeNationalPanel()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def website() -> Iterator[FakeWebsite]:
    fake = FakeWebsite()
    fake.start()
    yield fake
    fake.stop()


ServicesFactory = Callable[..., Services]


@pytest.fixture
def make_services(tmp_path: Path, engine_documents: FakeEngineDocuments) -> Iterator[ServicesFactory]:
    """make_services(national_panel_url="", website_url="", smtp_port=None): Services aimed at the fakes,
    with the outbox and the site folder under tmp_path."""
    built: list[Services] = []

    def make(**directory: Any) -> Services:
        path = write_directory(tmp_path, **directory)
        services = Services.build(load_directory(path, environ=ENVIRONMENT), engine_url=engine_documents.engine_url,
                                  token=TOKEN)
        built.append(services)
        return services

    yield make
    for services in built:
        services.close()


@pytest.fixture
def services(make_services: ServicesFactory) -> Services:
    """Services with no endpoints configured: the outbox and the site folder."""
    return make_services()


def task_for(module: Any, variables: dict[str, Any], *, properties: dict[str, str] | None = None,
             activity_instance_id: str = "activity:1", business_key: str | None = "NB-TEST-1",
             task_id: str = "task-1") -> ExternalTask[Any]:
    """The task the runtime would build for `module` from these variables (Input parsed as it parses it)."""
    handler = HandlerModule.from_module(module)
    locked = LockedTask(id=task_id, topic=handler.topic, activity_id=activity_instance_id.split(":")[0],
                        activity_instance_id=activity_instance_id, business_key=business_key,
                        process_instance_id="instance-1", variables=variables,
                        extension_properties=properties or {})
    return ExternalTask(handler.parse_input(variables), locked, lock=handler.lock)


def outbox_mail(folder: Path) -> list[Path]:
    return sorted((folder / "outbox" / "mail").glob("*.eml"))


def read_mail(path: Path) -> tuple[EmailMessage, str]:
    """An outbox email and its text body, decoded."""
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain",))
    assert body is not None
    return message, body.get_content()
