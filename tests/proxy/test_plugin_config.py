"""Plugins declare their config sections, endpoint fields and commands through hooks."""

from __future__ import annotations

import sys
import types

import pytest
from pydantic import Field

from plugins.limits.config import LimitsConfig
from plugins.metering.config import LedgerConfig
from proxy import hookimpl
from proxy.cli import build_parser, main
from proxy.config import ConfigError, ConfigModel, Settings, parse_settings
from proxy.plugins import make_plugin_manager


class QuotaConfig(ConfigModel):
    per_hour: int = Field(10, ge=1)


class NoDefaults(ConfigModel):
    required: str


def plugin(monkeypatch: pytest.MonkeyPatch, name: str, **answers: object) -> str:
    """A plugin module *name*, importable by name, whose hooks return the given answers."""
    module = types.ModuleType(name)
    for hook, answer in answers.items():
        setattr(module, hook, hookimpl(specname=hook)(lambda answer=answer: answer))
    monkeypatch.setitem(sys.modules, name, module)
    return name


def test_a_listed_plugin_declares_a_section_read_typed_or_by_name(monkeypatch):
    plugin(monkeypatch, "rg_quota", relaygate_config_sections={"quota": QuotaConfig})
    s = parse_settings("plugins: [rg_quota]\nquota:\n  per_hour: 5\n", "q.yaml", {})
    assert s.section(QuotaConfig) == s.quota == QuotaConfig(per_hour=5)
    assert parse_settings("plugins: [rg_quota]\n", "q.yaml", {}).section(QuotaConfig).per_hour == 10
    with pytest.raises(ConfigError) as info:
        parse_settings("plugins: [rg_quota]\nquota:\n  per_hour: 0\n", "q.yaml", {})
    assert "quota.per_hour (line 3)" in str(info.value)


def test_a_section_without_its_plugin_is_unknown(monkeypatch):
    with pytest.raises(ConfigError) as info:
        parse_settings("providers: {}\nquota: {per_hour: 5}\n", "q.yaml", {})
    assert "quota (line 2)" in str(info.value) and "Extra inputs are not permitted" in str(info.value)


def test_built_in_sections_keep_their_place_and_type():
    s = parse_settings("limits:\n  rules: [{scope: key, requests_per_minute: 5}]\n", "l.yaml", {})
    assert isinstance(s, Settings)
    assert s.section(LimitsConfig) is s.limits and s.limits.rules[0].requests_per_minute == 5
    assert s.section(LedgerConfig) is s.storage.ledger and s.storage.ledger.path == "relaygate-ledger.db"


def test_the_core_model_validates_with_the_plugins_sections():
    s = Settings.model_validate({"storage": {"ledger": {"path": "x.db"}}})
    assert s.section(LedgerConfig).path == "x.db"


def test_a_plugin_adds_an_endpoint_field(monkeypatch):
    plugin(monkeypatch, "rg_tier", relaygate_endpoint_fields={"tier": (int, Field(1, ge=1, le=3))})
    text = ("plugins: [rg_tier]\nproviders:\n  p: {type: openai}\nendpoints:\n  e:\n"
            "    served_models: [{name: a, provider: p, model: m}]\n    tier: {tier}\n")
    assert parse_settings(text.replace("{tier}", "2"), "t.yaml", {}).endpoints["e"].tier == 2
    with pytest.raises(ConfigError) as info:
        parse_settings(text.replace("{tier}", "9"), "t.yaml", {})
    assert "endpoints.e.tier (line 7)" in str(info.value)


@pytest.mark.parametrize(("declared", "needle"), [
    ({"limits": QuotaConfig}, "which plugin 'plugins.limits.admission' owns"),
    ({"server": QuotaConfig}, "which the core owns"),
    ({"storage": QuotaConfig}, "'storage'"),
    ({"server.extra": QuotaConfig}, "which the core owns"),
    ({"quota": NoDefaults}, "every field of NoDefaults needs a default"),
    ({"quota": "not a model"}, "must be a pydantic model class"),
    ({"a.b.c": QuotaConfig}, "is not valid"),
])
def test_a_wrong_declaration_is_a_config_error_naming_the_plugin(monkeypatch, declared, needle):
    plugin(monkeypatch, "rg_bad", relaygate_config_sections=declared)
    with pytest.raises(ConfigError) as info:
        parse_settings("plugins: [rg_bad]\n", "b.yaml", {})
    assert "rg_bad" in str(info.value) and needle in str(info.value)


def test_a_plugin_listed_but_missing_is_a_config_error():
    with pytest.raises(ConfigError, match="no_such_plugin_module"):
        parse_settings("plugins: [no_such_plugin_module]\n", "m.yaml", {})


def test_plugins_add_commands(monkeypatch, capsys):
    module = types.ModuleType("rg_hello")

    @hookimpl
    def relaygate_add_commands(commands):
        commands.add_parser("hello").set_defaults(func=lambda args: print("hi") or 3)

    module.relaygate_add_commands = relaygate_add_commands
    monkeypatch.setitem(sys.modules, "rg_hello", module)
    pm = make_plugin_manager(["rg_hello"], entry_points=False)
    args = build_parser(pm).parse_args(["hello"])
    assert args.func(args) == 3 and capsys.readouterr().out == "hi\n"
    built_in = build_parser()._subparsers._group_actions[0].choices      # type: ignore[union-attr]
    assert {"serve", "check-config", "keys", "usage", "agent-env"} <= set(built_in)
    assert main(["agent-env", "claude", "--key", "k", "--part", "env"]) == 0
    assert "ANTHROPIC_AUTH_TOKEN=k" in capsys.readouterr().out
