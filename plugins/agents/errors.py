"""Refusals a coding agent stops on, instead of retrying for minutes.

tests/fixtures/clients/results/error_matrix.txt: Claude Code retries 401, 429 and 500 with growing
backoff (a wrong or revoked key looks like a hang), Gemini CLI and opencode retry 429 and
5xx. Run against the real CLIs (tests/plugins/agents/test_agent_cli_e2e.py), a 403 stops
Claude Code, Gemini CLI and opencode at once with the message shown, while Codex 0.169
retries a 403 five times and stops at once only on 400. So for a request from a coding
agent, a *permanent* refusal is answered with :data:`DEFAULT_REFUSAL_STATUS` (or what
``agents.refusal_status`` names for that agent kind) in the surface's own error shape:

* no valid, a revoked, an expired or a disabled key (401 otherwise);
* a session or daily cap used up, or a limit whose Retry-After is longer than
  ``agents.retry_after_threshold_seconds`` (a budget that resets tomorrow);

A limit that resets soon stays 429 with Retry-After: waiting is the right reaction.
Requests from SDKs and other clients are left as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plugins.agents.config import AgentsConfig
from plugins.agents.detect import CODING_AGENTS
from proxy.context import AGENT_KIND
from proxy.errors import AuthenticationFailed, GatewayError, LimitExceeded

if TYPE_CHECKING:
    from proxy.context import RequestContext

DEFAULT_REFUSAL_STATUS: dict[str, int] = {"claude_code": 403, "codex": 400, "gemini_cli": 403, "opencode": 403}


def is_permanent(err: GatewayError, threshold_seconds: float) -> bool:
    if isinstance(err, AuthenticationFailed):
        return True
    if isinstance(err, LimitExceeded):
        return bool(getattr(err, "permanent", False)) or err.retry_after > threshold_seconds
    return False


def refusal_for_agent(agent: str, err: GatewayError, config: AgentsConfig) -> GatewayError:
    """*err* as the agent should see it: the same message, with a status it does not retry."""
    if agent not in CODING_AGENTS or not is_permanent(err, config.retry_after_threshold_seconds):
        return err
    status = config.refusal_status.get(agent) or DEFAULT_REFUSAL_STATUS[agent]
    if status == err.status:
        return err
    out = GatewayError(err.message, param=err.param, status=status, type="permission_error")
    out.reason = getattr(err, "reason", err.type)        # type: ignore[attr-defined]  # for logs/metrics
    out.permanent = True                                 # type: ignore[attr-defined]
    return out


def agent_error_mapper(ctx: RequestContext, err: GatewayError) -> GatewayError:
    """Registered in ``gateway.stash[proxy.pipeline.ERROR_MAPPERS]`` (see plugins/agents/governance)."""
    agent = ctx.stash.get(AGENT_KIND)
    if not agent:
        return err
    return refusal_for_agent(agent, err, ctx.gateway.settings.section(AgentsConfig))
