"""Certificate codes: random, typeable, and a mistyped code is told from an unknown one."""

import math

import pytest

from registry import codes


def test_new_codes_parse_back_in_every_printed_form():
    code = codes.new()
    printed = codes.printed(code)
    assert printed.startswith("YS-") and printed.replace("-", "")[2:] == code
    for typed in (
        code,
        printed,
        printed.lower(),
        f"  {printed.replace('-', ' ')} ",
        code[:7] + "-" + code[7:],
    ):
        assert codes.parse(typed) == codes.Parsed(code)


def test_codes_carry_at_least_60_random_bits():
    alphabet_bits = math.log2(len(codes.ALPHABET))
    # One draw in 37/32 is thrown away to keep the check symbol alphanumeric.
    assert codes.DATA_LENGTH * alphabet_bits - math.log2(37 / 32) >= 60
    assert len({codes.new() for _ in range(2000)}) == 2000


def test_ambiguous_letters_are_read_as_digits():
    code = "0123456789ABCD"
    code = code[:-1] + codes.CHECK_ALPHABET[codes.check_value(code[:-1])]
    typed = code.replace("0", "O").replace("1", "I", 1).replace("1", "l")
    parsed = codes.parse(typed)
    assert parsed.code == code


def test_every_single_wrong_symbol_is_caught_as_mistyped():
    code = codes.new()
    for position in range(codes.LENGTH):
        for symbol in codes.ALPHABET:
            if symbol == code[position]:
                continue
            typo = code[:position] + symbol + code[position + 1 :]
            assert codes.parse(typo).problem is codes.Problem.MISTYPED, typo


def test_every_swap_of_neighbours_is_caught_as_mistyped():
    for _ in range(50):
        code = codes.new()
        for i in range(codes.LENGTH - 1):
            if code[i] == code[i + 1]:
                continue
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            assert codes.parse(swapped).problem is codes.Problem.MISTYPED, swapped


@pytest.mark.parametrize(
    "text",
    [
        "",
        "YS",
        "ABC",
        "YS-7K2M-9QXD-4TB",
        "7K2M9QXD4TB8R2X",
        "7K2M9QXD4TB8R!",
        "U" * 14,
        None,
        "Я" * 14,
    ],
)
def test_what_cannot_be_a_code_is_malformed(text):
    assert codes.parse(text).problem is codes.Problem.MALFORMED


def test_issued_codes_always_end_in_an_ordinary_symbol():
    assert all(codes.new()[-1] in codes.ALPHABET for _ in range(500))


def test_a_typed_code_is_shown_grouped_like_the_printed_one():
    code = codes.new()
    assert codes.as_typed(code.lower()) == codes.printed(code)
    assert codes.as_typed(f"ys {code[:7]} {code[7:]}") == codes.printed(code)
    assert codes.as_typed("not a code") == "not a code"
