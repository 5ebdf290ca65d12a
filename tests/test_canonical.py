"""RFC 8785 canonical JSON, against the public vectors in ../shared/vectors/jcs."""

import json

import pytest

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
