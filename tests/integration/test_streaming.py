# SPDX-License-Identifier: Apache-2.0
"""Chat completion streams (SPEC §6.1, §6.2, §6.4)."""
import json
import time

from harness import SLOW, check, chat_body, eq, expect_error, test, uniq


def _headers_ok(s, model):
    eq(s.status, 200, "status")
    eq((s.header("Content-Type") or "").split(";")[0], "text/event-stream", "Content-Type")
    eq(s.header("Cache-Control"), "no-cache", "Cache-Control")
    eq(s.header("X-Accel-Buffering"), "no", "X-Accel-Buffering")
    eq(s.header("X-HiWay-Routed-Model"), model, "X-HiWay-Routed-Model")
    check(s.header("X-HiWay-Routed-Tier"), "X-HiWay-Routed-Tier missing")
    check(s.header("X-HiWay-Routing-Ms"), "X-HiWay-Routing-Ms missing")
    check(s.header("X-Request-Id"), "X-Request-Id missing")
    check(s.header("X-HiWay-Cost-USD") is None, "X-HiWay-Cost-USD on a stream")


def _chunks(evs, model):
    """JSON chunks before [DONE]; checks each chunk's model."""
    out = []
    for _, d in evs:
        if d == "[DONE]":
            continue
        try:
            c = json.loads(d)
        except ValueError:
            raise AssertionError("event is not JSON: %r" % d[:200])
        if "error" in c:
            out.append(c)
            continue
        eq(c.get("model"), model, "chunk model")
        out.append(c)
    return out


def _content(chunks):
    return "".join((ch.get("delta") or {}).get("content") or ""
                   for c in chunks for ch in c.get("choices", []))


@test
def stream_basic(ctx):
    gw = ctx.main
    text = uniq("stream me please")
    s = gw.stream(chat_body(text=text), key=gw.key)
    _headers_ok(s, "fake/gpt-test")
    eq(s.header("X-HiWay-Routed-Tier"), "override", "tier")
    evs = s.read_all()
    check(evs, "no events")
    eq(evs[-1][1], "[DONE]", "last event")
    eq(sum(1 for _, d in evs if d == "[DONE]"), 1, "[DONE] count")
    chunks = _chunks(evs, "fake/gpt-test")
    eq(_content(chunks), "fake: " + text, "content relayed in order")
    for c in chunks:
        check(c.get("choices") != [], "usage chunk passed without include_usage: %r" % c)
        check("_hiway" not in c, "meta chunk without being asked")
        check("error" not in c, "error event in a good stream: %r" % c)
    check(any(ch.get("finish_reason") == "stop" for c in chunks for ch in c["choices"]),
          "no finish_reason chunk")
    ub = ctx.fake.last()["body"]
    eq(ub.get("stream"), True, "upstream stream flag")
    eq((ub.get("stream_options") or {}).get("include_usage"), True,
       "hiway asks the upstream for usage")


@test
def stream_include_usage(ctx):
    gw = ctx.main
    s = gw.stream(chat_body(stream_options={"include_usage": True}), key=gw.key)
    _headers_ok(s, "fake/gpt-test")
    rid = s.header("X-Request-Id")
    evs = s.read_all()
    eq(evs[-1][1], "[DONE]", "last event")
    chunks = _chunks(evs, "fake/gpt-test")
    empty = [i for i, c in enumerate(chunks) if c.get("choices") == []]
    eq(len(empty), 2, "usage chunk + meta chunk (choices []) count")
    usage_c, meta_c = chunks[empty[0]], chunks[empty[1]]
    eq(empty[1], len(chunks) - 1, "meta chunk is the last before [DONE]")
    eq(empty[0], len(chunks) - 2, "usage chunk right before the meta chunk")
    check("_hiway" not in usage_c and usage_c.get("usage"), "upstream usage chunk %r" % usage_c)
    h = meta_c.get("_hiway") or {}
    check(meta_c.get("usage"), "meta chunk has no usage")
    eq(meta_c.get("object"), "chat.completion.chunk", "meta object")
    check(meta_c.get("id") and isinstance(meta_c.get("created"), int), "meta id/created %r" % meta_c)
    eq(h.get("routed_model"), "fake/gpt-test", "_hiway.routed_model")
    eq(h.get("request_id"), rid, "_hiway.request_id")
    eq(h.get("fallback"), False, "_hiway.fallback")
    check(isinstance(h.get("upstream_cost"), (int, float)) and h["upstream_cost"] > 0,
          "settled upstream_cost %r" % h.get("upstream_cost"))


