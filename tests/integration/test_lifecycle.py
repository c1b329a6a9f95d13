# SPDX-License-Identifier: Apache-2.0
"""Process lifecycle on dedicated gateways: usage records at stop, restart, SIGTERM drain."""
import http.client as hc
import json
import os
import signal
import sqlite3
import threading
import time

from harness import (ASAN, SLOW, check, chat_body, eq, expect_error, http, note, test, uniq)


@test
def usage_records_one_per_authenticated_request(ctx):
    gw = ctx.new_fake_gateway("usage")
    want = {}  # request id -> (status, error code, stream)

    def rec(r, stream=False):
        want[r.header("X-Request-Id")] = (r.status, (r.json.get("error") or {}).get("code")
                                          if r.status != 200 else None, stream)
    r = gw.chat(chat_body(), key=gw.key, headers={"X-HiWay-User": "user-a"})
    eq(r.status, 200, "chat 1")
    rec(r)
    r = gw.chat(chat_body(model="fakeai/gpt-4o-test"), headers={"x-api-key": gw.key})
    eq(r.status, 200, "chat 2")
    rec(r)
    s = gw.stream(chat_body(), key=gw.key)
    eq(s.status, 200, "stream")
    evs = s.read_all()
    eq(evs[-1][1], "[DONE]", "stream end")
    want[s.header("X-Request-Id")] = (200, None, True)
    r = gw.chat({"model": "fake/gpt-test", "messages": []}, key=gw.key)
    eq(r.status, 400, "invalid request")
    rec(r)
    r = gw.chat(chat_body(model="fake/fault-5xx", fake={"status": 503}), key=gw.key)
    eq(r.status, 502, "upstream 503")
    rec(r)
    # unauthenticated: no usage record
    eq(gw.chat(chat_body()).status, 401, "missing key")
    eq(gw.chat(chat_body(), key="hw_live_" + "e" * 32).status, 401, "unknown key")
    eq(gw.get("/health").status, 200, "health")

    t0 = time.monotonic()
    rc = gw.stop()
    dt = time.monotonic() - t0
    eq(rc, 0, "exit status after SIGTERM")
    check(dt < 3 + 2 * SLOW, "idle gateway took %.1fs to stop" % dt)
    probs = gw.sanitizer_problems()
    check(not probs, "sanitizer: %s" % probs[:3])

    db = sqlite3.connect(os.path.join(gw.dir, "hiway.db"))
    try:
        cols = [row[1] for row in db.execute("PRAGMA table_info(usage_records)")]
        check(cols, "no usage_records table")
        for c in ("request_id", "status"):
            check(c in cols, "usage_records has no %s column: %r" % (c, cols))
        rows = [dict(zip(cols, row)) for row in db.execute("SELECT * FROM usage_records")]
    finally:
        db.close()
    got = {r["request_id"]: r for r in rows}
    eq(len(rows), len(want), "usage rows (one per authenticated inference request; got ids %r)"
       % sorted(got))
    eq(set(got), set(want), "request ids of the usage rows")
    for rid, (status, code, stream) in want.items():
        row = got[rid]
        eq(row["status"], status, "status of %s" % rid)
        if "error_code" in row:
            if code:
                eq(row["error_code"], code, "error_code of %s" % rid)
            else:
                check(row["error_code"] in (None, "", "ok"), "error_code %r on a 200"
                      % row["error_code"])
        if "stream" in row:
            eq(bool(row["stream"]), stream, "stream flag of %s" % rid)
        if "workspace_id" in row:
            eq(row["workspace_id"], gw.ws, "workspace_id")
        if "key_id" in row:
            check(str(row["key_id"]).startswith("kid_"), "key_id %r" % row["key_id"])
        if status == 200:
            if "routed_model" in row:
                check(row["routed_model"] in ("fake/gpt-test", "fakeai/gpt-4o-test"),
                      "routed_model %r" % row["routed_model"])
            if "prompt_tokens" in row:
                check(row["prompt_tokens"] > 0 and row["completion_tokens"] > 0,
                      "tokens of %s: %r/%r" % (rid, row["prompt_tokens"],
                                               row["completion_tokens"]))
            if "upstream_cost" in row:
                check(row["upstream_cost"] > 0, "upstream_cost of %s" % rid)
        for bad in ("prompt", "messages", "content", "response"):
            check(bad not in row, "usage_records stores %s" % bad)
    if "end_user" in cols:
        users = [r["end_user"] for r in rows if r["end_user"]]
        eq(users, ["user-a"], "end_user values")
    ctx.shared["usage_gw"] = gw


