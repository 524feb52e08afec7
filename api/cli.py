"""`reviewflow` — serve the API, migrate the database, check, compare and deploy diagrams."""

from __future__ import annotations

import argparse
import faulthandler
import functools
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

import engine
from api.settings import ServerSettings

log = logging.getLogger("reviewflow")

EPILOG = """configuration comes from environment variables:
  REVIEWFLOW_DATABASE_URL        default sqlite:///var/reviewflow.db (postgresql://… for PostgreSQL)
  REVIEWFLOW_SQLITE_SYNCHRONOUS  FULL (default, survives power loss) or NORMAL
  REVIEWFLOW_HOST, REVIEWFLOW_PORT  default 127.0.0.1 and 8000
  REVIEWFLOW_BPMN_DIR            diagrams deployed by `serve` at start-up (default bpmn)
  REVIEWFLOW_TIMERS              run the timer scheduler in `serve` (default true)
  REVIEWFLOW_WORKERS             run the handlers inside `serve`, over HTTP (default true)
  REVIEWFLOW_WORKER_*            the worker's settings (`reviewflow worker --help`)
  REVIEWFLOW_CLOSURE_DAYS        the partnership's closure days, e.g. '["2026-12-29"]' (not working days)
  REVIEWFLOW_MIN_TIMER_CYCLE     the shortest interval a repeating timer may have (default PT1M)
  REVIEWFLOW_LOG_LEVEL           DEBUG, INFO (default), WARNING, ERROR
  REVIEWFLOW_CONSOLE             serve the web console at / (default true; `make run` builds its assets)
  REVIEWFLOW_CONSOLE_SESSION_MINUTES, _IDLE_MINUTES  a console sign-in lasts 480, ends after 30 idle
  REVIEWFLOW_OIDC_CLIENT_ID, _CLIENT_SECRET  with REVIEWFLOW_OIDC_ISSUER: console sign-in by OpenID Connect
  REVIEWFLOW_LOG_FORMAT          text (default) or json: one JSON object per line, with the request id
  REVIEWFLOW_PROCESSES           server processes `serve` runs (default 1; more need PostgreSQL)
  REVIEWFLOW_METRICS_KEY         a scrape key for /metrics from other hosts (default: this host only)
  REVIEWFLOW_FIRST_KEY_FILE      where the first serve writes the admin key, mode 0600 (default var/admin.key)
  REVIEWFLOW_AUDIT_HEAD, _KEY    publish the audit trail's signed head to a file or URL (audit verify --head)
  REVIEWFLOW_SIGN_IN_LIMIT_PER_SOURCE, _PER_KEY  failed sign-ins allowed (default 20/minute, 10/minute)
  REVIEWFLOW_SCRIPT_TIME_LIMIT, REVIEWFLOW_SCRIPT_MEMORY_MB  a diagram script's seconds and MiB (2, 256)
  REVIEWFLOW_ENGINE_THREADS      engine calls one server process works on at once (default 8)
all of them, and sizing: docs/operations.md
"""


def handler_topics() -> frozenset[str] | None:
    """The topics the partnership's handlers (workers/handlers) serve, so that deploy and lint can warn
    about a topic nobody serves; None (no such warning) when the handlers cannot be loaded."""
    try:
        from workers.handlers import discover  # noqa: PLC0415 - the composition module may
        return frozenset(h.topic for h in discover())
    except Exception as exc:       # a broken handler stops the workers, not deployments
        log.warning("handlers could not be loaded (%s): topics are not checked at deploy", type(exc).__name__)
        return None


def open_database(settings: ServerSettings) -> engine.Database:
    engine.configure_calendar(settings.closure_days)
    if (path := settings.sqlite_path()) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return engine.Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous,
                           busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                           organisation_variable=settings.organisation_variable,
                           audit_fast=settings.audit_durability == "fast")


def diagram_files(directory: Path) -> list[engine.DeployFile]:
    """The diagrams in `directory` and the form schemas in its forms/ folder."""
    paths = sorted(directory.glob("*.bpmn")) + sorted((directory / "forms").glob("*.json"))
    return [engine.DeployFile(p.name if p.suffix == ".bpmn" else f"forms/{p.name}", p.read_bytes()) for p in paths]


