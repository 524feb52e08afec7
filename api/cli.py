"""`reviewflow` — serve the API, migrate the database, deploy diagrams."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import engine
from api.settings import ServerSettings

log = logging.getLogger("reviewflow")

EPILOG = """configuration comes from environment variables:
  REVIEWFLOW_DATABASE_URL        default sqlite:///var/reviewflow.db (postgresql://… for PostgreSQL)
  REVIEWFLOW_SQLITE_SYNCHRONOUS  FULL (default, survives power loss) or NORMAL
  REVIEWFLOW_HOST, REVIEWFLOW_PORT  default 127.0.0.1 and 8000
  REVIEWFLOW_BPMN_DIR            diagrams deployed by `serve` at start-up (default bpmn)
  REVIEWFLOW_TIMERS              run the timer scheduler in `serve` (default true)
  REVIEWFLOW_CLOSURE_DAYS        the partnership's closure days, e.g. '["2026-12-29"]' (not working days)
  REVIEWFLOW_LOG_LEVEL           DEBUG, INFO (default), WARNING, ERROR
"""


def open_database(settings: ServerSettings) -> engine.Database:
    engine.configure_calendar(settings.closure_days)
    if (path := settings.sqlite_path()) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return engine.Database(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous,
                           busy_timeout_ms=settings.sqlite_busy_timeout_ms)


def diagram_files(directory: Path) -> list[engine.DeployFile]:
    """The diagrams in `directory` and the form schemas in its forms/ folder."""
    paths = sorted(directory.glob("*.bpmn")) + sorted((directory / "forms").glob("*.json"))
    return [engine.DeployFile(p.name if p.suffix == ".bpmn" else f"forms/{p.name}", p.read_bytes()) for p in paths]


def deploy_directory(db: engine.Database, directory: Path) -> engine.DeploymentResult | None:
    files = diagram_files(directory)
    if not any(f.name.endswith(".bpmn") for f in files):
        log.info("no diagrams in %s", directory)
        return None
    return engine.deploy(db, files=files, actor=engine.Actor("system:startup"))


def _print_deployment(result: engine.DeploymentResult) -> None:
    for d in result.definitions:
        state = "deployed as new version" if d.created else "unchanged, still"
        print(f"  {d.definition.resource_name}: {d.definition.key} {state} {d.definition.version}")


def cmd_serve(args: argparse.Namespace, settings: ServerSettings) -> int:
    import uvicorn  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415
    if args.host:
        settings.host = args.host
    if args.port is not None:
        settings.port = args.port
    db = open_database(settings)
    engine.upgrade(db)
    if settings.deploy_on_start and not args.no_deploy:
        result = deploy_directory(db, settings.bpmn_dir)
        if result:
            print(f"deployed {settings.bpmn_dir}/:")
            _print_deployment(result)
    app = create_app(settings, db=db)
    print(f"Reviewflow serving on http://{settings.host}:{settings.port}  (API docs: /docs)", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                access_log=False)
    db.dispose()
    return 0


def cmd_db(args: argparse.Namespace, settings: ServerSettings) -> int:
    db = open_database(settings)
    try:
        if args.db_command == "upgrade":
            engine.upgrade(db, args.revision)
            print(f"database at revision {engine.current_revision(db)}")
        elif args.db_command == "downgrade":
            engine.downgrade(db, args.revision)
            print(f"database at revision {engine.current_revision(db)}")
        elif args.db_command == "current":
            print(engine.current_revision(db) or "empty (no revision)")
        return 0
    finally:
        db.dispose()


def cmd_deploy(args: argparse.Namespace, settings: ServerSettings) -> int:
    db = open_database(settings)
    try:
        files = [engine.DeployFile(Path(f).name if not f.endswith(".json") else f"forms/{Path(f).name}",
                                   Path(f).read_bytes()) for f in args.files]
        result = engine.deploy(db, files=files, actor=engine.Actor(args.actor))
        _print_deployment(result)
        return 0
    except engine.DeploymentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc.filename}: no such file", file=sys.stderr)
        return 2
    finally:
        db.dispose()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reviewflow", description=__doc__,
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="migrate, deploy bpmn/ and serve the API",
                           description="Migrate the database to the latest schema, deploy every diagram "
                                       "in REVIEWFLOW_BPMN_DIR, and serve the API.")
    serve.add_argument("--host", help="address to listen on (default REVIEWFLOW_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default REVIEWFLOW_PORT or 8000)")
    serve.add_argument("--no-deploy", action="store_true", help="do not deploy the diagram folder at start-up")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema: upgrade, downgrade, current")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser("upgrade", help="migrate up (default: to the latest revision)")
    up.add_argument("revision", nargs="?", default="head")
    down = db_sub.add_parser("downgrade", help="migrate down to REVISION ('base' empties the database)")
    down.add_argument("revision")
    db_sub.add_parser("current", help="print the database's revision")
    db.set_defaults(func=cmd_db)

    deploy = sub.add_parser("deploy", help="deploy diagrams (and .json form schemas) to the database",
                            description="Deploy BPMN files, with the JSON Schema forms their user tasks name.")
    deploy.add_argument("files", nargs="+", metavar="FILE")
    deploy.add_argument("--actor", default="cli", help="who deploys, for the record (default cli)")
    deploy.set_defaults(func=cmd_deploy)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = ServerSettings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return int(args.func(args, settings) or 0)


if __name__ == "__main__":
    sys.exit(main())
