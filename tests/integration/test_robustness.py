# SPDX-License-Identifier: Apache-2.0
"""Misbehaving clients: disconnects, slow headers, garbage, bad UTF-8, connection churn."""
import json
import socket
import time

from harness import (SLOW, Stream, check, chat_body, eq, expect_error, raw_connect,
                     raw_read_response, run_threads, test, uniq)


def _healthy(gw, what):
    check(gw.alive(), "hiwayd died (%s); log tail:\n%s" % (what, gw.log_tail(5)))
    r = gw.get("/health")
    eq(r.status, 200, "health after %s" % what)
    r = gw.chat(chat_body(), key=gw.key)
    eq(r.status, 200, "a chat request after %s (%r)" % (what, r))


@test
def client_disconnect_mid_stream(ctx):
    gw = ctx.main
    for i in range(3):
        s = gw.stream(chat_body(model="fake/stream-slow",
                                fake={"chunk_delay_ms": 100,
                                      "content": " ".join("x%d" % j for j in range(20))}),
                      key=gw.key)
        eq(s.status, 200, "stream status")
        ev = next(s.events())
        check(ev[1].startswith("{"), "first event %r" % ev[1][:100])
        # hang up abruptly (RST when i is odd)
        sock = s.conn.sock
        if i % 2 and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
    time.sleep(0.3)
    _healthy(gw, "client disconnects mid-stream")
    # the next streams are served in full
    for _ in range(2):
        evs = gw.stream(chat_body(), key=gw.key).read_all()
        eq(evs[-1][1], "[DONE]", "stream after disconnects")


@test
def client_disconnect_while_waiting_upstream(ctx):
    gw = ctx.main
    s = raw_connect(gw.port)
    body = json.dumps(chat_body(model="fake/stream-slow", fake={"headers_delay_ms": 800})).encode()
    s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
               % (gw.key, len(body))).encode() + body)
    time.sleep(0.2)
    s.close()
    time.sleep(1.0)
    _healthy(gw, "a client gone while the upstream was pending")


@test
def slow_client_half_headers(ctx):
    gw = ctx.main
    s = raw_connect(gw.port)
    t0 = time.monotonic()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty")
    # the server must close it within client_timeout_s (5) + slack
    r, raw, closed = raw_read_response(s, 5 + 5 * SLOW)
    dt = time.monotonic() - t0
    s.close()
    check(closed or r is not None, "connection still open after %.1fs" % dt)
    check(dt <= 5 + 4 * SLOW, "closed after %.1fs; client_timeout_s is 5" % dt)
    check(dt >= 3, "closed after only %.1fs; client_timeout_s is 5" % dt)
    if r is not None:
        check(r.status in (400, 408), "answer to a stalled request: %r" % r)
    _healthy(gw, "a slow client")


@test
def slow_client_does_not_block_others(ctx):
    gw = ctx.main
    socks = []
    try:
        for _ in range(10):
            s = raw_connect(gw.port)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        t0 = time.monotonic()
        for _ in range(5):
            eq(gw.get("/health").status, 200, "health while slow clients hang")
        check(time.monotonic() - t0 < 2 * SLOW, "slow clients delayed other requests")
    finally:
        for s in socks:
            s.close()


@test
def garbage_instead_of_http(ctx):
    gw = ctx.main
    payloads = [b"\x00\xff\xfe garbage \x01\x02\r\n\r\n",
                b"HELLO WORLD\r\n\r\n",
                b"GET\r\n\r\n",
                b"GET / HTTP/9.9\r\n\r\n",
                b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                b"GET /health HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
                bytes(range(256)) * 4]
    for p in payloads:
        s = raw_connect(gw.port)
        try:
            s.sendall(p)
            r, raw, closed = raw_read_response(s, 3 * SLOW)
        except OSError:
            r = None
        finally:
            s.close()
        if r is not None:
            check(r.status >= 400, "garbage %r answered %d" % (p[:30], r.status))
    _healthy(gw, "garbage bytes")


