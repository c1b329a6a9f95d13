# SPDX-License-Identifier: Apache-2.0
"""Per-key RPM and Guardian end to end (SPEC §3 steps 9-10, §11, §16.2 guardian, §20.1):
429 rate_limit_exceeded with its exact Retry-After, dedup across both endpoints, 413
context_bloat, a looping key tripping dedup and then zombie_agent under the test clock
(the ASan/TEST_HOOKS build only; skipped with a note elsewhere), the settings API, and
refused requests costing nothing.

The harness's base configuration turns Guardian off; these gateways turn it on with the
defaults except a small context_bloat ceiling (bodies are capped at 64 KiB here)."""
import json
import re
import subprocess
import time

from test_webhooks import Receiver

from harness import (ASAN, HIWAYCTL, SLOW, Gateway, base_config, chat_body, check, clean_env, eq,
                     expect_error, fake_config, note, test, uniq)

MASTER = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
GUARDIAN = ("guardian: {enabled: true, context_bloat: {max_prompt_tokens: 2000},"
            " zombie_agent: {window_s: 1800, min_requests: 10, max_gap_s: 300}}")


def gateway(ctx):
    if "gw_guardian" not in ctx.shared or not ctx.shared["gw_guardian"].alive():
        fp, dp = ctx.fake.port, ctx.dead_port()

        def cfg(port, tmp):
            return (base_config(port, tmp).replace("guardian: {enabled: false}", GUARDIAN)
                    + fake_config(fp, dp) + "secrets: {master_key: \"%s\"}\n" % MASTER
                    + "webhooks: {workers: 1, timeout_s: 2, retry_schedule_s: [1, 1, 1]}\n")
        gw = Gateway("guardian", cfg, args=["--test-clock"] if ASAN else [])
        ctx.gateways.append(gw)
        ctx.shared["gw_guardian"] = gw.start()
    return ctx.shared["gw_guardian"]


def fresh_key(ctx, gw, ws=None, **fields):
    fields.setdefault("rpm_limit", None)
    return ctx.create_key(gw, ws=ws, **fields)


def has_clock(gw):
    r = gw.api("POST", "/_test/clock", {"advance_s": 0})
    if r.status == 404:
        return False
    eq(r.status, 200, "test clock (%r)" % r)
    return True


@test
def rpm_limit_429_with_exact_retry_after(ctx):
    gw = gateway(ctx)
    key, _ = fresh_key(ctx, gw, rpm_limit=3)
    for i in range(3):
        r = gw.chat(chat_body(), key=key)
        eq(r.status, 200, "request %d within the limit (%r)" % (i + 1, r))
    r = gw.chat(chat_body(), key=key)
    expect_error(r, 429, "rate_limit_exceeded", "rate_limit_error",
                 message="Per-key rate limit exceeded (3 req/min).", limit=3)
    ra = r.json["error"]["retry_after_seconds"]
    check(isinstance(ra, int) and 55 <= ra <= 60, "retry_after_seconds %r" % ra)
    eq(r.header("Retry-After"), str(ra), "Retry-After equals retry_after_seconds")
    # A refused request takes no slot: the next one is refused the same way.
    r = gw.chat(chat_body(), key=key)
    expect_error(r, 429, "rate_limit_exceeded", limit=3)
    m = gw.get("/metrics")
    check(re.search(r"^hiway_rate_limited_total [1-9]", m.body.decode(), re.M),
          "hiway_rate_limited_total not counted")


@test
def dedup_fourth_identical_prompt_blocked_on_both_endpoints(ctx):
    gw = gateway(ctx)
    key, _ = fresh_key(ctx, gw)
    text = uniq("same prompt")
    for i in range(3):
        # Sampling parameters and max tokens do not change the canonical hash.
        r = gw.chat(chat_body(text=text, temperature=0.1 * i, max_tokens=10 + i), key=key)
        eq(r.status, 200, "identical prompt %d (%r)" % (i + 1, r))
    r = gw.chat(chat_body(text=text), key=key)
    expect_error(r, 429, "guardian_block", "rate_limit_error", rule="dedup",
                 retry_after_seconds=60)
    eq(r.header("Retry-After"), "60", "Retry-After")
    msg = r.json["error"]["message"]
    check(re.fullmatch(r"Blocked by Guardian: dedup \(3 identical prompts in \d+s\)", msg),
          "message %r" % msg)
    # The same prompt through /v1/messages hashes alike.
    r = gw.req("POST", "/v1/messages", {"model": "fake/gpt-test", "max_tokens": 50,
                                        "messages": [{"role": "user", "content": text}]},
               key=key)
    expect_error(r, 429, "guardian_block", rule="dedup")
    eq(r.json.get("type"), "error", "messages envelope")
    # Another prompt from the same key passes.
    eq(gw.chat(chat_body(), key=key).status, 200, "a different prompt")
    m = gw.get("/metrics").body.decode()
    check('hiway_guardian_events_total{rule="dedup",action="block"}' in m,
          "dedup trigger not in /metrics")


