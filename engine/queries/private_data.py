"""Private data: variables and document kinds that only named groups, and the person a case names,
may read — on top of need-to-know (queries.visibility), whoever else sees the case or the task.

Process owners declare them beside their diagrams (`need_to_know.toml`), e.g.

    [[private]]
    name = "contact details"
    variables = ["contact", "contact_log"]
    document_kinds = ["contact_letter"]
    groups = ["front-office"]                 # members of these groups may read them
    users_named_by = ["case_officer.user"]    # and the user the case's variable at this path names

A person who may not read them finds them as if they did not exist: the variables are left out of
every answer (case, task, completion, message), a variable filter or correlation key on one matches
nothing, and the documents are not listed and cannot be fetched or attached. Workers never receive
them. The service itself (Actor.system, or no viewer) reads everything.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import Invalid
from engine.results import Actor
from engine.store.projection import lookup


@dataclass(frozen=True)
class PrivateData:
    name: str
    variables: frozenset[str]
    document_kinds: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    users_named_by: tuple[str, ...] = ()      # dotted paths into the case's variables

    def readable_by_group(self, actor: Actor) -> bool:
        return bool(self.groups & actor.groups)

    def readable(self, actor: Actor, variables: Mapping[str, Any]) -> bool:
        """Whether the actor may read this data of the case whose variables these are."""
        if self.readable_by_group(actor):
            return True
        return any(lookup(variables, path) == actor.id for path in self.users_named_by)


def load_private_data(path: Path) -> tuple[PrivateData, ...]:
    """The declarations of a need_to_know.toml. Raises: Invalid (naming the file and the fault)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise Invalid(f"{path}: {exc}") from exc
    found = []
    for n, entry in enumerate(raw.get("private") or [], 1):
        if not isinstance(entry, dict):
            raise Invalid(f"{path}: private entry {n} is not a table")
        unknown = set(entry) - {"name", "variables", "document_kinds", "groups", "users_named_by"}
        if unknown:
            raise Invalid(f"{path}: private entry {n} has unknown keys {sorted(unknown)}")
        lists = {k: entry.get(k) or [] for k in ("variables", "document_kinds", "groups", "users_named_by")}
        for key, value in lists.items():
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise Invalid(f"{path}: private entry {n}: {key} is a list of names")
        if not lists["groups"] and not lists["users_named_by"]:
            raise Invalid(f"{path}: private entry {n}: name who may read it (groups or users_named_by)")
        found.append(PrivateData(name=str(entry.get("name") or f"entry {n}"), variables=frozenset(lists["variables"]),
                                 document_kinds=frozenset(lists["document_kinds"]), groups=frozenset(lists["groups"]),
                                 users_named_by=tuple(lists["users_named_by"])))
    return tuple(found)


def hidden_names(rules: Iterable[PrivateData], actor: Actor | None, variables: Mapping[str, Any]) -> set[str]:
    """The private variable names the actor may not read in a case with these variables."""
    if actor is None or actor.internal:
        return set()
    return {name for rule in rules if not rule.readable(actor, variables) for name in rule.variables}


def redact(rules: Iterable[PrivateData], actor: Actor | None, variables: Mapping[str, Any],
           case_variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`variables` without what the actor may not read (judged on `case_variables`, or on them)."""
    hidden = hidden_names(rules, actor, variables if case_variables is None else case_variables)
    return {k: v for k, v in variables.items() if k not in hidden}


def names_hidden_everywhere(rules: Iterable[PrivateData], actor: Actor | None) -> set[str]:
    """The private names the actor may not use to search across cases: all but its groups' own
    (being named by one case does not let a person probe the others)."""
    if actor is None or actor.internal:
        return set()
    return {name for rule in rules if not rule.readable_by_group(actor) for name in rule.variables}


def hidden_kinds(rules: Iterable[PrivateData], actor: Actor | None, variables: Mapping[str, Any]) -> set[str]:
    if actor is None or actor.internal:
        return set()
    return {kind for rule in rules if not rule.readable(actor, variables) for kind in rule.document_kinds}
