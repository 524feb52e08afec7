"""Authentication (API keys, OpenID Connect bearer tokens, HTTP Basic with a key) and the role ->
permission map. Routes declare what they need with `Need(Permission.X)`; case-level need-to-know is
the engine's (the actor carries groups, organisation and whether a role grants every case).
"""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request

import engine
from api.threads import run_engine


class Permission(StrEnum):
    DEPLOY = "deploy"
    READ_DEFINITIONS = "read_definitions"  # deployed diagrams and their versions: no case data
    MIGRATE = "migrate"                    # move open cases to another version (sees where they wait, nothing more)
    START = "start"                        # start cases, send messages, cancel
    READ_INSTANCE = "read_instance"        # case data: variables, history, documents, incidents
    ALL_CASES = "all_cases"                # need-to-know does not apply
    WORK_TASKS = "work_tasks"
    MANAGE_TASKS = "manage_tasks"          # give a task to another candidate, or take it back
    WORK_EXTERNAL_TASKS = "work_external_tasks"
    ADMINISTER = "administer"              # incidents, retries, principals and keys
    REPAIR = "repair"                      # change a case by hand: variables, tokens, suspension (with a reason)
    READ_AUDIT = "read_audit"


P = Permission
ROLES: dict[str, frozenset[Permission]] = {
    "admin": frozenset(P),
    "process-owner": frozenset({P.DEPLOY, P.READ_DEFINITIONS, P.MIGRATE}),     # no case data
    "business-unit": frozenset({P.START, P.READ_INSTANCE, P.READ_DEFINITIONS, P.ALL_CASES, P.WORK_TASKS,
                                P.MANAGE_TASKS, P.ADMINISTER}),
    "crg-member": frozenset({P.START, P.READ_INSTANCE, P.READ_DEFINITIONS, P.WORK_TASKS}),
    "panel-member": frozenset({P.READ_INSTANCE, P.READ_DEFINITIONS, P.WORK_TASKS}),
    "reviewer": frozenset({P.READ_INSTANCE, P.READ_DEFINITIONS, P.WORK_TASKS}),
    "agency-lead": frozenset({P.WORK_TASKS}),
    "worker": frozenset({P.WORK_EXTERNAL_TASKS}),
    "auditor": frozenset({P.READ_AUDIT, P.READ_INSTANCE, P.READ_DEFINITIONS, P.ALL_CASES}),
}


@dataclass(frozen=True)
class Caller:
    id: str
    roles: frozenset[str]
    groups: frozenset[str]
    organisation: str | None
    topics: frozenset[str] | None          # workers: the topics they may serve; None: any
    via: str                               # key | oidc

    @property
    def permissions(self) -> frozenset[Permission]:
        granted: set[Permission] = set()
        for role in self.roles:
            granted |= ROLES.get(role, frozenset())
        return frozenset(granted)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def actor(self) -> engine.Actor:
        all_cases = self.can(P.ALL_CASES)
        return engine.Actor(self.id, self.groups, None if all_cases else self.organisation,
                            sees_all_cases=all_cases, manages_tasks=self.can(P.MANAGE_TASKS))


def _unauthenticated(message: str = "authentication required: send Authorization: Bearer <key or token>, "
                                    "or Basic with your user name and key") -> HTTPException:
    challenge = 'Bearer realm="reviewflow", Basic realm="reviewflow"'
    return HTTPException(401, message, headers={"WWW-Authenticate": challenge})


def _caller_of(p: engine.PrincipalInfo) -> Caller:
    return Caller(p.id, frozenset(p.roles), frozenset(p.groups), p.organisation,
                  frozenset(p.topics) if p.topics is not None else None, "key")


class OidcVerifier:
    """Bearer JWTs from a configured issuer, verified against its keys (JWKS from a URL or a file)."""

    def __init__(self, *, issuer: str, audience: str | None, jwks_url: str | None, jwks_file: Path | None,
                 user_claim: str, groups_claim: str, roles_claim: str, organisation_claim: str | None) -> None:
        self.issuer, self.audience = issuer, audience
        self.user_claim, self.groups_claim, self.roles_claim = user_claim, groups_claim, roles_claim
        self.organisation_claim = organisation_claim
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        self._file_keys = jwt.PyJWKSet.from_json(jwks_file.read_text()) if jwks_file else None
        self._lock = threading.Lock()

    def _key(self, token: str) -> Any:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self._file_keys.keys:  # type: ignore[union-attr]
            if kid is None or key.key_id == kid:
                return key.key
        raise jwt.InvalidTokenError("no key for this token")

    def verify(self, token: str) -> Caller:
        try:
            claims = jwt.decode(token, self._key(token), algorithms=["RS256", "RS384", "RS512", "ES256", "ES384",
                                                                     "PS256"],
                                issuer=self.issuer, audience=self.audience,
                                options={"require": ["exp", "iss", self.user_claim],
                                         "verify_aud": self.audience is not None})
        except (jwt.PyJWTError, ValueError, KeyError) as exc:
            raise _unauthenticated("the bearer token is not valid") from exc

        def as_list(value: Any) -> list[str]:
            return [str(v) for v in value] if isinstance(value, list) else ([str(value)] if value else [])

        organisation = claims.get(self.organisation_claim) if self.organisation_claim else None
        return Caller(str(claims[self.user_claim]), frozenset(as_list(claims.get(self.roles_claim))),
                      frozenset(as_list(claims.get(self.groups_claim))),
                      str(organisation) if organisation else None, None, "oidc")


