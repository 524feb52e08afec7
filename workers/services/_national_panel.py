"""Submissions to the Child Safeguarding Practice Review Panel (the National Panel), exactly once.

With an endpoint configured, each submission is POSTed as JSON with an `Idempotency-Key` header;
the Panel's service answers the same receipt for the same key, so a retried task never submits
twice. No public submission API is known (the domain reference, §6.6): without an endpoint the
submission is written to `outbox/national-panel/<key>.json` — once per key — for the business unit
to send through the Panel's portal, and the receipt is a local reference to that file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from workers.services._directory import Endpoint
from workers.services._errors import NeedsAttention
from workers.services._files import digest, safe_name, write_once
from workers.services._http import bearer, call

__all__ = ["NationalPanel", "Receipt"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    id: str
    received_at: str | None = None
    via: str = "api"                # "api" or "outbox"


class NationalPanel:
    def __init__(self, endpoint: Endpoint, outbox: Path, *, transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = endpoint
        self.folder = outbox / "national-panel"
        self._http = (httpx.Client(timeout=endpoint.timeout_seconds, transport=transport, follow_redirects=False,
                                   headers={"Accept": "application/json", "User-Agent": "reviewflow-worker",
                                            **bearer(endpoint.token)})
                      if endpoint.url else None)

    def submit(self, submission: Mapping[str, Any], *, idempotency_key: str) -> Receipt:
        """Submit once per `idempotency_key`; the Panel's receipt (or the outbox's).

        Raises: Rejected (the Panel answered 4xx), NeedsAttention (credentials; no receipt in the
        answer), Unavailable (unreachable, timed out, 5xx, 409 while the same key is in progress).
        """
        if self._http is None:
            return self._to_outbox(submission, idempotency_key)
        url = self.endpoint.url
        assert url is not None
        response = call("National Panel submission",
                        lambda: self._http.post(url, json=dict(submission),  # type: ignore[union-attr]
                                                headers={"Idempotency-Key": idempotency_key}),
                        retry_on=(408, 409, 425, 429))
        try:
            body = response.json()
        except ValueError:
            body = None
        receipt = None
        if isinstance(body, dict):
            receipt = next((body[k] for k in ("receipt_id", "id", "reference") if body.get(k)), None)
        if not isinstance(receipt, str | int):
            raise NeedsAttention(f"the National Panel answered HTTP {response.status_code} without a receipt id; "
                                 "check with the Panel whether the submission arrived")
        received = body.get("received_at") if isinstance(body, dict) else None
        log.info("National Panel submission accepted", extra={"receipt_id": str(receipt)})
        return Receipt(id=str(receipt), received_at=str(received) if received else None)

    def _to_outbox(self, submission: Mapping[str, Any], key: str) -> Receipt:
        receipt = f"OUTBOX-{digest(key, length=12).upper()}"
        record = {"idempotency_key": key, "receipt_id": receipt, "submission": dict(submission)}
        path = self.folder / f"{safe_name(key)}.json"
        if write_once(path, json.dumps(record, indent=2, ensure_ascii=False, default=str).encode("utf-8")):
            log.info("National Panel submission written to the outbox", extra={"receipt_id": receipt})
        return Receipt(id=receipt, via="outbox")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
