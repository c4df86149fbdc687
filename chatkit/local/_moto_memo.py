"""moto's DynamoDB expression parsing, memoized.

moto parses a condition expression up to three times for each item of a transaction (to
check its names, then on each write path) and an update expression twice, and its parsers
are slow: chatkit's admission transaction (six items, six conditions, three updates) cost
moto 12 ms of CPU, most of it parsing the same strings again. :func:`install` keeps the
parse results, keyed by everything the parsers read:

- a condition's tree by (expression, names, values), with the names and values the parse
  found (moto checks that every name and value given is used);
- an update expression's syntax tree by its text (moto validates a deep copy of it for
  each item, so the kept tree is never changed);
- the method names of a handler class, which moto listed with ``inspect`` per request.

What moto checks, writes and answers is unchanged.

>>> install(); install()  # idempotent
>>> from moto.dynamodb.comparisons import ConditionExpressionParser
>>> ConditionExpressionParser.parse.__name__
'parse_memoized'
"""

from __future__ import annotations

import functools
import json
import threading
from collections import OrderedDict
from typing import Any

__all__ = ["install"]

#: Condition trees kept: a transaction's items parse theirs back to back; the values hold
#: timestamps, so older keys seldom come again.
KEPT = 512


def install() -> None:
    """Patch moto's expression parsers (once per process)."""
    from moto.core import responses
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    original = ConditionExpressionParser.parse
    if original.__name__ == "parse_memoized":
        return
    kept: OrderedDict[tuple[Any, ...], tuple[Any, list[str], list[str]]] = OrderedDict()
    lock = threading.Lock()

    @functools.wraps(original)
    def parse_memoized(self: Any) -> Any:
        key = (
            self.condition_expression,
            json.dumps(self.expression_attribute_names, sort_keys=True),
            json.dumps(self.expression_attribute_values, sort_keys=True),
        )
        with lock:
            found = kept.get(key)
        if found is None:
            tree = original(self)  # raises for an invalid expression: nothing is kept
            found = (tree, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
            with lock:
                kept[key] = found
                if len(kept) > KEPT:
                    kept.popitem(last=False)
        else:
            self.expr_attr_names_found.extend(found[1])
            self.expr_attr_values_found.extend(found[2])
        return found[0]

    parse_memoized.__name__ = "parse_memoized"
    ConditionExpressionParser.parse = parse_memoized
    make = UpdateExpressionParser.make.__func__
    UpdateExpressionParser.make = classmethod(functools.lru_cache(maxsize=256)(make))
    responses.method_names_from_class = _method_names(responses.method_names_from_class)


def _method_names(listed: Any) -> Any:
    """moto lists a handler class's methods (``inspect.getmembers``) on every request to
    find the action's: list each class's once."""
    kept = functools.lru_cache(maxsize=64)(lambda clazz: tuple(listed(clazz)))

    @functools.wraps(listed)
    def method_names_once(clazz: Any) -> list[str]:
        return list(kept(clazz))

    return method_names_once
