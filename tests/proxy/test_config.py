"""Configuration: validation errors name the field and its line; env references; zero-config."""

from __future__ import annotations

import pytest

from proxy.cli import main
from proxy.config import ConfigError, parse_settings
from proxy.zeroconf import settings_from_env

GOOD = """
providers:
  openai: {type: openai, api_key: "${OPENAI_KEY}"}
endpoints:
  chat:
    served_models:
      - {name: a, provider: openai, model: gpt-4o-mini, traffic_percentage: 70}
      - {name: b, provider: openai, model: gpt-4o, traffic_percentage: 30}
    fallbacks: [b]
keys:
  - {name: dev, key: "${DEV_KEY:-fallback-key}", owner: dev}
"""


def test_env_references_are_expanded_and_secrets_hidden():
    s = parse_settings(GOOD, "t.yaml", {"OPENAI_KEY": "sk-secret"})
    assert s.providers["openai"].api_key.get_secret_value() == "sk-secret"
    assert "sk-secret" not in repr(s)
    assert s.keys[0].key.get_secret_value() == "fallback-key"
    assert s.endpoints["chat"].name == "chat"


def test_missing_env_variable_is_named():
    with pytest.raises(ConfigError, match="OPENAI_KEY is not set"):
        parse_settings(GOOD, "t.yaml", {})


@pytest.mark.parametrize(("text", "where", "line"), [
    ("endpoints:\n  chat:\n    served_models:\n      - {name: a, provider: p, model: m, traffic_percentage: 150}\n",
     "endpoints.chat.served_models.0.traffic_percentage", 4),
    ("server:\n  port: 99999\n", "server.port", 2),
    ("server:\n  colour: blue\n", "server.colour", 2),
    ("providers:\n  p: {type: openai}\nendpoints:\n  e:\n    task: chatty\n"
     "    served_models: [{name: a, provider: p, model: m}]\n",
     "endpoints.e.task", 5),
])
def test_bad_field_is_named_with_its_line(text, where, line):
    with pytest.raises(ConfigError) as info:
        parse_settings(text, "bad.yaml", {})
    message = str(info.value)
    assert "bad.yaml" in message and where in message and f"(line {line})" in message


@pytest.mark.parametrize(("endpoint", "needle"), [
    ("    served_models:\n      - {name: a, provider: p, model: m, traffic_percentage: 60}\n", "add up to 100"),
    ("    served_models:\n      - {name: a, provider: p, model: m}\n    fallbacks: [zz]\n", "fallback 'zz'"),
    ("    served_models:\n      - {name: a, provider: nope, model: m}\n", "provider 'nope'"),
])
def test_cross_field_errors_explain_themselves(endpoint, needle):
    text = "providers:\n  p: {type: openai}\nendpoints:\n  e:\n" + endpoint
    with pytest.raises(ConfigError, match=needle):
        parse_settings(text, "bad.yaml", {})


def test_zero_config_reads_the_sdk_variables():
    s = settings_from_env({"OPENAI_API_KEY": "sk-1", "ANTHROPIC_BASE_URL": "http://127.0.0.1:1",
                           "GOOGLE_API_KEY": "g-1", "RELAYGATE_API_KEYS": "k1, k2,"})
    assert set(s.providers) == {"openai", "anthropic", "gemini"}
    assert s.providers["openai"].base_url == "https://api.openai.com/v1"
    assert s.providers["anthropic"].base_url == "http://127.0.0.1:1"
    assert s.providers["gemini"].api_key.get_secret_value() == "g-1"
    assert set(s.endpoints) == {"openai/*", "anthropic/*", "gemini/*"}
    assert [k.key.get_secret_value() for k in s.keys] == ["k1", "k2"]


def test_zero_config_without_variables_has_no_providers():
    s = settings_from_env({})
    assert s.providers == {} and s.endpoints == {} and s.keys == []


def test_check_config_command(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD.replace("${OPENAI_KEY}", "sk-x"))
    assert main(["check-config", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers:\n  p: {type: nosuch}\n")
    assert main(["check-config", str(bad)]) == 2
    assert "unknown provider type 'nosuch'" in capsys.readouterr().err


def test_the_example_config_in_the_repository_is_valid(capsys):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "relaygate.example.yaml"
    assert main(["check-config", str(example)]) == 0
    assert "4 providers, 4 endpoints" in capsys.readouterr().out
