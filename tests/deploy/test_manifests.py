"""Offline validation of the Kubernetes examples under deploy/kubernetes.

Every YAML document is validated against the Kubernetes JSON schemas shipped by
the ``kubernetes-validate`` package (strict: unknown fields are errors), then the
operational and security properties the examples promise are asserted.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

try:
    import kubernetes_validate
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI", "").lower() == "true":
        raise  # CI must have the test extra installed: fail, never skip
    pytest.skip("kubernetes-validate is not installed (pip install '.[test]')", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` from a checkout without `pip install .`
    sys.path.insert(0, str(ROOT))

from proxy.config import parse_settings  # noqa: E402
K8S_DIR = ROOT / "deploy" / "kubernetes"
SIDECAR_DIR = K8S_DIR / "sidecar"
STANDALONE_DIR = K8S_DIR / "standalone"

#: Native sidecars (restartable init containers) are on by default from 1.29 and
#: GA in 1.33; validate against the oldest schema set we ship for and the newest.
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
DEFAULT_DRAIN_TIMEOUT = 30
DEFAULT_SHUTDOWN_DELAY = 5
CUT_AND_FLUSH_SECONDS = 5          # the cut's grace (2 s) and the ledger flush
SECRET_ENV = re.compile(r"(API_KEY|_KEY_|_KEY$|TOKEN|PASSWORD|_DSN$|REDIS_URL)")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _docs_in(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def _manifest_files() -> list[Path]:
    return sorted(p for p in K8S_DIR.rglob("*") if p.suffix in (".yaml", ".yml"))


def _all_documents() -> list[tuple[str, int, dict[str, Any]]]:
    out = []
    for path in _manifest_files():
        for i, doc in enumerate(_docs_in(path)):
            out.append((str(path.relative_to(ROOT)), i, doc))
    return out


def _dir_docs(directory: Path) -> list[dict[str, Any]]:
    return [doc for path in sorted(directory.glob("*.y*ml")) for doc in _docs_in(path)]


def _by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def _one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in _by_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected exactly one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _all_containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod.get("initContainers", [])
    yield from pod.get("containers", [])


def _relaygate_container(pod: dict[str, Any]) -> dict[str, Any]:
    found = [c for c in _all_containers(pod) if "relaygate" in c["image"].split("/")[-1]]
    assert len(found) == 1, "exactly one Relaygate container per pod"
    return found[0]


def _prestop_seconds(container: dict[str, Any]) -> int:
    pre_stop = container.get("lifecycle", {}).get("preStop")
    if not pre_stop:
        return 0
    if "sleep" in pre_stop:
        return int(pre_stop["sleep"]["seconds"])
    command = pre_stop.get("exec", {}).get("command", [])
    if command and Path(command[0]).name == "sleep":
        return int(command[1])
    return 0


def _config_text(docs: list[dict[str, Any]], pod: dict[str, Any], container: dict[str, Any]) -> str:
    """The config file the container is started with, from the ConfigMap mounted at its directory."""
    args = container.get("args", [])
    config_path = Path(args[args.index("--config") + 1])
    mount = next(m for m in container["volumeMounts"] if config_path.is_relative_to(m["mountPath"]))
    assert "subPath" not in mount, "mount the directory so ConfigMap updates reach the running gateway"
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    configmap = _one(docs, "ConfigMap", volume["configMap"]["name"])
    return configmap["data"][str(config_path.relative_to(mount["mountPath"]))]


def _drain_timeout(docs: list[dict[str, Any]], pod: dict[str, Any], container: dict[str, Any]) -> float:
    config = yaml.safe_load(_config_text(docs, pod, container))
    assert isinstance(config, dict)
    return float((config.get("server") or {}).get("drain_timeout_seconds", DEFAULT_DRAIN_TIMEOUT))


def _shutdown_delay(docs: list[dict[str, Any]], pod: dict[str, Any], container: dict[str, Any]) -> float:
    config = yaml.safe_load(_config_text(docs, pod, container))
    server = config.get("server") or {}
    return float(server.get("shutdown_delay_seconds", server.get("drain_delay_seconds", DEFAULT_SHUTDOWN_DELAY)))


def _container_env(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The container's environment with Secret references resolved to the (placeholder) values."""
    secrets = {s["metadata"]["name"]: {**s.get("data", {}), **s.get("stringData", {})}
               for s in _by_kind(docs, "Secret")}
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"]][ref["key"]]
        # the downward API (fieldRef: the pod's name, namespace, host IP) is known only in the pod
    return env


