"""The partnership directory: agencies, people, the reviewer pool and where things are sent.

One TOML file (`partnership.toml`; `docs/partnership-directory.md` explains each field), read once
per process and checked whole by pydantic models: an unknown key, a wrong type, a duplicate id or a
person of an unknown agency is refused at load with the file and the TOML key named
(`[[people]] #6: email: …`), not discovered when the first task needs it.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    PrivateAttr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

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


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


def _http_url(value: str) -> str:
    TypeAdapter(HttpUrl).validate_python(value)      # raises with pydantic's own message
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Ident = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,63}$")]
Url = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_http_url)]
Optional = BeforeValidator(_empty_is_none)             # `key = ""` reads as "not set"
Texts = Annotated[tuple[Text, ...], Field(strict=False)]
Seconds = Annotated[float, Field(ge=1, le=300)]
Role = Literal["senior_manager", "business_unit", "crg_member", "crg_chair", "panel_chair", "partnership_chair",
               "safeguarding_partner", "learning_from_practice"]


class _Table(BaseModel):
    """A TOML table: unknown keys refused, no type coercion ("yes" is not true), immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _secret(info: ValidationInfo, name: str | None, what: str) -> str | None:
    """The value of the environment variable `name` (from the validation context)."""
    if name is None:
        return None
    environ: Mapping[str, str] = (info.context or {}).get("environ", os.environ)
    value = environ.get(name)
    if not value:
        raise ValueError(f"{what} is read from the environment variable {name}, which is not set")
    return value


class Agency(_Table):
    id: Ident
    name: Text
    lead_email: EmailStr
    senior_lead_email: Annotated[EmailStr | None, Optional] = None   # chases after the second go here
    statutory_partner: Literal["local_authority", "icb", "police"] | None = None
    also_known_as: Texts = ()

    def answers_to(self, name: str) -> bool:
        """True when a case names this agency `name` (its id, name or another name; any case)."""
        wanted = _norm(name)
        return wanted in {_norm(self.id), _norm(self.name), *(_norm(a) for a in self.also_known_as)}


class Person(_Table):
    id: Ident
    name: Text
    email: EmailStr
    agency: Ident
    roles: Annotated[tuple[Role, ...], Field(strict=False)] = ()
    involved_in: Texts = ()

    def is_involved_in(self, case_keys: Iterable[str | None]) -> bool:
        """Recorded as involved in the case known by any of `case_keys` (business key, case reference)."""
        keys = {_norm(k) for k in case_keys if k}
        return any(_norm(c) in keys for c in self.involved_in)


class Reviewer(_Table):
    id: Ident
    name: Text
    email: EmailStr
    user: Annotated[Ident | None, Optional] = None   # the reviewer's Reviewflow account (default: id)
    available: bool = True
    conflicts: Texts = ()


class Endpoint(_Table):
    """An optional outbound HTTP endpoint; `url` None means "write to the outbox/site folder instead".
    The token is never in the file: `token_env` names the environment variable that holds it."""

    url: Annotated[Url | None, Optional] = None
    token_env: Annotated[Text | None, Optional] = None
    timeout_seconds: Seconds = 15.0
    _token: str | None = PrivateAttr(default=None)

    @property
    def token(self) -> str | None:
        return self._token

    @model_validator(mode="after")
    def _read_token(self, info: ValidationInfo) -> Endpoint:
        if self.url is not None:
            self._token = _secret(info, self.token_env, "the token")
        return self

    @property
    def public_url(self) -> str | None:
        return None


class WebsiteEndpoint(Endpoint):
    public_url_: Annotated[Text | None, Optional] = Field(default=None, alias="public_url")

    @property
    def public_url(self) -> str | None:
        return self.public_url_


class Smtp(_Table):
    host: Text
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: Annotated[Text | None, Optional] = None
    password_env: Annotated[Text | None, Optional] = None
    timeout_seconds: Seconds = 30.0
    _password: str | None = PrivateAttr(default=None)

    @property
    def password(self) -> str | None:
        return self._password

    @model_validator(mode="after")
    def _read_password(self, info: ValidationInfo) -> Smtp:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("set both username and password_env, or neither")
        self._password = _secret(info, self.password_env, "the password")
        return self


class _Partnership(_Table):
    name: Text
    contact_email: EmailStr
    task_list_url: Url
    website: Annotated[Url | None, Optional] = None


class _Panel(_Table):
    meetings: Literal[3, 4] = 4
    meeting_time: Annotated[time, Field(strict=False)] = time(10, 0)
    meeting_minutes: Annotated[int, Field(ge=15, le=480)] = 120
    location: str = ""


class _Mail(_Table):
    model_config = ConfigDict(populate_by_name=True)
    sender: Annotated[Text | None, Optional] = Field(default=None, alias="from")
    smtp: Smtp | None = None


class _Folders(_Table):
    outbox: Annotated[Path, Optional, Field(strict=False)] = Path("var/outbox")
    site: Annotated[Path, Optional, Field(strict=False)] = Path("var/site")


class _Regulators(_Table):
    """Who besides the National Panel is told: the Secretary of State (the DfE) and Ofsted."""

    secretary_of_state_email: Annotated[EmailStr | None, Optional] = None
    ofsted_email: Annotated[EmailStr | None, Optional] = None
    ofsted_receives_pre_publication: bool = False


class _Documents(_Table):
    templates: Annotated[Annotated[Path, Field(strict=False)] | None, Optional] = None


