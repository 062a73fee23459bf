"""The compiled yes/no predicate (proxy/fits.py) gives the explaining checker's verdict (proxy/shapes.py).

Every request runs the predicate; only a refused body is walked again to name its field. If
the two disagreed, a wrong body would pass unnamed or a right one be refused: so both run
over real client bodies (golden cases, captured SDK and agent requests) and over every
body with one field swapped for a value of another type, against every format's schema.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from proxy.errors import RequestRejected
from proxy.fits import fits
from proxy.shapes import _explain
from tests.support.exchanges import registries

TESTS = Path(__file__).resolve().parents[1]
SWAPS: list[Any] = [None, True, 0, -1, 7, 2**40, 1.5, float(2**53), "", "x" * 70000, "text", [], [1], ["a"],
                    [{}], {}, {"type": "text"}, {"type": "function", "function": {"name": 1}}]


def corpus() -> list[Any]:
    bodies: list[Any] = [json.loads(p.read_text()) for p in sorted(TESTS.glob("golden/*/*/client_request.json"))]
    for capture in sorted((TESTS / "fixtures/clients/captures").glob("*.jsonl")):
        for line in capture.read_text().splitlines():
            body = json.loads(line).get("body")
            if isinstance(body, dict):
                bodies.append(body)
    return bodies


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


def swapped(body: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(body) if isinstance(body, dict) else list(body)
    copy[path[0]] = swapped(body[path[0]], path[1:], new)
    return copy


def explains_nothing(value: Any, schema: dict[str, Any]) -> bool:
    try:
        _explain(value, schema)
    except RequestRejected:
        return False
    return True


def schemas() -> list[tuple[str, dict[str, Any]]]:
    apis, _ = registries()
    return [(i, apis.get(i).request_schema) for i in apis.ids() if apis.get(i).request_schema is not None]


@pytest.mark.parametrize(("api_id", "schema"), schemas(), ids=[i for i, _ in schemas()])
def test_the_predicate_and_the_explaining_checker_agree(api_id: str, schema: dict[str, Any]) -> None:
    rng = random.Random(17)
    checked = refused = 0
    own_fields = [{name: new} for name in schema.get("properties", {}) for new in SWAPS]   # each field, each type
    for body in corpus() + own_fields:
        variants = [body]
        every = paths(body)
        for path in rng.sample(every, min(len(every), 40)):
            variants += [swapped(body, path, new) for new in rng.sample(SWAPS, 4)]
        for value in variants:
            verdict = fits(value, schema)
            assert verdict == explains_nothing(value, schema), (api_id, json.dumps(value)[:300])
            checked += 1
            refused += not verdict
    assert refused and refused < checked      # both verdicts were exercised