@test
def restart_keeps_store_no_second_bootstrap(ctx):
    gw = ctx.shared.get("usage_gw")
    check(gw is not None, "needs usage_records_one_per_authenticated_request")
    gw.relaunch()
    check("bootstrap workspace" not in gw.log(), "bootstrap ran again on a non-empty store")
    r = gw.chat(chat_body(), key=gw.key)
    eq(r.status, 200, "bootstrap key after restart (%r)" % r)
    r = gw.api("GET", "/workspaces/%s" % gw.ws)
    eq(r.status, 200, "admin token after restart")
    eq(gw.stop(), 0, "exit status")


@test
def sigterm_drain(ctx):
    gw = ctx.new_fake_gateway("drain")
    short_words = " ".join("s%d" % i for i in range(8))
    long_words = " ".join("l%d" % i for i in range(40))
    # A: ~1.8 s, finishes inside drain_timeout_s (3); B0..B3: ~12 s, cut with reason shutdown
    streams = {"a": gw.stream(chat_body(model="fake/stream-drain",
                                        fake={"chunk_delay_ms": 200, "content": short_words}),
                              key=gw.key)}
    for i in range(4):
        streams["b%d" % i] = gw.stream(chat_body(model="fake/stream-drain",
                                                 fake={"chunk_delay_ms": 300 + 10 * i,
                                                       "content": long_words}), key=gw.key)
    for name, s in streams.items():
        eq(s.status, 200, "stream %s status" % name)
    out = {}

    def drain(name, rest):
        try:
            out[name] = rest.read_all()
        except Exception as e:  # noqa: BLE001
            out[name] = e
    threads = []
    for name, s in streams.items():
        gen = s.events()
        rest = _Rest(s, gen, next(gen))
        t = threading.Thread(target=drain, args=(name, rest), daemon=True)
        t.start()
        threads.append(t)
    t_sig = time.monotonic()
    gw.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)

    # a new request while draining: refused, or 503 shutting_down
    outcome = None
    try:
        r = http(gw.port, "POST", "/v1/chat/completions", body=chat_body(), key=gw.key,
                 timeout=3 * SLOW)
        outcome = r
    except (ConnectionRefusedError, ConnectionResetError, hc.RemoteDisconnected,
            BrokenPipeError) as e:
        outcome = e
    if hasattr(outcome, "status"):
        expect_error(outcome, 503, "shutting_down", "api_error")

    try:
        rc = gw.proc.wait(3 + 4 * SLOW)
    except Exception:  # noqa: BLE001
        rc = None
    t_exit = time.monotonic() - t_sig
    for t in threads:
        t.join(5 * SLOW)
    check(rc is not None, "hiwayd still running %.1fs after SIGTERM (drain_timeout_s 3)" % t_exit)
    gw.rc = rc
    probs = gw.sanitizer_problems()
    check(not probs, "sanitizer: %s (log %s)" % (" | ".join(probs[:3]), gw.log_path))
    eq(rc, 0, "exit status after the drain")
    check(t_exit <= 3 + 3 * SLOW, "exit %.1fs after SIGTERM" % t_exit)

    ev_a = out.get("a")
    check(isinstance(ev_a, list), "stream A: %r" % ev_a)
    eq(ev_a[-1][1] if ev_a else None, "[DONE]", "stream A (short) completes during the drain")
    for i in range(4):
        ev_b = out.get("b%d" % i)
        check(isinstance(ev_b, list) and ev_b, "stream B%d: %r" % (i, ev_b))
        check(all(d != "[DONE]" for _, d in ev_b),
              "stream B%d got [DONE] though it outlived the drain" % i)
        last = json.loads(ev_b[-1][1])
        check("error" in last, "stream B%d does not end with an error event: %r"
              % (i, ev_b[-1][1][:200]))
        eq(last["error"].get("code"), "stream_interrupted", "stream B%d error code" % i)
        eq(last["error"].get("reason"), "shutdown", "stream B%d error reason" % i)
    note("drain: exit %.1fs after SIGTERM; new request during drain -> %s"
         % (t_exit, getattr(outcome, "status", type(outcome).__name__)))


