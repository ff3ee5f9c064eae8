from hypothesis import given
from hypothesis import strategies as st

from tellusonce.domain.reference import ALPHABET, check_character, new_reference, normalise_reference


def test_reference_looks_like_tuo_and_two_groups_of_four():
    ref = new_reference()
    assert len(ref) == 13 and ref.startswith("TUO-") and ref[8] == "-"


def test_reference_typed_loosely_is_recognised():
    ref = new_reference()
    assert normalise_reference(ref.lower().replace("-", " ")) == ref
    assert normalise_reference(ref[4:]) == ref


@given(st.text(alphabet=ALPHABET, min_size=7, max_size=7), st.integers(0, 7), st.sampled_from(ALPHABET))
def test_any_single_mistyped_character_is_caught(body, position, replacement):
    full = body + check_character(body)
    typo = full[:position] + replacement + full[position + 1:]
    if typo != full:
        assert normalise_reference(typo) is None


def test_nonsense_is_not_a_reference():
    assert normalise_reference("hello") is None
    assert normalise_reference("") is None
