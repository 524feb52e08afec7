"""The script engine diagrams run with: restricted builtins and a syntax guard, never plain eval/exec."""

from __future__ import annotations

import ast
import builtins
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from timekeeping.calendar import DIAGRAM_FUNCTIONS

SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in (
    "len", "sum", "min", "max", "abs", "round", "sorted", "range", "str", "int", "float", "bool",
    "dict", "list", "set", "tuple", "any", "all", "enumerate", "zip", "isinstance", "reversed",
    "map", "filter", "True", "False", "None")}


class ForbiddenConstruct(PermissionError):
    pass


def check_source(code: str) -> None:
    """Refuse imports and any name or attribute that starts with an underscore."""
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise ForbiddenConstruct(f"import is not allowed (line {node.lineno})")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ForbiddenConstruct(f"attribute {node.attr!r} is not allowed (line {node.lineno})")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ForbiddenConstruct(f"name {node.id!r} is not allowed (line {node.lineno})")


class GuardedEnvironment(TaskDataEnvironment):
    def __init__(self) -> None:
        super().__init__({"__builtins__": SAFE_BUILTINS, **DIAGRAM_FUNCTIONS})
        self._checked: set[str] = set()

    def _check(self, code: str) -> None:
        if code not in self._checked:
            check_source(code)
            self._checked.add(code)

    def evaluate(self, expression: str, context: Any, external_context: Any = None) -> Any:
        self._check(expression)
        return super().evaluate(expression, context, external_context)

    def execute(self, script: str, context: Any, external_context: Any = None) -> Any:
        self._check(script)
        return super().execute(script, context, external_context)


script_engine = PythonScriptEngine(environment=GuardedEnvironment())
