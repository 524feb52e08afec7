"""`reviewflow migrate` — move a process's open cases from one version to another, on the server,
as a process owner or administrator would through the API (each case in its own transaction, with
its history event and audit entry).

Exit status 0 when every case named (or found) moved — or, with --dry-run, can move; 1 when some
cannot (each is listed with why); 2 on trouble (an unknown version, a plan that cannot work).
"""

from __future__ import annotations

import argparse
import json

import engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", metavar="KEY", help="the process id, e.g. rapid_review")
    parser.add_argument("--from", dest="source", type=int, required=True, metavar="V",
                        help="the version the cases run on")
    parser.add_argument("--to", dest="target", type=int, required=True, metavar="W", help="the version to move them to")
    parser.add_argument("--instance", action="append", metavar="ID",
                        help="a case to move (repeat for several); by default every open case of version V")
    parser.add_argument("--map", action="append", default=[], metavar="OLD=NEW",
                        help="move cases waiting at activity OLD to activity NEW (for an activity whose id "
                             "changed); activities with the same id and kind in both versions are mapped anyway")
    parser.add_argument("--update-event-triggers", action="store_true",
                        help="restart timers from the new version's definitions (by default they keep their due time)")
    parser.add_argument("--dry-run", action="store_true", help="only say which cases can move, and why not")
    parser.add_argument("--actor", default="cli", help="who moves them, for the record (default cli)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise engine.Invalid(f"--map takes OLD=NEW (activity ids), not {pair!r}")
        mapping[old.strip()] = new.strip()
    return mapping


def run(args: argparse.Namespace, db: engine.Database) -> int:
    source, target = f"{args.key}:{args.source}", f"{args.key}:{args.target}"
    plan = engine.generate_migration_plan(db, source_definition_id=source, target_definition_id=target,
                                          update_event_triggers=args.update_event_triggers,
                                          mapping=_mapping(args.map))
    if args.dry_run:
        report = engine.validate_migration(db, plan=plan, instance_ids=args.instance)
    else:
        checked = engine.validate_migration_plan(db, plan=plan)
        if not checked.valid:
            report = checked
        else:
            audit = engine.Audit(action="reviewflow migrate", target=f"{source} -> {target}", client="cli")
            report = engine.migrate_instances(db, plan=plan, actor=engine.Actor.system(args.actor),
                                              instance_ids=args.instance, audit=audit)
    if args.format == "json":
        from api.schemas.migrations import MigrationReportOut  # noqa: PLC0415
        print(json.dumps(MigrationReportOut.of(report).model_dump(mode="json"), indent=2))
    else:
        print(render(report, dry_run=args.dry_run))
    if not report.valid:
        return 2
    return 1 if report.refused else 0


def render(report: engine.MigrationReport, *, dry_run: bool) -> str:
    plan = report.plan
    lines = [f"{plan.source_definition_id} → {plan.target_definition_id}"]
    mapped = ", ".join(i.source_activity_id if i.source_activity_id == i.target_activity_id
                       else f"{i.source_activity_id} → {i.target_activity_id}" for i in plan.instructions)
    lines.append(f"plan: {mapped or 'no instructions'}")
    if report.unmapped_activities:
        lines.append(f"unmapped (cases waiting there cannot move): {', '.join(report.unmapped_activities)}")
    for r in report.instruction_reports:
        lines.append(f"cannot work: {r.instruction.source_activity_id} → {r.instruction.target_activity_id}: "
                     + "; ".join(r.failures))
    if not report.valid:
        lines.append("nothing moved: correct the plan (--map) first")
        return "\n".join(lines)
    for case in report.instances:
        where = ", ".join(case.waiting_at) or "-"
        if case.movable:
            lines.append(f"{'can move' if dry_run else 'moved':9} {case.instance_id}  (at {where})")
        else:
            lines.append(f"{'refused':9} {case.instance_id}  " + "; ".join(case.reasons))
    good = len(report.movable) if dry_run else len(report.moved)
    verb = "can move" if dry_run else "moved"
    lines.append(f"{good} case{'s' if good != 1 else ''} {verb}, {len(report.refused)} cannot"
                 + (" (dry run: nothing changed)" if dry_run else ""))
    return "\n".join(lines)
