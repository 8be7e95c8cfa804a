"""GB 11643-1999 resident ID numbers: the ISO 7064 MOD 11-2 check character and the birth date inside."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ledger.domain.values import id_birth_date, id_check_character
from ledger.fields import IdNumber
from tests.people import id_number

ID_NUMBER: TypeAdapter[Any] = TypeAdapter(IdNumber)
# Published examples (and the numbers the brief names), with their birth dates.
VALID = {
    "11010519491231002X": date(1949, 12, 31),
    "440524188001010014": date(1880, 1, 1),
    "430102195505051235": date(1955, 5, 5),
    "430102195203041234": date(1952, 3, 4),
    "430203196001010014": date(1960, 1, 1),
    "430702195808084563": date(1958, 8, 8),
}
born = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
seventeen = st.one_of(st.text(alphabet="0123456789", min_size=17, max_size=17),
                      st.builds(lambda day, sequence: id_number(day, sequence)[:17], born, st.integers(0, 999)))


@pytest.mark.parametrize(("number", "day"), VALID.items())
def test_published_numbers_check_and_carry_their_birth_date(number: str, day: date) -> None:
    assert id_check_character(number[:17]) == number[17]
    assert id_birth_date(number) == day
    assert ID_NUMBER.validate_python(number) == number


def test_the_test_helper_makes_the_published_numbers() -> None:
    assert id_number(date(1955, 5, 5)) == "430102195505051235"
    assert id_number(date(1960, 1, 1), sequence=1, region="430203") == "430203196001010014"


def accepted(number: str) -> bool:
    try:
        ID_NUMBER.validate_python(number)
    except ValidationError:
        return False
    return True


@given(seventeen)
def test_exactly_one_of_the_eleven_characters_checks(first17: str) -> None:
    expected = [id_check_character(first17)] if id_birth_date(first17 + "0") is not None else []  # else no date
    assert [c for c in "0123456789X" if accepted(first17 + c)] == expected


@given(born, st.integers(0, 999), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_changed_is_caught(day: date, sequence: int, place: int, shift: int) -> None:
    number = id_number(day, sequence)
    changed = number[:place] + str((int(number[place]) + shift) % 10) + number[place + 1:]
    assert id_check_character(changed[:17]) != changed[17]
    with pytest.raises(ValidationError) as refused:
        ID_NUMBER.validate_python(changed)
    assert refused.value.errors()[0]["type"] in ("id_number_check", "id_number_birth_date")


@given(born, st.integers(0, 999), st.integers(0, 15))
def test_two_neighbouring_digits_swapped_are_caught(day: date, sequence: int, place: int) -> None:
    number = id_number(day, sequence)
    swapped = number[:place] + number[place + 1] + number[place] + number[place + 2:]
    if swapped != number:
        assert id_check_character(swapped[:17]) != swapped[17]


@given(born, st.integers(0, 999))
def test_the_birth_date_is_read_back(day: date, sequence: int) -> None:
    assert id_birth_date(id_number(day, sequence)) == day


@pytest.mark.parametrize("written", ["19550229", "19551301", "19550000", "00000101", "1955\uff10505"])
def test_a_number_whose_characters_7_to_14_are_no_date_is_refused(written: str) -> None:
    first17 = f"430102{written}123"
    with pytest.raises(ValidationError) as refused:
        ID_NUMBER.validate_python(first17 + id_check_character(first17.replace("\uff10", "0")))
    assert "430102" not in str(refused.value.errors(include_input=False))


@pytest.mark.parametrize("sent", [" 43070219560304121x", "43070219560304121X\t", "43070219560304121x"])
def test_blanks_around_and_a_small_x_are_normalised(sent: str) -> None:
    assert ID_NUMBER.validate_python(sent) == "43070219560304121X"


@pytest.mark.parametrize("sent", ["\uff14\uff13" + "0702195603041211", "4307021956030412\u00a01X",
                                  "43070219560304121X\n", "43070219560304121Y", "4307021956030412"])
def test_other_characters_are_refused(sent: str) -> None:
    with pytest.raises(ValidationError):
        ID_NUMBER.validate_python(sent)


def test_the_schema_states_the_pattern_the_server_applies_and_the_rest_in_prose() -> None:
    schema = ID_NUMBER.json_schema()
    assert schema["pattern"] == r"^[ \t]*[0-9]{17}[0-9Xx][ \t]*$"
    assert "MOD 11-2" in schema["description"] and "birth_date" in schema["description"]
