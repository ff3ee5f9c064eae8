"""The browser and system families a sign-in is listed with, read from the User-Agent."""

from tellusonce.web.sign_ins import browser_families


def test_common_browsers_are_named_by_family_only():
    assert browser_families(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    ) == ("Chrome", "Windows")
    assert browser_families(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
    ) == ("Chrome Mobile", "Android")


def test_an_empty_made_up_or_huge_user_agent_is_not_known():
    assert browser_families("") == (None, None)
    assert browser_families("made up\x00thing") == (None, None)
    assert browser_families("x" * 100_000) == (None, None)
