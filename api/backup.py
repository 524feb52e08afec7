"""`reviewflow db backup PATH` and `reviewflow db restore PATH`.

SQLite: SQLite's online backup API (Python's `sqlite3.Connection.backup`) copies the whole file in one
step under a read transaction — a consistent copy while servers keep writing (WAL lets them) — then
the copy is switched out of WAL mode, so it is one self-contained file, and checked with
`PRAGMA integrity_check`.

PostgreSQL: `pg_dump --format=custom` of the schema Reviewflow uses (the search_path's first, from
`options=-csearch_path=…` in the URL, else `public`), in one snapshot; restored by `pg_restore` piped
into `psql` inside one transaction, committed only once pg_restore has finished without error, so a
restore either lands whole or changes nothing. The password
goes to the client tools in PGPASSWORD, never on their command line (where `ps` would show it).

A restore refuses to overwrite a database that holds anything unless `--force` is given; with it,
the database is first backed up beside the file being restored (`reviewflow-before-restore-…`), then
replaced. Afterwards it reports what the database holds and verifies the audit trail.

Backups hold case data: they are created readable by their owner only (0600).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg.conninfo

import engine
from api.settings import ServerSettings

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*([^\s,]+)")
_TOC_TABLE = re.compile(r"\d+;\s+\d+\s+\d+\s+TABLE\s+(?!DATA\s)(\S+)\s")         # `215; 1259 1234 TABLE public x owner`
_TOC_SCHEMA = re.compile(r"\d+;\s+\d+\s+\d+\s+(COMMENT\s+-\s+)?SCHEMA\s")         # `4; 2615 2200 SCHEMA - public …`


class BackupError(Exception):
    """Something the operator must act on; nothing was changed. The message says what and why."""


@dataclass(frozen=True)
class Outcome:
    path: Path
    size: int
    seconds: float
    contents: engine.DatabaseContents


@dataclass(frozen=True)
class Restored:
    source: Path
    seconds: float
    replaced: engine.DatabaseContents          # what the database held before (empty: nothing)
    safety_copy: Path | None                   # where that was saved first
    contents: engine.DatabaseContents
    audit: engine.AuditVerification
    head: str


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _is_sqlite(settings: ServerSettings) -> bool:
    return settings.database_url.startswith("sqlite")


def _suffix(settings: ServerSettings) -> str:
    return ".sqlite3" if _is_sqlite(settings) else ".dump"


def _private_file(path: Path) -> None:
    """Create `path` empty and readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sqlite_file(settings: ServerSettings) -> Path:
    path = settings.sqlite_path()
    if path is None:
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return path


# ---------------------------------------------------------------------------------------------- PostgreSQL

@dataclass(frozen=True)
class _Postgres:
    conninfo: str                  # for the client tools, without the password
    env: dict[str, str]            # PGPASSWORD when the URL had one
    schema: str
    described: str


def _postgres(settings: ServerSettings) -> _Postgres:
    url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", settings.database_url)
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise BackupError(f"REVIEWFLOW_DATABASE_URL is not a PostgreSQL URL the client tools can use: {exc}") from exc
    env = {**os.environ}
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    match = _SEARCH_PATH.search(str(params.get("options") or ""))
    schema = match.group(1).strip("\"'") if match else "public"
    where = f"{params.get('host') or 'local socket'}:{params.get('port') or 5432}"
    return _Postgres(psycopg.conninfo.make_conninfo(**params), env, schema,
                     f"PostgreSQL database {params.get('dbname') or '(default)'} on {where}, schema {schema}")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (the PostgreSQL client tools: apt-get install postgresql-client)")
    return found


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def _pg_backup(pg: _Postgres, target: Path) -> None:
    _run([_tool("pg_dump"), "--format=custom", f"--schema={pg.schema}", f"--file={target}",
          f"--dbname={pg.conninfo}"], pg.env, "pg_dump")


def _pg_contents(pg: _Postgres, source: Path) -> list[str]:
    """The backup's table of contents, less the schema itself; checks that it can be read and that it
    holds the configured schema's tables. Raises: BackupError."""
    toc = _run([_tool("pg_restore"), "--list", str(source)], pg.env, f"reading {source} (pg_restore --list)")
    schemas = set()
    kept = []
    for line in toc.splitlines():
        if (table := _TOC_TABLE.match(line)) is not None:
            schemas.add(table.group(1))
        if _TOC_SCHEMA.match(line):       # the schema itself is made below if missing, and left as it is
            continue
        kept.append(line)
    if schemas != {pg.schema}:
        raise BackupError(f"the backup holds the tables of schema {', '.join(sorted(schemas)) or '(none)'}; "
                          f"the configured database uses schema {pg.schema}")
    return kept


