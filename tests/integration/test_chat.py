# SPDX-License-Identifier: Apache-2.0
"""POST /v1/chat/completions through the fake upstream (SPEC §5.1, §5.2, §8.1)."""
import re

from harness import RE_REQ_ID, check, chat_body, eq, expect_error, test, uniq

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                           "parameters": {"type": "object", "properties": {
                                               "city": {"type": "string"}}}}}]


def _ok(r):
    check(r.status == 200, "expected 200, got %r" % r)
    eq((r.header("Content-Type") or "").split(";")[0], "application/json", "Content-Type")
    return r.json


@test
def pinned_model_headers_and_body(ctx):
    gw = ctx.main
    text = uniq("Say hello to the integration test")
    r = gw.chat(chat_body(text=text), key=gw.key)
    b = _ok(r)
    rid = r.header("X-Request-Id") or ""
    check(RE_REQ_ID.match(rid), "X-Request-Id %r" % rid)
    eq(r.header("X-HiWay-Routed-Model"), "fake/gpt-test", "X-HiWay-Routed-Model")
    eq(r.header("X-HiWay-Routed-Tier"), "override", "X-HiWay-Routed-Tier")
    ms = r.header("X-HiWay-Routing-Ms") or ""
    check(re.match(r"^\d+\.\d{3}$", ms), "X-HiWay-Routing-Ms %r (3 decimals)" % ms)
    cost = r.header("X-HiWay-Cost-USD") or ""
    check(re.match(r"^\d+\.\d{6}$", cost), "X-HiWay-Cost-USD %r (6 decimals)" % cost)
    check(float(cost) > 0, "X-HiWay-Cost-USD is zero")
    eq(b.get("model"), "fake/gpt-test", "body model")
    eq(b.get("object"), "chat.completion", "object")
    check(str(b.get("id", "")).startswith("chatcmpl-fake"), "upstream id not kept: %r" % b.get("id"))
    eq(b.get("system_fingerprint"), "fp_fake", "upstream fields kept (system_fingerprint)")
    msg = b["choices"][0]["message"]
    eq(msg.get("content"), "fake: " + text, "content")
    eq(b["choices"][0].get("finish_reason"), "stop", "finish_reason")
    u = b.get("usage") or {}
    check(u.get("prompt_tokens", 0) > 0 and u.get("completion_tokens", 0) > 0, "usage %r" % u)
    h = b.get("_hiway")
    check(isinstance(h, dict), "_hiway missing")
    eq(h.get("routed_model"), "fake/gpt-test", "_hiway.routed_model")
    eq(h.get("routed_tier"), "override", "_hiway.routed_tier")
    eq(h.get("request_id"), rid, "_hiway.request_id")
    eq(h.get("fallback"), False, "_hiway.fallback")
    eq(h.get("fallback_chain"), [], "_hiway.fallback_chain")
    eq(h.get("score"), None, "_hiway.score for a model pin")
    eq(h.get("cache_hit"), False, "_hiway.cache_hit")
    eq(h.get("passthrough"), False, "_hiway.passthrough")
    check("model_pin" in (h.get("reason") or ""), "_hiway.reason %r" % h.get("reason"))
    for f in ("upstream_cost", "markup_cost", "baseline_cost", "savings", "usage_estimated"):
        check(f in h, "_hiway.%s missing" % f)
    # prompt 'Say hello ...' tokens at $1/M in, $2/M out: µ$ = ceil(n*1)+ceil(m*2)
    up = round(h["upstream_cost"] * 1e6)
    eq(up, u["prompt_tokens"] * 1 + u["completion_tokens"] * 2, "upstream_cost in µ$")
    total = round((h["upstream_cost"] + h["markup_cost"]) * 1e6)
    eq(round(float(cost) * 1e6), total, "X-HiWay-Cost-USD = upstream_cost + markup_cost")


@test
def upstream_request_openai_compatible(ctx):
    gw, fake = ctx.main, ctx.fake
    extra = {"x_custom_field": {"nested": [1, 2, {"k": "v"}]}, "temperature": 0.25, "seed": 7,
             "response_format": {"type": "text"}, "stop": ["\n\n"], "user": "end-user-7"}
    body = chat_body(**extra)
    r = gw.chat(body, key=gw.key, headers={"X-HiWay-User": "secret-end-user-42"})
    _ok(r)
    last = fake.last()
    ub = last["body"]
    eq(last["path"], "/v1/chat/completions", "upstream path")
    eq(ub.get("model"), "gpt-test", "upstream model")
    eq(ub.get("max_tokens"), 4096, "upstream max_tokens (default reserved and sent)")
    check("max_completion_tokens" not in ub, "openai_compatible got max_completion_tokens: %r" % ub)
    for k, v in extra.items():
        eq(ub.get(k), v, "forwarded field %s" % k)
    eq(ub.get("messages"), body["messages"], "messages forwarded")
    hdrs = {k.lower(): v for k, v in last["headers"].items()}
    check("x-hiway-user" not in hdrs, "X-HiWay-User sent upstream: %r" % hdrs)
    check("secret-end-user-42" not in str(last), "the X-HiWay-User value reached the upstream")
    check("authorization" not in hdrs, "openai_compatible without api_key sent Authorization")
    check(gw.key not in str(last), "the hiway key reached the upstream")


