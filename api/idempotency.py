"""`Idempotency-Key` on the requests that start, complete and correlate: a retry answers as the
first request did.

A client whose answer was lost (the server stopped, the database went away while committing, the
network failed) sends the same request again with the same key:

* the key is new: the request is carried out, and the key recorded in the same transaction as the
  change (engine.IdempotencyKey), then the answer stored beside it;
* the key is known, for the same request (method, path and body): the first answer again — or, if
  the server stopped between the commit and storing the answer, the case as it is now, with the
  status the route gives on success;
* the key is known for another request: 409, nothing done;
* the twin of this request is being carried out at this moment: 409, retry shortly.

Keys are scoped to who sends them and kept for 24 hours.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import Response

import engine
from api.deps import call
from api.security import CallerDep

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")            # visible ASCII, as the IETF draft's examples


@dataclass
class RequestOnce:
    key: str | None
    scope: str
    fingerprint: str

    def engine_key(self) -> engine.IdempotencyKey | None:
        return None if self.key is None else engine.IdempotencyKey(self.scope, self.key, self.fingerprint)

    async def answer(self, db: engine.Database, produce: Callable[[engine.IdempotencyKey | None], Awaitable[Response]],
                     lost: Callable[[engine.StoredRequest], Awaitable[Response]]) -> Response:
        """The answer to this request, carried out at most once per key. `produce` carries it out
        (handing the key to the engine command); `lost` answers a retry whose first answer was
        never stored."""
        if self.key is None:
            return await produce(None)
        stored = await call(db, engine.find_request, scope=self.scope, key=self.key)
        if stored is None:
            try:
                response = await produce(self.engine_key())
            except engine.DuplicateRequest:
                stored = await call(db, engine.find_request, scope=self.scope, key=self.key)
                if stored is None or stored.status is None:
                    raise
            else:
                await call(db, engine.store_answer, scope=self.scope, key=self.key, status=response.status_code,
                           content_type=response.headers.get("content-type"), body=bytes(response.body))
                return response
        if stored.fingerprint != self.fingerprint:
            raise engine.IdempotencyKeyReused(f"the {HEADER} {self.key!r} was used for another request; "
                                              "use a new key for a new request")
        if stored.status is None:
            replay = await lost(stored)
        else:
            replay = Response(stored.body or b"", status_code=stored.status, media_type=stored.content_type)
        replay.headers["Idempotent-Replayed"] = "true"
        return replay


async def request_once(request: Request, caller: CallerDep, idempotency_key: Annotated[str | None, Header(
        alias=HEADER, description=(
            "a key unique to this request (a UUID): retrying with the same key and body gives the first "
            "answer again instead of acting twice; kept 24 hours"))] = None) -> RequestOnce:
    if idempotency_key is not None and not _KEY.match(idempotency_key):
        raise engine.Invalid(f"{HEADER} must be 1 to 255 visible ASCII characters")
    if idempotency_key is None:                  # nothing to compare a retry with: no fingerprint
        return RequestOnce(None, caller.id, "")
    digest = hashlib.sha256(f"{request.method} {request.url.path}?{request.url.query}\n".encode())
    digest.update(_canonical(await request.body()))
    return RequestOnce(idempotency_key, caller.id, digest.hexdigest())


def _canonical(body: bytes) -> bytes:
    """A JSON body as its content, whatever its spacing and key order (a client's library may
    serialise the retry differently from the first attempt); any other body as its bytes."""
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        return body


OnceDep = Annotated[RequestOnce, Depends(request_once)]