@test
def non_utf8_body(ctx):
    gw = ctx.main
    body = b'{"model":"fake/gpt-test","messages":[{"role":"user","content":"\xff\xfe\xc3("}]}'
    r = gw.req("POST", "/v1/chat/completions", body=body, key=gw.key,
               headers={"Content-Type": "application/json"})
    expect_error(r, 400, "invalid_request", "invalid_request_error")
    r = gw.api("POST", "/workspaces", body=b'{"name":"\xff\xfe"}',
               headers={"Content-Type": "application/json"})
    expect_error(r, 400, "invalid_request", "invalid_request_error")
    _healthy(gw, "a non-UTF-8 body")


@test
def parallel_connections_opened_and_dropped(ctx):
    gw = ctx.main

    def churn(i):
        s = raw_connect(gw.port)
        if i % 3 == 1:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        elif i % 3 == 2:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        return True
    res = run_threads(50, churn)
    errs = [r for r in res if r is not True]
    check(not errs, "connecting failed: %r" % errs[:3])
    time.sleep(0.3)
    _healthy(gw, "50 connections opened and dropped")


@test
def keepalive_many_requests_one_connection(ctx):
    import http.client as hc
    gw = ctx.main
    c = hc.HTTPConnection("127.0.0.1", gw.port, timeout=10 * SLOW)
    try:
        for i in range(20):
            body = json.dumps(chat_body()) if i % 2 == 0 else "not json"
            c.request("POST", "/v1/chat/completions", body=body,
                      headers={"Authorization": "Bearer " + gw.key,
                               "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            eq(r.status, 200 if i % 2 == 0 else 400, "request %d on one connection" % i)
    finally:
        c.close()


@test
def pipelined_requests(ctx):
    gw = ctx.main
    s = raw_connect(gw.port)
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        data = b""
        deadline = time.monotonic() + 5 * SLOW
        while data.count(b"HTTP/1.1 200") < 3 and time.monotonic() < deadline:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
        eq(data.count(b"HTTP/1.1 200"), 3, "answers to 3 pipelined requests")
    finally:
        s.close()


@test
def stream_client_never_reads(ctx):
    gw = ctx.main
    # a client that asks for a long stream and never reads: the server must not wedge
    s = raw_connect(gw.port)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    body = json.dumps(chat_body(model="fake/stream-slow",
                                fake={"content": "y" * 20000 + " " + "z" * 20000})).encode()
    s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
               % (gw.key, len(body))).encode() + body)
    time.sleep(0.5)
    _healthy(gw, "a client that does not read its stream")
    s.close()


_ = (Stream, uniq)


@test
def concurrent_disconnects_and_requests(ctx):
    """Many upstream sockets opened and torn down at once (curl removes sockets while the
    worker is still handling the same epoll batch): the gateway must stay up."""
    gw = ctx.main
    deadline = time.monotonic() + 20 * SLOW

    def worker(w):
        errs = []
        for j in range(6):
            if time.monotonic() > deadline:
                break
            if w % 2:
                s = gw.stream(chat_body(model="fake/stream-slow",
                                        fake={"chunk_delay_ms": 20 + w,
                                              "content": " ".join("d%d" % k for k in range(30))}),
                              key=gw.key)
                try:
                    next(s.events())
                except StopIteration:
                    errs.append("stream %d/%d: no event" % (w, j))
                s.close()
            else:
                r = gw.chat(chat_body(), key=gw.key)
                if r.status != 200:
                    errs.append("chat %d/%d: %r" % (w, j, r))
        return errs
    res = run_threads(16, worker)
    errs = [e for r in res for e in (r if isinstance(r, list) else [repr(r)])]
    check(not errs, "%d errors; first: %s" % (len(errs), errs[0] if errs else ""))
    time.sleep(0.5)
    _healthy(gw, "concurrent disconnects")
