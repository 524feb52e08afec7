"""The worker side of Camunda 7's external-task REST protocol (`…/engine-rest/external-task/…`), on httpx.

Every httpx error and every non-2xx answer is translated once, in `_call`, into the hierarchy of
`workers.runtime._exceptions`. Nothing here logs a request or response body.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx

from workers.runtime._exceptions import (
    EngineClientError,
    EngineRejected,
    EngineUnavailable,
    InvalidRequest,
    LockLost,
    NotAuthorized,
    ProtocolError,
    TaskGone,
)
from workers.runtime._request_id import HEADER as REQUEST_ID_HEADER
from workers.runtime._request_id import current_request_id, new_request_id
from workers.runtime._settings import LONG_POLL_MARGIN, WorkerSettings
from workers.runtime._task import LockedTask
from workers.runtime._variables import encode_variables

__all__ = ["EngineClient"]

_MAX_ENGINE_MESSAGE = 500


def _error_body(response: httpx.Response) -> tuple[str, str]:
    """Camunda's `{"type", "message"}`, or empty strings when the body is not that."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, Mapping):
        return "", ""
    return str(body.get("type") or ""), str(body.get("message") or "")[:_MAX_ENGINE_MESSAGE]


def _raise_for_status(response: httpx.Response, what: str, task_id: str | None) -> None:
    status = response.status_code
    if status < 300:
        return
    type_, message = _error_body(response)
    said = f"{what}: HTTP {status}" + (f" {type_}" if type_ else "") + (f": {message}" if message else "")
    if status >= 500 or status in (408, 429):
        raise EngineUnavailable(said)
    kwargs: dict[str, Any] = {"status": status, "type": type_, "engine_message": message}
    if status in (401, 403):
        raise NotAuthorized(said, **kwargs)
    if task_id is not None and status == 404:
        raise TaskGone(said, **kwargs)
    if status == 400 and type_ == "InvalidRequestException":
        raise InvalidRequest(said, **kwargs)
    if task_id is not None and status == 400:
        raise LockLost(said, **kwargs)  # Camunda: BadUserRequestException "… locked by worker …"
    if status == 400:
        raise InvalidRequest(said, **kwargs)
    if status >= 400:
        raise EngineRejected(said, **kwargs)
    raise ProtocolError(f"{what}: unexpected HTTP {status}")


