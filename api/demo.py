"""`reviewflow demo` — a fictional case down each path of the pathway, through the REST API.

A server (with the workers and the timer scheduler) runs in this process on a fresh embedded
database under var/demo/. People with the right roles and keys are created; then one case goes
down the LCSPR path and one down Learning Dissemination: every user task is completed by someone
of its lane over HTTP, documents are uploaded where an agency or the reviewer would upload them,
the National Panel's response arrives as a message, and where the case waits on a statutory clock
the demo moves the clock forward instead of waiting months. It prints each case's timeline and
where every document landed. All names are fictional.
"""

from __future__ import annotations

import shutil
import threading
import time
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

import engine
from api.demo_paths import PathSpec as Path_
from api.demo_paths import sign_offs
from api.settings import ServerSettings

ROOT = Path("var/demo")
CHILD = "Child J"                     # the confidential name the publication guard must keep out
FAMILY = "Ms Demo Parent"             # a family member: private to the business unit and the lead reviewer
LANES = {   # candidate group -> (user id, role)
    "business-unit": ("bu-officer", "business-unit"),
    "case-review-group": ("crg-chair", "crg-member"),
    "safeguarding-partners": ("partners-delegate", "panel-member"),
    "lcspr-panel": ("panel-chair", "panel-member"),
    "independent-lead-reviewer": ("lead-reviewer", "reviewer"),
    "learning-from-practice-sub-group": ("lfp-chair", "panel-member"),
}


