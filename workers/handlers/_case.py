"""Helpers the handlers share: the case's keys, links for emails, and the names that must never
appear in anything sent. (A helper module: its name starts with `_`, so discovery skips it.)"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from workers.runtime import ExternalTask, Incident
from workers.services import Directory

__all__ = ["case_keys", "chosen", "confidential_names", "email_footer", "key", "long_date", "plain_date",
           "task_list_link", "unique"]


def case_keys(task: ExternalTask[Any], case_reference: str | None) -> tuple[str, ...]:
    """The names the case goes by in the directory's `involved_in` and `conflicts` lists."""
    return tuple(k for k in (task.business_key, case_reference) if k)


def chosen(task: ExternalTask[Any], name: str, choices: Collection[str]) -> str:
    """The service task's extension property `name`, which the diagram must set to one of `choices`
    (an Incident names the task otherwise)."""
    value = task.extension_properties.get(name, "")
    if value not in choices:
        raise Incident(f"service task {task.activity_id}: property {name} must be one of {', '.join(choices)}, "
                       f"not {value!r}")
    return value


def confidential_names(task: ExternalTask[Any]) -> list[str]:
    """The case's `confidential_names` (the child, family members, …), when the process has them."""
    names = task.variables.get("confidential_names")
    return [n for n in names if isinstance(n, str) and n.strip()] if isinstance(names, list) else []


def task_list_link(directory: Directory, case_reference: str) -> str:
    """The link emails carry: the task list, filtered to this case."""
    separator = "&" if "?" in directory.task_list_url else "?"
    return f"{directory.task_list_url}{separator}{urlencode({'business_key': case_reference})}"


def key(task: ExternalTask[Any], *parts: str) -> str:
    """An idempotency key for one thing this task sends: stable across retries and lock expiry."""
    return ":".join([task.activity_instance_id, *parts]) if parts else task.activity_instance_id


def email_footer(directory: Directory) -> str:
    return (f"\n--\n{directory.name}\nThis message carries references and links only. Case details are in "
            f"Reviewflow, for those who need to know.\nQuestions: {directory.contact_email}\n")


def unique(values: Iterable[str]) -> list[str]:
    """`values` without repeats (ignoring case), in order."""
    seen: list[str] = []
    for value in values:
        if value and value.casefold() not in {s.casefold() for s in seen}:
            seen.append(value)
    return seen


def long_date(day: date) -> str:
    """"Thursday 5 February 2026"."""
    return f"{day:%A} {plain_date(day)}"


def plain_date(day: date) -> str:
    """"5 February 2026"."""
    return f"{day.day} {day:%B %Y}"
