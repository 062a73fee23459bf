"""Golden fixtures: tests/golden/<pair>/<case>/ holds real wire formats in and the exact translation out.

Inputs: ``client_request.json`` (from tests/fixtures/clients/captures), ``backend_response.json`` and
``backend_stream.sse`` (the fake upstreams' exact formats), ``options.json``. Expected outputs:
``backend_request.json`` (+ ``dropped.json``), ``client_response.json``, ``client_stream.sse``.
``pytest --update-golden`` rewrites the expected files; review the diff. Generated ids and
timestamps are normalised (each distinct id becomes ``<id:N>`` in order, so pairing is still checked).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from proxy.errors import RequestRejected
from proxy.exchange import TranslateOptions
from support.exchanges import pair_exchange

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
CASES = sorted(p for p in GOLDEN.glob("*/*") if p.is_dir())
_ID = re.compile(r"(chatcmpl-|msg_|resp_|rs_|fc_|ctc_|call_|toolu_)?[0-9a-f]{24}")
_TIME = re.compile(r'"(created|created_at|completed_at)": ?\d+')


@pytest.fixture
def update_golden(request) -> bool:
    return bool(request.config.getoption("--update-golden"))


def normalise(text: str) -> str:
    seen: dict[str, str] = {}
    text = _TIME.sub(lambda m: f'"{m.group(1)}": 0', text)
    return _ID.sub(lambda m: seen.setdefault(m.group(0), f"<id:{len(seen)}>"), text)


def check(path: Path, got: str, update: bool) -> None:
    got = normalise(got)
    if update or not path.exists():
        path.write_bytes(got.encode())
        return
    assert got == path.read_bytes().decode(), f"{path} differs (run pytest --update-golden and review the diff)"


def pair(case: Path):  # type: ignore[no-untyped-def]
    return pair_exchange(case.parent.name)


def options(case: Path) -> dict:
    f = case / "options.json"
    return json.loads(f.read_text()) if f.exists() else {}


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_request(case: Path, update_golden: bool) -> None:
    opts = TranslateOptions(**options(case))
    body = json.loads((case / "client_request.json").read_text())
    got = pair(case).request(body, model="upstream-model", options=opts)
    check(case / "backend_request.json", json.dumps(got, indent=1, sort_keys=True) + "\n", update_golden)
    if opts.dropped or (case / "dropped.json").exists():
        check(case / "dropped.json", json.dumps(opts.dropped) + "\n", update_golden)


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_request_rejects_what_it_would_drop(case: Path) -> None:
    """With the default 'reject' policy every dropped parameter is a 400 naming it instead."""
    opts = {**options(case), "policy": "drop"}
    dropped = TranslateOptions(**opts)
    body = json.loads((case / "client_request.json").read_text())
    pair(case).request(body, model="m", options=dropped)
    if not dropped.dropped:
        return
    with pytest.raises(RequestRejected) as info:
        pair(case).request(body, model="m", options=TranslateOptions(**{**opts, "policy": "reject"}))
    assert info.value.param == dropped.dropped[0]
    assert info.value.status == 400


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_response(case: Path, update_golden: bool) -> None:
    request = json.loads((case / "client_request.json").read_text())
    body = json.loads((case / "backend_response.json").read_text())
    got = pair(case).response(body, model="client-model", request=request)
    check(case / "client_response.json", json.dumps(got, indent=1, sort_keys=True) + "\n", update_golden)


@pytest.mark.parametrize("step", [7, 64, 100000])
@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_stream(case: Path, step: int, update_golden: bool) -> None:
    """The same client stream whatever the read sizes (events split across chunks)."""
    request = json.loads((case / "client_request.json").read_text())
    raw = (case / "backend_stream.sse").read_bytes()
    st = pair(case).stream(model="client-model", request=request)
    out = b"".join(st.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + st.finish()
    check(case / "client_stream.sse", out.decode(), update_golden and step == 7)
    assert st.usage.input_tokens >= 40 and st.usage.output_tokens == 25     # metered from the provider's stream
