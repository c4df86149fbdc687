"""The key schemas live once in infra/template.yaml; the code's constants must match."""

from __future__ import annotations

import pytest

from chatkit.deploy.template import load_template
from chatkit.schema import HISTORY_TABLE, STATE_TABLE

TABLES = {"HistoryTable": HISTORY_TABLE, "StateTable": STATE_TABLE}


@pytest.mark.parametrize("logical_id", TABLES)
def test_key_schema_matches_template(logical_id):
    schema = TABLES[logical_id]
    props = load_template()["Resources"][logical_id]["Properties"]
    keys = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
    expected_keys = {"HASH": schema.partition_key}
    if schema.sort_key:
        expected_keys["RANGE"] = schema.sort_key
    assert keys == expected_keys
    expected = schema.create_table_kwargs("x")
    assert props["AttributeDefinitions"] == expected["AttributeDefinitions"]
    assert props["BillingMode"] == expected["BillingMode"]


@pytest.mark.parametrize("logical_id", TABLES)
def test_ttl_attribute_matches_template(logical_id):
    ttl = load_template()["Resources"][logical_id]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": TABLES[logical_id].ttl_attribute, "Enabled": True}
