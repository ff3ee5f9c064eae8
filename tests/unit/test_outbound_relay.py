"""TELLUSONCE_OUTBOUND_MAIL read into a relay: each form it takes, and a one-line refusal of anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from tellusonce.outbound_relay import OutboundConfigError, Relay, parse_outbound


def test_capture_is_no_relay():
    assert parse_outbound("capture") is None


@pytest.mark.parametrize(("value", "relay"), [
    ("smtp://mail.example.org:2525", Relay("mail.example.org", 2525, "none")),
    ("smtp://mail.example.org", Relay("mail.example.org", 25, "none")),
    ("smtp://mail.example.org:587?starttls=required", Relay("mail.example.org", 587, "starttls")),
    ("smtp://mail.example.org/?starttls=required", Relay("mail.example.org", 25, "starttls")),
    ("smtps://mail.example.org:4650", Relay("mail.example.org", 4650, "implicit")),
    ("smtps://mail.example.org", Relay("mail.example.org", 465, "implicit")),
    ("smtps://[2001:db8::25]", Relay("2001:db8::25", 465, "implicit")),
], ids=["smtp", "smtp-default-port", "starttls", "starttls-slash", "smtps", "smtps-default-port", "ipv6"])
def test_each_form_of_the_setting_is_a_relay(value, relay):
    assert parse_outbound(value) == relay


def test_the_login_and_the_private_ca_go_with_a_relay_over_tls(tmp_path: Path):
    relay = parse_outbound("smtp://relay.example:587?starttls=required", username="tellusonce", password="s3cret",
                           ca_file=tmp_path / "ca.pem")
    assert relay == Relay("relay.example", 587, "starttls", "tellusonce", "s3cret", tmp_path / "ca.pem")
    assert "s3cret" not in repr(relay)
    assert relay.url == "smtp://relay.example:587?starttls=required"
    assert parse_outbound("smtps://relay.example", username="u", password="p").url == "smtps://relay.example:465"


@pytest.mark.parametrize(("value", "says"), [
    ("https://mail.example.org", "must be capture, notify, smtps://host:port or smtp://host:port?starttls=required"),
    ("smtp://", "must be capture, notify, smtps://"),
    ("mail.example.org:25", "must be capture, notify, smtps://"),
    ("smtp://mail.example.org:25/relay", "must be capture, notify, smtps://"),
    ("smtp://mail.example.org:port", "is not an address"),
    ("smtp://mail.example.org:70000", "is not an address"),
    ("smtp://mail.example.org:0", "the port must be from 1 to 65535"),
    ("smtp://mail.example.org?tls=yes", "the option 'tls', which is not known"),
    ("smtp://mail.example.org?starttls=required&verify=no", "the option 'verify', which is not known"),
    ("smtp://mail.example.org?starttls", "whose options cannot be read"),
    ("smtp://mail.example.org?starttls=optional", "starttls='optional': the only value is starttls=required"),
    ("smtps://mail.example.org?starttls=required", "smtps:// is TLS already"),
], ids=["scheme", "no-host", "no-scheme", "path", "port-word", "port-too-big", "port-zero", "unknown-option",
        "second-unknown-option", "option-without-value", "opportunistic-starttls", "starttls-on-smtps"])
def test_a_setting_that_is_not_a_relay_is_refused_in_one_line_naming_it(value, says):
    with pytest.raises(OutboundConfigError, match="TELLUSONCE_OUTBOUND_MAIL") as refused:
        parse_outbound(value)
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_a_login_in_the_address_is_refused_without_showing_it():
    with pytest.raises(OutboundConfigError, match="TELLUSONCE_OUTBOUND_MAIL_USERNAME") as refused:
        parse_outbound("smtps://tellusonce:s3cret@relay.example:465")
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(("value", "login", "ca_file", "says"), [
    ("smtp://relay.example:25", ("tellusonce", "s3cret"), None, "a password is never sent in clear"),
    ("smtps://relay.example", ("tellusonce", ""), None, "Set both TELLUSONCE_OUTBOUND_MAIL_USERNAME and"),
    ("smtps://relay.example", ("", "s3cret"), None, "Set both TELLUSONCE_OUTBOUND_MAIL_USERNAME and"),
    ("smtp://relay.example:25", ("", ""), Path("ca.pem"), "TELLUSONCE_OUTBOUND_MAIL_CA_FILE is set, but"),
    ("capture", ("tellusonce", "s3cret"), None, "'capture', which sends nothing"),
], ids=["login-in-clear", "username-alone", "password-alone", "ca-without-tls", "login-with-capture"])
def test_the_settings_beside_the_relay_are_refused_where_they_cannot_work(value, login, ca_file, says):
    username, password = login
    with pytest.raises(OutboundConfigError) as refused:
        parse_outbound(value, username=username, password=password, ca_file=ca_file)
    assert says in str(refused.value)
    assert "s3cret" not in str(refused.value)
