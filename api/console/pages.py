"""The console's pages: dashboard, tasks (with their forms), cases, the timeliness report,
definitions and incidents. Each calls the engine functions the API routes call, with the signed-in
person's actor and the same permission, so it shows only what the API would show them."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime
from operator import itemgetter
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

import engine
from api.console import forms, svg
from api.console.web import HEADERS, PageError, Signed, SignedDep, call, form_of, need, redirect, renderer
from api.milestones import milestones
from api.security import Permission as P
from api.v1.reports import csv_of, this_year
from timekeeping.calendar import UK

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
NOTICES = {
    "completed": "Task completed.",
    "claimed": "The task is yours now.",
    "unclaimed": "The task is back with its team.",
    "assigned": "Task assigned.",
    "uploaded": "Document attached.",
    "retried": "The incident was retried.",
}


def today() -> date:
    return engine.clock.now().astimezone(UK).date()


def notice_of(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


# ---- dashboard ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseRow:
    id: str
    business_key: str | None
    path: str
    stage: str
    deadline: engine.MilestoneStatus | None
    rag: str | None
    incidents: int
    started_at: datetime


def describe_stage(case: engine.CaseOverview, m: engine.Milestones) -> tuple[str, str]:
    """(path, stage): the process the case is in, by the milestones file's names, and what it waits for."""
    waiting = case.waiting
    first = next((w for w in waiting if w.kind == "user_task"), None) or next(iter(waiting), None)
    process = (first.process_key if first and first.process_key else None) or case.definition_key
    process_name = first.process_name if first else None
    path = m.paths.get(process) or process_name or process
    if first is None:
        if case.next_timer_at is not None:
            return path, f"Waiting until {case.next_timer_at.astimezone(UK):%d %b %Y}"
        return path, "Running"
    same = sum(1 for w in waiting if w.activity_id == first.activity_id)
    name = first.name or first.activity_id
    if first.kind == "external_task":
        name = f"{name} (automatic)"
    elif first.kind == "message":
        name = f"Waiting: {name}"
    return path, name + (f" ({same} open)" if same > 1 else "")


def case_rows(cases: list[engine.CaseOverview], m: engine.Milestones, day: date) -> list[CaseRow]:
    days = engine.working_days(day)
    rows = []
    for case in cases:
        deadline = engine.next_deadline(engine.evaluate_milestones(
            m, variables=case.variables, completed=case.completed, today=day, days=days, statutory_only=True))
        path, stage = describe_stage(case, m)
        rows.append(CaseRow(case.id, case.business_key, path, stage, deadline, engine.rag(deadline, m),
                            case.open_incidents, case.started_at))
    return sort_rows(rows)


def sort_rows(rows: list[CaseRow]) -> list[CaseRow]:
    rows.sort(key=order_of)
    return rows


def order_of(row: CaseRow) -> tuple[bool, date, float]:
    """Overdue and nearest deadlines first; cases without one last; newest first among equals."""
    return row.deadline is None, row.deadline.due_on if row.deadline else date.max, -row.started_at.timestamp()


