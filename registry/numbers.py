"""Numbers as the registry prints them: on the pages, in the reader's language, and on
the cards, in the plain form both of their languages read."""

import functools
from decimal import Decimal

from babel.numbers import get_decimal_symbol, get_group_symbol


def number(value, places: int, locale: str | None = None, *, keep: int | None = None) -> str:
    """`value` with `places` decimals, trailing zeros dropped down to `keep` (the point
    too, at 0). In `locale`'s digits and separators (1,234.50 or 1 234,50); without
    one, ungrouped with a point (1234.5), as a card prints it."""
    text = f"{Decimal(str(value)):{',' if locale else ''}.{places}f}"
    if keep is not None:
        whole, _, decimals = text.partition(".")
        decimals = decimals.rstrip("0").ljust(keep, "0")
        text = f"{whole}.{decimals}" if decimals else whole
    return text if locale is None else text.translate(_separators(locale))


@functools.lru_cache(maxsize=8)
def _separators(locale: str) -> dict[int, str]:
    # Babel's format_decimal parses its pattern on every call: tens of microseconds.
    return str.maketrans({",": get_group_symbol(locale), ".": get_decimal_symbol(locale)})
