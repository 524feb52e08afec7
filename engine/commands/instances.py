"""Start and cancel process instances."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from engine.commands.variables import check_variables
from engine.errors import DefinitionNotFound, InstanceNotFound, Invalid
from engine.queries.visibility import can_see_instance
from engine.results import Actor, InstanceInfo
from engine.store.change import Audit, IdempotencyKey
from engine.store.command import instance_command, new_instance_command
from engine.store.database import Database
from engine.store.tables import definition

MAX_BUSINESS_KEY = 255

_latest = (sa.select(definition.c.id, definition.c.key).where(definition.c.key == sa.bindparam("key"))
           .order_by(definition.c.version.desc()).limit(1))
_by_id = sa.select(definition.c.id, definition.c.key).where(definition.c.id == sa.bindparam("id"))


def check_text(value: str, what: str, *, max_length: int = MAX_BUSINESS_KEY) -> str:
    """A key or name people will read: 1 to `max_length` characters, not only spaces, and no control
    or bidirectional formatting characters (a right-to-left override makes "SIN-2026-41" look like
    another case; a NUL cuts it short in logs and files).

    Raises: Invalid naming what is wrong.
    """
    if not value or not value.strip() or len(value) > max_length:
        raise Invalid(f"{what} must be 1 to {max_length} characters")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") or ch in "\u2028\u2029":
            raise Invalid(f"{what} must not contain control or formatting characters "
                          f"(found U+{ord(ch):04X})")
    return value


def start_instance(db: Database, *, actor: Actor, definition_key: str | None = None,
                   definition_id: str | None = None, variables: Mapping[str, Any] | None = None,
                   business_key: str | None = None, audit: Audit | None = None,
                   idempotency: IdempotencyKey | None = None) -> InstanceInfo:
    """Start the latest version of `definition_key` (or exactly `definition_id`) and run it to its
    first wait state.

    Raises: DefinitionNotFound, VariablesInvalid, Invalid, BusinessKeyInUse, DuplicateRequest.
    """
    if (definition_key is None) == (definition_id is None):
        raise Invalid("give either a definition key or a definition id")
    if business_key is not None:
        check_text(business_key, "business key")
    data = check_variables(variables or {})

    def resolve(conn: sa.Connection) -> tuple[str, str]:          # in the command's own transaction
        if definition_id is not None:
            row = db.dialect.first(conn, _by_id, {"id": definition_id})
        else:
            row = db.dialect.first(conn, _latest, {"key": definition_key})
        if row is None:
            what = f"id {definition_id}" if definition_id is not None else f"key {definition_key}"
            raise DefinitionNotFound(f"no process definition with {what}")
        return row.id, row.key

    def prepare(wf: Any) -> None:
        wf.task_tree.data.update(data)

    with new_instance_command(db, actor=actor, business_key=business_key, resolve=resolve,
                              prepare=prepare, audit=audit, idempotency=idempotency) as cmd:
        cmd.record("instance_started", definition_id=cmd.definition_id, business_key=business_key)
    return cmd.result


def cancel_instance(db: Database, *, actor: Actor, instance_id: str, reason: str,
                    audit: Audit | None = None) -> InstanceInfo:
    """Cancel a running instance; every open task is cancelled with it.

    Raises: InstanceNotFound, InstanceNotActive (already completed or cancelled), Invalid.
    """
    if not reason or not reason.strip():
        raise Invalid("a reason is required to cancel a process instance")
    with instance_command(db, actor=actor, instance_id=instance_id, allow_suspended=True, audit=audit) as cmd:
        if not can_see_instance(cmd.conn, actor, instance_id):
            raise InstanceNotFound(f"no process instance with id {instance_id}")
        cmd.cancel(reason)
    return cmd.result
