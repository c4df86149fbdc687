from __future__ import annotations

import pytest

from chatkit.config import DEFAULT_MODEL_ID, DEFAULT_REGION, Settings


def test_defaults_are_offline_without_credentials(tmp_path):
    settings = Settings.from_env({"HOME": str(tmp_path)})
    assert settings.mode == "offline"
    assert settings.model_id == DEFAULT_MODEL_ID
    assert settings.model_id.split(".")[0] in {"global", "apac", "us", "eu"}
    assert settings.needs_local_endpoints


@pytest.mark.parametrize(
    "var", ["AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
)
def test_visible_credentials_select_aws_mode(tmp_path, var):
    assert Settings.from_env({"HOME": str(tmp_path), var: "x"}).mode == "aws"


def test_aws_config_files_select_aws_mode(tmp_path):
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[default]\n")
    assert Settings.from_env({"HOME": str(tmp_path)}).mode == "aws"


def test_everything_is_overridable(tmp_path):
    env = {
        "HOME": str(tmp_path),
        "CHATKIT_MODE": "aws",
        "AWS_REGION": "ap-northeast-2",
        "CHATKIT_BEDROCK_REGION": "us-east-1",
        "CHATKIT_MODEL_ID": "us.anthropic.x",
        "CHATKIT_TABLE": "t",
        "CHATKIT_BEDROCK_ENDPOINT": "http://127.0.0.1:1",
        "CHATKIT_DYNAMODB_ENDPOINT": "http://127.0.0.1:2",
        "CHATKIT_CONTEXT_TOKENS": "123",
    }
    s = Settings.from_env(env)
    assert (s.mode, s.region, s.bedrock_region, s.model_id, s.table_name) == (
        "aws",
        "ap-northeast-2",
        "us-east-1",
        "us.anthropic.x",
        "t",
    )
    assert (s.bedrock_endpoint, s.dynamodb_endpoint, s.context_tokens) == (
        "http://127.0.0.1:1",
        "http://127.0.0.1:2",
        123,
    )
    assert not s.needs_local_endpoints


def test_bedrock_region_defaults_to_app_region(tmp_path):
    s = Settings.from_env({"HOME": str(tmp_path), "CHATKIT_REGION": "eu-west-1"})
    assert s.bedrock_region == "eu-west-1"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHATKIT_MODE": "cloud"}, "CHATKIT_MODE"),
        ({"CHATKIT_CONTEXT_TOKENS": "many"}, "CHATKIT_CONTEXT_TOKENS"),
        ({"CHATKIT_AUTH": "password"}, "CHATKIT_AUTH"),
        ({"CHATKIT_AUTH": "cognito"}, "CHATKIT_COGNITO_USER_POOL_ID"),
        (
            {"CHATKIT_AUTH": "cognito", "CHATKIT_COGNITO_USER_POOL_ID": "ap-northeast-2_x"},
            "CHATKIT_COGNITO_CLIENT_ID",
        ),
    ],
)
def test_bad_values_name_the_variable(tmp_path, env, message):
    with pytest.raises(ValueError, match=message):
        Settings.from_env({"HOME": str(tmp_path), **env})


def test_cognito_mode_names_its_pool_and_issuer(tmp_path):
    s = Settings.from_env(
        {
            "HOME": str(tmp_path),
            "CHATKIT_AUTH": "cognito",
            "CHATKIT_COGNITO_USER_POOL_ID": "ap-northeast-2_AbC",
            "CHATKIT_COGNITO_CLIENT_ID": "client1",
        }
    )
    assert (s.auth, s.cognito_client_id, s.cognito_endpoint) == ("cognito", "client1", None)
    assert s.cognito_issuer == "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_AbC"


def test_the_attendee_names_tables_and_stack(tmp_path):
    s = Settings.from_env({"HOME": str(tmp_path), "CHATKIT_ATTENDEE": "Kim.Minsu@example.com"})
    assert s.attendee == "kim-minsu"
    assert (s.table_name, s.state_table_name, s.stack_name) == (
        "chatkit-kim-minsu-history",
        "chatkit-kim-minsu-state",
        "chatkit-kim-minsu",
    )
    explicit = Settings.from_env(
        {"HOME": str(tmp_path), "CHATKIT_ATTENDEE": "minsu", "CHATKIT_TABLE": "class-t"}
    )
    assert (explicit.table_name, explicit.state_table_name) == ("class-t", "chatkit-minsu-state")


