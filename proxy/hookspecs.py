"""Hook stages of the gateway, in call order.

Declarations, before anything runs (plain functions, no I/O)::

    relaygate_add_commands               while the command line is built
    relaygate_config_sections, relaygate_endpoint_fields
                                         while a configuration is validated

Start-up (once per app, plain functions; they receive a registry to add to)::

    relaygate_register_apis -> relaygate_register_providers
    -> relaygate_register_exchanges -> relaygate_register_routes
    -> relaygate_startup ... relaygate_shutdown

One request (see :mod:`proxy.pipeline`, which calls them)::

    authenticate -> validate_request -> select_route -> admit_request
    -> answer_request (a stored answer ends the request here)
    -> prepare_upstream_body -> attempt_started -> (provider call, streamed; no hook per chunk)
    -> record_usage -> request_finished

(``attempt_started`` and ``record_usage`` once per provider attempt: retries
and fallbacks repeat them.)

pluggy is synchronous. Stages marked **decision** are ``firstresult`` hooks and
must be plain ``def`` without I/O: pluggy would take a coroutine object as an
answer. Stages marked **may be async** are collect-all hooks: an
implementation returns a value, None, or an awaitable, and
:mod:`proxy.hooks` awaits them in call order ("await me maybe").
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from proxy import hookspec

if TYPE_CHECKING:
    import argparse

    from proxy.apis import ApiRegistry
    from proxy.config import Settings
    from proxy.answers import StoredAnswer
    from proxy.context import Principal, RequestContext, Route, UsageRecord
    from proxy.exchange import ExchangeRegistry
    from proxy.gateway import Gateway
    from proxy.providers import ProviderRegistry
    from proxy.sections import Spec
    from proxy.surfaces import RouteTable
    from proxy.upstream import Attempt

# -- command line and configuration ---------------------------------------------


@hookspec
def relaygate_add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add sub-commands to the ``relaygate`` command line. Plain function.

    *commands* is the parser's sub-parsers object: ``p = commands.add_parser("usage",
    help=...)``, then ``p.add_argument(...)`` and ``p.set_defaults(func=run)``, where
    ``run(args)`` returns the exit status. A name another plugin (or the core: serve,
    check-config) already took is an error.

    Called while the parser is built, before the arguments are read, so only built-in
    plugins and those installed under the ``relaygate`` entry-point group add
    commands; the config's ``plugins:`` list is not known yet. A command that needs
    the configuration takes ``--config`` and loads it with
    :func:`proxy.zeroconf.settings_from_file_or_env`.
    """


@hookspec
def relaygate_config_sections() -> dict[str, Spec]:  # type: ignore[empty-body]  # a spec: no body
    """Declare the top-level config sections this plugin owns: ``{name: spec}``. Plain function.

    *spec* is a pydantic model class whose fields all have defaults (``{"limits":
    LimitsConfig}``), so a file without the section is valid and reads as
    ``LimitsConfig()``; derive it from :class:`proxy.config.ConfigModel` so unknown
    fields are errors. A section that is not a mapping is a ``(type, default)`` pair as
    in :func:`pydantic.create_model`: ``{"guardrails": (list[GuardrailRule], [])}``.

    A dotted name declares a sub-section: ``"storage.ledger"`` makes ``storage:`` a
    mapping whose ``ledger`` key is validated with that model. Stores go under
    ``storage``, which a hot reload leaves as it is (see :mod:`proxy.reload`).

    Every name has one owner: declaring a core section (server, providers, endpoints,
    keys, aliases, plugins) or another plugin's is an error when the configuration is
    validated. The file is validated with the core schema plus every declared
    section; a top-level key nobody declared is an error. Plugins read their section
    typed with ``settings.section(LimitsConfig)`` or as ``settings.limits``.

    Called when a configuration is validated (start-up, check-config, reload, CLI
    commands), before the start-up hooks. The answer is cached per implementation:
    return the same declaration every time, without I/O.
    """


@hookspec
def relaygate_endpoint_fields() -> dict[str, Spec]:  # type: ignore[empty-body]  # a spec: no body
    """Declare fields this plugin adds to every endpoint: ``{name: spec}``. Plain function.

    Specs are as for :func:`relaygate_config_sections` (a model class with defaults, or
    a ``(type, default)`` pair, the default may be ``pydantic.Field(...)``); names are
    plain (no dots). ``{"payload_logging": PayloadLoggingConfig}`` lets every endpoint
    take ``payload_logging:``, read as ``ctx.endpoint.payload_logging``. A core
    endpoint field (task, served_models, fallbacks, timeouts, retry, circuit_breaker,
    unsupported_params, caps) or another plugin's is an error. Cached like
    :func:`relaygate_config_sections`.
    """


@hookspec
def relaygate_config_warnings(settings: Settings) -> Awaitable[list[str]] | list[str] | None:
    """What looks wrong in a *valid* configuration: a list of sentences, or None. **May be async.**

    ``relaygate check-config`` prints them (``warning: ...``) and still succeeds: e.g. a
    limit rule naming a key that no config key or stored key has as its name or id yet
    (keys may be created later). May read the stores the settings name; must not change
    them, and must answer within a few seconds when a store is unreachable.
    """


# -- start-up -----------------------------------------------------------------


@hookspec
def relaygate_register_apis(registry: ApiRegistry) -> None:
    """Add :class:`proxy.apis.Api` objects (one per wire format). Plain function."""


