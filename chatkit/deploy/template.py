"""``infra/template.yaml`` as text and as data (CloudFormation's short tags kept).

    >>> template = load_template()
    >>> template["Resources"]["HistoryTable"]["Type"]
    'AWS::DynamoDB::Table'
    >>> template["Resources"]["ConnectRole"]["Properties"]["Policies"][0]["PolicyName"]
    'connect'

Short-form tags become one-key mappings in their long form: ``!Ref X`` → ``{"Ref": "X"}``,
``!GetAtt A.B`` → ``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub s`` → ``{"Fn::Sub": s}``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "TEMPLATE_PATH",
    "lint_template",
    "load_template",
    "resource_summary",
    "template_text",
]

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"


class _Loader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation's ``!Ref``/``!Sub``/``!GetAtt``…"""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def template_text() -> str:
    """The template file's text (what ``chatkit deploy`` sends to CloudFormation)."""
    if not TEMPLATE_PATH.is_file():
        raise FileNotFoundError(
            f"{TEMPLATE_PATH}이 없습니다. 저장소를 clone해서 `pip install -e .`로 설치하세요. "
            "(The template is missing: install chatkit from a clone with `pip install -e .`.)"
        )
    return TEMPLATE_PATH.read_text(encoding="utf-8")


def load_template(text: str | None = None) -> dict[str, Any]:
    """The template as data (``text`` defaults to :func:`template_text`)."""
    return yaml.load(template_text() if text is None else text, Loader=_Loader)


def resource_summary(template: dict[str, Any]) -> list[tuple[str, int]]:
    """``[(resource type, count)]`` sorted by type: what a new stack creates."""
    counts = Counter(resource["Type"] for resource in template["Resources"].values())
    return sorted(counts.items())


def lint_template() -> list[str]:
    """cfn-lint's findings on the template, errors and warnings alike (empty: clean).
    cfn-lint works offline; it comes with the ``dev`` extra and with moto's server."""
    from cfnlint.api import lint_file

    return [str(match) for match in lint_file(TEMPLATE_PATH)]
