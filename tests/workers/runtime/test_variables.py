"""Camunda's typed variables, out and back."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from tests.workers.runtime.fake_engine import typed
from workers.runtime import VariableTypeError, decode_variables, encode_variables


def test_plain_values_go_out_with_camunda_types() -> None:
    ref = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert encode_variables({
        "s": "x", "t": True, "i": 2**31 - 1, "l": 2**31, "neg": -(2**31) - 1, "d": 1.5, "n": None,
        "obj": {"a": [1, None]}, "arr": (1, 2), "day": date(2026, 11, 25), "id": ref,
        "at": datetime(2026, 11, 25, 20, 14, 56, 736999, tzinfo=timezone(timedelta(hours=1))),
    }) == {
        "s": typed("x", "String"), "t": typed(True, "Boolean"), "i": typed(2**31 - 1, "Integer"),
        "l": typed(2**31, "Long"), "neg": typed(-(2**31) - 1, "Long"), "d": typed(1.5, "Double"),
        "n": typed(None, "Null"), "obj": typed('{"a":[1,null]}', "Json"), "arr": typed("[1,2]", "Json"),
        "day": typed("2026-11-25", "String"), "id": typed(str(ref), "String"),
        "at": typed("2026-11-25T19:14:56.736+0000", "Date"),
    }


def test_dates_inside_json_become_iso_strings() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert encode_variables({"m": {"at": at, "on": date(2026, 1, 2)}})["m"]["value"] == \
        '{"at":"2026-01-02T03:04:05+00:00","on":"2026-01-02"}'


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, float("nan"), float("inf"), 2**63, object(),
                                   datetime(2026, 1, 1), {"nested": object()}, {"n": float("nan")}])
def test_values_camunda_cannot_carry_are_refused_without_quoting_them(value: object) -> None:
    with pytest.raises(VariableTypeError) as error:
        encode_variables({"child": value})
    assert "'child'" in str(error.value)
    assert "bytes'" not in str(error.value) and "nan" not in str(error.value).lower().replace("finite", "")


def test_typed_values_come_back_as_plain_python() -> None:
    assert decode_variables({
        "s": typed("x", "String"), "i": typed(5, "integer"), "j": typed('{"a":[1,2]}', "Json"),
        "j2": {"value": {"already": "parsed"}, "type": "Json"},
        "o": {"value": "[1]", "type": "Object", "valueInfo": {"serializationDataFormat": "application/json"}},
        "x": typed("<a/>", "Xml"), "n": typed(None, "Null"), "untyped": {"value": 3},
        "nulltype": {"value": True, "type": None, "valueInfo": None},
        "at": typed("2016-01-25T13:33:42.165+0100", "Date"), "iso": typed("2026-01-25T12:00:00Z", "Date"),
        "bad": typed("{not json", "Json"), "novalue": {"type": "String"},
    }) == {
        "s": "x", "i": 5, "j": {"a": [1, 2]}, "j2": {"already": "parsed"}, "o": [1], "x": "<a/>", "n": None,
        "untyped": 3, "nulltype": True,
        "at": datetime(2016, 1, 25, 12, 33, 42, 165000, tzinfo=UTC),
        "iso": datetime(2026, 1, 25, 12, 0, tzinfo=UTC),
        "bad": "{not json", "novalue": None,
    }


def test_round_trip() -> None:
    values = {"a": "x", "b": 1, "c": 2**40, "d": 0.25, "e": False, "f": None, "g": {"k": [1, "v"]},
              "h": datetime(2026, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)}
    assert decode_variables(encode_variables(values)) == values
