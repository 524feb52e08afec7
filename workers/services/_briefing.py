"""The 7-minute briefing: seven short sections a team can read together in seven minutes.

Partnerships' briefings usually run: background; why it matters; the key information and learning;
things to note; what to do; and end with questions for reflection, teams recording how they used it
on a 7-minute briefing action-plan proforma (the domain reference, §3, "7-minute briefing"). Ours:

1. Background — what a Rapid Review is and why this one ended in learning dissemination
2. The case — the incident, anonymised ("Child X"), and the agencies involved
3. What we learned — the learning points the sub-group recorded
4. Why it matters — for whom, and what is at stake
5. What to do — good practice to build on, and what teams should do with the briefing
6. Questions for reflection
7. Further information — the partnership's site and contact

Everything is built from the case's recorded variables; nothing is invented. It is a draft: the
Learning from Practice sub-group reviews it, and publication refuses it while it holds a
confidential name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workers.services._render import html_page, markdown_to_html

__all__ = ["SECTIONS", "Briefing", "render_briefing"]

SECTIONS = ("Background", "The case", "What we learned", "Why it matters", "What to do",
            "Questions for reflection", "Further information")

_INCIDENT = {
    "death": "a child died and abuse or neglect was known or suspected",
    "serious_harm": "a child was seriously harmed and abuse or neglect was known or suspected",
}


@dataclass(frozen=True)
class Briefing:
    partnership: str
    case_reference: str
    learning_points: Sequence[str]
    good_practice: str | None = None
    audiences: Sequence[str] = ()
    incident_type: str | None = None
    incident_summary: str | None = None
    agencies: Sequence[str] = ()
    website: str | None = None
    contact_email: str | None = None
    version: int = 1


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_briefing(b: Briefing) -> tuple[str, str]:
    """The briefing as (Markdown, HTML), as it will be published: no internal case reference, draft
    number or agency id (`agencies` are the names people read; the draft number is the case's
    briefing_version)."""
    incident = _INCIDENT.get(b.incident_type or "", "a child was seriously harmed or died")
    md = ["# 7-minute briefing: learning from a Rapid Review", ""]

    md += [f"## 1. {SECTIONS[0]}", "",
           "When a child dies or is seriously harmed and abuse or neglect is known or suspected, the local "
           f"authority notifies the Child Safeguarding Practice Review Panel and {b.partnership} holds a Rapid "
           "Review: the agencies involved share what they know, and the "
           "Case Review Group decides whether a Local Child Safeguarding Practice Review is needed. In this case "
           "the Rapid Review identified the learning, so it is shared with practitioners through this briefing "
           "instead of a local review (Working Together to Safeguard Children 2023, chapter 5).", ""]

    md += [f"## 2. {SECTIONS[1]}", "", f"The child is called Child X here. In this case {incident}."]
    if b.incident_summary:
        md += ["", _one_line(b.incident_summary)]
    if b.agencies:
        md += ["", "Agencies involved:", "", *(f"- {_one_line(a)}" for a in b.agencies)]
    md.append("")

    md += [f"## 3. {SECTIONS[2]}", "", *(f"{n}. {_one_line(p)}" for n, p in enumerate(b.learning_points, 1)), ""]

    md += [f"## 4. {SECTIONS[3]}", "",
           "Children are safer when practitioners recognise risk early, share information promptly and work "
           "together across agencies. Each point above is something the agencies involved could have done "
           "differently, or did well and should keep doing."]
    if b.audiences:
        md += ["", "This learning matters most for:", "", *(f"- {_one_line(a)}" for a in b.audiences)]
    md.append("")

    md += [f"## 5. {SECTIONS[4]}", ""]
    if b.good_practice:
        md += [f"**Good practice to build on:** {_one_line(b.good_practice)}", ""]
    md += ["- Read this briefing together in a team meeting or supervision.",
           "- Agree one change your team will make, and who will make it.",
           "- Record how your team used the briefing on the partnership's 7-minute briefing action-plan proforma.",
           ""]

    md += [f"## 6. {SECTIONS[5]}", "",
           "- What are your key thoughts on reading this briefing?",
           "- How does this learning apply to the children and families you work with?",
           "- How will you embed the learning in your practice, and how will you know it has made a difference?",
           "- What will you put into your team's plans as a result?", ""]

    md += [f"## 7. {SECTIONS[6]}", ""]
    if b.website:
        md.append(f"- {b.partnership}: [{b.website}]({b.website})")
    if b.contact_email:
        md.append(f"- Questions about this briefing: [{b.contact_email}](mailto:{b.contact_email})")
    md += ["- Working Together to Safeguard Children 2023, chapter 5: "
           "[www.gov.uk/government/publications/working-together-to-safeguard-children--2]"
           "(https://www.gov.uk/government/publications/working-together-to-safeguard-children--2)", ""]

    markdown = "\n".join(md)
    title = "7-minute briefing: learning from a Rapid Review"
    return markdown, html_page(title=title, body=markdown_to_html(markdown), partnership=b.partnership)
