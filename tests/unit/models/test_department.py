"""A department's name and purpose in the language asked for, English where it has no Welsh."""

from __future__ import annotations

from tellusonce.models import Department


def test_a_department_is_named_in_the_language_asked_for() -> None:
    named = Department(id="x", name="HM Passport Office", name_cy="Swyddfa Pasbort EF",
                       purpose="Issues passports.", purpose_cy="Yn rhoi pasbortau.")
    unnamed = Department(id="y", name="TV Licensing", purpose="Issues TV Licences.")
    assert (named.name_in("cy"), named.purpose_in("cy")) == ("Swyddfa Pasbort EF", "Yn rhoi pasbortau.")
    assert (named.name_in("en"), named.purpose_in("en")) == ("HM Passport Office", "Issues passports.")
    assert (unnamed.name_in("cy"), unnamed.purpose_in("cy")) == ("TV Licensing", "Issues TV Licences.")