@test
def context_bloat_413(ctx):
    gw = gateway(ctx)
    key, _ = fresh_key(ctx, gw)
    big = " ".join(uniq("w") for _ in range(2500))
    r = gw.chat(chat_body(text=big), key=key)
    expect_error(r, 413, "context_bloat", "request_too_large", rule="context_bloat",
                 limit=2000)
    pt = r.json["error"]["prompt_tokens"]
    check(isinstance(pt, int) and pt > 2000, "prompt_tokens %r" % pt)
    eq(r.json["error"]["message"], "Prompt too large: %d tokens (limit 2000)." % pt, "message")


@test
def refused_requests_cost_nothing(ctx):
    gw = gateway(ctx)
    ws, _ = ctx.create_workspace(gw, admin_key=False, initial_credit_usd=5)
    key, _ = fresh_key(ctx, gw, ws=ws["id"], rpm_limit=1)
    eq(gw.chat(chat_body(), key=key).status, 200, "first request")
    before = gw.api("GET", "/workspaces/%s/wallet" % ws["id"])
    eq(before.status, 200, "wallet")
    upstream = ctx.fake.requests()
    for _ in range(5):
        expect_error(gw.chat(chat_body(), key=key), 429, "rate_limit_exceeded")
    key2, _ = fresh_key(ctx, gw, ws=ws["id"])
    text = uniq("dup")
    for _ in range(3):
        eq(gw.chat(chat_body(text=text), key=key2).status, 200, "identical prompt")
    mid = gw.api("GET", "/workspaces/%s/wallet" % ws["id"]).json
    upstream = ctx.fake.requests()
    for _ in range(3):
        expect_error(gw.chat(chat_body(text=text), key=key2), 429, "guardian_block")
    expect_error(gw.chat(chat_body(text="x " * 9000), key=key2), 413, "context_bloat")
    after = gw.api("GET", "/workspaces/%s/wallet" % ws["id"]).json
    for f in ("balance_usd", "reserved_usd", "month_upstream_spend_usd"):
        eq(after[f], mid[f], "wallet %s after refused requests" % f)
    eq(ctx.fake.requests(), upstream, "no upstream call for refused requests")
    check(before.json["balance_usd"] >= mid["balance_usd"], "wallet sanity")


@test
def settings_api_round_trip(ctx):
    gw = gateway(ctx)
    ws, admin_key = ctx.create_workspace(gw)
    path = "/workspaces/%s/guardian" % ws["id"]
    r = gw.api("GET", path)
    eq(r.status, 200, "GET defaults (%r)" % r)
    d = r.json
    eq(d["dedup"], {"enabled": True, "count": 3, "window_s": 60, "retry_after_s": 60,
                    "action": "block"}, "dedup defaults")
    eq(d["context_bloat"]["max_prompt_tokens"], 2000, "config default")
    eq(d["cost_spike"]["min_spend_usd"], 1, "min_spend_usd")
    eq(d["zombie_agent"]["action"], "block", "zombie action")
    r = gw.api("PUT", path, {"dedup": {"count": 1, "action": "alert-only"},
                             "cost_spike": {"min_spend_usd": 2.5}}, key=admin_key)
    eq(r.status, 200, "PUT by the admin key (%r)" % r)
    eq(r.json["dedup"]["count"], 1, "count")
    eq(r.json["dedup"]["action"], "alert", "alert-only is alert")
    eq(r.json["dedup"]["window_s"], 60, "unspecified = default")
    eq(r.json["cost_spike"]["min_spend_usd"], 2.5, "min_spend_usd")
    eq(gw.api("GET", path).json, r.json, "GET after PUT")
    for body, param in (({"dedup": {"count": 0}}, "dedup.count"),
                        ({"dedup": {"count": "three"}}, "dedup.count"),
                        ({"dedup": {"bogus": 1}}, "dedup.bogus"),
                        ({"context_bloat": {"action": "throttle"}}, "context_bloat.action"),
                        ({"cost_spike": {"throttle_rps": 0}}, "cost_spike.throttle_rps"),
                        ({"nope": {}}, "nope")):
        expect_error(gw.api("PUT", path, body), 400, "invalid_request", param=param)
    # The cache follows the PUT: dedup count 1, action block, blocks the second copy.
    eq(gw.api("PUT", path, {"dedup": {"count": 1}}).status, 200, "PUT count 1")
    key, _ = fresh_key(ctx, gw, ws=ws["id"])
    text = uniq("once")
    eq(gw.chat(chat_body(text=text), key=key).status, 200, "first copy")
    expect_error(gw.chat(chat_body(text=text), key=key), 429, "guardian_block", rule="dedup")
    # A PUT of {} goes back to the defaults.
    eq(gw.api("PUT", path, {}).json["dedup"]["count"], 3, "reset")
    expect_error(gw.api("GET", "/workspaces/01JNOSUCHWORKSPACE000000000/guardian"), 404,
                 "not_found")


