"""`reviewflow lint` and `reviewflow diff` — for process owners changing the pathway.

lint:  check diagrams and forms without deploying; one line per problem, `file:line: element_id:
       severity: message`; exit status 1 when there is an error, 0 when there are warnings only.
diff:  what changed between two versions of a process (deployed versions, or a diagram file not
       deployed yet); exit status 0 when they are the same, 1 when they differ (as diff(1)), 2 on trouble.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import engine
from api.errors import problem_json
from api.settings import ServerSettings

DIAGRAM_SUFFIXES = (".bpmn", ".bpmn20.xml")
FORM_SUFFIXES = (".json", ".form")


def add_lint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="a .bpmn diagram, a .json form, or a folder (its *.bpmn and forms/*.json, as serve "
                             "deploys it)")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text: one line per problem (default); json: the same report as data")
    parser.add_argument("--database", action="store_true",
                        help="also check against what is deployed in REVIEWFLOW_DATABASE_URL (called processes, "
                             "forms of earlier versions, message start names)")


def add_diff_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", metavar="KEY", help="the process id, e.g. rapid_review")
    parser.add_argument("base", metavar="V1", help="a deployed version number, or a .bpmn file")
    parser.add_argument("target", metavar="V2", help="a deployed version number, or a .bpmn file (e.g. the "
                                                     "diagram you are about to deploy)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def collect(paths: list[str]) -> list[engine.DeployFile]:
    """The files to check, named as given (so an editor can jump to `bpmn/x.bpmn:12`).

    Raises: FileNotFoundError.
    """
    files: list[engine.DeployFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.name.lower().endswith(DIAGRAM_SUFFIXES))
            forms = path / "forms"
            if forms.is_dir():
                found += sorted(p for p in forms.iterdir() if p.name.lower().endswith(FORM_SUFFIXES))
            files += [engine.DeployFile(str(p), p.read_bytes()) for p in found]
        elif path.is_file():
            files.append(engine.DeployFile(raw, path.read_bytes()))
        else:
            raise FileNotFoundError(2, "no such file or folder", raw)
    return files


def run_lint(args: argparse.Namespace, settings: ServerSettings) -> int:
    from api.cli import handler_topics  # noqa: PLC0415 - imports the handlers
    try:
        files = collect(args.paths)
    except FileNotFoundError as exc:
        print(f"error: {exc.filename}: no such file or folder", file=sys.stderr)
        return 2
    db = _database(settings) if args.database else None
    if args.database and db is None:
        return 2
    try:
        report = engine.lint(files, db=db, handler_topics=handler_topics(), min_timer_cycle=settings.min_timer_cycle)
    finally:
        if db is not None:
            db.dispose()
    if args.format == "json":
        print(json.dumps({"files": list(report.files), "errors": len(report.errors), "warnings": len(report.warnings),
                          "problems": [problem_json(p) for p in report.problems]}, indent=2))
    else:
        for p in report.problems:
            print(p.format())
        summary = (f"{len(report.files)} file{'s' if len(report.files) != 1 else ''} checked: "
                   f"{len(report.errors)} error{'s' if len(report.errors) != 1 else ''}, "
                   f"{len(report.warnings)} warning{'s' if len(report.warnings) != 1 else ''}")
        print(summary, file=sys.stderr)
    return 1 if report.errors else 0


def _database(settings: ServerSettings) -> engine.Database | None:
    from api.cli import open_database  # noqa: PLC0415
    if (path := settings.sqlite_path()) is not None and not path.exists():
        print(f"error: no database at {path} (REVIEWFLOW_DATABASE_URL)", file=sys.stderr)
        return None
    db = open_database(settings)
    if engine.current_revision(db) is None:
        print("error: the database has no schema yet: run `reviewflow db upgrade`", file=sys.stderr)
        db.dispose()
        return None
    return db


def _side(value: str) -> int | list[engine.DeployFile]:
    """A version number, or a diagram file with the forms beside it (its folder and its forms/ folder)."""
    if value.isdigit():
        return int(value)
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(2, "no such file", value)
    forms = [p for folder in (path.parent, path.parent / "forms") if folder.is_dir()
             for p in sorted(folder.glob("*.json"))]
    return [engine.DeployFile(str(path), path.read_bytes())] + [engine.DeployFile(str(p), p.read_bytes())
                                                               for p in forms]


def run_diff(args: argparse.Namespace, settings: ServerSettings) -> int:
    from api.schemas.diff import DefinitionDiffOut  # noqa: PLC0415
    try:
        base, target = _side(args.base), _side(args.target)
    except FileNotFoundError as exc:
        print(f"error: {exc.filename}: no such file", file=sys.stderr)
        return 2
    needs_db = isinstance(base, int) or isinstance(target, int)
    db = _database(settings) if needs_db else None
    if needs_db and db is None:
        return 2
    try:
        diff = engine.diff_versions(db, key=args.key, base=base, target=target)
    except engine.EngineError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        if db is not None:
            db.dispose()
    if args.format == "json":
        print(DefinitionDiffOut.of(diff).model_dump_json(indent=2))
    else:
        print(render_diff(diff))
    return 0 if diff.identical else 1


def _label(v: engine.VersionRef) -> str:
    return f"version {v.version}" if v.version is not None else v.id


def _short(value: str | None, width: int = 100) -> str:
    if value is None:
        return "(none)"
    flat = " ".join(value.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def render_diff(diff: engine.DefinitionDiff) -> str:
    """The comparison for a terminal: + added, - removed, ~ changed (with each detail before → after)."""
    lines = [f"{diff.target.key}: {_label(diff.base)} → {_label(diff.target)}"]
    if diff.identical:
        lines.append("no differences in activities, flows, forms, timers or topics")
        return "\n".join(lines)
    for title, section in (("activities", diff.activities), ("flows", diff.flows), ("forms", diff.forms),
                           ("timers", diff.timers), ("topics", diff.topics)):
        if section.empty:
            continue
        lines.append(title)
        for sign, items in (("+", section.added), ("-", section.removed)):
            for item in items:
                name = f' "{item.name}"' if item.name else ""
                lines.append(f"  {sign} {item.type} {item.id}{name}")
                if item.type == "sequenceFlow" or item.type in ("timer", "topic"):
                    lines += [f"      {k}: {_short(v)}" for k, v in item.details.items()]
        for changed in section.changed:
            name = f' "{changed.name}"' if changed.name else ""
            lines.append(f"  ~ {changed.type} {changed.id}{name}")
            lines += [f"      {c.field}: {_short(c.before)} → {_short(c.after)}" for c in changed.changes]
    return "\n".join(lines)
