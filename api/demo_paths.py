"""The branches a real case takes, as paths `reviewflow demo --path NAME` drives (and tests/scenarios
asserts): what the people on the path answer differently from the plain LCSPR path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Answer = Callable[[Any, dict[str, Any], int, Callable[[int], str]], dict[str, Any]]


def sign_offs(day: Callable[[int], str]) -> dict[str, Any]:
    """One sign-off from each of the three statutory partners, agreeing, dated today."""
    return {p: {"signed_off_by": f"Safeguarding partner ({p.replace('_', ' ')})", "signed_off_on": day(0),
                "agrees": True} for p in ("local_authority", "integrated_care_board", "police")}


def _response(outcome: str, **more: Any) -> Answer:
    """The Panel answers `outcome` the first time, then agrees."""
    def answer(demo: Any, v: dict[str, Any], n: int, day: Callable[[int], str]) -> dict[str, Any]:
        if n > 1:
            return {"panel_outcome": "agrees", "response_received_on": day(0), "panel_reasons": [],
                    "information_requested": []}
        return {"panel_outcome": outcome, "response_received_on": day(0), "panel_reasons": [],
                "information_requested": []} | {k: (f(day) if callable(f) else f) for k, f in more.items()}
    return answer


def _police_first_refuses(demo: Any, v: dict[str, Any], n: int, day: Callable[[int], str]) -> dict[str, Any]:
    """The police do not sign off the first time (with what they ask to change); all three do the second."""
    signed = sign_offs(day)
    if n == 1:
        signed["police"] = {**signed["police"], "agrees": False,
                            "comments": "The report must say when the police shared the referral"}
    return {"decision": demo.path.decision, "decision_reasons": ["As the group recommends"], "decision_date": day(0),
            "sign_offs": signed}


def _publication(choice: str) -> Answer:
    def answer(demo: Any, v: dict[str, Any], n: int, day: Callable[[int], str]) -> dict[str, Any]:
        base = {"publication_reasons": ["Considered by the three partners"], "sign_offs": sign_offs(day)}
        if choice == "defer" and n == 1:
            return base | {"publication_choice": "defer", "deferral_reason": "Parallel criminal proceedings",
                           "deferral_review_on": None}
        if choice == "improvements_only":
            doc = demo._upload(demo._client, demo._task, "improvements.md",
                               b"# The improvements\nWhat partners will change.\n", "text/markdown", "improvements")
            return base | {"publication_choice": "improvements_only", "improvements_document_id": doc}
        return base | {"publication_choice": "full_report"}
    return answer


def _family(outcome: str) -> Answer:
    """The business unit's invitation to the family, with its contact log."""
    def answer(demo: Any, v: dict[str, Any], n: int, day: Callable[[int], str]) -> dict[str, Any]:
        tries = [("letter", "No reply"), ("telephone", "No answer"), ("home_visit", "Moved; no forwarding address")]
        log = [{"on": day(-2 * (len(tries) - i)), "method": m, "result": r} for i, (m, r) in enumerate(tries)]
        if outcome == "accepted":
            log = [{"on": day(0), "method": "telephone", "result": "Agreed to meet the lead reviewer"}]
        return {"family_involvement_outcome": outcome, "review_explained": outcome == "accepted",
                "family_contact": {"members": [{"name": "Ms Demo Parent", "relationship": "mother"}],
                                   "phone": "01632 960 123", "address": "1 Demo Row, Northbridge"},
                "family_contact_log": log}
    return answer


def _family_comments(demo: Any, v: dict[str, Any], n: int, day: Callable[[int], str]) -> dict[str, Any]:
    return {"family_findings_response": {"shared_on": day(0), "comments": [
        {"comment": "The report does not say the school knew she was hungry.",
         "answer": "Added to the findings on information sharing.", "report_changed": True},
        {"comment": "We want her name used.", "answer": "The report must stay anonymised; we explained why.",
         "report_changed": False}]}}


def _first_declines(demo: Any, v: dict[str, Any], n: int, day: Callable[[int], str]) -> dict[str, Any]:
    if n == 1:
        return {"invitation_accepted": False, "conflict_declared": False,
                "decline_reason": "No capacity before the deadline"}
    return {"invitation_accepted": True, "conflict_declared": False}


@dataclass(frozen=True)
class PathSpec:
    name: str
    description: str
    decision: str                                   # lcspr | learning_dissemination (the partners' decision);
    #                                                 on a screened case, the Case Review Group's screening_outcome
    answers: dict[str, Answer] = field(default_factory=dict)
    silent: frozenset[str] = frozenset()            # agencies that never answer
    added_later: tuple[str, ...] = ()               # agencies the Case Review Group adds at its meeting
    notified_after_days: int = 2                    # calendar days between awareness and the notification
    looked_after: bool = False
    unanswered_invitations: int = 0                 # reviewers invited in turn who never answer
    incident_type: str = "serious_harm"
    starts_at: datetime = datetime(2027, 1, 11, 9, 30, tzinfo=UTC)
    process: str | None = None                      # opened by the business unit as this process, not notified


