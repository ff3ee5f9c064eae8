from tellusonce.web.accesslog import redact


def test_tokens_in_emailed_links_never_reach_the_access_log():
    line = 'GET /account/verify/AbC-123_x HTTP/1.1" 200 /confirm-email-change/tok3n?x=1'
    assert redact(line) == 'GET /account/verify/[redacted] HTTP/1.1" 200 /confirm-email-change/[redacted]?x=1'
    assert redact("/account/reset-password/s3cret") == "/account/reset-password/[redacted]"


def test_other_paths_are_left_alone():
    assert redact("GET /changes/TUO-7K3M-9QX2 HTTP/1.1") == "GET /changes/TUO-7K3M-9QX2 HTTP/1.1"


def test_the_link_that_confirms_a_new_email_address_is_redacted_too():
    assert redact("POST /account/confirm-new-email/s3cret HTTP/1.1") == "POST /account/confirm-new-email/[redacted] HTTP/1.1"
