"""Static checks of deploy/Dockerfile (no Docker engine needed)."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / "deploy" / "Dockerfile.dockerignore"
SECRETISH = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|_DSN$|PRIVATE)", re.I)
SECRET_VALUES = re.compile(r"(sk-[A-Za-z0-9_-]{16,}|sk-ant-[A-Za-z0-9_-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,}"
                           r"|-----BEGIN [A-Z ]*PRIVATE KEY-----|postgres(ql)?://[^:\s]+:[^@\s]+@)")


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    out: list[Instruction] = []
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if not buf:
            start = number
        if line.endswith("\\"):
            buf.append(line[:-1].strip())
            continue
        buf.append(line)
        joined = " ".join(part for part in buf if part)
        keyword, _, args = joined.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
        buf = []
    assert not buf, "dangling line continuation"
    return out


def _instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text(encoding="utf-8"))


def _stages() -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for ins in _instructions():
        if ins.keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def _from_parts(ins: Instruction) -> tuple[str, str | None]:
    words = [w for w in ins.args.split() if not w.startswith("--")]
    image = words[0]
    alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
    return image, alias


def _exec_form(ins: Instruction) -> list[str]:
    assert ins.args.startswith("["), f"line {ins.line}: use the exec (JSON) form for {ins.keyword}"
    return json.loads(ins.args)


def test_multi_stage_with_pinned_bases() -> None:
    stages = _stages()
    assert len(stages) >= 2, "multi-stage build expected"
    aliases: set[str] = set()
    for stage in stages:
        image, alias = _from_parts(stage[0])
        if image in aliases:
            continue
        assert "$" not in image, f"line {stage[0].line}: base image must be written out, not an ARG"
        name, _, digest = image.partition("@")
        repo_tag = name.rsplit("/", 1)[-1]
        assert ":" in repo_tag or digest, f"line {stage[0].line}: {image} has no tag"
        tag = repo_tag.partition(":")[2]
        assert tag != "latest", f"line {stage[0].line}: {image} uses latest"
        assert re.fullmatch(r"3\.11\.\d+-slim-bookworm", tag), f"unexpected base tag {tag}"
        if alias:
            aliases.add(alias)
    final = stages[-1]
    copies_from = [i for i in final if i.keyword == "COPY" and "--from=" in i.args]
    assert copies_from, "the runtime stage must copy the build result from an earlier stage"
    assert not any(i.keyword == "RUN" and re.search(r"\bpip\b.*\binstall\b", i.args) for i in final), \
        "dependencies are installed in the builder, not the runtime stage"


def test_runtime_user_is_not_root() -> None:
    final = _stages()[-1]
    users = [i for i in final if i.keyword == "USER"]
    assert users, "the runtime stage must set USER"
    user = users[-1].args.split(":")[0]
    assert user not in ("root", "0"), "runtime user is root"
    assert user == "10001"
    assert re.search(r"--uid 10001\b", " ".join(i.args for i in final if i.keyword == "RUN"))
    # Nothing after USER switches back to root.
    after = final[final.index(users[-1]):]
    assert [i for i in after if i.keyword == "USER"] == [users[-1]]


def test_entrypoint_port_and_healthcheck() -> None:
    final = _stages()[-1]
    by_kw = {i.keyword: i for i in final}
    assert _exec_form(by_kw["ENTRYPOINT"]) == ["relaygate", "serve"]
    cmd = _exec_form(by_kw["CMD"])
    assert cmd[cmd.index("--port") + 1] == "8080"
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert "--config" in cmd
    assert "8080" in by_kw["EXPOSE"].args.split()
    healthcheck = by_kw["HEALTHCHECK"].args
    assert " CMD " in f" {healthcheck} " and "/healthz" in DOCKERFILE.read_text(encoding="utf-8")
    assert "/var/lib/relaygate" in " ".join(i.args for i in final if i.keyword == "RUN")


def test_no_secrets_baked_in() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert not SECRET_VALUES.search(text), "credential-looking value in the Dockerfile"
    for ins in _instructions():
        if ins.keyword in ("ENV", "ARG"):
            for word in shlex.split(ins.args):
                name = word.split("=", 1)[0]
                assert not SECRETISH.search(name), f"line {ins.line}: {ins.keyword} {name} bakes a secret"
        if ins.keyword in ("COPY", "ADD"):
            sources = [w for w in ins.args.split() if not w.startswith("--")][:-1]
            for src in sources:
                assert not re.search(r"(^|/)\.env|\.pem$|\.key$|id_rsa|secret", src, re.I), \
                    f"line {ins.line}: copies {src}"


def test_dockerignore_keeps_context_small() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*", "deny by default"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for ins in _instructions():
        if ins.keyword == "COPY" and "--from=" not in ins.args:
            copied.update(w.rstrip("/") for w in ins.args.split()[:-1] if not w.startswith("--"))
    assert copied <= allowed, f"COPY sources excluded from the context: {sorted(copied - allowed)}"
    assert "**/.env" in patterns
