"""The outbound side of the handlers: the partnership directory, email, the National Panel, the
website, and the case's documents — built once per process as one `Services` object.

    services = Services.from_settings()        # REVIEWFLOW_WORKER_* and partnership.toml
    services.mailer.send(Email(to=(lead,), subject=…, text=…, key=task.activity_instance_id))

Without an SMTP server, a National Panel endpoint or a website endpoint configured, email goes to
`outbox/mail/*.eml`, submissions to `outbox/national-panel/*.json` and pages to the site folder —
each written once per idempotency key.
"""

from workers.services._briefing import SECTIONS as BRIEFING_SECTIONS
from workers.services._briefing import Briefing, render_briefing
from workers.services._directory import (
                                         ROLES,
                                         STATUTORY_PARTNERS,
                                         Agency,
                                         Directory,
                                         Endpoint,
                                         Person,
                                         Reviewer,
                                         Smtp,
                                         load_directory,
                                         resolve_directory_path,
)
from workers.services._documents import Documents, StoredDocument
from workers.services._errors import (
                                         DirectoryError,
                                         DocumentUnreadable,
                                         NeedsAttention,
                                         Rejected,
                                         ServiceError,
                                         Unavailable,
)
from workers.services._files import digest, safe_name
from workers.services._ics import Meeting, calendar
from workers.services._mail import Attachment, Email, Mailer
from workers.services._national_panel import NationalPanel, Receipt
from workers.services._office import DOCX, ODT, XLSX, OfficeText, read_office
from workers.services._render import clean_html, html_page, markdown_to_html
from workers.services._services import Services, ServicesSettings, services_for
from workers.services._tables import Grid, defuse, iter_nonblank, read_grids, workbook
from workers.services._text import fold, html_to_markdown, html_to_text, names_found, places_naming
from workers.services._website import Page, PageFile, Website
from workers.services._word import TEMPLATES, Templates

__all__ = [
    "Agency",
    "Attachment",
    "BRIEFING_SECTIONS",
    "Briefing",
    "DOCX",
    "Directory",
    "DirectoryError",
    "DocumentUnreadable",
    "Documents",
    "Email",
    "Endpoint",
    "Grid",
    "Mailer",
    "Meeting",
    "NationalPanel",
    "NeedsAttention",
    "ODT",
    "OfficeText",
    "Page",
    "PageFile",
    "Person",
    "ROLES",
    "Receipt",
    "Rejected",
    "Reviewer",
    "STATUTORY_PARTNERS",
    "ServiceError",
    "Services",
    "ServicesSettings",
    "Smtp",
    "StoredDocument",
    "TEMPLATES",
    "Templates",
    "Unavailable",
    "Website",
    "XLSX",
    "calendar",
    "clean_html",
    "defuse",
    "digest",
    "fold",
    "html_page",
    "html_to_markdown",
    "html_to_text",
    "iter_nonblank",
    "load_directory",
    "markdown_to_html",
    "names_found",
    "places_naming",
    "read_grids",
    "read_office",
    "render_briefing",
    "resolve_directory_path",
    "safe_name",
    "services_for",
    "workbook",
]
