"""The local DynamoDB's front: one asyncio thread hands moto each request as werkzeug's
server would (chatkit.local.dynamodb), and moto parses each expression once
(chatkit.local._moto_memo) with the same answers as before."""

from __future__ import annotations

import http.client
import itertools
import json
import random
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from moto.dynamodb.comparisons import ConditionExpressionParser

from chatkit.aws_clients import dynamodb_client
from chatkit.local._background import BackgroundServer
from chatkit.local.dynamodb import call_wsgi, wsgi_environ


def _echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """A WSGI app answering with what it was given."""
    seen = {k: v for k, v in environ.items() if isinstance(v, str)}
    seen["body"] = environ["wsgi.input"].read().decode()
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Seen", "1"),
                              ("Content-Length", "1234")])  # fmt: skip
    return [body]


@pytest.fixture(scope="module")
def echo_url():
    async def serve(request: web.Request) -> web.Response:
        return call_wsgi(_echo, wsgi_environ(request, await request.read()))

    def make_app() -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", serve)
        return app

    with BackgroundServer(make_app) as server:
        yield server.url


def _send(url: str, method: str, target: str, headers: dict[str, str], body: bytes = b""):
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request(method, target, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.headers, response.read()


def test_the_environ_keeps_the_query_as_signed_and_drops_underscored_headers(echo_url):
    target = "/chatkit-%EC%88%98%EC%97%85/a%2Fb?prefix=zips%2Fv1&versions"
    headers = {"X-Amz-Date": "20261206T000000Z", "X_Forged": "1", "Content-Type": "text/plain"}
    status, response_headers, body = _send(echo_url, "PUT", target, headers, "안녕".encode())
    seen = json.loads(body)
    assert status == 200 and response_headers["X-Seen"] == "1"
    assert seen["QUERY_STRING"] == "prefix=zips%2Fv1&versions"  # as the signature covers it
    assert seen["PATH_INFO"].encode("latin1").decode() == "/chatkit-수업/a/b"
    assert seen["RAW_URI"] == target
    assert seen["HTTP_X_AMZ_DATE"] == "20261206T000000Z"
    assert "HTTP_X_FORGED" not in seen  # could pose as X-Forged: never passed on
    assert seen["CONTENT_TYPE"] == "text/plain" and seen["body"] == "안녕"
    assert seen["CONTENT_LENGTH"] == str(len("안녕".encode()))
    assert response_headers["Content-Length"] == str(len(body))  # the real length, not 1234


def test_a_head_answer_keeps_the_length_the_app_gave(echo_url):
    status, headers, body = _send(echo_url, "HEAD", "/bucket/key", {})
    assert status == 200 and body == b""
    assert headers["Content-Length"] == "1234"  # S3's HeadObject: the object's size


@pytest.fixture
def memo(settings):
    """The local stack's settings, its moto's expressions memoized (else the test skips:
    a moto whose parser differs is left as it is, see ``speed_up_moto``)."""
    if ConditionExpressionParser.parse.__name__ != "parse_memoized":
        pytest.skip("this moto's expression parser is not memoized")
    return settings


def _counting_lexer(monkeypatch) -> list[str]:
    lexed: list[str] = []
    lex = ConditionExpressionParser._lex_condition_expression

    def counting(self):
        lexed.append(self.condition_expression)
        return lex(self)

    monkeypatch.setattr(ConditionExpressionParser, "_lex_condition_expression", counting)
    return lexed


_numbers = itertools.count(random.randrange(10**9, 10**12))


def _take(table: str, key: str, expected: str) -> dict[str, Any]:
    """An update of ``key`` to a new number if it holds ``expected`` (or nothing); the new
    number is unique, so no earlier parse in this process has these values."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": "SET #n = :next",
            "ConditionExpression": "attribute_not_exists(#n) OR #n = :expected",
            "ExpressionAttributeNames": {"#n": "n"},
            "ExpressionAttributeValues": {
                ":next": {"N": str(next(_numbers))},
                ":expected": {"N": expected},
            },
        }
    }


def test_each_condition_is_parsed_once_and_still_decides(memo, monkeypatch):
    client, table = dynamodb_client(memo), memo.state_table_name
    lexed = _counting_lexer(monkeypatch)
    item = _take(table, "memo#a", "0")["Update"]
    items = [{"Update": {**item, "Key": {"pk": {"S": f"memo#{i}"}}}} for i in range(3)]
    client.transact_write_items(TransactItems=items)
    assert len(lexed) == 1  # one expression with the same names and values: parsed once
    # The same expressions again: n is set now, so the condition (n = 0) fails this time.
    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(TransactItems=items)
    codes = [r["Code"] for r in cancelled.value.response["CancellationReasons"]]
    assert codes == ["ConditionalCheckFailed"] * 3
    assert len(lexed) == 1  # the kept tree, evaluated against the items as they are now


def test_an_unused_value_is_refused_on_a_kept_parse_too(memo):
    client, table = dynamodb_client(memo), memo.state_table_name
    ok = _take(table, "memo#unused", "0")["Update"]
    client.update_item(**ok)
    extra = {
        **ok,
        "ExpressionAttributeValues": {**ok["ExpressionAttributeValues"], ":x": {"N": "7"}},
    }
    for _ in range(2):  # the second time from the kept parse
        with pytest.raises(client.exceptions.ClientError, match=r"unused.*:x"):
            client.update_item(**extra)


def test_a_condition_is_lexed_once_whatever_its_values(memo, monkeypatch):
    client, table = dynamodb_client(memo), memo.state_table_name
    tokens = []
    lex_one = ConditionExpressionParser._lex_one_node

    def counting(self, remaining):
        tokens.append(remaining)
        return lex_one(self, remaining)

    monkeypatch.setattr(ConditionExpressionParser, "_lex_one_node", counting)
    name = f"#n{next(_numbers)}"  # a text no earlier test in this process lexed

    def update(expected: str) -> None:
        item = _take(table, "memo#lex", expected)["Update"]
        item["ConditionExpression"] = item["ConditionExpression"].replace("#n", name)
        item["ExpressionAttributeNames"][name] = "n"
        client.update_item(**item)

    update("0")
    first = len(tokens)
    assert first > 5
    taken = client.get_item(TableName=table, Key={"pk": {"S": "memo#lex"}})["Item"]["n"]["N"]
    update(taken)  # new values, the same text
    assert len(tokens) == first


#: Update expressions of every kind, each applied to the item as the one before left it.
UPDATES = [
    ("SET #n = :one, #tags = :tags, #doc = :doc, #names = :names", None),
    ("SET #n = #n + :one, #doc.#inner.#k = :s", None),
    ("SET #gone = if_not_exists(#gone, :one), #names = list_append(#names, :names)", None),
    ("ADD #n :one, #tags :more REMOVE #doc.#inner.#k", None),
    ("DELETE #tags :tag", None),
    ("SET #n = #n - :one REMOVE #gone", None),
    ("ADD #s :one", "ValidationException"),  # a number added to a string
    ("SET #n = :one, #n = :s", "ValidationException"),  # two actions on one path
    ("SET #pk = :s", "ValidationException"),  # the key
]


def _updated(client, table: str) -> list[Any]:
    """Each update's new item, or its error's code and message."""
    client.put_item(TableName=table, Item={"pk": {"S": "memo#kinds"}, "s": {"S": "안녕"}})
    values = {
        ":one": {"N": "1"},
        ":s": {"S": "서울"},
        ":tags": {"SS": ["a", "b"]},
        ":more": {"SS": ["c"]},
        ":tag": {"SS": ["a"]},
        ":doc": {"M": {"inner": {"M": {"k": {"S": "v"}}}}},
        ":names": {"L": [{"S": "민수"}]},
    }
    answers: list[Any] = []
    for expression, _ in UPDATES:
        names = {name: name[1:] for name in re.findall(r"#\w+", expression)}
        used = {name: values[name] for name in re.findall(r":\w+", expression)}
        try:
            answer = client.update_item(
                TableName=table,
                Key={"pk": {"S": "memo#kinds"}},
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=used,
                ReturnValues="ALL_NEW",
            )
            answers.append(answer["Attributes"])
        except client.exceptions.ClientError as err:
            answers.append((err.response["Error"]["Code"], err.response["Error"]["Message"]))
    return answers


def test_updates_are_validated_and_applied_as_moto_does(memo, monkeypatch):
    import copy

    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

    client, table = dynamodb_client(memo), memo.state_table_name
    ours = _updated(client, table)
    assert [type(a) is tuple and a[0] for a in ours] == [
        expected or False for _, expected in UPDATES
    ]
    assert ours[5]["n"] == {"N": "2"} and ours[5]["tags"] == {"SS": ["b", "c"]}
    # moto's own: a deep copy of the tree, and its traverse (ast_nodes.py) for each check
    monkeypatch.setattr(validators, "deepcopy", copy.deepcopy)
    monkeypatch.setattr(
        DepthFirstTraverser, "traverse", lambda self, node: self.traverse_node_recursively(node)
    )
    assert _updated(client, table) == ours
