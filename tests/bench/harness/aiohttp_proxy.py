#!/usr/bin/env python3
"""Minimal aiohttp passthrough proxy: the practical ceiling for a Python aiohttp gateway.

Reads the request body, forwards it with one shared ClientSession (keep-alive pool),
returns non-streaming bodies whole and streams SSE back chunk by chunk.  uvloop, no
access log.  usage: aiohttp_proxy.py UPSTREAM_BASE_URL [--port P] [--workers N]
"""
import argparse, os, socket
import aiohttp, uvloop
from aiohttp import web

HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-authorization",
       "te", "trailer", "upgrade", "accept-encoding", "content-encoding"}


def make_app(upstream):
    async def on_startup(app):
        app["s"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None),
                                         timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
                                         auto_decompress=False, skip_auto_headers=("User-Agent",))

    async def on_cleanup(app):
        await app["s"].close()

    async def handle(req):
        body = await req.read()
        hdrs = {k: v for k, v in req.headers.items() if k.lower() not in HOP}
        async with req.app["s"].request(req.method, upstream + req.path_qs, data=body, headers=hdrs) as up:
            out = {k: v for k, v in up.headers.items() if k.lower() not in HOP}
            if not up.content_type.startswith("text/event-stream"):
                return web.Response(status=up.status, body=await up.read(), headers=out)
            resp = web.StreamResponse(status=up.status, headers=out)
            await resp.prepare(req)
            async for data in up.content.iter_any():
                await resp.write(data)
            await resp.write_eof()
            return resp

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("upstream")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18200)
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    sock.listen(4096)
    for _ in range(a.workers - 1):  # pre-fork: workers share the listening socket
        if os.fork() == 0:
            break
    uvloop.install()
    web.run_app(make_app(a.upstream.rstrip("/")), sock=sock, access_log=None, print=None, backlog=4096)


if __name__ == "__main__":
    main()
