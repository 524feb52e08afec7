"""Checking the Python a diagram runs (scripts, conditions, timer expressions) before it runs.

The sandbox's `check_source` refuses imports, I/O and introspection and anything RestrictedPython will
not compile. On top: a Camunda (JUEL) expression gets a hint, and a call to a function that neither
the sandbox nor the script itself provides — certain to fail when the case gets there — is an error.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from engine.bpmn.script_engine import BUILTINS, ForbiddenConstruct, check_source
from timekeeping.calendar import DIAGRAM_FUNCTIONS

AVAILABLE = frozenset(BUILTINS) | frozenset(DIAGRAM_FUNCTIONS)


@dataclass(frozen=True)
class CodeProblem:
    code: str
    message: str


def check_code(source: str, mode: str) -> list[CodeProblem]:
    """What is wrong with a script ("exec") or an expression ("eval"); empty when nothing is. Each
    message reads after its subject: "the condition 'x' " + message."""
    text = source.strip()
    if "${" in text or "#{" in text:
        return [CodeProblem("code-juel", "is a Camunda (JUEL) expression; diagrams here use Python, e.g. "
                                         "approved == True")]
    try:
        check_source(text, mode)
    except ForbiddenConstruct as exc:
        return [CodeProblem("code-refused", f"does not compile in the sandbox: {exc}")]
    tree = ast.parse(text, mode=mode)
    defined = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    defined |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    defined |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.Lambda) for a in n.args.args}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            if name not in AVAILABLE and name not in defined:
                problems.append(CodeProblem("code-unknown-function", f"calls {name}(), which diagrams cannot use "
                                            f"(line {node.lineno}); they have the sandbox's builtins and "
                                            + ", ".join(sorted(DIAGRAM_FUNCTIONS))))
    return problems
