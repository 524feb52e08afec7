"""Who may act: principals (people and workers), their API keys, and cases shared with groups.

API keys are random 256-bit secrets shown once; only their SHA-256 is stored (a slow password hash
buys nothing for a random key of this size). A revoked key or a disabled principal stops working
at the next request: nothing is cached.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from engine import clock
from engine.commands.instances import check_text
from engine.errors import Conflict, InstanceNotFound, Invalid, NotFound
from engine.queries.visibility import can_see_instance
from engine.results import Actor
from engine.store.change import Audit, change
from engine.store.command import lock_instance
from engine.store.database import Database
from engine.store.rows import aware, one
from engine.store.tables import api_key, case_share, principal

KEY_PREFIX = "rfk"


@dataclass(frozen=True)
class PrincipalInfo:
    id: str
    kind: str                        # user | worker
    roles: list[str]
    groups: list[str]
    organisation: str | None
    topics: list[str] | None
    display_name: str | None
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class KeyInfo:
    id: str
    principal_id: str
    prefix: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedKey:
    key: KeyInfo
    secret: str                      # the whole token; shown once, never stored


def _principal(r: Any) -> PrincipalInfo:
    return PrincipalInfo(id=r.id, kind=r.kind, roles=list(r.roles or []), groups=list(r.groups or []),
                         organisation=r.organisation, topics=list(r.topics) if r.topics is not None else None,
                         display_name=r.display_name, created_at=aware(r.created_at),
                         disabled_at=aware(r.disabled_at))


def _key(r: Any) -> KeyInfo:
    return KeyInfo(id=r.id, principal_id=r.principal_id, prefix=r.prefix, name=r.name,
                   created_at=aware(r.created_at), revoked_at=aware(r.revoked_at))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_principal(db: Database, *, principal_id: str, roles: list[str], groups: list[str] | None = None,
                     kind: str = "user", organisation: str | None = None, topics: list[str] | None = None,
                     display_name: str | None = None) -> PrincipalInfo:
    """Raises: Invalid, Conflict (the id exists)."""
    check_text(principal_id, "a principal id")
    if ":" in principal_id or principal_id != principal_id.strip():
        raise Invalid("a principal id has no ':' and no spaces around it")
    for name in [*(groups or []), *roles, *(topics or []), *([organisation] if organisation else []),
                 *([display_name] if display_name else [])]:
        check_text(name, "a name, role, group, organisation or topic")
    if kind not in ("user", "worker"):
        raise Invalid("kind is user or worker")
    row = {"id": principal_id, "kind": kind, "roles": sorted(set(roles)), "groups": sorted(set(groups or [])),
           "organisation": organisation, "topics": sorted(set(topics)) if topics is not None else None,
           "display_name": display_name, "created_at": clock.now(), "disabled_at": None}
    try:
        with db.write() as conn:
            if conn.execute(sa.select(principal.c.id).where(principal.c.id == principal_id)).first() is not None:
                raise Conflict(f"principal {principal_id} exists already")
            conn.execute(principal.insert(), [row])
    except sa.exc.IntegrityError as exc:        # made by another writer between the read and the insert
        raise Conflict(f"principal {principal_id} exists already") from exc
    return _principal(SimpleNamespace(**row))


def list_principals(db: Database) -> list[PrincipalInfo]:
    with db.read() as conn:
        return [_principal(r) for r in conn.execute(sa.select(principal).order_by(principal.c.id))]


def get_principal(db: Database, *, principal_id: str) -> PrincipalInfo:
    """Raises: NotFound."""
    return _principal(one(db, sa.select(principal).where(principal.c.id == principal_id),
                          NotFound(f"no principal {principal_id}")))


def disable_principal(db: Database, *, principal_id: str) -> None:
    """Every key of the principal stops working at once. Raises: NotFound."""
    with db.write() as conn:
        done = conn.execute(principal.update().where(principal.c.id == principal_id, principal.c.disabled_at.is_(None))
                            .values(disabled_at=clock.now()))
        if done.rowcount != 1 and conn.execute(
                sa.select(principal.c.id).where(principal.c.id == principal_id)).first() is None:
            raise NotFound(f"no principal {principal_id}")


def count_principals(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(principal)).scalar_one()


def issue_key(db: Database, *, principal_id: str, name: str | None = None) -> IssuedKey:
    """A new key for the principal. The secret is in the answer and nowhere else. Raises: NotFound."""
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    row = {"id": str(uuid.uuid4()), "principal_id": principal_id, "prefix": prefix, "secret_hash": _hash(secret),
           "name": name, "created_at": clock.now(), "revoked_at": None}
    with db.write() as conn:
        if conn.execute(sa.select(principal.c.id).where(principal.c.id == principal_id)).first() is None:
            raise NotFound(f"no principal {principal_id}")
        conn.execute(api_key.insert(), [row])
    return IssuedKey(_key(SimpleNamespace(**row)), secret)


def revoke_key(db: Database, *, key_id: str) -> None:
    """Raises: NotFound."""
    with db.write() as conn:
        done = conn.execute(api_key.update().where(api_key.c.id == key_id, api_key.c.revoked_at.is_(None))
                            .values(revoked_at=clock.now()))
        if done.rowcount != 1 and conn.execute(sa.select(api_key.c.id).where(api_key.c.id == key_id)).first() is None:
            raise NotFound(f"no key {key_id}")


def list_keys(db: Database, *, principal_id: str | None = None) -> list[KeyInfo]:
    query = sa.select(api_key).order_by(api_key.c.created_at)
    if principal_id is not None:
        query = query.where(api_key.c.principal_id == principal_id)
    with db.read() as conn:
        return [_key(r) for r in conn.execute(query)]


_by_prefix = (sa.select(api_key.c.secret_hash, api_key.c.revoked_at, principal)
              .join(principal, principal.c.id == api_key.c.principal_id)
              .where(api_key.c.prefix == sa.bindparam("prefix")))


def authenticate_key(db: Database, secret: str, *, principal_id: str | None = None) -> PrincipalInfo | None:
    """The principal a key belongs to — None if it is unknown, revoked, or its principal disabled
    (or, with `principal_id`, belongs to someone else)."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(secret) > 200:
        return None
    row = db.read_one(_by_prefix, {"prefix": parts[1]})
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    if row.revoked_at is not None or row.disabled_at is not None:
        return None
    if principal_id is not None and row.id != principal_id:
        return None
    return _principal(row)


def share_case(db: Database, *, actor: Actor, instance_id: str, group: str, audit: Audit | None = None) -> None:
    """Let a group's members see the case. Raises: InstanceNotFound (also when the actor may not
    see it), Invalid."""
    check_text(group, "a group name")
    with change(db, actor=actor, audit=audit) as ch:
        lock_instance(ch, instance_id)
        if not can_see_instance(ch.conn, actor, instance_id):
            raise InstanceNotFound(f"no process instance with id {instance_id}")
        exists = ch.conn.execute(sa.select(case_share.c.group_name).where(
            case_share.c.instance_id == instance_id, case_share.c.group_name == group)).first()
        if exists is None:
            ch.conn.execute(case_share.insert(), [{"instance_id": instance_id, "group_name": group,
                                                   "shared_by": actor.id, "shared_at": ch.now}])
            ch.record(instance_id, "case_shared", group=group)
        else:
            ch.touch(instance_id)
