from fractions import Fraction

import pytest

from priorlab.tasks.expr import MAX_CHARS, ExprError, parse_expression, parse_tree


@pytest.mark.parametrize(
    "text,value,literals",
    [
        ("2+3*4", 14, [2, 3, 4]),  # * before +
        ("(2+3)*4", 20, [2, 3, 4]),
        ("8-2-1", 5, [8, 2, 1]),  # left associative
        ("8/2/2", 2, [8, 2, 2]),
        ("7/2", Fraction(7, 2), [7, 2]),  # exact, not 3 or 3.5
        (" ( 5 * 3 ) + 7 ", 22, [5, 3, 7]),
        ("((4))", 4, [4]),
        ("0", 0, [0]),
    ],
)
def test_values_by_hand(text, value, literals):
    assert parse_expression(text) == (value, literals)
    assert isinstance(parse_expression(text)[0], Fraction)


def test_tree_shape():
    assert parse_tree("(5*3)+7") == ((5, "*", 3), "+", 7)
    assert parse_tree("1-2+3") == ((1, "-", 2), "+", 3)


@pytest.mark.parametrize(
    "text,message",
    [
        ("1/0", "division by zero"),
        ("4/(2-2)", "division by zero"),
        ("2+", "ends early"),
        ("(2", "unclosed"),
        ("2)", "after a complete expression"),
        ("2 3", "after a complete expression"),
        ("", "empty"),
        ("   ", "empty"),
        ("-3+4", "unexpected '-'"),
        ("2**3", "unexpected '\\*'"),
        ("__import__('os')", "unexpected character '_'"),
        ("1.5+2", "unexpected character '.'"),
        ("\u0663+4", "unexpected character"),  # non-ASCII digits are not numbers
        ("2^3", "unexpected character"),
        ("1+" * 150 + "1", "at most 200"),
        ("(" * 25 + "1" + ")" * 25, "nested parentheses"),
    ],
)
def test_malformed_inputs_raise_expr_error(text, message):
    with pytest.raises(ExprError, match=message):
        parse_expression(text)


def test_limits_admit_legitimate_input():
    longest = "1+" * (MAX_CHARS // 2 - 1) + "1"
    assert len(longest) == MAX_CHARS - 1 and parse_expression(longest)[0] == MAX_CHARS // 2
    assert parse_expression("(" * 20 + "1" + ")" * 20)[0] == 1


def test_expr_error_is_a_value_error():
    assert issubclass(ExprError, ValueError)
