"""A start whose answer never reached the client is retried with the same Idempotency-Key against
the other server, and makes one case — whether its server was killed right after the commit, or the
client's connection dropped before it read the answer."""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any

import httpx
import sqlalchemy as sa

from tests.faults.conftest import Cluster, scalar, wait_for

KILLS = 1                   # each costs a server start
DROPS = 20


def send_and_forget(port: int, key: str, secret: str, body: dict[str, Any]) -> socket.socket:
    """Send the start on a raw connection and read nothing back (the caller drops it). The body is
    the same bytes the retry sends: a key's request is told apart by its exact bytes."""
    payload = encode(body)
    head = (f"POST /api/v1/instances HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {secret}\r\n"
            f"Idempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head.encode() + payload)
    return sock


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def drop(sock: socket.socket) -> None:
    """Close with a reset, as a client that went away does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def retry(url: str, secret: str, key: str, body: dict[str, Any], errors: list[str]) -> httpx.Response:
    """The same request, same key, to `url`; again while its twin is still being carried out (409
    duplicate_request) or the server is busy (503) — and after a 500, which goes into `errors`
    (a defect; sending the same key again is safe, and lets the test check the rest)."""
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {secret}"}) as client:
        while True:
            response = client.post("/api/v1/instances", content=encode(body),
                                   headers={"Idempotency-Key": key, "Content-Type": "application/json"})
            if response.status_code >= 500 and response.status_code != 503:
                errors.append(f"{key}: {response.status_code} {response.text[:200]}")
            busy = response.status_code >= 500 or (
                response.status_code == 409 and response.json()["error"]["code"] == "duplicate_request")
            if not busy or time.monotonic() > deadline:
                return response
            time.sleep(0.1)


def cases_with(cluster: Cluster, business_key: str) -> list[str]:
    with cluster.db.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT id FROM instance WHERE business_key = :b"),
                                 {"b": business_key}).scalars())


def stored_answer(cluster: Cluster, key: str) -> int | None:
    return scalar(cluster.db, "SELECT status FROM idempotency_key WHERE key = :k", k=key)


def test_a_start_whose_server_was_killed_after_the_commit_is_retried_on_the_other_server_once(
        cluster: Cluster) -> None:
    s1, s2 = cluster.servers()
    secret = cluster.keys["alice"]
    paths, errors = [], []
    for trial in range(KILLS):
        key, business_key = f"killed-start-{trial}", f"KILLED-{trial}"
        body = {"definition_key": "one_user_task", "business_key": business_key, "variables": {"trial": trial}}
        sock = send_and_forget(s1.port, key, secret, body)
        wait_for(lambda k=key: scalar(cluster.db, "SELECT COUNT(*) FROM idempotency_key WHERE key = :k", k=k),
                 limit_s=30, what="the start's commit", every_s=0.002)
        s1.kill()                                              # right after the commit: the answer is lost
        drop(sock)
        paths.append("stored" if stored_answer(cluster, key) is not None else "lost between commit and storing")
        again = retry(s2.url, secret, key, body, errors)
        assert again.status_code == 201, again.text
        assert again.headers.get("idempotent-replayed") == "true"
        assert cases_with(cluster, business_key) == [again.json()["id"]]
        assert again.json()["business_key"] == business_key and again.json()["user_tasks"]
        s1.start()
    print(f"\n[{cluster.name}] the first answer at the kill: {paths}")
    assert errors == [], f"{len(errors)} server errors on the way: {errors}"


def test_a_start_whose_client_dropped_the_connection_is_retried_on_the_other_server_once(
        cluster: Cluster) -> None:
    servers = cluster.servers()
    secret = cluster.keys["alice"]
    replayed, errors = 0, []
    for trial in range(DROPS):
        first, other = servers[trial % 2], servers[(trial + 1) % 2]
        key, business_key = f"dropped-start-{trial}", f"DROPPED-{trial}"
        body = {"definition_key": "one_user_task", "business_key": business_key}
        drop(send_and_forget(first.port, key, secret, body))
        time.sleep(0.005 * (trial % 5))                       # the retry comes at various moments of the first
        again = retry(other.url, secret, key, body, errors)
        assert again.status_code == 201, again.text
        replayed += again.headers.get("idempotent-replayed") == "true"
        assert cases_with(cluster, business_key) == [again.json()["id"]]
    time.sleep(1)                                              # a first request still running would commit now
    for trial in range(DROPS):
        assert len(cases_with(cluster, f"DROPPED-{trial}")) == 1
    assert all(s.alive() for s in servers)
    print(f"\n[{cluster.name}] {DROPS} dropped starts retried: {replayed} answered from the first request")
    assert errors == [], f"{len(errors)} server errors on the way: {errors}"
