"""moto's JSON answers, with DynamoDB attribute values passed through as they are.

moto writes every answer by walking its shape in the service model. An attribute value
(``{"S": "안녕"}``) is a structure of ten possible members, so each is looked up under
several spellings: a context ``Query`` returning 10 turns cost 27 ms of moto's CPU for
that alone, one request at a time, and a class's chats read their context with every
question. An attribute value's JSON is its own ``{type: value}`` form, so
:func:`install` passes it through when it holds strings, booleans, sets of strings, maps
and lists of those; a binary value (base64 on the wire) still takes moto's path. What
moto answers is unchanged.

>>> install(); install()  # idempotent
>>> from moto.core.serialize import BaseJSONSerializer
>>> BaseJSONSerializer._serialize_type_structure.__name__
'structure_or_attribute_value'
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["install"]

#: The members of DynamoDB's ``AttributeValue`` union (botocore's service model).
_MEMBERS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})


def install() -> None:
    """Patch moto's JSON serializer (once per process)."""
    from moto.core.serialize import BaseJSONSerializer

    structure, mapping = (
        BaseJSONSerializer._serialize_type_structure,
        BaseJSONSerializer._serialize_type_map,
    )
    if structure.__name__ == "structure_or_attribute_value":
        return

    @functools.wraps(structure)
    def structure_or_attribute_value(
        self: Any, serialized: Any, value: Any, shape: Any, key: str
    ) -> None:
        if key and _attribute_value(shape) and _as_sent(value):
            serialized[self.get_serialized_name(shape, key)] = value
        else:
            structure(self, serialized, value, shape, key)

    @functools.wraps(mapping)
    def map_or_item(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        """An item (a map of attribute values) whole, if each value passes through."""
        if _attribute_value(shape.value) and all(_as_sent(v) for v in value.values()):
            serialized[self.get_serialized_name(shape, key)] = value
        else:
            mapping(self, serialized, value, shape, key)

    structure_or_attribute_value.__name__ = "structure_or_attribute_value"
    BaseJSONSerializer._serialize_type_structure = structure_or_attribute_value
    BaseJSONSerializer._serialize_type_map = map_or_item


def _attribute_value(shape: Any) -> bool:
    """Whether ``shape`` is DynamoDB's ``AttributeValue`` (by its name and members)."""
    return shape.name == "AttributeValue" and frozenset(shape.members) == _MEMBERS


def _as_sent(value: Any) -> bool:
    """Whether moto's walk would write ``value`` (one ``{type: value}``) unchanged.

    >>> _as_sent({"M": {"a": {"S": "안녕"}, "b": {"L": [{"N": "1"}, {"NULL": True}]}}})
    True
    >>> _as_sent({"B": b"\\x00"}), _as_sent({"S": "a", "N": "1"}), _as_sent({"N": 1})
    (False, False, False)
    """
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in ("S", "N"):
        return isinstance(inner, str)
    if kind in ("BOOL", "NULL"):
        return isinstance(inner, bool)
    if kind in ("SS", "NS"):
        return isinstance(inner, list) and all(isinstance(v, str) for v in inner)
    if kind == "M":
        return isinstance(inner, dict) and all(_as_sent(v) for v in inner.values())
    if kind == "L":
        return isinstance(inner, list) and all(_as_sent(v) for v in inner)
    return False  # B, BS: bytes, base64-encoded on the way out
