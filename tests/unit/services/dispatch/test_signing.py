"""Signatures and secrets: Standard Webhooks headers, rotated secrets, and no default secret in production."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from tellusonce.settings import Settings
from tellusonce_services.dispatch.signing import MissingSecret, department_secrets, derived_secret, signature_headers

TEST = Settings(mode="test", secret_key="k" * 40)
PRODUCTION = Settings(mode="production", secret_key="k" * 40, outbound_mail="smtp://mail:25")
GOOD_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_signature_verifies_with_the_standard_webhooks_library_and_each_rotated_secret():
    body = b'{"id": "x"}'
    other = derived_secret("another secret key for rotation", "dvla")
    headers = signature_headers(body, msg_id="x", at=datetime.now(UTC), secrets=[GOOD_SECRET, other])
    assert headers["webhook-id"] == "x"
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (GOOD_SECRET, other):
        Webhook(secret).verify(body, headers, json_parse=False)


def test_secrets_come_from_the_named_variable_separated_by_commas_or_spaces():
    other = derived_secret("x", "y")
    found = department_secrets(PRODUCTION, "dvla", "SECRET_DVLA", environ={"SECRET_DVLA": f" {GOOD_SECRET},{other} "})
    assert found == [GOOD_SECRET, other]


def test_demo_and_test_mode_derive_a_stable_secret_per_department():
    assert department_secrets(TEST, "dvla", "UNSET", environ={}) == [derived_secret("k" * 40, "dvla")]
    assert derived_secret("k" * 40, "dvla") != derived_secret("k" * 40, "hmrc")
    Webhook(derived_secret("k" * 40, "dvla"))  # a valid whsec_ secret


@pytest.mark.parametrize("value, problem", [
    (None, "SECRET_DVLA is not set"),
    ("sk_live_123", "must start with whsec_"),
    ("whsec_!!!", "not valid base64"),
    ("whsec_c2hvcnQ=", "at least 24 random bytes"),
])
def test_production_never_defaults_a_missing_or_malformed_secret(value, problem):
    environ = {} if value is None else {"SECRET_DVLA": value}
    with pytest.raises(MissingSecret) as error:
        department_secrets(PRODUCTION, "dvla", "SECRET_DVLA", environ=environ)
    assert problem in str(error.value) and error.value.department_id == "dvla"