def deploy_directory(db: engine.Database, directory: Path, *,
                     min_timer_cycle: timedelta = engine.DEFAULT_MIN_TIMER_CYCLE) -> engine.DeploymentResult | None:
    files = diagram_files(directory)
    if not any(f.name.endswith(".bpmn") for f in files):
        log.info("no diagrams in %s", directory)
        return None
    return engine.deploy(db, files=files, actor=engine.Actor.system("system:startup"),
                         handler_topics=handler_topics(), min_timer_cycle=min_timer_cycle)


def _print_deployment(result: engine.DeploymentResult) -> None:
    for d in result.definitions:
        state = "deployed as new version" if d.created else "unchanged, still"
        print(f"  {d.definition.resource_name}: {d.definition.key} {state} {d.definition.version}")
    for p in result.warnings:
        print(f"  {p.format()}")


def cmd_serve(args: argparse.Namespace, settings: ServerSettings) -> int:
    from api.app import create_app  # noqa: PLC0415
    if args.host:
        settings.host = args.host
    if args.port is not None:
        settings.port = args.port
    if args.processes is not None:
        settings.processes = args.processes
    if settings.processes > 1 and settings.database_url.startswith("sqlite"):
        print(f"error: --processes {settings.processes} needs PostgreSQL. SQLite lets one process write to a file "
              "at a time, so more server processes would only queue behind each other's write lock. Serve one "
              "process (REVIEWFLOW_ENGINE_THREADS sets how many requests it works on at once), or move to "
              "PostgreSQL (docs/operations.md).", file=sys.stderr)
        return 2
    db = open_database(settings)
    engine.upgrade(db)
    bootstrap_admin(db, settings.first_key_file)
    if settings.deploy_on_start and not args.no_deploy:
        result = deploy_directory(db, settings.bpmn_dir, min_timer_cycle=settings.min_timer_cycle)
        if result:
            print(f"deployed {settings.bpmn_dir}/:")
            _print_deployment(result)
    if settings.processes > 1:
        from api.processes import serve_processes  # noqa: PLC0415
        return serve_processes(settings, db, workers=not args.no_workers and settings.workers)
    app = create_app(settings, db=db, handler_topics=handler_topics(), settle_heap=True)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                            access_log=False, log_config=None,   # our log setup (api.logs) formats uvicorn's too
                            timeout_graceful_shutdown=5)   # parked long polls do not hold it up
    workers = None if args.no_workers or not settings.workers else EmbeddedWorkers(
        settings, token=embedded_worker_key(db))
    server = _Server(config, workers)
    print(f"Reviewflow serving on http://{settings.host}:{settings.port}  (console: /, API docs: /docs)"
          + (f"; workers for {len(workers.handlers)} topics run in-process over HTTP" if workers else ""),
          flush=True)
    try:
        server.run()
    finally:
        if workers is not None:
            workers.stop()
        db.dispose()
    return 0


EMBEDDED_WORKER = "embedded-worker"


def embedded_worker_key(db: engine.Database) -> str:
    """A fresh key for the in-process workers (the previous start's keys are revoked; none is printed)."""
    try:
        engine.get_principal(db, principal_id=EMBEDDED_WORKER)
    except engine.NotFound:
        engine.create_principal(db, principal_id=EMBEDDED_WORKER, roles=["worker"], kind="worker",
                                display_name="the handlers running inside reviewflow serve")
    for key in engine.list_keys(db, principal_id=EMBEDDED_WORKER):
        if key.revoked_at is None:
            engine.revoke_key(db, key_id=key.id)
    return engine.issue_key(db, principal_id=EMBEDDED_WORKER, name="embedded workers").secret