@test
def looping_key_trips_dedup_then_zombie_agent(ctx):
    gw = gateway(ctx)
    if not has_clock(gw):
        note("skipped guardian.looping_key_trips_dedup_then_zombie_agent: needs the "
             "HIWAY_TEST_HOOKS build started with --test-clock (POST /api/v1/_test/clock)")
        return
    key, k = fresh_key(ctx, gw)
    body = chat_body(text=uniq("loop"))
    for i in range(3):
        eq(gw.chat(body, key=key).status, 200, "loop %d" % i)
    expect_error(gw.chat(body, key=key), 429, "guardian_block", rule="dedup")
    # The agent keeps looping, slower than the dedup window: with the 3 answers above, the
    # 9th slow one makes 12 identical answers over 1,800 s (no gap above 300 s). 201 s, as
    # the test clock keeps whole seconds of wall time.
    for i in range(9):
        eq(gw.api("POST", "/_test/clock", {"advance_s": 201}).status, 200, "advance")
        r = gw.chat(body, key=key)
        eq(r.status, 200, "slow loop %d (%r)" % (i, r))
    eq(gw.api("POST", "/_test/clock", {"advance_s": 201}).status, 200, "advance")
    r = gw.chat(body, key=key)
    expect_error(r, 403, "key_suspended", "permission_error", key_id=k["id"],
                 reason="zombie_agent")
    deadline = time.monotonic() + 5
    while True:
        r = gw.api("GET", "/workspaces/%s/keys/%s" % (gw.ws, k["id"]))
        if r.json["status"] == "suspended" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    eq((r.json["status"], r.json["suspended_reason"]), ("suspended", "zombie_agent"),
       "the suspension is stored")
    # An admin lifts it.
    r = gw.api("PATCH", "/workspaces/%s/keys/%s" % (gw.ws, k["id"]), {"status": "active"})
    eq(r.status, 200, "unsuspend")
    eq(gw.chat(chat_body(), key=key).status, 200, "usable again")


