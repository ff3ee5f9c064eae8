"""DKIM (checked with dkimpy) and the upstream SPF/DMARC verdicts are recorded for operators."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import dkim
import pytest

from tellusonce_mail.authentication import check_authentication
from tellusonce_mail.mime import read_message

MESSAGE = (b"From: Ada <ada@example.org>\r\nTo: changes@tellusonce.test\r\nSubject: Moving house\r\n"
           b"Authentication-Results: mx.tellusonce.test; spf=pass smtp.mailfrom=example.org; dmarc=pass\r\n"
           b"\r\nChange: address\r\nPostcode: LS2 9JT\r\n")


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory) -> tuple[bytes, bytes]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a key")
    folder: Path = tmp_path_factory.mktemp("dkim")
    key = folder / "key.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"], check=True,
                            capture_output=True).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    return key.read_bytes(), record


def dns_for(record: bytes):
    """DNS is a boundary we do not own: answer the one TXT query DKIM makes."""
    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"sel._domainkey.example.org." else None
    return txt


def signed(private_key: bytes) -> bytes:
    signature = dkim.sign(MESSAGE, b"sel", b"example.org", private_key, include_headers=[b"from", b"subject"])
    return signature + MESSAGE


def test_a_good_dkim_signature_is_recorded_as_pass_with_the_upstream_verdicts(signing_key):
    private_key, record = signing_key
    raw = signed(private_key)
    result = check_authentication(raw, read_message(raw), dnsfunc=dns_for(record))
    assert result["dkim"] == {"result": "pass", "domain": "example.org", "selector": "sel"}
    assert result["upstream"] == {"spf": "pass", "dmarc": "pass"}


def test_a_message_changed_after_signing_fails_dkim(signing_key):
    private_key, record = signing_key
    raw = re.sub(rb"LS2 9JT", b"LS1 1AA", signed(private_key))
    result = check_authentication(raw, read_message(raw), dnsfunc=dns_for(record))["dkim"]
    assert result["result"] == "fail" and "body hash mismatch" in result["error"]


def test_an_unsigned_message_has_no_dkim_result_and_needs_no_dns():
    def no_dns(*_args, **_kwargs):
        raise AssertionError("no DNS lookup for an unsigned message")

    assert check_authentication(MESSAGE, read_message(MESSAGE), dnsfunc=no_dns)["dkim"] == {"result": "none"}


def test_a_malformed_dkim_signature_is_recorded_not_raised():
    raw = b"DKIM-Signature: garbage\r\nFrom: x\r\n\r\nbody\r\n"
    assert check_authentication(raw, read_message(raw), dnsfunc=dns_for(b""))["dkim"]["result"] in ("fail", "permerror")
