"""The part of DynamoDB's expression language the stream handler uses, for the DynamoDB model
(dynamo_model.py): condition expressions with =, <, <=, >, >=, AND, OR, NOT, parentheses,
attribute_exists and attribute_not_exists on top-level attributes; update expressions with SET (a value,
or if_not_exists(path, value)) and REMOVE. Anything else is a ValidationException naming it, so a new use
in the handler fails loudly here instead of being modelled wrongly.

Semantics follow "Comparison operator and function reference"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html)
and "Update expressions" (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html):
numbers compare by value, strings by their UTF-8 bytes, and a comparison with a missing attribute or a
value of another type is false."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]
Condition = Callable[[Item, Mapping[str, AttributeValue]], bool]

_TOKEN = re.compile(r"\s*(<>|<=|>=|=|<|>|\(|\)|,|[:#]?[A-Za-z_][A-Za-z0-9_]*|\S)")
_COMPARATORS = {"=", "<", "<=", ">", ">="}


class ExpressionError(ValueError):
    """The expression is malformed, or uses what the model does not implement."""


@dataclass(frozen=True)
class Operand:
    """A path (an attribute name, resolved through ExpressionAttributeNames) or a :value placeholder."""

    token: str

    def value(self, item: Item, names: Mapping[str, str], values: Mapping[str, AttributeValue]) -> AttributeValue | None:
        if self.token.startswith(":"):
            if self.token not in values:
                raise ExpressionError(f"An expression attribute value used in expression is not defined: {self.token}")
            return values[self.token]
        return item.get(attribute_name(self.token, names))


def attribute_name(token: str, names: Mapping[str, str]) -> str:
    if token.startswith("#"):
        if token not in names:
            raise ExpressionError(f"An expression attribute name used in the document path is not defined: {token}")
        return names[token]
    return token


def _tokens(expression: str) -> list[str]:
    tokens = [t for t in _TOKEN.findall(expression) if t.strip()]
    for token in tokens:
        if token in (".", "[", "]"):
            raise ExpressionError(f"the DynamoDB model supports top-level attributes only, got {expression!r}")
    return tokens


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokens(expression)
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.upper() != expected.upper()):
            raise ExpressionError(f"Invalid expression {self.expression!r}: expected {expected or 'more'}, got {token!r}")
        self.i += 1
        return token

    def done(self) -> None:
        if self.peek() is not None:
            raise ExpressionError(f"Invalid expression {self.expression!r}: unexpected {self.peek()!r}")

    def operand(self) -> Operand:
        token = self.take()
        if not (token.startswith((":", "#")) or token[0].isalpha() or token[0] == "_"):
            raise ExpressionError(f"Invalid expression {self.expression!r}: {token!r} is not an operand")
        return Operand(token)


def parse_condition(expression: str, names: Mapping[str, str]) -> Condition:
    """A predicate over (item, expression attribute values)."""
    return _condition(expression, tuple(sorted(names.items())))


@lru_cache(maxsize=256)
def _condition(expression: str, names_key: tuple[tuple[str, str], ...]) -> Condition:
    names = dict(names_key)
    parser = _Parser(expression)

    def or_expr() -> Condition:
        parts = [and_expr()]
        while (parser.peek() or "").upper() == "OR":
            parser.take()
            parts.append(and_expr())
        return parts[0] if len(parts) == 1 else (lambda item, values: any(p(item, values) for p in parts))

    def and_expr() -> Condition:
        parts = [not_expr()]
        while (parser.peek() or "").upper() == "AND":
            parser.take()
            parts.append(not_expr())
        return parts[0] if len(parts) == 1 else (lambda item, values: all(p(item, values) for p in parts))

    def not_expr() -> Condition:
        if (parser.peek() or "").upper() == "NOT":
            parser.take()
            inner = not_expr()
            return lambda item, values: not inner(item, values)
        return primary()

    def primary() -> Condition:
        token = parser.peek()
        if token == "(":
            parser.take()
            inner = or_expr()
            parser.take(")")
            return inner
        if token in ("attribute_exists", "attribute_not_exists"):
            parser.take()
            parser.take("(")
            name = attribute_name(parser.take(), names)
            parser.take(")")
            exists = token == "attribute_exists"
            return lambda item, _values: (name in item) == exists
        if token is not None and parser.i + 1 < len(parser.tokens) and parser.tokens[parser.i + 1] == "(":
            raise ExpressionError(f"the DynamoDB model does not implement the function {token} (in {expression!r})")
        left = parser.operand()
        comparator = parser.take()
        if comparator not in _COMPARATORS:
            raise ExpressionError(f"the DynamoDB model does not implement the comparator {comparator!r} (in {expression!r})")
        right = parser.operand()
        return lambda item, values: compare(left.value(item, names, values), comparator, right.value(item, names, values))

    condition = or_expr()
    parser.done()
    return condition


def compare(left: AttributeValue | None, comparator: str, right: AttributeValue | None) -> bool:
    if left is None or right is None:
        return False
    (left_type, a), (right_type, b) = next(iter(left.items())), next(iter(right.items()))
    if left_type != right_type:
        return False
    if left_type == "N":
        a, b = Decimal(a), Decimal(b)
    elif left_type == "S":
        a, b = a.encode(), b.encode()
    elif left_type != "B":
        if comparator != "=":
            raise ExpressionError(f"the DynamoDB model compares {left_type} values with = only")
        return bool(a == b)
    outcomes: dict[str, bool] = {"=": a == b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}
    return outcomes[comparator]


@dataclass(frozen=True)
class Update:
    sets: tuple[tuple[str, Operand, Operand | None], ...]  # (name, value, if_not_exists path or None)
    removes: tuple[str, ...]

    def apply(self, item: Item, values: Mapping[str, AttributeValue], names: Mapping[str, str]) -> Item:
        """The item after the update (a new dict; `item` is left as it was)."""
        updated = dict(item)
        for name, value, if_missing in self.sets:
            if if_missing is not None:
                current = if_missing.value(item, names, values)
                chosen = current if current is not None else value.value(item, names, values)
            else:
                chosen = value.value(item, names, values)
            if chosen is None:
                raise ExpressionError(f"The provided expression refers to an attribute that does not exist in the item: {name}")
            updated[name] = chosen
        for name in self.removes:
            updated.pop(name, None)
        return updated


def parse_update(expression: str, names: Mapping[str, str]) -> Update:
    return _update(expression, tuple(sorted(names.items())))


@lru_cache(maxsize=256)
def _update(expression: str, names_key: tuple[tuple[str, str], ...]) -> Update:
    names = dict(names_key)
    parser = _Parser(expression)
    sets: list[tuple[str, Operand, Operand | None]] = []
    removes: list[str] = []
    seen: set[str] = set()
    while parser.peek() is not None:
        clause = parser.take().upper()
        if clause not in ("SET", "REMOVE"):
            raise ExpressionError(f"the DynamoDB model implements SET and REMOVE clauses only, got {clause!r} in {expression!r}")
        while True:
            name = attribute_name(parser.take(), names)
            if name in seen:
                raise ExpressionError(f"Two document paths overlap with each other: {name} (in {expression!r})")
            seen.add(name)
            if clause == "SET":
                parser.take("=")
                if parser.peek() == "if_not_exists":
                    parser.take()
                    parser.take("(")
                    path = parser.operand()
                    parser.take(",")
                    value = parser.operand()
                    parser.take(")")
                    sets.append((name, value, path))
                else:
                    sets.append((name, parser.operand(), None))
            else:
                removes.append(name)
            if parser.peek() != ",":
                break
            parser.take(",")
    if not sets and not removes:
        raise ExpressionError(f"Invalid UpdateExpression: {expression!r} is empty")
    return Update(tuple(sets), tuple(removes))
