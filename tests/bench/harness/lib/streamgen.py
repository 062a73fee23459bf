#!/usr/bin/env python3
"""Closed-loop HTTP/1.1 load generator for SSE streams (and plain requests).

Raw asyncio.Protocol + httptools response parser + uvloop: cheap enough to drive
thousands of chunks/s from one core.  Per request it records
  ttfb  : send -> response headers complete
  ttft  : send -> first body bytes carrying a token (first SSE content chunk)
  total : send -> end of response
and counts SSE events ("data:") and tokens (the fake upstream's token text "tok ").

Throughput (rps, tokens_per_s) counts completions and tokens that arrive inside the window
[warmup, duration], whatever time their request started; latency percentiles come from the
requests that started inside the window (they may finish after it).

Modes:
  --duration D     C connections loop requests for D seconds (throughput/latency)
  --once           each of C connections makes exactly one request, starts spread
                   over --ramp seconds (used for the N-open-streams memory test)
Prints one JSON object on stdout.
"""
import argparse, asyncio, json, sys, time
from urllib.parse import urlsplit
import httptools

now = time.perf_counter
TOKEN = b"tok "
DATA = b"data:"


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)


WIN = {"from": 0.0, "to": float("inf"), "tokens": 0, "done": 0}  # measurement window counters


class Conn(asyncio.Protocol):
    def __init__(self):
        self.tr = None
        self.closed = False
        self.fut = None

    def connection_made(self, tr):
        self.tr = tr

    def connection_lost(self, exc):
        self.closed = True
        if self.fut is not None and not self.fut.done():
            # EOF-delimited body counts as complete if headers arrived
            if self.t_hdr is not None and self.status == 200 and self.clen is None:
                self.t_end = now()
                self.fut.set_result(False)
            else:
                self.fut.set_exception(ConnectionError("closed: %r" % (exc,)))

    def start(self, fut, req):
        self.parser = httptools.HttpResponseParser(self)
        self.fut = fut
        self.t_hdr = self.t_tok = self.t_end = None
        self.status = None
        self.clen = None
        self.ntok = self.nev = 0
        self.carry_t = self.carry_d = b""
        self.done_seen = False
        self.nbytes = 0
        self.t0 = now()
        self.tr.write(req)

    def data_received(self, data):
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            if self.fut and not self.fut.done():
                self.fut.set_exception(e)

    def on_header(self, name, value):
        if name.lower() == b"content-length":
            self.clen = int(value)

    def on_headers_complete(self):
        self.t_hdr = now()
        self.status = self.parser.get_status_code()

    def on_body(self, b):
        self.nbytes += len(b)
        bt = self.carry_t + b
        nt = bt.count(TOKEN) - self.carry_t.count(TOKEN)
        self.carry_t = bt[-3:]
        bd = self.carry_d + b
        self.nev += bd.count(DATA) - self.carry_d.count(DATA)
        self.carry_d = bd[-4:]
        if nt:
            t = now()
            if WIN["from"] <= t <= WIN["to"]:
                WIN["tokens"] += nt
            if self.ntok == 0:
                self.t_tok = now()
            self.ntok += nt
        if not self.done_seen and b"[DONE]" in bd:
            self.done_seen = True

    def on_message_complete(self):
        self.t_end = now()
        if WIN["from"] <= self.t_end <= WIN["to"] and self.parser.get_status_code() == 200:
            WIN["done"] += 1
        if self.fut is not None and not self.fut.done():
            self.fut.set_result(self.parser.should_keep_alive())


