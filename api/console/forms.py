"""A task's form, drawn from its JSON Schema with GOV.UK Frontend's components, and the submitted
HTML form turned back into JSON variables.

Strings, dates (day, month and year boxes), whole numbers, yes/no (radios), one-of lists (radios,
or a select when long), several-of lists (checkboxes), lists of text (one per line), groups
(fieldsets) and lists of groups (with "Add another" and "Remove" buttons that work without
JavaScript). Every problem is listed at once, next to its field, in GOV.UK's words; the engine then
checks the same schema again when the task is completed and has the last word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import jsonschema

LONG_TEXT = 300            # maxLength above which a string gets a textarea
RADIOS_UP_TO = 6           # longer one-of lists get a select


@dataclass
class Field:
    path: str                              # "sign_offs.0.partner": the variable's place, dotted
    label: str
    hint: str | None
    kind: str                              # text textarea date number yesno radios select checkboxes lines group list
    required: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = None
    error: str | None = None
    children: list[Field] = field(default_factory=list)        # group: its fields
    items: list[list[Field]] = field(default_factory=list)     # list: one list of fields per entry
    item_label: str = "item"
    min_items: int = 0

    @property
    def id(self) -> str:
        return self.path.replace(".", "-")

    @property
    def name(self) -> str:
        return self.path

    @property
    def error_target(self) -> str:
        """The element an error summary link moves to."""
        if self.kind == "date":
            return self.id + "-day"
        if self.kind in ("yesno", "radios", "checkboxes"):
            return self.id + "-0"
        return self.id


def humanise(value: str) -> str:
    text = str(value).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _label(name: str, schema: dict[str, Any]) -> str:
    return str(schema.get("title") or humanise(name))


def build(schema: dict[str, Any] | None, values: dict[str, Any] | None = None, *,
          extra_items: dict[str, int] | None = None) -> list[Field]:
    """The fields of a form schema (an object), filled with `values` (the submitted ones)."""
    if not schema:
        return []
    return _object_fields(schema, "", values or {}, extra_items or {})


def _object_fields(schema: dict[str, Any], prefix: str, values: dict[str, Any],
                   extra: dict[str, int]) -> list[Field]:
    required = set(schema.get("required", []))
    out = []
    for name, sub in (schema.get("properties") or {}).items():
        out.append(_field(name, sub, prefix + name, name in required, values.get(name) if isinstance(values, dict)
                          else None, extra))
    return out


def _field(name: str, schema: dict[str, Any], path: str, required: bool, value: Any, extra: dict[str, int]) -> Field:
    label, hint = _label(name, schema), schema.get("description")
    kind = schema.get("type")
    f = Field(path, label, hint, "text", required, value=value)
    if kind == "object":
        f.kind = "group"
        f.children = _object_fields(schema, path + ".", value if isinstance(value, dict) else {}, extra)
    elif kind == "array":
        items = schema.get("items") or {}
        if items.get("type") == "object":
            f.kind, f.min_items = "list", int(schema.get("minItems", 0))
            f.item_label = str(items.get("title") or "item").lower()
            entries = value if isinstance(value, list) else []
            count = max(len(entries), f.min_items, 1) + extra.get(path, 0)
            count = max(count, 0)
            f.items = [_object_fields(items, f"{path}.{i}.", entries[i] if i < len(entries) else {}, extra)
                       for i in range(count)]
        elif "enum" in items:
            f.kind = "checkboxes"
            f.options = [(str(v), humanise(v)) for v in items["enum"]]
        else:
            f.kind = "lines"
    elif kind == "boolean":
        f.kind = "yesno"
        f.options = [("true", "Yes"), ("false", "No")]
    elif kind in ("integer", "number"):
        f.kind = "number"
    elif "enum" in schema:
        f.kind = "radios" if len(schema["enum"]) <= RADIOS_UP_TO else "select"
        f.options = [(str(v), humanise(v)) for v in schema["enum"]]
    elif schema.get("format") == "date":
        f.kind = "date"
    elif int(schema.get("maxLength", 0)) > LONG_TEXT:
        f.kind = "textarea"
    return f


def list_paths(fields: list[Field]) -> list[str]:
    """The dotted paths of every list of groups (for Add another / Remove)."""
    out = []
    for f in fields:
        if f.kind == "list":
            out.append(f.path)
            for item in f.items:
                out += list_paths(item)
        elif f.kind == "group":
            out += list_paths(f.children)
    return out


# ---- the submitted form -> variables -------------------------------------------------------------

class FormProblems(Exception):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("the form has problems")
        self.problems = problems


def parse(schema: dict[str, Any] | None, form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Variables from a submitted form (a multi-dict), and the problems found turning text into
    values (a date that is not a real date, a number that is not one): path -> message."""
    problems: dict[str, str] = {}
    if not schema:
        return {}, problems
    return _parse_object(schema, "", form, problems), problems


