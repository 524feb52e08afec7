"""Sign-in sessions: a person's time-limited, revocable sign-in to a front end, bound to the API key
or the identity-provider token it was opened with.

The front end holds a random 256-bit token (a cookie); only its SHA-256 is stored, as with API keys.
A session opened with a key ends when that key is revoked or its principal disabled, at the next
request: roles, groups and organisation are read from the principal each time, so a change to them
applies at once. A session opened with an identity provider's token carries the claims it was
opened with, and ends early if a principal of that id exists and is disabled. Every session ends
after its absolute lifetime and after `idle` without a request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from engine import clock
from engine.commands.access import KEY_PREFIX, authenticate_key
from engine.errors import Invalid
from engine.store.database import Database
from engine.store.rows import aware
from engine.store.tables import api_key, principal, web_session

TOUCH_EVERY = timedelta(seconds=60)          # last_seen_at is written at most this often


@dataclass(frozen=True)
class SessionInfo:
    principal_id: str
    via: str                                 # key | oidc
    roles: list[str]
    groups: list[str]
    organisation: str | None
    display_name: str | None
    csrf_token: str                          # what every form of this session must send back
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class OpenedSession:
    token: str                               # for the cookie; shown once, never stored
    session: SessionInfo


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _insert(db: Database, row: dict[str, Any], *, display_name: str | None = None) -> OpenedSession:
    token = secrets.token_urlsafe(32)
    now = clock.now()
    csrf = secrets.token_urlsafe(32)
    with db.write() as conn:
        conn.execute(web_session.delete().where(web_session.c.expires_at < now))      # purge the expired
        conn.execute(web_session.insert(), [{**row, "id": _hash(token), "csrf_token": csrf, "created_at": now,
                                             "last_seen_at": now}])
    info = SessionInfo(principal_id=str(row["principal_id"]), via=str(row["via"]),
                       roles=list(row["roles"] or []), groups=list(row["groups"] or []),
                       organisation=row["organisation"], display_name=display_name,
                       csrf_token=csrf, created_at=now, last_seen_at=now, expires_at=row["expires_at"])
    return OpenedSession(token, info)


def open_key_session(db: Database, *, principal_id: str, secret: str, lifetime: timedelta) -> OpenedSession | None:
    """A session for a person who signed in with their user name and one of their API keys; None if
    the key is not theirs, is revoked, their account is disabled, or the account is a worker's."""
    found = authenticate_key(db, secret, principal_id=principal_id)
    if found is None or found.kind != "user":
        return None
    prefix = secret.split("_", 2)[1]
    with db.read() as conn:
        key_id: str = conn.execute(sa.select(api_key.c.id).where(api_key.c.prefix == prefix)).scalar_one()
    opened = _insert(db, {"principal_id": found.id, "via": "key", "key_id": key_id, "roles": None,
                          "groups": None, "organisation": None, "expires_at": clock.now() + lifetime},
                     display_name=found.display_name)
    return OpenedSession(opened.token, replace(opened.session, roles=found.roles, groups=found.groups,
                                               organisation=found.organisation))


def open_token_session(db: Database, *, principal_id: str, roles: list[str], groups: list[str],
                       organisation: str | None, lifetime: timedelta) -> OpenedSession:
    """A session for a person an identity provider vouched for, with the claims it gave.
    Raises: Invalid (no user id, or that principal is disabled)."""
    if not principal_id or len(principal_id) > 255:
        raise Invalid("the identity provider named no user")
    with db.read() as conn:
        disabled = conn.execute(sa.select(principal.c.disabled_at).where(principal.c.id == principal_id)).first()
    if disabled is not None and disabled.disabled_at is not None:
        raise Invalid("this account is disabled")
    return _insert(db, {"principal_id": principal_id, "via": "oidc", "key_id": None, "roles": sorted(set(roles)),
                        "groups": sorted(set(groups)), "organisation": organisation,
                        "expires_at": clock.now() + lifetime})


_by_token = (sa.select(web_session, api_key.c.revoked_at, principal.c.roles.label("p_roles"),
                       principal.c.groups.label("p_groups"), principal.c.organisation.label("p_organisation"),
                       principal.c.display_name, principal.c.disabled_at, principal.c.kind)
             .select_from(web_session.outerjoin(api_key, api_key.c.id == web_session.c.key_id)
                          .outerjoin(principal, principal.c.id == web_session.c.principal_id))
             .where(web_session.c.id == sa.bindparam("id")))


def resolve_session(db: Database, *, token: str, idle: timedelta) -> SessionInfo | None:
    """The live session this token opened, or None: unknown, signed out, past its lifetime, idle
    longer than `idle`, its key revoked or its principal disabled (such a session is deleted)."""
    if not token or len(token) > 100:
        return None
    token_hash = _hash(token)
    row = db.read_one(_by_token, {"id": token_hash})
    if row is None:
        return None
    now = clock.now()
    expires_at, last_seen_at = aware(row.expires_at), aware(row.last_seen_at)
    ended = now >= expires_at or now - last_seen_at > idle or row.disabled_at is not None
    if row.via == "key":
        ended = ended or row.key_id is None or row.revoked_at is not None or row.kind != "user"
    if ended:
        with db.write() as conn:
            conn.execute(web_session.delete().where(web_session.c.id == token_hash))
        return None
    if now - last_seen_at >= TOUCH_EVERY:
        with db.write() as conn:
            conn.execute(web_session.update().where(web_session.c.id == token_hash).values(last_seen_at=now))
        last_seen_at = now
    by_key = row.via == "key"
    return SessionInfo(
        principal_id=row.principal_id, via=row.via,
        roles=list((row.p_roles if by_key else row.roles) or []),
        groups=list((row.p_groups if by_key else row.groups) or []),
        organisation=row.p_organisation if by_key else row.organisation, display_name=row.display_name,
        csrf_token=row.csrf_token, created_at=aware(row.created_at), last_seen_at=last_seen_at,
        expires_at=expires_at)


def close_session(db: Database, *, token: str) -> None:
    """Sign out: the token stops working at once (an unknown token is no error)."""
    with db.write() as conn:
        conn.execute(web_session.delete().where(web_session.c.id == _hash(token)))


def looks_like_key(secret: str) -> bool:
    return secret.startswith(KEY_PREFIX + "_") and secret.count("_") >= 2