class EngineClient:
    """Calls the engine's external-task endpoints as one worker (`settings.worker_id`).

    Async (httpx.AsyncClient): a `Worker` runs it on its own event loop thread, so a long poll can be
    abandoned at once on shutdown; handlers never see it. Use it on one event loop only, and close it
    (`await client.aclose()`, or `async with`); a `Worker` closes its client as the last step of stop.

    Every method raises: EngineUnavailable (unreachable, timeout, 5xx), NotAuthorized (401/403),
    ProtocolError (an answer of the wrong shape); the task methods also TaskGone (404), LockLost
    (400: another worker's, or not locked) and InvalidRequest (400 InvalidRequestException).

    Each call sends `X-Request-Id`: the id of the task being handled (see `_request_id`), or a new one.
    """

    def __init__(self, settings: WorkerSettings | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings or WorkerSettings()
        headers = {"Accept": "application/json", "User-Agent": "reviewflow-worker"}
        auth: httpx.Auth | None = None
        if self.settings.token is not None:
            token = self.settings.token.get_secret_value().removeprefix("Bearer ").strip()
            headers["Authorization"] = f"Bearer {token}"
        elif self.settings.username is not None and self.settings.password is not None:
            auth = httpx.BasicAuth(self.settings.username, self.settings.password.get_secret_value())
        self._http = httpx.AsyncClient(
            base_url=str(self.settings.engine_url).rstrip("/") + "/",
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(self.settings.request_timeout.total_seconds()),
            transport=transport,
            follow_redirects=False,
        )

    @property
    def worker_id(self) -> str:
        return self.settings.worker_id

    async def _call(self, path: str, body: Mapping[str, Any], *, task_id: str | None = None,
                    timeout: httpx.Timeout | None = None) -> httpx.Response:
        """POST `body` to `path`: the one place httpx errors become ours."""
        what = f"POST {path.split('/')[-1]}" + (f" (task {task_id})" if task_id else "")
        try:
            response = await self._http.post(
                path, json=body, timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                headers={REQUEST_ID_HEADER: current_request_id() or new_request_id()})
        except httpx.TimeoutException as exc:
            raise EngineUnavailable(f"{what}: no answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise EngineUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise EngineClientError(f"{what}: {type(exc).__name__}") from exc
        _raise_for_status(response, what, task_id)
        return response

    async def fetch_and_lock(self, topics: Mapping[str, int], max_tasks: int, long_poll_ms: int | None = None,
                             ) -> list[LockedTask]:
        """Lock up to `max_tasks` tasks of `topics` ({topic name: lock duration in ms}), waiting up to
        `long_poll_ms` (default: the settings' long poll) for the first one. The HTTP read timeout is
        the long poll plus LONG_POLL_MARGIN."""
        long_poll = self.settings.long_poll_ms if long_poll_ms is None else long_poll_ms
        body = {
            "workerId": self.worker_id,
            "maxTasks": max_tasks,
            "usePriority": True,
            "asyncResponseTimeout": long_poll,
            "topics": [{"topicName": name, "lockDuration": int(lock_ms), "variables": None,
                        "deserializeValues": False, "includeExtensionProperties": True}
                       for name, lock_ms in topics.items()],
        }
        read = (timedelta(milliseconds=long_poll) + LONG_POLL_MARGIN).total_seconds()
        timeout = httpx.Timeout(self.settings.request_timeout.total_seconds(), read=read)
        response = await self._call("external-task/fetchAndLock", body, timeout=timeout)
        try:
            items = response.json()
        except ValueError as exc:
            raise ProtocolError("fetchAndLock: the answer is not JSON") from exc
        if not isinstance(items, list):
            raise ProtocolError("fetchAndLock: the answer is not a JSON array")
        return [LockedTask.from_wire(item) for item in items]

    async def complete(self, task_id: str, variables: Mapping[str, Any] | None = None) -> None:
        """Raises also: VariableTypeError (before sending) for a value Camunda cannot carry."""
        body = {"workerId": self.worker_id, "variables": encode_variables(variables), "localVariables": {}}
        await self._call(f"external-task/{task_id}/complete", body, task_id=task_id)

    async def failure(self, task_id: str, message: str, details: str | None, retries: int,
                      retry_timeout_ms: int) -> None:
        """Report a failure; `retries=0` opens an incident. `details` must hold no variable values."""
        body: dict[str, Any] = {"workerId": self.worker_id, "errorMessage": message,
                                "retries": max(retries, 0), "retryTimeout": max(retry_timeout_ms, 0)}
        if details:
            body["errorDetails"] = details
        await self._call(f"external-task/{task_id}/failure", body, task_id=task_id)

    async def bpmn_error(self, task_id: str, code: str, message: str | None = None,
                         variables: Mapping[str, Any] | None = None) -> None:
        """Raises also: VariableTypeError (before sending)."""
        body: dict[str, Any] = {"workerId": self.worker_id, "errorCode": code,
                                "variables": encode_variables(variables)}
        if message:
            body["errorMessage"] = message
        await self._call(f"external-task/{task_id}/bpmnError", body, task_id=task_id)

    async def extend_lock(self, task_id: str, ms: int) -> None:
        """Keep the task locked for `ms` from now."""
        await self._call(f"external-task/{task_id}/extendLock",
                         {"workerId": self.worker_id, "newDuration": int(ms)}, task_id=task_id)

    async def unlock(self, task_id: str) -> None:
        """Give the task back: any worker may fetch it at once."""
        await self._call(f"external-task/{task_id}/unlock", {"workerId": self.worker_id}, task_id=task_id)

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