def _arg(container: dict[str, Any], flag: str) -> str:
    args = container.get("args", [])
    assert flag in args, f"{container['name']}: {flag} not passed"
    return args[args.index(flag) + 1]


def _port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return int(p["containerPort"])
    raise AssertionError(f"{container['name']}: probe port {port!r} is not a declared container port")


def _deployments() -> list[tuple[Path, dict[str, Any]]]:
    return [(d, dep) for d in (SIDECAR_DIR, STANDALONE_DIR) for dep in _by_kind(_dir_docs(d), "Deployment")]


# --------------------------------------------------------------------------- schemas

def test_manifests_exist() -> None:
    kinds = {doc["kind"] for _, _, doc in _all_documents()}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "ConfigMap", "Secret"} <= kinds
    assert _by_kind(_dir_docs(SIDECAR_DIR), "Deployment")
    assert _by_kind(_dir_docs(STANDALONE_DIR), "Deployment")


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(("path", "index", "doc"), _all_documents(),
                         ids=[f"{p}#{i}" for p, i, _ in _all_documents()])
def test_manifest_matches_kubernetes_schema(path: str, index: int, doc: dict[str, Any], version: str) -> None:
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:  # pragma: no cover - failure path
        pytest.fail(f"{path} document {index} ({doc.get('kind')}) is invalid for Kubernetes {version}: "
                    f"{exc.message} at {'.'.join(map(str, exc.path))}")


def test_schema_validation_is_not_vacuous() -> None:
    """The validator must reject unknown fields and wrong types, or the test above proves nothing."""
    _, _, deployment = next(d for d in _all_documents() if d[2]["kind"] == "Deployment")
    typo = yaml.safe_load(yaml.safe_dump(deployment))
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSIONS[-1], strict=True)
    wrong_type = yaml.safe_load(yaml.safe_dump(deployment))
    wrong_type["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "sixty"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, K8S_VERSIONS[-1], strict=True)


# --------------------------------------------------------------------------- security

@pytest.mark.parametrize(("directory", "deployment"), _deployments(),
                         ids=[f"{d.name}/{dep['metadata']['name']}" for d, dep in _deployments()])
def test_pod_security(directory: Path, deployment: dict[str, Any]) -> None:
    pod = deployment["spec"]["template"]["spec"]
    pod_sc = pod.get("securityContext", {})
    assert pod.get("automountServiceAccountToken") is False
    for c in _all_containers(pod):
        sc = c.get("securityContext", {})
        name = c["name"]
        assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, f"{name}: runAsNonRoot"
        assert sc.get("runAsUser", pod_sc.get("runAsUser", 10001)) != 0, f"{name}: runs as root"
        assert sc.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem"
        assert sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation"
        assert sc.get("privileged", False) is False, f"{name}: privileged"
        assert "ALL" in sc.get("capabilities", {}).get("drop", []), f"{name}: capabilities drop ALL"
        assert not sc.get("capabilities", {}).get("add"), f"{name}: adds capabilities"
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
        assert seccomp.get("type") == "RuntimeDefault", f"{name}: seccompProfile RuntimeDefault"
        image = c["image"]
        assert ":" in image.split("/")[-1] and not image.endswith(":latest"), f"{name}: image tag not pinned"
        assert c.get("resources", {}).get("requests"), f"{name}: resource requests"
        assert c.get("resources", {}).get("limits", {}).get("memory"), f"{name}: memory limit"

    gateway = _relaygate_container(pod)
    assert gateway["securityContext"].get("runAsUser", pod_sc.get("runAsUser")) == 10001
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in gateway["volumeMounts"]}
    for writable in ("/tmp", "/var/lib/relaygate"):
        assert writable in mounts, f"Relaygate needs a writable {writable}"
        assert "emptyDir" in volumes[mounts[writable]["name"]], f"{writable} must be an emptyDir"
        assert not mounts[writable].get("readOnly", False)
    config_mount = mounts["/etc/relaygate"]
    assert config_mount.get("readOnly") is True
    assert "configMap" in volumes[config_mount["name"]]


