"""Camunda's wire formats: dates, typed variables, lenient request parsing, error types."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, BeforeValidator, ConfigDict

import engine

INT32 = (-(2**31), 2**31 - 1)


def fmt_date(value: datetime | None) -> str | None:
    """yyyy-MM-dd'T'HH:mm:ss.SSSZ, e.g. 2026-11-25T19:14:56.736+0000."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def typed(value: Any) -> dict[str, Any]:
    """A plain value in Camunda's typed form. Objects and arrays travel as Json (a JSON string)."""
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value, "valueInfo": {}}
    if isinstance(value, int):
        kind = "Integer" if INT32[0] <= value <= INT32[1] else "Long"
        return {"type": kind, "value": value, "valueInfo": {}}
    if isinstance(value, float):
        return {"type": "Double", "value": value, "valueInfo": {}}
    if isinstance(value, str):
        return {"type": "String", "value": value, "valueInfo": {}}
    return {"type": "Json", "value": json.dumps(value, separators=(",", ":"), default=str), "valueInfo": {}}


def typed_map(variables: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: typed(value) for name, value in variables.items()}


def plain(name: str, raw: Any) -> Any:
    """One incoming variable ({value, type?, valueInfo?}, or a bare value) as a plain value.

    Raises: engine.VariablesInvalid for types we cannot hold (File, Bytes, Java objects).
    """
    if not isinstance(raw, dict) or "value" not in raw and "type" not in raw:
        return raw                                  # untyped, as the Python client sends nested dicts
    value = raw.get("value")
    kind = (raw.get("type") or "").lower()
    if kind in ("", "string", "boolean", "integer", "long", "short", "double", "null", "date"):
        return None if kind == "null" else value
    if kind in ("json", "object"):
        if kind == "object":
            info = raw.get("valueInfo") or {}
            if info.get("serializationDataFormat") not in (None, "application/json"):
                raise engine.VariablesInvalid(f"variable '{name}': only JSON-serialized objects are supported",
                                              field=name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise engine.VariablesInvalid(f"variable '{name}' is not valid JSON", field=name) from exc
        return value
    raise engine.VariablesInvalid(f"variable '{name}': type {raw.get('type')} is not supported", field=name)


def plain_map(variables: dict[str, Any] | None) -> dict[str, Any]:
    if not variables:
        return {}
    if not isinstance(variables, dict):
        raise engine.VariablesInvalid("variables must be a JSON object")
    return {name: plain(name, raw) for name, raw in variables.items()}


def _to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


WorkerId = Annotated[str, BeforeValidator(_to_str)]


class Lenient(BaseModel):
    """Camunda clients send nulls, extra keys and numbers for strings: accept them."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def query_list(request: Request, name: str) -> list[str] | None:
    """A list parameter given comma-separated, repeated, or both."""
    values = [part for raw in request.query_params.getlist(name) for part in raw.split(",") if part]
    return values or None


def query_bool(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    return raw.strip().lower() in ("true", "1", "yes")


def query_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise engine.Invalid(f"query parameter {name} must be a whole number") from exc


def page(request: Request, default_max: int = 200) -> tuple[int, int]:
    first = max(0, query_int(request, "firstResult", 0))
    maximum = max(1, min(query_int(request, "maxResults", default_max), 200))
    return first, maximum


def links(request: Request, path: str) -> list[dict[str, str]]:
    return [{"method": "GET", "href": str(request.base_url).rstrip("/") + "/engine-rest" + path, "rel": "self"}]


def actor_of(request: Request) -> engine.Actor:
    return request.state.actor if hasattr(request.state, "actor") else engine.Actor("anonymous")
