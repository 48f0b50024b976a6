"""core/address.py: the one parser of scalar addresses; strict, total, and in named_parameters() order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.address import (
    LOSS,
    Address,
    AddressError,
    complete,
    parameter_at,
    parameter_count,
    parse,
    suggest,
    validate,
)
from core.nn import MLP

SIZES = (196, 64, 32, 10)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("L0.N12.w345", Address(0, 12, "w", 345)),
        ("L1.N3.b", Address(1, 3, "b")),
        ("L0.N12.z", Address(0, 12, "z")),
        ("L2.N0.a", Address(2, 0, "a")),
        ("loss", Address(None, None, "loss")),
        ("L0.N0.w0", Address(0, 0, "w", 0)),
        ("L999999999.N0.b", Address(999_999_999, 0, "b")),
    ],
)
def test_parse_and_format_round_trip(text, expected):
    assert parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty address"),
        (" L0.N1.b", "whitespace"),
        ("L0.N1.b ", "whitespace"),
        ("L0.N1.b\n", "whitespace"),
        ("L0. N1.b", "whitespace"),
        ("loss\n", "whitespace"),
        (" loss", "whitespace"),
        ("L0.N1.w\u0663", "U\\+0663"),  # Arabic-Indic three
        ("L\uff10.N1.b", "U\\+FF10"),  # fullwidth zero
        ("L0.N+1.b", "without a sign"),
        ("L-1.N0.b", "without a sign"),
        ("L0.N1.w+3", "without a sign"),
        ("L0.N1.w" + "9" * 5000, "5000 digits; at most 9"),
        ("L1234567890.N0.b", "10 digits; at most 9"),
        ("L0.N012.b", "leading zero; write 12"),
        ("L0", "not an address"),
        ("L0.N1", "not an address"),
        ("L0.N1.b.", "not an address"),
        ("L0.N1.w", "input after 'w' is missing"),
        ("L.N1.b", "layer after 'L' is missing"),
        ("L0.N1.x", "last part must be w<input>, b, z or a"),
        ("l0.n1.b", "starts with 'L'"),
        ("L0.n1.b", "'N' and the neuron number"),
        ("Loss", "not an address"),
        ("L0.N1.wx", "ASCII digits"),
    ],
)
def test_bad_text_is_an_address_error_that_says_why(text, message):
    with pytest.raises(AddressError, match=message):
        parse(text)


def test_long_input_is_quoted_short():
    with pytest.raises(AddressError) as info:
        parse("L0.N1.w" + "9" * 5000)
    assert len(str(info.value)) < 200 and "5007 characters" in str(info.value)


def test_non_text_is_an_address_error():
    for value in (None, 3, b"loss", ["loss"]):
        with pytest.raises(AddressError, match="is text"):
            parse(value)  # type: ignore[arg-type]


def test_addresses_cannot_be_built_wrong():
    for args in [(0, 1, "q"), (-1, 0, "b"), (0, 0, "w"), (0, 0, "b", 3), (1, None, "loss"), (True, 0, "b"),
                 (0, 10**9, "a")]:
        with pytest.raises(AddressError):
            Address(*args)
    assert LOSS.is_graph_node and not LOSS.is_parameter
    assert parse("L0.N1.w2").is_parameter and parse("L0.N1.b").is_parameter
    assert parse("L0.N1.z").is_graph_node and not parse("L0.N1.a").is_parameter


def test_problem_names_the_valid_range():
    assert parse("L3.N0.b").problem(SIZES, graph_nodes=True) == \
        "layer 3 does not exist: this network has layers L0..L2"
    assert parse("L0.N64.w3").problem(SIZES, graph_nodes=True) == \
        "neuron 64 does not exist: layer 0 has neurons N0..N63"
    assert parse("L1.N0.w64").problem(SIZES, graph_nodes=False) == \
        "input 64 does not exist: neurons of layer 1 have weights w0..w63"
    assert parse("L0.N1.z").problem(SIZES, graph_nodes=False).startswith("z is a graph node")
    assert LOSS.problem(SIZES, graph_nodes=False).startswith("loss is a graph node")
    # the edges are inside
    assert parse("L2.N9.w31").problem(SIZES, graph_nodes=False) is None
    assert parse("L0.N63.w195").problem(SIZES, graph_nodes=False) is None
    assert parse("L0.N0.a").problem(SIZES, graph_nodes=True) is None
    assert LOSS.problem(SIZES, graph_nodes=True) is None
    assert parse("L0.N0.b").problem((5,), graph_nodes=True) == "this network has no layers"


def test_validate_raises_with_the_address_and_reason():
    assert validate("L2.N9.b", SIZES, graph_nodes=False) == Address(2, 9, "b")
    with pytest.raises(AddressError, match=r"^L3\.N0\.b: layer 3 does not exist: this network has layers L0\.\.L2$"):
        validate("L3.N0.b", SIZES, graph_nodes=True)
    with pytest.raises(AddressError, match="whitespace"):
        validate("L0.N0.b ", SIZES, graph_nodes=True)


def test_flat_index_by_hand():
    sizes = (3, 2, 2)  # L0: N0 w0 w1 w2 b, N1 w0 w1 w2 b; L1: N0 w0 w1 b, N1 w0 w1 b
    assert parse("L0.N0.w0").flat_index(sizes) == 0
    assert parse("L0.N0.b").flat_index(sizes) == 3
    assert parse("L0.N1.w0").flat_index(sizes) == 4
    assert parse("L1.N0.w0").flat_index(sizes) == 8
    assert parse("L1.N1.b").flat_index(sizes) == 13 == parameter_count(sizes) - 1
    assert parameter_at(13, sizes) == parse("L1.N1.b") and parameter_at(4, sizes) == parse("L0.N1.w0")
    for bad in ("L0.N0.z", "loss", "L2.N0.b", "L0.N0.w3"):
        with pytest.raises(AddressError):
            parse(bad).flat_index(sizes)
    for flat in (-1, 14):
        with pytest.raises(AddressError):
            parameter_at(flat, sizes)


def test_completions_follow_the_shape():
    c = complete
    assert c("", SIZES, graph_nodes=True) == ["L0.", "L1.", "L2.", "loss"]
    assert c("", SIZES, graph_nodes=False) == ["L0.", "L1.", "L2."]
    assert c("L", SIZES, graph_nodes=True) == ["L0.", "L1.", "L2."]
    assert c("L2.N", SIZES, graph_nodes=True) == [f"L2.N{i}." for i in range(10)]
    assert c("L0.N6", SIZES, graph_nodes=True) == ["L0.N6.", *[f"L0.N{i}." for i in range(60, 64)]]
    assert c("L0.N1.w19", SIZES, graph_nodes=True) == ["L0.N1.w19", *[f"L0.N1.w{i}" for i in range(190, 196)]]
    assert c("L0.N1.", SIZES, graph_nodes=True, limit=3) == ["L0.N1.w0", "L0.N1.w1", "L0.N1.w2"]
    assert c("L2.N3.b", SIZES, graph_nodes=True) == ["L2.N3.b"]
    # more neurons (64) than the limit with nothing typed after N: the limit still holds (no full range)
    assert c("L0.N", SIZES, graph_nodes=True, limit=3) == ["L0.N0.", "L0.N1.", "L0.N2."]
    assert c("L0.N1.", (4, 2, 10), graph_nodes=False) == [f"L0.N1.w{i}" for i in range(4)] + ["L0.N1.b"]
    assert c("L0.N1.", (4, 2, 10), graph_nodes=True) == [f"L0.N1.w{i}" for i in range(4)] + ["L0.N1.b", "L0.N1.z",
                                                                                               "L0.N1.a"]
    for dead in ("L5", "L3.", "L0.N64.", "x", "L0.N1.w196", " L0", "L0.N01", "L\u0661", "L0.N1.w" + "9" * 5000):
        assert c(dead, SIZES, graph_nodes=True) == [], dead
    assert c("lo", SIZES, graph_nodes=True) == ["loss"] and c("lo", SIZES, graph_nodes=False) == []
    assert suggest("L1.N3.", SIZES, graph_nodes=True) == "L1.N3.w0"
    assert suggest("L2.N3.b", SIZES, graph_nodes=True) is None
    assert suggest("L0.N1.w1", SIZES, graph_nodes=True) == "L0.N1.w10"  # the typed address itself is no suggestion


# ---- properties ----------------------------------------------------------------------------------------

layer_sizes_st = st.lists(st.integers(1, 12), min_size=2, max_size=4).map(tuple)


@st.composite
def address_in(draw, sizes_strategy=layer_sizes_st):
    """(layer_sizes, an address that exists in that network, graph nodes included)."""
    sizes = draw(sizes_strategy)
    if draw(st.integers(0, 9)) == 0:
        return sizes, LOSS
    layer = draw(st.integers(0, len(sizes) - 2))
    neuron = draw(st.integers(0, sizes[layer + 1] - 1))
    kind = draw(st.sampled_from(["w", "b", "z", "a"]))
    index = draw(st.integers(0, sizes[layer] - 1)) if kind == "w" else None
    return sizes, Address(layer, neuron, kind, index)


address_text = st.one_of(
    st.text(),
    st.text(alphabet="LNwbza.loss0123456789+- \n\t\u0663\uff10", max_size=30),
    st.builds(lambda a, b, c: f"L{a}.N{b}.{c}", st.text(max_size=12), st.text(max_size=12), st.text(max_size=12)),
)


@settings(max_examples=300, deadline=None)
@given(address_text)
def test_arbitrary_text_raises_only_address_error(text):
    try:
        addr = parse(text)
    except AddressError as exc:
        assert str(exc)
    else:
        assert str(addr) == text  # whatever parses is already canonical: one spelling per scalar


@settings(max_examples=300, deadline=None)
@given(address_text, layer_sizes_st, st.booleans(), st.integers(0, 30))
def test_arbitrary_prefixes_complete_to_real_addresses(text, sizes, graph_nodes, limit):
    out = complete(text, sizes, graph_nodes=graph_nodes, limit=limit)
    assert len(out) <= limit
    for cand in out:
        assert cand.startswith(text) or text == ""
        if not cand.endswith("."):
            validate(cand, sizes, graph_nodes=graph_nodes)
    try:
        validate(text, sizes, graph_nodes=graph_nodes)
    except AddressError:
        pass
    else:
        if limit:
            assert text in complete(text, sizes, graph_nodes=graph_nodes, limit=limit) or text.endswith(".")


@settings(max_examples=300, deadline=None)
@given(address_in())
def test_generated_addresses_round_trip_and_validate(case):
    sizes, addr = case
    assert parse(str(addr)) == addr
    assert validate(str(addr), sizes, graph_nodes=True) == addr
    assert addr.problem(sizes, graph_nodes=False) is None or addr.is_graph_node


@settings(max_examples=50, deadline=None)
@given(layer_sizes_st)
def test_flat_index_is_named_parameters_order(sizes):
    model = MLP(sizes[0], list(sizes[1:]), seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert len(names) == parameter_count(sizes)
    for i, name in enumerate(names):
        addr = parse(name)
        assert addr.flat_index(sizes) == i
        assert parameter_at(i, sizes) == addr
