"""The history key schema lives once in infra/template.yaml; the code's constant must match."""

from __future__ import annotations

from pathlib import Path

import yaml

from chatkit.schema import HISTORY_TABLE

TEMPLATE = Path(__file__).parents[2] / "infra" / "template.yaml"


class _Loader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags (!Ref, !Sub, …) as data."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}


_Loader.add_multi_constructor("!", _tag)


def _history_table() -> dict:
    template = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_Loader)
    return template["Resources"]["HistoryTable"]["Properties"]


def test_key_schema_matches_template():
    props = _history_table()
    keys = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
    assert keys == {"HASH": HISTORY_TABLE.partition_key, "RANGE": HISTORY_TABLE.sort_key}
    expected = HISTORY_TABLE.create_table_kwargs("x")
    assert props["AttributeDefinitions"] == expected["AttributeDefinitions"]
    assert props["BillingMode"] == expected["BillingMode"]


def test_ttl_attribute_matches_template():
    ttl = _history_table()["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": HISTORY_TABLE.ttl_attribute, "Enabled": True}
