"""A handler: one topic, its lock duration, its `Input` dataclass and its `handle` function — from a
module (`HandlerModule.from_module`) or from a decorated function (`@handler(topic=…, lock=…)`).

Everything is checked when the handler is defined, at import, not when the first task arrives.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any

from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError

from workers.runtime._exceptions import HandlerDefinitionError
from workers.runtime._outcomes import Complete, Incident
from workers.runtime._task import ExternalTask

__all__ = ["HandleFunction", "HandlerModule", "NoInput", "handler"]

HandleFunction = Callable[[ExternalTask[Any], Any], Complete | Mapping[str, Any] | None]
"""`handle(task, services) -> Complete` (a dict or None also complete the task)."""


@dataclass(frozen=True)
class NoInput:
    """The `Input` of a handler that reads no variables (it may still look at `task.variables`)."""


@dataclass(frozen=True)
class HandlerModule:
    """One topic's handler. Build it with `from_module()` or `@handler(...)`; both check it at once.

    Raises: HandlerDefinitionError (from the constructor) when a part is missing or of the wrong kind.
    """

    topic: str
    lock: timedelta
    input_type: type[Any]
    handle: HandleFunction
    name: str = ""
    _adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = self.name or getattr(self.handle, "__qualname__", "handler")
        if not isinstance(self.topic, str) or not self.topic.strip():
            raise HandlerDefinitionError(f"{where}: TOPIC must be a non-empty str")
        if not isinstance(self.lock, timedelta) or self.lock < timedelta(seconds=1):
            raise HandlerDefinitionError(f"{where}: LOCK must be a timedelta of at least 1 second")
        if not (isinstance(self.input_type, type) and dataclasses.is_dataclass(self.input_type)):
            raise HandlerDefinitionError(f"{where}: Input must be a dataclass")
        if not callable(self.handle):
            raise HandlerDefinitionError(f"{where}: handle must be callable")
        try:
            inspect.signature(self.handle).bind(None, None)
        except TypeError:
            raise HandlerDefinitionError(f"{where}: handle must take (task, services)") from None
        except ValueError:
            pass  # no signature to inspect (a builtin): trust it
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(self.input_type)
        except (PydanticSchemaGenerationError, TypeError, NameError) as exc:
            raise HandlerDefinitionError(f"{where}: Input has a field type that cannot be read from "
                                         f"variables ({type(exc).__name__})") from exc
        object.__setattr__(self, "_adapter", adapter)
        if not self.name:
            object.__setattr__(self, "name", where)

    @classmethod
    def from_module(cls, module: ModuleType) -> HandlerModule:
        """The handler a module defines with `TOPIC`, `LOCK`, `Input` and `handle` (STYLE §2.7).

        Raises: HandlerDefinitionError naming the module and what is missing.
        """
        missing = [name for name in ("TOPIC", "LOCK", "Input", "handle") if not hasattr(module, name)]
        if missing:
            raise HandlerDefinitionError(f"{module.__name__}: a handler module needs TOPIC, LOCK, Input and "
                                         f"handle; missing {', '.join(missing)}")
        return cls(topic=module.TOPIC, lock=module.LOCK, input_type=module.Input, handle=module.handle,
                   name=module.__name__)

    def parse_input(self, variables: Mapping[str, Any]) -> Any:
        """The `Input` from a task's variables; unknown variables are ignored.

        Raises: Incident naming each missing or unreadable field (never its value).
        """
        names = {f.name for f in dataclasses.fields(self.input_type) if f.init}
        try:
            return self._adapter.validate_python({k: v for k, v in variables.items() if k in names})
        except ValidationError as exc:
            problems = []
            for error in exc.errors(include_url=False, include_input=False, include_context=False):
                where = ".".join(str(part) for part in error["loc"]) or "?"
                if error["type"] == "missing":
                    problems.append(f"missing variable {where!r}")
                else:
                    problems.append(f"variable {where!r}: {error['msg']}")
            raise Incident(f"topic {self.topic!r}: the variables do not fit {self.input_type.__qualname__}: "
                           + "; ".join(problems)) from None

    def __call__(self, task: ExternalTask[Any], services: Any) -> Complete | Mapping[str, Any] | None:
        """Call `handle` directly, as a test would."""
        return self.handle(task, services)


def _input_from_annotation(fn: Callable[..., Any]) -> type[Any]:
    params = list(inspect.signature(fn).parameters.values())
    if not params or params[0].annotation is inspect.Parameter.empty:
        return NoInput
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:  # an annotation that names something not importable here
        name = params[0].name
        raise HandlerDefinitionError(f"{fn.__qualname__}: cannot resolve the annotation of {name!r} "
                                     f"({type(exc).__name__}); pass input=… to @handler") from exc
    hint = hints.get(params[0].name)
    if typing.get_origin(hint) is ExternalTask:
        (input_type,) = typing.get_args(hint)
        if input_type is Any:
            return NoInput
        if isinstance(input_type, type):
            return input_type
    if hint is ExternalTask:
        return NoInput
    raise HandlerDefinitionError(f"{fn.__qualname__}: annotate the first parameter as ExternalTask[Input], "
                                 "or pass input=… to @handler")


def handler(*, topic: str, lock: timedelta, input: type[Any] | None = None) -> Callable[[HandleFunction],
                                                                                     HandlerModule]:
    """Declare a handler from a plain function, for small cases; the same thing as a handler module.

        @handler(topic="send-reminder", lock=timedelta(minutes=1))
        def send_reminder(task: ExternalTask[Reminder], services: Services) -> Complete:
            ...

    `Input` comes from `input=`, else from the `ExternalTask[...]` annotation, else `NoInput`. The
    result is a `HandlerModule`, still callable as the function was.
    Raises: HandlerDefinitionError.
    """

    def decorate(fn: HandleFunction) -> HandlerModule:
        input_type = input if input is not None else _input_from_annotation(fn)
        module = getattr(fn, "__module__", "?")
        return HandlerModule(topic=topic, lock=lock, input_type=input_type, handle=fn,
                             name=f"{module}.{getattr(fn, '__qualname__', 'handler')}")

    return decorate