class EmbeddedWorkers:
    """The partnership's handlers, run inside `serve` — still as HTTP clients of this server."""

    def __init__(self, settings: ServerSettings, *, token: str, services: Any = None) -> None:
        from workers.handlers import discover  # noqa: PLC0415
        self.handlers = discover()
        self._settings = settings
        self._token = token
        self._services = services
        self._own_services: Any = None
        self._worker: Any = None
        self._lock = threading.Lock()          # a stop that comes while starting waits, then stops
        self._stopped = False

    def start(self) -> None:
        with self._lock:
            if not self.handlers or self._stopped:
                return
            self._start()

    def _start(self) -> None:
        from workers.runtime import EngineClient, Worker, WorkerSettings  # noqa: PLC0415
        host = "127.0.0.1" if self._settings.host in ("0.0.0.0", "::", "") else self._settings.host
        from workers.services import Services  # noqa: PLC0415
        worker_settings = WorkerSettings(engine_url=f"http://{host}:{self._settings.port}/engine-rest",
                                         worker_id=f"embedded-{os.getpid()}", token=self._token)
        if self._services is None:
            self._services = self._own_services = Services.from_settings(worker_settings)
        self._worker = Worker(EngineClient(worker_settings), self.handlers, worker_settings, self._services)
        self._worker.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._worker is not None:
                self._worker.stop()
                self._worker = None
            if self._own_services is not None:
                self._own_services.close()
                self._own_services = None


SHUTDOWN_LIMIT_S = 20.0


def _exit_if_still_running(seconds: float) -> None:
    """A graceful shutdown that has not finished in `seconds` is cut short: every command was
    committed or rolled back already, so nothing is lost. The stacks go to stderr, for the record."""
    time.sleep(seconds)
    log.error("still shutting down after %.0f s: stopping now", seconds)
    faulthandler.dump_traceback(all_threads=True)
    os._exit(1)


class _Server(uvicorn.Server):
    """Starts the embedded workers once listening; on SIGTERM stops them first (their last
    completions and unlocks go to this server), then stops serving. A second signal forces."""

    def __init__(self, config: uvicorn.Config, workers: EmbeddedWorkers | None) -> None:
        super().__init__(config)
        self._workers = workers
        self._stopping = False

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self._workers is not None and self.started:
            threading.Thread(target=self._workers.start, name="embedded-workers", daemon=True).start()

    def handle_exit(self, sig: int, frame: Any) -> None:
        if not self._stopping:
            threading.Thread(target=_exit_if_still_running, args=(SHUTDOWN_LIMIT_S,), name="shutdown-watchdog",
                             daemon=True).start()
        if self._stopping or self._workers is None:
            self._stopping = True
            super().handle_exit(sig, frame)
            return
        self._stopping = True
        workers = self._workers

        def stop_then_exit() -> None:
            workers.stop()
            uvicorn.Server.handle_exit(self, sig, frame)

        threading.Thread(target=stop_then_exit, name="stop-workers", daemon=True).start()


def bootstrap_admin(db: engine.Database, key_file: Path) -> None:
    """On an empty database, create the `admin` user and write its key to `key_file`, readable only
    by its owner — never to standard output, which ends up in service logs. Prints the file's path.
    Servers starting together on an empty database make one admin: the others find it made."""
    if engine.count_principals(db) > 0:
        return
    try:
        engine.create_principal(db, principal_id="admin", roles=["admin"], display_name="Administrator")
    except engine.Conflict:
        return                                                       # another server made it first
    issued = engine.issue_key(db, principal_id="admin", name="first key")
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd, written = tempfile.mkstemp(dir=key_file.parent, prefix=".admin-key-")   # mkstemp creates it 0600
    with os.fdopen(fd, "w") as f:
        f.write(issued.secret + "\n")
    os.replace(written, key_file)                                    # whole, or not at all
    print("\n" + "=" * 78)
    print("  A first administrator `admin` was created. Its API key is in this file, readable only by you:\n")
    print(f"    {key_file.resolve()}\n")
    print("  Use it as:  curl -H \"Authorization: Bearer $(cat " + str(key_file) + ")\" http://127.0.0.1:8000/api/v1/…")
    print("  Create people and keys with `reviewflow users add` and `reviewflow keys create`;")
    print("  then delete the file once the key is kept somewhere safe.")
    print("=" * 78 + "\n", flush=True)


T = TypeVar("T")

Command = Callable[[argparse.Namespace, engine.Database], int]


