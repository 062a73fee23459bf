"""Per-user upstream credentials, encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256).

A server with ``credentials: per_user`` receives the calling developer's own token instead
of a shared secret, so a tool acts as the person who called it. The vault is one JSON file
``{"server": {"owner": "<fernet token>"}}``; only ciphertext is on disk, the key comes from
``mcp.vault_key`` (or ``RELAYGATE_MCP_VAULT_KEY``). Entries are looked up by the caller's
owner, then by its key id. Written with ``relaygate mcp-credentials set`` or the admin API.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


VAULT_KEY_ENV = "RELAYGATE_MCP_VAULT_KEY"


class VaultError(Exception):
    pass


class Vault:
    def __init__(self, path: str, key: str) -> None:
        if not path:
            raise VaultError("per-user MCP credentials need mcp.vault_path")
        if not key:
            raise VaultError(f"per-user MCP credentials need mcp.vault_key (or ${VAULT_KEY_ENV}); "
                             "make one with: relaygate mcp-credentials new-key")
        from cryptography.fernet import Fernet

        try:
            self._fernet = Fernet(key.encode())
        except ValueError:
            raise VaultError("mcp.vault_key is not a Fernet key (32 url-safe base64-encoded bytes)") from None
        self.path = Path(path)
        self._cache: tuple[float, dict[str, dict[str, str]]] | None = None

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return {}
        if self._cache is not None and self._cache[0] == mtime:
            return self._cache[1]
        data = json.loads(self.path.read_text() or "{}")
        self._cache = (mtime, data)
        return data

    def get(self, server: str, subjects: tuple[str, ...]) -> str | None:
        entries = self._load().get(server, {})
        for subject in subjects:
            token = entries.get(subject) if subject else None
            if token is not None:
                from cryptography.fernet import InvalidToken

                try:
                    return self._fernet.decrypt(token.encode()).decode()
                except InvalidToken:
                    raise VaultError(f"a vault entry of server {server!r} does not decrypt "
                                     "with mcp.vault_key") from None
        return None

    def put(self, server: str, subject: str, credential: str) -> None:
        data = {k: dict(v) for k, v in self._load().items()}
        data.setdefault(server, {})[subject] = self._fernet.encrypt(credential.encode()).decode()
        self._write(data)

    def delete(self, server: str, subject: str) -> bool:
        data = {k: dict(v) for k, v in self._load().items()}
        found = data.get(server, {}).pop(subject, None) is not None
        if found:
            self._write(data)
        return found

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".vault-")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self._cache = None


def new_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
