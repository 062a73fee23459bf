"""``relaygate agent-env claude|codex|gemini|opencode``: the set-up a developer pastes into a shell.

What each agent needs is in tests/fixtures/clients/README.md (captured from the real CLIs):
base URL variables, how the key travels, the config files Codex and Gemini CLI insist on, and the
switches that keep their telemetry and update checks off. The output is a shell snippet:
``export`` lines, plus a heredoc writing the agent's config file where it needs one.
``--part config`` prints only that file (to merge into an existing one), ``--part env``
only the exports.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass, field

from plugins.mcp.agent_config import render_mcp
from proxy import hookimpl

AGENTS = ("claude", "codex", "gemini", "opencode")
KEY_PLACEHOLDER = "<your-relaygate-key>"
KEY_ENV = "RELAYGATE_API_KEY"
#: opencode flavour -> (AI SDK package, surface path, default model)
OPENCODE_FLAVOURS: dict[str, tuple[str, str, str]] = {
    "anthropic": ("@ai-sdk/anthropic", "/anthropic/v1", "claude-sonnet-4-6"),
    "openai": ("@ai-sdk/openai", "/openai/v1", "gpt-5.5"),
    "google": ("@ai-sdk/google", "/gemini/v1beta", "gemini-2.5-flash"),
    "openai-compatible": ("@ai-sdk/openai-compatible", "/mlflow/v1", "gpt-4o-mini"),
}


@dataclass
class AgentSetup:
    agent: str
    env: dict[str, str] = field(default_factory=dict)
    config_path: str = ""            # where the config file goes ("" = none)
    config_text: str = ""
    notes: list[str] = field(default_factory=list)
    run: str = ""                    # an example command


def _toml_str(value: str) -> str:
    return json.dumps(value)          # a JSON string is a valid TOML basic string


def claude(url: str, key: str, model: str | None) -> AgentSetup:
    s = AgentSetup("claude", run='claude -p "hello"')
    s.env = {"ANTHROPIC_BASE_URL": f"{url}/anthropic", "ANTHROPIC_AUTH_TOKEN": key,
             "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1",
             "DISABLE_ERROR_REPORTING": "1", "DISABLE_AUTOUPDATER": "1"}
    if model:
        s.env["ANTHROPIC_MODEL"] = model
    s.notes.append("Claude Code asks for claude-* models (default claude-opus-5-5); the gateway's "
                   "aliases decide which endpoint serves them.")
    return s


def codex(url: str, key: str, model: str | None) -> AgentSetup:
    s = AgentSetup("codex", config_path="${CODEX_HOME:-$HOME/.codex}/config.toml",
                   run='codex exec --skip-git-repo-check "hello" </dev/null')
    s.env = {KEY_ENV: key}
    s.config_text = "\n".join([
        f"model = {_toml_str(model or 'gpt-5.5')}",
        'model_provider = "relaygate"',
        "check_for_update_on_startup = false",
        "",
        "[model_providers.relaygate]",
        'name = "Relaygate"',
        f"base_url = {_toml_str(url + '/openai/v1')}",
        f"env_key = {_toml_str(KEY_ENV)}",
        'wire_api = "responses"',
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[feedback]",
        "enabled = false",
        ""])
    s.notes.append("Use a model slug Codex knows (codex debug models), e.g. gpt-5.5; unknown slugs "
                   "change the tools it sends.")
    return s


def gemini(url: str, key: str, model: str | None) -> AgentSetup:
    s = AgentSetup("gemini", config_path="$HOME/.gemini/settings.json", run='gemini -p "hello"')
    s.env = {"GOOGLE_GEMINI_BASE_URL": f"{url}/gemini", "GEMINI_API_KEY": key,
             "GEMINI_API_KEY_AUTH_MECHANISM": "bearer"}
    if model:
        s.env["GEMINI_MODEL"] = model
    settings = {"general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
                "privacy": {"usageStatisticsEnabled": False}, "telemetry": {"enabled": False},
                "security": {"auth": {"selectedType": "gemini-api-key"}}}
    s.config_text = json.dumps(settings, indent=2) + "\n"
    s.notes.append("security.auth.selectedType is required with a base URL (else: 'Invalid auth method "
                   "selected.'). For non-interactive --yolo runs also export GEMINI_CLI_TRUST_WORKSPACE=true.")
    return s


def opencode(url: str, key: str, model: str | None, flavour: str = "anthropic") -> AgentSetup:
    package, path, default_model = OPENCODE_FLAVOURS[flavour]
    model = model or default_model
    config = {"provider": {"relaygate": {"npm": package, "name": "Relaygate",
                                         "options": {"baseURL": url + path, "apiKey": key},
                                         "models": {model: {}}}},
              "model": f"relaygate/{model}", "autoupdate": False, "share": "disabled"}
    s = AgentSetup("opencode", run=f'opencode run -m relaygate/{model} "hello"')
    s.env = {"OPENCODE_CONFIG_CONTENT": json.dumps(config, separators=(",", ":")),
             "OPENCODE_DISABLE_MODELS_FETCH": "1", "OPENCODE_DISABLE_AUTOUPDATE": "1",
             "OPENCODE_DISABLE_SHARE": "1"}
    s.notes.append(f"--via picks the wire format: {', '.join(OPENCODE_FLAVOURS)} (this one: {flavour}).")
    return s


def claude_sso(url: str, model: str | None, helper: str) -> AgentSetup:
    """Claude Code with a single sign-on token: its ``apiKeyHelper`` runs ``relaygate token`` whenever
    the token's TTL is up, so a long session keeps working past one token's lifetime."""
    s = claude(url, "", model)
    del s.env["ANTHROPIC_AUTH_TOKEN"]
    s.env["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"] = str(5 * 60 * 1000)
    s.config_path = "$HOME/.claude/settings.json"
    s.config_text = json.dumps({"apiKeyHelper": f"{helper} token"}, indent=2) + "\n"
    s.notes.append("apiKeyHelper prints your single sign-on token (relaygate login first); Claude Code sends it "
                   "as x-api-key and Authorization: Bearer and asks again every 5 minutes.")
    return s


def setup_for(agent: str, url: str, key: str, model: str | None = None, via: str = "anthropic") -> AgentSetup:
    url = url.rstrip("/")
    if agent == "opencode":
        return opencode(url, key, model, via)
    return {"claude": claude, "codex": codex, "gemini": gemini}[agent](url, key, model)


def render_env(s: AgentSetup) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in s.env.items())


def render(s: AgentSetup, part: str = "all") -> str:
    if part == "env":
        return render_env(s)
    if part == "config":
        return s.config_text
    out = [f"# Relaygate set-up for {s.agent}: paste into your shell (or your shell profile).\n"]
    out += [f"# {n}\n" for n in s.notes]
    if s.config_path:
        folder = s.config_path.rsplit("/", 1)[0]
        out.append(f"# Writes {s.config_path} (merge by hand if you already have one):\n")
        out.append(f'mkdir -p "{folder}" && cat > "{s.config_path}" <<\'RELAYGATE_EOF\'\n')
        out.append(s.config_text if s.config_text.endswith("\n") else s.config_text + "\n")
        out.append("RELAYGATE_EOF\n")
    out.append(render_env(s))
    if s.run:
        out.append(f"# then: {s.run}\n")
    return "".join(out)


def cmd_agent_env(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get("RELAYGATE_URL") or "http://127.0.0.1:8080"
    if args.sso:
        from plugins.sso.login_cli import LoginError, current_token

        if args.agent == "claude":
            # the relaygate being run now (a venv's may not be on the agent's PATH), else the PATH's
            me = os.path.abspath(sys.argv[0])
            helper = me if os.path.basename(me) == "relaygate" else shutil.which("relaygate") or "relaygate"
            sys.stdout.write(render(claude_sso(url.rstrip("/"), args.model, shlex.quote(helper)), args.part))
            return 0
        try:                  # no token helper in this agent: today's token, valid until it expires
            key = current_token()
        except LoginError as exc:
            print(f"relaygate agent-env: {exc}", file=sys.stderr)
            return 1
        print("note: this agent has no token helper: the token expires; run agent-env again then",
              file=sys.stderr)
        sys.stdout.write(render(setup_for(args.agent, url, key, args.model, args.via), args.part))
        return 0
    key = args.key or os.environ.get(KEY_ENV) or KEY_PLACEHOLDER
    if key == KEY_PLACEHOLDER and args.part not in ("config", "mcp"):
        print(f"note: no --key (or ${KEY_ENV}); the output holds the placeholder {KEY_PLACEHOLDER}",
              file=sys.stderr)
    if args.part == "mcp":
        sys.stdout.write(render_mcp(args.agent, url, args.mcp_server or []))
        return 0
    sys.stdout.write(render(setup_for(args.agent, url, key, args.model, args.via), args.part))
    if args.mcp or args.mcp_server:
        sys.stdout.write(_commented(render_mcp(args.agent, url, args.mcp_server or [])))
    return 0


def _commented(text: str) -> str:
    """The MCP entry inside a shell snippet: as comments, since it merges into the agent's own file."""
    return "".join(line if line.startswith("#") else f"#   {line}" for line in text.splitlines(keepends=True))


