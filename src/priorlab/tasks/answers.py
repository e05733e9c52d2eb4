"""Final-answer checking for word problems (GSM8K, SVAMP): pure functions, no eval.

A number is a plain decimal: optional '-' and '$', digits with optional thousands commas,
an optional fraction (".5", "0.50", "1,234.5"). Scientific notation and fractions like
"1/2" are not numbers here (`math_equal` handles LaTeX). Answers compare exactly as
canonical strings ("18.0" -> "18", "0.50" -> "0.5"), which is exact decimal equality
without float rounding. Unicode decimal digits (Arabic-Indic "١٢", full-width "１２") are
read as their ASCII digits and U+2212 as '-'; other numerals ("½", "²", "十二") are not
digits. A number over `MAX_DIGITS` characters is refused, so no input can make a
comparison slow.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import deque

from priorlab.errors import DataError

MAX_DIGITS = 100
"""Longest number read, in characters: a longer one is no answer (and cannot hang int())."""

_PLAIN = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_SIGN = r"(?:(?<![\w)\]}.])-(?:\$\s?)?|\$\s?-?)?"  # "-", "$", "-$", "$-"; not "3-" in "5-3"
_NUM = _SIGN + r"(?:(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|(?<![0-9])\.[0-9]+)"
NUMBER = re.compile(_NUM)
"""A number as written in text: "-3", "$18", "$-3", "-$3", "$ 5", "1,234.5", ".5"."""
# The whole number, and not the start of an expression ("**" closes bold text).
_EXPR_AFTER = r"(?![0-9]|[.,][0-9]|\s*(?:[-+/=^×÷]|\*(?!\*)))"
_HASHES = re.compile(r"####\s*(?:\*\*)?\s*(" + _NUM + ")" + _EXPR_AFTER)
_PHRASE = re.compile(
    r"answer\s*(?:is|:|=)\s*:?\s*(?:\*\*)?\s*(" + _NUM + ")" + _EXPR_AFTER, re.IGNORECASE
)
_DOLLAR = re.compile(r"\$\s*")
_UNICODE_DIGIT = re.compile(r"(?![0-9])\d")
_BOXED_WRAPPERS = re.compile(r"\\text\{([^{}]*)\}|\\(?:mathrm|textbf|mathbf)\{([^{}]*)\}")
_BOXED_JUNK = re.compile(r"\\[$%,!;: ]|\\?%|\$")


def normalize_digits(text: str) -> str:
    """Unicode decimal digits to ASCII ("١٢" -> "12", "１２" -> "12") and U+2212 to '-'."""
    if text.isascii():
        return text
    text = text.replace("\u2212", "-")
    return _UNICODE_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), text)


def canonical_number(text: str) -> str | None:
    """The canonical form of one written number, or None when `text` is not just a number.

    Drops '$' (and spaces after it), commas, leading zeros, trailing fractional zeros and a
    trailing '.': " $1,234.50 " -> "1234.5", "-0.0" -> "0", "18." -> "18", "abc" -> None.
    """
    s = _DOLLAR.sub("", normalize_digits(text).strip()).replace(",", "")
    if len(s) > MAX_DIGITS or not _PLAIN.fullmatch(s):
        return None
    sign, body = ("-", s[1:]) if s.startswith("-") else ("", s)
    whole, _, frac = body.partition(".")
    out = (whole.lstrip("0") or "0") + ("." + frac.rstrip("0") if frac.rstrip("0") else "")
    return "0" if out == "0" else sign + out


def numbers_equal(a: str, b: str) -> bool:
    """Exact numeric equality of two written numbers: "18.0" == "$18", "0.50" == ".5".

    False when either is not a number (see `canonical_number`).
    """
    ca = canonical_number(a)
    return ca is not None and ca == canonical_number(b)


def _boxed(text: str) -> str | None:
    """The contents of the first \\boxed{...} (balanced braces), or None when there is none."""
    start = text.find("\\boxed")
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0 or text[start + len("\\boxed") : i].strip():
        return None
    depth = 0
    for j in range(i, min(len(text), i + 10 * MAX_DIGITS)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    return None


def _boxed_number(content: str) -> str | None:
    r"""A boxed answer's number: "\$18", "18 \text{ dollars}", "50\%" -> ...; else None."""
    content = _BOXED_WRAPPERS.sub(lambda m: " " + (m.group(1) or m.group(2)) + " ", content)
    content = _BOXED_JUNK.sub(" ", content).strip()
    m = NUMBER.match(content)
    if m is None or not re.fullmatch(r"[\sA-Za-z.]*", content[m.end() :]):
        return None
    return canonical_number(m.group())


