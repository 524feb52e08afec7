"""Email: by SMTP when the directory configures it, otherwise as `.eml` files in `outbox/mail/`.

Emails carry links and references only — the case reference, a link to the task list, a date —
never case details, the names of children or family members, or document contents. The mailer
cannot know what a case detail is, but it refuses any email containing one of the names the caller
passes as `forbidden` (the case's `confidential_names`).

Each email has an idempotency key (from `task.activity_instance_id`): an email already sent or
written under its key is not sent again, so a retried task does not mail people twice.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from workers.services._directory import Smtp
from workers.services._errors import NeedsAttention, Unavailable
from workers.services._files import digest, safe_name, write_once
from workers.services._text import names_found

__all__ = ["Attachment", "Email", "Mailer"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str   # "text/calendar; method=REQUEST"
    content: bytes


@dataclass(frozen=True)
class Email:
    to: tuple[str, ...]
    subject: str
    text: str
    key: str                        # idempotency key: the same key is sent once
    cc: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = field(default=())


class Mailer:
    """Sends `Email`s once per key. `outbox` holds the `.eml` files (no SMTP) and the record of what
    SMTP has sent (`outbox/mail/sent/`)."""

    def __init__(self, *, sender: str, outbox: Path, smtp: Smtp | None = None, reply_to: str | None = None) -> None:
        self.sender = sender
        self.reply_to = reply_to
        self.smtp = smtp
        self.folder = outbox / "mail"
        self._lock = threading.Lock()

    def send(self, email: Email, *, forbidden: Iterable[str] = ()) -> bool:
        """Send `email` unless its key was sent before. True when sent now.

        Raises: NeedsAttention when it has no recipient or contains a forbidden name (the name is not
        repeated); Unavailable when the SMTP server cannot be reached or refuses for now.
        """
        if not email.to:
            raise NeedsAttention(f"email {email.key!r} has no recipient")
        names = [n for n in forbidden if isinstance(n, str) and n.strip()]
        texts = [email.subject, email.text, *(a.content.decode("utf-8", "replace") for a in email.attachments
                                              if a.content_type.startswith("text/"))]
        if names and any(names_found(t, names) for t in texts):
            raise NeedsAttention(f"email {email.key!r} would contain a confidential name; not sent")
        message = self._message(email)
        name = safe_name(email.key)
        if self.smtp is None:
            wrote = write_once(self.folder / f"{name}.eml", bytes(message))
            if wrote:
                log.info("email written to the outbox", extra={"mail_key": name})
            return wrote
        marker = self.folder / "sent" / name
        with self._lock:
            if marker.exists():
                return False
            self._deliver(message, [*email.to, *email.cc])
            write_once(marker, message["Message-ID"].encode("ascii"))
        log.info("email sent", extra={"mail_key": name})
        return True

    def send_all(self, emails: Sequence[Email], *, forbidden: Iterable[str] = ()) -> int:
        """Send each email once; the number sent now."""
        names = list(forbidden)
        return sum(self.send(e, forbidden=names) for e in emails)

    def _message(self, email: Email) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(email.to)
        if email.cc:
            message["Cc"] = ", ".join(email.cc)
        if self.reply_to:
            message["Reply-To"] = self.reply_to
        message["Subject"] = email.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        domain = self.sender.rsplit("@", 1)[-1].strip("> ") or "reviewflow.invalid"
        message["Message-ID"] = f"<{digest(email.key, length=32)}@{domain}>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(email.text)
        for attachment in email.attachments:
            main, _, rest = attachment.content_type.partition("/")
            subtype, *params = [p.strip() for p in rest.split(";")]
            extra = dict(p.split("=", 1) for p in params if "=" in p)
            message.add_attachment(attachment.content, maintype=main, subtype=subtype,
                                   filename=attachment.filename, params=extra)
        return message

    def _deliver(self, message: EmailMessage, recipients: list[str]) -> None:
        smtp = self.smtp
        assert smtp is not None
        try:
            if smtp.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_seconds,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
            with client:
                if smtp.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if smtp.username and smtp.password:
                    client.login(smtp.username, smtp.password)
                client.send_message(message, to_addrs=recipients)
        except smtplib.SMTPAuthenticationError as exc:
            raise NeedsAttention(f"SMTP server {smtp.host} refused the login ({exc.smtp_code})") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise NeedsAttention(f"SMTP server {smtp.host} refused {len(exc.recipients)} recipient(s)") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise NeedsAttention(f"SMTP server {smtp.host} refused the email ({exc.smtp_code})") from exc
            raise Unavailable(f"SMTP server {smtp.host} answered {exc.smtp_code}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise Unavailable(f"SMTP server {smtp.host}:{smtp.port}: {type(exc).__name__}") from exc

