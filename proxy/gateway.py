"""The gateway object: plugins, registries and the current configuration.

Configuration-derived state lives in one immutable :class:`Runtime`; a reload
builds a new one and swaps the reference, so a request keeps the runtime it
started with.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import aiohttp
import pluggy

from proxy.apis import ApiRegistry
from proxy.config import EndpointConfig, Settings
from proxy.context import Principal, Route
from proxy.errors import RequestRejected, UnknownEndpoint
from proxy.exchange import Exchange, ExchangeRegistry
from proxy.hooks import Hooks
from proxy.hygiene import check_model_id
from proxy.providers import Provider, ProviderRegistry
from proxy.stash import Stash, StashKey
from proxy.surfaces import RouteTable

log = logging.getLogger("relaygate")

#: readiness checks by name, each returning bool or awaitable bool: ``/readyz`` (plugins/health)
#: answers 503 while one fails. Core vocabulary, next to ``ready`` and ``draining``: plugins whose
#: storage must be reachable add theirs without depending on the health plugin.
HEALTH_CHECKS: StashKey[dict[str, Callable[[], bool | Awaitable[bool]]]] = StashKey("health_checks")
#: checks of dependencies the gateway serves without, degraded (a fail-open limiter's Redis, the
#: ledger's store behind its spool, the key store behind its cache): shown by ``/healthz`` and the
#: ``relaygate_dependency_up`` metric, never failing ``/readyz`` (that would take every replica out)
DEPENDENCY_CHECKS: StashKey[dict[str, Callable[[], bool | Awaitable[bool]]]] = StashKey("dependency_checks")
#: the last result of every check above by name, True when up (plugins/health polls them)
DEPENDENCY_STATE: StashKey[dict[str, bool]] = StashKey("dependency_state")


@dataclass
class Runtime:
    settings: Settings
    providers: dict[str, Provider]
    exact: dict[str, EndpointConfig]
    wildcards: list[tuple[str, EndpointConfig]]          # (prefix, endpoint), longest prefix first
    _routes: dict[tuple[str, str], list[Route]] = field(default_factory=dict)
    _names: dict[tuple[str, str], str] = field(default_factory=dict)     # resolve_name, per (name, surface)

    def find_endpoint(self, name: str, principal: Principal | None = None) -> tuple[EndpointConfig, str | None]:
        """The endpoint *name* means (and a wildcard's captured part), or UnknownEndpoint (404).

        The 404 lists only the endpoints *principal* may call (none without one): a key
        scoped to one endpoint never learns the names of the others.
        """
        ep = self.exact.get(name)
        if ep is not None:
            return ep, None
        for prefix, wild in self.wildcards:
            if name.startswith(prefix) and len(name) > len(prefix):
                return wild, name[len(prefix):]
        visible = "" if principal is None else \
            f" (endpoints this key may call: {', '.join(self.visible_names(principal)[:20]) or 'none'})"
        raise UnknownEndpoint(
            f"model {name!r} is not served by this gateway: no endpoint or alias has that name. An "
            f"administrator can map it in the Relaygate config, e.g. aliases: {{\"{name}\": <endpoint>}} "
            f"or a pattern such as \"{name.split('-')[0]}-*\"{visible}", param="model")

    def endpoint_names(self) -> list[str]:
        return sorted(self.exact)

    def visible_names(self, principal: Principal) -> list[str]:
        """The endpoint names (wildcards as ``prefix*``) *principal* may call."""
        names = [n for n in self.endpoint_names() if principal.may_call(n)]
        return names + [p + "*" for p, ep in self.wildcards if principal.may_call(ep.name)]

    def resolve_name(self, name: str, surface: str = "") -> str:
        """The endpoint a client's model *name* means: an endpoint of that name wins, else the
        first matching alias (exact keys, then fnmatch patterns in config order)."""
        found = self._names.get((name, surface))
        if found is None:
            found = self._resolve_name(name, surface)
            if len(self._names) < 4096:        # client-chosen names: bounded
                self._names[(name, surface)] = found
        return found

    def _resolve_name(self, name: str, surface: str) -> str:
        if name in self.exact or any(name.startswith(p) and len(name) > len(p) for p, _ in self.wildcards):
            return name
        aliases = self.settings.aliases
        ordered = ([aliases[name]] if name in aliases else []) + [
            t for pattern, t in aliases.items() if pattern != name and fnmatchcase(name, pattern)]
        for target in ordered:
            if isinstance(target, str):
                return target
            chosen = target.get(surface) or target.get("*")
            if chosen:
                return chosen
        return name


class Gateway:
    def __init__(self, settings: Settings, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.hooks = Hooks(pm)
        self.apis = ApiRegistry()
        self.provider_types = ProviderRegistry()
        self.exchanges = ExchangeRegistry()
        self._identity: dict[str, Exchange] = {}
        self.routes = RouteTable()
        self.session: aiohttp.ClientSession | None = None
        self.ready = False
        self.draining = False
        #: open requests and streams by surface, read by the metrics collector
        self.in_flight: dict[str, int] = {}
        self.in_flight_streams: dict[str, int] = {}
        #: process-wide state of the core and the plugins, each under the key its owner defines
        self.stash = Stash()
        pm.hook.relaygate_register_apis(registry=self.apis)
        pm.hook.relaygate_register_providers(registry=self.provider_types)
        pm.hook.relaygate_register_exchanges(registry=self.exchanges, apis=self.apis)
        pm.hook.relaygate_register_routes(routes=self.routes, gateway=self)
        self.runtime = self.build_runtime(settings)

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def build_runtime(self, settings: Settings) -> Runtime:
        """Validate *settings* against the registered plugins; raise ValueError naming the field."""
        providers = {name: self.provider_types.create(name, cfg) for name, cfg in settings.providers.items()}
        exact: dict[str, EndpointConfig] = {}
        wild: list[tuple[str, EndpointConfig]] = []
        for name, ep in settings.endpoints.items():
            if ep.is_wildcard:
                wild.append((name[:-1], ep))
            else:
                exact[name] = ep
            for i, sm in enumerate(ep.served_models):
                if "*" not in sm.model:            # a wildcard's model is checked per request
                    try:
                        check_model_id(providers[sm.provider], sm.model)
                    except RequestRejected as exc:
                        raise ValueError(f"endpoints.{name}.served_models.{i}.model: {exc.message}") from None
        wild.sort(key=lambda pw: -len(pw[0]))
        return Runtime(settings, providers, exact, wild)

    def candidates(self, rt: Runtime, name: str, client_api: str) -> tuple[EndpointConfig, list[Route]]:
        """The routes an endpoint offers for *client_api*, in config order (cached)."""
        cached = rt._routes.get((name, client_api))
        if cached is not None:
            return cached[0].endpoint, cached
        ep, captured = rt.find_endpoint(name)
        routes = [self._route(rt, ep, sm, captured, client_api) for sm in ep.served_models]
        if captured is None or len(rt._routes) < 4096:
            rt._routes[(name, client_api)] = routes
        return ep, routes

    def identity(self, api_id: str) -> Exchange:
        """The identity exchange of a wire format (one per format, shared by its routes)."""
        found = self._identity.get(api_id)
        if found is None:
            found = self._identity[api_id] = Exchange(self.apis.get(api_id))
        return found

    def _route(self, rt: Runtime, ep: EndpointConfig, sm: Any, captured: str | None, client_api: str) -> Route:
        provider = rt.providers[sm.provider]
        model = sm.model.replace("*", captured) if captured is not None else sm.model
        if captured is not None:
            check_model_id(provider, model)          # the client chose it: 400 before any provider call
        if provider.speaks(client_api):
            return Route(ep, sm, provider, model, client_api, client_api, self.identity(client_api))
        for provider_api in sorted(provider.apis):
            exchange = self.exchanges.get(client_api, provider_api)
            if exchange is not None:
                return Route(ep, sm, provider, model, client_api, provider_api, exchange)
        local = self.exchanges.get(client_api, "local")    # answered by the gateway itself
        if local is not None:
            return Route(ep, sm, provider, model, client_api, "local", local)
        raise RequestRejected(
            f"endpoint {ep.name!r}: served model {sm.name!r} (provider {provider.name!r}, type "
            f"{provider.config.type!r}) cannot serve the {client_api} API", status=400)
