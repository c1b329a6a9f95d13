# SPDX-License-Identifier: Apache-2.0
"""Fallback, the fault matrix and circuit breakers (SPEC §9, issue 3).

A dedicated gateway routes the `light` tier over four fake models in a known order
(fb-a primary, then fb-b, fb-c, fb-d); the fake fails only the models a request names in
`fake.only_model`, so one request can fail its primary and succeed on a fallback. Every
fault is checked as the client sees it, without and with streaming."""
import json
import re
import time

from harness import (SLOW, Gateway, base_config, check, chat_body, eq, expect_error, test, uniq)

_TIMEOUTS = ("timeouts: {connect_ms: 1000, first_byte_ms: 2000, response_ms: 3000, idle_ms: 1000, "
             "total_ms: 10000}")


def _models(ctx, names):
    lines = []
    for mid, tier, price, quality in names:
        lines.append("    - {id: \"%s\", tier: %s, input_per_mtok: %s, output_per_mtok: %s, "
                     "quality: %d, context_window: 128000, max_output_tokens: 4096, region: local}\n"
                     % (mid, tier, price, price, quality))
    return ("providers:\n"
            "  fake: {kind: openai_compatible, base_url: \"http://127.0.0.1:%d/v1\"}\n"
            "  dead: {kind: openai_compatible, base_url: \"http://127.0.0.1:%d/v1\"}\n"
            "catalog:\n  builtin: false\n  models:\n" % (ctx.fake.port, ctx.dead_port())
            + "".join(lines))


FB_MODELS = [("fake/fb-a", "light", 1, 90), ("fake/fb-b", "light", 2, 10),
             ("fake/fb-c", "light", 3, 10), ("fake/fb-d", "light", 4, 10),
             ("dead/fb-dead", "standard", 0.5, 99), ("fake/fb-s", "standard", 2, 10)]


def _gateway(ctx, name, upstream, models):
    extra = _models(ctx, models)
    gw = Gateway(name, lambda port, tmp: base_config(port, tmp, upstream) + extra)
    ctx.gateways.append(gw)
    return gw.start()


def _fb(ctx):
    if "fb" not in ctx.shared:
        # Circuits never open here, cool-downs last at most 1 s, answers over 6 KiB are
        # oversized.
        ctx.shared["fb"] = _gateway(ctx, "fallback", ", breaker: {failures: 1000, max_cooldown_s: 1}"
                                    ", max_response_bytes: 6144", FB_MODELS)
    return ctx.shared["fb"]


def _ask(gw, stream, fault=None, ask="light", headers=None):
    body = chat_body(model=ask, text=uniq("fallback"))
    if fault is not None:
        body["fake"] = fault
    if not stream:
        return gw.chat(body, key=gw.key, headers=headers), None
    s = gw.stream(body, key=gw.key, headers=headers)
    if s.status != 200:
        return s.body_resp(), None
    return None, (s, s.read_all())


def _answered_by(gw, stream, fault, model, chain, **kw):
    """The request succeeds on `model` after the failures in `chain`."""
    r, st = _ask(gw, stream, fault, **kw)
    if not stream:
        eq(r.status, 200, "status (%r)" % r)
        eq(r.header("X-HiWay-Routed-Model"), model, "X-HiWay-Routed-Model")
        eq(r.json.get("model"), model, "body model")
        h = r.json.get("_hiway") or {}
    else:
        check(st is not None, "stream answered with an error: %r" % (r,))
        s, evs = st
        eq(s.header("X-HiWay-Routed-Model"), model, "X-HiWay-Routed-Model")
        eq(evs[-1][1], "[DONE]", "last event")
        chunks = [json.loads(d) for _, d in evs if d != "[DONE]"]
        check(all(c.get("model") == model for c in chunks), "chunk models")
        meta = [c for c in chunks if "_hiway" in c]
        eq(len(meta), 1, "meta chunks (X-HiWay-Stream-Meta)")
        h = meta[0]["_hiway"]
    eq(h.get("fallback_chain"), chain, "_hiway.fallback_chain")
    eq(h.get("fallback"), bool(chain), "_hiway.fallback")
    eq("fallback" in (h.get("reason") or ""), bool(chain), "reason %r" % h.get("reason"))
    eq(h.get("routed_model"), model, "_hiway.routed_model")