@test
def stream_meta_header(ctx):
    gw = ctx.main
    s = gw.stream(chat_body(), key=gw.key, headers={"X-HiWay-Stream-Meta": "1"})
    _headers_ok(s, "fake/gpt-test")
    evs = s.read_all()
    eq(evs[-1][1], "[DONE]", "last event")
    chunks = _chunks(evs, "fake/gpt-test")
    empty = [c for c in chunks if c.get("choices") == []]
    eq(len(empty), 1, "only the meta chunk has choices [] (no upstream usage chunk)")
    check("_hiway" in empty[0], "meta chunk without _hiway: %r" % empty[0])
    check("_hiway" in chunks[-1], "meta chunk is not the last before [DONE]")


@test
def stream_incremental(ctx):
    gw = ctx.main
    words = " ".join("w%d" % i for i in range(10))
    s = gw.stream(chat_body(model="fake/stream-slow", fake={"chunk_delay_ms": 100, "content": words}),
                  key=gw.key)
    _headers_ok(s, "fake/stream-slow")
    evs = s.read_all()
    eq(evs[-1][1], "[DONE]", "last event")
    content_times = [t for t, d in evs if d != "[DONE]" and
                     _content([json.loads(d)]) != ""]
    check(len(content_times) >= 8, "content events %d" % len(content_times))
    first, last = content_times[0], content_times[-1]
    check(last - first >= 0.6, "events arrived together (first %.3fs, last %.3fs): buffered?"
          % (first, last))
    eq(_content(_chunks(evs, "fake/stream-slow")), words, "content")


def _interrupted(ctx, model, fault, reason, max_s):
    gw = ctx.main
    t0 = time.monotonic()
    s = gw.stream(chat_body(model=model, fake=fault), key=gw.key)
    _headers_ok(s, model)
    rid = s.header("X-Request-Id")
    evs = s.read_all()
    dt = time.monotonic() - t0
    check(evs, "no events")
    check(all(d != "[DONE]" for _, d in evs), "[DONE] after an interrupted stream")
    last = json.loads(evs[-1][1])
    errs = [json.loads(d) for _, d in evs if '"error"' in d and "error" in json.loads(d)]
    eq(len(errs), 1, "error event count")
    check("error" in last, "last event is not the error: %r" % evs[-1][1][:200])
    e = last["error"]
    eq(e.get("type"), "upstream_error", "error.type")
    eq(e.get("code"), "stream_interrupted", "error.code")
    eq(e.get("message"), "Upstream stream interrupted.", "error.message")
    eq(e.get("request_id"), rid, "error.request_id")
    eq(e.get("reason"), reason, "error.reason")
    check(len(evs) >= 2, "no chunk before the error")
    check(dt <= max_s, "interrupted stream took %.1fs" % dt)
    check(s.eof, "connection not closed after the error event")
    return evs


@test
def stream_cut_mid_stream(ctx):
    _interrupted(ctx, "fake/stream-cut", {"cut_after_chunks": 3}, "upstream_eof", 5 * SLOW)


@test
def stream_stall_idle_timeout(ctx):
    t0 = time.monotonic()
    _interrupted(ctx, "fake/stream-stall", {"stall_after_chunks": 2}, "idle_timeout",
                 1.0 + 3 * SLOW)
    check(time.monotonic() - t0 >= 0.9, "idle timeout fired before idle_ms")


@test
def stream_malformed_mid_stream(ctx):
    _interrupted(ctx, "fake/stream-malformed", {"malformed": True, "malformed_after_chunks": 2},
                 "malformed", 5 * SLOW)


@test
def stream_error_before_first_event_is_json(ctx):
    gw = ctx.main
    s = gw.stream(chat_body(model="fake/fault-5xx", fake={"status": 503}), key=gw.key)
    expect_error(s.body_resp(), 502, "upstream_unavailable", "upstream_error",
                 fallback_chain=[{"model": "fake/fault-5xx", "error": "503"}])
    s = gw.stream(chat_body(model="fake/fault-reject", fake={"status": 400}), key=gw.key)
    expect_error(s.body_resp(), 400, "upstream_rejected", "invalid_request_error",
                 upstream_status=400)
    s = gw.stream(chat_body(model="fake/fault-auth", fake={"status": 401}), key=gw.key)
    expect_error(s.body_resp(), 502, "upstream_auth_failed", "upstream_error")
    s = gw.stream(chat_body(model="dead/gpt-dead"), key=gw.key)
    expect_error(s.body_resp(), 502, "upstream_unavailable", "upstream_error",
                 fallback_chain=[{"model": "dead/gpt-dead", "error": "connect_error"}])


