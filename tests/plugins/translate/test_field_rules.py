"""One rule per request field per provider type, and README's table of them is the code's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plugins.translate import field_rules

README = Path(__file__).resolve().parents[3] / "README.md"


@pytest.fixture(scope="module")
def found():
    return field_rules.rules()


def test_every_field_of_every_shape_has_a_sample(found):
    from support.exchanges import registries
    apis, _ = registries()
    for client_api, (base, samples) in field_rules.FORMATS.items():
        schema = apis.get(client_api).request_schema
        documented = set(schema["properties"]) - set(base) - {"stream", "stream_options", "model"}
        missing = documented - set(samples) - {"generateContentRequest"}
        assert not missing, f"{client_api}: fields of the request shape without a rule: {sorted(missing)}"


def test_no_field_is_ignored_without_a_reason(found):
    silent = [(client, field, kind) for client, table in found.items() for field, row in table.items()
              for kind, rule in row.items() if rule == "ignored" and (client, field) not in field_rules.IGNORED]
    assert not silent, f"fields a translation drops without a word: {silent}"


def test_rules_are_what_the_translators_do(found):
    rules = found["openai.chat"]
    assert rules["n"]["anthropic"] == "rejected; dropped"          # Anthropic answers one choice
    assert rules["functions"]["gemini"] == "mapped"                 # Vertex keeps the legacy fields
    assert rules["extra_body"]["gemini"] == "mapped"                # extra_body.google.thinking_config
    assert found["openai.responses"]["top_k"]["anthropic"] == "mapped"
    assert found["gemini.generate"]["safetySettings"]["anthropic"] == "rejected; dropped"
    assert all(rule == "native" for rule in found["anthropic.messages"]["thinking"]["anthropic"].split())


def test_readme_table_is_current(found):
    text = README.read_text()
    block = re.search(r"<!-- field-rules:begin -->\n(.*?)<!-- field-rules:end -->", text, re.S)
    assert block, "README.md lost its field-rules block"
    assert block.group(1) == field_rules.markdown(found), (
        "README.md's field table is stale: run .venv/bin/python -m plugins.translate.field_rules and paste it "
        "between the field-rules markers")