async def main_async(a):
    u = urlsplit(a.url)
    host, port = u.hostname, u.port or 80
    path = (u.path.rstrip("/") + a.path) if a.path else (u.path or "/")
    body = a.body.encode()
    hdr = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
           f"Content-Length: {len(body)}", "Accept: text/event-stream" if a.stream else "Accept: */*"]
    if a.key:
        hdr.append(f"Authorization: Bearer {a.key}")
        hdr.append(f"x-api-key: {a.key}")
    req = ("\r\n".join(hdr) + "\r\n\r\n").encode() + body
    loop = asyncio.get_running_loop()
    res = {"ttfb": [], "ttft": [], "total": [], "tokens": 0, "events": 0, "bytes": 0, "ok": 0,
           "errors": 0, "bad_status": {}, "short_streams": 0, "no_done": 0, "err_samples": []}
    t_start = now()
    deadline = t_start + a.duration if not a.once else None
    measure_from = t_start + a.warmup
    if not a.once:
        WIN["from"], WIN["to"] = measure_from, deadline
        # tell a supervising process (run.py) when the window opens/closes, for CPU accounting
        mark = lambda w: print(w, file=sys.stderr, flush=True)
        loop.call_later(max(0.0, measure_from - now()), mark, "WINDOW_START")
        loop.call_later(max(0.0, deadline - now()), mark, "WINDOW_END")

    async def one(conn):
        fut = loop.create_future()
        conn.start(fut, req)
        try:
            ka = await asyncio.wait_for(fut, a.timeout)
        except Exception as e:
            res["errors"] += 1
            if len(res["err_samples"]) < 5:
                res["err_samples"].append(repr(e)[:200])
            conn.tr.close()
            return False
        t0 = conn.t0
        if t0 >= measure_from or a.once:
            if conn.status != 200:
                res["bad_status"][str(conn.status)] = res["bad_status"].get(str(conn.status), 0) + 1
            else:
                res["ok"] += 1
                res["ttfb"].append(conn.t_hdr - t0)
                if conn.t_tok is not None:
                    res["ttft"].append(conn.t_tok - t0)
                res["total"].append(conn.t_end - t0)
                res["tokens"] += conn.ntok
                res["events"] += conn.nev
                res["bytes"] += conn.nbytes
                if a.expect_tokens and conn.ntok != a.expect_tokens:
                    res["short_streams"] += 1
                if a.stream and not conn.done_seen:
                    res["no_done"] += 1
        if not ka:
            conn.tr.close()
        return ka and not conn.closed

    async def worker(i):
        if a.once and a.ramp > 0:
            await asyncio.sleep(a.ramp * i / max(1, a.concurrency))
        conn = None
        while True:
            if conn is None:
                try:
                    _, conn = await asyncio.wait_for(loop.create_connection(Conn, host, port), a.timeout)
                except Exception as e:
                    res["errors"] += 1
                    if len(res["err_samples"]) < 5:
                        res["err_samples"].append("connect: " + repr(e)[:200])
                    await asyncio.sleep(0.05)
                    if a.once or now() >= deadline:
                        return
                    continue
            keep = await one(conn)
            if not keep:
                conn = None
            if a.once or now() >= deadline:
                break
        if conn is not None:
            conn.tr.close()

    await asyncio.gather(*(worker(i) for i in range(a.concurrency)))
    t_end = now()
    elapsed = t_end - max(measure_from, t_start) if not a.once else t_end - t_start
    ms = lambda x: None if x is None else round(x * 1000, 3)
    if a.once:
        rps = res["ok"] / elapsed if elapsed > 0 else None
        tps = res["tokens"] / elapsed if elapsed > 0 else None
    else:  # throughput = completions / tokens that happened inside the window, whenever the request started
        win = WIN["to"] - WIN["from"]
        rps, tps = WIN["done"] / win, WIN["tokens"] / win
    out = {
        "mode": "once" if a.once else "duration", "concurrency": a.concurrency, "elapsed_s": round(elapsed, 3),
        "ok": res["ok"], "errors": res["errors"], "bad_status": res["bad_status"], "err_samples": res["err_samples"],
        "rps": None if rps is None else round(rps, 2),
        "tokens": res["tokens"], "events": res["events"], "bytes": res["bytes"],
        "tokens_per_s": None if tps is None else round(tps, 1),
        "window_done": None if a.once else WIN["done"], "window_tokens": None if a.once else WIN["tokens"],
        "short_streams": res["short_streams"], "no_done": res["no_done"],
    }
    for k in ("ttfb", "ttft", "total"):
        xs = res[k]
        out[k + "_p50_ms"] = ms(pct(xs, 50))
        out[k + "_p90_ms"] = ms(pct(xs, 90))
        out[k + "_p99_ms"] = ms(pct(xs, 99))
        out[k + "_mean_ms"] = ms(sum(xs) / len(xs)) if xs else None
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:18100")
    ap.add_argument("--path", default="/v1/chat/completions")
    ap.add_argument("--body", required=True)
    ap.add_argument("--key", default="")
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--concurrency", "-c", type=int, default=16)
    ap.add_argument("--duration", "-d", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=0.0, help="seconds at start not recorded")
    ap.add_argument("--once", action="store_true")
    ap.add_argument("--ramp", type=float, default=0.0)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--expect-tokens", type=int, default=0)
    a = ap.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main_async(a))


if __name__ == "__main__":
    main()