@pytest.mark.parametrize(("directory", "deployment"), _deployments(),
                         ids=[f"{d.name}/{dep['metadata']['name']}" for d, dep in _deployments()])
def test_secrets_come_from_secret(directory: Path, deployment: dict[str, Any]) -> None:
    docs = _dir_docs(directory)
    secrets = {s["metadata"]["name"]: s for s in _by_kind(docs, "Secret")}
    pod = deployment["spec"]["template"]["spec"]
    gateway = _relaygate_container(pod)
    env_names = {e["name"] for e in gateway.get("env", [])}
    assert {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"} <= env_names
    # Every ${VAR} without a default in the config must be set, or the gateway exits at start.
    needed = {m.group(1) for m in ENV_REF.finditer(_config_text(docs, pod, gateway)) if m.group(2) is None}
    assert needed <= env_names, f"config references unset variables: {sorted(needed - env_names)}"
    for c in _all_containers(pod):
        for env in c.get("env", []):
            if SECRET_ENV.search(env["name"]):
                assert "value" not in env, f"{c['name']}: {env['name']} must come from a Secret"
                ref = env["valueFrom"]["secretKeyRef"]
                assert ref["name"] in secrets, f"{env['name']}: Secret {ref['name']} not in {directory.name}/"
                secret = secrets[ref["name"]]
                keys = {**secret.get("data", {}), **secret.get("stringData", {})}
                assert ref["key"] in keys, f"{env['name']}: key {ref['key']} missing from Secret"
    for secret in secrets.values():
        for key, value in secret.get("stringData", {}).items():
            assert "replace-me" in value, f"Secret {secret['metadata']['name']}.{key} must be a placeholder"


@pytest.mark.parametrize(("directory", "deployment"), _deployments(),
                         ids=[f"{d.name}/{dep['metadata']['name']}" for d, dep in _deployments()])
def test_config_is_valid_for_the_gateway(directory: Path, deployment: dict[str, Any]) -> None:
    """The ConfigMap's config loads with proxy.config, in the container's environment."""
    docs = _dir_docs(directory)
    pod = deployment["spec"]["template"]["spec"]
    gateway = _relaygate_container(pod)
    settings = parse_settings(_config_text(docs, pod, gateway), source=f"{directory.name}/configmap.yaml",
                              env=_container_env(docs, gateway))
    assert settings.providers and settings.endpoints
    assert settings.keys, "no gateway keys: every request would get 401"
    if directory == STANDALONE_DIR:
        assert settings.storage.ledger.backend == "postgres"
        assert settings.storage.ledger.postgres_dsn is not None
        assert settings.limits.backend == "redis"
    else:
        assert settings.storage.ledger.backend == "sqlite"
        assert settings.storage.ledger.path.startswith("/var/lib/relaygate/")


# --------------------------------------------------------------------------- lifecycle

@pytest.mark.parametrize(("directory", "deployment"), _deployments(),
                         ids=[f"{d.name}/{dep['metadata']['name']}" for d, dep in _deployments()])
def test_probes_and_graceful_shutdown(directory: Path, deployment: dict[str, Any]) -> None:
    docs = _dir_docs(directory)
    pod = deployment["spec"]["template"]["spec"]
    gateway = _relaygate_container(pod)
    port = int(_arg(gateway, "--port"))
    assert _arg(gateway, "--host") == "0.0.0.0", "the kubelet probes the pod IP"

    probes = {kind: gateway[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["startupProbe"]["path"] in ("/healthz", "/readyz")
    for kind, probe in probes.items():
        assert _port_number(gateway, probe["port"]) == port, f"{kind} probes the wrong port"

    # Endpoint removal takes a few seconds after SIGTERM: the gateway keeps accepting (not ready) for
    # server.shutdown_delay_seconds itself (formerly a preStop sleep, which either may still do).
    delay = _shutdown_delay(docs, pod, gateway)
    assert delay + _prestop_seconds(gateway) >= 3, "the gateway must keep serving while endpoints drop the pod"

    drain = _drain_timeout(docs, pod, gateway)
    grace = pod["terminationGracePeriodSeconds"]
    prestops = sum(_prestop_seconds(c) for c in _all_containers(pod))
    assert grace > delay + drain + prestops + CUT_AND_FLUSH_SECONDS, (
        f"terminationGracePeriodSeconds {grace} must exceed the shutdown delay {delay}s + drain {drain}s + "
        f"preStop sleeps {prestops}s + {CUT_AND_FLUSH_SECONDS}s to cut and flush")

    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/scrape") == "true"
    assert int(annotations["prometheus.io/port"]) == port
    assert annotations.get("prometheus.io/path") == "/metrics"


def test_sidecar_is_native() -> None:
    docs = _dir_docs(SIDECAR_DIR)
    pod = _one(docs, "Deployment")["spec"]["template"]["spec"]
    init_names = [c["name"] for c in pod.get("initContainers", [])]
    gateway = _relaygate_container(pod)
    assert gateway["name"] in init_names, "Relaygate must be an initContainers entry"
    assert gateway.get("restartPolicy") == "Always", "native sidecar needs restartPolicy: Always"
    assert all("relaygate" not in c["image"] for c in pod["containers"])
    # The app reaches the sidecar on localhost, at the port it serves on.
    port = _arg(gateway, "--port")
    app_env = {e["name"]: e.get("value", "") for c in pod["containers"] for e in c.get("env", [])}
    assert any(f"localhost:{port}" in v or f"127.0.0.1:{port}" in v for v in app_env.values())
    # The startup probe gates the app's start: it must check readiness.
    assert gateway["startupProbe"]["httpGet"]["path"] == "/readyz"


def test_standalone_shared_gateway() -> None:
    docs = _dir_docs(STANDALONE_DIR)
    deployment = _one(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    pod = deployment["spec"]["template"]["spec"]
    gateway = _relaygate_container(pod)

    env = {e["name"]: e for e in gateway["env"]}
    for name in ("RELAYGATE_REDIS_URL", "RELAYGATE_POSTGRES_DSN"):
        assert "secretKeyRef" in env[name]["valueFrom"], f"{name} must come from the Secret"

    hpa = _one(docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"

    pdb = _one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert ("maxUnavailable" in pdb["spec"]) != ("minAvailable" in pdb["spec"])

    service = _one(docs, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    for port in service["spec"]["ports"]:
        assert _port_number(gateway, port["targetPort"]) == int(_arg(gateway, "--port"))


def test_standalone_exports_traces_to_a_collector_service() -> None:
    """The standard OTEL_* variables turn tracing on, with names Kubernetes can expand."""
    from plugins.tracing.config import HTTP, TelemetryConfig, resolve

    gateway = _relaygate_container(_one(_dir_docs(STANDALONE_DIR), "Deployment")["spec"]["template"]["spec"])
    names = [e["name"] for e in gateway["env"]]
    env = {e["name"]: e.get("value", "") for e in gateway["env"]}
    plan = resolve(TelemetryConfig(), env)
    assert plan.traces and plan.traces_protocol == HTTP
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(".svc.cluster.local:4318")
    assert env["OTEL_SERVICE_NAME"] == "relaygate"
    for name, value in env.items():            # $(VAR) expands only variables defined earlier in the list
        for ref in re.findall(r"\$\((\w+)\)", value):
            assert ref in names[:names.index(name)], f"{name} uses $({ref}) before it is defined"
