"""moto's DynamoDB expression parsing, memoized.

moto parses a condition expression up to three times for each item of a transaction (to
check its names, then on each write path) and an update expression twice, and its parsers
are slow: chatkit's admission transaction (six items, six conditions, three updates) cost
moto 12 ms of CPU, most of it parsing the same strings again. :func:`install` keeps the
parse results, keyed by everything the parsers read:

- a condition's tree by (expression, names, values), with the names and values the parse
  found (moto checks that every name and value given is used);
- an update expression's syntax tree by its text (moto validates a deep copy of it for
  each item, so the kept tree is never changed), with its pickle: the copy is loaded
  from it, 6× faster than ``deepcopy``;
- a condition's tokens by its text alone (a parse missed for new values lexes no more);
- the method names of a handler class, which moto listed with ``inspect`` per request.

moto's validation walks each update tree ten times; the walk looks up the node types to
process once per walk instead of once per node (they are ABCs, slow to check).

What moto checks, writes and answers is unchanged.

>>> install(); install()  # idempotent
>>> from moto.dynamodb.comparisons import ConditionExpressionParser
>>> ConditionExpressionParser.parse.__name__
'parse_memoized'
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import pickle
import threading
from collections import OrderedDict, deque
from typing import Any

__all__ = ["install"]

#: Condition trees kept: a transaction's items parse theirs back to back; the values hold
#: timestamps, so older keys seldom come again.
KEPT = 512


def install() -> None:
    """Patch moto's expression parsers (once per process)."""
    from moto.core import responses
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    original = ConditionExpressionParser.parse
    if original.__name__ == "parse_memoized":
        return
    probe = ConditionExpressionParser("", {}, {})
    for needed in (
        (probe, "expr_attr_names_found"),  # moto ≥ 5.1.x checks unused names with these
        (probe, "expr_attr_values_found"),
        (ConditionExpressionParser, "_lex_condition_expression"),
        (validators, "deepcopy"),
        (DepthFirstTraverser, "nodes_to_be_processed"),
        (DepthFirstTraverser, "pre_processing_of_child"),
        (DepthFirstTraverser, "process"),
        (responses, "method_names_from_class"),
    ):
        getattr(*needed)  # AttributeError: another moto; nothing is patched
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
    UpdateExpressionParser.make = classmethod(functools.lru_cache(maxsize=256)(_pickled(make)))
    ConditionExpressionParser._lex_condition_expression = _lexed_once(ConditionExpressionParser)
    validators.deepcopy = _copy_of_kept_tree
    DepthFirstTraverser.traverse = _traverse
    responses.method_names_from_class = _method_names(responses.method_names_from_class)


def _lexed_once(parser: Any) -> Any:
    """A condition's tokens (immutable) by its text, whatever its names and values: a
    parse missed for new values still lexes each expression once."""
    lex = parser._lex_condition_expression

    @functools.lru_cache(maxsize=KEPT)
    def tokens(text: str) -> tuple[Any, ...]:
        return tuple(lex(parser(text, {}, {})))  # raises for a bad token: nothing kept

    @functools.wraps(lex)
    def lex_once(self: Any) -> deque[Any]:
        return deque(tokens(self.condition_expression))

    return lex_once


#: The update trees kept by parse, by id, with their pickles: ``pickle.loads`` copies a
#: tree for validation about 6× faster than ``copy.deepcopy`` walks it.
_PICKLES: dict[int, tuple[Any, bytes]] = {}


def _pickled(make: Any) -> Any:
    @functools.wraps(make)
    def make_and_pickle(cls: Any, expression: str) -> Any:
        tree = make(cls, expression)
        with contextlib.suppress(Exception):  # not picklable: deep-copied as before
            _PICKLES[id(tree)] = (tree, pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL))
            while len(_PICKLES) > KEPT:
                del _PICKLES[next(iter(_PICKLES))]  # the oldest: it is deep-copied again
        return tree

    return make_and_pickle


def _copy_of_kept_tree(value: Any, memo: Any = None) -> Any:
    """``copy.deepcopy`` for moto's validators: a kept tree from its pickle."""
    kept = _PICKLES.get(id(value))
    if kept is not None and kept[0] is value and memo is None:
        return pickle.loads(kept[1])
    return copy.deepcopy(value, memo)


@functools.lru_cache(maxsize=1024)
def _subclass(kind: type, of: type | tuple[type, ...]) -> bool:
    """``issubclass``, kept: moto's node classes are ABCs, slow to check each time."""
    return issubclass(kind, of)


def _traverse(self: Any, node: Any) -> Any:
    """moto's ``DepthFirstTraverser.traverse`` (depth first, children before their
    parent, a processed node replacing itself in its parent), with the node types to
    process looked up once per traversal, not once per node."""
    from moto.dynamodb.parsing.ast_nodes import Node

    wanted = self.nodes_to_be_processed()

    def visit(node: Any, child_id: int) -> Any:
        kind = type(node)
        if not _subclass(kind, Node):
            return node
        parent = node.parent
        if node.children is not None:
            for index, child in enumerate(node.children):
                self.pre_processing_of_child(node, index)
                visit(child, index)
        if _subclass(kind, wanted):
            node = self.process(node)
            node.parent = parent
            if parent:
                parent.children[child_id] = node
        return node

    return visit(node, -1)


def _method_names(listed: Any) -> Any:
    """moto lists a handler class's methods (``inspect.getmembers``) on every request to
    find the action's: list each class's once."""
    kept = functools.lru_cache(maxsize=64)(lambda clazz: tuple(listed(clazz)))

    @functools.wraps(listed)
    def method_names_once(clazz: Any) -> list[str]:
        return list(kept(clazz))

    return method_names_once
