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
from starlette.concurrency import run_in_threadpool

import engine


class Permission(StrEnum):
    DEPLOY = "deploy"
    START = "start"                        # start cases, send messages, cancel
    READ_INSTANCE = "read_instance"
    ALL_CASES = "all_cases"                # need-to-know does not apply
    WORK_TASKS = "work_tasks"
    WORK_EXTERNAL_TASKS = "work_external_tasks"
    ADMINISTER = "administer"              # incidents, retries, principals and keys
    READ_AUDIT = "read_audit"


P = Permission
ROLES: dict[str, frozenset[Permission]] = {
    "admin": frozenset(P),
    "process-owner": frozenset({P.DEPLOY, P.READ_INSTANCE}),
    "business-unit": frozenset({P.START, P.READ_INSTANCE, P.ALL_CASES, P.WORK_TASKS, P.ADMINISTER}),
    "crg-member": frozenset({P.START, P.READ_INSTANCE, P.WORK_TASKS}),
    "panel-member": frozenset({P.READ_INSTANCE, P.WORK_TASKS}),
    "reviewer": frozenset({P.READ_INSTANCE, P.WORK_TASKS}),
    "agency-lead": frozenset({P.WORK_TASKS}),
    "worker": frozenset({P.WORK_EXTERNAL_TASKS}),
    "auditor": frozenset({P.READ_AUDIT, P.READ_INSTANCE, P.ALL_CASES}),
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
        return engine.Actor(self.id, self.groups, None if all_cases else self.organisation, all_cases)


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


def _authenticate(db: engine.Database, oidc: OidcVerifier | None, header: str | None) -> Caller:
    if not header:
        raise _unauthenticated()
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        if credentials.startswith(engine.API_KEY_PREFIX + "_"):
            principal = engine.authenticate_key(db, credentials)
            if principal is None:
                raise _unauthenticated("the API key is not valid (unknown, revoked, or its user disabled)")
            return _caller_of(principal)
        if oidc is not None and credentials.count(".") == 2:
            return oidc.verify(credentials)
        raise _unauthenticated("the bearer token is not valid")
    if scheme.lower() == "basic" and credentials:
        try:
            user, _, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _unauthenticated("malformed Basic credentials") from exc
        principal = engine.authenticate_key(db, secret, principal_id=user)
        if principal is None:
            raise _unauthenticated("user name and key do not match a valid key")
        return _caller_of(principal)
    raise _unauthenticated()


async def get_caller(request: Request) -> Caller:
    """The authenticated caller (once per request)."""
    cached = getattr(request.state, "caller", None)
    if cached is not None:
        return cached
    db: engine.Database = request.app.state.db
    header = request.headers.get("authorization")
    if db.is_sqlite:
        caller = _authenticate(db, request.app.state.oidc, header)
    else:
        caller = await run_in_threadpool(_authenticate, db, request.app.state.oidc, header)
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


