"""The partnership's handlers, one module per topic (the file is the topic with `_`), and their registry.

Each module exposes `TOPIC`, `LOCK`, `Input` and `handle` (STYLE §2.7), or defines functions with
`@workers.runtime.handler(topic=…, lock=…)`. Modules whose names start with `_` are helpers and are
not read. `discover()` imports them all and checks them at once, so a broken handler stops the
worker at start-up, not when its first task arrives.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from workers.runtime import HandlerDefinitionError, HandlerModule

__all__ = ["discover", "handlers_in"]


def handlers_in(module: ModuleType) -> list[HandlerModule]:
    """The handlers one module defines: itself when it has `TOPIC`, else its `@handler` functions.

    Raises: HandlerDefinitionError when it is neither, or breaks the protocol.
    """
    if hasattr(module, "TOPIC") or hasattr(module, "handle"):
        return [HandlerModule.from_module(module)]
    found = [value for value in vars(module).values()  # defined here, not imported from elsewhere
             if isinstance(value, HandlerModule)
             and getattr(value.handle, "__module__", None) == module.__name__]
    if not found:
        raise HandlerDefinitionError(f"{module.__name__}: not a handler module (no TOPIC, LOCK, Input and "
                                     "handle, no @handler functions); name helper modules with a leading _")
    return found


def discover(package: str = "workers.handlers") -> list[HandlerModule]:
    """Import every module of `package` and return its handlers, sorted by topic.

    Raises: HandlerDefinitionError for a module that breaks the protocol or two handlers of one topic;
    ImportError as raised by a module that does not import.
    """
    root = importlib.import_module(package)
    by_topic: dict[str, HandlerModule] = {}
    for info in sorted(pkgutil.iter_modules(getattr(root, "__path__", [])), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        for found in handlers_in(module):
            if found.topic in by_topic:
                raise HandlerDefinitionError(f"topic {found.topic!r} has two handlers: "
                                             f"{by_topic[found.topic].name} and {found.name}")
            by_topic[found.topic] = found
    return [by_topic[topic] for topic in sorted(by_topic)]