def with_database(command: Command) -> Callable[[argparse.Namespace, ServerSettings], int]:
    """Open the configured database for one CLI command; an engine refusal is exit status 2."""

    @functools.wraps(command)
    def run(args: argparse.Namespace, settings: ServerSettings) -> int:
        db = open_database(settings)
        try:
            return command(args, db)
        except engine.EngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except FileNotFoundError as exc:
            print(f"error: {exc.filename}: no such file", file=sys.stderr)
            return 2
        finally:
            db.dispose()

    return run


@with_database
def cmd_users(args: argparse.Namespace, db: engine.Database) -> int:
    from api.security import ROLES  # noqa: PLC0415
    if args.users_command == "add":
        unknown = sorted(set(args.role) - set(ROLES))
        if unknown:
            print(f"error: unknown role(s) {', '.join(unknown)}; roles: {', '.join(sorted(ROLES))}",
                  file=sys.stderr)
            return 2
        p = engine.create_principal(db, principal_id=args.id, roles=args.role, groups=args.group or [],
                                    kind="worker" if args.worker else "user", organisation=args.organisation,
                                    topics=args.topic, display_name=args.name)
        print(f"added {p.kind} {p.id}: roles {', '.join(p.roles)}; groups {', '.join(p.groups) or '-'}"
              + (f"; organisation {p.organisation}" if p.organisation else "")
              + (f"; topics {', '.join(p.topics)}" if p.topics is not None else ""))
        if args.key:
            print(f"key (shown once): {engine.issue_key(db, principal_id=p.id).secret}")
    elif args.users_command == "list":
        for p in engine.list_principals(db):
            state = " (disabled)" if p.disabled_at else ""
            print(f"{p.id}{state}\t{p.kind}\troles={','.join(p.roles)}\tgroups={','.join(p.groups)}"
                  f"\torganisation={p.organisation or '-'}")
    elif args.users_command == "disable":
        engine.disable_principal(db, principal_id=args.id)
        print(f"disabled {args.id}: every key of theirs stops working now")
    return 0


@with_database
def cmd_keys(args: argparse.Namespace, db: engine.Database) -> int:
    if args.keys_command == "create":
        issued = engine.issue_key(db, principal_id=args.id, name=args.name)
        print(f"key {issued.key.id} for {args.id} (shown once):\n{issued.secret}")
    elif args.keys_command == "list":
        for k in engine.list_keys(db, principal_id=args.id):
            state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
            print(f"{k.id}\t{k.principal_id}\t{engine.API_KEY_PREFIX}_{k.prefix}_…\t{state}\t{k.name or ''}")
    elif args.keys_command == "revoke":
        engine.revoke_key(db, key_id=args.key_id)
        print(f"revoked {args.key_id}: it stops working now")
    return 0