@test
def upstream_request_openai_kind(ctx):
    gw, fake = ctx.main, ctx.fake
    r = gw.chat(chat_body(model="fakeai/gpt-4o-test", logprobs=False), key=gw.key)
    b = _ok(r)
    eq(b.get("model"), "fakeai/gpt-4o-test", "body model")
    eq(r.header("X-HiWay-Routed-Model"), "fakeai/gpt-4o-test", "routed model")
    last = fake.last()
    ub = last["body"]
    eq(ub.get("model"), "gpt-4o-test", "upstream model")
    eq(ub.get("max_completion_tokens"), 4096, "upstream max_completion_tokens")
    check("max_tokens" not in ub, "kind openai got max_tokens: %r" % ub)
    eq(ub.get("logprobs"), False, "forwarded logprobs")
    hdrs = {k.lower(): v for k, v in last["headers"].items()}
    eq(hdrs.get("authorization"), "Bearer sk-test-123", "upstream Authorization")


@test
def client_max_tokens_forwarded(ctx):
    gw, fake = ctx.main, ctx.fake
    _ok(gw.chat(chat_body(max_tokens=50), key=gw.key))
    eq(fake.last()["body"].get("max_tokens"), 50, "max_tokens 50")
    # max_completion_tokens wins over max_tokens
    _ok(gw.chat(chat_body(max_completion_tokens=77, max_tokens=99), key=gw.key))
    ub = fake.last()["body"]
    eq(ub.get("max_tokens"), 77, "max_completion_tokens wins, sent as max_tokens")
    check("max_completion_tokens" not in ub, "openai_compatible got max_completion_tokens")
    _ok(gw.chat(chat_body(model="fakeai/gpt-4o-test", max_tokens=33), key=gw.key))
    ub = fake.last()["body"]
    eq(ub.get("max_completion_tokens"), 33, "kind openai: max_tokens sent as max_completion_tokens")
    check("max_tokens" not in ub, "kind openai got max_tokens: %r" % ub)


@test
def tier_pin_light(ctx):
    gw = ctx.main
    r = gw.chat(chat_body(model="light"), key=gw.key)
    b = _ok(r)
    eq(r.header("X-HiWay-Routed-Model"), "fake/gpt-test", "routed model")
    eq(r.header("X-HiWay-Routed-Tier"), "light", "routed tier")
    eq(b["_hiway"].get("routed_tier"), "light", "_hiway.routed_tier")
    check("tier_pin" in (b["_hiway"].get("reason") or ""), "reason %r" % b["_hiway"].get("reason"))
    r = gw.chat(chat_body(model="standard"), key=gw.key)
    _ok(r)
    eq(r.header("X-HiWay-Routed-Model"), "fakeai/gpt-4o-test", "standard tier model")


@test
def bare_model_name(ctx):
    gw = ctx.main
    r = gw.chat(chat_body(model="gpt-test"), key=gw.key)
    b = _ok(r)
    eq(r.header("X-HiWay-Routed-Model"), "fake/gpt-test", "routed model")
    eq(r.header("X-HiWay-Routed-Tier"), "override", "routed tier")
    eq(b.get("model"), "fake/gpt-test", "body model")


@test
def tool_call_passthrough(ctx):
    gw = ctx.main
    r = gw.chat(chat_body(tools=TOOLS, tool_choice="auto"), key=gw.key)
    b = _ok(r)
    ch = b["choices"][0]
    eq(ch.get("finish_reason"), "tool_calls", "finish_reason")
    calls = ch["message"].get("tool_calls") or []
    eq(len(calls), 1, "tool call count")
    eq(calls[0].get("id"), "call_fake_0", "tool call id")
    eq(calls[0]["function"].get("name"), "get_weather", "tool name")
    eq(ctx.fake.last()["body"].get("tools"), TOOLS, "tools forwarded verbatim")


@test
def multi_turn_and_parts(ctx):
    gw = ctx.main
    msgs = [{"role": "system", "content": "be brief"},
            {"role": "developer", "content": "really brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function",
                             "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "user", "content": [{"type": "text", "text": uniq("part one")}]}]
    r = gw.chat({"model": "fake/gpt-test", "messages": msgs, "tools": TOOLS}, key=gw.key)
    _ok(r)
    eq(ctx.fake.last()["body"].get("messages"), msgs, "messages forwarded verbatim")


@test
def no_usage_from_upstream_is_estimated(ctx):
    gw = ctx.main
    r = gw.chat(chat_body(fake={"no_usage": True}), key=gw.key)
    b = _ok(r)
    eq(b["_hiway"].get("usage_estimated"), True, "_hiway.usage_estimated")
    # the upstream object is returned as is (no usage); the estimate is what gets settled
    check(b["_hiway"].get("upstream_cost", 0) > 0, "estimated usage not charged: %r" % b["_hiway"])
    check(float(r.header("X-HiWay-Cost-USD") or 0) > 0, "X-HiWay-Cost-USD is zero")


@test
def end_user_field_accepted(ctx):
    gw = ctx.main
    r = gw.chat(chat_body(user="someone"), key=gw.key, headers={"X-HiWay-User": "user-1"})
    _ok(r)


@test
def curl_path_by_host_name(ctx):
    """A provider named by host name goes through libcurl (a literal address through the
    built-in HTTP/1.1 client): the same answers, stream and errors either way."""
    gw = ctx.main
    r = gw.chat(chat_body(model="fakehost/gpt-curl", text="via curl"), key=gw.key)
    eq(r.status, 200, "status: %r" % r)
    eq(r.json["model"], "fakehost/gpt-curl", "model")
    eq(r.json["choices"][0]["message"]["content"], "fake: via curl", "content")
    s = gw.stream(chat_body(model="fakehost/gpt-curl", text="curl stream"), key=gw.key)
    evs = s.read_all()
    eq(evs[-1][1], "[DONE]", "stream ends with [DONE]")
    r = gw.chat(chat_body(model="fakehost/gpt-curl", fake={"status": 503}), key=gw.key)
    expect_error(r, 502, "upstream_unavailable", "upstream_error",
                 fallback_chain=[{"model": "fakehost/gpt-curl", "error": "503"}])