META = {"X-HiWay-Stream-Meta": "1"}


def _answered_by_one(gw, stream, f, error):
    kw = {"headers": META} if stream else {}
    _answered_by(gw, stream, f, "fake/fb-b", [{"model": "fake/fb-a", "error": error}], **kw)


def _fallback_fault(ctx, fault, error, modes=(False, True)):
    gw = _fb(ctx)
    f = dict(fault, only_model="fb-a")
    for stream in modes:
        _answered_by_one(gw, stream, f, error)


# ---------------------------------------------------------------- faults that fall back

@test
def fault_connection_refused(ctx):
    gw = _fb(ctx)
    for stream in (False, True):
        kw = {"headers": META} if stream else {}
        _answered_by(gw, stream, None, "fake/fb-s",
                     [{"model": "dead/fb-dead", "error": "connect_error"}], ask="standard", **kw)


@test
def fault_500(ctx):
    _fallback_fault(ctx, {"status": 500}, "500")


@test
def fault_503(ctx):
    _fallback_fault(ctx, {"status": 503}, "503")


@test
def fault_429_without_retry_after(ctx):
    _fallback_fault(ctx, {"status": 429}, "429")


@test
def fault_hang_before_headers(ctx):
    # the engine counts connect_ms (1 s) in: past response_ms (3 s) and first_byte_ms (2 s)
    _fallback_fault(ctx, {"headers_delay_ms": 4500}, "timeout")


@test
def fault_slow_first_byte(ctx):
    gw = _fb(ctx)
    # streaming: past connect_ms + first_byte_ms (3 s), so the next candidate answers
    _answered_by_one(gw, True, {"first_byte_delay_ms": 3500, "only_model": "fb-a"}, "timeout")
    # not streaming: within response_ms (3 s), so the slow primary still answers
    _answered_by(gw, False, {"first_byte_delay_ms": 2000, "only_model": "fb-a"}, "fake/fb-a", [])


@test
def fault_malformed_json(ctx):
    _fallback_fault(ctx, {"malformed": True}, "malformed_response", modes=(False,))


@test
def fault_malformed_sse_before_first_event(ctx):
    _fallback_fault(ctx, {"malformed": True, "malformed_after_chunks": 0}, "malformed_response",
                    modes=(True,))


@test
def fault_oversized_response(ctx):
    big = " ".join(["word"] * 2000)  # about 10 KiB, over max_response_bytes (6 KiB)
    _fallback_fault(ctx, {"content": big}, "malformed_response", modes=(False,))


@test
def fault_wrong_content_type(ctx):
    _fallback_fault(ctx, {"content_type": "text/html"}, "malformed_response")


@test
def fault_empty_body(ctx):
    _fallback_fault(ctx, {"empty_body": True}, "malformed_response")


@test
def fault_early_eof_before_first_event(ctx):
    _fallback_fault(ctx, {"cut_after_chunks": 0}, "malformed_response", modes=(True,))


@test
def fault_429_with_retry_after_cools_down(ctx):
    gw = _fb(ctx)
    _answered_by_one(gw, False, {"status": 429, "retry_after": 1, "only_model": "fb-a"}, "429")
    # fb-a cools down (capped at max_cooldown_s = 1 s): skipped, so fb-b answers first-hand
    _answered_by(gw, False, None, "fake/fb-b", [])
    time.sleep(1.2)
    _answered_by(gw, False, None, "fake/fb-a", [])


# ---------------------------------------------------------------- faults that do not

@test
def fault_auth_not_retried(ctx):
    gw = _fb(ctx)
    for stream in (False, True):
        before = ctx.fake.requests()
        r, st = _ask(gw, stream, {"status": 401, "only_model": "fb-a"})
        check(st is None, "401 streamed")
        expect_error(r, 502, "upstream_auth_failed", "upstream_error", provider="fake",
                     upstream_status=401)
        eq(ctx.fake.requests() - before, 1, "upstream calls")