def _parse_object(schema: dict[str, Any], prefix: str, form: Any, problems: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, sub in (schema.get("properties") or {}).items():
        value = _parse_value(name, sub, prefix + name, form, problems)
        if value is not None:
            out[name] = value
    return out


def _count(form: Any, path: str) -> int:
    """How many entries a list of groups was drawn with (its hidden counter)."""
    raw = form.get(f"{path}.__count", "0")
    return int(raw) if isinstance(raw, str) and raw.isdigit() and int(raw) < 200 else 0


def _parse_value(name: str, schema: dict[str, Any], path: str, form: Any, problems: dict[str, str]) -> Any:
    kind = schema.get("type")
    label = _label(name, schema)
    if kind == "object":
        value = _parse_object(schema, path + ".", form, problems)
        return value or None
    if kind == "array":
        items = schema.get("items") or {}
        if items.get("type") == "object":
            entries = [_parse_object(items, f"{path}.{i}.", form, problems) for i in range(_count(form, path))]
            entries = [e for e in entries if e]
            return entries or None
        if "enum" in items:
            chosen = [v for v in form.getlist(path) if v in {str(x) for x in items["enum"]}]
            return chosen or None
        text = form.get(path, "")
        lines = [line.strip() for line in str(text).splitlines() if line.strip()]
        return lines or None
    if kind == "boolean":
        raw = form.get(path)
        return {"true": True, "false": False}.get(raw) if raw else None
    if kind in ("integer", "number"):
        raw = str(form.get(path, "")).strip()
        if not raw:
            return None
        try:
            return int(raw) if kind == "integer" else float(raw)
        except ValueError:
            problems[path] = f"{label} must be a {'whole ' if kind == 'integer' else ''}number, like 12"
            return None
    if schema.get("format") == "date":
        parts = [str(form.get(f"{path}.{p}", "")).strip() for p in ("day", "month", "year")]
        if not any(parts):
            return None
        if not all(p.isdigit() for p in parts) or len(parts[2]) != 4:
            problems[path] = f"{label} must be a real date, like 27 3 2027"
            return None
        try:
            return date(int(parts[2]), int(parts[1]), int(parts[0])).isoformat()
        except ValueError:
            problems[path] = f"{label} must be a real date, like 27 3 2027"
            return None
    raw = form.get(path)
    text = str(raw).strip() if raw is not None else ""
    return text or None


def submitted_values(schema: dict[str, Any] | None, form: Any) -> dict[str, Any]:
    """What the person typed, to draw the form again as they left it (dates as their three boxes)."""
    if not schema:
        return {}
    return _values(schema, "", form)


def _values(schema: dict[str, Any], prefix: str, form: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, sub in (schema.get("properties") or {}).items():
        path, kind = prefix + name, sub.get("type")
        if kind == "object":
            out[name] = _values(sub, path + ".", form)
        elif kind == "array" and (sub.get("items") or {}).get("type") == "object":
            out[name] = [_values(sub["items"], f"{path}.{i}.", form) for i in range(_count(form, path))]
        elif kind == "array" and "enum" in (sub.get("items") or {}):
            out[name] = form.getlist(path)
        elif sub.get("format") == "date":
            out[name] = {p: form.get(f"{path}.{p}", "") for p in ("day", "month", "year")}
        else:
            out[name] = form.get(path)
    return out


# ---- the schema's verdict, in words for people -------------------------------------------------

def check(schema: dict[str, Any] | None, variables: dict[str, Any]) -> dict[str, str]:
    """Every way the variables fail the schema: path -> message (GOV.UK style: say what to do)."""
    if not schema:
        return {}
    problems: dict[str, str] = {}
    for error in jsonschema.Draft202012Validator(schema).iter_errors(variables):
        path = ".".join(str(p) for p in error.absolute_path)
        sub = _schema_at(schema, list(error.absolute_path))
        if error.validator == "required":
            missing = [n for n in error.validator_value if n not in (error.instance or {})]
            for name in missing:
                target = f"{path}.{name}" if path else name
                spec = ((sub or {}).get("properties") or {}).get(name, {})
                problems.setdefault(target, _missing(name, spec))
            continue
        label = _label(path.rsplit(".", 1)[-1] if path else "form", sub or {})
        problems.setdefault(path or "(form)", _message(error, label, sub or {}))
    return problems


def _schema_at(schema: dict[str, Any], path: list[Any]) -> dict[str, Any] | None:
    current: dict[str, Any] | None = schema
    for part in path:
        if current is None:
            return None
        if isinstance(part, int):
            current = current.get("items")
        else:
            current = (current.get("properties") or {}).get(part)
    return current


def _missing(name: str, spec: dict[str, Any]) -> str:
    label = _label(name, spec)
    kind = spec.get("type")
    if kind == "boolean" or "enum" in spec or (kind == "array" and "enum" in (spec.get("items") or {})):
        return f"Select {label.lower()}" if label else "Select an answer"
    if kind == "array":
        return f"Add {label.lower()}"
    return f"Enter {label.lower()}"


def _message(error: jsonschema.ValidationError, label: str, spec: dict[str, Any]) -> str:
    v = error.validator
    if v == "maxLength":
        return f"{label} must be {error.validator_value} characters or fewer"
    if v == "minLength":
        return f"Enter {label.lower()}"
    if v == "minItems":
        n = error.validator_value
        return f"{label} needs at least {n} {'entry' if n == 1 else 'entries'}"
    if v == "maxItems":
        return f"{label} can have at most {error.validator_value} entries"
    if v == "uniqueItems":
        return f"{label} has the same entry twice"
    if v == "enum":
        return f"Select {label.lower()} from the list"
    if v == "pattern" and spec.get("format") == "date":
        return f"{label} must be a real date, like 27 3 2027"
    if v in ("minimum", "exclusiveMinimum"):
        return f"{label} must be {error.validator_value} or more"
    if v in ("maximum", "exclusiveMaximum"):
        return f"{label} must be {error.validator_value} or less"
    return f"{label}: {error.message}"


def attach(fields: list[Field], problems: dict[str, str]) -> list[tuple[str, str]]:
    """Put each problem on its field; the error summary's (target id, message) list, in form order.
    A problem about a path that has no field of its own goes on its nearest enclosing field."""
    index: dict[str, Field] = {}

    def walk(items: list[Field]) -> None:
        for f in items:
            index[f.path] = f
            walk(f.children)
            for entry in f.items:
                walk(entry)

    walk(fields)
    for path, message in problems.items():
        target = path
        while target and target not in index:
            target = target.rsplit(".", 1)[0] if "." in target else ""
        f = index.get(target)
        if f is not None and f.error is None:
            f.error = message
    summary: list[tuple[str, str]] = []

    def collect(items: list[Field]) -> None:
        for f in items:
            if f.error:
                summary.append((f.error_target, f.error))
            collect(f.children)
            for entry in f.items:
                collect(entry)

    collect(fields)
    unplaced = [m for p, m in problems.items() if not any(m == s[1] for s in summary)]
    summary += [("task-form", m) for m in unplaced]
    return summary


_ID = re.compile(r"[^A-Za-z0-9_-]")


def display(value: Any) -> str:
    """A variable's value as text for people (lists joined, yes/no for booleans)."""
    if value is True:
        return "Yes"
    if value is False:
        return "No"
    if value is None:
        return ""
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict | list):
        import json  # noqa: PLC0415
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return str(value)
