"""``relaygate login`` and ``relaygate token``: a developer signs in once; agents get fresh tokens.

``login`` runs the OAuth 2.0 device authorization grant (RFC 8628) against the issuer the
gateway names at ``/auth/v1/sso`` (or ``--issuer`` and ``--client-id``): it prints a code and a
URL to open, polls the token endpoint (honouring ``interval`` and ``slow_down``) and stores the
tokens in ``~/.config/relaygate/sso.json`` (mode 0600). ``token`` prints a valid access token,
refreshing it first when it expires within a minute: Claude Code's ``apiKeyHelper`` calls it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from proxy import hookimpl

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SCOPE = "openid profile email offline_access"
REFRESH_MARGIN_S = 60
TIMEOUT_S = 15


class LoginError(Exception):
    pass


def token_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "relaygate" / "sso.json"


def _request(url: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}
    except (urllib.error.URLError, TimeoutError, ValueError) as exc:
        raise LoginError(f"{url}: {exc}") from None


def endpoints(issuer: str, device: str | None, token: str | None) -> tuple[str, str]:
    if device and token:
        return device, token
    status, doc = _request(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if status != 200:
        raise LoginError(f"discovery of {issuer} answered {status}")
    device = device or doc.get("device_authorization_endpoint")
    token = token or doc.get("token_endpoint")
    if not device or not token:
        raise LoginError(f"{issuer} does not support the device authorization grant")
    return device, token


def issuer_from_gateway(url: str, name: str | None) -> dict[str, Any]:
    status, doc = _request(url.rstrip("/") + "/auth/v1/sso")
    issuers = doc.get("issuers", []) if status == 200 else []
    chosen = [i for i in issuers if name is None or i["name"] == name]
    if not chosen:
        raise LoginError(f"the gateway at {url} offers no single sign-on issuer"
                         + (f" named {name!r}" if name else ""))
    return chosen[0]


def device_login(issuer: dict[str, Any], out: Any = sys.stderr, sleep: Any = time.sleep) -> dict[str, Any]:
    device_url, token_url = endpoints(issuer["issuer"], issuer.get("device_authorization_endpoint"),
                                      issuer.get("token_endpoint"))
    status, grant = _request(device_url, {"client_id": issuer["client_id"], "scope": SCOPE})
    if status != 200 or "device_code" not in grant:
        raise LoginError(f"the issuer refused to start a sign-in: {grant.get('error', status)}")
    where = grant.get("verification_uri_complete") or grant["verification_uri"]
    print(f"To sign in, open {where}\nand enter the code: {grant['user_code']}", file=out, flush=True)
    interval = float(grant.get("interval", 5))
    deadline = time.monotonic() + float(grant.get("expires_in", 600))
    while time.monotonic() < deadline:
        sleep(interval)
        status, answer = _request(token_url, {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"],
                                              "client_id": issuer["client_id"]})
        if status == 200 and "access_token" in answer:
            return {**answer, "token_endpoint": token_url}
        error = answer.get("error")
        if error == "slow_down":
            interval += 5                      # RFC 8628 3.5
        elif error != "authorization_pending":
            raise LoginError(f"sign-in failed: {error or status}")
    raise LoginError("the sign-in code expired before it was used; run relaygate login again")


def save(data: dict[str, Any]) -> Path:
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    return path


def stored(tokens: dict[str, Any], issuer: dict[str, Any], gateway: str | None) -> dict[str, Any]:
    return {"gateway": gateway, "issuer": issuer["issuer"], "client_id": issuer["client_id"],
            "token_endpoint": tokens["token_endpoint"], "access_token": tokens["access_token"],
            "refresh_token": tokens.get("refresh_token"),
            "expires_at": time.time() + float(tokens.get("expires_in", 300))}


def current_token(now: float | None = None) -> str:
    """A valid access token from the stored sign-in, refreshed first when it is about to expire."""
    path = token_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise LoginError("not signed in: run relaygate login") from None
    now = time.time() if now is None else now
    if data["expires_at"] - REFRESH_MARGIN_S > now:
        return str(data["access_token"])
    if not data.get("refresh_token"):
        raise LoginError("the sign-in has expired: run relaygate login")
    status, answer = _request(data["token_endpoint"], {"grant_type": "refresh_token", "client_id": data["client_id"],
                                                        "refresh_token": data["refresh_token"]})
    if status != 200 or "access_token" not in answer:
        raise LoginError(f"the sign-in could not be refreshed ({answer.get('error', status)}): run relaygate login")
    data.update(access_token=answer["access_token"], expires_at=now + float(answer.get("expires_in", 300)),
                refresh_token=answer.get("refresh_token", data["refresh_token"]))
    save(data)
    return str(data["access_token"])


def cmd_login(args: argparse.Namespace) -> int:
    gateway = args.url or os.environ.get("RELAYGATE_URL") or "http://127.0.0.1:8080"
    try:
        if args.issuer:
            if not args.client_id:
                raise LoginError("--issuer needs --client-id")
            issuer: dict[str, Any] = {"issuer": args.issuer, "client_id": args.client_id}
        else:
            issuer = issuer_from_gateway(gateway, args.name)
        path = save(stored(device_login(issuer), issuer, gateway))
    except LoginError as exc:
        print(f"relaygate login: {exc}", file=sys.stderr)
        return 1
    print(f"Signed in. Tokens are in {path}.\nNext: relaygate agent-env claude --sso --url {gateway}",
          file=sys.stderr)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    try:
        print(current_token())
    except LoginError as exc:
        print(f"relaygate token: {exc}", file=sys.stderr)
        return 1
    return 0


@hookimpl
def relaygate_add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser("login", help="sign in with your identity provider (device code) for coding agents")
    p.add_argument("--url", help="the gateway's base URL (default: $RELAYGATE_URL or http://127.0.0.1:8080)")
    p.add_argument("--name", help="which of the gateway's issuers (default: the first)")
    p.add_argument("--issuer", help="sign in with this issuer directly instead of asking the gateway")
    p.add_argument("--client-id", help="with --issuer: the public client id")
    p.set_defaults(func=cmd_login)
    t = commands.add_parser("token", help="print a valid single sign-on token (refreshing it); an apiKeyHelper")
    t.set_defaults(func=cmd_token)