@test
def fault_rejected_not_retried(ctx):
    gw = _fb(ctx)
    for stream in (False, True):
        before = ctx.fake.requests()
        r, st = _ask(gw, stream, {"status": 422, "only_model": "fb-a"})
        check(st is None, "422 streamed")
        expect_error(r, 400, "upstream_rejected", "invalid_request_error", upstream_status=422)
        eq(ctx.fake.requests() - before, 1, "upstream calls")


def _interrupted(st, reason):
    check(st is not None, "no stream")
    s, evs = st
    check(all(d != "[DONE]" for _, d in evs), "[DONE] after a broken stream")
    last = json.loads(evs[-1][1])
    eq((last.get("error") or {}).get("code"), "stream_interrupted", "last event %r" % evs[-1][1][:200])
    eq(last["error"].get("reason"), reason, "reason")
    eq(s.header("X-HiWay-Routed-Model"), "fake/fb-a", "no fallback after the first byte")


@test
def fault_stall_mid_stream(ctx):
    gw = _fb(ctx)
    _, st = _ask(gw, True, {"stall_after_chunks": 2, "only_model": "fb-a"})
    _interrupted(st, "idle_timeout")


@test
def fault_cut_mid_stream(ctx):
    gw = _fb(ctx)
    _, st = _ask(gw, True, {"cut_after_chunks": 2, "only_model": "fb-a"})
    _interrupted(st, "upstream_eof")


@test
def fault_malformed_sse_mid_stream(ctx):
    gw = _fb(ctx)
    _, st = _ask(gw, True, {"malformed": True, "malformed_after_chunks": 2, "only_model": "fb-a"})
    _interrupted(st, "malformed")


@test
def fault_oversized_stream_mid_stream(ctx):
    gw = _fb(ctx)
    big = " ".join(["word"] * 2000)
    _, st = _ask(gw, True, {"content": big, "only_model": "fb-a"})
    _interrupted(st, "malformed")


# ---------------------------------------------------------------- when everything fails

ALL = ["fb-a", "fb-b", "fb-c", "fb-d"]


@test
def all_attempts_5xx_502(ctx):
    gw = _fb(ctx)
    for stream in (False, True):
        before = ctx.fake.requests()
        r, _ = _ask(gw, stream, {"status": 503, "only_model": ALL})
        # max_attempts is 3: fb-d is never tried
        expect_error(r, 502, "upstream_unavailable", "upstream_error",
                     fallback_chain=[{"model": "fake/fb-" + x, "error": "503"} for x in "abc"])
        eq(ctx.fake.requests() - before, 3, "upstream calls")


@test
def all_attempts_429(ctx):
    gw = _fb(ctx)
    r, _ = _ask(gw, False, {"status": 429, "only_model": ALL})
    expect_error(r, 429, "upstream_rate_limited", "rate_limit_error", retry_after_seconds=1,
                 provider="fake",
                 fallback_chain=[{"model": "fake/fb-" + x, "error": "429"} for x in "abc"])
    eq(r.header("Retry-After"), "1", "Retry-After")


@test
def all_attempts_timeout_504(ctx):
    gw = _fb(ctx)
    t0 = time.monotonic()
    r, _ = _ask(gw, True, {"first_byte_delay_ms": 3500, "only_model": ALL})
    expect_error(r, 504, "upstream_timeout", "upstream_error",
                 fallback_chain=[{"model": "fake/fb-" + x, "error": "timeout"} for x in "abc"])
    check(time.monotonic() - t0 < 3 * 3 + 3 * SLOW, "took %.1fs" % (time.monotonic() - t0))


@test
def mixed_failures_502(ctx):
    gw = _fb(ctx)
    r, _ = _ask(gw, False, {"status": 500, "only_model": ["fb-a", "fb-c"]})
    eq(r.status, 200, "fb-b answers: %r" % r)
    eq(r.json["_hiway"]["fallback_chain"], [{"model": "fake/fb-a", "error": "500"}], "chain")


@test
def pinned_model_never_falls_back(ctx):
    gw = _fb(ctx)
    before = ctx.fake.requests()
    r, _ = _ask(gw, False, {"status": 503, "only_model": "fb-a"}, ask="fake/fb-a")
    expect_error(r, 502, "upstream_unavailable", "upstream_error",
                 fallback_chain=[{"model": "fake/fb-a", "error": "503"}])
    eq(ctx.fake.requests() - before, 1, "upstream calls")


