"""The partnership directory: agencies, people, the reviewer pool and where things are sent.

One TOML file (`partnership.toml`; `docs/partnership-directory.md` explains each field), read once
per process and checked whole: an unknown key, a duplicate id or a person of an unknown agency is
refused at load with the file and the key named, not discovered when the first task needs it.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from workers.services._errors import DirectoryError

__all__ = [
    "ROLES",
    "STATUTORY_PARTNERS",
    "Agency",
    "Directory",
    "Endpoint",
    "Person",
    "Reviewer",
    "Smtp",
    "load_directory",
    "resolve_directory_path",
]

log = logging.getLogger(__name__)

STATUTORY_PARTNERS = {
    "local_authority": "local authority",
    "icb": "integrated care board",
    "police": "police",
}
"""The three safeguarding partners (Children Act 2004 s16E), as `statutory_partner` values."""

ROLES = {
    "senior_manager": "may sit on an LCSPR panel for their agency",
    "business_unit": "the partnership's business unit: copied on deadlines, chases and commissions",
    "crg_member": "a member of the Case Review Group",
    "crg_chair": "chairs the Case Review Group: Rapid Review reminders",
    "panel_chair": "may chair an LCSPR panel: LCSPR deadline reminders",
    "partnership_chair": "the partnership's (independent) chair: escalations",
    "safeguarding_partner": "a lead or delegated safeguarding partner: escalations",
    "learning_from_practice": "a member of the Learning from Practice sub-group",
}

_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    lead_email: str
    statutory_partner: str | None = None
    also_known_as: tuple[str, ...] = ()

    def answers_to(self, name: str) -> bool:
        """True when a case names this agency `name` (its id, name or another name; any case)."""
        wanted = _norm(name)
        return wanted in {_norm(self.id), _norm(self.name), *(_norm(a) for a in self.also_known_as)}


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str
    agency: str
    roles: tuple[str, ...] = ()
    involved_in: tuple[str, ...] = ()

    def is_involved_in(self, case_keys: Iterable[str | None]) -> bool:
        """Recorded as involved in the case known by any of `case_keys` (business key, case reference)."""
        keys = {_norm(k) for k in case_keys if k}
        return any(_norm(c) in keys for c in self.involved_in)


@dataclass(frozen=True)
class Reviewer:
    id: str
    name: str
    email: str
    available: bool = True
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Endpoint:
    """An optional outbound HTTP endpoint; `url` None means "write to the outbox/site folder instead"."""

    url: str | None = None
    token_env: str | None = None
    token: str | None = field(default=None, repr=False)
    timeout_seconds: float = 15.0
    public_url: str | None = None   # website only: base of the URLs of pages written to the site folder


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int = 587
    security: str = "starttls"      # starttls | ssl | none
    username: str | None = None
    password_env: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class Directory:
    """Everything the handlers need to know about the partnership, read from one file."""

    name: str
    contact_email: str
    task_list_url: str
    website: str | None
    agencies: tuple[Agency, ...]
    people: tuple[Person, ...]
    reviewers: tuple[Reviewer, ...]
    national_panel: Endpoint = Endpoint()
    publishing: Endpoint = Endpoint()
    mail_from: str = ""
    smtp: Smtp | None = None
    outbox: Path = Path("var/outbox")
    site: Path = Path("var/site")
    panel_meetings: int = 4
    panel_meeting_time: time = time(10, 0)
    panel_meeting_minutes: int = 120
    panel_meeting_location: str = ""
    source: Path | None = None

    # -- look-ups ------------------------------------------------------------------------------

    def agency(self, name: str) -> Agency | None:
        """The agency a case calls `name` (by id, name or another name), or None."""
        return next((a for a in self.agencies if a.answers_to(name)), None)

    def agencies_named(self, names: Iterable[str]) -> list[Agency]:
        """The agencies a case names, in order, each once.

        Raises: DirectoryError naming every name the directory does not know.
        """
        found: list[Agency] = []
        unknown: list[str] = []
        for name in names:
            agency = self.agency(name)
            if agency is None:
                unknown.append(name)
            elif agency not in found:
                found.append(agency)
        if unknown:
            raise DirectoryError(f"the partnership directory has no agency called {', '.join(map(repr, unknown))}; "
                                 f"add it (or the name under also_known_as) to {self.source or 'the directory'}")
        return found

    def statutory_partner(self, kind: str) -> list[Agency]:
        return [a for a in self.agencies if a.statutory_partner == kind]

    def people_with_role(self, role: str, agency: str | None = None) -> list[Person]:
        return [p for p in self.people if role in p.roles and (agency is None or p.agency == agency)]

    def agency_by_id(self, agency_id: str) -> Agency:
        return next(a for a in self.agencies if a.id == agency_id)

    def business_unit_emails(self) -> list[str]:
        """The business unit's people, or the partnership's contact address when none is listed."""
        return [p.email for p in self.people_with_role("business_unit")] or [self.contact_email]


# -- loading -------------------------------------------------------------------------------------


def resolve_directory_path(configured: Path | None, cwd: Path | None = None) -> Path:
    """The directory file to read: `configured`, else `partnership.toml`, else the example (with a
    warning). Raises: DirectoryError when none exists."""
    base = cwd or Path.cwd()
    if configured is not None:
        path = configured if configured.is_absolute() else base / configured
        if not path.is_file():
            raise DirectoryError(f"partnership directory {path} does not exist")
        return path
    default, example = base / "partnership.toml", base / "partnership.example.toml"
    if default.is_file():
        return default
    if example.is_file():
        log.warning("no partnership.toml: using partnership.example.toml, a fictional partnership; "
                    "set REVIEWFLOW_WORKER_DIRECTORY or create partnership.toml")
        return example
    raise DirectoryError(f"no partnership directory: create {default} (see docs/partnership-directory.md) "
                         "or set REVIEWFLOW_WORKER_DIRECTORY")


def load_directory(path: Path, *, environ: Mapping[str, str] | None = None) -> Directory:
    """Read and check a directory file. Secrets are read from the environment variables it names
    (`token_env`, `password_env`) — `environ`, by default the process's.

    Raises: DirectoryError naming the file and the offending key.
    """
    # the one read of the environment outside settings: the secrets the file names
    env = os.environ if environ is None else environ
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DirectoryError(f"{path}: cannot read ({type(exc).__name__})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DirectoryError(f"{path}: not valid TOML: {exc}") from exc
    return _Reader(path, env).directory(data)


class _Reader:
    def __init__(self, path: Path, env: Mapping[str, str]) -> None:
        self.path = path
        self.env = env

    def fail(self, where: str, message: str) -> DirectoryError:
        return DirectoryError(f"{self.path}: {where}: {message}")

    def table(self, data: Any, where: str, allowed: set[str], required: Iterable[str] = ()) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, "expected a table")
        if unknown := sorted(set(data) - allowed):
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")
        if missing := sorted(set(required) - set(data)):
            raise self.fail(where, f"missing {', '.join(missing)}")
        return data

    def text(self, data: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
        value = data.get(key)
        if value is None or (optional and value == ""):
            if optional:
                return None
            raise self.fail(where, f"{key} is required")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"{key} must be a non-empty string")
        return value.strip()

    def email(self, data: Mapping[str, Any], key: str, where: str) -> str:
        value = self.text(data, key, where)
        assert value is not None
        if not _EMAIL.fullmatch(value):
            raise self.fail(where, f"{key} is not an email address")
        return value

    def strings(self, data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(where, f"{key} must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def number(self, data: Mapping[str, Any], key: str, where: str, default: float, low: float,
               high: float) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise self.fail(where, f"{key} must be a number from {low:g} to {high:g}")
        return float(value)

    def ident(self, data: Mapping[str, Any], where: str, seen: set[str]) -> str:
        value = self.text(data, "id", where)
        assert value is not None
        if not _ID.fullmatch(value):
            raise self.fail(where, "id must be lower-case letters, digits, '.', '_' or '-' (at most 64)")
        if value in seen:
            raise self.fail(where, f"id {value!r} is used twice")
        seen.add(value)
        return value

    def secret(self, name: str | None, where: str, what: str) -> str | None:
        if name is None:
            return None
        value = self.env.get(name)
        if not value:
            raise self.fail(where, f"{what} is read from the environment variable {name}, which is not set")
        return value

    def endpoint(self, data: Any, where: str, *, website: bool = False) -> Endpoint:
        allowed = {"url", "token_env", "timeout_seconds"} | ({"public_url"} if website else set())
        data = self.table(data, where, allowed)
        url = self.text(data, "url", where, optional=True)
        if url is not None and not re.match(r"https?://", url):
            raise self.fail(where, "url must start with http:// or https://")
        token_env = self.text(data, "token_env", where, optional=True)
        return Endpoint(url=url, token_env=token_env,
                        token=self.secret(token_env, where, "the token") if url else None,
                        timeout_seconds=self.number(data, "timeout_seconds", where, 15, 1, 300),
                        public_url=self.text(data, "public_url", where, optional=True) if website else None)

    def directory(self, data: dict[str, Any]) -> Directory:
        self.table(data, "the file", {"partnership", "panel", "agencies", "people", "reviewers", "national_panel",
                                      "website", "mail", "folders"}, {"partnership", "agencies"})
        top = self.table(data["partnership"], "[partnership]", {"name", "contact_email", "task_list_url", "website"},
                         {"name", "contact_email", "task_list_url"})
        ids: set[str] = set()
        agencies = []
        for n, raw in enumerate(self._list(data, "agencies")):
            where = f"[[agencies]] #{n + 1}"
            item = self.table(raw, where, {"id", "name", "lead_email", "statutory_partner", "also_known_as"},
                              {"id", "name", "lead_email"})
            partner = self.text(item, "statutory_partner", where, optional=True)
            if partner is not None and partner not in STATUTORY_PARTNERS:
                raise self.fail(where, f"statutory_partner must be one of {', '.join(STATUTORY_PARTNERS)}")
            agencies.append(Agency(id=self.ident(item, where, ids), name=str(self.text(item, "name", where)),
                                   lead_email=self.email(item, "lead_email", where), statutory_partner=partner,
                                   also_known_as=self.strings(item, "also_known_as", where)))
        names: dict[str, str] = {}
        for agency in agencies:
            for alias in (agency.id, agency.name, *agency.also_known_as):
                if names.setdefault(_norm(alias), agency.id) != agency.id:
                    raise self.fail("[[agencies]]", f"the name {alias!r} is used by two agencies")
        people = []
        for n, raw in enumerate(self._list(data, "people")):
            where = f"[[people]] #{n + 1}"
            item = self.table(raw, where, {"id", "name", "email", "agency", "roles", "involved_in"},
                              {"id", "name", "email", "agency"})
            agency_id = self.text(item, "agency", where)
            if agency_id not in {a.id for a in agencies}:
                raise self.fail(where, f"agency {agency_id!r} is not the id of an agency in [[agencies]]")
            roles = self.strings(item, "roles", where)
            if unknown := sorted(set(roles) - set(ROLES)):
                raise self.fail(where, f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}")
            people.append(Person(id=self.ident(item, where, ids), name=str(self.text(item, "name", where)),
                                 email=self.email(item, "email", where), agency=str(agency_id), roles=roles,
                                 involved_in=self.strings(item, "involved_in", where)))
        reviewers = []
        for n, raw in enumerate(self._list(data, "reviewers")):
            where = f"[[reviewers]] #{n + 1}"
            item = self.table(raw, where, {"id", "name", "email", "available", "conflicts"}, {"id", "name", "email"})
            available = item.get("available", True)
            if not isinstance(available, bool):
                raise self.fail(where, "available must be true or false")
            reviewers.append(Reviewer(id=self.ident(item, where, ids), name=str(self.text(item, "name", where)),
                                      email=self.email(item, "email", where), available=available,
                                      conflicts=self.strings(item, "conflicts", where)))
        panel = self.table(data.get("panel", {}), "[panel]",
                           {"meetings", "meeting_time", "meeting_minutes", "location"})
        meetings = panel.get("meetings", 4)
        if meetings not in (3, 4) or isinstance(meetings, bool):
            raise self.fail("[panel]", "meetings must be 3 or 4")
        try:
            meeting_time = time.fromisoformat(str(panel.get("meeting_time", "10:00")))
        except ValueError:
            raise self.fail("[panel]", "meeting_time must be HH:MM, e.g. \"10:00\"") from None
        mail = self.table(data.get("mail", {}), "[mail]", {"from", "smtp"})
        smtp = None
        if "smtp" in mail:
            raw = self.table(mail["smtp"], "[mail.smtp]", {"host", "port", "security", "username", "password_env",
                                                           "timeout_seconds"}, {"host"})
            security = raw.get("security", "starttls")
            if security not in ("starttls", "ssl", "none"):
                raise self.fail("[mail.smtp]", "security must be starttls, ssl or none")
            password_env = self.text(raw, "password_env", "[mail.smtp]", optional=True)
            username = self.text(raw, "username", "[mail.smtp]", optional=True)
            if (username is None) != (password_env is None):
                raise self.fail("[mail.smtp]", "set both username and password_env, or neither")
            smtp = Smtp(host=str(self.text(raw, "host", "[mail.smtp]")),
                        port=int(self.number(raw, "port", "[mail.smtp]", 587, 1, 65535)), security=security,
                        username=username, password_env=password_env,
                        password=self.secret(password_env, "[mail.smtp]", "the password"),
                        timeout_seconds=self.number(raw, "timeout_seconds", "[mail.smtp]", 30, 1, 300))
        folders = self.table(data.get("folders", {}), "[folders]", {"outbox", "site"})
        contact = self.email(top, "contact_email", "[partnership]")
        mail_from = self.text(mail, "from", "[mail]", optional=True) or contact
        task_list_url = str(self.text(top, "task_list_url", "[partnership]"))
        if not re.match(r"https?://", task_list_url):
            raise self.fail("[partnership]", "task_list_url must start with http:// or https://")
        return Directory(
            name=str(self.text(top, "name", "[partnership]")), contact_email=contact, task_list_url=task_list_url,
            website=self.text(top, "website", "[partnership]", optional=True),
            agencies=tuple(agencies), people=tuple(people), reviewers=tuple(reviewers),
            national_panel=self.endpoint(data.get("national_panel", {}), "[national_panel]"),
            publishing=self.endpoint(data.get("website", {}), "[website]", website=True),
            mail_from=mail_from, smtp=smtp,
            outbox=Path(self.text(folders, "outbox", "[folders]", optional=True) or "var/outbox"),
            site=Path(self.text(folders, "site", "[folders]", optional=True) or "var/site"),
            panel_meetings=int(meetings), panel_meeting_time=meeting_time,
            panel_meeting_minutes=int(self.number(panel, "meeting_minutes", "[panel]", 120, 15, 480)),
            panel_meeting_location=self.text(panel, "location", "[panel]", optional=True) or "",
            source=self.path,
        )

    def _list(self, data: Mapping[str, Any], key: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(f"[[{key}]]", "expected an array of tables ([[" + key + "]])")
        return value
