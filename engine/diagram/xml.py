"""Reading a diagram's XML safely: decode it first, refuse DOCTYPE and entities, then parse what was checked.

Looking for `<!DOCTYPE` in the raw bytes is not enough: the same declaration in UTF-16 or UTF-32 has
other bytes, and libxml2 expands internal entities into attribute values even with
`resolve_entities=False`. So the bytes are decoded as XML says they must be (byte-order mark, then the
first characters, then the declaration: XML 1.0 appendix F), the text is checked, and libxml2 parses
that same text re-encoded as UTF-8 — never bytes it could read differently. Encodings outside a short
list are refused rather than guessed.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from engine.bpmn.parser import SAFE_XML

# what a diagram may be written in; anything else is refused (save the file as UTF-8)
ACCEPTED = {"utf-8": "utf-8", "utf8": "utf-8", "us-ascii": "ascii", "ascii": "ascii",
            "iso-8859-1": "latin-1", "latin-1": "latin-1", "latin1": "latin-1", "iso-8859-15": "iso-8859-15",
            "windows-1252": "cp1252", "cp1252": "cp1252",
            "utf-16": "utf-16", "utf-16le": "utf-16", "utf-16be": "utf-16",
            "utf-32": "utf-32", "utf-32le": "utf-32", "utf-32be": "utf-32"}

_BOMS = [(codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"), (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
         (codecs.BOM_UTF8, "utf-8", "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"), (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16")]
_FIRST_BYTES = [(b"\x00\x00\x00<", "utf-32-be", "utf-32"), (b"<\x00\x00\x00", "utf-32-le", "utf-32"),
                (b"\x00<\x00?", "utf-16-be", "utf-16"), (b"<\x00?\x00", "utf-16-le", "utf-16")]
_DECLARATION = re.compile(r"""\A<\?xml\b[^>]*?\?>""", re.DOTALL)
_ENCODING = re.compile(r"""\bencoding\s*=\s*(["'])([A-Za-z][A-Za-z0-9._-]*)\1""")
_UNSAFE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class XmlRefused(ValueError):
    """The file cannot be read safely; `line` says where, when known."""

    def __init__(self, message: str, line: int | None = None, code: str = "xml-unsafe") -> None:
        super().__init__(message)
        self.message, self.line, self.code = message, line, code


@dataclass(frozen=True)
class XmlDocument:
    tree: Any            # the root element (lxml), every element with its sourceline
    text: str            # the text that was checked and parsed: UTF-8 from now on, declaration to match


def decode(content: bytes) -> str:
    """The document as text, read as its byte-order mark, first bytes and declaration say.

    Raises: XmlRefused when the encoding is not accepted or the bytes do not match it.
    """
    codec, family, bom = None, None, b""
    for mark, name, fam in _BOMS:
        if content.startswith(mark):
            codec, family, bom = name, fam, mark
            break
    if codec is None:
        for first, name, fam in _FIRST_BYTES:
            if content.startswith(first):
                codec, family = name, fam
                break
    try:
        if codec is not None:
            text = content[len(bom):].decode(codec)
            found = _declared(text)
            if found is not None and ACCEPTED.get(found) != family:
                raise XmlRefused(f"the file says it is {found.upper()} but it is written in "
                                 f"{(family or '').upper()}: save it again as UTF-8", 1, "xml-encoding")
            return text
        head = content[:200].decode("ascii", errors="replace")
        declared = _declared(head) or "utf-8"
        python_codec = ACCEPTED.get(declared)
        if python_codec is None:
            raise XmlRefused(f"encoding {declared.upper()} is not accepted: save the diagram as UTF-8",
                             1, "xml-encoding")
        if python_codec in ("utf-16", "utf-32"):
            raise XmlRefused(f"the file says it is {declared.upper()} but it is not: save it again as UTF-8",
                             1, "xml-encoding")
        return content.decode(python_codec)
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1 if codec is None else None
        raise XmlRefused(f"the file is not valid {(codec or declared or 'UTF-8').upper()} text (byte {exc.start})",
                         line, "xml-encoding") from exc


def _declared(text: str) -> str | None:
    declaration = _DECLARATION.match(text.lstrip("\ufeff"))
    if declaration is None:
        return None
    encoding = _ENCODING.search(declaration.group(0))
    return encoding.group(2).lower() if encoding else None


def read(content: bytes) -> XmlDocument:
    """Decode, refuse DOCTYPE and ENTITY declarations, then parse the checked text with entities,
    DTDs and the network off.

    Raises: XmlRefused (unsafe or unreadable), etree.XMLSyntaxError (not well-formed).
    """
    text = decode(content).lstrip("\ufeff")
    unsafe = _UNSAFE.search(text)
    if unsafe is not None:
        raise XmlRefused("diagrams with a DOCTYPE or ENTITY declaration are refused (they can expand "
                         "into huge or hidden content)", text.count("\n", 0, unsafe.start()) + 1)
    declaration = _DECLARATION.match(text)
    declared = _ENCODING.search(declaration.group(0)) if declaration is not None else None
    if declaration is not None and declared is not None and declared.group(2).lower() not in ("utf-8", "utf8"):
        utf8 = _ENCODING.sub('encoding="UTF-8"', declaration.group(0), count=1)   # it is UTF-8 from now on
        text = utf8 + text[declaration.end():]
    tree = etree.fromstring(text.encode("utf-8"), parser=SAFE_XML)
    docinfo = tree.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:          # belt and braces: cannot happen now
        raise XmlRefused("diagrams with a DOCTYPE or ENTITY declaration are refused", 1)
    return XmlDocument(tree, text)
