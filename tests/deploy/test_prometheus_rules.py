"""promtool checks for deploy/prometheus: rules syntax, rule unit tests, config.

promtool comes from Debian's ``prometheus`` package. Without it these tests are
skipped on a developer machine and FAIL in CI (CI=true), so a missing install
step cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM_DIR = ROOT / "deploy" / "prometheus"
RULES = PROM_DIR / "rules.yml"
RULES_TEST = PROM_DIR / "rules_test.yml"
CONFIG = PROM_DIR / "prometheus.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool not found on PATH (install Debian's `prometheus` package: apt-get install -y prometheus)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " -- required when CI=true", pytrace=False)
        pytest.skip(message)
    return path


def _run(promtool: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def _assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_check_rules(promtool: str) -> None:
    result = _run(promtool, "check", "rules", str(RULES.relative_to(ROOT)))
    _assert_ok(result)
    assert "SUCCESS" in result.stdout


def test_rules_unit_tests(promtool: str) -> None:
    result = _run(promtool, "test", "rules", str(RULES_TEST.relative_to(ROOT)))
    _assert_ok(result)
    assert "SUCCESS" in result.stdout


def test_rules_unit_tests_can_fail(promtool: str, tmp_path: Path) -> None:
    """A wrong expectation must make `promtool test rules` fail (guards against vacuous tests)."""
    shutil.copy(RULES, tmp_path / RULES.name)
    tests = _load(RULES_TEST)
    firing = next(t for group in tests["tests"] for t in group.get("alert_rule_test", []) if t["exp_alerts"])
    firing["exp_alerts"] = []
    (tmp_path / RULES_TEST.name).write_text(yaml.safe_dump(tests), encoding="utf-8")
    result = _run(promtool, "test", "rules", RULES_TEST.name, cwd=tmp_path)
    assert result.returncode != 0, result.stdout


def _kubernetes_sd_supported(promtool: str, tmp_path: Path) -> bool:
    """Debian's promtool is built without Kubernetes service discovery."""
    probe = tmp_path / "k8s-sd-probe.yml"
    probe.write_text(yaml.safe_dump({"scrape_configs": [
        {"job_name": "probe", "kubernetes_sd_configs": [{"role": "pod"}]}]}), encoding="utf-8")
    result = _run(promtool, "check", "config", str(probe))
    if result.returncode == 0:
        return True
    output = result.stdout + result.stderr
    assert "kubernetes_sd_configs not found" in output, output
    return False


def test_check_config(promtool: str, tmp_path: Path) -> None:
    config = _load(CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert any("static_configs" in job for job in jobs.values()), "static loopback example"
    assert any("kubernetes_sd_configs" in job for job in jobs.values()), "kubernetes_sd pod example"
    assert config.get("rule_files") == [RULES.name]

    if _kubernetes_sd_supported(promtool, tmp_path):
        _assert_ok(_run(promtool, "check", "config", str(CONFIG.relative_to(ROOT))))
        return

    # This promtool cannot parse kubernetes_sd_configs: check everything else as
    # is, and the Kubernetes jobs with their discovery swapped for a static
    # target, so that their relabel rules are still checked by promtool.
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": ["127.0.0.1:8080"]}]
    shutil.copy(RULES, tmp_path / RULES.name)
    stripped = tmp_path / CONFIG.name
    stripped.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    _assert_ok(_run(promtool, "check", "config", str(stripped)))


# --------------------------------------------------------------------------- structure (no promtool)

def _rules() -> list[dict[str, Any]]:
    return [rule for group in _load(RULES)["groups"] for rule in group["rules"]]


def test_alerts_are_labelled_and_documented() -> None:
    alerts = [r for r in _rules() if "alert" in r]
    assert alerts
    for rule in alerts:
        assert rule["alert"].startswith("Relaygate"), rule["alert"]
        assert rule.get("labels", {}).get("severity") in ("critical", "warning", "info"), rule["alert"]
        assert {"summary", "description"} <= set(rule.get("annotations", {})), rule["alert"]
    names = [r["alert"] for r in alerts]
    assert len(names) == len(set(names)), "duplicate alert names"


def test_required_alerts_exist() -> None:
    exprs = {r["alert"]: r["expr"] for r in _rules() if "alert" in r}
    joined = "\n".join(exprs.values())
    for metric in ("relaygate_circuit_state", "relaygate_ledger_lag_seconds",
                   "relaygate_ledger_write_errors_total", "relaygate_config_reloads_total"):
        assert metric in joined, f"no alert on {metric}"
    assert "== 2" in exprs["RelaygateCircuitOpen"]
    for name in ("RelaygateHighErrorRatio", "RelaygateLatencyObjective", "RelaygateTTFTObjective",
                 "RelaygateUpstreamFailures", "RelaygateRateLimitedRatio"):
        assert name in exprs


def test_every_alert_has_firing_and_quiet_cases() -> None:
    alerts = {r["alert"] for r in _rules() if "alert" in r}
    firing: set[str] = set()
    quiet: set[str] = set()
    for group in _load(RULES_TEST)["tests"]:
        for case in group.get("alert_rule_test", []):
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    assert alerts - firing == set(), f"alerts never tested firing: {sorted(alerts - firing)}"
    assert alerts - quiet == set(), f"alerts never tested not firing: {sorted(alerts - quiet)}"
    assert (firing | quiet) <= alerts, f"tests name unknown alerts: {sorted((firing | quiet) - alerts)}"
