"""Reading a stored message: its headers, and the words the person actually wrote.

The MIME structure is parsed with the standard library's modern policy. The
body is the text/plain part, or the HTML part turned into text; charsets and
transfer encodings are decoded (a charset Python does not know is read as
UTF-8 with replacement characters, never an error); attachments are ignored;
and so is everything a mail program adds below what was typed: quoted replies
("> …", "On … wrote:", Outlook's "From: … Sent: …" block) and signatures (a
line "-- "). Nothing here raises on any input: a header that will not parse is
read as blank, NUL characters are dropped (PostgreSQL's text cannot hold them),
a charset Python cannot decode text with is read as UTF-8, and parts nested
more than ``MAX_DEPTH`` levels deep are left out (docs/mail-security.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses

import html2text

MAX_BODY_CHARS = 200_000  # what a person types fits easily; the rest is not read
MAX_DEPTH = 20  # levels of parts within parts that are read
_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")
# A Markdown table's rule ("| --- | :--: |") is a line of only these characters, with "---" in it.
# (As one pattern, ``[\s|:-]*-{3,}[\s|:-]*``, it took seconds on a line of dashes and an "x".)
_TABLE_RULE_CHARACTERS = re.compile(r"[\s|:-]*")
_WROTE = re.compile(r"\b(wrote|a écrit|schrieb|ysgrifennodd)\s*:\s*$", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"^\s*(-{2,}\s*(original message|forwarded message|neges wreiddiol)\s*-{2,}|_{10,}|begin forwarded message:)\s*$",
    re.IGNORECASE,
)
_HEADER_BLOCK = re.compile(r"^\s*\*?(from|oddi wrth|von|de)\s*:\*?\s", re.IGNORECASE)
_HEADER_FOLLOW = re.compile(r"^\s*\*?(sent|date|to|subject|anfonwyd|dyddiad|at|pwnc)\s*:", re.IGNORECASE)
# local@domain, the domain with a dot inside it ("." in domain[1:-1]): one pass, no backtracking.
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]+@([^@\s<>\"(),;:]+)\Z")
_MESSAGE_IDS = re.compile(r"<[^<>\s]+>")
_TAG = re.compile(r"<[^<>]*>")
# An RFC 2231 parameter name ("charset*=", "name*0*="): renamed so that it is not decoded.
_EXTENDED_PARAMETER = re.compile(rb"(;[ \t]*[A-Za-z0-9_.-]+)\*[0-9*]*([ \t]*=)")
_SENT_FROM = re.compile(r"^\s*(sent from my|get outlook for|sent from outlook|sent via)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ReadMessage:
    """What the processing needs from one message, all as plain text."""

    subject: str = ""
    from_address: str | None = None
    message_id: str | None = None
    references: tuple[str, ...] = ()
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case name -> first value, for the rules
    authentication_results: tuple[str, ...] = ()
    received_spf: tuple[str, ...] = ()
    content_type: str = "text/plain"
    defects: tuple[str, ...] = ()
    parts_too_deep: bool = False  # parts nested more than MAX_DEPTH levels deep were not read


def parse_bytes(raw: bytes) -> tuple[EmailMessage, bool]:
    """The message, and whether parts nested deeper than ``MAX_DEPTH`` were left out.

    The email package's parser recurses once or more per level (a thousand levels is a
    RecursionError), and decodes RFC 2231 parameters (``charset*=idna''…``) with whatever
    charset they name, raising on those it cannot decode with; both are read another way."""
    try:
        message = _parse(raw)
    except RecursionError:
        return _parse_to_depth(raw), True
    except (UnicodeError, ValueError, LookupError):
        message = _parse(_EXTENDED_PARAMETER.sub(rb"\1-not-read\2", raw))
    return message, _prune(message)


def _parse(raw: bytes, *, headers_only: bool = False) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw, headersonly=headers_only)
    assert isinstance(message, EmailMessage)
    return message


def _prune(message: EmailMessage) -> bool:
    """Leave out the parts nested deeper than ``MAX_DEPTH``; whether there were any."""
    pruned = False
    stack: list[tuple[Message, int]] = [(message, 1)]
    while stack:
        part, depth = stack.pop()
        if not part.is_multipart():  # (a leaf's get_payload() would decode it, in any charset it names)
            continue
        children = part.get_payload()
        if not isinstance(children, list) or not children:
            continue
        if depth >= MAX_DEPTH:
            part.set_payload([])
            pruned = True
        else:
            stack.extend((child, depth + 1) for child in children if isinstance(child, Message))
    return pruned


def _parse_to_depth(raw: bytes) -> EmailMessage:
    """``raw`` read level by level (headers, then each part's headers) down to ``MAX_DEPTH``: for a
    message nested too deep for the email package's parser."""
    top = _parse(raw, headers_only=True)
    stack: list[tuple[EmailMessage, int]] = [(top, 1)]
    while stack:
        part, depth = stack.pop()
        kind = part.get_content_type()
        if not (kind == "message/rfc822" or kind.startswith("multipart/")):
            continue  # a leaf: its body stays as it is, to be decoded as any other
        body = part.get_payload()
        if not isinstance(body, str):
            continue
        texts = [body] if kind == "message/rfc822" else _split(body, part.get_boundary())
        children = [] if depth >= MAX_DEPTH else [_parse(t.encode("ascii", "surrogateescape"), headers_only=True)
                                                   for t in texts]
        part.set_payload(children)  # type: ignore[arg-type]  # EmailMessage children; typeshed's list is invariant
        stack.extend((child, depth + 1) for child in children)
    return top


def _split(body: str, boundary: str | None) -> list[str]:
    """The parts of a multipart body between its ``--boundary`` lines."""
    if not boundary:
        return []
    delimiter = "--" + boundary
    parts: list[str] = []
    current: list[str] | None = None
    for line in body.splitlines(keepends=True):
        stripped = line.rstrip()
        if stripped in (delimiter, delimiter + "--"):
            if current is not None:
                parts.append("".join(current))
            if stripped != delimiter:
                return parts
            current = []
        elif current is not None:
            current.append(line)
    if current:
        parts.append("".join(current))
    return parts


def read_message(raw: bytes) -> ReadMessage:
    """Headers and the typed text of ``raw``; never raises on malformed mail."""
    message, too_deep = parse_bytes(raw)
    references = tuple(_MESSAGE_IDS.findall(" ".join(_header(message, n) for n in ("References", "In-Reply-To"))))
    return ReadMessage(
        subject=" ".join(_header(message, "Subject").split()),
        from_address=_from_address(message),
        message_id=(_header(message, "Message-ID").strip() or None),
        references=references,
        text=typed_text(body_text(message)).replace("\x00", ""),
        headers={name: _header(message, name) for name in _RULE_HEADERS if _header(message, name)},
        authentication_results=tuple(_all(message, "Authentication-Results")),
        received_spf=tuple(_all(message, "Received-SPF")),
        content_type=message.get_content_type(),
        defects=tuple(type(d).__name__ for d in message.defects),
        parts_too_deep=too_deep,
    )


_RULE_HEADERS = (
    "auto-submitted", "precedence", "list-id", "list-unsubscribe", "list-post", "x-autoreply", "x-autorespond",
    "x-auto-response-suppress", "x-loop", "return-path", "content-language", "x-tellusonce",
)


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the modern parser cannot make sense of is read as blank
        return ""
    return "" if value is None else str(value).replace("\x00", "")


def _all(message: Message, name: str) -> list[str]:
    try:
        return [" ".join(str(v).replace("\x00", "").split()) for v in (message.get_all(name) or [])]
    except Exception:
        return []


def _from_address(message: Message) -> str | None:
    raw = _header(message, "From")
    if not raw:
        return None
    try:
        addresses = [address.strip() for _, address in getaddresses([raw]) if is_address(address.strip())]
    except Exception:
        return None
    return addresses[0] if addresses else None


def is_address(text: str) -> bool:
    match = _ADDRESS.match(text)
    return match is not None and "." in match.group(1)[1:-1]


def body_text(message: EmailMessage) -> str:
    """The text/plain body, or the HTML body as text; attachments are never read."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        return ""
    text = _decoded(part)
    if part.get_content_type() == "text/html":
        text = html_to_text(text)
    return text[:MAX_BODY_CHARS]


def _decoded(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]  # parsed with the default policy, a part is an EmailMessage
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, AssertionError, ValueError, TypeError):
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        # A charset Python has never heard of, or one that is not for text (idna, undefined,
        # punycode, hex, a name with a NUL in it): read as UTF-8, as an unknown one is.
        return payload.decode("utf-8", errors="replace")


def html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.ignore_links = True
    converter.ignore_tables = False
    try:
        text = converter.handle(html[: MAX_BODY_CHARS * 4])
    except Exception:  # html2text on hostile markup: fall back to the text between tags
        text = _TAG.sub(" ", html[: MAX_BODY_CHARS * 4])
    lines = []
    for line in text.splitlines():
        if "---" in line and _TABLE_RULE_CHARACTERS.fullmatch(line):
            continue
        line = _MARKDOWN_ESCAPE.sub(r"\1", line).replace("|", " ")
        lines.append(line.rstrip())
    return "\n".join(lines)


def typed_text(text: str) -> str:
    """What the person typed: no quoted reply, forwarded original or signature below it."""
    kept: list[str] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if line in ("-- ", "--"):
            break  # a signature follows
        if _ORIGINAL.match(line):
            break
        if _HEADER_BLOCK.match(line) and any(_HEADER_FOLLOW.match(nxt) for nxt in lines[i + 1:i + 4]):
            break  # Outlook's "From: … / Sent: … / To: … / Subject: …" before the original
        if stripped.startswith(">"):
            continue
        if _WROTE.search(stripped) and _quote_follows(lines, i):
            break
        if _SENT_FROM.match(stripped):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip("\n")


def _quote_follows(lines: list[str], i: int) -> bool:
    """An attribution line ("On Monday, Ada wrote:") is followed, after blanks, by quoted text."""
    for nxt in lines[i + 1:i + 4]:
        if nxt.strip():
            return nxt.lstrip().startswith(">") or _ORIGINAL.match(nxt) is not None
    return True