def _pg_restore(pg: _Postgres, source: Path, kept: list[str], existing_tables: list[str]) -> None:
    quoted = '"' + pg.schema.replace('"', '""') + '"'
    prelude = ["BEGIN;", f"CREATE SCHEMA IF NOT EXISTS {quoted};"]
    prelude += [f'DROP TABLE IF EXISTS {quoted}."{t}" CASCADE;' for t in existing_tables]
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as listing:
        listing.write("\n".join(kept) + "\n")
    with tempfile.TemporaryFile() as dump_err, tempfile.TemporaryFile() as psql_err:   # files: no pipe fills up
        try:
            dump = subprocess.Popen([_tool("pg_restore"), "--no-owner", "--no-privileges",
                                     f"--use-list={listing.name}", "--file=-", str(source)], env=pg.env,
                                    stdout=subprocess.PIPE, stderr=dump_err)
            psql = subprocess.Popen([_tool("psql"), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--file=-",
                                     f"--dbname={pg.conninfo}"], env=pg.env,
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err)
            assert dump.stdout is not None and psql.stdin is not None
            try:                     # one transaction, committed only once pg_restore has said all of it
                psql.stdin.write(("\n".join(prelude) + "\n").encode())
                shutil.copyfileobj(dump.stdout, psql.stdin)
                if dump.wait() == 0:
                    psql.stdin.write(b"COMMIT;\n")
            except BrokenPipeError:
                pass                                        # psql stopped on an error: said below
            finally:
                with contextlib.suppress(BrokenPipeError):
                    psql.stdin.close()            # without COMMIT, the transaction ends rolled back
                dump.stdout.close()
            dump.wait()
            psql.wait()
        finally:
            os.unlink(listing.name)
        for process, errors, name in ((dump, dump_err, "pg_restore"), (psql, psql_err, "psql")):
            if process.returncode != 0:
                errors.seek(0)
                raise BackupError(f"{name} failed (exit {process.returncode}); the restore was rolled back, nothing "
                                  f"was changed: {errors.read().decode(errors='replace').strip()[-2000:]}")


# ---------------------------------------------------------------------------------------------- SQLite

def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.exists():
        raise BackupError(f"there is no database at {source}")
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)                               # every page in one step: one consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")     # one self-contained file, no -wal beside it
            problem = dst.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dst.close()
    finally:
        src.close()
    if problem != "ok":
        raise BackupError(f"the copy failed its integrity check ({problem}); it was not kept")


def _check_sqlite_file(path: Path) -> None:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problem = db.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a usable SQLite database: {exc}") from exc
    finally:
        db.close()
    if problem != "ok":
        raise BackupError(f"{path} failed its integrity check ({problem}); nothing was restored")


def _sqlite_restore(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)                               # replaces every page, in one transaction
        finally:
            dst.close()
    finally:
        src.close()


# ---------------------------------------------------------------------------------------------- commands

def describe(settings: ServerSettings) -> str:
    """The configured database, without its password."""
    if _is_sqlite(settings):
        return f"SQLite database {_sqlite_file(settings)}"
    return _postgres(settings).described


def _target(path: Path, settings: ServerSettings, *, force: bool) -> Path:
    if path.is_dir():
        return path / f"reviewflow-{_stamp()}{_suffix(settings)}"
    if path.exists() and not force:
        raise BackupError(f"{path} exists: choose another name, or --force to overwrite it")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a folder")
    return path


def backup(settings: ServerSettings, db: engine.Database, path: Path, *, force: bool = False) -> Outcome:
    """Write a consistent copy of the configured database to `path` (a file, or a folder to put a
    dated file in). The copy appears under its name only once complete.

    Raises: BackupError."""
    target = _target(path, settings, force=force)
    partial = target.with_name(f".{target.name}.partial")
    began = time.monotonic()
    _private_file(partial)
    try:
        contents = engine.database_contents(db)
        if contents.empty:
            raise BackupError(f"{describe(settings)} is empty: nothing to back up")
        if _is_sqlite(settings):
            _sqlite_backup(_sqlite_file(settings), partial)
        else:
            _pg_backup(_postgres(settings), partial)
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return Outcome(target, target.stat().st_size, time.monotonic() - began, contents)


def _kind_of(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is neither a SQLite backup nor a pg_dump custom-format backup")


def restore(settings: ServerSettings, db: engine.Database, path: Path, *, force: bool = False) -> Restored:
    """Replace the configured database with the backup at `path`. Refuses a database that holds
    anything unless `force`; then saves it first beside `path`. Stop the servers before: a server
    running on the database while it is replaced keeps answering from what it had cached.

    Raises: BackupError (nothing changed), FileNotFoundError."""
    if not path.is_file():
        raise FileNotFoundError(2, "no such file", str(path))
    kind = _kind_of(path)
    wanted = "sqlite" if _is_sqlite(settings) else "postgresql"
    if kind != wanted:
        raise BackupError(f"{path} is a {kind} backup; the configured database is {wanted}. Restore it into a "
                          f"{kind} database (REVIEWFLOW_DATABASE_URL)")
    began = time.monotonic()
    if kind == "sqlite":
        _check_sqlite_file(path)
    else:
        contents_list = _pg_contents(_postgres(settings), path)
    before = engine.database_contents(db)
    safety: Path | None = None
    if not before.empty:
        if not force:
            raise BackupError(f"{describe(settings)} is not empty ({before.describe()}). Restoring would replace "
                              "it: stop the servers, then run again with --force (the database is saved first)")
        safety = path.parent / f"reviewflow-before-restore-{_stamp()}{_suffix(settings)}"
        backup(settings, db, safety)
    db.dispose()                                   # no pooled connection of ours in the way
    if kind == "sqlite":
        _sqlite_restore(path, _sqlite_file(settings))
    else:
        _pg_restore(_postgres(settings), path, contents_list, before.tables)
    from api.cli import open_database  # noqa: PLC0415 - the CLI's way of opening it, with its settings
    restored = open_database(settings)
    try:
        contents = engine.database_contents(restored)
        audit = engine.verify_audit(restored)
    finally:
        restored.dispose()
    return Restored(path, time.monotonic() - began, before, safety, contents, audit, engine.schema_head())