@test
def stream_first_byte_timeout(ctx):
    gw = ctx.main
    t0 = time.monotonic()
    s = gw.stream(chat_body(model="fake/fault-timeout", fake={"first_byte_delay_ms": 3500}),
                  key=gw.key)
    r = s.body_resp()
    dt = time.monotonic() - t0
    expect_error(r, 504, "upstream_timeout", "upstream_error",
                 fallback_chain=[{"model": "fake/fault-timeout", "error": "timeout"}])
    check(1.5 <= dt <= 3.4 + SLOW, "504 after %.2fs; first_byte_ms is 2000" % dt)


@test
def stream_malformed_before_first_event(ctx):
    gw = ctx.main
    s = gw.stream(chat_body(model="fake/fault-malformed", fake={"malformed": True,
                                                               "malformed_after_chunks": 0}),
                  key=gw.key)
    expect_error(s.body_resp(), 502, "upstream_unavailable", "upstream_error",
                 fallback_chain=[{"model": "fake/fault-malformed", "error": "malformed_response"}])


@test
def stream_tool_call_deltas(ctx):
    gw = ctx.main
    tools = [{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}]
    s = gw.stream(chat_body(tools=tools), key=gw.key)
    _headers_ok(s, "fake/gpt-test")
    evs = s.read_all()
    eq(evs[-1][1], "[DONE]", "last event")
    chunks = _chunks(evs, "fake/gpt-test")
    deltas = [tc for c in chunks for ch in c.get("choices", [])
              for tc in (ch.get("delta") or {}).get("tool_calls") or []]
    check(deltas, "no tool_calls deltas")
    eq(deltas[0].get("id"), "call_fake_0", "first delta id")
    eq(deltas[0]["function"].get("name"), "get_time", "first delta name")
    args = "".join(d.get("function", {}).get("arguments") or "" for d in deltas)
    eq(args, "{}", "arguments pieces")
    check(any(ch.get("finish_reason") == "tool_calls" for c in chunks for ch in c["choices"]),
          "finish_reason tool_calls missing")


@test
def stream_openai_kind(ctx):
    gw = ctx.main
    s = gw.stream(chat_body(model="fakeai/gpt-4o-test"), key=gw.key)
    _headers_ok(s, "fakeai/gpt-4o-test")
    evs = s.read_all()
    eq(evs[-1][1], "[DONE]", "last event")
    _chunks(evs, "fakeai/gpt-4o-test")
    ub = ctx.fake.last()["body"]
    eq((ub.get("stream_options") or {}).get("include_usage"), True, "stream_options sent")


@test
def stream_fallback_headers_name_answering_model(ctx):
    gw = ctx.main
    s = gw.stream(chat_body(model="heavy", stream_options={"include_usage": True}), key=gw.key)
    _headers_ok(s, "fake/gpt-backup")
    evs = s.read_all()
    eq(evs[-1][1], "[DONE]", "last event")
    chunks = _chunks(evs, "fake/gpt-backup")
    h = chunks[-1].get("_hiway") or {}
    eq(h.get("fallback"), True, "_hiway.fallback in meta chunk")
    eq(h.get("fallback_chain"), [{"model": "dead/gpt-dead", "error": "connect_error"}],
       "_hiway.fallback_chain")


@test
def stream_slow_client_backpressure(ctx):
    """A client that reads slower than its provider writes: hiway holds the provider instead
    of buffering the whole answer, then relays all of it, in order, once the client reads."""
    import time
    import harness
    fp, dp = ctx.fake.port, ctx.dead_port()
    gw = harness.Gateway("backpressure", lambda port, tmp: harness.base_config(port, tmp).replace(
        "max_body_bytes: 65536", "max_body_bytes: 1048576") + harness.fake_config(fp, dp))
    ctx.gateways.append(gw)
    gw.start()
    words = " ".join("w%05d" % i for i in range(40000))  # about 8 MiB of events
    rss0 = gw.rss_kib()
    s = gw.stream(chat_body(model="fake/stream-slow", fake={"content": words}), key=gw.key,
                  timeout=30 * SLOW)
    eq(s.status, 200, "status")
    time.sleep(2)  # reads nothing for a while, under client_timeout_s (5 s here)
    grown = gw.rss_kib() - rss0
    if harness.ASAN:
        harness.note("backpressure RSS check skipped under ASan (shadow memory, quarantine)")
    else:
        check(grown < 6 * 1024, "gateway buffered %d KiB for a stalled reader" % grown)
    evs = s.read_all()
    eq(evs[-1][1], "[DONE]", "last event")
    eq(_content(_chunks(evs, "fake/stream-slow")), words, "whole answer in order")
