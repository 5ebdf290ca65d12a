"""RFC 8785 canonical JSON, against the public vectors in ../shared/vectors/jcs."""

import json

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import canonical


def _cases(vectors):
    return sorted((vectors / "jcs" / "input").glob("*.json"))


def test_every_jcs_vector_canonicalises_to_the_expected_bytes(vectors):
    cases = _cases(vectors)
    assert len(cases) >= 6
    for case in cases:
        expected = (vectors / "jcs" / "output" / case.name).read_bytes()
        hex_form = (vectors / "jcs" / "outhex" / case.with_suffix(".txt").name).read_text()
        assert bytes.fromhex("".join(hex_form.split())) == expected, case.name
        value = json.loads(case.read_bytes())
        assert canonical.dumps(value) == expected, case.name


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**60])
def test_values_json_cannot_hold_exactly_are_refused(value):
    with pytest.raises(ValueError, match="RFC 8785"):
        canonical.dumps({"x": value})


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=2_000, deadline=None)
@given(_JSON)
def test_the_fast_encoder_writes_exactly_what_the_reference_library_writes(value):
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(ValueError, match="RFC 8785"):
            canonical.dumps(value)
        return
    assert canonical.dumps(value) == expected


@pytest.mark.parametrize(
    "value",
    [3.0, 1e-05, 1e16, -0.0, 0.1, 123.456, 1e21, 5e-324, {"\U0001f600": 1, "\ue000": 2}],
)
def test_numbers_and_names_where_python_and_ecmascript_differ_are_written_as_the_rfc_says(value):
    assert canonical.dumps(value) == rfc8785.dumps(value)


def test_a_lone_surrogate_is_refused_not_written():
    with pytest.raises(ValueError, match="RFC 8785"):
        canonical.dumps({"x": "\ud800"})


def test_an_enumerations_value_is_written_as_its_text():
    from schemas.standards import Kind

    assert canonical.dumps({"kind": Kind.RING}) == rfc8785.dumps({"kind": "ring"})
