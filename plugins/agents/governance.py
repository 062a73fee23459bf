"""Coding-agent governance: attribution, the per-key kill switch, session and developer caps,
the ``anthropic-beta`` policy, and refusals agents stop on.

    authenticate (first)  agent kind from the headers -> ctx.stash[AGENT_KIND] (and CODING_AGENT, which
                          the endpoint policy unsupported_params: agents reads); a disabled key
                          is refused here, before any other plugin accepts it
    validate_request      session id (headers, or the body) -> ctx.stash[AGENT_SESSION_ID]
    admit_request         betas the provider's policy rejects (400); used-up caps (permanent)
    record_usage          tokens and cost per session / developer-day
    request_finished      relaygate_agent_requests_total{agent,surface}

Both keys are core vocabulary (:mod:`proxy.context`): every usage record carries them as
``agent`` and ``session_id``, which the ledger writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plugins.anthropic import betas
from plugins.agents.config import AgentsConfig
from plugins.agents.detect import CODING_AGENTS, agent_kind, session_id
from plugins.agents.errors import agent_error_mapper
from plugins.agents.sessions import AgentLimiter
from plugins.auth.keys import digest, presented_digests
from plugins.metrics.prometheus import METRICS
from proxy import hookimpl
from proxy.context import AGENT_KIND, AGENT_SESSION_ID, CODING_AGENT
from proxy.errors import AuthenticationFailed, RequestRejected
from proxy.pipeline import ERROR_MAPPERS
from proxy.stash import StashKey

if TYPE_CHECKING:
    from proxy.context import Principal, RequestContext, Route, UsageRecord
    from proxy.gateway import Gateway
    from proxy.sections import Spec
    from proxy.surfaces import RouteTable


class AgentState:
    def __init__(self) -> None:
        self.disabled: dict[str, str] = {}              # key digest -> key name
        self.limiter: AgentLimiter | None = None
        self.betas: dict[str, betas.BetaPolicy] = {}    # provider name -> policy


#: kept across reloads: sessions keep what they used so far
AGENT_STATE: StashKey[AgentState] = StashKey("agents.state")


def _state(gateway: Gateway) -> AgentState:
    state = gateway.stash.get(AGENT_STATE)
    if state is None:
        state = gateway.stash[AGENT_STATE] = AgentState()
    return state


@hookimpl
def relaygate_config_sections() -> dict[str, Spec]:
    return {"agents": AgentsConfig}


@hookimpl
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    mappers = gateway.stash.setdefault(ERROR_MAPPERS, [])
    if agent_error_mapper not in mappers:
        mappers.append(agent_error_mapper)
    _state(gateway)


@hookimpl
def relaygate_config_loaded(gateway: Gateway) -> None:
    settings = gateway.settings
    state = _state(gateway)
    state.disabled = {
        (k.key_sha256.lower() if k.key_sha256 else digest(k.key.get_secret_value())): k.name  # type: ignore[union-attr]
        for k in settings.keys if k.disabled}
    state.betas = {name: betas.policy_of(cfg.options, name) for name, cfg in settings.providers.items()}
    config = settings.section(AgentsConfig)
    if state.limiter is None:
        state.limiter = AgentLimiter(config)
    else:                                   # a reload keeps what sessions have used so far
        state.limiter.rules = list(config.limits)
        state.limiter.idle = config.session_idle_seconds


@hookimpl(tryfirst=True)
def relaygate_authenticate(ctx: RequestContext) -> Principal | None:
    headers = ctx.request.headers
    kind = ctx.stash[AGENT_KIND] = agent_kind(headers)
    ctx.stash[CODING_AGENT] = kind in CODING_AGENTS
    state = ctx.gateway.stash.get(AGENT_STATE)
    if state is not None and state.disabled:
        for key_digest in presented_digests(ctx):
            name = state.disabled.get(key_digest)
            if name is not None:
                raise AuthenticationFailed(
                    f"Relaygate: the gateway key {name!r} has been disabled by an administrator "
                    "(kill switch). Ask them to re-enable it or to issue a new key.")
    return None


@hookimpl
def relaygate_validate_request(ctx: RequestContext) -> None:
    key_id = ctx.principal.key_id if ctx.principal else ""
    found = session_id(ctx.stash.get(AGENT_KIND, "other"), ctx.request.headers, ctx.body, key_id)
    if found:
        ctx.stash[AGENT_SESSION_ID] = found


@hookimpl
def relaygate_admit_request(ctx: RequestContext, route: Route) -> None:
    state = ctx.gateway.stash.get(AGENT_STATE)
    if state is None:
        return
    if route.provider_api.startswith("anthropic."):
        policy = state.betas.get(route.provider.name, betas.FORWARD_ALL)
        beta = betas.rejected_beta(policy, ctx.request.headers.getall("anthropic-beta", []))
        if beta is not None:
            raise RequestRejected(
                f"Relaygate: the anthropic-beta {beta!r} is not allowed for provider {route.provider.name!r} "
                f"(endpoint {route.endpoint.name!r}) by the gateway's policy. Turn the feature off in your "
                "client, or ask the administrator to strip it instead.", param="anthropic-beta")
    if state.limiter and ctx.principal is not None:
        state.limiter.check(ctx.principal.owner, ctx.stash.get(AGENT_KIND, "other"),
                            ctx.stash.get(AGENT_SESSION_ID, ""))


@hookimpl
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> None:
    state = ctx.gateway.stash.get(AGENT_STATE)
    if state is None or not state.limiter or ctx.principal is None:
        return
    usage = record.usage
    tokens = usage.total_tokens or usage.input_tokens + usage.output_tokens
    state.limiter.add(ctx.principal.owner, ctx.stash.get(AGENT_KIND, "other"),
                      ctx.stash.get(AGENT_SESSION_ID, ""), tokens, record.cost_usd or 0.0)


@hookimpl
def relaygate_request_finished(ctx: RequestContext) -> None:
    agent = ctx.stash.get(AGENT_KIND)
    rm = ctx.gateway.stash.get(METRICS)
    if agent and rm is not None:
        rm.inc(rm.m.agent_requests, (agent, ctx.surface))
