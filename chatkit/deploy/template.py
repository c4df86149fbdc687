"""``infra/template.yaml`` as text and as data (CloudFormation's short tags kept).

    >>> template = load_template()
    >>> template["Resources"]["HistoryTable"]["Type"]
    'AWS::DynamoDB::Table'
    >>> template["Resources"]["ConnectRole"]["Properties"]["Policies"][0]["PolicyName"]
    'connect'

Short-form tags become one-key mappings in their long form: ``!Ref X`` → ``{"Ref": "X"}``,
``!GetAtt A.B`` → ``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub s`` → ``{"Fn::Sub": s}``,
``!Condition C`` → ``{"Condition": "C"}``.

:func:`render` decides the conditions for given parameters, as CloudFormation does:

    >>> "UserPool" in render(template, {"AuthMode": "cognito"})["Resources"]
    True
    >>> "UserPool" in render(template)["Resources"]  # AuthMode's default: demo
    False
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "TEMPLATE_PATH",
    "lint_template",
    "load_template",
    "render",
    "resource_summary",
    "template_text",
]

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"


class _Loader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation's ``!Ref``/``!Sub``/``!GetAtt``…"""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
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


_NO_VALUE = {"Ref": "AWS::NoValue"}


def render(template: dict[str, Any], parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The template as a stack with these ``parameters`` (others: their defaults) gets it:
    every ``Fn::If`` decided, ``AWS::NoValue`` dropped, resources and outputs whose
    ``Condition`` is false left out. A new dict; ``template`` is not changed."""
    values = {
        name: str(p["Default"]) for name, p in template["Parameters"].items() if "Default" in p
    }
    values.update(parameters or {})
    conditions: dict[str, bool] = {}

    def holds(expr: Any) -> bool:
        if "Condition" in expr:
            name = expr["Condition"]
            if name not in conditions:
                conditions[name] = holds(template["Conditions"][name])
            return conditions[name]
        ((function, args),) = expr.items()
        if function == "Fn::Equals":
            left, right = (values[a["Ref"]] if isinstance(a, dict) else str(a) for a in args)
            return left == right
        if function == "Fn::Not":
            return not holds(args[0])
        if function in ("Fn::And", "Fn::Or"):
            results = [holds(arg) for arg in args]
            return all(results) if function == "Fn::And" else any(results)
        raise ValueError(f"unknown condition function {function}")

    def decide(value: Any) -> Any:
        if isinstance(value, dict):
            if "Fn::If" in value:
                name, yes, no = value["Fn::If"]
                return decide(yes if holds({"Condition": name}) else no)
            decided = {key: decide(item) for key, item in value.items()}
            return {key: item for key, item in decided.items() if item != _NO_VALUE}
        if isinstance(value, list):
            return [item for item in map(decide, value) if item != _NO_VALUE]
        return value

    def kept(section: dict[str, Any]) -> dict[str, Any]:
        return {
            name: decide({key: v for key, v in item.items() if key != "Condition"})
            for name, item in section.items()
            if "Condition" not in item or holds({"Condition": item["Condition"]})
        }

    rendered = {key: value for key, value in template.items() if key != "Conditions"}
    rendered["Resources"] = kept(template["Resources"])
    rendered["Outputs"] = kept(template.get("Outputs", {}))
    return rendered


def resource_summary(template: dict[str, Any]) -> list[tuple[str, int]]:
    """``[(resource type, count)]`` sorted by type: what a new stack creates."""
    counts = Counter(resource["Type"] for resource in template["Resources"].values())
    return sorted(counts.items())


def lint_template() -> list[str]:
    """cfn-lint's findings on the template, errors and warnings alike (empty: clean).
    cfn-lint works offline; it comes with the ``dev`` extra and with moto's server."""
    from cfnlint.api import lint_file

    return [str(match) for match in lint_file(TEMPLATE_PATH)]