def key_prefix(secret: str) -> str | None:
    """The public part of an API key (rfk_<prefix>_<secret>), to count failures by."""
    parts = secret.split("_", 2)
    return parts[1][:32] if len(parts) == 3 and parts[0] == engine.API_KEY_PREFIX else None


def _credentials(header: str | None) -> tuple[str, str | None, str]:
    """(scheme, user name, secret) of an Authorization header. Raises 401."""
    if not header:
        raise _unauthenticated()
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return "bearer", None, credentials
    if scheme.lower() == "basic" and credentials:
        try:
            user, _, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _unauthenticated("malformed Basic credentials") from exc
        return "basic", user, secret
    raise _unauthenticated()


def _authenticate(db: engine.Database, oidc: OidcVerifier | None, scheme: str, user: str | None,
                  secret: str) -> Caller:
    if scheme == "bearer":
        if secret.startswith(engine.API_KEY_PREFIX + "_"):
            principal = engine.authenticate_key(db, secret)
            if principal is None:
                raise _unauthenticated("the API key is not valid (unknown, revoked, or its user disabled)")
            return _caller_of(principal)
        if oidc is not None and secret.count(".") == 2:
            return oidc.verify(secret)
        raise _unauthenticated("the bearer token is not valid")
    principal = engine.authenticate_key(db, secret, principal_id=user)
    if principal is None:
        raise _unauthenticated("user name and key do not match a valid key")
    return _caller_of(principal)


UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def check_same_origin(request: Request) -> None:
    """A browser sends cached Basic credentials (and cookies) with a cross-site form or fetch: an
    unsafe request so authenticated must come from our own origin. Clients that are not browsers
    send neither header and are not affected. Raises 403."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPException(403, "cross-site requests may not change anything")
    origin = request.headers.get("origin")
    if origin is not None:
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if origin.rstrip("/") != own:
            raise HTTPException(403, "cross-origin requests may not change anything")


async def get_caller(request: Request) -> Caller:
    """The authenticated caller (once per request). Failed sign-ins are limited and counted
    (api.throttle): too many from one source or for one key answer 429 with Retry-After."""
    cached = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    db: engine.Database = request.app.state.db
    throttle = request.app.state.throttle
    source = request.client.host if request.client else "unknown"
    scheme, user, secret = _credentials(request.headers.get("authorization"))
    prefix = key_prefix(secret)
    wait = throttle.retry_after(source, prefix)
    if wait is not None:
        raise HTTPException(429, "too many failed sign-ins; try again later", headers={"Retry-After": str(wait)})
    try:
        caller = await run_engine(db, _authenticate, db, request.app.state.oidc, scheme, user, secret)
    except HTTPException as exc:
        if exc.status_code == 401:
            throttle.failed(source, prefix)
        raise
    if scheme == "basic" and request.method in UNSAFE:
        check_same_origin(request)
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def require(permission: Permission) -> Any:
    async def check(caller: CallerDep) -> Caller:
        if not caller.can(permission):
            raise HTTPException(403, f"your role does not allow this ({permission.value} is needed)")
        return caller
    return check


def Need(permission: Permission) -> Any:  # noqa: N802 - reads as a declaration on the route
    return Depends(require(permission))


def load_oidc(settings: Any) -> OidcVerifier | None:
    if not settings.oidc_issuer:
        return None
    return OidcVerifier(issuer=settings.oidc_issuer, audience=settings.oidc_audience,
                        jwks_url=settings.oidc_jwks_url, jwks_file=settings.oidc_jwks_file,
                        user_claim=settings.oidc_user_claim, groups_claim=settings.oidc_groups_claim,
                        roles_claim=settings.oidc_roles_claim, organisation_claim=settings.oidc_organisation_claim)


