"""The config file as text: YAML, ``${VAR}`` references, and the line of each wrong field.

``${VAR}`` and ``${VAR:-default}`` anywhere in the file are replaced from the
environment, so credentials stay out of the file. A bad file fails with
:class:`ConfigError`, whose message names each wrong field and its line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

if TYPE_CHECKING:
    import yaml

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The configuration is invalid; the message says where and why."""


def read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None


def read_yaml(text: str, source: str) -> tuple[dict[str, Any], yaml.Node | None]:
    """The top-level mapping of *text*, and its node tree (for the lines of errors)."""
    import yaml             # here: a zero-config start reads no file (PyYAML is ~1.4 MB and ~20 ms)

    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML in {source}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"invalid configuration in {source}: the top level must be a mapping")
    return data, root


def expand_env(value: Any, env: dict[str, str]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of *value*."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env and env[name] != "":
                return env[name]
            if default is not None:
                return default
            raise ConfigError(f"environment variable {name} is not set (referenced as ${{{name}}})")
        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    return value


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at *loc*, or of its nearest parent."""
    if node is None:
        return None
    import yaml

    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        else:
            child = None
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def format_validation_error(err: ValidationError, source: str, root: yaml.Node | None) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        where = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(root, loc)
        at = f" (line {line})" if line else ""
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}{at}: {msg}")
    return "\n".join(lines)
