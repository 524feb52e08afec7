"""What operators watch: counts for metrics, the schema's place against the code's migrations, the
connection pool, and what a database holds (before a restore overwrites it). Ids, counts and names of
groups and topics only: never case data."""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from engine import clock
from engine.queries.timers import next_timer_due
from engine.store.database import Database
from engine.store.tables import audit_event, external_task, incident, instance, user_task

_N = sa.func.count().label("n")


@dataclass(frozen=True)
class InstanceTotals:
    """Counts that need a pass over every instance: read less often than OperationalCounts."""

    by_status: dict[str, int]                           # completed, cancelled (and any other) -> count
    suspended: int                                      # active instances that are suspended


@dataclass(frozen=True)
class OperationalCounts:
    """One snapshot, read in one transaction (a consistent view on SQLite WAL and PostgreSQL)."""

    at: datetime                                        # the engine clock when it was read
    active_instances: int                               # suspended ones included
    open_user_tasks: dict[str, int]                     # candidate group ("" for none) -> open tasks
    external_tasks: dict[tuple[str, str], int]          # (topic, available | locked | failed) -> count
    open_incidents: dict[str, int]                      # incident type -> unresolved incidents
    earliest_timer: datetime | None                     # the earliest due timer, overdue or not
    overdue_timers: int                                 # active instances whose timer is due by `at`
    totals: InstanceTotals | None = None                # when asked for

    @property
    def timer_lag_seconds(self) -> float:
        """How late the most overdue timer is (0 when none is overdue)."""
        if self.earliest_timer is None:
            return 0.0
        return max(0.0, (self.at - self.earliest_timer).total_seconds())


def operational_counts(db: Database, *, totals: bool = False) -> OperationalCounts:
    """What is open now, over indexed columns: active instances, open user tasks by candidate group,
    external tasks by topic and state, unresolved incidents, due timers — proportional to the open
    work, not to the history (10 ms for 100,000 active among 1,000,000 instances on PostgreSQL).
    With `totals`, also the finished instances by status and the suspended ones, which costs a pass
    over every instance (0.3 s at 1,000,000 on PostgreSQL): ask for them less often."""
    now = clock.now()
    with db.read() as conn:
        active = conn.execute(sa.select(sa.func.count()).select_from(instance)
                              .where(instance.c.status == "active")).scalar_one()
        groups: Counter[str] = Counter()
        for r in conn.execute(sa.select(user_task.c.candidate_groups, _N).group_by(user_task.c.candidate_groups)
                              ).mappings():
            for name in [g for g in (r["candidate_groups"] or "").split(",") if g] or [""]:
                groups[name] += r["n"]
        locked = sa.and_(external_task.c.lock_expires_at.is_not(None), external_task.c.lock_expires_at > now)
        state = sa.case((external_task.c.retries == 0, "failed"), (locked, "locked"), else_="available")
        tasks = {(r["topic"], r["state"]): r["n"] for r in conn.execute(
            sa.select(external_task.c.topic, state.label("state"), _N).group_by(external_task.c.topic, state)
        ).mappings()}
        incidents = {r["type"]: r["n"] for r in conn.execute(
            sa.select(incident.c.type, _N).where(incident.c.resolved_at.is_(None)).group_by(incident.c.type)
        ).mappings()}
        overdue = conn.execute(sa.select(sa.func.count()).select_from(instance).where(
            instance.c.status == "active", instance.c.suspended.is_(False),
            instance.c.next_timer_at <= now)).scalar_one()
        finished = None
        if totals:
            by_status = {r["status"]: r["n"] for r in conn.execute(
                sa.select(instance.c.status, _N).where(instance.c.status != "active").group_by(instance.c.status)
            ).mappings()}
            suspended = conn.execute(sa.select(sa.func.count()).select_from(instance).where(
                instance.c.status == "active", instance.c.suspended.is_(True))).scalar_one()
            finished = InstanceTotals(by_status=by_status, suspended=int(suspended))
    return OperationalCounts(at=now, active_instances=int(active), open_user_tasks=dict(groups),
                             external_tasks=tasks, open_incidents=incidents, earliest_timer=next_timer_due(db),
                             overdue_timers=int(overdue), totals=finished)


@functools.cache
@dataclass(frozen=True)
class PoolStatus:
    """The connection pool of this process, as far as the pool says (None where it does not)."""

    size: int | None                 # connections the pool keeps open when idle
    max_overflow: int | None         # connections it may open beyond `size` under load
    open: int | None                 # connections open now, idle or in use
    checked_out: int | None          # in use now


def pool_status(db: Database) -> PoolStatus:
    pool = db.engine.pool

    def ask(name: str) -> int | None:
        method = getattr(pool, name, None)
        try:
            return int(method()) if callable(method) else None
        except Exception:
            return None

    size, overflow = ask("size"), ask("overflow")          # overflow() starts at -size: none opened yet
    max_overflow = getattr(pool, "_max_overflow", None)
    return PoolStatus(size=size, max_overflow=max_overflow if isinstance(max_overflow, int) else None,
                      open=size + overflow if size is not None and overflow is not None else None,
                      checked_out=ask("checkedout"))


@dataclass(frozen=True)
class DatabaseContents:
    """What a database holds, to tell an empty one from one a restore would overwrite."""

    tables: list[str] = field(default_factory=list)
    revision: str | None = None
    instances: int | None = None
    audit_entries: int | None = None

    @property
    def empty(self) -> bool:
        return not self.tables

    def describe(self) -> str:
        if self.empty:
            return "empty"
        parts = [f"{len(self.tables)} tables", f"schema revision {self.revision or 'none'}"]
        if self.instances is not None:
            parts.append(f"{self.instances} instances")
        if self.audit_entries is not None:
            parts.append(f"{self.audit_entries} audit entries")
        return ", ".join(parts)


def database_contents(db: Database) -> DatabaseContents:
    """The tables in the database's schema (the search_path's first on PostgreSQL), its revision and
    how many instances and audit entries it holds."""
    with db.read() as conn:
        tables = sorted(sa.inspect(conn).get_table_names())
        if not tables:
            return DatabaseContents()
        revision = None
        if "alembic_version" in tables:
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
        count = {}
        for table in (instance, audit_event):
            if table.name in tables:
                count[table.name] = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    return DatabaseContents(tables=tables, revision=revision, instances=count.get("instance"),
                            audit_entries=count.get("audit_event"))


