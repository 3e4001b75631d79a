"""Dash runs inside words and the minus sign between math operands (ops.dashes)."""

import pytest

from textspotter.ops.dashes import MINUS, join_dash_runs, math_minus


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("577–-583,", "577–583,"),
        ("Born--Mayer", "Born-Mayer"),
        ("B–-T", "B–T"),
        ("a—–b", "a—b"),
        ("x---y", "x-y"),
        ("well-known", "well-known"),  # one dash: nothing to join
        ("--verbose", "--verbose"),  # an option: no letter before the run
        ("end--", "end--"),  # nothing after the run
        ("a -- b", "a -- b"),  # not inside a word
        ("Ж--Я", "Ж-Я"),  # letters of any script
        ("", ""),
    ],
)
def test_join_dash_runs(text, expected):
    assert join_dash_runs(text) == expected


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["n", "–", "1"], ["n", MINUS, "1"]),
        (["(1", "—", "p)"], ["(1", MINUS, "p)"]),
        (["qx(0)", "–", "q4(0)"], ["qx(0)", MINUS, "q4(0)"]),
        (["σ", "–", "1.5"], ["σ", MINUS, "1.5"]),
        (["608", "–", "614"], ["608", "–", "614"]),  # two numbers: a range
        (["results", "–", "see"], ["results", "–", "see"]),  # prose
        (["6", "–", "The"], ["6", "–", "The"]),
        (["Q1", "–", "Q2"], ["Q1", "–", "Q2"]),  # labels, not operands
        (["Москва", "–", "с"], ["Москва", "–", "с"]),  # a Cyrillic one-letter word is not an operand
        (["–", "1"], ["–", "1"]),  # a dash at either end of the line has one neighbour only
        (["x", "-", "y"], ["x", "-", "y"]),  # a hyphen-minus stays as read
    ],
)
def test_math_minus(tokens, expected):
    assert math_minus(tokens) == expected
