"""The permissions and what each role may do, as SECURITY.md describes them: the oracle of the
permission tests (tests/api/test_security.py, tests/security/test_matrix.py), written out here
rather than read from the code under test."""

from __future__ import annotations

D, S, R, W, E, A, U, M = ("deploy", "start", "read_instance", "work_tasks", "work_external_tasks", "administer",
                          "read_audit", "manage_tasks")
DF, MG, RP = "read_definitions", "migrate", "repair"

# what each role may do (the oracle: written out here, not read from the code under test)
ROLE_GRANTS = {
    "admin": {D, S, R, W, E, A, U, M, DF, MG, RP},
    "process-owner": {D, DF, MG},               # the diagrams, not the cases
    "business-unit": {S, R, W, A, M, DF},
    "crg-member": {S, R, W, DF},
    "panel-member": {R, W, DF},
    "reviewer": {R, W, DF},
    "agency-lead": {W},
    "worker": {E},
    "auditor": {U, R, DF},
}
