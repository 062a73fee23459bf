"""A fake OpenID Connect issuer over loopback HTTP: discovery, JWKS, the device authorization
grant, the authorization code grant (with PKCE) and refresh tokens.

Tokens are signed with real RSA keys through joserfc. Tests mint tokens directly
(:meth:`FakeIssuer.mint`), rotate keys, count JWKS fetches, and play the user's browser in a
device flow (:meth:`FakeIssuer.approve`). The hostile tokens (``alg: none``, HMAC with the
public key) are built by hand here, the way an attacker would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID = "relaygate-cli"
AUDIENCE = "relaygate"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeIssuer:
    def __init__(self) -> None:
        self.keys: list[RSAKey] = [self._new_key()]
        self.jwks_fetches = 0
        self.token_requests: list[dict[str, str]] = []
        self.devices: dict[str, dict[str, Any]] = {}        # device_code -> state
        self.codes: dict[str, dict[str, Any]] = {}          # authorization code -> state
        self.refresh: dict[str, dict[str, Any]] = {}        # refresh token -> claims
        #: the identity the next sign-in (device or browser) gets
        self.user: dict[str, Any] = {"sub": "u-1001", "email": "dev@example.com", "groups": ["ml-eng"],
                                     "team": "ml"}
        self.lifetime = 3600
        self.interval = 1
        self._runner: web.AppRunner | None = None
        self.url = ""

    @staticmethod
    def _new_key() -> RSAKey:
        return RSAKey.generate_key(2048, parameters={"kid": "k-" + secrets.token_hex(4), "use": "sig"})

    # -- the test's controls -------------------------------------------------

    def rotate(self, *, keep_old: bool = False) -> RSAKey:
        """A new signing key; the old one stays published only with *keep_old*."""
        key = self._new_key()
        self.keys = [key, *self.keys] if keep_old else [key]
        return key

    def mint(self, claims: dict[str, Any] | None = None, *, key: RSAKey | None = None, kid: str | None = None,
             lifetime: int | None = None, **overrides: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "iat": now, "exp": now + (lifetime or self.lifetime),
                **self.user, **(claims or {}), **overrides}
        body = {k: v for k, v in body.items() if v is not None}
        key = key or self.keys[0]
        header = {"alg": "RS256", "kid": kid if kid is not None else key.kid}
        return jwt.encode(header, body, key)

    def unsigned(self, **claims: Any) -> str:
        """An ``alg: none`` token."""
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "iat": now, "exp": now + 600, **self.user, **claims}
        return f"{b64url(orjson.dumps({'alg': 'none', 'typ': 'JWT'}))}.{b64url(orjson.dumps(body))}."

    def hmac_with_public_key(self) -> str:
        """An HS256 token whose secret is the issuer's public key (the classic confusion attack)."""
        now = int(time.time())
        key = self.keys[0]
        header = {"alg": "HS256", "kid": key.kid, "typ": "JWT"}
        body = {"iss": self.url, "aud": AUDIENCE, "iat": now, "exp": now + 600, **self.user}
        signing_input = f"{b64url(orjson.dumps(header))}.{b64url(orjson.dumps(body))}"
        secret = key.as_pem(private=False)
        sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(sig)}"

    def approve(self, user_code: str) -> None:
        """The user typed *user_code* in their browser and signed in."""
        for state in self.devices.values():
            if state["user_code"] == user_code:
                state["approved"] = dict(self.user)
                return
        raise KeyError(user_code)

    # -- the server ------------------------------------------------------------

    async def start(self) -> FakeIssuer:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_post("/device/code", self._device_code)
        app.router.add_post("/token", self._token)
        app.router.add_get("/authorize", self._authorize)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response({
            "issuer": self.url, "jwks_uri": f"{self.url}/jwks", "token_endpoint": f"{self.url}/token",
            "device_authorization_endpoint": f"{self.url}/device/code",
            "authorization_endpoint": f"{self.url}/authorize",
            "grant_types_supported": ["authorization_code", "refresh_token",
                                      "urn:ietf:params:oauth:grant-type:device_code"],
            "code_challenge_methods_supported": ["S256"]})

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        return web.json_response(KeySet(self.keys).as_dict(private=False))  # type: ignore[arg-type]

    async def _device_code(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_id") != CLIENT_ID:
            return web.json_response({"error": "invalid_client"}, status=401)
        device_code, user_code = secrets.token_urlsafe(24), secrets.token_hex(2).upper() + "-" + \
            secrets.token_hex(2).upper()
        self.devices[device_code] = {"user_code": user_code, "approved": None, "expires": time.time() + 600}
        return web.json_response({"device_code": device_code, "user_code": user_code,
                                  "verification_uri": f"{self.url}/device",
                                  "verification_uri_complete": f"{self.url}/device?user_code={user_code}",
                                  "expires_in": 600, "interval": self.interval})

    def _tokens(self, identity: dict[str, Any]) -> dict[str, Any]:
        refresh = secrets.token_urlsafe(24)
        self.refresh[refresh] = identity
        return {"access_token": self.mint(identity), "token_type": "Bearer", "expires_in": self.lifetime,
                "refresh_token": refresh,
                "id_token": self.mint({**identity, "aud": CLIENT_ID})}

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        grant = form.get("grant_type")
        if form.get("client_id") != CLIENT_ID:
            return web.json_response({"error": "invalid_client"}, status=401)
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            state = self.devices.get(form.get("device_code", ""))
            if state is None:
                return web.json_response({"error": "invalid_grant"}, status=400)
            if state["approved"] is None:
                return web.json_response({"error": "authorization_pending"}, status=400)
            del self.devices[form["device_code"]]
            return web.json_response(self._tokens(state["approved"]))
        if grant == "refresh_token":
            identity = self.refresh.pop(form.get("refresh_token", ""), None)
            if identity is None:
                return web.json_response({"error": "invalid_grant"}, status=400)
            return web.json_response(self._tokens(identity))
        if grant == "authorization_code":
            state = self.codes.pop(form.get("code", ""), None)
            if state is None or state["redirect_uri"] != form.get("redirect_uri"):
                return web.json_response({"error": "invalid_grant"}, status=400)
            verifier = form.get("code_verifier", "")
            if b64url(hashlib.sha256(verifier.encode()).digest()) != state["challenge"]:
                return web.json_response({"error": "invalid_grant", "error_description": "PKCE"}, status=400)
            return web.json_response(self._tokens(state["identity"]))
        return web.json_response({"error": "unsupported_grant_type"}, status=400)

    async def _authorize(self, request: web.Request) -> web.Response:
        """Signs the configured user in at once (no login page) and redirects back with a code."""
        q = request.query
        if q.get("client_id") != CLIENT_ID or q.get("code_challenge_method") != "S256":
            return web.Response(status=400, text="bad authorization request")
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"redirect_uri": q["redirect_uri"], "challenge": q["code_challenge"],
                            "identity": dict(self.user)}
        raise web.HTTPFound(q["redirect_uri"] + "?" + urlencode({"code": code, "state": q.get("state", "")}))
