"""``auth.jwt:`` single sign-on tokens as gateway credentials (declared by plugins.sso.auth).

Each issuer is trusted for its own keys only: its JWKS comes from OIDC discovery of ``issuer``
(``/.well-known/openid-configuration``) or from an explicit ``jwks_url``. Only asymmetric
algorithms are allowed: a JWKS holds public keys, and an HMAC "signed" with a public key would
let anyone who can read it mint tokens (so ``none`` and ``HS*`` are refused here, at load time).
"""

from __future__ import annotations

from pydantic import Field, HttpUrl, field_validator, model_validator

from proxy.config import ConfigModel

#: asymmetric JWS algorithms joserfc verifies with a public key
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                         "ES256", "ES384", "ES512", "EdDSA")


class ClaimMapping(ConfigModel):
    """Which claims say who the caller is. A claim may be nested: ``realm_access.roles``."""
    owner: list[str] = ["email", "preferred_username", "sub"]   # the first present one wins
    team: str = "team"                # a string or a list of strings (the first is ``team``)
    groups: str = "groups"            # a list of strings (or one space-separated string)
    scopes: list[str] = ["scope", "scp"]


class AccessRule(ConfigModel):
    """Endpoints that members of *group* (or holders of *scope*) may call."""
    group: str | None = None
    scope: str | None = None
    endpoints: list[str]

    @model_validator(mode="after")
    def _one_subject(self) -> AccessRule:
        if (self.group is None) == (self.scope is None):
            raise ValueError("give exactly one of group or scope")
        return self


class IssuerConfig(ConfigModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")   # in key ids and the ledger: "sso:<name>:<sub>"
    issuer: str                        # must equal the tokens' ``iss``; discovery starts from it
    jwks_url: HttpUrl | None = None    # skips discovery
    device_authorization_url: HttpUrl | None = None     # relaygate login; else from discovery
    token_url: HttpUrl | None = None
    authorization_url: HttpUrl | None = None            # console sign-in; else from discovery
    client_id: str = ""                # the public client ``relaygate login`` and the console use
    audiences: list[str] = Field(min_length=1)          # a token must name one of these in ``aud``
    algorithms: list[str] = ["RS256", "ES256"]
    clock_skew_seconds: int = Field(60, ge=0, le=600)
    claims: ClaimMapping = ClaimMapping()
    #: None: every endpoint unless an access rule matches; a list: these when none matches
    endpoints: list[str] | None = None
    access: list[AccessRule] = []
    jwks_cache_seconds: float = Field(600, gt=0)         # refetch the key set this often
    jwks_min_refresh_seconds: float = Field(30, ge=0)    # at most one refetch per this for unknown kids

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, algs: list[str]) -> list[str]:
        bad = [a for a in algs if a not in ASYMMETRIC_ALGORITHMS]
        if bad:
            raise ValueError(f"algorithm(s) {', '.join(bad)} not allowed: only asymmetric ones "
                             f"({', '.join(ASYMMETRIC_ALGORITHMS)}); never 'none' or HMAC with a public key")
        if not algs:
            raise ValueError("give at least one algorithm")
        return algs


class JwtConfig(ConfigModel):
    issuers: list[IssuerConfig] = []

    @model_validator(mode="after")
    def _unique(self) -> JwtConfig:
        names = [i.name for i in self.issuers]
        if len(set(names)) != len(names):
            raise ValueError("issuer names must be unique")
        return self
