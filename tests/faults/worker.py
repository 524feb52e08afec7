"""A fault-suite worker: the real Camunda Python client (camunda-external-task-client-python3),
unchanged, serving topics from two Reviewflow servers and moving to the other one when a server
stops answering.

Every answer a completion gets is appended to --results as one JSON line — {"task", "status",
"worker", "server", "retried"} — the moment it arrives, so the test can check that whatever a
worker was told was done (204) is in the database, and by whom. A completion whose connection
failed is sent again (the outcome was unknown); its answer is then marked "retried".

Run by tests/faults/conftest.py; the key comes in FAULT_WORKER_KEY (never on the command line).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from typing import Any

import requests
from camunda.client.external_task_client import ExternalTaskClient

STATUS = re.compile(r"received (\d{3})")


def status_of(error: Exception) -> int | None:
    """The HTTP status in the client's error ("received 404 : RestException : …"); None for a
    connection that failed."""
    if isinstance(error, requests.RequestException):
        return None
    found = STATUS.search(str(error))
    return int(found.group(1)) if found else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--url", action="append", required=True, help="a server (give two)")
    parser.add_argument("--topics", required=True)
    parser.add_argument("--lock-ms", type=int, default=3000)
    parser.add_argument("--handler-ms", type=int, default=20, help="how long the work itself takes")
    parser.add_argument("--results", required=True)
    args = parser.parse_args()

    stopping = False

    def on_term(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    config = {"maxTasks": 5, "lockDuration": args.lock_ms, "asyncResponseTimeout": 1000,
              "httpTimeoutMillis": 10_000, "timeoutDeltaMillis": 5_000, "includeExtensionProperties": False,
              "auth_basic": {"username": args.user, "password": os.environ["FAULT_WORKER_KEY"]}}
    clients = [ExternalTaskClient(args.worker_id, f"{url}/engine-rest", config) for url in args.url]
    topics = args.topics.split(",")
    results = open(args.results, "a", buffering=1)        # one line per answer, written as it comes
    turn = sum(map(ord, args.worker_id)) % len(clients)

    def record(task_id: str, status: int | None, server: int, retried: bool) -> None:
        results.write(json.dumps({"task": task_id, "status": status, "worker": args.worker_id,
                                  "server": args.url[server], "retried": retried}) + "\n")

    def complete(task_id: str) -> None:
        """Complete through the server the task came from; on a lost connection or a 503, again
        through the next one (a lock is the worker's, whichever server it asks)."""
        nonlocal turn
        retried = False
        deadline = time.monotonic() + 30
        while True:
            server = turn % len(clients)
            try:
                done = clients[server].complete(task_id, {"worked_by": args.worker_id})
                record(task_id, 204 if done else None, server, retried)
                return
            except Exception as error:  # noqa: BLE001 - the client raises plain Exceptions for 4xx/5xx
                status = status_of(error)
                if status is not None and status != 503:
                    record(task_id, status, server, retried)
                    return
            if time.monotonic() > deadline:
                record(task_id, None, server, retried)
                return
            retried = True
            turn += 1
            time.sleep(0.2)

    while not stopping:
        server = turn % len(clients)
        try:
            tasks = clients[server].fetch_and_lock(topics)
        except Exception:  # noqa: BLE001 - a server gone or busy: ask the other one
            turn += 1
            time.sleep(0.2)
            continue
        for task in tasks or []:
            time.sleep(args.handler_ms / 1000)       # the work
            complete(task["id"])
    results.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
