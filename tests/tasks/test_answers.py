"""Answer extraction and comparison, including adversarial completions."""

import threading
import time

import pytest

from priorlab.errors import DataError
from priorlab.tasks.answers import (
    MAX_DIGITS,
    canonical_number,
    extract_number,
    math_equal,
    numbers_equal,
    parse_gold,
)


@pytest.mark.parametrize(
    "text,expected",
    [
        # last number, in its written forms
        ("She makes 9 * 2 = 18", "18"),
        ("The total is 1,234 apples", "1234"),
        ("It costs $1,234.50 in all", "1234.5"),
        ("so she pays $18.", "18"),
        ("He earns 18 dollars", "18"),
        ("It weighs 5kg", "5"),
        ("The temperature is -3", "-3"),
        ("She lost -$3 that day", "-3"),
        ("half is 0.5", "0.5"),
        ("half is .5", "0.5"),
        ("a loss of -.5", "-0.5"),
        ("16-3-4=9", "9"),
        ("1, 2, 3, 4 and finally 5", "5"),
        ("007.100", "7.1"),
        ("It is 50% of 40", "40"),
        # markers win over the last number; the first marker wins
        ("18 ... #### 20", "20"),
        ("#### 18\nQuestion: next one has 7 apples", "18"),
        ("x 18 #### 20 y #### 7", "20"),
        ("#### $1,080", "1080"),
        ("#### $-3", "-3"),
        ("#### 18, which is right", "18"),
        ("The answer is 18. Then 7 more", "18"),
        ("Answer: **42** and 3", "42"),
        ("so the answer is: 12 because 3", "12"),
        ("5 then \\boxed{18} and 20", "18"),
        ("\\boxed{\\$18 \\text{ dollars}}", "18"),
        ("\\boxed{50\\%}", "50"),
        # a marked answer that is not a single number is no answer
        ("5 apples #### eighteen", None),
        ("#### 3+4", None),
        ("#### 1,234,56", None),
        ("3 \\boxed{\\frac{1}{2}}", None),
        ("3 \\boxed{18", None),
        ("The answer is 5 + 3 = 8", "8"),  # a prose marker before an expression is prose
        # Unicode digits read as ASCII; other numerals are not digits
        ("She has ١٢ apples", "12"),
        ("She has １２ apples", "12"),
        ("it fell to −5", "-5"),  # U+2212 minus
        ("x²", None),
        ("½ cup", None),
        # nothing, or nothing sane
        ("", None),
        ("   \n\t ", None),
        ("no numbers here.", None),
        ("#", None),
        ("1" * (MAX_DIGITS + 1), None),
        ("9" * MAX_DIGITS, "9" * MAX_DIGITS),
    ],
)
def test_extract_number(text, expected):
    assert extract_number(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "1" * 1_000_000,
        "#### " + "9" * 500_000,
        "\\boxed{" * 100_000,
        "####" * 100_000,
        "1," * 300_000,
        "answer is " * 100_000,
        "-" * 300_000 + "1",
        "١" * 300_000,
        " ".join(str(i) for i in range(100_000)),
    ],
)
def test_huge_completions_are_fast_and_safe(text):
    start = time.perf_counter()
    answer = extract_number(text)
    ok, _, _ = math_equal("1", text)
    assert answer is None or len(answer) <= MAX_DIGITS
    assert not ok or answer == "1"
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    "a,b,equal",
    [
        ("18.0", "18", True),
        ("0.50", ".5", True),
        ("1,234", "1234", True),
        ("$18", "18", True),
        ("-0", "0", True),
        ("-3", "3", False),
        ("1 2", "12", False),
        ("1e2", "100", False),
        ("abc", "abc", False),
        ("", "", False),
        ("1" * 200, "1" * 200, False),
        ("12345678901234567890123456789012", "12345678901234567890123456789013", False),
    ],
)
def test_numbers_equal(a, b, equal):
    assert numbers_equal(a, b) is equal


def test_canonical_number():
    assert canonical_number(" $1,234.50 ") == "1234.5"
    assert canonical_number("-0.0") == "0"
    assert canonical_number("18.") == "18"
    assert canonical_number("1_000") is None
    assert canonical_number("nan") is None


def test_parse_gold_names_file_and_line():
    assert parse_gold("1,080", where="f.jsonl:3") == "1080"
    assert parse_gold("5.0", where="f.jsonl:3") == "5"
    for bad in ["", "  ", "eighteen", "1/2", "inf", "1e5"]:
        with pytest.raises(DataError, match="f.jsonl:3: gold answer"):
            parse_gold(bad, where="f.jsonl:3")


@pytest.mark.parametrize(
    "gold,completion,correct,parsed",
    [
        ("18", "so #### 18", True, True),
        ("18", "18 ... #### 20", False, True),
        ("18", "The answer is \\boxed{18}", True, True),
        ("0.5", "The answer is \\boxed{\\frac{1}{2}}", True, True),
        ("\\frac{1}{2}", "The answer is \\boxed{0.5}", True, True),
        ("\\frac{1}{2}", "The answer is \\boxed{\\frac{2}{4}}", True, True),
        ("\\frac{1}{2}", "The answer is \\boxed{\\frac{1}{3}}", False, True),
        ("18", "no answer", False, False),
        ("18", "", False, False),
        ("not { a gold", "anything 18", False, True),
        ("__import__('os').system('echo hi')", "\\boxed{1}", False, True),
    ],
)
def test_math_equal(gold, completion, correct, parsed):
    ok, answer, was_parsed = math_equal(gold, completion)
    assert (ok, was_parsed) == (correct, parsed)
    assert was_parsed == (answer is not None)


def test_math_equal_works_outside_the_main_thread():
    out = []
    thread = threading.Thread(target=lambda: out.append(math_equal("0.5", "\\boxed{1/2}")))
    thread.start()
    thread.join()
    assert out[0][0]