@hookimpl
def relaygate_add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``relaygate agent-env ...``."""
    p = commands.add_parser("agent-env", help="print the environment/config a coding agent needs to use the gateway")
    p.add_argument("agent", choices=AGENTS)
    p.add_argument("--url", help="the gateway's base URL (default: $RELAYGATE_URL or http://127.0.0.1:8080)")
    p.add_argument("--key", help=f"your gateway key (default: ${KEY_ENV})")
    p.add_argument("--sso", action="store_true",
                   help="use your single sign-on token (relaygate login) instead of a key; Claude Code refreshes "
                        "it through apiKeyHelper")
    p.add_argument("--model", help="the model name the agent should ask for (default: the agent's own)")
    p.add_argument("--via", choices=tuple(OPENCODE_FLAVOURS), default="anthropic",
                   help="opencode only: which wire format to use (default anthropic)")
    p.add_argument("--part", choices=("all", "env", "config", "mcp"), default="all",
                   help="print everything (default), only the exports, only the config file, or only the MCP entry")
    p.add_argument("--mcp", action="store_true", help="also print the MCP server entry for the gateway's /mcp")
    p.add_argument("--mcp-server", action="append", metavar="NAME",
                   help="an entry per MCP server at /mcp/NAME instead of the aggregated /mcp (repeatable)")
    p.set_defaults(func=cmd_agent_env)
