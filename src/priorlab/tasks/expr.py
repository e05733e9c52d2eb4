"""A safe arithmetic parser for model output: integers, + - * /, parentheses. Never eval.

Grammar (standard precedence, left associative, ASCII digits only, no unary minus):

    expr := term (('+' | '-') term)*
    term := atom (('*' | '/') atom)*
    atom := INT | '(' expr ')'

A parse gives a tree (`Node`: an int, or a `(left, op, right)` tuple); evaluation is
exact (`fractions.Fraction`). Inputs over `MAX_CHARS` characters or `MAX_DEPTH` nested
parentheses are rejected before any work is done on them.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Union

MAX_CHARS = 200
MAX_DEPTH = 20
OPS = ("+", "-", "*", "/")

Node = Union[int, tuple["Node", str, "Node"]]
_TOKEN = re.compile(r"\s*([0-9]+|[()+\-*/])", re.ASCII)


class ExprError(ValueError):
    """A malformed, oversized or undefined (division by zero) expression."""


def tokenize(text: str) -> list[str]:
    """ "2+(3*4)" -> ["2", "+", "(", "3", "*", "4", ")"]; ExprError on anything else."""
    if len(text) > MAX_CHARS:
        raise ExprError(f"expression has {len(text)} characters; at most {MAX_CHARS}")
    text = text.rstrip()
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExprError(f"unexpected character {text[pos]!r} at position {pos}")
        tokens.append(m.group(1))
        pos = m.end()
    if not tokens:
        raise ExprError("empty expression")
    return tokens


def parse_tree(text: str) -> Node:
    """The expression tree of `text`, by recursive descent; ExprError when malformed."""
    tokens = tokenize(text)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom(depth: int) -> Node:
        tok = peek()
        if tok is None:
            raise ExprError("expression ends early")
        if tok.isdigit():
            take()
            return int(tok)
        if tok != "(":
            raise ExprError(f"unexpected {tok!r} at token {pos}")
        if depth >= MAX_DEPTH:
            raise ExprError(f"more than {MAX_DEPTH} nested parentheses")
        take()
        node = expr(depth + 1)
        if peek() != ")":
            raise ExprError("unclosed parenthesis")
        take()
        return node

    def term(depth: int) -> Node:
        node = atom(depth)
        while peek() in ("*", "/"):
            op = take()
            node = (node, op, atom(depth))
        return node

    def expr(depth: int) -> Node:
        node = term(depth)
        while peek() in ("+", "-"):
            op = take()
            node = (node, op, term(depth))
        return node

    tree = expr(0)
    if pos != len(tokens):
        raise ExprError(f"unexpected {tokens[pos]!r} after a complete expression")
    return tree


def apply_op(a: Fraction, op: str, b: Fraction) -> Fraction:
    """a op b, exactly; ExprError on division by zero."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise ExprError("division by zero")
    return a / b


def evaluate(tree: Node) -> Fraction:
    """Exact value of an expression tree; ExprError on division by zero."""
    if isinstance(tree, int):
        return Fraction(tree)
    left, op, right = tree
    return apply_op(evaluate(left), op, evaluate(right))


def literals(tree: Node) -> list[int]:
    """The integer literals of a tree, left to right."""
    if isinstance(tree, int):
        return [tree]
    left, _, right = tree
    return literals(left) + literals(right)


def parse_expression(text: str) -> tuple[Fraction, list[int]]:
    """Exact value of `text` and its integer literals in order; ExprError when malformed.

    "2+3*4" -> (Fraction(14), [2, 3, 4]); "7/2" -> (Fraction(7, 2), [7, 2]).
    """
    tree = parse_tree(text)
    return evaluate(tree), literals(tree)
