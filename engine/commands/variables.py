"""Variables from outside, checked before any command takes them: names a diagram can use, values
the store can keep exactly, and a bounded size."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson

from engine.errors import VariablesInvalid
from engine.queries.filters import NAME

MAX_VARIABLES_BYTES = 1024 * 1024
INT64 = (-(2**63), 2**63 - 1)          # what JSON columns, orjson and Camunda's Long can hold
MAX_DEPTH = 32


def check_variables(variables: Mapping[str, Any]) -> dict[str, Any]:
    """The variables as a plain dict. Raises VariablesInvalid naming the field at fault: a name a
    diagram cannot use, the reserved key `typename` anywhere (it would break SpiffWorkflow's
    deserializer), a whole number outside 64 bits, NaN or an infinity (JSON has neither: they would
    be stored as null), nesting deeper than 32, or more than 1 MiB in all."""
    if not isinstance(variables, Mapping):
        raise VariablesInvalid("variables must be a JSON object")
    for name in variables:
        if not isinstance(name, str) or not NAME.match(name):
            raise VariablesInvalid(f"variable name {name!r} must start with a letter and contain only "
                                   "letters, digits and underscores", field=str(name))
    for name, value in variables.items():
        _check_value(value, name, 0)
    size = len(orjson.dumps(dict(variables), default=str, option=orjson.OPT_NON_STR_KEYS))
    if size > MAX_VARIABLES_BYTES:
        raise VariablesInvalid(f"the variables take {size} bytes; at most {MAX_VARIABLES_BYTES} are accepted "
                               "(attach documents as files instead)")
    return dict(variables)


def _check_value(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise VariablesInvalid(f"field '{path}' is nested more than {MAX_DEPTH} levels deep", field=path)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not INT64[0] <= value <= INT64[1]:
            raise VariablesInvalid(f"field '{path}': whole numbers must fit in 64 bits "
                                   "(send larger numbers as text)", field=path)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise VariablesInvalid(f"field '{path}': NaN and infinity are not numbers JSON can hold", field=path)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key == "typename":
                raise VariablesInvalid("the key 'typename' is reserved", field=f"{path}.{key}")
            _check_value(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_value(item, f"{path}.{i}", depth + 1)
