"""Fake Gemini upstream (Generative Language API and Vertex AI paths) plus a fake OAuth token endpoint.

Routes (``{v}`` is ``v1``, ``v1beta`` or ``v1beta1``):
  POST /{v}/models/{model}:generateContent | :streamGenerateContent | :countTokens
       | :embedContent | :batchEmbedContents
  POST /{v}/projects/{p}/locations/{l}/publishers/google/models/{model}:<same methods>
  GET  /{v}/models
  POST /token   (google-auth service-account JWT-bearer grant; not recorded in ``requests``)

``:streamGenerateContent?alt=sse`` answers ``data: {...}\\r\\n\\r\\n`` events; without
``alt=sse`` it streams a JSON array incrementally (``[{...}\\n,{...}\\n]``).
"""
from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from urllib.parse import parse_qsl

from aiohttp import web

from .fake_base import (Behavior, FakeUpstream, JsonReply, StreamReply, b64url_json, compile_routes,
                        match_routes, new_id, sse_framer)

_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
           503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_MESSAGES = {400: "Request contains an invalid argument.",
             401: "Request had invalid authentication credentials.",
             403: "The caller does not have permission", 404: "Requested entity was not found.",
             429: "Resource has been exhausted (e.g. check quota).", 500: "An internal error has occurred.",
             503: "The model is overloaded. Please try again later.",
             504: "Deadline expired before operation could complete."}
THOUGHT_SIGNATURE = "ZmFrZS10aG91Z2h0LXNpZ25hdHVyZQ=="


def gemini_embedding(index: int, dim: int) -> list[float]:
    return [round((index + 1) * 0.5 - j * 0.0625, 4) for j in range(dim)]


