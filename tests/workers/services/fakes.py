"""Fake outbound services on 127.0.0.1 that record what they receive: the National Panel, the
partnership website, the engine's document endpoints, and an SMTP server. Real sockets, real HTTP."""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import socketserver
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "test-token"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def of(cls, status: int, value: Any) -> Answer:
        return cls(status, json.dumps(value).encode())


class FakeServer:
    """A ThreadingHTTPServer in a thread; subclasses implement `answer(request) -> Answer`."""

    def __init__(self, token: str | None = TOKEN) -> None:
        self.token = token
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                request = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                   self.rfile.read(length) if length else b"")
                with fake.lock:
                    fake.requests.append(request)
                if fake.token is not None and request.headers.get("authorization") != f"Bearer {fake.token}":
                    answer = Answer.of(401, {"code": "UNAUTHORIZED"})
                else:
                    answer = fake.answer(request)
                self.send_response(answer.status)
                self.send_header("content-type", answer.content_type)
                self.send_header("content-length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, request: Recorded) -> Answer:
        raise NotImplementedError


class FakeNationalPanel(FakeServer):
    """POST /submissions with an Idempotency-Key: one submission per key, the same receipt again for a
    repeated key. `lose_next_response()` stores the next submission but answers 503, as when the
    answer is lost on the way back; `reject_next(status)` refuses the next one."""

    def __init__(self) -> None:
        super().__init__()
        self.submissions: dict[str, dict[str, Any]] = {}
        self._receipts = (f"NP-{n:05d}" for n in itertools.count(1))
        self._lose = 0
        self._reject: int | None = None

    @property
    def submit_url(self) -> str:
        return f"{self.url}/submissions"

    def lose_next_response(self) -> None:
        self._lose += 1

    def reject_next(self, status: int) -> None:
        self._reject = status

    def answer(self, request: Recorded) -> Answer:
        key = request.headers.get("idempotency-key")
        if request.method != "POST" or request.path != "/submissions" or not key:
            return Answer.of(400, {"code": "BAD_REQUEST"})
        with self.lock:
            if self._reject is not None:
                status, self._reject = self._reject, None
                return Answer.of(status, {"code": "INVALID_SUBMISSION", "message": "free text the worker must not log"})
            if key not in self.submissions:
                self.submissions[key] = {"receipt_id": next(self._receipts), "body": request.json()}
            stored = self.submissions[key]
            if self._lose:
                self._lose -= 1
                return Answer.of(503, {"code": "UNAVAILABLE"})
        return Answer.of(201, {"receipt_id": stored["receipt_id"], "received_at": "2026-01-05T10:00:00Z"})


class FakeWebsite(FakeServer):
    """POST /pages: records each publication by Idempotency-Key; answers the page's URL."""

    def __init__(self) -> None:
        super().__init__()
        self.publications: dict[str, dict[str, Any]] = {}

    @property
    def pages_url(self) -> str:
        return f"{self.url}/pages"

    def answer(self, request: Recorded) -> Answer:
        key = request.headers.get("idempotency-key")
        if request.method != "POST" or request.path != "/pages" or not key:
            return Answer.of(400, {"code": "BAD_REQUEST"})
        body = request.json()
        with self.lock:
            self.publications.setdefault(key, body)
        return Answer.of(201, {"url": f"https://www.northbridgescp.example/{body['slug']}/"})


@dataclass
class StoredFile:
    id: str
    kind: str | None
    filename: str
    content_type: str
    content: bytes


class FakeEngineDocuments(FakeServer):
    """The engine's worker document endpoints under /engine-rest/external-task/{task}/documents."""

    def __init__(self) -> None:
        super().__init__()
        self.documents: dict[str, StoredFile] = {}

    @property
    def engine_url(self) -> str:
        return f"{self.url}/engine-rest"

    def add(self, content: bytes | str, *, filename: str, content_type: str, kind: str | None = None) -> str:
        data = content.encode() if isinstance(content, str) else content
        doc = StoredFile(str(uuid.uuid4()), kind, filename, content_type, data)
        self.documents[doc.id] = doc
        return doc.id

    def of_kind(self, kind: str) -> list[StoredFile]:
        return [d for d in self.documents.values() if d.kind == kind]

    def uploads(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST"]

    def answer(self, request: Recorded) -> Answer:
        match = re.fullmatch(r"/engine-rest/external-task/([^/]+)/documents(?:/([^/]+))?", request.path)
        if match is None:
            return Answer.of(404, {"type": "NotFound", "message": "no such route"})
        document_id = match.group(2)
        if request.method == "GET" and document_id is None:
            return Answer.of(200, [{"id": d.id, "kind": d.kind, "filename": d.filename, "contentType": d.content_type,
                                    "size": len(d.content)} for d in self.documents.values()])
        if request.method == "GET":
            doc = self.documents.get(document_id)
            if doc is None:
                return Answer.of(404, {"type": "NotFound", "message": f"no document {document_id}"})
            return Answer(200, doc.content, doc.content_type)
        if request.method == "POST" and document_id is None:
            parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.body)
            fields: dict[str, Any] = {}
            for part in parsed.iter_parts():
                name = part.get_param("name", header="content-disposition")
                fields[name] = (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            if "file" not in fields:
                return Answer.of(400, {"type": "InvalidRequestException", "message": "no file"})
            filename, content_type, content = fields["file"]
            kind = fields.get("kind", (None, None, b""))[2].decode() or None
            with self.lock:
                new_id = self.add(content, filename=filename, content_type=content_type, kind=kind)
            return Answer.of(201, {"id": new_id, "filename": filename, "contentType": content_type,
                                   "size": len(content)})
        return Answer.of(405, {"type": "MethodNotAllowed"})


@dataclass
class Delivered:
    sender: str
    recipients: list[str]
    data: bytes

    def message(self) -> email.message.EmailMessage:
        return email.parser.BytesParser(policy=email.policy.default).parsebytes(self.data)  # type: ignore[return-value]


@dataclass
class FakeSmtp:
    """A minimal SMTP server (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that records each message."""

    delivered: list[Delivered] = field(default_factory=list)
    refuse_with: int | None = None
    on_data: Callable[[Delivered], None] | None = None

    def __post_init__(self) -> None:
        fake = self

        class Session(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 fake.smtp ESMTP")
                sender, recipients = "", []
                while line := self.rfile.readline():
                    command = line.decode().strip()
                    verb = command[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-fake.smtp\r\n250 8BITMIME")
                    elif verb == "MAIL":
                        sender = command.split(":", 1)[1].strip().strip("<>").split(">")[0]
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        if fake.refuse_with:
                            self.reply(f"{fake.refuse_with} refused")
                            continue
                        self.reply("354 go ahead")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        fake.delivered.append(Delivered(sender, recipients, data))
                        sender, recipients = "", []
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 OK")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> FakeSmtp:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- a small partnership directory for tests ---------------------------------------------------------

DIRECTORY = """
[partnership]
name = "Northbridge Safeguarding Children Partnership"
contact_email = "unit@scp.example"
task_list_url = "https://reviewflow.scp.example/tasks"
website = "https://www.scp.example"

[panel]
meetings = 4
meeting_time = "10:00"
meeting_minutes = 90

[[agencies]]
id = "council"
name = "Northbridge Council"
statutory_partner = "local_authority"
lead_email = "lead@council.example"
senior_lead_email = "director@council.example"
also_known_as = ["Local authority", "Children's Social Care"]

[[agencies]]
id = "icb"
name = "Northbridge ICB"
statutory_partner = "icb"
lead_email = "lead@icb.example"
also_known_as = ["Health"]

[[agencies]]
id = "police"
name = "Northbridge Police"
statutory_partner = "police"
lead_email = "lead@police.example"
also_known_as = ["Police"]

[[agencies]]
id = "school"
name = "Northbridge Academy"
lead_email = "lead@school.example"
also_known_as = ["Education"]

[[people]]
id = "unit"
name = "Una Unit"
email = "una@scp.example"
agency = "council"
roles = ["business_unit"]

[[people]]
id = "chair"
name = "Charles Chair"
email = "chair@scp.example"
agency = "council"
roles = ["partnership_chair"]

[[people]]
id = "crg-chair"
name = "Cora Group"
email = "cora@council.example"
agency = "council"
roles = ["crg_chair"]

[[people]]
id = "lara"
name = "Lara Involved"
email = "lara@council.example"
agency = "council"
roles = ["senior_manager"]
involved_in = ["NB-TEST-1"]

[[people]]
id = "luke"
name = "Luke Free"
email = "luke@council.example"
agency = "council"
roles = ["senior_manager", "safeguarding_partner"]

[[people]]
id = "ina"
name = "Ina Health"
email = "ina@icb.example"
agency = "icb"
roles = ["senior_manager", "safeguarding_partner"]

[[people]]
id = "pat"
name = "Pat Police"
email = "pat@police.example"
agency = "police"
roles = ["senior_manager", "safeguarding_partner"]

[[people]]
id = "sol"
name = "Sol School"
email = "sol@school.example"
agency = "school"
roles = ["senior_manager"]
involved_in = ["NB-TEST-2"]
{extra_people}
[[reviewers]]
id = "rev-police"
name = "Rita Conflicted"
email = "rita@reviews.example"
available = true
conflicts = ["police"]

[[reviewers]]
id = "rev-away"
name = "Ravi Away"
email = "ravi@reviews.example"
available = false

[[reviewers]]
id = "rev-lara"
name = "Rosa Knows-Lara"
email = "rosa@reviews.example"
available = true
conflicts = ["lara"]

[[reviewers]]
id = "rev-free"
name = "Reece Free"
email = "reece@reviews.example"
available = true
conflicts = ["NB-OTHER-9"]
{reviewer_user}
[regulators]
secretary_of_state_email = "cspr@education.example"
ofsted_email = "enquiries@ofsted.example"
ofsted_receives_pre_publication = true

[national_panel]
url = "{national_panel_url}"
token_env = "TEST_PANEL_TOKEN"

[website]
url = "{website_url}"
token_env = "TEST_WEBSITE_TOKEN"

[mail]
from = "Reviews <no-reply@scp.example>"
{smtp}
[folders]
outbox = "{outbox}"
site = "{site}"
"""


def write_directory(folder: Any, *, national_panel_url: str = "", website_url: str = "", smtp_port: int | None = None,
                    extra_people: str = "", reviewer_user: str = "") -> Any:
    """Write the test directory into `folder` (a Path); returns the file's path."""
    smtp = f'[mail.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n' if smtp_port else ""
    text = DIRECTORY.format(national_panel_url=national_panel_url, website_url=website_url, smtp=smtp,
                            outbox=(folder / "outbox").as_posix(), site=(folder / "site").as_posix(),
                            extra_people=extra_people,
                            reviewer_user=f'user = "{reviewer_user}"\n' if reviewer_user else "")
    path = folder / "partnership.toml"
    path.write_text(text, encoding="utf-8")
    return path


ENVIRONMENT = {"TEST_PANEL_TOKEN": TOKEN, "TEST_WEBSITE_TOKEN": TOKEN}
