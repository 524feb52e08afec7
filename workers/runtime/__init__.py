"""The external-task worker runtime: the client side of Camunda 7's protocol, and the handler API.

A handler module (one per topic, in `workers.handlers`) reads like the business it does:

    TOPIC = "national-panel-submission"
    LOCK = timedelta(minutes=2)

    @dataclass(frozen=True)
    class Input:
        case_ref: str

    def handle(task: ExternalTask[Input], services: Services) -> Complete:
        receipt = services.national_panel.submit(task.input, idempotency_key=task.activity_instance_id)
        if receipt.rejected:
            raise BpmnError("PANEL_REJECTED", f"reason code {receipt.reason_code}")
        return Complete(panel_receipt_id=receipt.id)

and a process runs them with `Worker(EngineClient(settings), discover(), settings).run_until(stop)`.
"""

from workers.runtime._client import EngineClient
from workers.runtime._exceptions import (
                                         EngineClientError,
                                         EngineRejected,
                                         EngineUnavailable,
                                         HandlerDefinitionError,
                                         InvalidRequest,
                                         LockLost,
                                         NotAuthorized,
                                         ProtocolError,
                                         TaskGone,
                                         VariableTypeError,
                                         WorkerError,
)
from workers.runtime._execute import run_handler
from workers.runtime._handler import HandleFunction, HandlerModule, NoInput, handler
from workers.runtime._outcomes import (
                                         BpmnError,
                                         Complete,
                                         Dropped,
                                         Failure,
                                         Incident,
                                         Interrupted,
                                         Outcome,
                                         ReportBpmnError,
                                         Unlock,
)
from workers.runtime._request_id import current_request_id
from workers.runtime._retry import RetryPolicy
from workers.runtime._settings import WorkerSettings
from workers.runtime._task import ExternalTask, LockedTask, TaskLogger
from workers.runtime._variables import decode_variables, encode_variables
from workers.runtime._worker import Worker

__all__ = [
    "BpmnError",
    "Complete",
    "Dropped",
    "EngineClient",
    "EngineClientError",
    "EngineRejected",
    "EngineUnavailable",
    "ExternalTask",
    "Failure",
    "HandleFunction",
    "HandlerDefinitionError",
    "HandlerModule",
    "Incident",
    "Interrupted",
    "InvalidRequest",
    "LockLost",
    "LockedTask",
    "NoInput",
    "NotAuthorized",
    "Outcome",
    "ProtocolError",
    "ReportBpmnError",
    "RetryPolicy",
    "TaskGone",
    "TaskLogger",
    "Unlock",
    "VariableTypeError",
    "Worker",
    "WorkerError",
    "WorkerSettings",
    "current_request_id",
    "decode_variables",
    "encode_variables",
    "handler",
    "run_handler",
]
