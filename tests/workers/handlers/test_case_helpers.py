"""The helpers handlers share: a diagram's property that names one of a handler's choices."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workers.handlers.conftest import task_for
from workers.handlers import information_request, national_panel_submission, notification, publication
from workers.runtime import Incident
from workers.services import Services


@pytest.mark.parametrize(("module", "name", "allowed"), [
    (information_request, "document", "initial_scoping"),
    (national_panel_submission, "document", "rapid_review"),
    (publication, "document", "final_report"),
    (notification, "kind", "reminder"),
])
def test_a_property_outside_the_handler_s_choices_is_an_incident_naming_it(
        services: Services, module: Any, name: str, allowed: str) -> None:
    task = task_for(module, {"case_reference": "NB-TEST-1"}, properties={name: "nonsense"})
    with pytest.raises(Incident, match=rf"^service task activity: property {name} must be one of .*{allowed}.*, "
                                       r"not 'nonsense'$"):
        module.handle(task, services)
