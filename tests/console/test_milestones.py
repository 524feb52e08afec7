"""The statutory milestones of bpmn/milestones.toml on a case that runs down the redrawn diagrams
(call activities and all), through the REST API with the workers: the console's dashboard shows
the case's next statutory deadline and its page the statutory timeline — the notification (5
working days), the Rapid Review (15 working days from the notification, stopped by the recorded
submission), the decision, the LCSPR's 6 calendar months, the copy 7 working days before
publication, publication and the review date — each with the date the law's arithmetic gives."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import httpx
import pytest

import engine
import timekeeping
from api.demo import Demo
from api.demo_paths import PATHS
from tests.conftest import BACKENDS
from tests.scenarios.conftest import demo_on

START = PATHS["lcspr-full"].starts_at                 # Monday 11 January 2027
PROBES = ("hold_rapid_review_meeting", "assess_deadline", "submit_through_portal", "review_publication")


@dataclass
class Seen:
    variables: dict[str, Any]
    dashboard_row: str
    milestones: dict[str, tuple[str, str, str]]      # id -> (due, done, status) as the page shows them


class Probing(Demo):
    """The demo, looking at the console as the business unit before certain tasks are answered."""

    seen: dict[str, Seen]
    result: dict[str, Any]

    def _complete(self, task: dict[str, Any], decision: str) -> None:
        key = task["activity_id"]
        if key == "submit_through_portal":
            with self.http("bu-officer") as c:
                detail = c.get(f"/api/v1/user-tasks/{task['id']}").json()
            key = f"portal:{detail['variables']['panel_document']}"
        if task["activity_id"] in getattr(self, "probes", PROBES) and key not in self.seen:
            self.seen[key] = self.look(task["instance_id"])
        super()._complete(task, decision)

    def look(self, case_id: str) -> Seen:
        console = sign_in(self.base, "bu-officer", self.keys["bu-officer"])
        try:
            dashboard = console.get("/")
            assert dashboard.status_code == 200
            row = re.search(rf'<tr class="govuk-table__row" data-case="{re.escape(self.business_key)}">(.*?)</tr>',
                            dashboard.text, re.S)
            assert row is not None, "the case is not on the dashboard"
            page = console.get(f"/cases/{case_id}")
            assert page.status_code == 200
        finally:
            console.close()
        milestones = {}
        for m in re.finditer(r'<tr class="govuk-table__row" data-milestone="([a-z_0-9]+)">(.*?)</tr>', page.text, re.S):
            cells = [text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", m.group(2), re.S)]
            milestones[m.group(1)] = (cells[0], cells[1], cells[2])
        with self.http("bu-officer") as c:
            variables = c.get(f"/api/v1/instances/{case_id}").json()["variables"]
        return Seen(variables, text_of(row.group(1)), milestones)


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def sign_in(base: str, user: str, key: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    token = re.search(r'name="signin_token" value="([^"]+)"', client.get("/sign-in").text).group(1)  # type: ignore[union-attr]
    answer = client.post("/sign-in", data={"user": user, "key": key, "signin_token": token, "next": "/"},
                         headers={"Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 303, answer.text
    return client


def shown(day: str | date) -> str:
    """A date as the console shows it: 29 Jan 2027."""
    d = timekeeping.to_date(day)
    return f"{d.day} {d:%b %Y}"


@pytest.fixture(scope="module", params=BACKENDS)
def lcspr_case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probing]:
    with demo_on(request.param, tmp_path_factory.mktemp(f"milestones-{request.param}"), Probing) as demo:
        assert isinstance(demo, Probing)
        demo.seen = {}
        demo.result = demo.run_case(replace(PATHS["lcspr-full"], answers={}), f"NB-MILE-{uuid.uuid4().hex[:4]}")
        yield demo


def test_during_the_rapid_review_its_15_working_days_are_the_next_deadline(lcspr_case: Probing) -> None:
    seen = lcspr_case.seen["hold_rapid_review_meeting"]
    v = seen.variables
    assert (v["became_aware_on"], v["sin_sent_on"]) == ("2027-01-08", "2027-01-10")
    # 15 working days from Sunday 10 January 2027: Friday 29 January (weekends skipped)
    assert "Rapid Review sent to the National Panel 29 Jan 2027" in seen.dashboard_row
    assert "On track" in seen.dashboard_row and "working days left" in seen.dashboard_row
    # the notification: 5 working days from Friday 8 January is Friday 15 January; sent on the 10th
    assert seen.milestones["notification"] == ("15 Jan 2027", "10 Jan 2027", "Done")
    due, done, status = seen.milestones["rapid_review"]
    assert (due, done) == ("29 Jan 2027", "–") and status.startswith("Due")
    assert seen.milestones["decision"][2] == "Not yet known"
    assert "publication" not in seen.milestones                # no decision yet: no LCSPR milestone applies


def test_during_the_lcspr_its_6_calendar_months_are_the_next_deadline(lcspr_case: Probing) -> None:
    seen = lcspr_case.seen["assess_deadline"]
    v = seen.variables
    sent, decided = v["rapid_review_sent_on"], v["decision_date"]
    # the Rapid Review's clock stopped on the date the business unit recorded the portal submission
    assert sent == v["rapid_review_submission"]["submitted_on"] == v["rapid_review_submission"]["submitted_on"][:10]
    assert seen.milestones["rapid_review"] == ("29 Jan 2027", shown(sent), "Done")
    assert seen.milestones["decision"][1:] == (shown(decided), "Done")
    six_months = timekeeping.calendar_months_after(decided, 6)
    assert f"LCSPR report published {shown(six_months)}" in seen.dashboard_row
    assert seen.milestones["publication"][0] == shown(six_months)
    assert seen.milestones["lcspr_month_3"] == (shown(timekeeping.calendar_months_after(decided, 3)), "–", "Reached")
    assert seen.milestones["lcspr_month_5"][2] == "Reached"       # the check is open on its day
    assert seen.milestones["pre_publication_copy"] == ("–", "–", "Not yet known")


def test_before_the_copy_goes_to_the_panel_it_is_the_next_deadline(lcspr_case: Probing) -> None:
    seen = lcspr_case.seen["portal:pre_publication"]
    planned = seen.variables["planned_publication_date"]
    copy_due = engine.WorkingDays(timekeeping.to_date(planned)).add(timekeeping.to_date(planned), -7)
    assert f"Version to be published sent to the National Panel and the Secretary of State {shown(copy_due)}" \
        in seen.dashboard_row
    assert seen.milestones["pre_publication_copy"][:2] == (shown(copy_due), "–")


def test_after_publication_the_timeline_has_every_date(lcspr_case: Probing) -> None:
    seen = lcspr_case.seen["review_publication"]
    v = seen.variables
    planned, sent, published = v["planned_publication_date"], v["pre_publication_sent_on"], v["published_on"]
    copy_due = engine.WorkingDays(timekeeping.to_date(planned)).add(timekeeping.to_date(planned), -7)
    assert timekeeping.to_date(sent) <= copy_due                 # the demo plans two weeks ahead
    assert seen.milestones["pre_publication_copy"] == (shown(copy_due), shown(sent), "Done")
    six_months = timekeeping.calendar_months_after(v["decision_date"], 6)
    assert seen.milestones["publication"] == (shown(six_months), shown(published), "Done")
    assert seen.milestones["publication_review"][0] == shown(v["review_due_on"])
    a_year_on = timekeeping.calendar_months_after(published, 12)
    assert timekeeping.to_date(v["review_due_on"]) == timekeeping.to_date(a_year_on)
    assert "publication_expected" not in seen.milestones          # no delay: no new expected date
    # nothing statutory is left open: the dashboard says so
    assert "No deadline" in seen.dashboard_row
    result = lcspr_case.result
    assert result["case"]["status"] == "completed" and result["case"]["incidents"] == []


@pytest.fixture(scope="module", params=BACKENDS)
def screened_case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probing]:
    """A case that was not notified, screened into a local learning review (issue 18)."""
    with demo_on(request.param, tmp_path_factory.mktemp(f"screened-{request.param}"), Probing) as demo:
        assert isinstance(demo, Probing)
        demo.seen, demo.probes = {}, ("screen_case", "write_local_report")
        demo.result = demo.run_case(PATHS["screened-local-review"], f"NB-SCR-{uuid.uuid4().hex[:4]}")
        yield demo


def test_a_screened_case_shows_its_own_path_and_local_target_never_a_statutory_deadline(
        screened_case: Probing) -> None:
    screening = screened_case.seen["screen_case"]
    assert "Screening" in screening.dashboard_row and "Screen the case" in screening.dashboard_row
    assert screening.milestones == {"screening": ("–", "–", "Not yet known")}
    review = screened_case.seen["write_local_report"]
    v = review.variables
    assert "Local learning review" in review.dashboard_row and "working days left" not in review.dashboard_row
    assert set(review.milestones) == {"screening", "local_review_report"}       # no notification, Rapid Review, LCSPR
    assert review.milestones["local_review_report"][0] == shown(v["local_review_due_on"])