def test_without_an_attendee_the_old_names_stay(tmp_path):
    s = Settings.from_env({"HOME": str(tmp_path)})
    assert (s.attendee, s.table_name, s.state_table_name, s.stack_name) == (
        None,
        "chatkit-history",
        "chatkit-state",
        "chatkit",
    )


def _profile(tmp_path, text):
    config = tmp_path / "aws-config"
    config.write_text(text)
    return {"HOME": str(tmp_path), "AWS_CONFIG_FILE": str(config), "CHATKIT_MODE": "aws"}


def test_aws_mode_takes_the_profiles_region(tmp_path):
    env = _profile(tmp_path, "[default]\nregion = us-east-1\n[profile class]\nregion = eu-west-1\n")
    assert Settings.from_env(env).region == "us-east-1"
    assert Settings.from_env({**env, "AWS_PROFILE": "class"}).region == "eu-west-1"
    # a region in the environment wins, as in boto3
    assert Settings.from_env({**env, "AWS_REGION": "ap-south-1"}).region == "ap-south-1"
    # offline ignores profiles; a profile without a region leaves Seoul
    assert Settings.from_env({**env, "CHATKIT_MODE": "offline"}).region == "ap-northeast-2"
    empty = _profile(tmp_path, "[default]\noutput = json\n")
    assert Settings.from_env(empty).region == "ap-northeast-2"


def test_settings_for_an_attendee_keep_explicit_tables(tmp_path):
    base = Settings.from_env({"HOME": str(tmp_path)})
    named = base.for_attendee("Jiwoo Lee")
    assert (named.attendee, named.table_name, named.stack_name) == (
        "jiwoo-lee",
        "chatkit-jiwoo-lee-history",
        "chatkit-jiwoo-lee",
    )
    assert base.for_attendee(None) is base and named.for_attendee("other") is named
    explicit = base.with_(table_name="class-t").for_attendee("jiwoo")
    assert (explicit.table_name, explicit.state_table_name) == ("class-t", "chatkit-jiwoo-state")


def _string_constants(value: str) -> list[str]:
    """Where the package spells ``value`` as a string in code (docstrings and comments,
    which only show examples, do not count)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    found = []
    for path in sorted(
        [*root.glob("chatkit/**/*.py"), *root.glob("widgets/chatkit_widgets/**/*.py")]
    ):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        found += [
            f"{path.relative_to(root)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value == value and id(node) not in docstrings
        ]
    return found


def test_the_default_region_has_one_home():
    spelled = [place.partition(":")[0] for place in _string_constants(DEFAULT_REGION)]
    assert spelled == ["chatkit/config.py"], _string_constants(DEFAULT_REGION)
    assert Settings().region == Settings().bedrock_region == DEFAULT_REGION


def test_the_deploy_resolves_the_region_as_aws_mode_settings_do(tmp_path, monkeypatch):
    from chatkit.deploy.aws import resolve_region

    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\n[profile class]\nregion = eu-west-1\n")
    for name in ("CHATKIT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CHATKIT_MODE", "aws")
    cases = [
        {"AWS_CONFIG_FILE": str(config)},
        {"AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "class"},
        {"AWS_CONFIG_FILE": str(config), "AWS_DEFAULT_REGION": "ap-south-1"},
        {"AWS_CONFIG_FILE": str(tmp_path / "none"), "CHATKIT_REGION": "sa-east-1"},
        {"AWS_CONFIG_FILE": str(tmp_path / "none")},
    ]
    found = []
    for env in cases:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        found.append((resolve_region(), Settings.from_env().region))
        for name in env:
            monkeypatch.delenv(name)
    expected = ["us-east-1", "eu-west-1", "ap-south-1", "sa-east-1", DEFAULT_REGION]
    assert found == [(region, region) for region in expected]
    assert resolve_region("me-south-1") == "me-south-1"  # --region wins
