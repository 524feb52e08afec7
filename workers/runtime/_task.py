"""A locked external task: as the engine sent it (`LockedTask`), as a handler sees it (`ExternalTask`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from workers.runtime._exceptions import ProtocolError
from workers.runtime._outcomes import Interrupted
from workers.runtime._request_id import current_request_id
from workers.runtime._variables import decode_variables

__all__ = ["ExternalTask", "LockedTask", "TaskLogger"]

InputT = TypeVar("InputT")

def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class LockedTask:
    """One task fetchAndLock returned, its variables decoded to plain Python. Only `id` and `topic`
    are required, so tests can build one by hand."""

    id: str
    topic: str
    worker_id: str | None = None
    activity_id: str | None = None
    activity_instance_id: str | None = None
    execution_id: str | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    business_key: str | None = None
    tenant_id: str | None = None
    retries: int | None = None
    priority: int = 0
    lock_expiration_time: str | None = None
    variables: Mapping[str, Any] = field(default_factory=_empty)
    extension_properties: Mapping[str, str] = field(default_factory=_empty)

    @classmethod
    def from_wire(cls, item: Any) -> LockedTask:
        """Raises: ProtocolError when the item lacks an id or a topic name."""
        if not isinstance(item, Mapping) or not item.get("id") or not item.get("topicName"):
            raise ProtocolError("fetchAndLock returned a task without id or topicName")

        def text(key: str) -> str | None:
            value = item.get(key)
            return None if value is None else str(value)

        retries = item.get("retries")
        if isinstance(retries, bool) or not isinstance(retries, int | float):
            retries = None
        variables = item.get("variables")
        variables = variables if isinstance(variables, Mapping) else None
        properties = item.get("extensionProperties")
        properties = properties if isinstance(properties, Mapping) else {}
        return cls(
            id=str(item["id"]),
            topic=str(item["topicName"]),
            worker_id=text("workerId"),
            activity_id=text("activityId"),
            activity_instance_id=text("activityInstanceId"),
            execution_id=text("executionId"),
            process_instance_id=text("processInstanceId"),
            process_definition_id=text("processDefinitionId"),
            process_definition_key=text("processDefinitionKey"),
            business_key=text("businessKey"),
            tenant_id=text("tenantId"),
            retries=None if retries is None else int(retries),
            priority=int(item.get("priority") or 0),
            lock_expiration_time=text("lockExpirationTime"),
            variables=MappingProxyType(decode_variables(variables)),
            extension_properties=MappingProxyType({str(k): str(v) for k, v in properties.items()}),
        )

    @property
    def log_extra(self) -> dict[str, Any]:
        """Ids for `extra=` on log records: never variables. With the request id of the work under way."""
        extra = {"topic": self.topic, "task_id": self.id, "instance_id": self.process_instance_id}
        if (request_id := current_request_id()) is not None:
            extra["request_id"] = request_id
        return extra


class TaskLogger(logging.LoggerAdapter[logging.Logger]):
    """Stamps `topic`, `task_id` and `instance_id` on each record (as Temporal's `activity.logger`).

    Log ids and codes, never variables: `task.logger.info("receipt %s", receipt.id)` — yes;
    `task.logger.info("%s", task.input)` — never.
    """

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs


class ExternalTask(Generic[InputT]):
    """One locked external task, as a handler sees it: its parsed `input`, its ids, and the two ways to
    talk back while it runs — `extend_lock()` (the heartbeat) and `shutting_down`.

    The runtime builds these. To unit-test a handler, build one yourself:
    `ExternalTask(Input(...), LockedTask(id="t-1", topic="x", activity_instance_id="a-1"))`;
    pass `heartbeat=` to observe `extend_lock()` and a `threading.Event` as `shutdown=` to stop it.
    """

    def __init__(self, input: InputT, locked: LockedTask, *, lock: timedelta = timedelta(minutes=5),
                 heartbeat: Callable[[timedelta], None] | None = None,
                 shutdown: threading.Event | None = None) -> None:
        self._input = input
        self._locked = locked
        self._lock = lock
        self._heartbeat = heartbeat
        self._shutdown = shutdown or threading.Event()
        self.logger = TaskLogger(logging.getLogger("workers.handlers"), locked.log_extra)

    @property
    def input(self) -> InputT:
        """The handler's `Input`, parsed from the task's variables."""
        return self._input

    @property
    def id(self) -> str:
        return self._locked.id

    @property
    def topic(self) -> str:
        return self._locked.topic

    @property
    def activity_instance_id(self) -> str:
        """Stable across retries and lock expiry: the base of idempotency keys."""
        return self._locked.activity_instance_id or self._locked.id

    @property
    def activity_id(self) -> str | None:
        return self._locked.activity_id

    @property
    def business_key(self) -> str | None:
        return self._locked.business_key

    @property
    def process_instance_id(self) -> str | None:
        return self._locked.process_instance_id

    @property
    def process_definition_key(self) -> str | None:
        return self._locked.process_definition_key

    @property
    def variables(self) -> Mapping[str, Any]:
        """All the variables the engine sent, as plain Python (read-only)."""
        return self._locked.variables

    @property
    def extension_properties(self) -> Mapping[str, str]:
        """The service task's `camunda:properties` from the diagram."""
        return self._locked.extension_properties

    @property
    def retries(self) -> int | None:
        """As the engine sent it: None until the first failure. For information; never count with it."""
        return self._locked.retries

    @property
    def lock(self) -> timedelta:
        """The handler's lock duration (its `LOCK`)."""
        return self._lock

    @property
    def locked_task(self) -> LockedTask:
        return self._locked

    def extend_lock(self, duration: timedelta | None = None) -> None:
        """Heartbeat: keep the task locked for `duration` (default: the handler's `LOCK`) from now.

        Call it between the steps of a long handler. If the engine cannot be reached the lock is left
        as it is and the handler goes on. Raises: LockLost or TaskGone when the task is no longer this
        worker's (let it propagate: the runtime drops the task without reporting); Interrupted when the
        worker has already given the task up.
        """
        if self._heartbeat is not None:
            self._heartbeat(duration or self._lock)

    @property
    def shutting_down(self) -> bool:
        """True once the worker is stopping: finish quickly, or call `stop_if_shutting_down()`."""
        return self._shutdown.is_set()

    def stop_if_shutting_down(self) -> None:
        """Raises: Interrupted when the worker is stopping; the runtime then unlocks the task at once, so
        another worker resumes it (through idempotency keys, not this worker's memory)."""
        if self._shutdown.is_set():
            raise Interrupted("the worker is shutting down")

    def __repr__(self) -> str:  # ids only: the input holds case data
        return f"ExternalTask(id={self.id!r}, topic={self.topic!r})"