class FakeGemini(FakeUpstream):
    provider = "gemini"

    def __init__(self, prefix: str = "", embedding_dim: int = 8, models: list[str] | None = None,
                 token_expires_in: int = 3600):
        super().__init__(prefix)
        self.embedding_dim = embedding_dim
        self.models = models or ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001"]
        # OAuth token endpoint state
        self.token_expires_in = token_expires_in
        self.token_status = 200                 # set >= 400 to make minting fail
        self.token_requests: list[dict] = []    # {"form": {...}, "claims": {...}}
        self.tokens: list[dict] = []            # {"access_token", "minted_at", "expires_in"}
        self.require_minted_token = False       # if True, model calls need a live minted bearer token
        ver = r"/(?P<version>v1|v1beta|v1beta1)"
        vertex = r"(?:/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/google)?"
        model = r"/models/(?P<model>[^/:]+)"
        table = [("POST", ver + vertex + model + ":" + m, h) for m, h in [
            ("generateContent", self.generate), ("streamGenerateContent", self.stream_generate),
            ("countTokens", self.count_tokens), ("embedContent", self.embed_content),
            ("batchEmbedContents", self.batch_embed)]]
        table.append(("GET", ver + r"/models", self.list_models))
        self._routes = compile_routes(table)

    @property
    def token_uri(self) -> str:
        return self.root_url + "/token"

    @property
    def tokens_minted(self) -> int:
        return len(self.tokens)

    def resolve(self, method, path):
        return match_routes(self._routes, method, path)

    def response_headers(self):
        return {"x-goog-request-id": new_id("", 16), "server": "scaffolding on HTTPServer2"}

    def error_body(self, status: int, b: Behavior) -> dict:
        return {"error": {"code": status, "message": b.error_message or _MESSAGES.get(status, f"HTTP {status}"),
                          "status": b.error_type or _STATUS.get(status, "UNKNOWN")}}

    # ------------------------------------------------------------------ OAuth token endpoint
    async def handle_unrouted(self, request: web.Request, rec):
        if rec.path == self.prefix + "/token" and rec.method == "POST":
            form = dict(parse_qsl(rec.raw_body.decode()))
            claims = {}
            if "assertion" in form:
                try:
                    claims = b64url_json(form["assertion"].split(".")[1])
                except (ValueError, IndexError):
                    claims = {}
            self.token_requests.append({"form": form, "claims": claims, "headers": rec.headers})
            if self.token_status >= 400:
                return web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                                         status=self.token_status)
            tok = {"access_token": f"ya29.fake-token-{len(self.tokens) + 1}", "minted_at": time.time(),
                   "expires_in": self.token_expires_in}
            self.tokens.append(tok)
            return web.json_response({"access_token": tok["access_token"], "expires_in": self.token_expires_in,
                                      "token_type": "Bearer"})
        if self.require_minted_token and self.resolve(rec.method, rec.path[len(self.prefix):]):
            now = time.time()
            live = {t["access_token"] for t in self.tokens if t["minted_at"] + t["expires_in"] > now}
            if rec.bearer not in live:
                self.requests.append(rec)
                return web.json_response(self.error_body(401, Behavior(status=401)), status=401)
        return None

    # ------------------------------------------------------------------ pieces
    @staticmethod
    def usage_metadata(b: Behavior) -> dict:
        u = b.get_usage()
        return {"promptTokenCount": u.input_tokens,
                "candidatesTokenCount": u.output_tokens - u.reasoning_tokens,
                "totalTokenCount": u.total_tokens, "thoughtsTokenCount": u.reasoning_tokens,
                "cachedContentTokenCount": u.cached_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": u.input_tokens}]}

    @staticmethod
    def _call_parts(b: Behavior) -> list[dict]:
        parts = []
        for raw, tc in zip(b.tool_calls or [], b.get_tool_calls()):
            call = {"name": tc.name, "args": tc.arguments}
            if (raw.get("id") if isinstance(raw, dict) else raw.id):
                call["id"] = tc.id
            part = {"functionCall": call}
            if b.reasoning is not None:
                part["thoughtSignature"] = THOUGHT_SIGNATURE
            parts.append(part)
        return parts

    def _chunk(self, rec, b, parts: list, finish: str | None, usage: bool, rid: str) -> dict:
        cand = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        out = {"candidates": [cand], "modelVersion": b.model or rec.params.get("model"), "responseId": rid}
        if usage:
            out["usageMetadata"] = self.usage_metadata(b)
        if rec.params.get("project"):
            out["createTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        return out

    def refusal(self, rec) -> JsonReply | None:
        """Gemini's rule, as its 400: a functionCall turn is followed by one functionResponse per call."""
        contents = (rec.body or {}).get("contents") or []
        for i, c in enumerate(contents):
            calls = sum(1 for p in c.get("parts") or [] if c.get("role") == "model" and "functionCall" in p)
            nxt = contents[i + 1] if i + 1 < len(contents) else {}
            answers = sum(1 for p in nxt.get("parts") or [] if "functionResponse" in p)
            if calls and answers != calls:
                msg = ("Please ensure that function response turn comes immediately after a function call turn."
                       if not answers else
                       "Please ensure that the number of function response parts is equal to the number of "
                       "function call parts of the function call turn.")
                return JsonReply({"error": {"code": 400, "message": msg, "status": "INVALID_ARGUMENT"}}, status=400)
        return None

    # ------------------------------------------------------------------ routes
    async def generate(self, request, rec, b: Behavior):
        if (refused := self.refusal(rec)) is not None:
            return refused
        parts = []
        if b.reasoning is not None:
            parts.append({"text": b.reasoning, "thought": True})
        text = b.get_text()
        if text is not None:
            parts.append({"text": text})
        parts += self._call_parts(b)
        return JsonReply(self._chunk(rec, b, parts, b.finish_reason or "STOP", True, new_id("", 22)))

    async def stream_generate(self, request, rec, b: Behavior):
        if (refused := self.refusal(rec)) is not None:
            return refused
        rid = new_id("", 22)
        part_lists: list[list[dict]] = []
        if b.reasoning is not None:
            part_lists += [[{"text": p, "thought": True}] for p in b.text_chunks(b.reasoning)]
        text = b.get_text()
        if text is not None:
            part_lists += [[{"text": p}] for p in b.text_chunks(text)]
        calls = self._call_parts(b)
        if calls:
            part_lists.append(calls)
        if not part_lists:
            part_lists = [[{"text": ""}]]
        last = len(part_lists) - 1
        chunks = [(None, self._chunk(rec, b, parts, (b.finish_reason or "STOP") if i == last else None,
                                     i == last, rid)) for i, parts in enumerate(part_lists)]
        err = (None, self.error_body(b.status if b.status >= 400 else 500, b))
        if rec.query.get("alt") == "sse":
            return StreamReply(chunks, sse_framer(False, "\r\n"), content_type="text/event-stream", error_event=err)

        def array_framer(i: int, _name, data: str) -> bytes:
            return (("[" if i == 0 else ",") + data + "\n").encode()
        return StreamReply(chunks, array_framer, content_type="application/json; charset=UTF-8",
                           tail=b"]", error_event=err)

    async def count_tokens(self, request, rec, b: Behavior):
        n = b.get_usage().input_tokens
        return JsonReply({"totalTokens": n, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n}]})

    def _dim(self, req: dict) -> int:
        return int(req.get("outputDimensionality") or self.embedding_dim)

    async def embed_content(self, request, rec, b: Behavior):
        return JsonReply({"embedding": {"values": gemini_embedding(0, self._dim(rec.body or {}))}})

    async def batch_embed(self, request, rec, b: Behavior):
        reqs = (rec.body or {}).get("requests") or []
        return JsonReply({"embeddings": [{"values": gemini_embedding(i, self._dim(r))} for i, r in enumerate(reqs)]})

    async def list_models(self, request, rec, b):
        return JsonReply({"models": [
            {"name": f"models/{m}", "baseModelId": m, "version": "001", "displayName": m,
             "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
             "supportedGenerationMethods": ["embedContent", "batchEmbedContents"] if "embedding" in m
             else ["generateContent", "countTokens"]} for m in self.models]})


# ---------------------------------------------------------------------- service accounts

@functools.lru_cache(maxsize=1)
def throwaway_rsa_key_pem() -> str:
    """A 2048-bit RSA private key in PKCS#8 PEM (generated once per process)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def service_account_info(token_uri: str, project_id: str = "fake-project",
                         client_email: str = "relaygate-test@fake-project.iam.gserviceaccount.com") -> dict:
    """A service-account JSON dict whose ``token_uri`` points at the fake token endpoint."""
    return {"type": "service_account", "project_id": project_id, "private_key_id": "fakekeyid0001",
            "private_key": throwaway_rsa_key_pem(), "client_email": client_email, "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/relaygate-test",
            "universe_domain": "googleapis.com"}


def write_service_account_file(path: str | Path, token_uri: str, **kw) -> Path:
    path = Path(path)
    path.write_text(json.dumps(service_account_info(token_uri, **kw), indent=2))
    return path
