"""The mailer: once per key, to the outbox or by SMTP; never with a confidential name; SMTP failures
classified as retry or incident."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from tests.workers.services.fakes import FakeSmtp
from workers.services import Attachment, Email, Mailer, NeedsAttention, Smtp, Unavailable


def message(key: str = "task:1:x", **more: object) -> Email:
    values: dict[str, object] = {"to": ("lead@agency.example",), "subject": "Case NB-1", "text": "See the link.",
                                 "key": key}
    values.update(more)
    return Email(**values)  # type: ignore[arg-type]


def test_the_outbox_gets_one_file_per_key(tmp_path: Path) -> None:
    mailer = Mailer(sender="Reviews <no-reply@scp.example>", outbox=tmp_path)
    assert mailer.send(message()) is True
    assert mailer.send(message(text="different text, same key")) is False
    assert mailer.send(message("task:1:y")) is True
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2 and not list((tmp_path / "mail").glob(".*"))        # no temporary files left
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["From"] == "Reviews <no-reply@scp.example>"
    assert parsed["Message-ID"].endswith("@scp.example>")


def test_attachments_keep_their_type(tmp_path: Path) -> None:
    mailer = Mailer(sender="no-reply@scp.example", outbox=tmp_path)
    ics = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    mailer.send(message(attachments=(Attachment("m.ics", "text/calendar; method=REQUEST; charset=utf-8", ics),)))
    [path] = (tmp_path / "mail").glob("*.eml")
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    [part] = list(parsed.iter_attachments())  # type: ignore[attr-defined]
    assert part.get_content_type() == "text/calendar" and part.get_param("method") == "REQUEST"
    assert part.get_payload(decode=True) == ics


def test_an_email_with_a_confidential_name_is_refused_without_repeating_it(tmp_path: Path) -> None:
    mailer = Mailer(sender="no-reply@scp.example", outbox=tmp_path)
    with pytest.raises(NeedsAttention) as raised:
        mailer.send(message(subject="About jayden smith"), forbidden=["Jayden Smith"])
    assert "jayden" not in str(raised.value).lower()
    assert not (tmp_path / "mail").exists()


def test_smtp_delivers_once_per_key(tmp_path: Path) -> None:
    smtp = FakeSmtp().start()
    try:
        mailer = Mailer(sender="no-reply@scp.example", outbox=tmp_path,
                        smtp=Smtp(host="127.0.0.1", port=smtp.port, security="none"))
        assert mailer.send(message(cc=("unit@scp.example",))) is True
        assert mailer.send(message()) is False
        [delivered] = smtp.delivered
        assert delivered.recipients == ["lead@agency.example", "unit@scp.example"]
        assert delivered.message()["Subject"] == "Case NB-1"
    finally:
        smtp.stop()


def test_smtp_failures_are_retried_or_need_a_person(tmp_path: Path) -> None:
    down = Mailer(sender="no-reply@scp.example", outbox=tmp_path, smtp=Smtp(host="127.0.0.1", port=9, security="none",
                                                                           timeout_seconds=2))
    with pytest.raises(Unavailable):
        down.send(message())
    smtp = FakeSmtp(refuse_with=554).start()
    try:
        refusing = Mailer(sender="no-reply@scp.example", outbox=tmp_path,
                          smtp=Smtp(host="127.0.0.1", port=smtp.port, security="none"))
        with pytest.raises(NeedsAttention, match="refused the email .554."):
            refusing.send(message())
        smtp.refuse_with = 451
        with pytest.raises(Unavailable):
            refusing.send(message())
        smtp.refuse_with = None
        assert refusing.send(message()) is True                      # nothing was recorded as sent before
    finally:
        smtp.stop()
