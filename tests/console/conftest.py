"""The console in a real browser: Debian's Chromium (/usr/bin/chromium, never a downloaded one)
driven by Playwright, against the real app on 127.0.0.1 over the real diagrams in bpmn/. Every
page a test visits is checked with axe-core and must raise no Content-Security-Policy violation;
each test leaves a screenshot under var/screenshots/console/."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import engine
from api.cli import deploy_directory
from api.settings import ServerSettings
from tests.conftest import Server

WORKER = engine.Actor.system("worker")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "console" / "dist" / "test" / "axe.min.js"
SHOTS = ROOT / "var" / "screenshots" / "console"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

PEOPLE = {   # id: (roles, groups, organisation)
    "bu-officer": (["business-unit"], ["business-unit", "case-review-group"], None),
    "crg-chair": (["crg-member"], ["case-review-group"], None),
    "police-lead": (["agency-lead"], ["agency-leads"], "Police"),
    "icb-lead": (["agency-lead"], ["agency-leads"], "Integrated care board"),
    "admin": (["admin"], [], None),
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for a module: Playwright's sync API holds an event loop while it runs, which
    would stop later tests from calling asyncio.run()."""
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (.ci/run installs it)")
    if not AXE.exists():
        pytest.fail("the console's assets are not built: make assets")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


@dataclass
class Console:
    """A person's browser on the console: visits pages, checks each with axe-core, collects CSP
    violations and page errors, and saves screenshots."""

    server: Server
    page: Any
    name: str
    problems: list[str] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)

    def url(self, path: str) -> str:
        return self.server.url + path

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.url(path))
        self.page.wait_for_load_state("networkidle")
        self.audit()
        return response

    def audit(self) -> None:
        """axe-core on the page as it stands: no serious or critical violation of WCAG 2.2 A/AA."""
        path = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "{id}", self.page.url.removeprefix(self.server.url))
        self.page.evaluate(AXE.read_text())                          # CDP evaluation: not inline script
        result = self.page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
        for v in result["violations"]:
            if v["impact"] in ("serious", "critical"):
                targets = [n["target"] for n in v["nodes"]][:3]
                self.problems.append(f"axe {v['id']} ({v['impact']}) on {path}: {v['help']} at {targets}")
        self.checked.add(path.split("?")[0])

    def shot(self, label: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        out = SHOTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(out), full_page=True)
        return out

    def sign_in(self, user: str, key: str) -> None:
        self.goto("/sign-in")
        self.page.fill("#user", user)
        self.page.fill("#key", key)
        self.page.click("button:has-text('Sign in')")
        self.page.wait_for_load_state("networkidle")

    def sign_out(self) -> None:
        self.page.click("button:has-text('Sign out')")
        self.page.wait_for_load_state("networkidle")


@pytest.fixture
def console_db(db: engine.Database) -> engine.Database:
    deploy_directory(db, ROOT / "bpmn")
    return db


@pytest.fixture
def keys(console_db: engine.Database) -> dict[str, str]:
    out = {}
    for name, (roles, groups, organisation) in PEOPLE.items():
        engine.create_principal(console_db, principal_id=name, roles=roles, groups=groups,
                                organisation=organisation)
        out[name] = engine.issue_key(console_db, principal_id=name).secret
    engine.create_principal(console_db, principal_id="worker", roles=["worker"], kind="worker")
    return out


@pytest.fixture
def console_server(console_db: engine.Database) -> Iterator[Server]:
    settings = ServerSettings(timers=False, bpmn_dir=ROOT / "bpmn")
    srv = Server(console_db, settings).start()
    yield srv
    srv.stop()


@pytest.fixture
def open_console(browser: Any, console_server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    """open_console("who") -> a Console in a fresh browser context (its own cookies)."""
    opened: list[tuple[Any, Console]] = []

    def _open(who: str) -> Console:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                      accept_downloads=True)
        page = context.new_page()
        console = Console(console_server, page, f"{request.node.name}-{who}")

        def on_console(message: Any) -> None:
            if "Failed to load resource" in message.text:          # pages answering 4xx on purpose: see below
                return
            if "Content Security Policy" in message.text or message.type == "error":
                console.problems.append(f"browser console: {message.text}")

        def on_response(response: Any) -> None:                    # every script, style, diagram loads
            if response.request.resource_type != "document" and response.status >= 400:
                console.problems.append(f"{response.status} for {response.request.resource_type} {response.url}")

        page.on("console", on_console)
        page.on("response", on_response)
        page.on("pageerror", lambda error: console.problems.append(f"page error: {error}"))
        opened.append((context, console))
        return console

    yield _open
    for context, console in opened:
        try:
            console.shot("last")
        finally:
            context.close()
    problems = [p for _, c in opened for p in c.problems]
    assert problems == [], "\n".join(problems)


def start_case(db: engine.Database, business_key: str, **variables: Any) -> engine.InstanceInfo:
    """A Rapid Review case opened by the business unit, its notification recorded when variables are given."""
    case = engine.start_instance(db, actor=engine.Actor.system("bu-officer"), definition_key="rapid_review",
                                 business_key=business_key)
    if variables:
        task = case.user_tasks[0]
        case = engine.complete_user_task(db, actor=engine.Actor("bu-officer", frozenset({"business-unit"})),
                                         task_id=task.id, variables=variables)
    return case


def sin(sin_sent_on: str, became_aware_on: str, agencies: list[str] | None = None) -> dict[str, Any]:
    return {"case_reference": "CR-1", "became_aware_on": became_aware_on, "sin_sent_on": sin_sent_on,
            "incident_type": "serious_harm", "child_looked_after": False,
            "agencies": agencies or ["Police", "Integrated care board"], "confidential_names": ["Child Q"]}


def work_external(db: engine.Database, topic: str, **variables: Any) -> int:
    """Play the worker for one topic: complete every task of it that is open."""
    done = 0
    for locked in engine.fetch_and_lock(db, actor=WORKER, worker_id="worker",
                                        topics=[engine.TopicRequest(topic, 60_000)], max_tasks=50).tasks:
        engine.complete_external_task(db, actor=WORKER, task_id=locked.task.id, worker_id="worker", variables=variables)
        done += 1
    return done