@hookspec
def relaygate_register_providers(registry: ProviderRegistry) -> None:
    """Add provider types (``registry.add("openai", factory)``). Plain function."""


@hookspec
def relaygate_register_exchanges(registry: ExchangeRegistry, apis: ApiRegistry) -> None:
    """Add translating exchanges between two wire formats (:class:`proxy.exchange.Exchange`
    subclasses); identity exchanges need no registration. Plain function."""


@hookspec
def relaygate_register_routes(routes: RouteTable, gateway: Gateway) -> None:
    """Add HTTP routes: API surfaces (``routes.surface(...)``) and plain
    handlers such as health, metrics and admin (``routes.add(...)``). Plain function."""


@hookspec
def relaygate_startup(gateway: Gateway) -> Awaitable[None] | None:
    """Open resources (databases, background tasks). **May be async.**"""


@hookspec
def relaygate_shutdown(gateway: Gateway) -> Awaitable[None] | None:
    """Flush and close, after in-flight requests have finished. **May be async.**
    Called in reverse registration order."""


@hookspec
def relaygate_config_loaded(gateway: Gateway) -> Awaitable[None] | None:
    """The gateway's configuration was (re)loaded: rebuild derived state
    (key tables, limiters). **May be async.**"""


# -- one request ----------------------------------------------------------------


@hookspec
def relaygate_authenticate(ctx: RequestContext) -> Awaitable[Principal | None] | Principal | None:
    """Identify the caller, or return None to abstain. **May be async.**

    The first non-None principal wins. No principal at all means 401. Raise
    :class:`proxy.errors.AuthenticationFailed` to refuse outright (e.g. a
    revoked key) with a specific message.
    """


@hookspec
def relaygate_validate_request(ctx: RequestContext) -> Awaitable[None] | None:
    """Check the parsed body (``ctx.body``) beyond the wire format's own rules;
    raise :class:`proxy.errors.RequestRejected` to refuse. **May be async.**"""


@hookspec(firstresult=True)
def relaygate_select_route(ctx: RequestContext, candidates: list[Route]) -> Route | None:
    """**Decision**: choose the served model for this request among
    *candidates* (the endpoint's served models in config order), e.g. by
    traffic percentage. Return None to let the next plugin decide. Plain function."""


@hookspec
def relaygate_admit_request(ctx: RequestContext, route: Route) -> Awaitable[None] | None:
    """Last check before the provider is called: rate limits, budgets,
    policies. Raise :class:`proxy.errors.LimitExceeded` (429) or another
    :class:`proxy.errors.ClientError` to refuse. **May be async.**"""


@hookspec
def relaygate_answer_request(ctx: RequestContext, route: Route) -> Awaitable[StoredAnswer | None] | StoredAnswer | None:
    """The request is admitted and about to go to *route*'s provider: return a
    :class:`proxy.answers.StoredAnswer` to answer it without any provider call (the
    response cache), or None. **May be async**; the first non-None answer wins. The
    core replays it in the client's own format and records one usage row with
    ``cache_hit`` set. An implementation must not raise: a store that fails
    answers None (the provider is called). Only called when some plugin implements it.
    """


@hookspec
def relaygate_transform_response(
        ctx: RequestContext, body: dict[str, Any]) -> Awaitable[dict[str, Any] | None] | dict[str, Any] | None:
    """A non-streaming answer is about to go to the client: *body* is the parsed
    JSON in the client's format (after translation). Return a changed body (e.g.
    PII masked), or None to leave it; raise a :class:`proxy.errors.ClientError`
    to refuse it (e.g. a guardrail that blocks). Implementations run in call
    order, each seeing the previous one's result. Only called when some plugin
    implements it. **May be async.**"""


@hookspec
def relaygate_prepare_upstream_body(ctx: RequestContext, route: Route,
                                    body: dict[str, Any]) -> dict[str, Any] | None:
    """Each attempt's body in the *provider's* format (``route.provider_api``), after the route's
    exchange translated it: return a changed body, or None to leave it (e.g. prompt-cache
    breakpoints, moving per-request noise out of a cached prefix). Implementations run in call
    order, each seeing the previous one's result. Plain function, no I/O; must not raise. Only
    called when some plugin implements it.
    """


@hookspec
def relaygate_attempt_started(ctx: RequestContext, route: Route, attempt: Attempt) -> dict[str, str] | None:
    """A provider attempt is about to be sent to *route*; *attempt* is its
    :class:`proxy.upstream.Attempt` (``number``, ``t0`` on the ``perf_counter``
    clock). Plain function; must not raise.

    Return headers to add to this attempt's provider request (e.g. the W3C
    ``traceparent`` of a tracing span), or None. They never replace a header the
    provider already set (credentials, ``Content-Type``, versions) nor add
    credential, cookie, host or framing headers: see
    :func:`proxy.hygiene.add_headers`. Exactly one ``record_usage`` follows. Only
    called when some plugin implements it.
    """


@hookspec
def relaygate_record_usage(ctx: RequestContext, record: UsageRecord) -> Awaitable[None] | None:
    """One provider attempt ended (success, failure, or client gone): meter it.

    Called exactly once per attempt that reached a provider, also when the
    client disconnected. Implementations must not raise and should only
    enqueue work. **May be async.**
    """


@hookspec
def relaygate_request_finished(ctx: RequestContext) -> None:
    """The response is complete (``ctx.status`` is final), whatever the
    outcome. For metrics and access logs. Plain function; must not raise."""
