"""A safe arithmetic parser for model output: integers, + - * /, parentheses. Never eval.

Grammar (standard precedence, left associative):
    expr := term (('+' | '-') term)* ;  term := atom (('*' | '/') atom)* ;
    atom := INT | '(' expr ')'
Arithmetic is exact (fractions.Fraction).
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_CHARS, MAX_DEPTH = 200, 20
_TOKEN = re.compile(r"\s*(\d+|[()+\-*/])")


class ExprError(ValueError):
    """Malformed or unsafe expression."""


def tokenize(text: str) -> list[str]:
    if len(text) > MAX_CHARS:
        raise ExprError(f"expression longer than {MAX_CHARS} characters")
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ExprError(f"unexpected character {text[pos]!r} at {pos}")
        tokens.append(m.group(1))
        pos = m.end()
    if not tokens:
        raise ExprError("empty expression")
    return tokens


def parse_expression(text: str) -> tuple[Fraction, list[int]]:
    """Value of `text` and its integer literals in order; ExprError when malformed."""
    tokens = tokenize(text)
    literals: list[int] = []
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom(depth):
        if depth > MAX_DEPTH:
            raise ExprError("nesting too deep")
        tok = peek()
        if tok is None:
            raise ExprError("expression ends early")
        if tok == "(":
            take()
            value = expr(depth + 1)
            if take_if(")") is None:
                raise ExprError("unclosed parenthesis")
            return value
        if tok.isdigit():
            take()
            literals.append(int(tok))
            return Fraction(int(tok))
        raise ExprError(f"unexpected {tok!r}")

    def take_if(tok):
        return take() if peek() == tok else None

    def term(depth):
        value = atom(depth)
        while peek() in ("*", "/"):
            op, rhs = take(), atom(depth)
            if op == "/" and rhs == 0:
                raise ExprError("division by zero")
            value = value * rhs if op == "*" else value / rhs
        return value

    def expr(depth):
        value = term(depth)
        while peek() in ("+", "-"):
            op, rhs = take(), term(depth)
            value = value + rhs if op == "+" else value - rhs
        return value

    value = expr(0)
    if pos != len(tokens):
        raise ExprError(f"unexpected {tokens[pos]!r} after the expression")
    return value, literals
