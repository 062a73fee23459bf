"""Which limits and budgets apply to one request, compiled from ``limits:`` in the config.

Per scope (key, owner, team, group, endpoint, endpoint_key) one rule applies to a
subject: the most specific matching one (an exact name beats a glob; for
endpoint_key both fields count), ties going to the rule listed first. So a
``match: "*"`` default and a per-key override can be listed in any order.
Every subject gets its own window: ``scope: key, match: "ci-*"`` limits each
CI key separately, not all of them together. A key is named by its id or its
name (``match: ml-team`` and ``match: key_3f2a...`` select the same stored key);
its windows and budget buckets are kept under the id, which is unique.
"""

from __future__ import annotations

import calendar
import fnmatch
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plugins.limits.config import BudgetRule, LimitRule, LimitsConfig
    from proxy.context import Principal

WINDOW_SECONDS = 60.0
_NANO = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Limit:
    """One sliding window: at most *capacity* units (requests or tokens) per *window_s*."""

    id: str                 # storage name, e.g. "key:alice-key:tokens"
    kind: str               # "requests" or "tokens"
    capacity: int
    label: str              # bounded metric label, e.g. "key_tokens_per_minute"
    subject: str            # for messages: "key 'alice-key'"
    window_s: float = WINDOW_SECONDS

    def describe(self) -> str:
        per = "minute" if self.window_s == 60 else f"{self.window_s:g}s"
        unit = "/min" if self.window_s == 60 else f"/{self.window_s:g}s"
        return f"{self.kind} per {per} limit of {self.subject} ({self.capacity}{unit})"


@dataclass(frozen=True, slots=True)
class Budget:
    """A spend limit for one key, owner or team over a UTC day or month."""

    scope: str
    name: str
    period: str             # "day" or "month"
    usd: float
    shown: str = field(default="", compare=False)    # for messages: a key's name (``name`` is its id)

    @property
    def nano_usd(self) -> int:
        return round(self.usd * _NANO)

    @property
    def label(self) -> str:
        return f"{self.scope}_usd_per_{self.period}"

    def describe(self) -> str:
        adjective = "daily" if self.period == "day" else "monthly"
        return f"{adjective} budget of {self.scope} {self.shown or self.name!r} (${self.usd:,.2f})"

    def bucket(self, now_wall: float) -> tuple[str, float]:
        """The storage name of the current period's spend and when that period ends (epoch s)."""
        tag, reset = period(self.period, now_wall)
        return f"{self.scope}:{self.name}:{tag}", reset


#: period -> (start, end, tag) of the period last asked for: formatting dates costs more than the limiter
_PERIODS: dict[str, tuple[float, float, str]] = {}


