"""Hypothesis strategies for mail: bytes shaped like messages, with any charset and encoding."""

from __future__ import annotations

import base64
import quopri

from hypothesis import strategies as st

CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "us-ascii", "x-unknown", "utf-16", "koi8-r", ""]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", ""]
TYPES = ["text/plain", "text/html", "multipart/alternative", "multipart/mixed", "application/octet-stream",
         "message/rfc822", "multipart/report", "text/plain; format=flowed", ""]
HEADERS = ["From", "To", "Subject", "Message-ID", "References", "In-Reply-To", "Auto-Submitted", "Precedence",
           "List-Id", "Date", "Content-Language", "Authentication-Results", "Received-SPF", "DKIM-Signature"]

header_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """Mail-shaped bytes: headers, a declared type, charset and encoding, and a body that may not match them."""
    lines = [f"{draw(st.sampled_from(HEADERS))}: {draw(header_text)}" for _ in range(draw(st.integers(0, 6)))]
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(ENCODINGS))
    lines.append(f"Content-Type: {draw(st.sampled_from(TYPES))}" + (f'; charset="{charset}"' if charset else "")
                 + ('; boundary="b"' if draw(st.booleans()) else ""))
    if encoding:
        lines.append(f"Content-Transfer-Encoding: {encoding}")
    body = draw(st.text(max_size=300)).encode("utf-8", errors="surrogatepass")
    if encoding == "base64" and draw(st.booleans()):
        body = base64.encodebytes(body)
    elif encoding == "quoted-printable" and draw(st.booleans()):
        body = quopri.encodestring(body)
    if draw(st.booleans()):
        body = b"--b\r\nContent-Type: text/plain\r\n\r\n" + body + b"\r\n--b--\r\n"
    head = "\r\n".join(lines).encode("utf-8", errors="surrogatepass")
    return head + b"\r\n\r\n" + body
