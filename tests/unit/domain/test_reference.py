from hypothesis import given
from hypothesis import strategies as st

from tellusonce.domain.reference import ALPHABET, check_character, new_reference


def test_reference_looks_like_tuo_and_two_groups_of_four():
    ref = new_reference()
    assert len(ref) == 13 and ref.startswith("TUO-") and ref[8] == "-"


@given(st.text(alphabet=ALPHABET, min_size=7, max_size=7), st.integers(0, 7), st.sampled_from(ALPHABET))
def test_any_single_mistyped_character_is_caught(body, position, replacement):
    full = body + check_character(body)
    typo = full[:position] + replacement + full[position + 1:]
    if typo != full:
        assert check_character(typo[:7]) != typo[7]


def test_a_new_reference_carries_its_own_check_character():
    full = new_reference().removeprefix("TUO-").replace("-", "")
    assert all(c in ALPHABET for c in full) and check_character(full[:7]) == full[7]