def period(kind: str, now_wall: float) -> tuple[str, float]:
    """The UTC day ("2025-06-15") or month ("2025-06") containing *now_wall*, and when it ends."""
    cached = _PERIODS.get(kind)
    if cached is not None and cached[0] <= now_wall < cached[1]:
        return cached[2], cached[1]
    t = datetime.fromtimestamp(now_wall, UTC)
    if kind == "day":
        start = datetime(t.year, t.month, t.day, tzinfo=UTC).timestamp()
        end, tag = start + 86400, t.strftime("%Y-%m-%d")
    else:
        start = datetime(t.year, t.month, 1, tzinfo=UTC).timestamp()
        end, tag = start + calendar.monthrange(t.year, t.month)[1] * 86400, t.strftime("%Y-%m")
    _PERIODS[kind] = (start, end, tag)
    return tag, end


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything that limits one (principal, endpoint) pair."""

    requests: tuple[Limit, ...]
    tokens: tuple[Limit, ...]
    budgets: tuple[Budget, ...]

    def __bool__(self) -> bool:
        return bool(self.requests or self.tokens or self.budgets)


def is_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def _matches(pattern: str, name: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) if is_glob(pattern) else pattern == name


def _pick(rules: list[Any], names: tuple[tuple[str, ...], ...], fields: tuple[str, ...]) -> Any:
    """The most specific rule whose *fields* match *names* (None when none does).

    Each entry of *names* lists what one field may match: a key is named by its id or its
    name, so a rule written either way applies to it.
    """
    best, best_score = None, -1
    for rule in rules:
        patterns = [getattr(rule, f) for f in fields]
        if all(any(_matches(p, n) for n in alternatives) for p, alternatives in zip(patterns, names)):
            score = sum(not is_glob(p) for p in patterns)
            if score > best_score:
                best, best_score = rule, score
    return best


class Rules:
    """Compiled rules; :meth:`plan` answers from a cache after the first request of a pair."""

    def __init__(self, config: LimitsConfig) -> None:
        self._limit_rules: dict[str, list[LimitRule]] = {}
        for r in config.rules:
            self._limit_rules.setdefault(r.scope, []).append(r)
        self._budget_rules: dict[str, list[BudgetRule]] = {}
        for b in config.budgets:
            self._budget_rules.setdefault(b.scope, []).append(b)
        self.empty = not config.rules and not config.budgets
        self._cache: dict[tuple[str, str, str, str, tuple[str, ...], str], Plan] = {}

    def plan(self, principal: Principal, endpoint: str) -> Plan:
        k = (principal.key_id, principal.key_name, principal.owner, principal.team, principal.groups, endpoint)
        plan = self._cache.get(k)
        if plan is None:
            plan = self._build(principal, endpoint)
            if len(self._cache) > 100_000:      # keys from a store can be many; stay bounded
                self._cache.clear()
            self._cache[k] = plan
        return plan

    def _build(self, p: Principal, endpoint: str) -> Plan:
        # Windows and buckets are named by the key's id (unique); rules may name it either way.
        key_names = p.names
        subjects: list[tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...]]] = [
            ("key", (p.key_id,), (key_names,)), ("owner", (p.owner,), ((p.owner,),)),
            ("team", (p.team,), ((p.team,),)),
            # every group of a signed-in caller is a subject of its own: "group ml-eng gets 200k tokens/min"
            *(("group", (g,), ((g,),)) for g in p.groups),
            ("endpoint", (endpoint,), ((endpoint,),)),
            ("endpoint_key", (endpoint, p.key_id), ((endpoint,), key_names))]
        shown_key = repr(p.key_name or p.key_id)
        requests: list[Limit] = []
        tokens: list[Limit] = []
        budgets: list[Budget] = []
        for scope, ids, names in subjects:
            if not all(ids):
                continue                        # e.g. a key without a team has no team limit
            fields = ("match", "key") if scope == "endpoint_key" else ("match",)
            rule = _pick(self._limit_rules.get(scope, []), names, fields)
            if scope in ("key", "owner", "team", "group"):
                budgets += self._budgets(scope, ids[0], names, p)
            if rule is None:
                continue
            if scope == "endpoint_key":
                subject = f"key {shown_key} on endpoint {endpoint!r}"
            elif scope == "key":
                subject = f"key {shown_key}"
            else:
                subject = f"{scope} {ids[0]!r}"
            base = scope + ":" + ":".join(ids)
            if rule.requests_per_minute:
                requests.append(Limit(base + ":requests", "requests", rule.requests_per_minute,
                                      f"{scope}_requests_per_minute", subject))
            if rule.tokens_per_minute:
                tokens.append(Limit(base + ":tokens", "tokens", rule.tokens_per_minute,
                                    f"{scope}_tokens_per_minute", subject))
        return Plan(tuple(requests), tuple(tokens), tuple(budgets))

    def _budgets(self, scope: str, name: str, names: tuple[tuple[str, ...], ...], p: Principal) -> list[Budget]:
        rule = _pick(self._budget_rules.get(scope, []), names, ("match",))
        if rule is None:
            return []
        shown = p.key_name if scope == "key" and p.key_name != name else ""
        found = []
        if rule.usd_per_day:
            found.append(Budget(scope, name, "day", rule.usd_per_day, shown))
        if rule.usd_per_month:
            found.append(Budget(scope, name, "month", rule.usd_per_month, shown))
        return found