def extract_number(text: str) -> str | None:
    r"""The final numeric answer of a completion, canonical ("1,234" -> "1234"), or None.

    An explicit marker wins, the first one of the first kind present:
    "#### 18", then "\boxed{18}", then "The answer is 18" / "Answer: 18";
    otherwise the last number in the text. Text after the first marker is run-on and
    ignored: "18 ... #### 20 ... #### 7" -> "20". When "####" or \boxed is present but holds
    no single number ("#### 3+4", "\boxed{\frac{1}{2}}"), the answer is None: it is not a
    number, and another number in the text is not what the completion answered.
    Units after the number ("18 dollars", "5kg") and a final period are ignored.
    """
    text = normalize_digits(text)
    if "####" in text:
        m = _HASHES.search(text)
        return canonical_number(m.group(1)) if m and text.find("####") == m.start() else None
    boxed = _boxed(text)
    if boxed is not None or "\\boxed" in text:
        return _boxed_number(boxed) if boxed is not None else None
    m = _PHRASE.search(text)
    if m:
        return canonical_number(m.group(1))
    last = deque(NUMBER.finditer(text), maxlen=1)
    return canonical_number(last[0].group()) if last else None


def parse_gold(text: str, *, where: str) -> str:
    """A gold final answer in canonical form: "1,080" -> "1080", "5.0" -> "5".

    DataError naming `where` ("path:line") when it is not a plain number, so a broken gold
    can never make every completion count as correct (or as wrong).
    """
    answer = canonical_number(str(text))
    if answer is None:
        raise DataError(f"{where}: gold answer {str(text)[:80]!r} is not a number")
    return answer


def math_equal(gold: str, completion: str) -> tuple[bool, str | None, bool]:
    r"""(correct, answer, parsed) for a completion against a gold answer, LaTeX-aware.

    A numeric gold and a completion without \boxed use `extract_number`. Otherwise
    math-verify parses both (its own extraction: the \boxed or LaTeX answer) and compares
    them symbolically ("\frac{1}{2}" == "0.5"); when it finds nothing in the completion,
    the numeric check decides. Nothing is evaluated as code; math-verify's 5 s timeout
    applies in the main thread only (it uses SIGALRM), so other threads see inputs capped
    at 20 * MAX_DIGITS characters.
    """
    numeric_gold = canonical_number(gold)
    if numeric_gold is None or "\\boxed" in completion:
        gold_mv, pred_mv = _math_verify_parse(f"\\boxed{{{gold}}}"), _math_verify_parse(completion)
        if gold_mv and pred_mv:
            from math_verify import verify

            ok = verify(gold_mv, pred_mv, timeout_seconds=_timeout())
            return bool(ok), str(pred_mv[-1]), True
    answer = extract_number(completion)
    return answer is not None and answer == numeric_gold, answer, answer is not None


def _timeout() -> int | None:
    """math-verify's timeout: SIGALRM works in the main thread only."""
    return 5 if threading.current_thread() is threading.main_thread() else None


def _math_verify_parse(text: str) -> list:
    """math_verify.parse of the last 20 * MAX_DIGITS characters; [] when nothing parses."""
    from math_verify import parse

    return parse(text[-20 * MAX_DIGITS :], parsing_timeout=_timeout())
