# SPDX-License-Identifier: Apache-2.0
"""The in-process echo provider on an echo-only configuration (SPEC §7.1, §7.4, §8.6)."""
import json

from harness import check, eq, test, uniq

TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
         {"type": "function", "function": {"name": "other_tool", "parameters": {"type": "object"}}}]


def _chat(ctx, body, headers=None):
    r = ctx.echo.chat(body, key=ctx.echo.key, headers=headers)
    check(r.status == 200, "expected 200, got %r" % r)
    return r, r.json


@test
def auto_greeting_ultra_light(ctx):
    r, b = _chat(ctx, {"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
    eq(b["choices"][0]["message"].get("content"), "echo: hi", "content")
    eq(r.header("X-HiWay-Routed-Model"), "local/echo-ultra-light", "routed model")
    eq(r.header("X-HiWay-Routed-Tier"), "ultra-light", "routed tier")
    eq(b.get("model"), "local/echo-ultra-light", "body model")
    h = b.get("_hiway") or {}
    eq(h.get("score"), 0, "score of 'hi'")
    eq(h.get("routed_tier"), "ultra-light", "_hiway.routed_tier")
    check(str(b.get("id", "")).startswith("chatcmpl-") and len(b["id"]) == len("chatcmpl-") + 26,
          "built response id %r" % b.get("id"))
    eq(b["choices"][0].get("finish_reason"), "stop", "finish_reason")
    eq(b["choices"][0].get("logprobs", "absent"), None, "logprobs null")
    u = b.get("usage") or {}
    eq(u.get("completion_tokens"), 2, "completion tokens = ceil(len('echo: hi')/4)")
    eq(u.get("total_tokens"), u.get("prompt_tokens", 0) + 2, "total_tokens")


@test
def auto_text_echoed(ctx):
    text = uniq("Explain how TCP congestion control works")
    r, b = _chat(ctx, {"model": "auto", "messages": [{"role": "system", "content": "short"},
                                                     {"role": "user", "content": text}]})
    eq(b["choices"][0]["message"].get("content"), "echo: " + text, "content")
    check((r.header("X-HiWay-Routed-Model") or "").startswith("local/echo-"), "routed to echo")


@test
def auto_has_score(ctx):
    r, b = _chat(ctx, {"model": "auto", "messages": [{"role": "user", "content": uniq()}]})
    check(isinstance(b["_hiway"].get("score"), (int, float)), "auto has a numeric score")


@test
def tier_names(ctx):
    for tier, tname in (("light", "light"), ("standard", "standard"), ("heavy", "heavy"),
                        ("ultra-light", "ultra-light"), ("ultra_light", "ultra-light")):
        r, b = _chat(ctx, {"model": tier, "messages": [{"role": "user", "content": uniq()}]})
        want = "local/echo-" + tname
        eq(r.header("X-HiWay-Routed-Model"), want, "routed model for %s" % tier)
        eq(r.header("X-HiWay-Routed-Tier"), tname, "routed tier for %s" % tier)
        eq(b.get("model"), want, "body model for %s" % tier)


@test
def bare_name_and_catalog_id(ctx):
    r, b = _chat(ctx, {"model": "echo-standard", "messages": [{"role": "user", "content": uniq()}]})
    eq(r.header("X-HiWay-Routed-Model"), "local/echo-standard", "bare name routed model")
    eq(r.header("X-HiWay-Routed-Tier"), "override", "bare name tier")
    r, b = _chat(ctx, {"model": "local/echo-heavy", "messages": [{"role": "user", "content": uniq()}]})
    eq(r.header("X-HiWay-Routed-Model"), "local/echo-heavy", "catalog id routed model")
    eq(b["_hiway"].get("routed_tier"), "override", "_hiway.routed_tier")


@test
def tools_call_first_tool(ctx):
    r, b = _chat(ctx, {"model": "auto", "tools": TOOLS,
                       "messages": [{"role": "user", "content": uniq("look it up")}]})
    ch = b["choices"][0]
    eq(ch.get("finish_reason"), "tool_calls", "finish_reason")
    calls = ch["message"].get("tool_calls") or []
    eq(len(calls), 1, "one tool call")
    eq(calls[0].get("id"), "call_echo_0", "tool call id")
    eq(calls[0].get("type"), "function", "tool call type")
    eq(calls[0]["function"].get("name"), "lookup", "first tool called")
    eq(json.loads(calls[0]["function"].get("arguments")), {}, "arguments")


@test
def tools_choice_names_tool(ctx):
    r, b = _chat(ctx, {"model": "light", "tools": TOOLS,
                       "tool_choice": {"type": "function", "function": {"name": "other_tool"}},
                       "messages": [{"role": "user", "content": uniq()}]})
    calls = b["choices"][0]["message"].get("tool_calls") or []
    check(calls and calls[0]["function"]["name"] == "other_tool", "tool_choice ignored: %r" % calls)


@test
def tools_choice_none_answers_text(ctx):
    text = uniq("no tools please")
    r, b = _chat(ctx, {"model": "light", "tools": TOOLS, "tool_choice": "none",
                       "messages": [{"role": "user", "content": text}]})
    eq(b["choices"][0]["message"].get("content"), "echo: " + text, "content")
    check(not b["choices"][0]["message"].get("tool_calls"), "tool call despite tool_choice none")


@test
def tool_result_echoed(ctx):
    msgs = [{"role": "user", "content": uniq("weather?")},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "call_echo_0", "type": "function",
                             "function": {"name": "lookup", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_echo_0", "content": "sunny 21C"}]
    r, b = _chat(ctx, {"model": "light", "tools": TOOLS, "messages": msgs})
    eq(b["choices"][0]["message"].get("content"), "echo: tool result: sunny 21C", "content")


@test
def max_tokens_cuts_reply(ctx):
    text = "word " * 50
    r, b = _chat(ctx, {"model": "light", "max_tokens": 2,
                       "messages": [{"role": "user", "content": text + uniq()}]})
    c = b["choices"][0]["message"].get("content") or ""
    check(len(c.encode()) <= 8, "reply %r longer than max_tokens*4 bytes" % c)
    eq(c, ("echo: " + text)[:8], "cut reply")
    eq(b["choices"][0].get("finish_reason"), "length", "finish_reason")


@test
def echo_stream_words(ctx):
    text = uniq("one two three")
    s = ctx.echo.stream({"model": "light", "messages": [{"role": "user", "content": text}]},
                        key=ctx.echo.key)
    eq(s.status, 200, "status")
    evs = s.read_all()
    check(evs and evs[-1][1] == "[DONE]", "stream does not end with [DONE]: %r" % evs[-3:])
    content = ""
    finish = None
    for _, d in evs[:-1]:
        c = json.loads(d)
        eq(c.get("model"), "local/echo-light", "chunk model")
        eq(c.get("object"), "chat.completion.chunk", "chunk object")
        for ch in c.get("choices", []):
            content += ch.get("delta", {}).get("content") or ""
            finish = ch.get("finish_reason") or finish
    eq(" ".join(content.split()), "echo: " + text, "streamed content")
    eq(finish, "stop", "finish_reason")
    check(len(evs) >= 5, "expected one chunk per word, got %d events" % len(evs))
    ids = {json.loads(d).get("id") for _, d in evs[:-1]}
    eq(len(ids), 1, "one id for the whole stream")


@test
def echo_delays(ctx):
    """providers.local.delay_ms / chunk_delay_ms (SPEC §8.6): the first byte waits delay_ms,
    stream events come chunk_delay_ms apart, served by the worker's loop (no blocking)."""
    import time
    gw = ctx.new_echo_gateway(
        "echo-delays", "providers:\n  local: {kind: echo, delay_ms: 300, chunk_delay_ms: 100}\n")
    t0 = time.monotonic()
    r = gw.chat({"model": "auto", "messages": [{"role": "user", "content": "one two three"}]},
                key=gw.key)
    took = time.monotonic() - t0
    eq(r.status, 200, "status")
    eq(r.json["choices"][0]["message"]["content"], "echo: one two three", "content")
    check(took >= 0.29, "non-stream answer waited delay_ms (took %.3fs)" % took)
    s = gw.stream({"model": "auto", "stream": True,
                   "messages": [{"role": "user", "content": "alpha beta gamma delta"}]}, key=gw.key)
    evs = list(s.events())
    s.close()
    times = [t for t, _ in evs]
    check(len(evs) >= 6, "events: %d" % len(evs))
    check(times[0] >= 0.29, "first event after delay_ms (%.3fs)" % times[0])
    gaps = [b - a for a, b in zip(times, times[1:4])]
    check(all(g >= 0.08 for g in gaps), "events chunk_delay_ms apart: %r" % gaps)
    eq(evs[-1][1], "[DONE]", "last event")