@test
def fallback_counted_in_metrics(ctx):
    gw = _fb(ctx)
    _answered_by_one(gw, False, {"status": 503, "only_model": "fb-a"}, "503")
    text = gw.get("/metrics").body.decode()
    m = re.search(r'^hiway_upstream_fallbacks_total\{tier="light"\} (\d+)$', text, re.M)
    check(m and int(m.group(1)) >= 1, "fallback counter missing")
    check(re.search(r'^hiway_upstream_requests_total\{provider="fake",model="fb-a",'
                    r'outcome="http_5xx"\} \d+$', text, re.M), "upstream outcome counter")


# ---------------------------------------------------------------- circuit breaker

BR_MODELS = [("fake/br-a", "light", 1, 90), ("fake/br-b", "light", 2, 10)]


def _br(ctx, name):
    return _gateway(ctx, name, ", breaker: {failures: 2, open_s: 1, max_cooldown_s: 1}", BR_MODELS)


def _state(gw, model):
    text = gw.get("/metrics").body.decode()
    m = re.search(r'^hiway_circuit_breaker_state\{provider="fake",model="%s"\} (\d)$' % model,
                  text, re.M)
    check(m, "no breaker state for %s" % model)
    return int(m.group(1))


@test
def breaker_opens_probes_and_closes(ctx):
    gw = _br(ctx, "breaker")
    fail = {"status": 500, "only_model": "br-a"}
    for _ in range(2):
        r, _ = _ask(gw, False, fail, ask="fake/br-a")
        eq(r.status, 502, "failure status")
    eq(_state(gw, "br-a"), 2, "state after 2 failures (open)")
    eq(gw.get("/health").json.get("circuits_open"), 1, "/health circuits_open")
    before = ctx.fake.requests()
    r, _ = _ask(gw, False, None, ask="fake/br-a")
    expect_error(r, 502, "upstream_unavailable", "upstream_error",
                 fallback_chain=[{"model": "fake/br-a", "error": "circuit_open"}])
    eq(ctx.fake.requests() - before, 0, "an open circuit sends nothing upstream")
    # the tier skips the open model: br-b answers first-hand
    _answered_by(gw, False, None, "fake/br-b", [])
    time.sleep(1.2)
    eq(_state(gw, "br-a"), 1, "half-open after open_s")
    # a failed probe opens the circuit again
    r, _ = _ask(gw, False, fail, ask="fake/br-a")
    eq(r.status, 502, "probe failure")
    eq(_state(gw, "br-a"), 2, "open again after a failed probe")
    time.sleep(1.2)
    r, _ = _ask(gw, False, None, ask="fake/br-a")
    eq(r.status, 200, "successful probe (%r)" % r)
    eq(_state(gw, "br-a"), 0, "closed after a successful probe")
    eq(gw.get("/health").json.get("circuits_open"), 0, "/health circuits_open")


@test
def breaker_counts_consecutive_failures_only(ctx):
    gw = _br(ctx, "breaker-reset")
    fail = {"status": 503, "only_model": "br-a"}
    for _ in range(3):
        _ask(gw, False, fail, ask="fake/br-a")
        r, _ = _ask(gw, False, None, ask="fake/br-a")
        eq(r.status, 200, "a success resets the count (%r)" % r)
    eq(_state(gw, "br-a"), 0, "still closed")
    # 4xx answers are not breaker failures
    for _ in range(3):
        _ask(gw, False, {"status": 400, "only_model": "br-a"}, ask="fake/br-a")
    eq(_state(gw, "br-a"), 0, "closed after 4xx")


# ---------------------------------------------------------------- keep-alive closed by the upstream

@test
def fault_upstream_closes_keepalive(ctx):
    """The provider closes its connection after each answer (`Connection: close`, or an idle
    keep-alive connection shut right after answering): the next requests must still be
    answered first-hand, whether the pooled connection was dropped or found dead."""
    gw = _fb(ctx)
    for mode in (True, "idle"):
        f = {"close_keepalive": mode, "only_model": "fb-a"}
        for stream in (False, True):
            for _ in range(4):
                kw = {"headers": META} if stream else {}
                _answered_by(gw, stream, f, "fake/fb-a", [], **kw)
