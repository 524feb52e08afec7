"""`lint`: each problem it reports, each on a small broken diagram (tests/data/bpmn/lint), placed on its
element and line; every problem of a file at once; and the partnership's own diagrams lint clean."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

import engine
from tests.conftest import BPMN

LINT = BPMN / "lint"
PATHWAY = Path(__file__).parents[2] / "bpmn"
TOPICS = {"notification", "national-panel-submission"}


def files(*names: str) -> list[engine.DeployFile]:
    return [engine.DeployFile(name, (LINT / name).read_bytes()) for name in names]


def line_of(name: str, element_id: str, inner: str | None = None) -> int:
    """The line where `element_id` is declared in the test diagram (or, with `inner`, the first line
    after it holding that text): where lint must point."""
    lines = (LINT / name).read_text().splitlines()
    for number, text in enumerate(lines, start=1):
        if re.search(rf'\bid="{re.escape(element_id)}"', text):
            if inner is None:
                return number
            return next(n for n, t in enumerate(lines[number - 1:], start=number) if inner in t)
    raise AssertionError(f"{element_id} not in {name}")


def inner(code: str, element_id: str) -> str | None:
    """Where lint points more precisely than the element: a timer's expression, a correlation's message."""
    if code.startswith("timer"):
        return "</bpmn:time"
    return "<bpmn:correlationPropertyRetrievalExpression" if element_id == "case_ref_property" else None


# file -> the errors lint must report, as (code, element id), and nothing else
ONE_ERROR_EACH = {
    "doctype.bpmn": {("xml-unsafe", None)},
    "not_well_formed.bpmn": {("xml-syntax", None)},
    "not_executable.bpmn": {("not-executable", "sketch")},
    "no_start_event.bpmn": {("no-start-event", "no_start_event")},
    "form_missing.bpmn": {("form-missing", "task")},
    "camunda_form.bpmn": {("form-camunda", "task")},
    "assignee_expression.bpmn": {("task-expression", "task")},
    "service_java_class.bpmn": {("service-no-topic", "task")},
    "gateway_without_conditions.bpmn": {("gateway-condition", "gw")},
    "gateway_default_elsewhere.bpmn": {("gateway-default", "gw")},
    "event_gateway_target.bpmn": {("gateway-event-target", "gw")},
    "condition_on_task_flow.bpmn": {("flow-condition-ignored", "task")},
    "condition_juel.bpmn": {("code-juel", "f_yes")},
    "condition_forbidden.bpmn": {("code-refused", "f_yes")},
    "script_javascript.bpmn": {("script-language", "task")},
    "script_unknown_function.bpmn": {("code-unknown-function", "task")},
    "multi_instance_both.bpmn": {("bpmn-parse", "task")},
    "timer_bad_iso.bpmn": {("timer-iso", "wait")},
    "timer_cycle_not_repeating.bpmn": {("timer-kind", "wait")},
    "timer_statutory_in_duration.bpmn": {("timer-kind", "wait")},
    "timer_statutory_arguments.bpmn": {("timer-statutory", "wait")},
    "timer_unknown_function.bpmn": {("timer-expression", "wait")},
    "timer_cycle_too_fast.bpmn": {("timer-cycle-too-fast", "nag")},
    "timer_start_expression.bpmn": {("timer-start-expression", "start")},
    "message_thrown_not_caught.bpmn": {("message-not-caught", "tell")},
    "message_correlation_not_caught.bpmn": {("message-not-caught", "case_ref_property")},
    "message_undeclared.bpmn": {("message-undeclared", "wait")},
    "call_unknown.bpmn": {("call-unknown", "task")},
    "error_undeclared.bpmn": {("error-undeclared", "rejected")},
    "boundary_host.bpmn": {("boundary-host", "late")},
    "unreachable.bpmn": {("unreachable", "forgotten")},
    "endless_loop.bpmn": {("no-end", "draft"), ("no-end", "redraft")},
    "condition_empty.bpmn": {("condition-empty", "f_yes")},
    "send_task_no_message.bpmn": {("message-none", "task")},
    "script_empty.bpmn": {("script-empty", "task")},
    "call_none.bpmn": {("call-none", "task")},
    "call_expression.bpmn": {("bpmn-schema", "task"), ("call-expression", "task")},
    "signal_undeclared.bpmn": {("signal-undeclared", "stop")},
    "complex_gateway.bpmn": {("unsupported", "gw")},
    "business_rule_task.bpmn": {("unsupported", "task")},
}


@pytest.mark.parametrize(("name", "expected"), ONE_ERROR_EACH.items(), ids=list(ONE_ERROR_EACH))
def test_each_broken_diagram_gets_its_error_on_its_element(name: str, expected: set) -> None:
    report = engine.lint(files(name), handler_topics=TOPICS)
    assert {(p.code, p.element_id) for p in report.errors} == expected
    for p in report.errors:
        assert p.file == name and p.severity == "error" and p.message
        if p.element_id is not None:
            assert p.line == line_of(name, p.element_id, inner(p.code, p.element_id))
    assert not report.ok


@pytest.mark.parametrize(("name", "code", "element_id"), [
    ("no_candidate_group.bpmn", "task-no-group", "task"),
    ("unknown_topic.bpmn", "topic-no-handler", "task"),
    ("implicit_end.bpmn", "implicit-end", "task"),
    ("timer_no_timezone.bpmn", "timer-no-timezone", "wait"),
    ("no_candidate_group.bpmn", "form-none", "task"),
    ("gateway_default_condition.bpmn", "gateway-default-condition", "gw"),
    ("parallel_conditions.bpmn", "gateway-parallel-condition", "gw"),
    ("message_unused.bpmn", "message-unused", "msg_old"),
    ("timer_cycle_computed.bpmn", "timer-cycle-unchecked", "nag"),
])
def test_warnings_do_not_stop_a_deployment(name: str, code: str, element_id: str) -> None:
    report = engine.lint(files(name), handler_topics=TOPICS)
    assert report.ok and report.errors == []
    line = line_of(name, element_id, inner(code, element_id))
    assert (code, element_id, line) in {(p.code, p.element_id, p.line) for p in report.warnings}


def test_a_topic_is_only_checked_against_handlers_when_they_are_known() -> None:
    assert "topic-no-handler" not in {p.code for p in engine.lint(files("unknown_topic.bpmn")).problems}


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    report = engine.lint(files("many_problems.bpmn"))
    assert [(p.code, p.element_id) for p in report.errors] == [
        ("form-missing", "record"), ("service-no-topic", "submit"), ("gateway-condition", "decide"),
        ("timer-iso", "wait"), ("unreachable", "orphan")]
    [gateway] = [p for p in report.errors if p.code == "gateway-condition"]
    assert gateway.related_ids == ("f4", "f5")          # the flows a modeler should highlight with it


def test_every_schema_error_is_reported_not_only_the_first() -> None:
    report = engine.lint(files("schema_invalid.bpmn"))
    assert [(p.code, p.element_id, p.line) for p in report.errors] == [
        ("bpmn-schema", "bogus_one", line_of("schema_invalid.bpmn", "bogus_one")),
        ("bpmn-schema", "bogus_two", line_of("schema_invalid.bpmn", "bogus_two"))]


def test_forms_are_checked_and_a_broken_form_is_reported_on_the_form_not_the_task() -> None:
    report = engine.lint(files("form_invalid.bpmn", "forms/form_invalid.json", "forms/not_json.json"))
    assert [(p.code, p.file, p.line) for p in report.errors] == [
        ("form-schema", "forms/form_invalid.json", 4), ("form-json", "forms/not_json.json", 3)]
    assert "properties/decision/type" in report.errors[0].message


def test_a_form_no_task_names_is_a_warning() -> None:
    report = engine.lint(files("form_missing.bpmn", "forms/form_invalid.json"))
    assert ("form-unused", None) not in {(p.code, p.element_id) for p in report.warnings}   # it has errors
    unused = engine.DeployFile("forms/spare.json", b'{"type": "object"}')
    report = engine.lint([*files("no_candidate_group.bpmn"), unused])
    assert [p.file for p in report.warnings if p.code == "form-unused"] == ["forms/spare.json"]


@pytest.mark.parametrize(("name", "code"), [("decision.form", "form-camunda"), ("rules.dmn", "unsupported")])
def test_camunda_forms_and_dmn_are_refused_with_a_reason(name: str, code: str) -> None:
    report = engine.lint([*files("no_candidate_group.bpmn"), engine.DeployFile(name, b"{}")])
    assert [(p.code, p.file) for p in report.errors] == [(code, name)]


def test_the_same_form_twice_and_nothing_to_check_are_errors() -> None:
    form = b'{"type": "object"}'
    report = engine.lint([*files("no_candidate_group.bpmn"), engine.DeployFile("forms/a.json", form),
                          engine.DeployFile("a.schema.json", form)])
    assert [(p.code, p.file) for p in report.errors] == [("form-duplicate", "a.schema.json")]
    assert [p.code for p in engine.lint([]).errors] == ["no-files"]
    assert [p.code for p in engine.lint([engine.DeployFile("forms/a.json", form)]).errors] == ["no-diagram"]


def test_a_process_defined_twice_is_an_error() -> None:
    report = engine.lint(files("duplicate_a.bpmn", "duplicate_b.bpmn"))
    assert [(p.code, p.file, p.element_id) for p in report.errors] == [
        ("process-duplicate", "duplicate_b.bpmn", "duplicated")]


def test_a_message_start_name_must_be_unique_across_the_files() -> None:
    report = engine.lint(files("message_start_a.bpmn", "message_start_b.bpmn"))
    assert [(p.code, p.file, p.element_id) for p in report.errors] == [
        ("message-start-duplicate", "message_start_a.bpmn", "notified"),
        ("message-start-duplicate", "message_start_b.bpmn", "notified")]


def test_a_message_caught_only_by_another_case_is_a_warning() -> None:
    report = engine.lint(files("message_thrower.bpmn", "message_catcher.bpmn"))
    assert report.errors == []
    [warning] = [p for p in report.warnings if p.code == "message-other-case"]
    assert (warning.element_id, warning.related_ids) == ("tell", ("message_catcher",))


def test_a_call_activity_may_name_a_process_among_the_files() -> None:
    report = engine.lint([engine.DeployFile(n, (BPMN / n).read_bytes())
                          for n in ("parent_calls_child.bpmn", "child_process.bpmn")])
    assert report.errors == []


def test_what_is_deployed_counts_when_a_database_is_given(db: engine.Database, deploy) -> None:  # type: ignore[no-untyped-def]
    parent = [engine.DeployFile("parent_calls_child.bpmn", (BPMN / "parent_calls_child.bpmn").read_bytes())]
    assert [p.code for p in engine.lint(parent, db=db).errors] == ["call-unknown"]
    deploy("child_process.bpmn", "notification_start.bpmn")
    assert engine.lint(parent, db=db).errors == []
    clash = files("message_start_a.bpmn")
    assert [p.code for p in engine.lint(clash, db=db).errors] == ["message-start-taken"]
    assert engine.lint(clash).errors == []


def test_the_timer_minimum_is_a_parameter() -> None:
    cycle = files("timer_cycle_too_fast.bpmn")                            # R/PT10S
    assert engine.lint(cycle, min_timer_cycle=timedelta(seconds=10)).errors == []
    [error] = engine.lint(cycle, min_timer_cycle=timedelta(hours=1)).errors
    assert "minimum of 1 hour" in error.message


@pytest.mark.parametrize("content", [
    b'<?xml version="1.0" encoding="EBCDIC-CP-US"?><x/>',
    '<?xml version="1.0" encoding="UTF-8"?><x>caf\xe9</x>'.encode("latin-1"),
])
def test_an_encoding_that_cannot_be_read_safely_is_an_error(content: bytes) -> None:
    [error] = engine.lint([engine.DeployFile("odd.bpmn", content)]).errors
    assert error.code == "xml-encoding"


def test_a_file_over_the_size_limit_is_an_error() -> None:
    [error] = engine.lint([engine.DeployFile("huge.bpmn", b" " * (5 * 1024 * 1024 + 1))]).errors
    assert error.code == "file-too-large"


def test_the_report_reads_like_a_compiler_s() -> None:
    [problem] = engine.lint(files("form_missing.bpmn")).errors
    line = line_of("form_missing.bpmn", "task")
    assert problem.format() == (f"form_missing.bpmn:{line}: task: error: names form 'decision_nowhere', but no form "
                                "schema decision_nowhere.json is among these files or deployed with this process")


def test_the_partnership_s_diagrams_lint_clean() -> None:
    from api.cli import handler_topics
    names = sorted(PATHWAY.glob("*.bpmn")) + sorted((PATHWAY / "forms").glob("*.json"))
    report = engine.lint([engine.DeployFile(str(p.relative_to(PATHWAY)), p.read_bytes()) for p in names],
                         handler_topics=handler_topics())
    assert len(report.files) == len(names)
    assert [p.format() for p in report.problems] == []


def test_the_test_diagrams_other_tests_deploy_have_no_errors() -> None:
    meant_to_fail = {"evil_script.bpmn", "service_without_topic.bpmn", "form_task.bpmn", "parent_calls_child.bpmn"}
    for path in sorted(BPMN.glob("*.bpmn")):
        if path.name not in meant_to_fail:
            assert engine.lint([engine.DeployFile(path.name, path.read_bytes())]).errors == [], path.name
