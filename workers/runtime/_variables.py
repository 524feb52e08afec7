"""Camunda's typed variables, both ways: plain Python out to `{"value", "type", "valueInfo"}`, and back.

Out (what handlers return):

    None → Null    bool → Boolean    int → Integer (Long outside 32 bits)    float → Double
    str → String   aware datetime → Date ("2026-11-25T19:14:56.736+0000")    date → String (ISO)
    UUID → String  dict, list, tuple → Json (the JSON text as value; nested dates become ISO strings)

Anything else (bytes, sets, naive datetimes, NaN, objects) is refused with `VariableTypeError`, which
names the variable and its type, never its value.

In (what the engine sends): each `{"value", "type"}` becomes a plain value — Json (and Object in a
JSON format) parsed, Date as an aware datetime, everything else as sent. Types are case-insensitive
and may be missing (the value is then taken as it is).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from workers.runtime._exceptions import VariableTypeError

__all__ = ["decode_value", "decode_variables", "encode_value", "encode_variables", "format_date"]

_INT32 = range(-(2**31), 2**31)
_INT64 = range(-(2**63), 2**63)


def format_date(value: datetime) -> str:
    """Camunda's date format, `yyyy-MM-dd'T'HH:mm:ss.SSSZ`, in UTC."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _parse_date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def encode_value(name: str, value: Any) -> dict[str, Any]:
    """One variable in Camunda's typed format. Raises: VariableTypeError."""

    def typed(type_: str, v: Any) -> dict[str, Any]:
        return {"value": v, "type": type_, "valueInfo": {}}

    if value is None:
        return typed("Null", None)
    if isinstance(value, bool):
        return typed("Boolean", value)
    if isinstance(value, int):
        if value not in _INT64:
            raise VariableTypeError(f"variable {name!r}: int does not fit in a 64-bit Long")
        return typed("Integer" if value in _INT32 else "Long", int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise VariableTypeError(f"variable {name!r}: a float must be finite")
        return typed("Double", value)
    if isinstance(value, str):
        return typed("String", str(value))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise VariableTypeError(f"variable {name!r}: datetime must be timezone-aware")
        return typed("Date", format_date(value))
    if isinstance(value, date):
        return typed("String", value.isoformat())
    if isinstance(value, uuid.UUID):
        return typed("String", str(value))
    if isinstance(value, Mapping | list | tuple):
        try:
            text = json.dumps(value, default=_json_default, ensure_ascii=False, allow_nan=False,
                              separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            # the json module's messages can quote values: keep only the type it named
            raise VariableTypeError(f"variable {name!r}: {type(value).__name__} holds something that "
                                    "is not JSON (only None, bool, numbers, str, dates, UUIDs, dicts "
                                    "with str keys and lists)") from exc
        return typed("Json", text)
    raise VariableTypeError(f"variable {name!r}: cannot send a {type(value).__name__} as a variable")


def encode_variables(variables: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Plain Python variables in Camunda's typed format. Raises: VariableTypeError."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in (variables or {}).items():
        if not isinstance(name, str) or not name:
            raise VariableTypeError("variable names must be non-empty strings")
        out[name] = encode_value(name, value)
    return out


def decode_value(typed: Any) -> Any:
    """A plain Python value from one variable as the engine sent it; lenient about what it accepts."""
    if not isinstance(typed, Mapping):
        return typed  # not in Camunda's format at all: take it as it is
    value = typed.get("value")
    type_ = str(typed.get("type") or "").lower()
    info = typed.get("valueInfo") or {}
    if value is None or type_ == "null":
        return None
    if type_ == "json" or (type_ == "object" and isinstance(info, Mapping)
                           and "json" in str(info.get("serializationDataFormat", "")).lower()):
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value
    if type_ == "date" and isinstance(value, str):
        try:
            return _parse_date(value)
        except ValueError:
            return value
    return value


def decode_variables(variables: Mapping[str, Any] | None) -> dict[str, Any]:
    """Plain Python variables from the engine's `{name: {"value", "type", "valueInfo"}}` map."""
    return {str(name): decode_value(typed) for name, typed in (variables or {}).items()}