class DashboardRows:
    """The dashboard's rows, each worked out once per version of its case and per day, then kept:
    with thousands of open cases, reading every case's variables and evaluating its milestones on
    every visit costs seconds, while between two visits only a few cases change. Each visit reads
    the cases' stamps (`engine.open_case_stamps`: id, version, definition, open incidents), and
    reads and evaluates again only the cases whose version or definition changed, or all of them on
    a new day or after the milestones were reloaded. What a viewer may see comes from the stamps,
    so a kept row is never shown to someone the database would not show it to."""

    REFRESH_ONE_BY_ONE = 500            # more changed cases than this are read in one pass over all
    MOST_KEPT = 200_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._milestones: engine.Milestones | None = None
        self._day: date | None = None
        self._kept: dict[str, tuple[tuple[int, str], tuple[bool, date, float], CaseRow]] = {}

    def rows(self, db: engine.Database, *, viewer: engine.Actor, m: engine.Milestones, day: date) -> list[CaseRow]:
        with self._lock:
            if m is not self._milestones or day != self._day:
                self._milestones, self._day, self._kept = m, day, {}
            stamps = engine.open_case_stamps(db, viewer=viewer)
            stale = [s for s in stamps if self._kept.get(s.id, (None,))[0] != (s.version, s.definition_id)]
            if stale:
                wanted = {s.id: (s.version, s.definition_id) for s in stale}
                cases = engine.open_cases(db, viewer=viewer, variables=m.milestone_variables(statutory_only=True),
                                          completed_activities=m.activities(statutory_only=True),
                                          instance_ids=list(wanted) if len(wanted) <= self.REFRESH_ONE_BY_ONE
                                          else None)
                for row in case_rows([c for c in cases if c.id in wanted], m, day):
                    # read after its stamp: a case changed in between is kept under the older
                    # stamp, so the next visit reads it again rather than keep a stale row
                    self._kept[row.id] = (wanted[row.id], order_of(row), row)
            if viewer.sees_all_cases and len(self._kept) > len(stamps):
                current = {s.id for s in stamps}             # closed cases leave
                self._kept = {k: v for k, v in self._kept.items() if k in current}
            elif len(self._kept) > self.MOST_KEPT:
                self._kept = {}                              # only need-to-know viewers came: start again
            ordered = []
            for s in stamps:
                kept = self._kept.get(s.id)
                if kept is not None:                         # else closed between the two reads
                    ordered.append((kept[1], kept[2], s.open_incidents))
        ordered.sort(key=itemgetter(0))
        return [row if row.incidents == incidents else replace(row, incidents=incidents)
                for _, row, incidents in ordered]


@router.get("/")
async def dashboard(request: Request, signed: SignedDep, page: int = 1, rag: str | None = None) -> Response:
    """Every open case the person may see, overdue first."""
    if not signed.can(P.READ_INSTANCE):
        return redirect("/tasks" if signed.can(P.WORK_TASKS) or not signed.can(P.READ_DEFINITIONS) else "/definitions")
    kept: DashboardRows | None = getattr(request.app.state, "dashboard_rows", None)
    if kept is None:
        kept = request.app.state.dashboard_rows = DashboardRows()
    rows = await call(request, kept.rows, viewer=signed.actor, m=milestones(request), day=today())
    counts = Counter(r.rag for r in rows)
    shown = [r for r in rows if r.rag == rag] if rag in ("red", "amber", "green") else rows
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    incidents = await call(request, engine.list_incidents, viewer=signed.actor, limit=1)
    return renderer(request).page(
        request, "dashboard.html", signed=signed, rows=shown[(page - 1) * PAGE_SIZE: page * PAGE_SIZE],
        total=len(rows), shown_total=len(shown), counts=counts, rag=rag, page=page, pages=pages,
        open_incidents=incidents.count, today=today(), notice=notice_of(request),
        page_url=lambda n: "/?" + urlencode({k: v for k, v in (("rag", rag), ("page", n)) if v}))


# ---- tasks -------------------------------------------------------------------------------------

VIEWS = {"mine": "Assigned to me", "team": "My teams' tasks", "unassigned": "Unassigned in my teams",
         "all": "All tasks I can see"}


