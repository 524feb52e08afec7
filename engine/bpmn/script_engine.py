"""The script engine diagrams run with: RestrictedPython instead of SpiffWorkflow's plain eval/exec.

Scripts, gateway conditions and timer expressions are compiled by RestrictedPython (no imports, no
names or attributes starting with "_", guarded item and attribute access, no `open` or other I/O
builtins) and run under a time limit. Deployment compiles every one of them first, so a diagram that
reaches for `__import__`, `os` or `().__class__` is refused before it can run; an endless loop fails
its task with an incident.
"""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from timekeeping.calendar import DIAGRAM_FUNCTIONS

TIME_LIMIT_SECONDS = 2.0

BUILTINS: dict[str, Any] = {**safe_builtins, **{name: __builtins__[name] if isinstance(__builtins__, dict)
                                                 else getattr(__builtins__, name) for name in (
    "sum", "min", "max", "sorted", "any", "all", "enumerate", "list", "dict", "set", "reversed", "map", "filter")}}


class ForbiddenConstruct(PermissionError):
    """Code a diagram may not contain."""


class TimeLimitExceeded(Exception):
    """A script or expression ran longer than the engine allows."""


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    ops = {"+=": lambda a, b: a + b, "-=": lambda a, b: a - b, "*=": lambda a, b: a * b,
           "/=": lambda a, b: a / b, "//=": lambda a, b: a // b, "%=": lambda a, b: a % b}
    if op not in ops:
        raise ForbiddenConstruct(f"operator {op} is not allowed")
    return ops[op](x, y)


GUARDS: dict[str, Any] = {
    "__builtins__": BUILTINS, "_getattr_": safer_getattr, "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter, "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence, "_write_": full_write_guard, "_inplacevar_": _inplacevar,
}

_compiled: dict[tuple[str, str], Any] = {}


def compile_code(code: str, mode: str) -> Any:
    """Compile with RestrictedPython ("eval" or "exec"); cached.

    Raises: ForbiddenConstruct naming what is wrong.
    """
    key = (mode, code)
    found = _compiled.get(key)
    if found is None:
        result = (compile_restricted_eval if mode == "eval" else compile_restricted_exec)(code, "<diagram>")
        if result.errors or result.code is None:
            raise ForbiddenConstruct("; ".join(result.errors) or "cannot be compiled")
        if len(_compiled) < 10_000:
            _compiled[key] = result.code
        found = result.code
    return found


REFUSED_NAMES = frozenset({"open", "eval", "exec", "compile", "getattr", "setattr", "delattr", "globals", "locals",
                           "vars", "breakpoint", "input", "help", "memoryview", "os", "sys", "subprocess", "socket",
                           "importlib", "builtins"})


def check_source(code: str, mode: str = "exec") -> None:
    """Refuse, before anything runs, code that imports, names I/O or introspection, or that
    RestrictedPython will not compile.

    Raises: ForbiddenConstruct naming the construct and line.
    """
    try:
        tree = ast.parse(code, mode=mode)
    except SyntaxError as exc:
        raise ForbiddenConstruct(f"line {exc.lineno}: {exc.msg}") from exc
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise ForbiddenConstruct(f"line {node.lineno}: import is not allowed")
        if isinstance(node, ast.Name) and node.id in REFUSED_NAMES:
            raise ForbiddenConstruct(f"line {node.lineno}: {node.id!r} is not allowed")
    compile_code(code, mode)


@contextmanager
def time_limit(seconds: float = TIME_LIMIT_SECONDS) -> Iterator[None]:
    """Abort Python code that runs longer than `seconds` (checked on every line it executes)."""
    deadline = time.perf_counter() + seconds

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if time.perf_counter() > deadline:
            raise TimeLimitExceeded(f"stopped after {seconds:g} s: scripts and expressions must be short")
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


class RestrictedEnvironment(TaskDataEnvironment):
    def __init__(self) -> None:
        super().__init__({**GUARDS, **DIAGRAM_FUNCTIONS})

    def evaluate(self, expression: str, context: Any, external_context: Any = None) -> Any:
        code = compile_code(expression, "eval")
        my_globals = dict(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        with time_limit():
            return eval(code, my_globals)  # noqa: S307 - compiled by RestrictedPython, guarded globals

    def execute(self, script: str, context: Any, external_context: Any = None) -> bool:
        code = compile_code(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        context.update(external_context or {})
        try:
            with time_limit():
                exec(code, context)  # noqa: S102 - compiled by RestrictedPython, guarded globals
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


script_engine = PythonScriptEngine(environment=RestrictedEnvironment())