def ctl(gw, ws, *args):
    env = clean_env()
    env.update({"HIWAY_URL": "http://127.0.0.1:%d" % gw.port, "HIWAY_ADMIN_TOKEN": gw.token,
                "HIWAY_WORKSPACE": ws})
    p = subprocess.run([HIWAYCTL] + list(args), env=env, capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@test
def hiwayctl_guardian_get_set(ctx):
    gw = gateway(ctx)
    ws, _ = ctx.create_workspace(gw, admin_key=False)
    rc, out, err = ctl(gw, ws["id"], "guardian", "set", "dedup.count=4", "dedup.action=alert",
                       "cost_spike.min_spend_usd=0.5", "--json")
    eq(rc, 0, "set (%s)" % err)
    doc = json.loads(out)
    eq((doc["dedup"]["count"], doc["dedup"]["action"], doc["cost_spike"]["min_spend_usd"]),
       (4, "alert", 0.5), "set answer")
    rc, out, err = ctl(gw, ws["id"], "guardian", "get")
    eq(rc, 0, "get (%s)" % err)
    lines = out.splitlines()
    check(lines[0].split() == ["RULE", "ENABLED", "ACTION", "SETTINGS"], "header %r" % lines[0])
    row = [ln for ln in lines if ln.startswith("dedup ")]
    check(row and row[0].split()[:3] == ["dedup", "true", "alert"] and "count=4" in row[0],
          "dedup row %r" % row)
    rc, _, err = ctl(gw, ws["id"], "guardian", "set", "dedup.count=0")
    eq(rc, 1, "API error exit")
    check("invalid_request" in err, "error printed: %r" % err)
    rc, _, err = ctl(gw, ws["id"], "guardian", "set", "nodot=1")
    eq(rc, 2, "usage error exit")


@test
def guardian_block_event_once_per_rule_and_key(ctx):
    gw = gateway(ctx)
    ws, _ = ctx.create_workspace(gw, admin_key=False)
    rec = Receiver().start()
    try:
        r = gw.api("POST", "/workspaces/%s/webhooks" % ws["id"],
                   {"name": uniq("wh"), "url": rec.url("/g"), "events": ["guardian.block"]})
        eq(r.status, 201, "webhook (%r)" % r)
        rec.secrets["/g"] = r.json["secret"]
        key, k = fresh_key(ctx, gw, ws=ws["id"])
        body = chat_body(text=uniq("event"))
        for _ in range(3):
            eq(gw.chat(body, key=key).status, 200, "identical prompt")
        first = gw.chat(body, key=key)
        expect_error(first, 429, "guardian_block", rule="dedup")
        expect_error(gw.chat(body, key=key), 429, "guardian_block", rule="dedup")
        deadline = time.monotonic() + 15 * SLOW
        while not rec.delivered("/g") and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5 * SLOW)  # room for a second event, which must not come
        got = rec.delivered("/g")
        eq(len(got), 1, "guardian.block deliveries")
        (h, raw), = list(got.values())[0][:1]
        ev = json.loads(raw)
        eq((ev["event"], ev["workspace_id"]), ("guardian.block", ws["id"]), "event")
        d = ev["data"]
        eq(set(d), {"rule", "key_id", "key_prefix", "request_hash", "action", "client_ip",
                    "request_id", "detail"}, "data fields")
        eq((d["rule"], d["action"], d["key_id"], d["key_prefix"], d["client_ip"]),
           ("dedup", "block", k["id"], k["prefix"], "127.0.0.1"), "data")
        eq(d["request_id"], first.header("X-Request-Id"), "the triggering request")
        check(re.fullmatch(r"[0-9a-f]{64}", d["request_hash"]), "request_hash %r" % d)
        check(d["detail"].startswith("3 identical prompts in "), "detail %r" % d["detail"])
    finally:
        rec.stop()


@test
def streamed_loop_trips_zombie_agent(ctx):
    gw = gateway(ctx)
    if not has_clock(gw):
        note("skipped guardian.streamed_loop_trips_zombie_agent: needs the HIWAY_TEST_HOOKS "
             "build started with --test-clock (POST /api/v1/_test/clock)")
        return
    key, k = fresh_key(ctx, gw)
    body = chat_body(text=uniq("stream loop"), stream=True)
    # 10 streamed answers 201 s apart: the 10th spans 1,809 s.
    for i in range(10):
        if i:
            eq(gw.api("POST", "/_test/clock", {"advance_s": 201}).status, 200, "advance")
        s = gw.stream(body, key=key)
        eq(s.status, 200, "stream %d" % i)
        events = s.read_all()
        check(events and events[-1][1] == "[DONE]", "stream %d ends with [DONE]" % i)
    expect_error(gw.chat(chat_body(), key=key), 403, "key_suspended", key_id=k["id"],
                 reason="zombie_agent")


@test
def cost_spike_throttles_the_key(ctx):
    gw = gateway(ctx)
    ws, _ = ctx.create_workspace(gw, admin_key=False)
    r = gw.api("PUT", "/workspaces/%s/guardian" % ws["id"],
               {"cost_spike": {"min_spend_usd": 0.000001, "throttle_rps": 0.01,
                               "duration_s": 600}})
    eq(r.status, 200, "PUT (%r)" % r)
    key, _ = fresh_key(ctx, gw, ws=ws["id"])
    other, _ = fresh_key(ctx, gw, ws=ws["id"])
    # The first settled answer already spends more than the floor: the key is throttled
    # to one request per 100 s, and its bucket starts empty.
    eq(gw.chat(chat_body(), key=key).status, 200, "first answer")
    r = gw.chat(chat_body(), key=key)
    expect_error(r, 429, "guardian_block", "rate_limit_error", rule="cost_spike",
                 retry_after_seconds=100,
                 message="Blocked by Guardian: cost_spike (key throttled to 0.01 req/s)")
    eq(r.header("Retry-After"), "100", "Retry-After")
    eq(gw.chat(chat_body(), key=other).status, 200, "another key of the workspace")
    m = gw.get("/metrics").body.decode()
    check('hiway_guardian_events_total{rule="cost_spike",action="throttle"}' in m,
          "cost_spike trigger not in /metrics")
