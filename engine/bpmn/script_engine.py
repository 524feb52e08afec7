"""The script engine diagrams run with: RestrictedPython instead of SpiffWorkflow's plain eval/exec.

Scripts, gateway conditions and timer expressions are compiled by RestrictedPython (no imports, no
names or attributes starting with "_", guarded item and attribute access, no `open` or other I/O
builtins). Deployment compiles every one of them first, so a diagram that reaches for `__import__`,
`os` or `().__class__` is refused before it can run.

Where the code runs: an expression that is plainly cheap (`is_plainly_cheap`: comparisons, names,
constants, the calendar functions — what gateway conditions and timers mostly are) runs here, under
a tracing time limit; every script, and every other expression, runs in a sandbox process with
memory and CPU limits that can be stopped (engine.bpmn.sandbox). Either way an endless loop or a
runaway computation fails its task with an incident, and the caller never waits beyond the limit.
"""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.bpmn import sandbox
from engine.bpmn.sandbox import TimeLimitExceeded
from timekeeping import calendar
from timekeeping.calendar import DIAGRAM_FUNCTIONS
from timekeeping.clock import clock

BUILTINS: dict[str, Any] = {**safe_builtins, **{name: __builtins__[name] if isinstance(__builtins__, dict)
                                                 else getattr(__builtins__, name) for name in (
    "sum", "min", "max", "sorted", "any", "all", "enumerate", "list", "dict", "set", "reversed", "map", "filter")}}


class ForbiddenConstruct(PermissionError):
    """Code a diagram may not contain."""


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
def time_limit(seconds: float | None = None) -> Iterator[None]:
    """Abort Python code that runs longer than `seconds` (default: the sandbox's limit), checked on
    every line it executes."""
    seconds = sandbox.sandbox().time_limit if seconds is None else seconds
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


_CHEAP_NODES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
                ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
                ast.Name, ast.Load, ast.Constant, ast.Subscript, ast.Attribute, ast.IfExp, ast.List, ast.Tuple,
                ast.Set, ast.Dict, ast.BinOp, ast.Add, ast.Sub, ast.Call, ast.keyword)
_cheap: dict[str, bool] = {}


def is_plainly_cheap(expression: str) -> bool:
    """Whether an expression can do nothing slow or large inside a single C call: no comprehension,
    no lambda, no string formatting, no repetition or power, and no call but to the calendar
    functions (whose work is bounded). Such expressions run in-process; the rest in the sandbox."""
    found = _cheap.get(expression)
    if found is None:
        try:
            tree = ast.parse(expression, mode="eval")
        except SyntaxError:
            return False
        found = all(isinstance(node, _CHEAP_NODES) for node in ast.walk(tree)) and all(
            isinstance(node.func, ast.Name) and node.func.id in DIAGRAM_FUNCTIONS
            for node in ast.walk(tree) if isinstance(node, ast.Call)) and all(
            not isinstance(node.value, str | bytes) or len(node.value) < 10_000
            for node in ast.walk(tree) if isinstance(node, ast.Constant))
        if len(_cheap) < 10_000:
            _cheap[expression] = found
    return found


class RestrictedEnvironment(TaskDataEnvironment):
    def __init__(self) -> None:
        super().__init__({**GUARDS, **DIAGRAM_FUNCTIONS})

    def evaluate(self, expression: str, context: Any, external_context: Any = None) -> Any:
        if is_plainly_cheap(expression):
            with time_limit():
                return self.evaluate_here(expression, context, external_context)
        return sandbox.sandbox().run("eval", expression, context, external_context, clock.now(),
                                     tuple(sorted(calendar.current().closures)))

    def execute(self, script: str, context: Any, external_context: Any = None) -> bool:
        self.check_for_overwrite(context, external_context or {})
        sandbox.sandbox().run("exec", script, context, external_context, clock.now(),
                              tuple(sorted(calendar.current().closures)))
        return True

    def evaluate_here(self, expression: str, context: Any, external_context: Any = None) -> Any:
        code = compile_code(expression, "eval")
        my_globals = dict(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        return eval(code, my_globals)  # noqa: S307 - compiled by RestrictedPython, guarded globals

    def execute_here(self, script: str, context: Any, external_context: Any = None) -> bool:
        code = compile_code(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        context.update(external_context or {})
        try:
            exec(code, context)  # noqa: S102 - compiled by RestrictedPython, guarded globals
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


_environment = RestrictedEnvironment()


def run_restricted(mode: str, code: str, context: dict[str, Any], external: dict[str, Any] | None) -> Any:
    """Run restricted code here (in the sandbox process): "eval" returns the value, "exec" updates
    `context` in place."""
    if mode == "eval":
        return _environment.evaluate_here(code, context, external)
    return _environment.execute_here(code, context, external)


script_engine = PythonScriptEngine(environment=_environment)
