"""Camunda's wire formats: dates, typed variables, lenient request parsing, error types."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
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


MAX_RESULTS = 1000           # a page at most; more is a 400, never silently cut
MAX_FIRST_RESULT = 1_000_000_000


@dataclass(frozen=True)
class Paging:
    first: int
    maximum: int


def paging(firstResult: Annotated[int, Query(ge=0, le=MAX_FIRST_RESULT, description=(
               "how many results to skip"))] = 0,
           maxResults: Annotated[int, Query(ge=0, le=MAX_RESULTS, description=(
               f"at most this many results (at most {MAX_RESULTS})"))] = MAX_RESULTS) -> Paging:
    return Paging(firstResult, maxResults)


PagingDep = Annotated[Paging, Depends(paging)]


def split(value: str | None) -> list[str] | None:
    """A comma-separated list parameter."""
    if value is None:
        return None
    return [part for part in value.split(",") if part]


def sorting(sort_by: str | None, sort_order: str | None, names: dict[str, str]) -> tuple[str | None, bool]:
    """Camunda's sortBy/sortOrder as the engine's sort key. Raises Invalid."""
    if sort_by is None:
        return None, sort_order == "desc"
    if sort_by not in names:
        raise engine.Invalid(f"sortBy must be one of {', '.join(sorted(names))}")
    if sort_order not in (None, "asc", "desc"):
        raise engine.Invalid("sortOrder must be asc or desc")
    return names[sort_by], sort_order == "desc"


def page(request: Request, default_max: int = MAX_RESULTS) -> tuple[int, int]:
    first = query_int(request, "firstResult", 0)
    maximum = query_int(request, "maxResults", default_max)
    if not 0 <= first <= MAX_FIRST_RESULT or not 0 <= maximum <= MAX_RESULTS:
        raise engine.Invalid(f"firstResult must be 0 to {MAX_FIRST_RESULT} and maxResults 0 to {MAX_RESULTS}")
    return first, maximum


def links(request: Request, path: str) -> list[dict[str, str]]:
    return [{"method": "GET", "href": str(request.base_url).rstrip("/") + "/engine-rest" + path, "rel": "self"}]