class _File(_Table):
    """The whole file, as TOML reads it."""

    partnership: _Partnership
    agencies: Annotated[tuple[Agency, ...], Field(strict=False, min_length=1)]
    people: Annotated[tuple[Person, ...], Field(strict=False)] = ()
    reviewers: Annotated[tuple[Reviewer, ...], Field(strict=False)] = ()
    panel: _Panel = _Panel()
    national_panel: Endpoint = Endpoint()
    website: WebsiteEndpoint = WebsiteEndpoint()
    mail: _Mail = _Mail()
    folders: _Folders = _Folders()
    documents: _Documents = _Documents()
    regulators: _Regulators = _Regulators()

    @model_validator(mode="after")
    def _consistent(self) -> _File:
        seen: dict[str, str] = {}
        for table, entries in (("agencies", self.agencies), ("people", self.people), ("reviewers", self.reviewers)):
            for n, entry in enumerate(entries, 1):
                if entry.id in seen:
                    raise ValueError(f"[[{table}]] #{n}: id {entry.id!r} is used twice (also by {seen[entry.id]})")
                seen[entry.id] = f"[[{table}]] #{n}"
        names: dict[str, str] = {}
        for agency in self.agencies:
            for alias in (agency.id, agency.name, *agency.also_known_as):
                if names.setdefault(_norm(alias), agency.id) != agency.id:
                    raise ValueError(f"[[agencies]]: the name {alias!r} is used by two agencies")
        ids = {a.id for a in self.agencies}
        for n, person in enumerate(self.people, 1):
            if person.agency not in ids:
                raise ValueError(f"[[people]] #{n}: agency {person.agency!r} is not the id of an agency in "
                                 "[[agencies]]")
        return self


@dataclass(frozen=True)
class Directory:
    """Everything the handlers need to know about the partnership, read from one file (checked by
    the models above)."""

    name: str
    contact_email: str
    task_list_url: str
    website: str | None
    agencies: tuple[Agency, ...]
    people: tuple[Person, ...]
    reviewers: tuple[Reviewer, ...]
    national_panel: Endpoint = Endpoint()
    publishing: Endpoint = WebsiteEndpoint()
    mail_from: str = ""
    smtp: Smtp | None = None
    outbox: Path = Path("var/outbox")
    site: Path = Path("var/site")
    panel_meetings: int = 4
    panel_meeting_time: time = time(10, 0)
    panel_meeting_minutes: int = 120
    panel_meeting_location: str = ""
    templates: Path | None = None          # the partnership's Word templates (else the defaults in bpmn/templates)
    source: Path | None = None
    secretary_of_state_email: str | None = None
    ofsted_email: str | None = None
    ofsted_receives_pre_publication: bool = False

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

    Raises: DirectoryError naming the file and every offending key.
    """
    # the one read of the environment outside settings: the secrets the file names
    env = os.environ if environ is None else environ
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DirectoryError(f"{path}: cannot read ({type(exc).__name__})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DirectoryError(f"{path}: not valid TOML: {exc}") from exc
    try:
        f = _File.model_validate(data, context={"environ": env})
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors(include_url=False, include_input=False))
        raise DirectoryError(f"{path}: {problems}") from None
    return Directory(
        name=f.partnership.name, contact_email=f.partnership.contact_email, task_list_url=f.partnership.task_list_url,
        website=f.partnership.website, agencies=f.agencies, people=f.people, reviewers=f.reviewers,
        national_panel=f.national_panel, publishing=f.website, mail_from=f.mail.sender or f.partnership.contact_email,
        smtp=f.mail.smtp, outbox=f.folders.outbox, site=f.folders.site, panel_meetings=f.panel.meetings,
        panel_meeting_time=f.panel.meeting_time, panel_meeting_minutes=f.panel.meeting_minutes,
        panel_meeting_location=f.panel.location.strip(), templates=f.documents.templates, source=path,
        secretary_of_state_email=f.regulators.secretary_of_state_email, ofsted_email=f.regulators.ofsted_email,
        ofsted_receives_pre_publication=f.regulators.ofsted_receives_pre_publication)


def _problem(error: Mapping[str, Any]) -> str:
    """One pydantic error as the TOML key it is about: `[[people]] #6: email: value is not …`."""
    loc = [part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-"))]
    if error["type"] == "value_error" and not loc or error["type"] == "value_error" and loc == ["__root__"]:
        return str(error["msg"]).removeprefix("Value error, ")
    tables: list[str] = []
    where = ""
    keys: list[str] = []
    for part in loc:
        if isinstance(part, int):
            if keys:                       # an item of a list of values: roles[2]
                keys[-1] += f"[{part + 1}]"
            else:
                where = f"[[{'.'.join(tables)}]] #{part + 1}"
                tables = []
        elif not keys and part in {"partnership", "agencies", "people", "reviewers", "panel", "national_panel",
                                   "website", "mail", "smtp", "folders", "documents"} and not where:
            tables.append(part)
        else:
            keys.append(part)
    if not where:
        lists = len(tables) == 1 and tables[0] in {"agencies", "people", "reviewers"}
        where = (f"[[{tables[0]}]]" if lists else f"[{'.'.join(tables)}]") if tables else "the file"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (a typo?)"
    key = ".".join(keys)
    if error["type"] == "missing":
        return f"{where}: {key} is required" if key else f"{where} is required"
    return f"{where}: {key}: {message}" if key else f"{where}: {message}"