class _Rest:
    """Feeds Stream.read_all() the events left after the first one."""

    def __init__(self, stream, gen, first):
        self.stream, self.gen, self.first = stream, gen, first

    def read_all(self):
        out = [self.first] + list(self.gen)
        self.stream.close()
        return out


_ = (ASAN, uniq)


@test
def sighup_reload(ctx):
    """SIGHUP reloads providers and catalog (SPEC §18); a bad file is rejected and the
    running configuration kept; the process keeps serving throughout."""
    import signal
    gw = ctx.new_fake_gateway("reload")
    added = "fake/added-by-reload"
    body = chat_body(model=added)
    r = gw.chat(body, key=gw.key)
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="model")
    with open(gw.config_path) as f:
        original = f.read()
    with open(gw.config_path, "w") as f:
        f.write(original + "    - {id: \"%s\", tier: light, input_per_mtok: 1, output_per_mtok: 1, "
                "quality: 10, context_window: 8000, max_output_tokens: 1000}\n" % added)
    gw.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5 * SLOW
    while time.monotonic() < deadline:
        r = gw.chat(body, key=gw.key)
        if r.status == 200:
            break
        time.sleep(0.05)
    eq(r.status, 200, "the model added by the reload answers")
    eq(r.header("X-HiWay-Routed-Model"), added, "routed model")
    # a broken file: rejected, the running configuration stays
    with open(gw.config_path, "w") as f:
        f.write(original + "bogus_section: {x: 1}\n")
    gw.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5 * SLOW)
    check(gw.alive(), "gateway still running after a bad reload")
    eq(gw.chat(body, key=gw.key).status, 200, "reloaded model still served after a bad file")
    check("reload rejected" in gw.log(), "rejection logged")


@test
def test_clock_hook(ctx):
    """SPEC §19: builds with HIWAY_TEST_HOOKS (the ASan build here) accept --test-clock and
    expose POST /api/v1/_test/clock to the admin token; release builds have neither."""
    import harness
    if not ASAN:
        gw = ctx.main
        r = gw.api("POST", "/_test/clock", {"advance_s": 60})
        expect_error(r, 404, "not_found", "not_found_error")
        return
    gw = harness.Gateway("test-clock", lambda port, tmp: harness.base_config(port, tmp),
                         args=["--test-clock"])
    ctx.gateways.append(gw)
    gw.start()
    r = gw.api("POST", "/_test/clock", {"set": "2030-01-31T23:59:00Z"})
    eq(r.status, 200, "set: %r" % r)
    eq(r.json["now"][:16], "2030-01-31T23:59", "clock set")
    r = gw.api("POST", "/_test/clock", {"advance_s": 120})
    eq(r.status, 200, "advance")
    eq(r.json["now"][:16], "2030-02-01T00:01", "clock advanced across the month")
    r = gw.api("POST", "/_test/clock", {"advance_s": 1}, key=gw.key)
    expect_error(r, 403, "forbidden", "permission_error")
    r = gw.api("POST", "/_test/clock", {"bogus": 1})
    expect_error(r, 400, "invalid_request", "invalid_request_error")
