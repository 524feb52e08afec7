"""The partnership's pathway, described for bpmn/drawing/layout.py: `python bpmn/drawing/pathway.py`
writes bpmn/*.bpmn. Reusable building blocks are processes of their own, run by call activities:
`agency_return` (one agency's return, chased), `national_panel_submission` (anything sent to the
National Panel, by API or through its portal), `panel_meeting`, `publication`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from layout import Diagram, mi  # noqa: E402

BU, CRG, SP = "Business unit", "Case Review Group", "Safeguarding partners"
AL, PANEL, ILR, LFP = "Agency leads", "LCSPR panel", "Independent Lead Reviewer", "Learning from Practice sub-group"
OUT = Path(__file__).resolve().parents[1]


def msg(ref: str) -> str:
    return f'<bpmn:messageEventDefinition id="{{id}}_message" messageRef="{ref}"/>'


def err(ref: str) -> str:
    return f'<bpmn:errorEventDefinition id="{{id}}_error" errorRef="{ref}"/>'


def submit_to_panel(d: Diagram, prefix: str, document: str, lane: str, col: float, row: int, what: str) -> tuple[str, str]:
    """A script naming what to send, then the national_panel_submission call activity."""
    d.script(f"{prefix}_prepare", f"Name what goes to the Panel: {what}", lane, col, row,
             script=f'panel_document = "{document}"',
             doc=f"Tells the submission step what to send: {document}.")
    d.call(f"{prefix}_submit", f"Send to the National Panel: {what}", lane, col + 1, row,
           called="national_panel_submission",
           doc=f"Runs national_panel_submission for the {document}: sent by API with a receipt, or submitted by "
               "the business unit through the Panel's portal; a refusal comes back to be corrected and resent.")
    d.flow(f"{prefix}_prepare", f"{prefix}_submit")
    return f"{prefix}_prepare", f"{prefix}_submit"


def partners_sign_off_doc(what: str) -> str:
    return (f"The three safeguarding partners (Children Act 2004 s16E: the local authority, the integrated care "
            f"board and the chief officer of police) decide {what}: one sign-off from each, no more, no fewer. "
            "The Case Review Group only recommends.")


# ------------------------------------------------------------------------------------------------
def rapid_review() -> Diagram:
    d = Diagram("rapid_review", "Notification and Rapid Review",
                "The partnership's response to a serious incident notification (SIN): the local authority notifies "
                "the National Panel within 5 working days of becoming aware (Children Act 2004 s16C); the Rapid "
                "Review goes to the Panel within 15 working days of the notification; the Panel responds; the "
                "three safeguarding partners decide between a Local Child Safeguarding Practice Review (LCSPR) "
                "and learning dissemination (Working Together to Safeguard Children 2023, chapter 5).",
                [BU, CRG, SP])
    d.message("serious_incident_notification")
    d.add("start", "start_sin_received", "Serious incident notification received", BU, 0, 0,
          "Started by the serious_incident_notification message.",
          inner=msg("message_serious_incident_notification"))
    d.add("start", "start_by_business_unit", "Business unit opens a case", BU, 0, 1,
          "Started by hand by the business unit (the usual route).")
    d.user("record_sin", "Record the serious incident notification", BU, 1, 0, group="business-unit",
           form="record_serious_incident_notification",
           doc="Children Act 2004 s16C: the local authority notifies the National Panel within 5 working days of "
               "becoming aware. Record when it became aware (became_aware_on) and when it notified (sin_sent_on: "
               "the Rapid Review's 15 working days run from it), whether the child was looked after, every "
               "involved agency and every name that must never be published.")
    d.flow("start_sin_received", "record_sin")
    d.flow("start_by_business_unit", "record_sin")
    d.add("xor", "notification_late_gateway", "Notified after 5 working days?", BU, 2, 0)
    d.user("explain_late_notification", "Record why the notification was late", BU, 3, 1, group="business-unit",
           form="explain_late_notification",
           doc="The notification was sent after the 5th working day from the local authority becoming aware "
               "(weekends and bank holidays skipped; closure days count). Record the reasons: they go with the "
               "Rapid Review and the partnership's yearly report.",
           reads="case_reference, became_aware_on, sin_sent_on")
    d.add("xor", "notification_checked", "Timeliness recorded", BU, 4, 0)
    d.flow("record_sin", "notification_late_gateway")
    d.flow("notification_late_gateway", "explain_late_notification", "Yes: late",
           "sin_sent_on > working_days_after(became_aware_on, 5)[:10]")
    d.flow("notification_late_gateway", "notification_checked", "No: on time", default=True)
    d.flow("explain_late_notification", "notification_checked")
    d.add("xor", "looked_after_gateway", "Death of a looked-after child?", BU, 5, 0)
    d.service("notify_secretary_of_state_and_ofsted", "Notify the Secretary of State and Ofsted", BU, 6, 1,
              topic="notification", kind="statutory_notice", about="looked_after_child_death",
              doc="The death of a looked-after child is notified to the Secretary of State (DfE) and Ofsted as "
                  "well, whether or not abuse or neglect is known or suspected (Working Together 2023, ch. 5). "
                  "Expects: case_reference, sin_sent_on, became_aware_on. Returns: nothing the process relies on.")
    d.add("xor", "looked_after_checked", "Notifications made", BU, 7, 0)
    d.flow("notification_checked", "looked_after_gateway")
    d.flow("looked_after_gateway", "notify_secretary_of_state_and_ofsted", "Yes",
           'child_looked_after == True and incident_type == "death"')
    d.flow("looked_after_gateway", "looked_after_checked", "No", default=True)
    d.flow("notify_secretary_of_state_and_ofsted", "looked_after_checked")
    d.call("call_rapid_review_work", "Carry out the Rapid Review and send it", BU, 8, 0, called="rapid_review_work",
           doc="Runs rapid_review_work: the agencies' scoping documents, the Case Review Group's meeting and "
               "recommendation, the partners' decision and sign-off, and the submission to the National Panel. "
               "The statutory clock stops when the submission is recorded.")
    d.flow("looked_after_checked", "call_rapid_review_work")
    for i, (bid, name, n, kind, about) in enumerate([
            ("rapid_review_due_soon", "5 working days left (working day 10)", 10, "reminder", "rapid_review"),
            ("rapid_review_due_today", "Due today (working day 15)", 15, "reminder", "rapid_review")]):
        d.boundary(bid, name, "call_rapid_review_work", slot=i,
                   definition=d.timer("timeDate", f"working_days_after(sin_sent_on, {n})"))
        d.service(f"remind_{bid}", f"Remind: {name.split(' (')[0].lower()}", BU, 8 + i, 5 + i, topic="notification",
                  kind=kind, about=about, doc="Reminds the Case Review Group chair and the business unit. Expects: "
                  "case_reference, sin_sent_on. Returns: nothing the process relies on.")
        d.add("end", f"reminded_{bid}", "Reminder sent", BU, 9 + i, 5 + i)
        d.flow(bid, f"remind_{bid}")
        d.flow(f"remind_{bid}", f"reminded_{bid}")
    d.boundary("rapid_review_overdue", "Overdue (15 working days passed)", "call_rapid_review_work", slot=2,
               definition=d.timer("timeDate", "working_days_after(sin_sent_on, 16)"))
    d.service("escalate_rapid_review_overdue", "Escalate the overdue Rapid Review", BU, 9, 7, topic="notification",
              kind="escalation", about="rapid_review",
              doc="The 15 working days have passed and the Rapid Review has not been submitted: tells the "
                  "safeguarding partners and the partnership chair. Expects: case_reference, sin_sent_on. Returns: "
                  "nothing the process relies on.")
    d.user("explain_late_rapid_review", "Record why the Rapid Review is late", BU, 10, 7, group="business-unit",
           form="explain_late_rapid_review", reads="case_reference, sin_sent_on",
           doc="A late Rapid Review tells the National Panel why, and when it will arrive.")
    submit_to_panel(d, "late_rapid_review", "rapid_review_delay", BU, 11, 7, "why the Rapid Review is late")
    d.add("end", "panel_told_of_lateness", "Panel told why", BU, 13, 7)
    d.flow("rapid_review_overdue", "escalate_rapid_review_overdue")
    d.chain("escalate_rapid_review_overdue", "explain_late_rapid_review", "late_rapid_review_prepare")
    d.flow("late_rapid_review_submit", "panel_told_of_lateness")
    # the Panel's response
    d.add("xor", "response_merge", "Await the Panel's response", BU, 9, 0)
    d.user("record_panel_response", "Record the National Panel's response", BU, 10, 0, group="business-unit",
           form="record_panel_response", reads="case_reference, decision, rapid_review_submission",
           doc="The Panel agrees, disagrees (with its reasons), asks for more information (what and by when), "
               "or will carry out a national review. There is no statutory timescale; the Panel usually answers "
               "within about 10 working days.")
    d.boundary("panel_response_overdue", "No response for 2 weeks", "record_panel_response", slot=0,
               definition=d.timer("timeCycle", "R/P14D"))
    d.service("chase_panel_response", "Chase the National Panel for its response", BU, 10, 2, topic="notification",
              kind="chase", about="national_panel_response",
              doc="Tells the business unit to chase the Panel; every two weeks until the response is recorded. "
                  "Expects: case_reference. Returns: nothing the process relies on.")
    d.add("end", "panel_chased", "Panel chased", BU, 11, 2)
    d.flow("call_rapid_review_work", "response_merge")
    d.flow("response_merge", "record_panel_response")
    d.flow("panel_response_overdue", "chase_panel_response")
    d.flow("chase_panel_response", "panel_chased")
    d.add("xor", "panel_outcome_gateway", "What does the Panel say?", BU, 11, 0)
    d.flow("record_panel_response", "panel_outcome_gateway")
    # disagrees
    d.user("reconsider_recommendation", "Reconsider the recommendation in the light of the Panel's reasons", CRG,
           12, 0, group="case-review-group", form="reconsider_recommendation",
           reads="case_reference, decision, recommendation, recommendation_reasons, panel_reasons",
           doc="The Panel disagrees with the partners' decision. The Case Review Group considers each of its "
               "reasons and recommends again; the partners then decide and sign off again.")
    d.user("record_partners_redecision", "Decide again and sign off", SP, 13, 0, group="safeguarding-partners",
           form="record_partners_decision",
           reads="case_reference, recommendation, recommendation_reasons, panel_reasons, decision",
           doc=partners_sign_off_doc("again, after the Panel disagreed"))
    submit_to_panel(d, "final_decision", "final_decision", BU, 14, 1, "the partners' final decision")
    d.flow("panel_outcome_gateway", "reconsider_recommendation", "Disagrees", 'panel_outcome == "disagrees"')
    d.chain("reconsider_recommendation", "record_partners_redecision", "final_decision_prepare")
    # more information
    d.user("provide_further_information", "Provide the information the Panel asked for", BU, 12, 3,
           group="business-unit", form="provide_further_information",
           reads="case_reference, information_requested, information_due_on",
           doc="Answer each of the Panel's questions by the date it gave; the answers are sent to the Panel, and "
               "the case waits for its response again.")
    d.boundary("further_information_due", "Information due", "provide_further_information", slot=0,
               definition=d.timer("timeDate", "working_days_after(information_due_on, 0)"))
    d.service("remind_further_information", "Remind: the Panel's information is due today", BU, 12, 5,
              topic="notification", kind="reminder", about="further_information",
              doc="Reminds the business unit on the date the Panel gave. Expects: case_reference, "
                  "information_due_on. Returns: nothing the process relies on.")
    d.add("end", "reminded_further_information", "Reminder sent", BU, 13, 5)
    submit_to_panel(d, "further_information", "further_information", BU, 13, 3, "the further information")
    d.flow("panel_outcome_gateway", "provide_further_information", "Asks for more information",
           'panel_outcome == "more_information"')
    d.flow("provide_further_information", "further_information_prepare")
    d.flow("further_information_due", "remind_further_information")
    d.flow("remind_further_information", "reminded_further_information")
    d.flow("further_information_submit", "response_merge")
    # national review
    d.user("support_national_review", "Record who leads the national review, and the contact", BU, 12, 4,
           group="business-unit", form="record_review_lead", reads="case_reference, panel_reasons",
           doc="The National Panel will carry out a national review (Children Act 2004 s16B): the partnership "
               "supports it and carries out no LCSPR of its own. Record the Panel as the body leading it, and the "
               "national reviewer who is the partnership's contact; the support itself is review_led_elsewhere.")
    d.script("record_national_review_route", "Record the national review as the case's route", BU, 13, 4,
             script='partners_decision = decision\ndecision = "national_review"',
             doc="The case takes the national review's route, not the partners' own: decision becomes "
                 "national_review (the partners' decision is kept in partners_decision), so no LCSPR clock or "
                 "milestone applies to it.")
    d.call("call_national_review_support", "Support the national review", BU, 14, 4, called="review_led_elsewhere",
           doc="Runs review_led_elsewhere: each of the Panel's information requests with its due date (chased), "
               "the agencies' returns gathered for it, the final report received, and the learning into the "
               "partnership's own action plan.")
    d.add("end", "end_after_national_review", "National review supported and action plan closed", BU, 15, 4)
    d.flow("panel_outcome_gateway", "support_national_review", "National review", 'panel_outcome == "national_review"')
    d.chain("support_national_review", "record_national_review_route", "call_national_review_support",
            "end_after_national_review")
    # route
    d.add("xor", "route_merge", "Decision stands", CRG, 16, 0)
    d.flow("panel_outcome_gateway", "route_merge", "Agrees", default=True)
    d.flow("final_decision_submit", "route_merge")
    d.add("xor", "route_gateway", "Which route?", CRG, 17, 0)
    d.flow("route_merge", "route_gateway")
    d.call("call_lcspr", "Carry out the LCSPR", CRG, 18, 0, called="lcspr", doc="Runs the LCSPR process (lcspr).")
    d.call("call_learning_dissemination", "Disseminate the learning", CRG, 18, 1, called="learning_dissemination",
           doc="Runs learning_dissemination.")
    d.add("end", "end_after_lcspr", "LCSPR done and action plan closed", CRG, 19, 0)
    d.add("end", "end_after_learning", "Learning shared and action plan closed", CRG, 19, 1)
    d.flow("route_gateway", "call_lcspr", "LCSPR", 'decision == "lcspr"')
    d.flow("route_gateway", "call_learning_dissemination", "Learning dissemination", default=True)
    d.flow("call_lcspr", "end_after_lcspr")
    d.flow("call_learning_dissemination", "end_after_learning")
    return d


def rapid_review_work() -> Diagram:
    d = Diagram("rapid_review_work", "Rapid Review",
                "The work of the Rapid Review, due at the National Panel within 15 working days of the "
                "notification: every involved agency's Initial Scoping document (chased, and the Case Review "
                "Group may proceed without one), the Case Review Group's meeting and recommendation, the three "
                "partners' decision and sign-off, and the submission.", [BU, CRG, SP])
    d.add("start", "rapid_review_started", "Rapid Review started", BU, 0)
    d.script("prepare_agency_requests", "Prepare a request for each agency", BU, 1,
             script='agencies_by_name = {name: name for name in agencies}\nreturn_kind = "initial_scoping"\n'
                    'earlier_scoping_documents = {}',
             doc="One return per agency, kept under the agency's name in scoping_documents.")
    d.add("xor", "gather_merge", "Gather (again for added agencies)", BU, 2)
    d.call("gather_scoping_documents", "Each agency's Initial Scoping document", BU, 3, called="agency_return",
           inner=mi("agencies_by_name", "scoping_documents", "agency", "agency_return"),
           doc="One agency_return per agency, all at once: the request, the agency lead's return, chases every "
               "5 working days (then to the agency's senior lead), and the Case Review Group's choice to "
               "proceed without an agency, with its reasons.")
    d.script("keep_scoping_documents", "Keep the returns", BU, 4,
             script="scoping_documents = {**earlier_scoping_documents, **scoping_documents}",
             doc="Returns gathered earlier are kept beside those of agencies added later.")
    d.add("xor", "meeting_merge", "Meeting needed", CRG, 5)
    d.user("hold_rapid_review_meeting", "Hold the Rapid Review meeting", CRG, 6, group="case-review-group",
           form="hold_rapid_review_meeting", reads="case_reference, incident_type, sin_sent_on, agencies, "
           "scoping_documents, sign_offs",
           doc="The Case Review Group considers the scoping documents: the facts, immediate safety actions, the "
               "learning, context including racism and inequalities; it recommends an LCSPR or learning "
               "dissemination (reg 11 criteria). It may add agencies found to be involved (each is asked for its "
               "scoping document before the group meets again), or remove one, recording why. When a partner did "
               "not sign off, the group meets again with the partners' comments (sign_offs).")
    d.add("xor", "agencies_added_gateway", "Agencies added?", CRG, 7)
    d.script("prepare_added_agencies", "Prepare requests for the added agencies", CRG, 7, 1,
             script='earlier_scoping_documents = scoping_documents\n'
                    'agencies_by_name = {name: name for name in agencies_to_add}\n'
                    'agencies = agencies + [a for a in agencies_to_add if a not in agencies]\nagencies_to_add = []',
             doc="The agencies the group added join the case; their returns are gathered as the others were.")
    d.user("record_partners_decision", "Decide and sign off the Rapid Review", SP, 8, group="safeguarding-partners",
           form="record_partners_decision",
           reads="case_reference, recommendation, recommendation_reasons, rapid_review_report_id, "
                 "learning_identified, immediate_safety_actions",
           doc=partners_sign_off_doc("whether to hold an LCSPR and sign off the Rapid Review report; the date they "
                                     "decide is the decision date that starts an LCSPR's 6 months"))
    d.add("xor", "signed_off_gateway", "All three partners agree?", SP, 9)
    submit_to_panel(d, "rapid_review", "rapid_review", BU, 10, 0, "the Rapid Review")
    d.script("keep_rapid_review_submission", "Keep the submission", BU, 12,
             script='rapid_review_submission = panel_submission\n'
                    'rapid_review_sent_on = panel_submission["submitted_on"]',
             doc="rapid_review_submission: how and when the Rapid Review reached the Panel; rapid_review_sent_on: "
                 "the date it did (by API: the day it was sent; through the portal: the date the business unit "
                 "recorded), which stops the 15 working days (bpmn/milestones.toml).")
    d.add("end", "rapid_review_sent", "Rapid Review submitted", BU, 13)
    d.chain("rapid_review_started", "prepare_agency_requests", "gather_merge", "gather_scoping_documents",
            "keep_scoping_documents", "meeting_merge", "hold_rapid_review_meeting", "agencies_added_gateway")
    d.flow("agencies_added_gateway", "prepare_added_agencies", "Yes", "len(agencies_to_add) > 0")
    d.flow("prepare_added_agencies", "gather_merge")
    d.flow("agencies_added_gateway", "record_partners_decision", "No", default=True)
    d.flow("record_partners_decision", "signed_off_gateway")
    d.flow("signed_off_gateway", "rapid_review_prepare", "Yes",
           'sign_offs["local_authority"]["agrees"] and sign_offs["integrated_care_board"]["agrees"] '
           'and sign_offs["police"]["agrees"]')
    d.flow("signed_off_gateway", "meeting_merge", "No: back to the group", default=True)
    d.chain("rapid_review_submit", "keep_rapid_review_submission", "rapid_review_sent")
    return d


def agency_return() -> Diagram:
    d = Diagram("agency_return", "One agency's return",
                "One involved agency's return (return_kind: initial_scoping for the Rapid Review, "
                "imr_and_chronology for an LCSPR), requested under Children Act 2004 s16H. The agency lead "
                "submits it; until then it is chased every 5 of the partnership's working days, from the third "
                "chase on to the agency's senior lead, and after two chases the Case Review Group may proceed "
                "without it, recording why. Output: agency_return.", [BU, AL, CRG])
    d.error("CHRONOLOGY_UNREADABLE", "Chronology cannot be read")
    d.add("start", "return_requested", "Return needed", BU, 0)
    d.service("request_return", "Ask the agency for its return", BU, 1, topic="information-request",
              document="from_case",
              doc="Emails the agency's lead the request (s16H), what is needed, by when and a link to the task. "
                  "Expects: case_reference, agency, return_kind, sin_sent_on (initial_scoping). Returns: "
                  "requests_sent, return_due_on.")
    d.script("start_the_chase_clock", "Start the chase clock", BU, 2,
             script="chases_sent = 0\nchase_from = today()", doc="Chases count from today.")
    d.add("and", "wait_split", "Wait for the return, chasing", BU, 3)
    d.add("xor", "kind_gateway", "Which return?", AL, 4)
    d.user("submit_scoping_document", "Submit the Initial Scoping document", AL, 5, 0, group="agency-leads",
           form="submit_initial_scoping_document", reads="case_reference, sin_sent_on, return_due_on",
           doc="The agency's involvement with the child and family, key contacts, a brief analysis and any "
               "immediate safety concerns. Only this agency's leads see this task.")
    d.user("submit_imr", "Submit the IMR and chronology", AL, 5, 1, group="agency-leads",
           form="submit_imr_and_chronology",
           reads="case_reference, key_lines_of_enquiry, review_period_start, review_period_end, return_due_on",
           doc="The agency's Information Management Report, by an author independent of the case and signed off "
               "by a senior manager, and its chronology (Excel, a table in Word, or CSV).")
    d.add("xor", "chronology_read_again", "Read the chronology (again after a resubmission)", AL, 6, 1)
    d.service("check_chronology", "Read the chronology", AL, 7, 1, topic="chronology-merge", step="check",
              doc="Reads the agency's chronology; fails with CHRONOLOGY_UNREADABLE and chronology_problem naming "
                  "the sheet or table, row and column. Expects: agency, imr, corrected_chronology_document_id. "
                  "Returns: imr, chronology_entries, chronology_problem.")
    d.boundary("chronology_unreadable", "Chronology cannot be read", "check_chronology", cancel=True,
               definition=err("error_chronology_unreadable"))
    d.user("resubmit_chronology", "Correct and resubmit the chronology", AL, 7, 2, group="agency-leads",
           form="resubmit_chronology", reads="case_reference, chronology_problem, imr",
           doc="chronology_problem says what could not be read. Upload the corrected file; the IMR is kept.")
    d.script("keep_scoping_document", "Keep the scoping document", AL, 8, 0,
             script='agency_return = {"agency": agency, "status": "received", "received_on": today(), '
                    '"scoping_document": scoping_document, "chases_sent": chases_sent}',
             doc="The agency's return as the Rapid Review reads it.")
    d.script("keep_imr", "Keep the IMR", AL, 8, 1,
             script='agency_return = {"agency": agency, "status": "received", "received_on": today(), '
                    '"imr": imr, "chases_sent": chases_sent}\nimr_of_agency = imr',
             doc="The agency's IMR and chronology as the review reads them.")
    d.add("terminate", "return_received", "Return received", AL, 9, 0,
          "Ends this agency's return: the chasing stops.")
    d.flow("return_requested", "request_return")
    d.chain("request_return", "start_the_chase_clock", "wait_split", "kind_gateway")
    d.flow("kind_gateway", "submit_imr", "IMR and chronology", 'return_kind == "imr_and_chronology"')
    d.flow("kind_gateway", "submit_scoping_document", "Initial scoping", default=True)
    d.chain("submit_scoping_document", "keep_scoping_document", "return_received")
    d.chain("submit_imr", "chronology_read_again", "check_chronology", "keep_imr", "return_received")
    d.chain("chronology_unreadable", "resubmit_chronology", "chronology_read_again")
    # the chase loop
    d.add("xor", "chase_merge", "Next chase", BU, 4, 3)
    d.add("timer_catch", "chase_due", "5 working days without the return", BU, 5, 3,
          inner=d.timer("timeDate", "local_working_days_after(chase_from, 5)"))
    d.service("chase_return", "Chase the agency", BU, 6, 3, topic="notification", kind="chase",
              about="agency_return",
              doc="The first two chases go to the agency's lead, later ones to its senior lead. Expects: "
                  "case_reference, agency, return_kind, chases_sent. Returns: notifications_sent.")
    d.script("count_chase", "Count the chase", BU, 7, 3, script="chases_sent = chases_sent + 1\nchase_from = today()",
             doc="One more chase sent.")
    d.add("xor", "two_chases_gateway", "Chased twice or more?", BU, 8, 3)
    d.user("decide_missing_return", "Decide whether to proceed without the agency", CRG, 9, 0,
           group="case-review-group", form="decide_missing_return",
           reads="case_reference, agency, return_kind, chases_sent, return_due_on",
           doc="The agency has not returned after being chased twice. Proceed without it, recording why, or keep "
               "waiting (the chases go on, to its senior lead).")
    d.add("xor", "proceed_gateway", "Proceed without it?", CRG, 10, 0)
    d.script("record_proceeding_without", "Record proceeding without the return", CRG, 11, 0,
             script='agency_return = {"agency": agency, "status": "proceeded_without", "reason": '
                    'proceed_without_reason, "decided_on": today(), "chases_sent": chases_sent}',
             doc="The agency's return is recorded as not received, with the group's reasons.")
    d.add("terminate", "proceeded_without", "Proceeding without the agency", CRG, 12, 0,
          "Ends this agency's return: the open task is withdrawn and the chasing stops.")
    d.chain("wait_split", "chase_merge", "chase_due", "chase_return", "count_chase", "two_chases_gateway")
    d.flow("two_chases_gateway", "decide_missing_return", "Yes", "chases_sent >= 2")
    d.flow("two_chases_gateway", "chase_merge", "No: chase again", default=True)
    d.flow("decide_missing_return", "proceed_gateway")
    d.flow("proceed_gateway", "record_proceeding_without", "Yes", "proceed_without == True")
    d.flow("proceed_gateway", "chase_merge", "No: keep waiting", default=True)
    d.flow("record_proceeding_without", "proceeded_without")
    return d


def national_panel_submission() -> Diagram:
    d = Diagram("national_panel_submission", "Send to the National Panel",
                "Anything the partnership sends to the Child Safeguarding Practice Review Panel (panel_document "
                "says what). With the Panel's endpoint configured it is sent with an idempotency key and the "
                "receipt is kept; without one (the usual case: the Panel takes submissions through its portal) "
                "the business unit submits it and records the date and reference — a clock waiting on the "
                "submission stops only then. A refusal comes back to the business unit to correct and resend. "
                "Output: panel_submission.", [BU])
    d.error("PANEL_REFUSED", "The National Panel refused the submission")
    d.add("start", "submission_needed", "Something to send to the Panel", BU, 0)
    d.add("xor", "send_merge", "Send (again after a correction)", BU, 1)
    d.service("send_to_panel", "Send to the National Panel", BU, 2, topic="national-panel-submission",
              priority=80, document="from_case",
              doc="Builds the submission from the case (references, dates, decisions and reasons, document ids; no "
                  "names) and sends it. Fails with PANEL_REFUSED, and panel_refusal saying why, when the Panel "
                  "refuses it. Expects: case_reference, panel_document and what that document needs. Returns: "
                  "panel_submission (document, via api or portal, receipt_id, received_at, submitted_on).")
    d.boundary("panel_refused", "Refused by the Panel", "send_to_panel", cancel=True,
               definition=err("error_panel_refused"))
    d.user("correct_submission", "Correct the submission the Panel refused", BU, 2, 1, group="business-unit",
           form="correct_panel_submission", reads="case_reference, panel_document, panel_refusal",
           doc="The Panel refused the submission (panel_refusal says why). Correct what it names, then send it "
               "again.")
    d.add("xor", "via_gateway", "Sent, or to be submitted through the portal?", BU, 3)
    d.user("submit_through_portal", "Submit through the Panel's portal and record it", BU, 4, 1,
           group="business-unit", form="record_portal_submission",
           reads="case_reference, panel_document, panel_submission",
           doc="No Panel endpoint is configured: the submission is prepared (panel_submission says where), but "
               "nothing has reached the Panel. Submit it through the Panel's portal, then record the date and "
               "the Panel's reference. A clock waiting on this submission stops on the date recorded.")
    d.script("record_portal_reference", "Keep the portal submission", BU, 5, 1,
             script='panel_submission = {**panel_submission, "via": "portal", "submitted_on": portal_submitted_on, '
                    '"receipt_id": portal_reference}',
             doc="The portal's date and reference become the submission's.")
    d.add("xor", "submitted_merge", "Submitted", BU, 6)
    d.add("end", "submitted", "Submitted to the Panel", BU, 7)
    d.chain("submission_needed", "send_merge", "send_to_panel", "via_gateway")
    d.chain("panel_refused", "correct_submission")
    d.flow("correct_submission", "send_merge")
    d.flow("via_gateway", "submit_through_portal", "Through the portal", 'panel_submission["via"] == "portal"')
    d.flow("via_gateway", "submitted_merge", "Sent by API", default=True)
    d.chain("submit_through_portal", "record_portal_reference", "submitted_merge", "submitted")
    return d


def lcspr() -> Diagram:
    d = Diagram("lcspr", "Local Child Safeguarding Practice Review",
                "A Local Child Safeguarding Practice Review (Children Act 2004 s16F; Child Safeguarding Practice "
                "Review and Relevant Agency (England) Regulations 2018, regs 11-16): the review on its 6-month "
                "clock up to publication, then the action plan beside the 12-month check that the report stays "
                "on the website.", [BU, LFP])
    d.add("start", "lcspr_decided", "Decision to hold an LCSPR", BU, 0)
    d.call("call_lcspr_review", "Carry out and publish the review", BU, 1, called="lcspr_review",
           doc="Runs lcspr_review: panel, terms of reference, reviewer, IMRs, drafting, approval and publication, "
               "with its reminders at months 3, 4 and 5 and the escalation at month 6.")
    d.add("and", "after_publication_split", "Published", BU, 2)
    d.call("call_action_plan", "Run the action plan", LFP, 3, 0, called="action_plan",
           doc="Runs action_plan with the review's learning.")
    d.add("timer_catch", "publication_year_passed", "12 months since publication", BU, 3, 1,
          inner=d.timer("timeDate", "calendar_months_after(published_on, 12)"))
    d.user("review_publication", "Decide whether the report stays on the website", BU, 4, 1, group="business-unit",
           form="review_publication", reads="case_reference, published_url, published_on",
           doc="The report has been available for a year, the least guidance expects. Decide whether it stays on "
               "the website, and why.")
    d.user("record_reviewer_feedback", "Record feedback on the reviewer's work", BU, 3, 2, group="business-unit",
           form="record_reviewer_feedback", reads="case_reference, lead_reviewer, published_on, final_report_due_on",
           doc="At the end of the review the business unit records how the lead reviewer's work went, for the pool.")
    d.add("and", "after_publication_join", "Action plan closed, publication reviewed, feedback recorded", BU, 5)
    d.add("end", "lcspr_complete", "LCSPR complete", BU, 6)
    d.chain("lcspr_decided", "call_lcspr_review", "after_publication_split", "call_action_plan",
            "after_publication_join", "lcspr_complete")
    d.chain("after_publication_split", "publication_year_passed", "review_publication", "after_publication_join")
    d.chain("after_publication_split", "record_reviewer_feedback", "after_publication_join")
    return d


def lcspr_review() -> Diagram:
    d = Diagram("lcspr_review", "LCSPR: the review to publication",
                "The review from forming the panel to publication, on the 6-month clock from the decision "
                "(decision_date): panel meetings as their own series, IMRs from every agency, and drafting as soon "
                "as the IMRs are in; reminders at months 3 and 4, a check at month 5 that sends one delay notice "
                "with a new expected date (which then has its own reminder and escalation), escalation at month "
                "6. Publication ends the clock.", [BU, PANEL, ILR, SP])
    d.add("start", "review_started", "Review started", BU, 0)
    d.add("and", "clock_split", "Work and the clock", BU, 1)
    d.service("form_panel", "Form the LCSPR panel and schedule its meetings", BU, 2, topic="panel-formation",
              doc="Invites senior managers not involved in the case and schedules 3-4 meetings on working days. "
                  "Expects: case_reference, agencies, decision_date. Returns: panel_members, panel_meetings.")
    d.user("agree_terms_of_reference", "Agree the terms of reference", PANEL, 3, group="lcspr-panel",
           form="agree_key_lines_of_enquiry", reads="case_reference, agencies, decision, decision_date, "
           "learning_identified, recommendation_reasons",
           doc="Terms of reference as data: scope, the period under review, methodology, 3-4 key lines of "
               "enquiry, the agencies asked for IMRs (add or remove one, recording why), family involvement, "
               "parallel proceedings, and whether a reflective practitioner discussion is appropriate.")
    d.call("commission_reviewer", "Commission the Independent Lead Reviewer", BU, 4,
           called="reviewer_commissioning",
           doc="Runs reviewer_commissioning: invites reviewers from the pool in turn until one accepts without a "
               "conflict, agrees the fee and timescale, and commissions them (reg 12). Returns: lead_reviewer "
               "(id, name, email, user), commissioning_letter_id, terms_of_reference_document_id, "
               "contract_document_id.")
    d.add("and", "work_split", "Meetings, and the evidence", BU, 5)
    d.call("hold_panel_meetings", "Hold the panel meetings", PANEL, 6, 0, called="panel_meeting",
           inner=mi("panel_meetings", "panel_meeting_records", "panel_meeting", "panel_meeting_record",
                    sequential=True),
           doc="One panel_meeting per scheduled date, in turn, beside the rest of the work.")
    d.script("prepare_imr_requests", "Prepare a request for each agency", BU, 6, 1,
             script='agencies_by_name = {name: name for name in agencies}\nreturn_kind = "imr_and_chronology"',
             doc="The agencies in the terms of reference.")
    d.call("gather_imrs", "Each agency's IMR and chronology", BU, 7, 1, called="agency_return",
           inner=mi("agencies_by_name", "imrs", "agency", "agency_return"),
           doc="One agency_return per agency: the request, the IMR and its chronology (read at once; an "
               "unreadable one goes back to the agency), chases and the choice to proceed without.")
    d.service("merge_chronologies", "Merge the agencies' chronologies", BU, 8, 1, topic="chronology-merge",
              step="merge",
              doc="Merges the received chronologies into one multi-agency chronology (Excel, CSV, HTML). Expects: "
                  "case_reference, imrs. Returns: integrated_chronology_id, integrated_chronology_csv_id, "
                  "integrated_chronology_html_id.")
    d.add("xor", "practitioner_gateway", "Practitioner discussion appropriate?", BU, 9, 1)
    d.service("invite_practitioners", "Invite practitioners to the reflective discussion", BU, 10, 2,
              topic="notification", kind="invitation", about="practitioner_discussion",
              doc="Invites the practitioners through their agencies' leads. Expects: case_reference, agencies, "
                  "lead_reviewer. Returns: nothing the process relies on.")
    d.user("record_practitioner_discussion", "Hold the reflective practitioner discussion and record it", ILR, 11,
           0, users="${lead_reviewer.user}", form="record_practitioner_discussion",
           reads="case_reference, terms_of_reference, key_lines_of_enquiry",
           doc="The commissioned lead reviewer leads the discussion; its notes feed the report.")
    d.add("xor", "practitioner_merge", "Discussion held or not needed", BU, 12, 1)
    d.add("xor", "draft_merge", "Draft or redraft", ILR, 13, 0)
    d.user("write_draft_report", "Write the draft report", ILR, 14, 0, users="${lead_reviewer.user}",
           form="write_draft_report",
           reads="case_reference, terms_of_reference, key_lines_of_enquiry, imrs, integrated_chronology_id, "
                 "practitioner_discussion, draft_report_id, qa_amendments",
           doc="The commissioned lead reviewer writes (or revises) the report, as soon as the IMRs are in: "
               "findings against the key lines of enquiry and the improvements needed, anonymised.")
    d.user("quality_assure_draft", "Quality-assure the draft report", PANEL, 15, 0, group="lcspr-panel",
           form="quality_assure_draft_report",
           reads="case_reference, terms_of_reference, key_lines_of_enquiry, draft_report_id, draft_version",
           doc="The panel checks the draft against the terms of reference and lists amendments (reg 14).")
    d.add("xor", "amendments_gateway", "Amendments needed?", PANEL, 16, 0)
    d.add("and", "work_join", "Meetings held, report agreed, the child's voice heard", BU, 17, 0)
    family_involvement(d)
    d.user("approve_final_report", "Approve the final report", SP, 20, 0, group="safeguarding-partners",
           form="approve_final_report", reads="case_reference, draft_report_id, draft_version",
           doc=partners_sign_off_doc("to approve the final report"))
    d.call("call_publication", "Publish", BU, 24, 0, called="publication",
           doc="Runs publication: what to publish (full report, improvements, or deferral), the anonymisation "
               "and legal check, the copy to the Panel and the Secretary of State 7 working days before, "
               "publication, and the link to the Panel.")
    d.add("terminate", "review_published", "Published: the 6-month clock stops", BU, 25, 0,
          "Ends the review; the reminders and escalations still waiting are withdrawn.")
    d.chain("review_started", "clock_split", "form_panel", "agree_terms_of_reference", "commission_reviewer",
            "work_split", "hold_panel_meetings", "work_join")
    d.chain("work_split", "prepare_imr_requests", "gather_imrs", "merge_chronologies", "practitioner_gateway")
    d.chain("work_split", "invite_family", "family_gateway")
    d.flow("practitioner_gateway", "invite_practitioners", "Yes", "practitioner_discussion_appropriate == True")
    d.flow("practitioner_gateway", "practitioner_merge", "No", default=True)
    d.chain("invite_practitioners", "record_practitioner_discussion", "practitioner_merge", "draft_merge",
            "write_draft_report", "quality_assure_draft", "amendments_gateway")
    d.flow("amendments_gateway", "draft_merge", "Yes", "amendments_needed == True")
    d.flow("amendments_gateway", "work_join", "No: agreed", default=True)
    d.chain("work_join", "findings_gateway")
    d.chain("findings_merge", "approve_final_report", "briefing_gateway")
    d.chain("briefing_merge", "call_publication", "review_published")
    # the clock
    for i, m in enumerate((3, 4)):
        d.add("timer_catch", f"month_{m}_reached", f"{m} months since the decision", BU, 2 + 2 * i, 3,
              inner=d.timer("timeDate", f"calendar_months_after(decision_date, {m})"))
        d.service(f"remind_month_{m}", f"Remind: {6 - m} months left", BU, 3 + 2 * i, 3, topic="notification",
                  kind="reminder", about="lcspr_deadline",
                  doc="Reminds the panel chair, the reviewer and the business unit how long is left (reg 14). "
                      "Expects: case_reference, decision_date, lead_reviewer. Returns: nothing the process relies on.")
    d.add("timer_catch", "month_5_reached", "5 months since the decision", BU, 6, 3,
          inner=d.timer("timeDate", "calendar_months_after(decision_date, 5)"))
    d.user("assess_deadline", "Check progress against the 6 months", BU, 7, 3, group="business-unit",
           form="assess_lcspr_deadline", reads="case_reference, decision_date",
           doc="One month before the deadline: will the review miss it (reg 14 monitoring)?")
    d.add("xor", "deadline_gateway", "Will the 6 months be missed?", BU, 8, 3)
    d.user("record_delay", "Record the delay reasons and the new expected date", BU, 9, 4, group="business-unit",
           form="record_lcspr_delay", reads="case_reference, decision_date",
           doc="The National Panel and the Department for Education are told once, with the reasons and the new "
               "expected date; that date then has its own reminder and escalation.")
    submit_to_panel(d, "delay_notice", "delay_notice", BU, 10, 4, "the delay notice (and the DfE)")
    d.add("timer_catch", "expected_date_near", "10 working days before the expected date", BU, 12, 4,
          inner=d.timer("timeDate", "local_working_days_after(expected_publication_date, -10)"))
    d.service("remind_expected_date", "Remind: the new expected date is near", BU, 13, 4, topic="notification",
              kind="reminder", about="lcspr_expected_date",
              doc="Reminds the panel chair, the reviewer and the business unit. Expects: case_reference, "
                  "expected_publication_date. Returns: nothing the process relies on.")
    d.add("timer_catch", "expected_date_passed", "The expected date passed", BU, 14, 4,
          inner=d.timer("timeDate", "working_days_after(expected_publication_date, 1)"))
    d.service("escalate_expected_date", "Escalate: the new expected date was missed", BU, 15, 4,
              topic="notification", kind="escalation", about="lcspr_expected_date",
              doc="Tells the safeguarding partners and the partnership chair. Expects: case_reference, "
                  "expected_publication_date. Returns: nothing the process relies on.")
    d.add("end", "delay_followed", "Expected date escalated", BU, 16, 4)
    d.add("end", "deadline_on_track", "On track", BU, 9, 3)
    d.chain("clock_split", "month_3_reached", "remind_month_3", "month_4_reached", "remind_month_4",
            "month_5_reached", "assess_deadline", "deadline_gateway")
    d.flow("deadline_gateway", "record_delay", "Yes", "deadline_at_risk == True")
    d.flow("deadline_gateway", "deadline_on_track", "No", default=True)
    d.flow("record_delay", "delay_notice_prepare")
    d.chain("delay_notice_submit", "expected_date_near", "remind_expected_date", "expected_date_passed",
            "escalate_expected_date", "delay_followed")
    d.add("timer_catch", "month_6_reached", "6 months reached, not yet published", BU, 2, 5,
          inner=d.timer("timeDate", "calendar_months_after(decision_date, 6)"))
    d.service("escalate_deadline_missed", "Escalate the missed 6 months", BU, 3, 5, topic="notification",
              kind="escalation", about="lcspr_deadline",
              doc="Tells the safeguarding partners and the partnership chair. Expects: case_reference, "
                  "decision_date. Returns: nothing the process relies on.")
    d.add("end", "deadline_escalated", "Escalated", BU, 4, 5)
    d.chain("clock_split", "month_6_reached", "escalate_deadline_missed", "deadline_escalated")
    return d


def family_involvement(d: Diagram) -> None:
    """The family's part in the LCSPR (Working Together 2023, chapter 5): invited, met by the lead
    reviewer, the child's voice recorded, the draft findings shared and their comments answered, and a
    briefing before publication. Contact details, the meeting, the comments and the family's documents
    are private to the business unit and the lead reviewer (bpmn/need_to_know.toml)."""
    d.user("invite_family", "Invite the family to contribute", BU, 6, 2, group="business-unit",
           form="invite_family", reads="case_reference, lead_reviewer, terms_of_reference",
           doc="Invites the child's family to contribute, explains how the review works, and keeps a log of every "
               "attempt to reach them: accepted, declined, or unable to contact.")
    d.add("xor", "family_gateway", "Did the family accept?", BU, 7, 2)
    d.user("meet_family", "Meet the family", ILR, 8, 1, users="${lead_reviewer.user}", form="record_family_meeting",
           reads="case_reference, family_contact, family_contact_log, terms_of_reference",
           doc="The commissioned lead reviewer meets the family and records their views.")
    d.add("xor", "family_merge", "Met, declined or not reached", ILR, 9, 2)
    d.user("record_childs_voice", "Record the child's voice", ILR, 10, 2, users="${lead_reviewer.user}",
           form="record_childs_voice", reads="case_reference, family_involvement_outcome, family_meeting, "
           "key_lines_of_enquiry",
           doc="What the child said, felt and experienced, from the records, the practitioners and the family.")
    d.flow("family_gateway", "meet_family", "Accepted", 'family_involvement_outcome == "accepted"')
    d.flow("family_gateway", "family_merge", "Declined or unable to contact", default=True)
    d.chain("meet_family", "family_merge", "record_childs_voice", "work_join")
    d.add("xor", "findings_gateway", "Is the family involved?", BU, 18, 0)
    d.user("share_findings_with_family", "Share the draft findings with the family", ILR, 18, 1,
           users="${lead_reviewer.user}", form="share_findings_with_family",
           reads="case_reference, family_contact, family_meeting, draft_report_id, draft_version",
           doc="Before publication the lead reviewer shares the draft findings with the family, records each "
               "comment and the answer given, and whether the report changed.")
    d.add("xor", "findings_merge", "Findings shared or family not involved", BU, 19, 0)
    d.flow("findings_gateway", "share_findings_with_family", "Yes", 'family_involvement_outcome == "accepted"')
    d.flow("findings_gateway", "findings_merge", "No", default=True)
    d.flow("share_findings_with_family", "findings_merge")
    d.add("xor", "briefing_gateway", "Is the family involved?", BU, 21, 0)
    d.user("brief_family", "Brief the family before publication", BU, 22, 1, group="business-unit",
           form="brief_family_before_publication",
           reads="case_reference, family_contact, family_findings_response, final_report_id",
           doc="The family are told when and what will be published, and how the child is referred to.")
    d.add("xor", "briefing_merge", "Briefed or family not involved", BU, 23, 0)
    d.flow("briefing_gateway", "brief_family", "Yes", 'family_involvement_outcome == "accepted"')
    d.flow("briefing_gateway", "briefing_merge", "No", default=True)
    d.flow("brief_family", "briefing_merge")


def reviewer_commissioning() -> Diagram:
    d = Diagram("reviewer_commissioning", "Commissioning the Independent Lead Reviewer",
                "The pool in turn (Regulations 2018, reg 12): the next available reviewer without a known conflict "
                "is invited and accepts or declines, declaring any conflict; a decline, a conflict or no answer "
                "within 5 local working days moves on to the next. The business unit agrees the fee and timescale, "
                "and the reviewer is commissioned with the letter, the terms of reference and the contract. "
                "Output: lead_reviewer, reviewer_invitations.", [BU, ILR])
    d.add("start", "commissioning_started", "Terms of reference agreed", BU, 0)
    d.script("prepare_invitations", "Start the list of invitations", BU, 1,
             script="reviewer_invitations = []",
             doc="No reviewer asked yet for this case.")
    d.add("xor", "next_reviewer", "The next reviewer in the pool", BU, 2)
    d.service("invite_reviewer", "Invite the next reviewer in the pool", BU, 3, topic="reviewer-commissioning",
              step="invite",
              doc="Invites the first available reviewer without a known conflict who has not been asked yet; no one "
                  "left is an incident. Expects: case_reference, agencies, reviewer_invitations. Returns: "
                  "reviewer_invited (id, name, email, user), reviewer_invited_on.")
    d.user("answer_invitation", "Accept or decline the invitation, declaring any conflict", ILR, 4, 0,
           users="${reviewer_invited.user}", form="answer_reviewer_invitation",
           reads="case_reference, terms_of_reference, key_lines_of_enquiry, agencies, decision_date, "
                 "reviewer_invited_on",
           case_access="task",
           doc="The invited reviewer accepts or declines and declares any involvement with the child, the family "
               "or the agencies' work with them. The invitation opens itself alone (caseAccess=task): until "
               "commissioned, a reviewer sees what the invitation shows, never the case.")
    d.boundary("invitation_unanswered", "No answer in 5 working days", "answer_invitation", cancel=True,
               definition=d.timer("timeDate", "local_working_days_after(reviewer_invited_on, 5)"))
    d.script("record_answer", "Record the answer", BU, 5, 0,
             script=('invitation_outcome = "conflict" if conflict_declared else ('
                     '"accepted" if invitation_accepted else "declined")\n'
                     'reviewer_invitations = reviewer_invitations + [{"id": reviewer_invited["id"], '
                     '"outcome": invitation_outcome, "invited_on": reviewer_invited_on}]'),
             doc="Adds the answer to reviewer_invitations: accepted, declined or conflict.")
    d.script("record_no_answer", "Record that no answer came", BU, 5, 1,
             script=('invitation_outcome = "no_answer"\n'
                     'reviewer_invitations = reviewer_invitations + [{"id": reviewer_invited["id"], '
                     '"outcome": invitation_outcome, "invited_on": reviewer_invited_on}]'),
             doc="The invitation lapsed: the next reviewer is asked.")
    d.add("xor", "accepted_gateway", "Accepted without a conflict?", BU, 6)
    d.user("agree_commission", "Agree the fee and timescale", BU, 7, group="business-unit",
           form="agree_reviewer_commission", reads="case_reference, reviewer_invited, decision_date",
           doc="The business unit agrees the commission with the reviewer: fee, days of work and the date the "
               "final report is due (within the 6 months).")
    d.service("commission_reviewer_contract", "Commission the reviewer: letter, terms of reference, contract", BU, 8,
              topic="reviewer-commissioning", step="commission",
              doc="Writes the commissioning letter, the terms of reference and the contract (fee, timescale) into "
                  "the case and tells the reviewer. Expects: case_reference, terms_of_reference, key_lines_of_enquiry, "
                  "decision_date, reviewer_invited, commission. Returns: lead_reviewer, commissioning_letter_id, "
                  "terms_of_reference_document_id, contract_document_id, final_report_due_on.")
    d.add("end", "reviewer_commissioned", "Reviewer commissioned", BU, 9)
    d.chain("commissioning_started", "prepare_invitations", "next_reviewer", "invite_reviewer", "answer_invitation",
            "record_answer", "accepted_gateway")
    d.flow("invitation_unanswered", "record_no_answer")
    d.flow("record_no_answer", "next_reviewer", "The next reviewer")
    d.flow("accepted_gateway", "agree_commission", "Accepted", 'invitation_outcome == "accepted"')
    d.flow("accepted_gateway", "next_reviewer", "Declined or conflicted: the next reviewer", default=True)
    d.chain("agree_commission", "commission_reviewer_contract", "reviewer_commissioned")
    return d


def panel_meeting() -> Diagram:
    d = Diagram("panel_meeting", "An LCSPR panel meeting",
                "One scheduled meeting of the LCSPR panel (panel_meeting is its date): the task to record it "
                "opens on the day, and a record dated in the future is refused and asked for again. Output: "
                "panel_meeting_record.", [PANEL])
    d.add("start", "meeting_scheduled", "Meeting scheduled", PANEL, 0)
    d.add("timer_catch", "meeting_day", "The meeting's day", PANEL, 1,
          inner=d.timer("timeDate", "working_days_after(panel_meeting, 0)"))
    d.add("xor", "record_merge", "Record (again if refused)", PANEL, 2)
    d.user("hold_panel_meeting", "Record the panel meeting", PANEL, 3, group="lcspr-panel",
           form="record_panel_meeting",
           reads="case_reference, panel_meeting, terms_of_reference, key_lines_of_enquiry, meeting_record_problem",
           doc="Attendance, decisions and actions, and the draft versions discussed. held_on cannot be in the "
               "future.")
    d.add("xor", "held_on_gateway", "Held on a date in the future?", PANEL, 4)
    d.script("refuse_future_meeting", "Refuse a meeting dated in the future", PANEL, 4, 1,
             script='meeting_record_problem = "held_on " + panel_meeting_record["held_on"] + " is in the future: '
                    'record the meeting once it has been held"',
             doc="Asks for the record again.")
    d.add("end", "meeting_recorded", "Meeting recorded", PANEL, 5)
    d.chain("meeting_scheduled", "meeting_day", "record_merge", "hold_panel_meeting", "held_on_gateway")
    d.flow("held_on_gateway", "refuse_future_meeting", "Yes: refused", 'panel_meeting_record["held_on"] > today()')
    d.flow("refuse_future_meeting", "record_merge")
    d.flow("held_on_gateway", "meeting_recorded", "No", default=True)
    return d


def publication() -> Diagram:
    d = Diagram("publication", "Publication of an LCSPR",
                "Publish the report unless that is inappropriate; otherwise publish the improvements to be made "
                "(Children Act 2004 s16F pattern); or defer (parallel criminal proceedings, an inquest) with a "
                "review date. A person always checks anonymisation and the legal position; the version to be "
                "published goes to the National Panel and the Secretary of State (and Ofsted, where the "
                "partnership directory says so) at least 7 working days before publication; afterwards the Panel "
                "is sent the link.", [BU, SP])
    d.error("CONFIDENTIAL_NAME_FOUND", "Confidential name found")
    d.add("start", "publication_needed", "Final report approved", SP, 0)
    d.add("xor", "decide_merge", "Decide (again after a deferral)", SP, 1)
    d.user("decide_publication", "Decide what to publish", SP, 2, group="safeguarding-partners",
           form="decide_publication", reads="case_reference, final_report_id, deferral",
           doc="The three partners decide: the full report, the improvements only (upload the improvements "
               "document to this task or choose one of the case's documents), or to defer, with the reason and "
               "a review date (default 3 months). Consider the child, siblings, family and staff, court "
               "reporting restrictions and parallel proceedings.")
    d.add("xor", "choice_gateway", "Publish or defer?", SP, 3)
    d.script("set_deferral_review", "Set the deferral's review date", SP, 3, 1,
             script='deferral = {"reason": deferral_reason, "review_on": deferral_review_on or '
                    'calendar_months_after(today(), 3)[:10], "decided_on": today()}',
             doc="The partners' review date, or 3 months from today.")
    d.add("timer_catch", "deferral_review_due", "Deferral review date", SP, 4, 1,
          inner=d.timer("timeDate", 'working_days_after(deferral["review_on"], 0)'))
    d.script("choose_version", "Choose the version to publish", BU, 4, 0,
             script='publication_scope = publication_choice\npublication_document_id = improvements_document_id '
                    'if publication_choice == "improvements_only" else final_report_id',
             doc="The improvements document, or the final report.")
    d.add("xor", "check_merge", "Check (again after a redaction)", BU, 5)
    d.user("check_anonymisation", "Check anonymisation and the legal position", BU, 6, group="business-unit",
           form="check_anonymisation",
           reads="case_reference, publication_scope, publication_document_id, publication_check, confidential_names",
           doc="A person reads the version to be published: anonymisation (child, siblings, family, staff), "
               "reporting restrictions and legal advice. Record the checked (redacted) document. The automatic "
               "match against the confidential names helps; it does not replace this check.")
    d.service("match_confidential_names", "Match the confidential names", BU, 7, topic="publication",
              document="final_report", step="check",
              doc="Reads the whole document for the case's confidential names and tracked changes; fails with "
                  "CONFIDENTIAL_NAME_FOUND. Expects: case_reference, confidential_names, redacted_document_id, "
                  "publication_scope. Returns: publication_check.")
    d.boundary("name_found", "Confidential name found", "match_confidential_names", cancel=True,
               definition=err("error_confidential_name_found"))
    d.user("plan_publication_date", "Set the publication date", BU, 8, group="business-unit",
           form="plan_publication", reads="case_reference, publication_scope",
           doc="The planned publication date: the Panel and the Secretary of State must have the version at least "
               "7 working days before it (it moves later if they would not).")
    submit_to_panel(d, "pre_publication", "pre_publication", BU, 9, 0,
                    "the version to be published (with the Secretary of State)")
    d.script("fix_publication_date", "Fix the publication date", BU, 11,
             script='pre_publication_sent_on = panel_submission["submitted_on"]\n'
                    'earliest_publication_on = working_days_after(pre_publication_sent_on, 7)[:10]\n'
                    "publication_on = max(planned_publication_date, earliest_publication_on)",
             doc="At least 7 working days (bank holidays skipped) after the copy reached the Panel "
                 "(pre_publication_sent_on).")
    d.add("timer_catch", "publication_day", "Publication day", BU, 12,
          inner=d.timer("timeDate", "working_days_after(publication_on, 0)"))
    d.service("publish_report", "Publish on the partnership website", BU, 13, topic="publication",
              document="final_report",
              doc="Publishes the checked version as a page and a Word document, available for at least a year; "
                  "checks the names again. Expects: case_reference, confidential_names, redacted_document_id, "
                  "publication_scope. Returns: published_url, published_word_url, published_on, review_due_on.")
    d.boundary("name_found_at_publication", "Confidential name found", "publish_report", cancel=True,
               definition=err("error_confidential_name_found"))
    submit_to_panel(d, "publication_link", "publication_link", BU, 14, 0, "the link to the published report")
    d.add("end", "published", "Published", BU, 16)
    d.chain("publication_needed", "decide_merge", "decide_publication", "choice_gateway")
    d.flow("choice_gateway", "set_deferral_review", "Defer", 'publication_choice == "defer"')
    d.chain("set_deferral_review", "deferral_review_due")
    d.flow("deferral_review_due", "decide_merge")
    d.flow("choice_gateway", "choose_version", "Publish", default=True)
    d.chain("choose_version", "check_merge", "check_anonymisation", "match_confidential_names",
            "plan_publication_date", "pre_publication_prepare")
    d.flow("name_found", "check_merge")
    d.chain("pre_publication_submit", "fix_publication_date", "publication_day", "publish_report",
            "publication_link_prepare")
    d.flow("name_found_at_publication", "check_merge")
    d.flow("publication_link_submit", "published")
    return d


def learning_dissemination() -> Diagram:
    d = Diagram("learning_dissemination", "Learning dissemination",
                "Where the Rapid Review identified all the learning, the partnership shares it without a local "
                "review: a 7-minute briefing from the scoping documents and the Rapid Review report (no IMRs, no "
                "chronologies), approved (an edited version may replace the generated one), published and sent "
                "to every agency, themed learning events, then the Learning from Practice action plan.", [BU, LFP])
    d.error("CONFIDENTIAL_NAME_FOUND", "Confidential name found")
    d.add("start", "dissemination_decided", "Learning dissemination decided", LFP, 0)
    d.user("gather_learning", "Gather the learning from the Rapid Review", LFP, 1,
           group="learning-from-practice-sub-group", form="gather_learning",
           reads="case_reference, learning_identified, rapid_review_report_id",
           doc="Draw the learning from the scoping documents and the Rapid Review report only.")
    d.add("xor", "briefing_merge", "Draft or redraft", LFP, 2)
    d.service("draft_briefing", "Draft the 7-minute briefing", LFP, 3, topic="seven-minute-briefing",
              doc="Drafts the briefing from the partnership's template. Expects: case_reference, learning_points, "
                  "briefing_changes (structured, when redrafting). Returns: briefing_document_id.")
    d.user("review_briefing", "Review and approve the 7-minute briefing", LFP, 4,
           group="learning-from-practice-sub-group", form="review_seven_minute_briefing",
           reads="case_reference, briefing_document_id",
           doc="Check the draft is accurate, anonymised and useful. Ask for changes section by section, or "
               "upload an edited version that replaces the generated one.")
    d.add("xor", "changes_gateway", "Changes needed?", LFP, 5)
    d.script("choose_briefing", "Choose the briefing to publish", BU, 6,
             script="briefing_document_id = edited_briefing_document_id if use_edited_version == True "
                    "else briefing_document_id",
             doc="The edited version, when the sub-group uploaded one.")
    d.add("xor", "publish_merge", "Publish (again after redaction)", BU, 7)
    d.service("publish_briefing", "Publish the 7-minute briefing on the website", BU, 8, topic="publication",
              document="seven_minute_briefing",
              doc="Publishes the briefing (no internal case reference, draft number or agency ids on the page). "
                  "Fails with CONFIDENTIAL_NAME_FOUND. Expects: case_reference, briefing_document_id, "
                  "redacted_document_id, confidential_names. Returns: published_url, published_on, review_due_on.")
    d.boundary("confidential_name_found", "Confidential name found", "publish_briefing", cancel=True,
               definition=err("error_confidential_name_found"))
    d.user("redact_briefing", "Redact the confidential names", BU, 8, 1, group="business-unit",
           form="redact_confidential_names", reads="case_reference, briefing_document_id, publication_check",
           doc="Remove or anonymise every confidential name before the briefing is published.")
    d.service("distribute_briefing", "Send the briefing to every agency", BU, 9, topic="notification",
              kind="distribution", about="seven_minute_briefing",
              doc="Sends the link to every agency's safeguarding lead. Expects: case_reference, agencies, "
                  "published_url. Returns: nothing the process relies on.")
    d.user("plan_learning_events", "Plan themed learning events", LFP, 10,
           group="learning-from-practice-sub-group", form="plan_learning_events",
           reads="case_reference, learning_points, published_url",
           doc="Plan themed learning events to embed the learning.")
    d.user("record_learning_events", "Record the learning events held", LFP, 11,
           group="learning-from-practice-sub-group", form="record_learning_events",
           reads="case_reference, learning_events",
           doc="Attendance, evaluation and feedback for each event.")
    d.call("call_action_plan", "Run the action plan", LFP, 12, called="action_plan", doc="Runs action_plan.")
    d.add("end", "learning_disseminated", "Learning disseminated", LFP, 13)
    d.chain("dissemination_decided", "gather_learning", "briefing_merge", "draft_briefing", "review_briefing",
            "changes_gateway")
    d.flow("changes_gateway", "briefing_merge", "Yes", "changes_needed == True")
    d.flow("changes_gateway", "choose_briefing", "No: approved", default=True)
    d.chain("choose_briefing", "publish_merge", "publish_briefing", "distribute_briefing", "plan_learning_events",
            "record_learning_events", "call_action_plan", "learning_disseminated")
    d.chain("confidential_name_found", "redact_briefing")
    d.flow("redact_briefing", "publish_merge")
    return d


def action_plan() -> Diagram:
    d = Diagram("action_plan", "Learning from Practice action plan",
                "The Learning from Practice sub-group agrees an action plan; each action's update goes to the "
                "agency that owns it, every month; overdue actions are escalated; the plan closes only on "
                "evidence of impact.", [LFP, AL])
    d.add("start", "action_plan_needed", "Action plan needed", LFP, 0)
    d.user("agree_action_plan", "Agree the action plan", LFP, 1, group="learning-from-practice-sub-group",
           form="agree_action_plan", reads="case_reference, learning_identified, learning_points, agencies",
           doc="Each action has an owning agency, an owner, a due date, a RAG rating and the evidence of impact "
               "that will show it made a difference.")
    d.script("number_actions", "Number the actions", LFP, 2,
             script="numbered_actions = {str(number): action for number, action in enumerate(actions, start=1)}",
             doc="Each owner's update is kept under its action's number.")
    d.add("xor", "update_round_merge", "Next update round", LFP, 3)
    d.add("timer_catch", "update_due", "A month has passed", LFP, 4, inner=d.timer("timeDuration", "P1M"))
    d.service("request_action_updates", "Ask action owners for an update", LFP, 5, topic="notification",
              kind="reminder", about="action_plan_update",
              doc="Emails each action's agency lead. Expects: case_reference, numbered_actions. Returns: nothing "
                  "the process relies on.")
    d.user("update_action", "Update progress on the action", AL, 6, group="agency-leads",
           form="update_action_progress", organisation="action.agency", reads="case_reference, action",
           inner=mi("numbered_actions", "action_updates", "action", "action_update"),
           doc="One task per action, for the agency that owns it (action.agency): only that agency's leads see "
               "it. Progress, the RAG rating and evidence of impact.")
    d.boundary("update_overdue", "No update after 2 weeks", "update_action",
               definition=d.timer("timeDuration", "P14D"))
    d.service("chase_action_updates", "Chase owners whose update is outstanding", AL, 6, 2, topic="notification",
              kind="chase", about="action_plan_update",
              doc="Reminds the owners of this round's open updates. Expects: case_reference, numbered_actions. "
                  "Returns: nothing the process relies on.")
    d.add("end", "owners_chased", "Owners chased", AL, 7, 2)
    d.user("review_progress", "Review progress and RAG ratings", LFP, 7, group="learning-from-practice-sub-group",
           form="review_action_plan_progress", reads="case_reference, numbered_actions, action_updates",
           doc="Review the updates; identify overdue or red-rated actions.")
    d.add("xor", "overdue_gateway", "Any actions overdue?", LFP, 8)
    d.service("escalate_overdue_actions", "Escalate overdue actions to the partners", LFP, 9, 1,
              topic="notification", kind="escalation", about="action_plan",
              doc="Tells the Business Group and the partners. Expects: case_reference, action_updates, "
                  "overdue_summary. Returns: nothing the process relies on.")
    d.add("xor", "escalation_merge", "Escalated if needed", LFP, 10)
    d.user("confirm_impact", "Confirm the impact and close the plan", LFP, 11,
           group="learning-from-practice-sub-group", form="confirm_action_plan_impact",
           reads="case_reference, numbered_actions, action_updates",
           doc="Close the plan only when every action is complete and its impact evidenced.")
    d.add("xor", "impact_gateway", "Impact confirmed?", LFP, 12)
    d.add("end", "action_plan_closed", "Action plan closed", LFP, 13)
    d.chain("action_plan_needed", "agree_action_plan", "number_actions", "update_round_merge", "update_due",
            "request_action_updates", "update_action", "review_progress", "overdue_gateway")
    d.chain("update_overdue", "chase_action_updates", "owners_chased")
    d.flow("overdue_gateway", "escalate_overdue_actions", "Yes", "any_overdue == True")
    d.flow("overdue_gateway", "escalation_merge", "No", default=True)
    d.chain("escalate_overdue_actions", "escalation_merge", "confirm_impact", "impact_gateway")
    d.flow("impact_gateway", "action_plan_closed", "Yes", "impact_confirmed == True")
    d.flow("impact_gateway", "update_round_merge", "Not yet", default=True)
    return d


# ------------------------------------------------------------------------------------------------
# Issue 18: cases that were not notified (screening), and reviews led elsewhere.

def case_screening() -> Diagram:
    d = Diagram("case_screening", "Screening a case that was not notified",
                "A case that does not meet the serious incident notification criteria but may hold learning: an "
                "agency refers it, the Case Review Group screens it against the partnership's criteria and records "
                "its rationale, and decides between a local learning review, a single-agency review, an audit, or "
                "no further action. No statutory clock applies: the deadlines are the partnership's own.", [BU, CRG])
    d.add("start", "referral_received", "An agency refers a case", BU, 0,
          doc="Started by the business unit when an agency's referral arrives.")
    d.script("mark_as_screened", "Mark the case as screened, not notified", BU, 1,
             script='case_route = "screening"',
             doc="case_route tells the dashboard and the timeline that no statutory notification milestone applies "
                 "(bpmn/milestones.toml).")
    d.user("record_referral", "Record the agency's referral", BU, 2, group="business-unit",
           form="record_case_referral",
           doc="Who referred the case and when, why they think it holds learning, the agencies involved and every "
               "name that must never be published. Only what is relevant and essential.")
    d.user("screen_case", "Screen the case against the partnership's criteria", CRG, 3,
           group="case-review-group", form="screen_case",
           reads="case_reference, referring_agency, referred_on, referral_reasons, agencies",
           doc="The Case Review Group considers each of the partnership's criteria for a local review, records its "
               "rationale, and decides: a local learning review, a single-agency review or an audit (by the agency "
               "named), or no further action. It sets the local target date for the review.")
    d.add("xor", "screening_outcome_gateway", "What did the group decide?", CRG, 4)
    d.call("call_local_learning_review", "Carry out the local learning review", CRG, 5, 0,
           called="local_learning_review",
           doc="Runs local_learning_review: the LCSPR's building blocks, to the approved report, on the "
               "partnership's own deadline.")
    d.call("call_agency_led_review", "Track the single-agency review or audit", CRG, 5, 1,
           called="agency_led_review",
           doc="Runs agency_led_review: the agency carries it out and reports back; the learning goes into the "
               "action plan.")
    d.script("record_no_further_action", "Record no further action", CRG, 5, 2,
             script="screening_closed_on = today()",
             doc="The screening and its rationale are kept; the case closes.")
    d.call("call_learning_dissemination", "Disseminate the learning", CRG, 6, 0, called="learning_dissemination",
           doc="Runs learning_dissemination: the 7-minute briefing, learning events and the action plan.")
    d.add("end", "end_after_local_review", "Local learning review done and action plan closed", CRG, 7, 0)
    d.add("end", "end_after_agency_review", "Agency review reported and action plan closed", CRG, 7, 1)
    d.add("end", "end_no_further_action", "No further action", CRG, 7, 2)
    d.chain("referral_received", "mark_as_screened", "record_referral", "screen_case", "screening_outcome_gateway")
    d.flow("screening_outcome_gateway", "call_local_learning_review", "Local learning review",
           'screening_outcome == "local_learning_review"')
    d.flow("screening_outcome_gateway", "call_agency_led_review", "Single-agency review or audit",
           'screening_outcome == "single_agency_review" or screening_outcome == "audit"')
    d.flow("screening_outcome_gateway", "record_no_further_action", "No further action", default=True)
    d.chain("call_local_learning_review", "call_learning_dissemination", "end_after_local_review")
    d.flow("call_agency_led_review", "end_after_agency_review")
    d.flow("record_no_further_action", "end_no_further_action")
    return d


def local_learning_review() -> Diagram:
    d = Diagram("local_learning_review", "Local learning review",
                "A review the partnership chooses to hold for a case it screened (not a statutory LCSPR): the "
                "LCSPR's building blocks - the panel and its meetings, terms of reference, each agency's IMR and "
                "chronology, the report and the partners' approval - on the partnership's own target date "
                "(local_review_due_on), with a reminder before it and an escalation after it; the approval stops "
                "that clock. Learning dissemination and the action plan follow (case_screening). Nothing goes to "
                "the National Panel and no statutory milestone applies.", [BU, PANEL, SP])
    d.add("start", "local_review_decided", "Local learning review decided", BU, 0)
    d.script("set_local_target", "Set the local target date", BU, 1,
             script="decision_date = screened_on\n"
                    "local_review_due_on = local_review_due_on or calendar_months_after(screened_on, 6)[:10]",
             doc="The panel's meetings are scheduled from the screening decision (decision_date); the target is the "
                 "group's date, or 6 calendar months from the screening.")
    d.add("and", "local_clock_split", "Work and the local target", BU, 2)
    d.service("form_panel", "Form the review panel and schedule its meetings", BU, 3, topic="panel-formation",
              doc="As for an LCSPR: senior managers not involved in the case, 3-4 meetings on working days. "
                  "Expects: case_reference, agencies, decision_date. Returns: panel_members, panel_meetings.")
    d.user("agree_terms_of_reference", "Agree the terms of reference", PANEL, 4, group="lcspr-panel",
           form="agree_key_lines_of_enquiry",
           reads="case_reference, agencies, screened_on, screening_rationale, referral_reasons",
           doc="As for an LCSPR: scope, the period under review, methodology, key lines of enquiry and the "
               "agencies asked for IMRs.")
    d.add("and", "work_split", "Meetings, and the evidence", BU, 5)
    d.call("hold_panel_meetings", "Hold the panel meetings", PANEL, 6, 0, called="panel_meeting",
           inner=mi("panel_meetings", "panel_meeting_records", "panel_meeting", "panel_meeting_record",
                    sequential=True),
           doc="One panel_meeting per scheduled date, in turn.")
    d.script("prepare_imr_requests", "Prepare a request for each agency", BU, 6, 1,
             script='agencies_by_name = {name: name for name in agencies}\nreturn_kind = "imr_and_chronology"',
             doc="The agencies in the terms of reference.")
    d.call("gather_imrs", "Each agency's IMR and chronology", BU, 7, 1, called="agency_return",
           inner=mi("agencies_by_name", "imrs", "agency", "agency_return"),
           doc="One agency_return per agency, chased, as for an LCSPR.")
    d.service("merge_chronologies", "Merge the agencies' chronologies", BU, 8, 1, topic="chronology-merge",
              step="merge",
              doc="One multi-agency chronology. Expects: case_reference, imrs. Returns: integrated_chronology_id, "
                  "integrated_chronology_csv_id, integrated_chronology_html_id.")
    d.add("xor", "draft_merge", "Draft or redraft", PANEL, 9, 1)
    d.user("write_local_report", "Write the review's report", PANEL, 10, 1, group="lcspr-panel",
           form="write_draft_report",
           reads="case_reference, terms_of_reference, key_lines_of_enquiry, imrs, integrated_chronology_id, "
                 "draft_report_id, qa_amendments",
           doc="The panel's reviewer writes (or revises) the report: findings against the key lines of enquiry "
               "and the improvements needed, anonymised.")
    d.user("quality_assure_draft", "Quality-assure the draft report", PANEL, 11, 1, group="lcspr-panel",
           form="quality_assure_draft_report",
           reads="case_reference, terms_of_reference, key_lines_of_enquiry, draft_report_id, draft_version",
           doc="The panel checks the draft against the terms of reference and lists amendments.")
    d.add("xor", "amendments_gateway", "Amendments needed?", PANEL, 12, 1)
    d.add("and", "work_join", "Meetings held and report agreed", BU, 13, 0)
    d.user("approve_final_report", "Approve the final report", SP, 14, 0, group="safeguarding-partners",
           form="approve_final_report", reads="case_reference, draft_report_id, draft_version",
           doc=partners_sign_off_doc("to approve the local review's report"))
    d.script("record_local_review_completed", "Record the report's completion", BU, 15, 0,
             script="local_review_completed_on = today()\nlearning_identified = key_lines_of_enquiry",
             doc="The local target is met on this date (bpmn/milestones.toml); the learning dissemination starts "
                 "from the review's key lines of enquiry.")
    d.add("terminate", "local_review_complete", "Report approved: the local target clock stops", BU, 16, 0,
          "Ends the review; a reminder or escalation still waiting is withdrawn. The learning is disseminated "
          "next (case_screening).")
    d.chain("local_review_decided", "set_local_target", "local_clock_split", "form_panel", "agree_terms_of_reference",
            "work_split", "hold_panel_meetings", "work_join")
    d.chain("work_split", "prepare_imr_requests", "gather_imrs", "merge_chronologies", "draft_merge",
            "write_local_report", "quality_assure_draft", "amendments_gateway")
    d.flow("amendments_gateway", "draft_merge", "Yes", "amendments_needed == True")
    d.flow("amendments_gateway", "work_join", "No: agreed", default=True)
    d.chain("work_join", "approve_final_report", "record_local_review_completed", "local_review_complete")
    # the local target
    d.add("timer_catch", "local_target_near", "10 working days before the local target", BU, 3, 3,
          inner=d.timer("timeDate", "local_working_days_after(local_review_due_on, -10)"))
    d.service("remind_local_target", "Remind: the local target date is near", BU, 4, 3, topic="notification",
              kind="reminder", about="local_learning_review",
              doc="Reminds the business unit. Expects: case_reference. Returns: nothing the process relies on.")
    d.add("timer_catch", "local_target_passed", "The local target date passed", BU, 5, 3,
          inner=d.timer("timeDate", "local_working_days_after(local_review_due_on, 1)"))
    d.service("escalate_local_target", "Escalate: the local target date was missed", BU, 6, 3,
              topic="notification", kind="escalation", about="local_learning_review",
              doc="Tells the business unit. Expects: case_reference. Returns: nothing the process relies on.")
    d.add("end", "local_target_escalated", "Local target escalated", BU, 7, 3)
    d.chain("local_clock_split", "local_target_near", "remind_local_target", "local_target_passed",
            "escalate_local_target", "local_target_escalated")
    return d


def agency_led_review() -> Diagram:
    d = Diagram("agency_led_review", "Single-agency review or audit",
                "The Case Review Group asked one agency (review_agency) for a single-agency review or an audit "
                "(screening_outcome): the agency carries it out and reports back by the local target date "
                "(chased the working day after), the group considers the findings, and the learning goes into the "
                "action plan.", [BU, AL, CRG])
    d.add("start", "agency_review_asked", "Agency review asked for", BU, 0)
    d.script("name_the_agency", "Name the agency whose review it is", BU, 1,
             script="agency = review_agency\n"
                    "local_review_due_on = local_review_due_on or local_working_days_after(screened_on, 40)[:10]",
             doc="Only that agency's leads see its task; the target is the group's date, or 40 local working days.")
    d.add("xor", "report_merge", "Report (again if asked)", AL, 2)
    d.user("carry_out_agency_review", "Carry out the review or audit and report back", AL, 3,
           group="agency-leads", form="report_agency_review", organisation="agency",
           reads="case_reference, screening_outcome, local_review_due_on, agency_review_questions",
           doc="The agency carries out the single-agency review or audit and reports its findings and learning. "
               "Only this agency's leads see this task.")
    d.boundary("agency_review_overdue", "The local target date passed", "carry_out_agency_review",
               definition=d.timer("timeDate", "local_working_days_after(local_review_due_on, 1)"))
    d.service("chase_agency_review", "Chase the agency's review", BU, 3, 2, topic="notification", kind="chase",
              about="agency_review",
              doc="Tells the business unit to chase the agency. Expects: case_reference. Returns: nothing the process "
                  "relies on.")
    d.add("end", "agency_review_chased", "Agency chased", BU, 4, 2)
    d.user("consider_agency_review", "Consider the agency's findings", CRG, 4,
           group="case-review-group", form="consider_agency_review",
           reads="case_reference, review_agency, screening_outcome, agency_review",
           doc="The group considers the findings: accepted, with the learning for the action plan, or sent back "
               "with its questions.")
    d.add("xor", "findings_accepted_gateway", "Findings accepted?", CRG, 5)
    d.call("call_action_plan", "Run the action plan", CRG, 6, called="action_plan",
           doc="Runs action_plan with the learning from the agency's review.")
    d.add("end", "agency_review_closed", "Agency review reported and action plan closed", CRG, 7)
    d.chain("agency_review_asked", "name_the_agency", "report_merge", "carry_out_agency_review",
            "consider_agency_review", "findings_accepted_gateway")
    d.flow("findings_accepted_gateway", "call_action_plan", "Yes", "findings_accepted == True")
    d.flow("findings_accepted_gateway", "report_merge", "No: more asked", default=True)
    d.chain("call_action_plan", "agency_review_closed")
    d.chain("agency_review_overdue", "chase_agency_review", "agency_review_chased")
    return d


def cross_boundary_review() -> Diagram:
    d = Diagram("cross_boundary_review", "Supporting a review another partnership leads",
                "Another safeguarding partnership leads a review (the child lived or was harmed in its area) and "
                "asks this partnership to contribute. The business unit opens it, records the leading partnership "
                "and its contact, and the support runs as for a national review (review_led_elsewhere).", [BU])
    d.add("start", "cross_boundary_opened", "Business unit opens a review led elsewhere", BU, 0,
          doc="Started by hand by the business unit when another partnership asks for its contribution.")
    d.script("mark_as_led_elsewhere", "Mark the case as led elsewhere, not notified here", BU, 1,
             script='case_route = "cross_boundary"',
             doc="case_route tells the dashboard and the timeline that no notification or Rapid Review milestone "
                 "applies (bpmn/milestones.toml).")
    d.user("record_review_lead", "Record who leads the review, and the contact", BU, 2, group="business-unit",
           form="record_review_lead",
           doc="The body leading the review (the other partnership), its contact, its reference, and this "
               "partnership's agencies involved.")
    d.call("call_support", "Support the review", BU, 3, called="review_led_elsewhere",
           doc="Runs review_led_elsewhere.")
    d.add("end", "cross_boundary_supported", "Review supported and action plan closed", BU, 4)
    d.chain("cross_boundary_opened", "mark_as_led_elsewhere", "record_review_lead", "call_support",
            "cross_boundary_supported")
    return d


def review_led_elsewhere() -> Diagram:
    d = Diagram("review_led_elsewhere", "Supporting a review led elsewhere",
                "A review this partnership supports but does not run - a national review (the National Panel leads "
                "it) or a cross-boundary review (another partnership leads it). Its lead and contact are recorded "
                "before (review_lead). Each of the lead body's information requests is tracked with its due date "
                "(reminded before, chased after), with the agencies' returns gathered for it; then the final "
                "report is received and its learning goes into the partnership's own action plan.", [BU, LFP])
    d.add("start", "support_started", "Support started", BU, 0)
    d.script("open_request_log", "Open the log of requests", BU, 1,
             script="information_requests = []\nrequest_count = 0",
             doc="Every request the lead body makes is kept in information_requests.")
    d.add("xor", "news_merge", "Await the lead body", BU, 2)
    d.user("record_lead_body_contact", "Record what the lead body asks or sends", BU, 3, group="business-unit",
           form="record_lead_body_contact", reads="case_reference, review_lead, information_requests",
           doc="The lead body asks for information (what, from which agencies, by when), or sends its final "
               "report.")
    d.add("xor", "news_gateway", "A request, or the final report?", BU, 4)
    d.script("open_information_request", "Open the request", BU, 5, 1,
             script="request_count = request_count + 1\n"
                    'information_request = {"number": request_count, "asked": request_details, '
                    '"due_on": request_due_on, "agencies": agencies_asked, "asked_on": today()}\n'
                    'agencies_by_name = {name: name for name in agencies_asked}\n'
                    'return_kind = "imr_and_chronology"\nrequest_returns = {}',
             doc="The request gets its number and due date; each agency asked makes an agency_return.")
    d.call("answer_information_request", "Answer the request", BU, 6, 1, called="information_request_elsewhere",
           doc="Runs information_request_elsewhere: the agencies' returns, then what the partnership sends.")
    d.boundary("request_due_soon", "5 working days before the request is due", "answer_information_request", slot=0,
               definition=d.timer("timeDate", "local_working_days_after(request_due_on, -5)"))
    d.service("remind_request_due", "Remind: the request is due in 5 working days", BU, 6, 3, topic="notification",
              kind="reminder", about="review_led_elsewhere",
              doc="Reminds the business unit. Expects: case_reference. Returns: nothing the process relies on.")
    d.add("end", "reminded_request_due", "Reminder sent", BU, 7, 3)
    d.boundary("request_overdue", "The request is overdue", "answer_information_request", slot=1,
               definition=d.timer("timeDate", "local_working_days_after(request_due_on, 1)"))
    d.service("chase_request", "Chase the overdue request", BU, 7, 4, topic="notification",
              kind="chase", about="review_led_elsewhere",
              doc="Tells the business unit the lead body's request is overdue. Expects: case_reference. Returns: "
                  "nothing the process relies on.")
    d.add("end", "request_chased", "Chased", BU, 8, 4)
    d.script("log_information_request", "Log the answer", BU, 7, 1,
             script='information_requests = information_requests + [{**information_request, '
                    '"answered_on": contribution["sent_on"], "returns": request_returns}]',
             doc="The request, when it was answered and the agencies' returns stay in information_requests.")
    d.script("keep_final_report", "Keep the final report", LFP, 5, 0,
             script='review_final_report = {"document_id": final_report_id, "received_on": final_report_received_on}',
             doc="The lead body's final report, as received.")
    d.user("record_learning_for_action_plan", "Draw the learning for the partnership's action plan", LFP, 6, 0,
           group="learning-from-practice-sub-group", form="record_learning_from_review_elsewhere",
           reads="case_reference, review_final_report",
           doc="The learning from the final report that this partnership's agencies must act on.")
    d.call("call_action_plan", "Run the action plan", LFP, 7, 0, called="action_plan",
           doc="Runs action_plan with the review's learning.")
    d.add("end", "support_complete", "Final report received and action plan closed", LFP, 8, 0)
    d.chain("support_started", "open_request_log", "news_merge", "record_lead_body_contact", "news_gateway")
    d.flow("news_gateway", "open_information_request", "An information request", 'news == "information_request"')
    d.flow("news_gateway", "keep_final_report", "The final report", default=True)
    d.chain("open_information_request", "answer_information_request", "log_information_request", "news_merge")
    d.chain("request_due_soon", "remind_request_due", "reminded_request_due")
    d.chain("request_overdue", "chase_request", "request_chased")
    d.chain("keep_final_report", "record_learning_for_action_plan", "call_action_plan", "support_complete")
    return d


def information_request_elsewhere() -> Diagram:
    d = Diagram("information_request_elsewhere", "One request from a review led elsewhere",
                "One information request from the body leading a review: each agency it names returns its IMR and "
                "chronology (agency_return, chased), then the business unit sends the partnership's contribution. "
                "Output: request_returns, contribution.", [BU, AL])
    d.add("start", "request_received", "Request received", BU, 0)
    d.add("xor", "agencies_gateway", "Agencies asked?", BU, 1)
    d.call("gather_returns", "Each agency's return", AL, 2, 1, called="agency_return",
           inner=mi("agencies_by_name", "request_returns", "agency", "agency_return"),
           doc="One agency_return per agency asked: the request, the return, chases, and the choice to proceed "
               "without it.")
    d.add("xor", "returns_merge", "Returns in", BU, 3)
    d.user("send_contribution", "Send the partnership's contribution", BU, 4, group="business-unit",
           form="send_contribution",
           reads="case_reference, review_lead, information_request, request_returns",
           doc="Send the lead body what it asked for, with the agencies' returns, by the due date; record what "
               "was sent and when.")
    d.add("end", "contribution_sent", "Contribution sent", BU, 5)
    d.chain("request_received", "agencies_gateway")
    d.flow("agencies_gateway", "gather_returns", "Yes", "len(agencies_by_name) > 0")
    d.flow("agencies_gateway", "returns_merge", "No", default=True)
    d.chain("gather_returns", "returns_merge", "send_contribution", "contribution_sent")
    return d


DIAGRAMS = [rapid_review, rapid_review_work, agency_return, national_panel_submission, lcspr, lcspr_review,
            reviewer_commissioning,
            panel_meeting, publication, learning_dissemination, action_plan, case_screening, local_learning_review,
            agency_led_review, cross_boundary_review, review_led_elsewhere, information_request_elsewhere]


def main() -> None:
    for make in DIAGRAMS:
        d = make()
        (OUT / f"{d.id}.bpmn").write_text(d.xml(), encoding="utf-8")
        print(f"wrote bpmn/{d.id}.bpmn ({len(d.nodes)} elements)")


if __name__ == "__main__":
    main()
