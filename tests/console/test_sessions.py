"""Console sessions over real HTTP: what the cookie holds, CSRF and origin checks, sign-out, expiry,
and a revoked key or disabled account ending the session at the next request."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

import engine
from tests.conftest import Server, table_counts
from tests.console.conftest import start_case


def sign_in(server: Server, user: str, key: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=10, follow_redirects=False)
    page = client.get("/sign-in")
    token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = client.post("/sign-in", data={"user": user, "key": key, "signin_token": token, "next": "/tasks"},
                         headers={"Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 303 and answer.headers["location"] == "/tasks", answer.text
    return client


def csrf_of(client: httpx.Client, path: str = "/tasks") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)  # type: ignore[union-attr]


@pytest.fixture
def server(console_server: Server) -> Iterator[Server]:
    yield console_server
    engine.clock.reset()


def test_the_cookie_holds_a_random_token_and_the_database_only_its_hash(
        console_db: engine.Database, keys: dict[str, str], server: Server) -> None:
    client = sign_in(server, "crg-chair", keys["crg-chair"])
    cookie = client.cookies["rf_session"]
    assert keys["crg-chair"] not in cookie and len(cookie) >= 40
    header = next(v for k, v in client.get("/sign-in").headers.multi_items() if k == "content-security-policy")
    assert "script-src 'self'" in header and "unsafe-inline" not in header
    with console_db.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT id, principal_id, via FROM web_session")).all()
    assert stored == [(hashlib.sha256(cookie.encode()).hexdigest(), "crg-chair", "key")]
    assert client.get("/tasks").status_code == 200


def test_wrong_key_someone_elses_key_and_a_worker_are_refused(keys: dict[str, str], server: Server,
                                                              console_db: engine.Database) -> None:
    worker_key = engine.issue_key(console_db, principal_id="worker").secret
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for user, key in (("crg-chair", keys["crg-chair"][:-3] + "xyz"), ("crg-chair", keys["bu-officer"]),
                          ("worker", worker_key), ("crg-chair", "")):
            page = client.get("/sign-in")
            token = re.search(r'name="signin_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            answer = client.post("/sign-in", data={"user": user, "key": key, "signin_token": token},
                                 headers={"Sec-Fetch-Site": "same-origin"})
            assert answer.status_code == 400
            assert "govuk-error-summary" in answer.text and "rf_session" not in client.cookies
        # the sign-in form itself needs its token (no login CSRF)
        answer = client.post("/sign-in", data={"user": "crg-chair", "key": keys["crg-chair"]},
                             headers={"Sec-Fetch-Site": "same-origin"})
        assert answer.status_code == 403 and "rf_session" not in client.cookies


def test_a_change_needs_the_csrf_token_and_a_same_site_origin(console_db: engine.Database, keys: dict[str, str],
                                                              server: Server) -> None:
    case = start_case(console_db, "SIN-2027-100")
    task = case.user_tasks[0]
    client = sign_in(server, "bu-officer", keys["bu-officer"])
    token = csrf_of(client)
    before = table_counts(console_db)
    refused = [
        client.post(f"/tasks/{task.id}/claim", data={}, headers={"Sec-Fetch-Site": "same-origin"}),
        client.post(f"/tasks/{task.id}/claim", data={"csrf_token": "forged"},
                    headers={"Sec-Fetch-Site": "same-origin"}),
        client.post(f"/tasks/{task.id}/claim", data={"csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"}),
        client.post(f"/tasks/{task.id}/claim", data={"csrf_token": token}, headers={"Origin": "http://evil.example"}),
        client.post(f"/tasks/{task.id}/claim", data={"csrf_token": token}),          # says nowhere where it came from
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert table_counts(console_db) == before
    assert engine.get_user_task(console_db, task_id=task.id).assignee is None
    done = client.post(f"/tasks/{task.id}/claim", data={"csrf_token": token}, headers={"Origin": server.url})
    assert done.status_code == 303
    assert engine.get_user_task(console_db, task_id=task.id).assignee == "bu-officer"


def test_sign_out_ends_the_session_on_the_server(keys: dict[str, str], server: Server) -> None:
    client = sign_in(server, "crg-chair", keys["crg-chair"])
    cookie = client.cookies["rf_session"]
    out = client.post("/sign-out", data={"csrf_token": csrf_of(client)}, headers={"Sec-Fetch-Site": "same-origin"})
    assert out.status_code == 303 and out.headers["location"] == "/sign-in?notice=signed-out"
    with httpx.Client(base_url=server.url, cookies={"rf_session": cookie}, follow_redirects=False) as replay:
        assert replay.get("/tasks").status_code == 303                      # the old token is dead


def test_a_revoked_key_or_a_disabled_account_ends_the_session(console_db: engine.Database, server: Server) -> None:
    engine.create_principal(console_db, principal_id="temp", roles=["crg-member"], groups=["case-review-group"])
    first = engine.issue_key(console_db, principal_id="temp")
    second = engine.issue_key(console_db, principal_id="temp")
    by_first, by_second = sign_in(server, "temp", first.secret), sign_in(server, "temp", second.secret)
    engine.revoke_key(console_db, key_id=first.key.id)
    ended = by_first.get("/tasks")
    assert ended.status_code == 303 and ended.headers["location"].startswith("/sign-in?next=/tasks&notice=ended")
    assert by_second.get("/tasks").status_code == 200                       # only that key's session ends
    engine.disable_principal(console_db, principal_id="temp")
    assert by_second.get("/tasks").status_code == 303


def test_sessions_expire_when_idle_and_after_their_lifetime(keys: dict[str, str], server: Server) -> None:
    engine.clock.freeze(engine.clock.now())
    idle = sign_in(server, "crg-chair", keys["crg-chair"])
    engine.clock.advance(timedelta(minutes=29))
    assert idle.get("/tasks").status_code == 200
    engine.clock.advance(timedelta(minutes=29))                             # active: the idle clock restarted
    assert idle.get("/tasks").status_code == 200
    engine.clock.advance(timedelta(minutes=31))
    assert idle.get("/tasks").status_code == 303                            # 31 minutes idle
    busy = sign_in(server, "crg-chair", keys["crg-chair"])
    for _ in range(17):                                                     # 17 × 29 min = 8 h 13 min
        engine.clock.advance(timedelta(minutes=29))
        status = busy.get("/tasks").status_code
    assert status == 303                                                    # past the 8-hour lifetime


def test_role_changes_apply_and_permissions_match_the_api(console_db: engine.Database, keys: dict[str, str],
                                                          server: Server) -> None:
    case = start_case(console_db, "SIN-2027-101")
    lead = sign_in(server, "police-lead", keys["police-lead"])
    assert lead.get("/").headers["location"] == "/tasks"                  # no case list without read_instance
    assert lead.get("/reports/timeliness").status_code == 403
    assert lead.get("/definitions").status_code == 403
    assert lead.get(f"/cases/{case.id}").status_code == 403
    crg = sign_in(server, "crg-chair", keys["crg-chair"])
    incident_page = crg.get("/incidents")
    assert incident_page.status_code == 200 and "Retry" not in incident_page.text   # retry is for administrators
    assert crg.post("/incidents/00000000-0000-0000-0000-000000000000/retry", data={"csrf_token": csrf_of(crg)},
                    headers={"Sec-Fetch-Site": "same-origin"}).status_code == 403