PATHS: dict[str, PathSpec] = {p.name: p for p in [
    PathSpec("lcspr-full", "LCSPR, the full report published", "lcspr"),
    PathSpec("improvements-only", "LCSPR, the improvements published instead of the report, on a date moved "
             "so the Panel has them 7 working days before", "lcspr",
             {"decide_publication": _publication("improvements_only"),
              "plan_publication_date": lambda demo, v, n, day: {"planned_publication_date": day(3)}}),
    PathSpec("deferred-then-published", "LCSPR, publication deferred, reviewed after 3 months, then published",
             "lcspr", {"decide_publication": _publication("defer")}),
    PathSpec("lcspr-delay", "LCSPR that misses its 6 months: one delay notice, a new expected date that is "
             "missed too (reminded, then escalated), publication after it", "lcspr",
             {"assess_deadline": lambda demo, v, n, day: {"deadline_at_risk": True,
                                                           "progress_summary": "Awaiting the criminal trial"},
              "record_delay": lambda demo, v, n, day: {"delay_reasons": ["Awaiting the criminal trial"],
                                                       "parallel_proceedings": ["criminal"],
                                                       "expected_publication_date": day(45)},
              "plan_publication_date": lambda demo, v, n, day: {"planned_publication_date": day(40)}}),
    PathSpec("partners-refuse", "The police do not sign off the Rapid Review: back to the Case Review Group, "
             "then all three partners sign", "learning_dissemination",
             {"record_partners_decision": _police_first_refuses}),
    PathSpec("learning-dissemination", "Learning dissemination: a 7-minute briefing and the action plan",
             "learning_dissemination"),
    PathSpec("panel-agrees", "The National Panel agrees with the partners' decision", "learning_dissemination",
             {"record_panel_response": _response("agrees")}),
    PathSpec("panel-disagrees", "The Panel disagrees: the partners reconsider, sign off again and tell it",
             "learning_dissemination",
             {"record_panel_response": _response("disagrees", panel_reasons=["New learning is likely"])}),
    PathSpec("panel-asks-for-more", "The Panel asks for more information by a date, then agrees",
             "learning_dissemination",
             {"record_panel_response": _response("more_information",
                                                 information_requested=["The school's attendance records"],
                                                 information_due_on=lambda day: day(10))}),
    PathSpec("national-review", "The Panel takes a national review: the partnership supports it", "lcspr",
             {"record_panel_response": _response("national_review",
                                                 panel_reasons=["Themes of national importance"])}),
    PathSpec("agency-never-answers", "An agency never returns its scoping document: chased, escalated, and "
             "the Case Review Group proceeds without it", "learning_dissemination",
             silent=frozenset({"northbridge-education"})),
    PathSpec("agency-added", "The Case Review Group adds an agency at its meeting", "learning_dissemination",
             added_later=("northbridge-probation",)),
    PathSpec("late-notification", "The notification was sent after 5 working days: the reasons are recorded",
             "learning_dissemination", notified_after_days=12),
    PathSpec("looked-after-child", "A looked-after child died: the Secretary of State and Ofsted are notified",
             "learning_dissemination", looked_after=True, incident_type="death"),
    # issue 18: cases that were not notified, and reviews led elsewhere
    PathSpec("screened-local-review", "A case that was not notified, referred by an agency and screened: a local "
             "learning review on the partnership's own deadline (no Panel, no statutory clock)",
             "local_learning_review", process="case_screening"),
    PathSpec("screened-no-further-action", "A referral screened against the partnership's criteria: no further "
             "action, with the rationale recorded", "no_further_action", process="case_screening"),
    PathSpec("screened-single-agency-review", "A referral screened: a single-agency review that the agency "
             "carries out and reports back, the learning into the action plan", "single_agency_review",
             process="case_screening"),
    PathSpec("cross-boundary-review", "Another partnership leads a review: its request tracked to its due date "
             "(reminded, then chased, as the agency is slow), the final report received, the learning into the "
             "action plan", "cross_boundary", process="cross_boundary_review",
             silent=frozenset({"northbridge-education"}),
             answers={"record_lead_body_contact": lambda demo, v, n, day: {
                 "news": "information_request", "request_details": ["The education service's involvement"],
                 "request_due_on": day(8), "agencies_asked": ["northbridge-education"]} if n == 1 else {
                 "news": "final_report", "final_report_received_on": day(),
                 "final_report_id": demo._upload(demo._client, demo._task, "southmoor_report.md",
                                                 b"# Southmoor's review\nLearning across the boundary.\n",
                                                 "text/markdown", "final_report")}}),
    PathSpec("family-comments", "LCSPR with the family: invited and accept, meet the lead reviewer, comment on "
             "the draft findings (each answered) and are briefed before publication", "lcspr",
             {"invite_family": _family("accepted"), "share_findings_with_family": _family_comments}),
    PathSpec("family-unreachable", "LCSPR whose family cannot be contacted: each attempt logged, the child's "
             "voice from the records and practitioners", "lcspr", {"invite_family": _family("unable_to_contact")}),
    PathSpec("reviewer-declines", "The first reviewer invited declines: the next in the pool accepts and is "
             "commissioned on a fee and timescale; feedback on their work at the end", "lcspr",
             {"answer_invitation": _first_declines}),
    PathSpec("reviewer-silent", "The first reviewer invited never answers: after 5 local working days the next "
             "in the pool is invited, and accepts", "lcspr", unanswered_invitations=1),
]}