@with_database
def cmd_audit(args: argparse.Namespace, db: engine.Database) -> int:
    import json  # noqa: PLC0415
    if args.audit_command == "verify":
        expected = None
        if args.head:
            from api.audit_head import HeadProblem, read_head  # noqa: PLC0415
            key = ServerSettings().audit_head_key
            try:
                recorded = read_head(args.head, key.get_secret_value().encode() if key else None)
            except HeadProblem as exc:
                print(f"AUDIT HEAD UNUSABLE: {exc}", file=sys.stderr)
                return 1
            expected = (recorded.seq, recorded.hash)
        result = engine.verify_audit(db, expected_head=expected)
        if result.ok:
            against = f"; matches the recorded head (entry {expected[0]})" if expected else ""
            print(f"audit trail intact: {result.checked} entries, numbered without gaps; head {result.head_seq} "
                  f"{result.head}{against}")
            return 0
        print(f"AUDIT TRAIL BROKEN at entry {result.broken_at}: {result.problem} "
              f"({result.checked} entries verified before it)", file=sys.stderr)
        return 1
    entries = engine.case_audit(db, instance_id=args.instance)
    for e in entries:
        print(json.dumps({"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                          "target": e.target, "status": e.status, "client": e.client, "hash": e.hash}))
    return 0


@with_database
def cmd_db(args: argparse.Namespace, db: engine.Database) -> int:
    if args.db_command == "upgrade":
        engine.upgrade(db, args.revision)
        print(f"database at revision {engine.current_revision(db)}")
    elif args.db_command == "downgrade":
        lost = engine.would_drop_audit(db, args.revision)
        if lost:
            print("this downgrade drops the audit trail, the principals and their keys: "
                  + ", ".join(f"{n} rows of {t}" for t, n in lost.items()), file=sys.stderr)
            if not args.drop_audit:
                print("refused: export the audit trail first (reviewflow audit export --instance …, or "
                      "reviewflow db backup), then run again with --drop-audit", file=sys.stderr)
                return 2
        engine.downgrade(db, args.revision, drop_audit=args.drop_audit)
        print(f"database at revision {engine.current_revision(db)}")
    elif args.db_command == "current":
        print(engine.current_revision(db) or "empty (no revision)")
    return 0


def _on_database(settings: ServerSettings, action: Callable[[engine.Database], T]) -> T | None:
    """`action` on the configured database; None, with the error said, when it is refused."""
    from api import backup  # noqa: PLC0415
    db = open_database(settings)
    try:
        return action(db)
    except backup.BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
    except FileNotFoundError as exc:
        print(f"error: {exc.filename}: no such file", file=sys.stderr)
    finally:
        db.dispose()
    return None


def cmd_db_backup(args: argparse.Namespace, settings: ServerSettings) -> int:
    from api import backup  # noqa: PLC0415
    done = _on_database(settings, lambda db: backup.backup(settings, db, Path(args.path), force=args.force))
    if done is None:
        return 2
    print(f"backed up {backup.describe(settings)} to {done.path} ({done.size / 2**20:.1f} MiB, readable by its owner "
          f"only) in {done.seconds:.1f} s: {done.contents.describe()}")
    return 0


def cmd_db_restore(args: argparse.Namespace, settings: ServerSettings) -> int:
    from api import backup  # noqa: PLC0415
    done = _on_database(settings, lambda db: backup.restore(settings, db, Path(args.path), force=args.force))
    if done is None:
        return 2
    print(f"restored {done.source} into {backup.describe(settings)} in {done.seconds:.1f} s: "
          f"{done.contents.describe()}")
    if done.safety_copy is not None:
        print(f"  it replaced what the database held ({done.replaced.describe()}), saved first to {done.safety_copy}")
    if done.contents.revision != done.head:
        print(f"  the schema is at revision {done.contents.revision}; this code needs {done.head}: run "
              "`reviewflow db upgrade` (`reviewflow serve` does it at start-up)")
    if not done.audit.ok:
        print(f"AUDIT TRAIL BROKEN in the restored database at entry {done.audit.broken_at}: {done.audit.problem}",
              file=sys.stderr)
        return 1
    print(f"  audit trail intact: {done.audit.checked} entries, head {done.audit.head_seq}")
    return 0


@with_database
def cmd_deploy(args: argparse.Namespace, db: engine.Database) -> int:
    files = [engine.DeployFile(Path(f).name if not f.endswith(".json") else f"forms/{Path(f).name}",
                               Path(f).read_bytes()) for f in args.files]
    try:
        result = engine.deploy(db, files=files, actor=engine.Actor.system(args.actor),
                               handler_topics=handler_topics(), min_timer_cycle=ServerSettings().min_timer_cycle)
    except engine.DeploymentError as exc:
        for p in exc.problems:
            print(p.format(), file=sys.stderr)
        print(f"error: nothing deployed ({len([p for p in exc.problems if p.is_error])} errors)", file=sys.stderr)
        return 2
    _print_deployment(result)
    return 0


def _process_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r}: a number of processes from 1 to 64")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reviewflow", description=__doc__,
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="migrate, deploy bpmn/ and serve the API and the console",
                           description="Migrate the database to the latest schema, deploy every diagram "
                                       "in REVIEWFLOW_BPMN_DIR, and serve the API and the web console.")
    serve.add_argument("--host", help="address to listen on (default REVIEWFLOW_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default REVIEWFLOW_PORT or 8000)")
    serve.add_argument("--no-deploy", action="store_true", help="do not deploy the diagram folder at start-up")
    serve.add_argument("--no-workers", action="store_true",
                       help="do not run the handlers in this process (run `reviewflow worker` instead)")
    serve.add_argument("--processes", type=_process_count, metavar="N",
                       help="server processes on the one port (default REVIEWFLOW_PROCESSES or 1; more than one "
                            "needs PostgreSQL); a supervisor restarts one that dies and runs the handlers once, "
                            "not in every process")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run the external-task handlers against a server",
                            description="Run the partnership's handlers (workers/handlers) against a Reviewflow "
                                        "server's /engine-rest until SIGTERM; REVIEWFLOW_WORKER_* configure it.")
    from workers import cli as worker_cli  # noqa: PLC0415
    worker_cli.add_arguments(worker)
    worker.set_defaults(func=lambda a, s: worker_cli.run(a))

    db = sub.add_parser("db", help="database schema: upgrade, downgrade, current; backup, restore")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="migrate up (default: to the latest revision)")
    up.add_argument("revision", nargs="?", default="head")
    down = db_sub.add_parser("downgrade", help="migrate down to REVISION ('base' empties the database)",
                             description="Migrate down to REVISION. A downgrade that would drop the audit trail, "
                                         "the principals and their keys is refused, after saying what it would "
                                         "drop, unless --drop-audit is given.")
    down.add_argument("revision")
    down.add_argument("--drop-audit", action="store_true",
                      help="allow dropping the audit trail, principals and keys (export them first)")
    db_sub.add_parser("current", help="print the database's revision")
    db.set_defaults(func=cmd_db)
    bk = db_sub.add_parser("backup", help="write a consistent copy of the database to PATH, while it serves",
                           description="Back up the configured database while servers keep running: SQLite's "
                                       "online backup API (a .sqlite3 file), or pg_dump's custom format on "
                                       "PostgreSQL (a .dump file). PATH is a file, or a folder to put a dated "
                                       "file in; the file is readable by its owner only.")
    bk.add_argument("path", metavar="PATH")
    bk.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    bk.set_defaults(func=cmd_db_backup)
    rs = db_sub.add_parser("restore", help="replace the database with the backup at PATH (stop the servers first)",
                           description="Restore a backup made by `reviewflow db backup` into the configured "
                                       "database, all or nothing, then verify its audit trail. A database "
                                       "that is not empty is refused unless --force is given; with it, the "
                                       "database is first backed up beside PATH. Exit status 2 when refused, "
                                       "1 when the restored audit trail does not verify.")
    rs.add_argument("path", metavar="PATH")
    rs.add_argument("--force", action="store_true",
                    help="replace a database that is not empty (it is backed up beside PATH first)")
    rs.set_defaults(func=cmd_db_restore)

    users = sub.add_parser("users", help="people and workers: add, list, disable")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_sub.add_parser("add", help="add a person (or, with --worker, a worker)")
    add.add_argument("id", help="user name (or worker name)")
    add.add_argument("--role", action="append", required=True,
                     help="admin, process-owner, business-unit, crg-member, panel-member, reviewer, agency-lead, "
                          "worker, auditor (repeat for several)")
    add.add_argument("--group", action="append", help="candidate group they belong to (repeat)")
    add.add_argument("--organisation", help="agency leads: their agency; they then see only its requests")
    add.add_argument("--worker", action="store_true", help="a worker: serves external tasks only")
    add.add_argument("--topic", action="append", help=(
        "a topic the key may serve (repeat): the key then serves only these, with or without --worker "
        "(default: any topic its role allows)"))
    add.add_argument("--name", help="display name")
    add.add_argument("--key", action="store_true", help="also issue a key and print it once")
    users_sub.add_parser("list", help="everyone, with roles and groups")
    disable = users_sub.add_parser("disable", help="disable a user: their keys stop working at once")
    disable.add_argument("id")
    users.set_defaults(func=cmd_users)

    keys = sub.add_parser("keys", help="API keys: create (shown once), list, revoke")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = keys_sub.add_parser("create", help="issue a key for a user or worker; it is printed once")
    create.add_argument("id")
    create.add_argument("--name", help="what the key is for")
    listing = keys_sub.add_parser("list", help="keys (never their secrets)")
    listing.add_argument("id", nargs="?")
    revoke = keys_sub.add_parser("revoke", help="revoke a key: it stops working at once")
    revoke.add_argument("key_id")
    keys.set_defaults(func=cmd_keys)

    audit = sub.add_parser("audit", help="the audit trail: verify the hash chain, export a case's access log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = audit_sub.add_parser("verify", help="check that no entry was edited or deleted (exit 1 if one was)",
                                  description="Recompute the hash chain, check the numbering has no gaps, and — "
                                              "with --head — that the trail still holds the head published "
                                              "outside the database (REVIEWFLOW_AUDIT_HEAD), signed with "
                                              "REVIEWFLOW_AUDIT_HEAD_KEY when one is set.")
    verify.add_argument("--head", metavar="FILE|URL", help="the published head to check the trail against")
    export = audit_sub.add_parser("export", help="one case's access log, as JSON lines")
    export.add_argument("--instance", required=True, help="process instance id")
    audit.set_defaults(func=cmd_audit)

    demo = sub.add_parser("demo", help="drive fictional cases down the pathway's branches",
                          description="Start a server with its workers on a fresh database under var/demo/, drive "
                                      "one fictional case down the LCSPR path and one down Learning "
                                      "Dissemination through the REST API, and print their timelines and "
                                      "where each document landed. --path NAME drives one branch (--list names "
                                      "them), --all every one. It exits 1, naming what is left, if any case "
                                      "ends with an incident or an unexpected open user or external task.")
    chosen = demo.add_mutually_exclusive_group()
    chosen.add_argument("--path", metavar="NAME", help="drive one branch (see --list)")
    chosen.add_argument("--list", action="store_true", help="name the branches and what each shows")
    chosen.add_argument("--all", action="store_true", help="drive every branch; exit 1 if any fails")
    demo.set_defaults(func=lambda a, s: __import__("api.demo", fromlist=["cli"]).cli(a))

    deploy = sub.add_parser("deploy", help="deploy diagrams (and .json form schemas) to the database",
                            description="Deploy BPMN files, with the JSON Schema forms their user tasks name.")
    deploy.add_argument("files", nargs="+", metavar="FILE")
    deploy.add_argument("--actor", default="cli", help="who deploys, for the record (default cli)")
    deploy.set_defaults(func=cmd_deploy)

    from api import diagram_cli  # noqa: PLC0415
    lint = sub.add_parser("lint", help="check diagrams and forms without deploying: every problem, one per line",
                          description="Check BPMN diagrams and their JSON Schema forms as deploy does, without "
                                      "deploying, and report every problem as `file:line: element_id: severity: "
                                      "message`. Exit status 1 when there is an error, 0 with warnings only, "
                                      "2 when a path does not exist.")
    diagram_cli.add_lint_arguments(lint)
    lint.set_defaults(func=diagram_cli.run_lint)

    diff = sub.add_parser("diff", help="what changed between two versions of a process",
                          description="List the activities, flows, forms, timers and topics added, removed or "
                                      "changed from V1 to V2. Each is a deployed version number, or a .bpmn file "
                                      "(its forms are read from its folder and forms/): `reviewflow diff "
                                      "rapid_review 3 bpmn/rapid_review.bpmn` shows what deploying would change. "
                                      "Exit status 0 when they are the same, 1 when they differ, 2 on trouble.")
    diagram_cli.add_diff_arguments(diff)
    diff.set_defaults(func=diagram_cli.run_diff)

    from api import migration_cli  # noqa: PLC0415
    migrate = sub.add_parser("migrate", help="move a process's open cases from version V to version W",
                             description="Move the open cases of process KEY from version V to version W (or only "
                                         "--instance ID...), each in its own transaction with a history event and "
                                         "an audit entry; cases keep their open tasks, claims, worker locks and "
                                         "timers. Activities with the same id in both versions are mapped; --map "
                                         "OLD=NEW maps one whose id changed. --dry-run only says which cases can "
                                         "move and why not. Exit status 0 when every case moved (or can), 1 when "
                                         "some cannot, 2 on trouble.")
    migration_cli.add_arguments(migrate)
    migrate.set_defaults(func=with_database(migration_cli.run))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = ServerSettings()
    from api.logs import configure_logging  # noqa: PLC0415
    configure_logging(settings.log_level, settings.log_format)
    return int(args.func(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
