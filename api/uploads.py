"""Reading deployment uploads (multipart files or one raw XML body), and what deploy checks them against."""

from __future__ import annotations

import functools
import logging
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

import engine

MAX_FILES = 50
log = logging.getLogger(__name__)


async def read_deploy_files(request: Request, filename: str | None) -> list[engine.DeployFile]:
    """Every uploaded file (whatever its form field), or the raw body as one file.

    Raises: Invalid when there is nothing to deploy.
    """
    content_type = request.headers.get("content-type", "")
    files: list[engine.DeployFile] = []
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES * 2)
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.append(engine.DeployFile(value.filename or name, await value.read()))
    else:
        body = await request.body()
        if body:
            files.append(engine.DeployFile(filename or "upload.bpmn", body))
    if not files:
        raise engine.Invalid("nothing to deploy: send .bpmn files as multipart 'files', or one diagram as "
                             "an application/xml body")
    return files


@functools.cache
def deploy_options(request: Request) -> dict[str, Any]:
    """What deploy checks against besides the files: the handlers' topics and the timer minimum."""
    return {"handler_topics": request.app.state.handler_topics,
            "min_timer_cycle": request.app.state.settings.min_timer_cycle}