class Demo:
    def __init__(self, directory: Path | None = None, out=print, *,  # type: ignore[no-untyped-def]
                 national_panel_url: str = "", website_url: str = "", root: Path = ROOT,
                 db: engine.Database | None = None) -> None:
        self._given_db = db
        self.out = out
        self.root = root
        self.agencies = _agencies(directory)
        self.national_panel_url, self.website_url = national_panel_url, website_url
        self.keys: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.docs: dict[str, str] = {}

    # ---- set-up --------------------------------------------------------------------------------
    def start(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        self.settings = ServerSettings(database_url=f"sqlite:///{self.root / 'demo.db'}", site_dir=self.root / "site",
                                       port=_free_port(), sqlite_synchronous="NORMAL")
        from api.app import create_app  # noqa: PLC0415
        from api.cli import EmbeddedWorkers, deploy_directory, open_database  # noqa: PLC0415
        self.db = self._given_db or open_database(self.settings)
        engine.upgrade(self.db)
        deploy_directory(self.db, Path("bpmn"))
        self._people()
        self.base = f"http://127.0.0.1:{self.settings.port}"
        config = uvicorn.Config(create_app(self.settings, db=self.db), host="127.0.0.1", port=self.settings.port,
                                log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        from workers.runtime import WorkerSettings  # noqa: PLC0415
        from workers.services import Services  # noqa: PLC0415
        worker_settings = WorkerSettings(engine_url=f"{self.base}/engine-rest", token=self.keys["demo-worker"])
        self.services = Services.from_settings(worker_settings, directory=self._directory_file())
        self.workers = EmbeddedWorkers(self.settings, token=self.keys["demo-worker"], services=self.services)
        self.workers.start()

    def _directory_file(self) -> Path:
        """The example partnership, with its folders and site address moved under the demo's folder."""
        text = Path("partnership.example.toml").read_text()
        text = text.replace('outbox = "var/outbox"', f'outbox = "{self.root / "outbox"}"')
        text = text.replace('site = "var/site"', f'site = "{self.root / "site"}"')
        text = text.replace("http://127.0.0.1:8000/site/", f"{self.base}/site/")
        if self.national_panel_url:
            text = text.replace('[national_panel]\nurl = ""', f'[national_panel]\nurl = "{self.national_panel_url}"')
        if self.website_url:
            text = text.replace('[website]\nurl = ""', f'[website]\nurl = "{self.website_url}"')
        path = self.root / "partnership.toml"
        path.write_text(text)
        return path

    def stop(self) -> None:
        self.workers.stop()
        self.services.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        if self._given_db is None:
            self.db.dispose()
        engine.clock.reset()

    def _people(self) -> None:
        for group, (user, role) in LANES.items():
            engine.create_principal(self.db, principal_id=user, roles=[role], groups=[group])
        for agency in [a["id"] for a in tomllib.loads(Path("partnership.example.toml").read_text())["agencies"]]:
            engine.create_principal(self.db, principal_id=f"lead-{_slug(agency)}", roles=["agency-lead"],
                                    groups=["agency-leads"], organisation=agency)
        for reviewer in tomllib.loads(Path("partnership.example.toml").read_text()).get("reviewers", []):
            engine.create_principal(self.db, principal_id=reviewer.get("user") or reviewer["id"], roles=["reviewer"],
                                    groups=["independent-lead-reviewer"])
        engine.create_principal(self.db, principal_id="demo-worker", roles=["worker"], kind="worker")
        for p in engine.list_principals(self.db):
            self.keys[p.id] = engine.issue_key(self.db, principal_id=p.id).secret

    def http(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30, headers={"Authorization": f"Bearer {self.keys[user]}"})

    # ---- driving a case ------------------------------------------------------------------------
    def run_case(self, decision: str | Path_, business_key: str) -> dict[str, Any]:
        """Drive one case down a path (a PathSpec, or a decision: "lcspr" / "learning_dissemination") to its end."""
        path = decision if isinstance(decision, Path_) else Path_(
            "lcspr-full" if decision == "lcspr" else "learning-dissemination", "", decision)
        self.path = path
        self.business_key = business_key
        self.counts.clear()
        self.invited: dict[str, int] = {}
        self.completed: list[dict[str, Any]] = []
        engine.clock.freeze(path.starts_at)
        with self.http("bu-officer") as bu:
            if path.process:        # a case that was not notified: the business unit opens it
                started = bu.post("/api/v1/instances", json={"definition_key": path.process,
                                                             "business_key": business_key})
                if started.status_code != 201:
                    raise RuntimeError(f"start {path.process}: {started.status_code} {started.text}")
                case = started.json()
            else:
                case = bu.post("/api/v1/messages", json={"message_name": "serious_incident_notification",
                                                         "business_key": business_key}).json()["instance"]
            for _ in range(1500):
                got = bu.get(f"/api/v1/instances/{case['id']}").json()
                if got["status"] != "active":
                    break
                if got["incidents"]:
                    raise RuntimeError(f"the case stopped on an incident: {got['incidents'][0]['message']}")
                actionable = [t for t in got["user_tasks"] if not self._waits(t)]
                if actionable:
                    self._complete(actionable[0], path.decision)
                elif got["external_tasks"]:
                    self._let_workers_work(bu, case["id"])
                else:
                    self._move_clock(bu, got)
            else:
                raise RuntimeError("the case did not end")
            history = bu.get(f"/api/v1/instances/{case['id']}/history").json()["data"]
            documents = bu.get(f"/api/v1/instances/{case['id']}/documents").json()["data"]
        return {"case": got, "history": history, "documents": documents, "completed": list(self.completed)}

    def _waits(self, task: dict[str, Any]) -> bool:
        """A task nobody answers on this path (an agency that never replies)."""
        if task["activity_id"] == "answer_invitation":      # reviewers who never answer their invitation
            self.invited.setdefault(task["id"], len(self.invited))
            return self.invited[task["id"]] < self.path.unanswered_invitations
        return task["activity_id"] in ("submit_scoping_document", "submit_imr") and \
            (task.get("organisation") or "") in self.path.silent

    def _complete(self, task: dict[str, Any], decision: str) -> None:
        user = self._who(task)
        with self.http(user) as c:
            detail = c.get(f"/api/v1/user-tasks/{task['id']}").json()
            self._client, self._task, self._client_user = c, detail, user
            variables = self._form(detail, decision, c)
            r = c.post(f"/api/v1/user-tasks/{task['id']}/complete", json={"variables": variables})
            if r.status_code != 200:
                raise RuntimeError(f"{task['activity_id']} as {user}: {r.status_code} {r.text}")
        self.completed.append({"activity_id": task["activity_id"], "user": user, "at": engine.clock.now(),
                               "organisation": task.get("organisation"), "variables": detail.get("variables") or {}})

    def _who(self, task: dict[str, Any]) -> str:
        if "agency-leads" in task["candidate_groups"]:
            return f"lead-{_slug(task['organisation'] or self.agencies[0])}"
        if task.get("assignee"):
            return str(task["assignee"])
        if task["candidate_users"]:
            return str(task["candidate_users"][0])
        return LANES[task["candidate_groups"][0]][0]

    def _let_workers_work(self, client: httpx.Client, instance_id: str) -> None:
        """Wait for the workers; a task waiting out a retry pause gets the clock moved on."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for _ in range(10):
                got = client.get(f"/api/v1/instances/{instance_id}").json()
                if not got["external_tasks"] or got["user_tasks"] or got["incidents"]:
                    return
                time.sleep(0.05)
            if any(t["error_message"] for t in got["external_tasks"]):
                engine.clock.advance(timedelta(seconds=30))
        raise RuntimeError(f"the workers did not finish {[t['topic'] for t in got['external_tasks']]}")

    def _panel_responds(self, client: httpx.Client, business_key: str) -> bool:
        r = client.post("/api/v1/messages", json={"message_name": "national_panel_response",
                                                  "business_key": business_key,
                                                  "variables": {"panel_response": "The National Panel agrees."}})
        return r.status_code == 200

    def _move_clock(self, client: httpx.Client, case: dict[str, Any]) -> None:
        due = engine.next_timer_due(self.db)
        if due is None:
            if client.get(f"/api/v1/instances/{case['id']}").json() != case:
                return                 # it moved on meanwhile: the server's scheduler fired its last timer
            raise RuntimeError("the case waits for nothing the demo can give it")
        engine.clock.freeze(max(due, engine.clock.now()) + timedelta(minutes=1))
        engine.fire_due_timers(self.db)

    # ---- what people type into the forms -------------------------------------------------------
    def _form(self, task: dict[str, Any], decision: str, c: httpx.Client) -> dict[str, Any]:
        sid = task["activity_id"]
        n = self.counts[sid] = self.counts.get(sid, 0) + 1
        v = task.get("variables") or {}
        today = engine.clock.now().date()

        def day(offset: int = 0) -> str:
            return (today + timedelta(days=offset)).isoformat()

        def sign() -> dict[str, Any]:
            return sign_offs(day)

        def answer(name: str, default: Any) -> Any:
            override = self.path.answers.get(name)
            return override(self, v, n, day) if override else default

        aware = day(-self.path.notified_after_days - 1)
        forms: dict[str, Any] = {
            "record_sin": lambda: {"case_reference": f"{getattr(self, 'business_key', 'NB-CR')}-1",
                                   "became_aware_on": aware, "sin_sent_on": day(-1),
                                   "incident_type": self.path.incident_type,
                                   "child_looked_after": self.path.looked_after,
                                   "agencies": [a for a in self.agencies if a not in self.path.added_later],
                                   "confidential_names": [CHILD, "Parent K"]},
            "explain_late_notification": lambda: {"notification_late_reasons": [
                "The hospital's referral reached the local authority's front door a week late"]},
            "explain_late_rapid_review": lambda: {"rapid_review_late_reasons": ["An agency's return arrived late"],
                                                  "rapid_review_expected_on": day(7)},
            "submit_scoping_document": lambda: {"scoping_document": {
                "involvement": f"{v['agency']} had contact in the twelve months before the incident.",
                "analysis": "Information was held but not shared.", "immediate_safety_concerns": "None"}},
            "decide_missing_return": lambda: {"proceed_without": True, "proceed_without_reason":
                                              "No reply after two chases; the meeting cannot wait longer"},
            "hold_rapid_review_meeting": lambda: {
                "meeting_date": day(), "learning_identified": ["Information sharing across the front door"],
                "immediate_safety_actions": "None needed", "recommendation": decision,
                "recommendation_reasons": ["Agreed by the Case Review Group"],
                "agencies_to_add": list(self.path.added_later) if n == 1 else [], "agencies_removed": [],
                "rapid_review_report_id": self._upload(c, task, "rapid_review.md",
                                                       b"# Rapid Review\nAgencies met and agreed.\n",
                                                       "text/markdown", "rapid_review")},
            "record_partners_decision": lambda: answer("record_partners_decision", {
                "decision": decision, "decision_reasons": ["As the group recommends"], "decision_date": day(),
                "sign_offs": sign()}),
            "record_partners_redecision": lambda: {"decision": decision, "decision_reasons": [
                "The partners considered the Panel's reasons"], "decision_date": day(), "sign_offs": sign()},
            "submit_through_portal": lambda: {"portal_submitted_on": day(), "portal_reference": f"NP-{day()}-{n}"},
            "correct_submission": lambda: {"corrections": ["The case reference was corrected"]},
            "record_panel_response": lambda: answer("record_panel_response", {
                "panel_outcome": "agrees", "response_received_on": day(), "panel_reasons": [],
                "information_requested": []}),
            "reconsider_recommendation": lambda: {"recommendation": decision, "recommendation_reasons": [
                "The group weighed the Panel's view"], "response_to_panel": [
                {"panel_reason": (v.get("panel_reasons") or ["The Panel's view"])[0],
                 "answer": "Considered by the group"}]},
            "provide_further_information": lambda: {"further_information": [
                {"question": q, "answer": "Answered from the agencies' records"}
                for q in (v.get("information_requested") or ["What the Panel asked"])]},
            "support_national_review": lambda: {"review_lead": {
                "body": "national_panel", "name": "Child Safeguarding Practice Review Panel", "reference": "NR-27-04",
                "contact": {"name": "National reviewer", "role": "Lead reviewer for the Panel",
                            "email": "national.reviewer@panel.example"}}},
            "record_review_lead": lambda: {"review_lead": {
                "body": "other_partnership", "name": "Southmoor Safeguarding Children Partnership",
                "reference": "SM-LCSPR-27-2", "contact": {"name": "Southmoor business manager",
                                                          "email": "reviews@southmoor.example"}},
                "case_reference": f"{getattr(self, 'business_key', 'NB-CR')}-1", "agencies": self.agencies[:2]},
            "record_lead_body_contact": lambda: answer("record_lead_body_contact", {
                "news": "information_request", "request_details": ["Each agency's involvement in 2026"],
                "request_due_on": day(20), "agencies_asked": self.agencies[:1]} if n == 1 else {
                "news": "final_report", "final_report_received_on": day(), "final_report_id": self._upload(
                    c, task, "review_final_report.md", b"# Final report of the review\nWhat agencies will change.\n",
                    "text/markdown", "final_report")}),
            "send_contribution": lambda: {"contribution": {
                "sent_on": day(), "summary": "The agencies' returns and the partnership's chronology"}},
            "record_learning_for_action_plan": lambda: {"learning_identified": [
                "Escalation between agencies", "Information sharing across boundaries"]},
            "record_referral": lambda: {
                "case_reference": f"{getattr(self, 'business_key', 'NB-CR')}-1", "referring_agency": self.agencies[0],
                "referred_on": day(-1), "referral_reasons": ["Repeated missed health appointments not followed up"],
                "agencies": list(self.agencies), "confidential_names": [CHILD, "Parent K"]},
            "screen_case": lambda: answer("screen_case", {
                "screened_on": day(), "criteria_considered": [
                    {"criterion": criterion, "met": decision != "no_further_action"}
                    for criterion in ("Learning about how agencies worked together",
                                      "Learning not already identified elsewhere")],
                "screening_rationale": "Considered against the partnership's criteria",
                "screening_outcome": decision, "local_review_due_on": None}
                | ({"review_agency": self.agencies[0], "agency_review_questions": ["How were referrals followed up?"]}
                   if decision in ("single_agency_review", "audit") else {})),
            "carry_out_agency_review": lambda: {"agency_review": {
                "completed_on": day(), "findings": "Referrals were followed up late in three of ten cases.",
                "learning_points": ["Follow up every missed appointment within a week"]}},
            "consider_agency_review": lambda: {"findings_accepted": True, "learning_identified": [
                "Follow up every missed appointment within a week"]},
            "agree_terms_of_reference": lambda: {
                "terms_of_reference": {"scope": "Multi-agency practice in the year before the incident.",
                                       "methodology": "Systems methodology with a practitioner event"},
                "key_lines_of_enquiry": ["Information sharing", "Escalation", "Voice of the child"],
                "review_period_start": "2026-01-01", "review_period_end": "2026-12-31",
                "practitioner_discussion_appropriate": True, "agencies": list(v.get("agencies") or self.agencies),
                "agency_changes": []},
            "hold_panel_meeting": lambda: {"panel_meeting_record": {"held_on": day(),
                                                                    "attendees": ["Panel chair", "Police"],
                                                                    "decisions": "Draft scope agreed"}},
            "record_practitioner_discussion": lambda: {"practitioner_discussion": {
                "held_on": day(), "attendance": 9, "notes_document_id": self._upload(
                    c, task, "practitioner_discussion.md", b"# Practitioner discussion\nThemes noted.\n",
                    "text/markdown", "discussion_notes")}},
            "submit_imr": lambda: {"imr": {
                "imr_document_id": self._upload(c, task, f"imr_{_slug(v['agency'])}.md",
                                                f"# IMR\n{v['agency']}'s involvement and analysis.\n".encode(),
                                                "text/markdown", "imr"),
                "chronology_document_id": self._upload(
                    c, task, f"chronology_{_slug(v['agency'])}.csv",
                    (f"date,event,source\n2026-0{1 + len(v['agency']) % 8}-10,Contact with the family,"
                     f"{v['agency']} record\n2026-09-01,Referral discussed,{v['agency']} case notes\n").encode(),
                    "text/csv", "chronology"),
                "author": f"{v['agency']} reviewer", "author_independent": True,
                "senior_manager_sign_off": "Head of service", "signed_off_on": day()}},
            "write_local_report": lambda: {"draft_report_id": self._upload(
                c, task, f"local_draft_{n}.md", b"# Local learning review draft\nFindings about follow-up.\n",
                "text/markdown", "draft_report"), "draft_version": n},
            "write_draft_report": lambda: {"draft_report_id": self._upload(
                c, task, f"draft_{n}.md", b"# LCSPR draft\nFindings about information sharing.\n",
                "text/markdown", "draft_report"), "draft_version": n},
            "quality_assure_draft": lambda: {"amendments_needed": False, "qa_amendments": []},
            "approve_final_report": lambda: {"final_report_id": self._upload(
                c, task, "final_report.md",
                f"# Final report\nWhat happened to {CHILD} and what partners will change.\n".encode(),
                "text/markdown", "final_report"), "sign_offs": sign()},
            "decide_publication": lambda: answer("decide_publication", {
                "publication_choice": "full_report", "publication_reasons": ["Publication is in the public interest"],
                "sign_offs": sign()}),
            "check_anonymisation": lambda: {"redacted_document_id": self._upload(
                c, task, "final_report_redacted.md" if v.get("publication_scope") != "improvements_only"
                else "improvements_redacted.md",
                b"# Final report\nWhat happened and what partners will change.\n", "text/markdown",
                "redacted_report"), "anonymisation_checked": True,
                "legal_check": {"checked_by": "Partnership solicitor", "checked_on": day()}},
            "plan_publication_date": lambda: answer("plan_publication_date", {
                "planned_publication_date": day(10)}),
            "invite_family": lambda: answer("invite_family", {
                "family_involvement_outcome": "declined", "review_explained": True,
                "family_contact": {"members": [{"name": FAMILY, "relationship": "mother"}],
                                   "phone": "01632 960 123", "address": "1 Demo Row, Northbridge"},
                "family_contact_log": [{"on": day(), "method": "letter",
                                        "result": "Thanked us; does not wish to take part"}]}),
            "meet_family": lambda: {"family_meeting": {
                "held_on": day(), "attendees": [FAMILY, "Lead reviewer"],
                "family_views": "Nobody asked the child what life at home was like.",
                "notes_document_id": self._upload(c, task, "family_statement.md",
                                                  f"# In our words\n{FAMILY}'s account.\n".encode(),
                                                  "text/markdown", "family_statement")}},
            "record_childs_voice": lambda: {"childs_voice": {
                "summary": "Told a teacher she was hungry and did not want to go home.",
                "sources": ["records", "practitioners"] + (["family"] if v.get("family_meeting") else [])}},
            "share_findings_with_family": lambda: answer("share_findings_with_family", {
                "family_findings_response": {"shared_on": day(), "comments": []}}),
            "brief_family": lambda: {"family_briefed_on": day(),
                                     "family_briefing_notes": "Publication date and anonymisation explained"},
            "answer_invitation": lambda: answer("answer_invitation", {
                "invitation_accepted": True, "conflict_declared": False}),
            "agree_commission": lambda: {"commission": {
                "fee_gbp": 9500, "days_of_work": 25,
                "report_due_on": day(150),
                "terms": "Fee paid in two parts: on the draft report and on the final report"}},
            "record_reviewer_feedback": lambda: {"reviewer_feedback": {
                "quality": "good", "on_time": True, "would_commission_again": True,
                "summary": "Clear analysis; the family felt listened to"}},
            "review_publication": lambda: {"keep_published": True, "publication_review_reasons": [
                "The learning is still current"]},
            "redact_briefing": lambda: {"redacted_document_id": self._upload(
                c, task, "briefing_redacted.md", b"# 7-minute briefing\nLearning for practitioners.\n",
                "text/markdown", "redacted_briefing"), "redaction_notes": "Names removed"},
            "assess_deadline": lambda: answer("assess_deadline", {"deadline_at_risk": False,
                                                                  "progress_summary": "On track"}),
            "record_delay": lambda: answer("record_delay", {
                "delay_reasons": ["Awaiting criminal proceedings"], "parallel_proceedings": ["criminal"],
                "expected_publication_date": day(60)}),
            "gather_learning": lambda: {"learning_points": ["Share information at the first concern",
                                                            "Hear the child's voice"]},
            "review_briefing": lambda: {"changes_needed": False, "briefing_changes": [], "use_edited_version": False,
                                        "edited_briefing_document_id": None, "approved_by": "LfP chair"},
            "plan_learning_events": lambda: {"learning_events": [
                {"theme": "Information sharing", "planned_on": day(14), "audience": "Front-line staff"}]},
            "record_learning_events": lambda: {"learning_event_records": [
                {"theme": "Information sharing", "held_on": day(), "attendance": 42}]},
            "agree_action_plan": lambda: {"actions": [
                {"action": "Joint information-sharing protocol", "agency": self.agencies[0], "owner": "Head of service",
                 "due_date": day(30), "rag": "amber", "evidence_of_impact": "Audit of referrals"}]},
            "update_action": lambda: {"action_update": {"rag": "green", "progress": "Protocol in use",
                                                        "completed": True}},
            "review_progress": lambda: {"any_overdue": False, "progress_summary": "All actions on track"},
            "confirm_impact": lambda: {"impact_confirmed": True, "impact_summary": "Audit shows the change",
                                       "closed_on": day()},
        }
        if sid not in forms:
            raise RuntimeError(f"the demo does not know the form of task {sid}")
        return forms[sid]()

    def _upload(self, c: httpx.Client, task: dict[str, Any], name: str, content: bytes, kind: str,
                label: str) -> str:
        r = c.post(f"/api/v1/user-tasks/{task['id']}/documents", files={"file": (name, content, kind)},
                   data={"kind": label})
        if r.status_code != 201:
            raise RuntimeError(f"upload {name}: {r.status_code} {r.text}")
        return r.json()["id"]


def _agencies(directory: Path | None) -> list[str]:
    """The statutory partners and the education service of the example partnership: agencies for
    which the example has uninvolved senior managers and a reviewer without a conflict."""
    path = directory or Path("partnership.example.toml")
    data = tomllib.loads(path.read_text())
    agencies = data.get("agencies", [])
    chosen = [a["id"] for a in agencies if a.get("statutory_partner")]
    chosen += [a["id"] for a in agencies if "education" in a["id"]][:1]
    return chosen


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def _free_port() -> int:
    import socket  # noqa: PLC0415
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unclean(case: dict[str, Any]) -> str:
    """What is wrong with how a case ended ("" when it completed with no incident and nothing open)."""
    problems = [f"status {case['status']}"] if case["status"] != "completed" else []
    problems += [f"{len(case[k])} {k.replace('_', ' ')}" for k in ("incidents", "user_tasks", "external_tasks")
                 if case.get(k)]
    return ", ".join(problems)


def print_case(title: str, result: dict[str, Any], out=print) -> None:  # type: ignore[no-untyped-def]
    case = result["case"]
    out(f"\n{title}: {case['business_key']} — {case['status']}")
    for e in result["history"]:
        if e["kind"] in ("task_completed", "external_task_completed", "timer_fired", "message_correlated",
                         "instance_started", "instance_completed", "external_task_bpmn_error", "document_added"):
            out(f"  {e['at'][:16].replace('T', ' ')}  {e['kind']:<26} {e['activity_id'] or '':<32} {e['actor']}")
    out("  documents:")
    for d in result["documents"]:
        out(f"    {d['kind'] or 'document':<28} {d['filename']:<34} in the case file ({d['size']} bytes)")


def main(out=print) -> int:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    demo = Demo(out=out)
    demo.start()
    try:
        failed = []
        for decision, key, title in (("lcspr", "NB-DEMO-LCSPR", "LCSPR path"),
                                     ("learning_dissemination", "NB-DEMO-LD", "Learning Dissemination path")):
            result = demo.run_case(decision, key)
            print_case(title, result, out)
            if problem := unclean(result["case"]):
                failed.append(key)
                out(f"  FAILED: {problem}")
        out("\nwhere the documents landed outside the case file:")
        for path in sorted(p for p in ROOT.rglob("*") if p.is_file() and p.suffix not in (".db", ".db-wal", ".db-shm")):
            out(f"  {path}")
        out(f"\ndone in {time.monotonic() - started:.1f} s; the published site is {ROOT / 'site'}")
        return 1 if failed else 0
    finally:
        demo.stop()


def cli(args: Any, out=print) -> int:  # type: ignore[no-untyped-def]
    """`reviewflow demo [--path NAME | --list | --all]`."""
    from api.demo_paths import PATHS  # noqa: PLC0415
    if getattr(args, "list", False):
        width = max(len(n) for n in PATHS)
        for name, path in PATHS.items():
            out(f"{name:<{width}}  {path.description}")
        return 0
    names = list(PATHS) if getattr(args, "all", False) else [args.path] if getattr(args, "path", None) else []
    if not names:
        return main(out)
    unknown = [n for n in names if n not in PATHS]
    if unknown:
        out(f"no path called {unknown[0]!r}; reviewflow demo --list names them")
        return 2
    return run_paths(names, out)


def run_paths(names: list[str], out=print) -> int:  # type: ignore[no-untyped-def]
    """Drive each named path on one server; 1 if any ends with an incident, an open task or not at all."""
    from api.demo_paths import PATHS  # noqa: PLC0415
    started = time.monotonic()
    demo = Demo(out=out)
    demo.start()
    failed: list[str] = []
    try:
        for name in names:
            began = time.monotonic()
            try:
                result = demo.run_case(PATHS[name], f"NB-DEMO-{name.upper()}")
            except RuntimeError as exc:
                failed.append(name)
                out(f"\n{name}: FAILED — {exc}")
                continue
            problem = unclean(result["case"])
            print_case(f"{name} ({PATHS[name].description})", result, out)
            out(f"  {f'FAILED: {problem}' if problem else 'ok'} in {time.monotonic() - began:.1f} s")
            if problem:
                failed.append(name)
        out(f"\n{len(names) - len(failed)} of {len(names)} paths ended cleanly in {time.monotonic() - started:.1f} s"
            + (f"; failed: {', '.join(failed)}" if failed else ""))
        return 1 if failed else 0
    finally:
        demo.stop()