@router.get("/tasks")
async def task_list(request: Request, signed: SignedDep, view: str = "team", group: str | None = None,
                    assignee: str | None = None, page: int = 1) -> Response:
    need(signed, P.WORK_TASKS)
    view = view if view in VIEWS else "team"
    groups = sorted(signed.caller.groups)
    query: dict[str, Any] = {}
    if view == "mine":
        query["assignee"] = signed.caller.id
    elif view in ("team", "unassigned"):
        query["candidate_groups"] = [group] if group in groups else groups or ["-"]
        query["unassigned"] = True if view == "unassigned" else None
    if assignee and view == "all":
        query["assignee"] = assignee
    page = max(page, 1)
    found = await call(request, engine.list_user_tasks, viewer=signed.actor, limit=PAGE_SIZE,
                       offset=(page - 1) * PAGE_SIZE, **query)
    m = milestones(request)
    deadlines: dict[str, engine.MilestoneStatus | None] = {}
    if found.data and signed.can(P.READ_INSTANCE):
        cases = await call(request, engine.open_cases, viewer=signed.actor,
                           variables=m.milestone_variables(statutory_only=True),
                           completed_activities=m.activities(statutory_only=True),
                           instance_ids=[t.instance_id for t in found.data])
        days = engine.working_days(today())
        for case in cases:
            deadlines[case.id] = engine.next_deadline(engine.evaluate_milestones(
                m, variables=case.variables, completed=case.completed, today=today(), days=days,
                statutory_only=True))
    pages = max(1, -(-found.count // PAGE_SIZE))
    base = {"view": view, "group": group, "assignee": assignee}
    return renderer(request).page(
        request, "tasks.html", signed=signed, tasks=found.data, count=found.count, views=VIEWS, view=view,
        groups=groups, group=group, assignee=assignee, deadlines=deadlines, m=m, page=page, pages=pages,
        notice=notice_of(request),
        page_url=lambda n: "/tasks?" + urlencode({k: v for k, v in {**base, "page": n}.items() if v}))


async def _task(request: Request, signed: Signed, task_id: str) -> engine.UserTaskInfo:
    need(signed, P.WORK_TASKS)
    return await call(request, engine.get_user_task, task_id=task_id, viewer=signed.actor)


async def _can_see_case(request: Request, signed: Signed, instance_id: str) -> bool:
    if not signed.can(P.READ_INSTANCE):
        return False
    try:
        await call(request, engine.get_instance, instance_id=instance_id, viewer=signed.actor)
        return True
    except PageError:
        return False


async def _task_page(request: Request, signed: Signed, task: engine.UserTaskInfo, *, fields: list[forms.Field],
                     summary: list[tuple[str, str]] | None = None, status: int = 200) -> Response:
    documents = await call(request, engine.list_documents, instance_id=task.instance_id, task_id=task.id,
                           viewer=signed.actor)
    return renderer(request).page(
        request, "task.html", status=status, signed=signed, task=task, fields=fields, summary=summary or [],
        documents=documents, case_link=await _can_see_case(request, signed, task.instance_id),
        display=forms.display, notice=notice_of(request), manager=signed.can(P.MANAGE_TASKS))


@router.get("/tasks/{task_id}")
async def task_page(request: Request, task_id: str, signed: SignedDep) -> Response:
    task = await _task(request, signed, task_id)
    return await _task_page(request, signed, task, fields=forms.build(task.form_schema))


def _values_at(values: dict[str, Any], path: str) -> list[Any] | None:
    current: Any = values
    for part in path.split("."):
        if isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        elif isinstance(current, dict):
            current = current.setdefault(part, [])
        else:
            return None
    return current if isinstance(current, list) else None


@router.post("/tasks/{task_id}/complete")
async def complete_task(request: Request, task_id: str, signed: SignedDep) -> Response:
    form = await form_of(request, signed)
    task = await _task(request, signed, task_id)
    schema = task.form_schema
    action = str(form.get("action", "complete"))
    if action.startswith(("add:", "remove:")):             # a list of groups grows or shrinks; nothing is sent
        values = forms.submitted_values(schema, form)
        verb, _, rest = action.partition(":")
        path, _, index = rest.rpartition(":") if verb == "remove" else (rest, "", "")
        entries = _values_at(values, path)
        if entries is not None and path in forms.list_paths(forms.build(schema, values)):
            if verb == "add":
                entries.append({})
            elif index.isdigit() and int(index) < len(entries):
                entries.pop(int(index))
        return await _task_page(request, signed, task, fields=forms.build(schema, values))
    variables, problems = forms.parse(schema, form)
    problems = {**forms.check(schema, variables), **problems}
    if not problems:
        try:
            await call(request, engine.complete_user_task, actor=signed.actor, task_id=task_id, variables=variables)
        except engine.VariablesInvalid as exc:             # the engine's verdict is final
            problems = {exc.field or "(form)": exc.message}
        else:
            if await _can_see_case(request, signed, task.instance_id):
                return redirect(f"/cases/{task.instance_id}?notice=completed")
            return redirect("/tasks?notice=completed")
    fields = forms.build(schema, forms.submitted_values(schema, form))
    summary = forms.attach(fields, problems)
    return await _task_page(request, signed, task, fields=fields, summary=summary, status=400)


@router.post("/tasks/{task_id}/claim")
async def claim_task(request: Request, task_id: str, signed: SignedDep) -> Response:
    form = await form_of(request, signed)
    await _task(request, signed, task_id)
    assignee = str(form.get("assignee") or "").strip() or None
    if assignee is not None and assignee != signed.caller.id:
        need(signed, P.MANAGE_TASKS)                       # only managers hand a task to someone else
        await call(request, engine.assign_user_task, actor=signed.actor, task_id=task_id, assignee=assignee)
        return redirect(f"/tasks/{task_id}?notice=assigned")
    await call(request, engine.claim_user_task, actor=signed.actor, task_id=task_id)
    return redirect(f"/tasks/{task_id}?notice=claimed")


@router.post("/tasks/{task_id}/unclaim")
async def unclaim_task(request: Request, task_id: str, signed: SignedDep) -> Response:
    await form_of(request, signed)
    await _task(request, signed, task_id)
    await call(request, engine.unclaim_user_task, actor=signed.actor, task_id=task_id)
    return redirect(f"/tasks/{task_id}?notice=unclaimed")


@router.post("/tasks/{task_id}/documents")
async def upload_to_task(request: Request, task_id: str, signed: SignedDep) -> Response:
    form = await form_of(request, signed)
    task = await _task(request, signed, task_id)
    upload = form.get("file")
    kind = str(form.get("kind") or "").strip() or None
    limit = request.app.state.settings.max_document_bytes
    problem = None
    content = b""
    if upload is None or isinstance(upload, str) or not upload.filename:
        problem = "Select a file to attach"
    else:
        content = await upload.read(limit + 1)
        if len(content) > limit:
            problem = f"The file must be smaller than {limit // (1024 * 1024)} MB"
    if problem is None:
        try:
            await call(request, engine.add_document, actor=signed.actor, instance_id=task.instance_id, task_id=task_id,
                       filename=upload.filename, content_type=upload.content_type or "", content=content, kind=kind,
                       max_bytes=limit)
        except engine.Invalid as exc:
            problem = exc.message
    if problem is not None:
        return await _task_page(request, signed, task, fields=forms.build(task.form_schema),
                                summary=[("file", problem)], status=400)
    return redirect(f"/tasks/{task_id}?notice=uploaded")


@router.get("/documents/{document_id}")
async def download(request: Request, document_id: str, signed: SignedDep) -> Response:
    if not (signed.can(P.READ_INSTANCE) or signed.can(P.WORK_TASKS)):
        need(signed, P.READ_INSTANCE)
    info, content = await call(request, engine.get_document, document_id=document_id, viewer=signed.actor)
    safe = "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in info.filename)
    return Response(content, media_type="application/octet-stream",
                    headers={**HEADERS, "Content-Disposition": f'attachment; filename="{safe}"'})


# ---- cases -------------------------------------------------------------------------------------

@router.get("/cases/{instance_id}")
async def case_page(request: Request, instance_id: str, signed: SignedDep) -> Response:
    need(signed, P.READ_INSTANCE)
    case = await call(request, engine.get_instance, instance_id=instance_id, viewer=signed.actor)
    progress = await call(request, engine.case_progress, instance_id=instance_id, viewer=signed.actor)
    history = await call(request, engine.instance_history, instance_id=instance_id, viewer=signed.actor)
    documents = (await call(request, engine.list_documents, instance_id=instance_id, viewer=signed.actor)
                 if signed.can(P.WORK_TASKS) else [])
    index = await call(request, engine.activity_index, definition_id=case.definition_id)
    m = milestones(request)
    completed: dict[str, datetime] = {}
    for e in history:
        if e.activity_id and e.kind in ("task_completed", "external_task_completed", "message_correlated",
                                        "timer_fired"):
            completed.setdefault(e.activity_id, e.at)
    day = today()
    statuses = engine.evaluate_milestones(m, variables=case.variables, completed=completed, today=day,
                                          days=engine.working_days(day))
    points = [svg.Point(s.done_on or s.due_on, s.rule.label, s.status) for s in statuses  # type: ignore[arg-type]
              if (s.done_on or s.due_on) is not None]
    timeline = svg.timeline(points, day) if points else Markup("")
    deadline = engine.next_deadline(statuses)
    active_names = [index[a].name or a for p in progress for a in p.active if a in index
                    and index[a].kind not in ("subProcess", "callActivity")]
    return renderer(request).page(
        request, "case.html", signed=signed, case=case, progress=progress, history=history, documents=documents,
        index=index, statuses=statuses, timeline=timeline, deadline=deadline, rag=engine.rag(deadline, m),
        today=day, display=forms.display, active_names=active_names, notice=notice_of(request))


@router.get("/cases/{instance_id}/diagrams/{definition_id}")
async def case_diagram(request: Request, instance_id: str, definition_id: str, signed: SignedDep) -> Response:
    need(signed, P.READ_INSTANCE)
    xml = await call(request, engine.case_diagram_xml, instance_id=instance_id, definition_id=definition_id,
                     viewer=signed.actor)
    return Response(xml, media_type="application/xml", headers=HEADERS)


# ---- the timeliness report ---------------------------------------------------------------------

@router.get("/reports/timeliness")
async def report_page(request: Request, signed: SignedDep, year: int | None = None) -> Response:
    need(signed, P.READ_INSTANCE)
    m = milestones(request)
    current = this_year(m)
    year = year if year is not None and 2000 <= year <= current + 1 else current
    report = await call(request, engine.timeliness_report, milestones=m, year=year, viewer=signed.actor)
    chart = svg.bars([svg.Bar(s.label, s.counts["on_time"], s.counts["late"], s.counts["overdue"])
                      for s in report.sections])
    return renderer(request).page(request, "report.html", signed=signed, report=report, chart=chart,
                                  years=list(range(current, current - 6, -1)), year=year)


@router.get("/reports/timeliness.csv")
async def report_csv(request: Request, signed: SignedDep, year: int | None = None, rows: str = "summary") -> Response:
    need(signed, P.READ_INSTANCE)
    m = milestones(request)
    year = year if year is not None and 2000 <= year <= 2100 else this_year(m)
    rows = rows if rows in ("summary", "items") else "summary"
    report = await call(request, engine.timeliness_report, milestones=m, year=year, viewer=signed.actor)
    name = f"timeliness-{report.label.replace('/', '-')}-{rows}.csv"
    return Response(csv_of(report, rows), media_type="text/csv; charset=utf-8",
                    headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'})


# ---- definitions and incidents -----------------------------------------------------------------

@router.get("/definitions")
async def definitions_page(request: Request, signed: SignedDep) -> Response:
    need(signed, P.READ_DEFINITIONS)
    found = await call(request, engine.list_definitions, limit=200)
    latest: dict[str, int] = {}
    for d in found.data:
        latest[d.key] = max(latest.get(d.key, 0), d.version)
    return renderer(request).page(request, "definitions.html", signed=signed, definitions=found.data,
                                  latest=latest)


@router.get("/definitions/{definition_id}")
async def definition_page(request: Request, definition_id: str, signed: SignedDep) -> Response:
    need(signed, P.READ_DEFINITIONS)
    found = await call(request, engine.get_definition, definition_id=definition_id)
    versions = await call(request, engine.list_definitions, key=found.key, limit=200)
    return renderer(request).page(request, "definition.html", signed=signed, definition=found,
                                  versions=versions.data)


@router.get("/definitions/{definition_id}/xml")
async def definition_xml(request: Request, definition_id: str, signed: SignedDep) -> Response:
    need(signed, P.READ_DEFINITIONS)
    xml = await call(request, engine.definition_xml, definition_id=definition_id)
    return Response(xml, media_type="application/xml", headers=HEADERS)


@router.get("/incidents")
async def incidents_page(request: Request, signed: SignedDep) -> Response:
    need(signed, P.READ_INSTANCE)
    found = await call(request, engine.list_incidents, viewer=signed.actor, limit=200)
    cases = {}
    for i in found.data:
        if i.instance_id not in cases:
            case = await call(request, engine.get_instance, instance_id=i.instance_id, viewer=signed.actor)
            cases[i.instance_id] = case.business_key
    return renderer(request).page(request, "incidents.html", signed=signed, incidents=found.data,
                                  count=found.count, cases=cases, notice=notice_of(request),
                                  can_retry=signed.can(P.ADMINISTER))


@router.post("/incidents/{incident_id}/retry")
async def retry_incident(request: Request, incident_id: str, signed: SignedDep) -> Response:
    await form_of(request, signed)
    need(signed, P.ADMINISTER)
    await call(request, engine.retry_incident, actor=signed.actor, incident_id=incident_id, retries=1)
    return redirect("/incidents?notice=retried")
