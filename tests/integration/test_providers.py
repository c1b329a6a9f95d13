# SPDX-License-Identifier: Apache-2.0
"""Providers end to end (SPEC §5.2, §6.2, §6.4, §7.5, §8, §9, §16.2-16.3): the real hiwayd in
front of fake-upstream speaking Anthropic Messages, Gemini generateContent, Mistral and OpenAI.
Each test checks what the client sees and what went upstream (GET /_fake/last), plus BYOK on
the request path, the workspace routing settings and smart routing.

Faults are chosen with a FAKE{...} marker in the last user message (it survives translation)
and limited to one upstream model with `only_model`, so a tier's primary can fail and its
fallback answer."""
import hashlib
import json
import re

from harness import (Gateway, base_config, check, eq, expect_error, http, run_threads,
                     test, uniq)

MASTER = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
META = {"X-HiWay-Stream-Meta": "1"}
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
       "RU5ErkJggg==")  # 1x1 PNG
RE_CHATCMPL = re.compile(r"^chatcmpl-[0-9A-Za-z]{26}$")


def marker(**fault):
    return "FAKE" + json.dumps(fault)


def _model(mid, tier, inp, out, q, region="local", extra="", window=128000, max_out=4096):
    return ("    - {id: \"%s\", tier: %s, input_per_mtok: %s, output_per_mtok: %s, quality: %d, "
            "context_window: %d, max_output_tokens: %d, region: %s%s}\n"
            % (mid, tier, inp, out, q, window, max_out, region, extra))


def _gateway(ctx, name, text):
    if name not in ctx.shared or not ctx.shared[name].alive():
        gw = Gateway(name, lambda port, tmp: base_config(port, tmp) + text)
        ctx.gateways.append(gw)
        ctx.shared[name] = gw.start()
    return ctx.shared[name]


def _prov(ctx):
    """ant, gem and mis on the fake; light = ant/claude-t then fake/ant-backup, standard =
    gem/gemini-t then fake/gem-backup."""
    fp = ctx.fake.port
    text = ("providers:\n"
            "  ant: {kind: anthropic, base_url: \"http://127.0.0.1:%d\","
            " api_key: \"sk-ant-test\"}\n"
            "  gem: {kind: google, base_url: \"http://127.0.0.1:%d\", api_key: \"g-test\"}\n"
            "  mis: {kind: mistral, base_url: \"http://127.0.0.1:%d/v1\", api_key: \"m-test\"}\n"
            "  fake: {kind: openai_compatible, base_url: \"http://127.0.0.1:%d/v1\"}\n"
            "  antnc: {kind: anthropic, base_url: \"http://127.0.0.1:%d\", api_key: \"sk-nc\","
            " prompt_cache: false}\n"
            "catalog:\n  builtin: false\n  models:\n" % (fp, fp, fp, fp, fp)
            + _model("ant/claude-t", "light", 1, 1, 90)
            + _model("fake/ant-backup", "light", 2, 2, 10)
            + _model("gem/gemini-t", "standard", 1, 1, 90)
            + _model("fake/gem-backup", "standard", 2, 2, 10)
            + _model("mis/mistral-t", "heavy", 1, 1, 90)
            + _model("fake/heavy-backup", "heavy", 2, 2, 10)
            # only ever pinned: its 429 cool-downs stay away from the other tests
            + _model("ant/claude-rl", "heavy", 50, 50, 1)
            + _model("gem/gemini-err", "heavy", 50, 50, 1)
            + _model("ant/claude-haiku-4-5", "heavy", 50, 50, 1)
            + _model("antnc/claude-nc", "heavy", 50, 50, 1))
    return _gateway(ctx, "prov", text)


def _last(ctx):
    return ctx.fake.last()


def _chat_ok(gw, body, headers=None):
    r = gw.chat(body, key=gw.key, headers=headers)
    eq(r.status, 200, "status (%r)" % r)
    return r


def _stream(gw, body, headers=META):
    s = gw.stream(body, key=gw.key, headers=headers)
    if s.status != 200:
        raise AssertionError("stream answered %r" % s.body_resp())
    evs = [d for _, d in s.read_all()]
    return s, evs


def _chunks(evs):
    return [json.loads(d) for d in evs if d != "[DONE]"]


def _stream_text(chunks):
    out = ""
    for c in chunks:
        for ch in c.get("choices") or []:
            out += (ch.get("delta") or {}).get("content") or ""
    return out


def _finish(chunks):
    fr = [ch.get("finish_reason") for c in chunks for ch in (c.get("choices") or [])
          if ch.get("finish_reason")]
    return fr


def _check_clean_stream(s, evs, model):
    """§6.2: chunks of one id and model, a finish_reason, one meta chunk, then [DONE]."""
    eq(s.header("X-HiWay-Routed-Model"), model, "X-HiWay-Routed-Model")
    eq((s.header("Content-Type") or "").split(";")[0], "text/event-stream", "Content-Type")
    eq(s.header("Cache-Control"), "no-cache", "Cache-Control")
    eq(s.header("X-Accel-Buffering"), "no", "X-Accel-Buffering")
    eq(s.header("X-HiWay-Cost-USD"), None, "X-HiWay-Cost-USD on a stream")
    check(evs and evs[-1] == "[DONE]", "stream does not end with [DONE]: %r" % evs[-3:])
    chunks = _chunks(evs)
    for c in chunks:
        check("error" not in c, "error event in a clean stream: %r" % c)
        eq(c.get("object"), "chat.completion.chunk", "chunk object")
        eq(c.get("model"), model, "chunk model")
    eq(len({c.get("id") for c in chunks}), 1, "one id for the whole stream")
    eq(len({c.get("created") for c in chunks}), 1, "one created for the whole stream")
    meta = [c for c in chunks if "_hiway" in c]
    eq(len(meta), 1, "meta chunks")
    check(chunks[-1] is meta[0], "the meta chunk is not the last before [DONE]")
    eq(meta[0].get("choices"), [], "meta chunk choices")
    check(isinstance(meta[0].get("usage"), dict), "meta chunk without usage")
    first = chunks[0]["choices"][0]["delta"]
    eq(first.get("role"), "assistant", "first delta role")
    return chunks, meta[0]


def _check_completion(r, model, built=True):
    """built: hiway builds the object (a translated answer), so the id is its own."""
    b = r.json
    eq(b.get("object"), "chat.completion", "object")
    if built:
        check(RE_CHATCMPL.match(b.get("id") or ""), "id %r" % b.get("id"))
    check(isinstance(b.get("created"), int), "created %r" % b.get("created"))
    eq(b.get("model"), model, "model")
    eq(r.header("X-HiWay-Routed-Model"), model, "X-HiWay-Routed-Model")
    ch = b["choices"][0]
    eq(ch.get("index"), 0, "choice index")
    eq(ch["message"].get("role"), "assistant", "role")
    check("logprobs" in ch and ch["logprobs"] is None, "logprobs null")
    h = b.get("_hiway")
    check(isinstance(h, dict), "no _hiway")
    eq(h.get("routed_model"), model, "_hiway.routed_model")
    eq(h.get("request_id"), r.header("X-Request-Id"), "_hiway.request_id")
    eq(h.get("routed_tier"), r.header("X-HiWay-Routed-Tier"), "_hiway.routed_tier")
    return b


def _check_usage(u, prompt, completion, cached=0):
    eq(u.get("prompt_tokens"), prompt, "usage.prompt_tokens")
    eq(u.get("completion_tokens"), completion, "usage.completion_tokens")
    eq(u.get("total_tokens"), prompt + completion, "usage.total_tokens")
    eq((u.get("prompt_tokens_details") or {}).get("cached_tokens"), cached,
       "usage.prompt_tokens_details.cached_tokens")


# ======================================================================== Anthropic

@test
def anthropic_text(ctx):
    gw = _prov(ctx)
    text = uniq("tell me a story")
    body = {"model": "ant/claude-t", "max_tokens": 77, "temperature": 1.5, "stop": ["END"],
            "messages": [{"role": "system", "content": "You are terse."},
                         {"role": "developer", "content": "Answer in English."},
                         {"role": "user", "content": text}]}
    r = _chat_ok(gw, body)
    b = _check_completion(r, "ant/claude-t")
    eq(r.header("X-HiWay-Routed-Tier"), "override", "X-HiWay-Routed-Tier")
    ch = b["choices"][0]
    eq(ch["message"].get("content"), "fake: " + text, "content")
    eq(ch.get("finish_reason"), "stop", "finish_reason")
    check(not ch["message"].get("tool_calls"), "unexpected tool_calls")
    last = _last(ctx)
    eq(last["path"], "/v1/messages", "upstream path")
    eq(last["format"], "anthropic", "upstream format")
    hd = last["headers"]
    eq(hd.get("x-api-key"), "sk-ant-test", "x-api-key")
    eq(hd.get("anthropic-version"), "2023-06-01", "anthropic-version")
    check("authorization" not in hd, "authorization sent to anthropic: %r"
          % hd.get("authorization"))
    ub = last["body"]
    eq(ub.get("model"), "claude-t", "upstream model")
    eq(ub.get("max_tokens"), 77, "max_tokens")
    eq(ub.get("temperature"), 1, "temperature clamped to 0-1")
    eq(ub.get("stop_sequences"), ["END"], "stop_sequences")
    sysb = ub.get("system")
    check(isinstance(sysb, list), "system is not a list of blocks: %r" % sysb)
    eq([(x.get("type"), x.get("text")) for x in sysb],
       [("text", "You are terse."), ("text", "Answer in English.")], "system blocks")
    msgs = ub.get("messages")
    eq(len(msgs), 1, "upstream messages")
    eq(msgs[0]["role"], "user", "upstream role")
    c = msgs[0]["content"]
    got = c if isinstance(c, str) else "".join(x.get("text", "") for x in c)
    eq(got, text, "upstream user text")
    # Usage as the fake reported it: input 4 words (+ marker-free), output words of the answer
    u = b.get("usage") or {}
    check(u.get("prompt_tokens", 0) > 0 and u.get("completion_tokens", 0) > 0, "usage %r" % u)
    _check_usage(u, u["prompt_tokens"], u["completion_tokens"], 0)
    eq(u.get("cache_read_input_tokens"), 0, "cache_read_input_tokens")
    eq(u.get("cache_creation_input_tokens"), 0, "cache_creation_input_tokens")


@test
def anthropic_default_max_tokens(ctx):
    gw = _prov(ctx)
    _chat_ok(gw, {"model": "ant/claude-t", "messages": [{"role": "user", "content": uniq("x")}]})
    eq(_last(ctx)["body"].get("max_tokens"), 4096, "upstream max_tokens when the client sent none")


@test
def anthropic_cache_usage(ctx):
    gw = _prov(ctx)
    text = uniq("cached") + " " + marker(cache_read_tokens=1200, cache_creation_tokens=300)
    b = _chat_ok(gw, {"model": "ant/claude-t",
                      "messages": [{"role": "user", "content": text}]}).json
    u = b["usage"]
    eq(u.get("cache_read_input_tokens"), 1200, "cache_read_input_tokens")
    eq(u.get("cache_creation_input_tokens"), 300, "cache_creation_input_tokens")
    eq((u.get("prompt_tokens_details") or {}).get("cached_tokens"), 1200, "cached_tokens")
    check(u["prompt_tokens"] >= 1500, "prompt_tokens counts cache reads and writes: %r" % u)
    eq(u.get("total_tokens"), u["prompt_tokens"] + u["completion_tokens"], "total_tokens")
    # streamed: the meta chunk's usage carries the same mapping
    s, evs = _stream(gw, {"model": "ant/claude-t",
                          "messages": [{"role": "user", "content": text + " s"}]})
    _, meta = _check_clean_stream(s, evs, "ant/claude-t")
    eq((meta["usage"].get("prompt_tokens_details") or {}).get("cached_tokens"), 1200,
       "streamed cached_tokens")


@test
def anthropic_tools(ctx):
    gw = _prov(ctx)
    args = {"city": "Paris", "days": 3}
    text = uniq("weather?") + " " + marker(tool_calls=[{"name": "get_weather", "arguments": args}])
    body = {"model": "ant/claude-t", "messages": [{"role": "user", "content": text}],
            "tools": TOOLS, "tool_choice": "required", "parallel_tool_calls": False}
    b = _chat_ok(gw, body).json
    ch = b["choices"][0]
    eq(ch.get("finish_reason"), "tool_calls", "finish_reason")
    eq(ch["message"].get("content"), None, "content with tool calls only")
    tcs = ch["message"].get("tool_calls") or []
    eq(len(tcs), 1, "tool_calls")
    tc = tcs[0]
    eq(tc.get("type"), "function", "tool_call type")
    check(isinstance(tc.get("id"), str) and tc["id"], "tool_call id")
    eq(tc["function"]["name"], "get_weather", "function name")
    check(isinstance(tc["function"]["arguments"], str), "arguments is not a JSON string")
    eq(json.loads(tc["function"]["arguments"]), args, "arguments")
    ub = _last(ctx)["body"]
    # text and a call together
    b2 = _chat_ok(gw, dict(body, messages=[{"role": "user", "content": uniq("w?") + " " + marker(
        content="Checking.", tool_calls=[{"name": "get_weather", "arguments": {}}])}])).json
    eq(b2["choices"][0]["message"].get("content"), "Checking.", "text beside a call")
    eq(json.loads(b2["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]), {},
       "empty arguments")
    eq(ub.get("tools"), [{"name": "get_weather", "description": "Weather of a city",
                          "input_schema": TOOLS[0]["function"]["parameters"]}], "upstream tools")
    eq(ub.get("tool_choice"), {"type": "any", "disable_parallel_tool_use": True},
       "upstream tool_choice")
    # follow-up: assistant tool_calls + two tool messages -> tool_use + one user of tool_results
    follow = {"model": "ant/claude-t", "tools": TOOLS, "messages": [
        {"role": "user", "content": uniq("weather in Paris and Rome?")},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "toolu_A1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "toolu_B2", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "toolu_A1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "toolu_B2", "content": "rainy"}]}
    b = _chat_ok(gw, follow).json
    ch = b["choices"][0]
    eq(ch["message"].get("content"), "fake: tool result: sunny", "answer after tool results")
    eq(ch.get("finish_reason"), "stop", "finish_reason after tool results")
    msgs = _last(ctx)["body"]["messages"]
    eq([m["role"] for m in msgs], ["user", "assistant", "user"], "upstream roles")
    a = msgs[1]["content"]
    eq(a[0], {"type": "text", "text": "Let me check."}, "assistant text block")
    eq(a[1:], [{"type": "tool_use", "id": "toolu_A1", "name": "get_weather",
                "input": {"city": "Paris"}},
               {"type": "tool_use", "id": "toolu_B2", "name": "get_weather",
                "input": {"city": "Rome"}}], "tool_use blocks")
    res = msgs[2]["content"]
    eq([(x.get("type"), x.get("tool_use_id")) for x in res],
       [("tool_result", "toolu_A1"), ("tool_result", "toolu_B2")], "tool_result blocks")
    rc = res[0].get("content")
    eq(rc if isinstance(rc, str) else "".join(x.get("text", "") for x in rc), "sunny",
       "tool_result content")


@test
def anthropic_stream_text(ctx):
    gw = _prov(ctx)
    text = uniq("one two three four five")
    body = {"model": "ant/claude-t", "messages": [{"role": "user", "content": text}]}
    s, evs = _stream(gw, body)
    chunks, meta = _check_clean_stream(s, evs, "ant/claude-t")
    eq(_stream_text(chunks), "fake: " + text, "reassembled content")
    check(len([c for c in chunks if _stream_text([c])]) > 3, "content not streamed in pieces")
    eq(_finish(chunks), ["stop"], "finish_reasons")
    h = meta["_hiway"]
    eq(h.get("routed_model"), "ant/claude-t", "meta routed_model")
    eq(h.get("fallback_chain"), [], "meta fallback_chain")
    u = meta["usage"]
    check(u.get("prompt_tokens", 0) > 0 and u.get("completion_tokens", 0) > 0, "usage %r" % u)
    last = _last(ctx)
    eq(last["body"].get("stream"), True, "upstream stream flag")
    eq(last["headers"].get("x-api-key"), "sk-ant-test", "x-api-key")
    # same text as the non-streaming answer
    b = _chat_ok(gw, body).json
    eq(b["choices"][0]["message"]["content"], _stream_text(chunks), "stream vs JSON content")
    # include_usage: the usage chunk (choices []) then the meta chunk
    s, evs = _stream(gw, {"model": "ant/claude-t", "stream_options": {"include_usage": True},
                          "messages": [{"role": "user", "content": uniq("u v")}]}, headers=None)
    chunks = _chunks(evs)
    eq(evs[-1], "[DONE]", "last event")
    check("_hiway" in chunks[-1], "no meta chunk with include_usage")
    uc = [c for c in chunks[:-1] if c.get("choices") == [] and c.get("usage")]
    eq(len(uc), 1, "usage chunks with include_usage")
    check(chunks[-2] is uc[0], "the usage chunk does not precede the meta chunk")
    eq(uc[0]["usage"].get("prompt_tokens"), chunks[-1]["usage"].get("prompt_tokens"),
       "usage chunk vs meta usage")
    # no meta chunk unless asked
    s, evs = _stream(gw, dict(body, messages=[{"role": "user", "content": uniq("a b")}]),
                     headers=None)
    check(not [c for c in _chunks(evs) if "_hiway" in c], "meta chunk without being asked")
    eq(evs[-1], "[DONE]", "last event")


def _stream_tool_deltas(chunks):
    return [tc for c in chunks for ch in (c.get("choices") or [])
            for tc in ((ch.get("delta") or {}).get("tool_calls") or [])]


@test
def anthropic_stream_tools(ctx):
    gw = _prov(ctx)
    calls = [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
             {"name": "get_weather", "arguments": {"city": "Rome", "unit": "celsius"}}]
    for content in (None, "Let me check."):
        _anthropic_stream_tools(ctx, gw, calls, content)


def _anthropic_stream_tools(ctx, gw, calls, content):
    fault = {"tool_calls": calls}
    if content:  # a text block first: tool call indexes still count tool_use blocks from 0
        fault["content"] = content
    body = {"model": "ant/claude-t", "tools": TOOLS, "messages": [
        {"role": "user", "content": uniq("weather?") + " " + marker(**fault)}]}
    s, evs = _stream(gw, body)
    chunks, _ = _check_clean_stream(s, evs, "ant/claude-t")
    eq(_finish(chunks), ["tool_calls"], "finish_reasons")
    eq(_stream_text(chunks), content or "", "streamed text before the calls")
    deltas = _stream_tool_deltas(chunks)
    check(deltas, "no delta.tool_calls")
    got = {}
    for d in deltas:
        i = d.get("index")
        check(isinstance(i, int), "tool call delta without index: %r" % d)
        if i not in got:
            check(d.get("id") and (d.get("function") or {}).get("name"),
                  "first delta of call %d lacks id/name: %r" % (i, d))
            eq(d.get("type"), "function", "first delta type")
            got[i] = {"id": d["id"], "name": d["function"]["name"], "args": "", "pieces": 0}
        else:
            check("id" not in d or d["id"] == got[i]["id"], "id changes in call %d" % i)
        piece = (d.get("function") or {}).get("arguments") or ""
        got[i]["args"] += piece
        got[i]["pieces"] += 1 if piece else 0
    eq(sorted(got), [0, 1], "tool call indexes")
    for i, c in enumerate(calls):
        eq(got[i]["name"], c["name"], "name of call %d" % i)
        eq(json.loads(got[i]["args"]), c["arguments"], "arguments of call %d" % i)
        check(got[i]["pieces"] > 1, "arguments of call %d not streamed in pieces" % i)
    check(got[0]["id"] != got[1]["id"], "tool call ids are not distinct")


@test
def anthropic_fallback_503(ctx):
    gw = _prov(ctx)
    for stream, status in ((False, 503), (True, 503), (False, 529), (True, 500)):
        text = uniq("fallback") + " " + marker(status=status, only_model="claude-t")
        body = {"model": "light", "messages": [{"role": "user", "content": text}]}
        chain = [{"model": "ant/claude-t", "error": str(status)}]
        if not stream:
            r = _chat_ok(gw, body)
            b = _check_completion(r, "fake/ant-backup", built=False)
            h = b["_hiway"]
            eq(b["choices"][0]["message"]["content"], "fake: " + text, "fallback content")
        else:
            s, evs = _stream(gw, body)
            chunks, meta = _check_clean_stream(s, evs, "fake/ant-backup")
            h = meta["_hiway"]
            eq(_stream_text(chunks), "fake: " + text, "fallback streamed content")
        eq(h.get("fallback"), True, "_hiway.fallback")
        eq(h.get("fallback_chain"), chain, "_hiway.fallback_chain")
        check("fallback" in (h.get("reason") or ""), "reason %r" % h.get("reason"))
        last = _last(ctx)
        eq((last["path"], last["body"].get("model")), ("/v1/chat/completions", "ant-backup"),
           "the fallback went upstream")
        if stream:  # openai_compatible: stream_usage (default true) asks for the usage
            eq(last["body"].get("stream_options"), {"include_usage": True}, "stream_options")
        else:
            eq(last["body"].get("max_tokens"), 4096, "openai_compatible sends max_tokens")


@test
def fallback_across_formats(ctx):
    """heavy: mis/mistral-t, then fake/heavy-backup, then (price, id) ant/claude-haiku-4-5: two
    OpenAI-format failures, then an Anthropic answer translated back; three attempts at most."""
    gw = _prov(ctx)
    chain = [{"model": "mis/mistral-t", "error": "503"},
             {"model": "fake/heavy-backup", "error": "503"}]
    for stream in (False, True):
        text = uniq("across") + " " + marker(status=503, only_model=["mistral-t", "heavy-backup"])
        body = {"model": "heavy", "messages": [{"role": "user", "content": text}]}
        if not stream:
            r = _chat_ok(gw, body)
            b = _check_completion(r, "ant/claude-haiku-4-5")
            eq(b["choices"][0]["message"]["content"], "fake: " + text, "content")
            h = b["_hiway"]
        else:
            s, evs = _stream(gw, body)
            chunks, meta = _check_clean_stream(s, evs, "ant/claude-haiku-4-5")
            eq(_stream_text(chunks), "fake: " + text, "streamed content")
            h = meta["_hiway"]
        eq(h.get("fallback_chain"), chain, "fallback_chain")
        last = _last(ctx)
        eq((last["path"], last["headers"].get("x-api-key")), ("/v1/messages", "sk-ant-test"),
           "the anthropic attempt")
    text = uniq("all fail") + " " + marker(
        status=503, only_model=["mistral-t", "heavy-backup", "claude-haiku-4-5"])
    n = ctx.fake.requests()
    expect_error(gw.chat({"model": "heavy", "messages": [{"role": "user", "content": text}]},
                         key=gw.key), 502, "upstream_unavailable")
    eq(ctx.fake.requests() - n, 3, "attempts (upstream.max_attempts)")


@test
def cooldown_after_translated_429(ctx):
    """§9.2/§9.4: a 429 with Retry-After from Anthropic or Gemini falls back and cools the
    model down: later requests skip it without calling it."""
    fp = ctx.fake.port
    gw = _gateway(ctx, "pcool", (
        "providers:\n"
        "  ant: {kind: anthropic, base_url: \"http://127.0.0.1:%d\", api_key: \"sk-ant-test\"}\n"
        "  gem: {kind: google, base_url: \"http://127.0.0.1:%d\", api_key: \"g-test\"}\n"
        "  fake: {kind: openai_compatible, base_url: \"http://127.0.0.1:%d/v1\"}\n"
        "catalog:\n  builtin: false\n  models:\n" % (fp, fp, fp)
        + _model("ant/claude-c", "light", 1, 1, 90)
        + _model("gem/gemini-c", "light", 1.5, 1.5, 10)
        + _model("fake/c-backup", "light", 2, 2, 10)))

    def ask(fault=None):
        text = uniq("cool") + (" " + marker(**fault) if fault else "")
        n = ctx.fake.requests()
        r = _chat_ok(gw, {"model": "light", "messages": [{"role": "user", "content": text}]})
        return r.json["model"], r.json["_hiway"]["fallback_chain"], ctx.fake.requests() - n
    eq(ask({"status": 429, "retry_after": "30", "only_model": "claude-c"}),
       ("gem/gemini-c", [{"model": "ant/claude-c", "error": "429"}], 2), "anthropic 429")
    eq(ask(), ("gem/gemini-c", [], 1), "anthropic model cooling down")
    eq(ask({"status": 429, "retry_after": "30", "only_model": "gemini-c"}),
       ("fake/c-backup", [{"model": "gem/gemini-c", "error": "429"}], 2), "gemini 429")
    eq(ask(), ("fake/c-backup", [], 1), "both cooling down")


def _check_error_event(evs, reason=None):
    check(evs and evs[-1] != "[DONE]", "a broken stream ended with [DONE]")
    err = json.loads(evs[-1]).get("error")
    check(isinstance(err, dict), "last event is not an error: %r" % evs[-1])
    eq(err.get("type"), "upstream_error", "error.type")
    eq(err.get("code"), "stream_interrupted", "error.code")
    eq(err.get("message"), "Upstream stream interrupted.", "error.message")
    check(str(err.get("request_id", "")).startswith("req_"),
          "request_id %r" % err.get("request_id"))
    if reason:
        eq(err.get("reason"), reason, "error.reason")
    eq(len([e for e in evs if "\"error\"" in e]), 1, "error events")
    return err


@test
def anthropic_error_mid_stream(ctx):
    gw = _prov(ctx)
    body = {"model": "light", "messages": [{"role": "user", "content": uniq("a b c d e f g") + " "
                                            + marker(error_after_chunks=5)}]}
    s, evs = _stream(gw, body)
    eq(s.header("X-HiWay-Routed-Model"), "ant/claude-t", "routed model (no fallback mid-stream)")
    check(_stream_text(_chunks(evs[:-1])), "no content before the error")
    _check_error_event(evs, "upstream_error")
    check(not [e for e in evs if "_hiway" in e], "meta chunk in a broken stream")
    for fault, reason in (({"cut_after_chunks": 5}, "upstream_eof"),
                          ({"malformed": True, "malformed_after_chunks": 5}, "malformed")):
        body = {"model": "light", "messages": [
            {"role": "user", "content": uniq("a b c d e f g") + " " + marker(**fault)}]}
        s, evs = _stream(gw, body)
        eq(s.header("X-HiWay-Routed-Model"), "ant/claude-t", "routed model (%s)" % reason)
        _check_error_event(evs, reason)


@test
def anthropic_upstream_401(ctx):
    gw = _prov(ctx)
    for model in ("ant/claude-t", "light"):  # no fallback on an auth failure, even for a tier
        body = {"model": model, "messages": [{"role": "user", "content": uniq("x") + " "
                                              + marker(status=401, only_model="claude-t")}]}
        n = ctx.fake.requests()
        expect_error(gw.chat(body, key=gw.key), 502, "upstream_auth_failed")
        eq(ctx.fake.requests() - n, 1, "upstream requests (no fallback after 401)")
        s = gw.stream(body, key=gw.key)
        expect_error(s.body_resp(), 502, "upstream_auth_failed")


@test
def upstream_error_statuses(ctx):
    """§9.2 through the translating providers: 400/404/422 -> 400 upstream_rejected, 401/403 ->
    502 upstream_auth_failed, a pinned 429 -> 429 upstream_rate_limited with Retry-After."""
    gw = _prov(ctx)
    for model, up in (("ant/claude-rl", "claude-rl"), ("gem/gemini-err", "gemini-err")):
        for status, code, http_status in ((400, "upstream_rejected", 400),
                                          (404, "upstream_rejected", 400),
                                          (422, "upstream_rejected", 400),
                                          (403, "upstream_auth_failed", 502),
                                          (401, "upstream_auth_failed", 502)):
            body = {"model": model, "messages": [
                {"role": "user", "content": uniq("x") + " " + marker(status=status)}]}
            expect_error(gw.chat(body, key=gw.key), http_status, code)
    body = {"model": "ant/claude-rl", "messages": [
        {"role": "user", "content": uniq("x") + " " + marker(status=429, retry_after="1")}]}
    r = gw.chat(body, key=gw.key)
    expect_error(r, 429, "upstream_rate_limited")
    eq(r.header("Retry-After"), "1", "Retry-After of the provider")


def _long_system(n_words):
    return " ".join("rule%d: be precise and careful with every detail" % i for i in range(n_words))


@test
def anthropic_prompt_cache_injection(ctx):
    gw = _prov(ctx)
    tools = [TOOLS[0], {"type": "function", "function": {
        "name": "get_time", "parameters": {"type": "object", "properties": {}}}}]
    long_sys = _long_system(150)  # ~7,000 bytes: well over 1024 tokens
    body = {"model": "ant/claude-t", "tools": tools, "messages": [
        {"role": "system", "content": "First system part."},
        {"role": "system", "content": long_sys},
        {"role": "user", "content": uniq("hello")}]}
    _chat_ok(gw, body)
    ub = _last(ctx)["body"]
    eq(ub["tools"][-1].get("cache_control"), {"type": "ephemeral"}, "last tool cache_control")
    check("cache_control" not in ub["tools"][0], "cache_control on the first tool")
    eq(ub["system"][-1].get("cache_control"), {"type": "ephemeral"}, "last system block")
    check("cache_control" not in ub["system"][0], "cache_control on the first system block")
    check("cache_control" not in json.dumps(ub["messages"]), "cache_control on a message")
    # short: no injection
    _chat_ok(gw, {"model": "ant/claude-t", "tools": tools, "messages": [
        {"role": "system", "content": "Short."}, {"role": "user", "content": uniq("hello")}]})
    check("cache_control" not in json.dumps(_last(ctx)["body"]), "cache_control below the minimum")
    # a system prompt alone over the minimum (no tools): the last system block only
    _chat_ok(gw, {"model": "ant/claude-t", "messages": [
        {"role": "system", "content": long_sys}, {"role": "user", "content": uniq("hello")}]})
    ub = _last(ctx)["body"]
    eq(ub["system"][-1].get("cache_control"), {"type": "ephemeral"}, "system-only cache_control")
    check("cache_control" not in json.dumps(ub["messages"]), "cache_control on a message")
    # claude-haiku-4-5's minimum is 4096 tokens: the same ~1,800 tokens are not enough
    _chat_ok(gw, dict(body, model="ant/claude-haiku-4-5",
                      messages=body["messages"][:2] + [{"role": "user", "content": uniq("h")}]))
    last = _last(ctx)
    eq(last["body"].get("model"), "claude-haiku-4-5", "upstream model")
    check("cache_control" not in json.dumps(last["body"]), "cache_control under haiku's minimum")
    # prompt_cache: false
    _chat_ok(gw, dict(body, model="antnc/claude-nc",
                      messages=body["messages"][:2] + [{"role": "user", "content": uniq("n")}]))
    last = _last(ctx)
    eq(last["headers"].get("x-api-key"), "sk-nc", "x-api-key")
    check("cache_control" not in json.dumps(last["body"]), "cache_control with prompt_cache false")


def _replay(ctx, last):
    """Sends what the gateway sent upstream to the fake again, directly and not streamed, and
    returns the fake's own answer (to compare the usage the gateway mapped)."""
    hd = {k: v for k, v in last["headers"].items()
          if k in ("x-api-key", "anthropic-version", "x-goog-api-key", "authorization")}
    body = dict(last["body"])
    body.pop("stream", None)
    body.pop("stream_options", None)
    path = last["path"].replace(":streamGenerateContent", ":generateContent")
    r = http(ctx.fake.port, "POST", path, body=body, headers=hd)
    eq(r.status, 200, "replay to the fake (%r)" % r)
    return r.json


@test
def anthropic_usage_exact(ctx):
    gw = _prov(ctx)
    text = uniq("count my tokens please") + " " + marker(cache_read_tokens=70,
                                                         cache_creation_tokens=30)
    b = _chat_ok(gw, {"model": "ant/claude-t",
                      "messages": [{"role": "user", "content": text}]}).json
    fu = _replay(ctx, _last(ctx))["usage"]
    want_prompt = (fu["input_tokens"] + fu["cache_read_input_tokens"]
                   + fu["cache_creation_input_tokens"])
    _check_usage(b["usage"], want_prompt, fu["output_tokens"], 70)
    eq(b["usage"].get("cache_read_input_tokens"), 70, "cache_read_input_tokens")
    eq(b["usage"].get("cache_creation_input_tokens"), 30, "cache_creation_input_tokens")


def _micro(x):
    return round(x * 1e6)


def _check_cost(r, want_micro):
    """§10.1: upstream_cost in µ$; X-HiWay-Cost-USD = upstream_cost + markup_cost."""
    h = r.json["_hiway"]
    eq(_micro(h["upstream_cost"]), want_micro, "_hiway.upstream_cost in micro-USD")
    cost = r.header("X-HiWay-Cost-USD") or ""
    check(re.match(r"^\d+\.\d{6}$", cost), "X-HiWay-Cost-USD %r" % cost)
    eq(_micro(float(cost)), _micro(h["upstream_cost"]) + _micro(h["markup_cost"]),
       "X-HiWay-Cost-USD = upstream_cost + markup_cost")


@test
def anthropic_cost_with_cache(ctx):
    gw = _prov(ctx)
    # claude-t: $1/M in and out, so cache reads $0.10/M and writes $1.25/M (§7.2 defaults)
    text = uniq("price me") + " " + marker(cache_read_tokens=1200, cache_creation_tokens=400)
    r = _chat_ok(gw, {"model": "ant/claude-t",
                      "messages": [{"role": "user", "content": text}]})
    fu = _replay(ctx, _last(ctx))["usage"]
    want = fu["input_tokens"] + 120 + 500 + fu["output_tokens"]
    _check_cost(r, want)


@test
def anthropic_cost_with_cache_reads(ctx):
    gw = _prov(ctx)
    text = uniq("price me") + " " + marker(cache_read_tokens=1200)
    r = _chat_ok(gw, {"model": "ant/claude-t",
                      "messages": [{"role": "user", "content": text}]})
    fu = _replay(ctx, _last(ctx))["usage"]
    _check_cost(r, fu["input_tokens"] + 120 + fu["output_tokens"])


@test
def anthropic_request_mapping(ctx):
    gw = _prov(ctx)
    png = PNG
    body = {"model": "ant/claude-t", "user": "end-user-7", "seed": 42, "top_p": 0.9,
            "frequency_penalty": 0.5, "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": "Sys."},
                {"role": "user", "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + png}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
                {"role": "user", "content": uniq("and answer")}]}
    r = _chat_ok(gw, body)
    ub = _last(ctx)["body"]
    eq((ub.get("metadata") or {}).get("user_id"), "end-user-7", "metadata.user_id")
    eq(ub.get("top_p"), 0.9, "top_p")
    for f in ("seed", "frequency_penalty", "response_format", "user", "n"):
        check(f not in ub, "%s sent to anthropic" % f)
    st = [x.get("text") for x in ub["system"]]
    eq(st[0], "Sys.", "first system block")
    check(any("Respond with a single valid JSON object only." in (t or "") for t in st),
          "no JSON instruction in system: %r" % st)
    msgs = ub["messages"]
    eq([m["role"] for m in msgs], ["user"], "consecutive user messages merged")
    blocks = msgs[0]["content"]
    eq(blocks[0], {"type": "text", "text": "look"}, "text block")
    eq(blocks[1], {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                               "data": png}}, "base64 image block")
    eq(blocks[2], {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
       "url image block")
    eq(blocks[-1].get("type"), "text", "last block")
    # the fake answers with the text of the whole (merged) last user message
    eq(r.json["choices"][0]["message"]["content"], "fake: look\n" + blocks[-1]["text"], "answer")
    # an assistant tool call with invalid JSON arguments is a 400 before any upstream call
    bad = {"model": "ant/claude-t", "messages": [
        {"role": "user", "content": uniq("x")},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "r"}]}
    n = ctx.fake.requests()
    r = gw.chat(bad, key=gw.key)
    eq(r.status, 400, "invalid tool arguments (%r)" % r)
    eq(ctx.fake.requests(), n, "upstream requests after an invalid translation")


@test
def anthropic_tool_choice_forms(ctx):
    gw = _prov(ctx)
    for choice, want in (("auto", {"type": "auto"}), ("none", {"type": "none"}),
                         ({"type": "function", "function": {"name": "get_weather"}},
                          {"type": "tool", "name": "get_weather"})):
        b = _chat_ok(gw, {"model": "ant/claude-t", "tools": TOOLS, "tool_choice": choice,
                          "messages": [{"role": "user", "content": uniq("x")}]}).json
        eq(_last(ctx)["body"].get("tool_choice"), want, "tool_choice %r" % (choice,))
        if choice == "none":  # the fake answers text when told not to call
            eq(b["choices"][0]["finish_reason"], "stop", "finish with tool_choice none")
        else:
            eq(b["choices"][0]["finish_reason"], "tool_calls", "finish with tool_choice %r"
               % (choice,))


@test
def anthropic_tool_result_then_user_text(ctx):
    gw = _prov(ctx)
    q = uniq("and now a joke")
    b = _chat_ok(gw, {"model": "ant/claude-t", "messages": [
        {"role": "user", "content": uniq("weather?")},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_X", "type": "function",
             "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "toolu_X", "content": "warm"},
        {"role": "user", "content": q}]}).json
    msgs = _last(ctx)["body"]["messages"]
    eq([m["role"] for m in msgs], ["user", "assistant", "user"], "tool result and text merged")
    last = msgs[2]["content"]
    eq(last[0].get("type"), "tool_result", "first block")
    eq(last[0].get("tool_use_id"), "toolu_X", "tool_use_id")
    eq(last[-1], {"type": "text", "text": q}, "user text after the result")
    check(b["choices"][0]["message"]["content"], "answer")


@test
def translated_unicode_and_large(ctx):
    gw = _prov(ctx)
    for model in ("ant/claude-t", "gem/gemini-t"):
        text = uniq("héllo wörld — 日本語 テキスト 🚀🎉 naïve café ünïcödé ∑∫")
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        b = _chat_ok(gw, body).json
        eq(b["choices"][0]["message"]["content"], "fake: " + text, model + " unicode content")
        s, evs = _stream(gw, body)
        chunks, _ = _check_clean_stream(s, evs, model)
        eq(_stream_text(chunks), "fake: " + text, model + " unicode streamed")
        body = {"model": model, "messages": [
            {"role": "user", "content": uniq("big") + " " + marker(oversized=40000)}]}
        b = _chat_ok(gw, body).json
        eq(len(b["choices"][0]["message"]["content"]), 40006, model + " large content")
        s, evs = _stream(gw, body)
        chunks, _ = _check_clean_stream(s, evs, model)
        eq(len(_stream_text(chunks)), 40006, model + " large streamed content")


def _no_usage_body(model):
    return {"model": model, "messages": [
        {"role": "user", "content": uniq("no usage here") + " " + marker(no_usage=True)}]}


def _check_estimated(u, h, content, what):
    """§8.5: prompt = est_tokens, completion = ceil(output bytes / 4), usage_estimated."""
    eq(h.get("usage_estimated"), True, what + " usage_estimated")
    eq(u.get("completion_tokens"), -(-len(content.encode()) // 4), what + " completion estimate")
    check(u.get("prompt_tokens", 0) > 0, what + " prompt estimate %r" % u)
    check(h.get("upstream_cost", 0) > 0, what + " upstream_cost %r" % h.get("upstream_cost"))


@test
def translated_without_usage(ctx):
    """An upstream that reports no usage: the estimate of §8.5, flagged usage_estimated."""
    gw = _prov(ctx)
    # Gemini stream: the meta chunk carries the estimate
    s, evs = _stream(gw, _no_usage_body("gem/gemini-t"))
    chunks, meta = _check_clean_stream(s, evs, "gem/gemini-t")
    _check_estimated(meta["usage"], meta["_hiway"], _stream_text(chunks), "gemini stream")
    # Mistral (OpenAI format, returned as received plus _hiway)
    b = _chat_ok(gw, _no_usage_body("mis/mistral-t")).json
    eq(b["_hiway"].get("usage_estimated"), True, "mistral usage_estimated")
    check(b["_hiway"].get("upstream_cost", 0) > 0, "mistral upstream_cost %r" % b["_hiway"])


@test
def google_without_usage_body(ctx):
    gw = _prov(ctx)
    b = _chat_ok(gw, _no_usage_body("gem/gemini-t")).json
    u = b.get("usage")
    check(isinstance(u, dict), "no usage object in a response hiway built: %r" % u)
    _check_estimated(u, b["_hiway"], b["choices"][0]["message"]["content"], "gemini")


@test
def anthropic_without_usage(ctx):
    gw = _prov(ctx)
    b = _chat_ok(gw, _no_usage_body("ant/claude-t")).json
    _check_estimated(b.get("usage") or {}, b["_hiway"], b["choices"][0]["message"]["content"],
                     "anthropic")
    s, evs = _stream(gw, _no_usage_body("ant/claude-t"))
    chunks, meta = _check_clean_stream(s, evs, "ant/claude-t")
    _check_estimated(meta["usage"], meta["_hiway"], _stream_text(chunks), "anthropic stream")


@test
def max_tokens_and_json_schema(ctx):
    """max_completion_tokens wins over max_tokens (§5.2); json_schema reaches Anthropic as a
    system instruction with the schema and Gemini as responseMimeType + responseSchema."""
    gw = _prov(ctx)
    schema = {"type": "object", "properties": {"answer": {"type": "string"}},
              "required": ["answer"]}
    rf = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    for model in ("ant/claude-t", "gem/gemini-t"):
        _chat_ok(gw, {"model": model, "max_completion_tokens": 100, "max_tokens": 200,
                      "response_format": rf,
                      "messages": [{"role": "user", "content": uniq("json please")}]})
        ub = _last(ctx)["body"]
        if model.startswith("ant/"):
            eq(ub.get("max_tokens"), 100, "anthropic max_tokens")
            sys_text = " ".join(x.get("text", "") for x in ub.get("system") or [])
            check("Respond with a single valid JSON object only." in sys_text,
                  "no JSON instruction: %r" % sys_text)
            check("answer" in sys_text and "required" in sys_text,
                  "the schema is not in the system text: %r" % sys_text)
        else:
            gc = ub.get("generationConfig") or {}
            eq(gc.get("maxOutputTokens"), 100, "gemini maxOutputTokens")
            eq(gc.get("responseMimeType"), "application/json", "responseMimeType")
            eq(gc.get("responseSchema"), schema, "responseSchema")


@test
def anthropic_length_finish(ctx):
    gw = _prov(ctx)
    b = _chat_ok(gw, {"model": "ant/claude-t", "messages": [
        {"role": "user", "content": uniq("long") + " " + marker(finish="length")}]}).json
    eq(b["choices"][0]["finish_reason"], "length", "max_tokens -> length")


@test
def messages_endpoint_providers(ctx):
    """§5.3 / §8.3: /v1/messages to anthropic goes as received (model replaced); to Gemini and
    Mistral it is translated and comes back as an Anthropic message."""
    gw = _prov(ctx)
    text = uniq("hello there")
    body = {"model": "ant/claude-t", "max_tokens": 50, "system": "Sys.", "top_k": 5,
            "unknown_field": {"kept": True},
            "messages": [{"role": "user", "content": text}]}
    r = gw.req("POST", "/v1/messages", body, key=gw.key)
    eq(r.status, 200, "status (%r)" % r)
    eq(r.json.get("type"), "message", "type")
    eq(r.json.get("model"), "ant/claude-t", "model")
    eq(r.json["content"], [{"type": "text", "text": "fake: " + text}], "content")
    check(isinstance(r.json.get("_hiway"), dict), "_hiway")
    ub = _last(ctx)["body"]
    eq(ub, dict(body, model="claude-t"), "forwarded as received except model")
    eq(_last(ctx)["headers"].get("x-api-key"), "sk-ant-test", "x-api-key")
    for model, up in (("gem/gemini-t", "gemini"), ("mis/mistral-t", "openai")):
        text = uniq("hello there")
        r = gw.req("POST", "/v1/messages", {"model": model, "max_tokens": 50, "system": "Sys.",
                                            "messages": [{"role": "user", "content": text}]},
                   key=gw.key)
        eq(r.status, 200, "%s status (%r)" % (model, r))
        m = r.json
        eq((m.get("type"), m.get("role"), m.get("model")), ("message", "assistant", model),
           model + " message")
        eq(m["content"], [{"type": "text", "text": "fake: " + text}], model + " content")
        eq(m.get("stop_reason"), "end_turn", model + " stop_reason")
        u = m.get("usage") or {}
        for f in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                  "cache_read_input_tokens"):
            check(isinstance(u.get(f), int), "%s usage.%s %r" % (model, f, u.get(f)))
        last = _last(ctx)
        eq(last["format"], up, model + " upstream format")
        if up == "gemini":
            eq(last["body"]["systemInstruction"]["parts"][0].get("text"), "Sys.",
               "systemInstruction")
        else:
            eq(last["body"]["messages"][0], {"role": "system", "content": "Sys."},
               "leading system message")


# ======================================================================== Google

def _gem_path(stream):
    return "/v1beta/models/gemini-t:" + ("streamGenerateContent" if stream else "generateContent")


@test
def google_text(ctx):
    gw = _prov(ctx)
    text = uniq("tell me about rivers")
    body = {"model": "gem/gemini-t", "max_tokens": 55, "temperature": 0.5,
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": text}]}
    r = _chat_ok(gw, body)
    b = _check_completion(r, "gem/gemini-t")
    ch = b["choices"][0]
    eq(ch["message"].get("content"), "fake: " + text, "content")
    eq(ch.get("finish_reason"), "stop", "finish_reason")
    u = b.get("usage") or {}
    check(u.get("prompt_tokens", 0) > 0 and u.get("completion_tokens", 0) > 0, "usage %r" % u)
    _check_usage(u, u["prompt_tokens"], u["completion_tokens"], 0)
    last = _last(ctx)
    eq(last["path"], _gem_path(False), "upstream path")
    eq(last["format"], "gemini", "upstream format")
    eq(last["headers"].get("x-goog-api-key"), "g-test", "x-goog-api-key")
    check("authorization" not in last["headers"], "authorization sent to google")
    ub = last["body"]
    si = ub.get("systemInstruction") or {}
    eq("".join(p.get("text", "") for p in si.get("parts", [])), "Be brief.", "systemInstruction")
    eq([c.get("role") for c in ub.get("contents", [])], ["user"], "contents roles")
    eq(ub["contents"][0]["parts"], [{"text": text}], "contents parts")
    gc = ub.get("generationConfig") or {}
    eq(gc.get("maxOutputTokens"), 55, "maxOutputTokens")
    eq(gc.get("temperature"), 0.5, "temperature")
    eq(gc.get("candidateCount"), 1, "candidateCount")


@test
def google_cache_usage(ctx):
    gw = _prov(ctx)
    text = uniq("cached") + " " + marker(cache_read_tokens=40)
    b = _chat_ok(gw, {"model": "gem/gemini-t",
                      "messages": [{"role": "user", "content": text}]}).json
    u = b["usage"]
    eq((u.get("prompt_tokens_details") or {}).get("cached_tokens"), 40, "cached_tokens")
    check(u["prompt_tokens"] >= 40, "prompt_tokens %r" % u)


@test
def google_tools(ctx):
    gw = _prov(ctx)
    calls = [{"name": "get_weather", "arguments": {"city": "Oslo"}},
             {"name": "get_weather", "arguments": {"city": "Bergen"}}]
    body = {"model": "gem/gemini-t", "tools": TOOLS, "tool_choice": "required", "messages": [
        {"role": "user", "content": uniq("weather?") + " " + marker(tool_calls=calls)}]}
    b = _chat_ok(gw, body).json
    ch = b["choices"][0]
    eq(ch.get("finish_reason"), "tool_calls", "finish_reason")
    tcs = ch["message"].get("tool_calls") or []
    eq([t.get("id") for t in tcs], ["call_0", "call_1"], "tool call ids")
    eq([t["function"]["name"] for t in tcs], ["get_weather"] * 2, "names")
    eq([json.loads(t["function"]["arguments"]) for t in tcs], [c["arguments"] for c in calls],
       "arguments")
    ub = _last(ctx)["body"]
    fds = [fd for t in ub.get("tools", []) for fd in t.get("functionDeclarations", [])]
    eq([fd.get("name") for fd in fds], ["get_weather"], "functionDeclarations")
    eq(((ub.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode"), "ANY",
       "functionCallingConfig.mode")
    # follow-up with the call and its result
    follow = {"model": "gem/gemini-t", "tools": TOOLS, "messages": [
        {"role": "user", "content": uniq("weather in Oslo?")},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": "cold"}]}
    b = _chat_ok(gw, follow).json
    eq(b["choices"][0]["message"]["content"], "fake: tool result: cold", "answer after result")
    cs = _last(ctx)["body"]["contents"]
    eq([c.get("role") for c in cs], ["user", "model", "user"], "contents roles")
    eq(len(cs[1]["parts"]), 1, "model parts")
    eq(cs[1]["parts"][0].get("functionCall"), {"name": "get_weather", "args": {"city": "Oslo"}},
       "functionCall part")
    fr = cs[2]["parts"][0].get("functionResponse") or {}
    eq(fr.get("name"), "get_weather", "functionResponse name")
    eq((fr.get("response") or {}).get("content"), "cold", "functionResponse content")


@test
def google_request_mapping(ctx):
    gw = _prov(ctx)
    png = PNG
    body = {"model": "gem/gemini-t", "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + png}}]},
        {"role": "assistant", "content": "A pixel."},
        {"role": "user", "content": uniq("more") + " " + marker(finish="length")}]}
    b = _chat_ok(gw, body).json
    eq(b["choices"][0]["finish_reason"], "length", "MAX_TOKENS -> length")
    cs = _last(ctx)["body"]["contents"]
    eq([c["role"] for c in cs], ["user", "model", "user"], "roles")
    eq(cs[0]["parts"], [{"text": "look"}, {"inlineData": {"mimeType": "image/png", "data": png}}],
       "image part")
    eq(cs[1]["parts"], [{"text": "A pixel."}], "model text")
    for choice, mode in (("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")):
        _chat_ok(gw, {"model": "gem/gemini-t", "tools": TOOLS, "tool_choice": choice,
                      "messages": [{"role": "user", "content": uniq("x")}]})
        fcc = (_last(ctx)["body"].get("toolConfig") or {}).get("functionCallingConfig") or {}
        eq(fcc.get("mode"), mode, "tool_choice %s" % choice)


@test
def google_two_calls_and_results(ctx):
    gw = _prov(ctx)
    tools = TOOLS + [{"type": "function", "function": {
        "name": "get_time", "parameters": {"type": "object", "properties": {}}}}]
    calls = [{"name": "get_weather", "arguments": {"city": "Oslo"}},
             {"name": "get_time", "arguments": {"tz": "CET"}}]
    s, evs = _stream(gw, {"model": "gem/gemini-t", "tools": tools, "messages": [
        {"role": "user", "content": uniq("w?") + " " + marker(tool_calls=calls)}]})
    chunks, _ = _check_clean_stream(s, evs, "gem/gemini-t")
    deltas = _stream_tool_deltas(chunks)
    eq([(d.get("index"), d.get("id"), d["function"].get("name")) for d in deltas],
       [(0, "call_0", "get_weather"), (1, "call_1", "get_time")], "streamed calls")
    eq([json.loads(d["function"]["arguments"]) for d in deltas], [c["arguments"] for c in calls],
       "streamed arguments")
    # both results go back in one user content, each named after its call
    b = _chat_ok(gw, {"model": "gem/gemini-t", "tools": tools, "messages": [
        {"role": "user", "content": uniq("w?")},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
            {"id": "call_1", "type": "function",
             "function": {"name": "get_time", "arguments": "{\"tz\":\"CET\"}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": "cold"},
        {"role": "tool", "tool_call_id": "call_1", "content": "noon"}]}).json
    check(b["choices"][0]["message"]["content"].startswith("fake: tool result: "), "answer %r"
          % b["choices"][0]["message"]["content"])
    cs = _last(ctx)["body"]["contents"]
    eq([c["role"] for c in cs], ["user", "model", "user"], "roles")
    eq([p.get("functionCall", {}).get("name") for p in cs[1]["parts"]], ["get_weather", "get_time"],
       "functionCall parts")
    frs = [p.get("functionResponse") or {} for p in cs[2]["parts"]]
    eq([(f.get("name"), (f.get("response") or {}).get("content")) for f in frs],
       [("get_weather", "cold"), ("get_time", "noon")], "functionResponse parts")


@test
def google_stream(ctx):
    gw = _prov(ctx)
    text = uniq("alpha beta gamma delta")
    s, evs = _stream(gw, {"model": "gem/gemini-t",
                          "messages": [{"role": "user", "content": text}]})
    chunks, meta = _check_clean_stream(s, evs, "gem/gemini-t")
    eq(_stream_text(chunks), "fake: " + text, "reassembled content")
    eq(_finish(chunks), ["stop"], "finish_reasons")
    u = meta["usage"]
    check(u.get("prompt_tokens", 0) > 0 and u.get("completion_tokens", 0) > 0, "usage %r" % u)
    last = _last(ctx)
    eq(last["path"], _gem_path(True), "upstream stream path")
    eq(last.get("query"), {"alt": "sse"}, "upstream query")
    eq(last["headers"].get("x-goog-api-key"), "g-test", "x-goog-api-key")
    # a streamed function call arrives whole as one delta
    calls = [{"name": "get_weather", "arguments": {"city": "Oslo"}}]
    s, evs = _stream(gw, {"model": "gem/gemini-t", "tools": TOOLS, "messages": [
        {"role": "user", "content": uniq("w?") + " " + marker(tool_calls=calls)}]})
    chunks, _ = _check_clean_stream(s, evs, "gem/gemini-t")
    deltas = [tc for c in chunks for ch in (c.get("choices") or [])
              for tc in ((ch.get("delta") or {}).get("tool_calls") or [])]
    eq(len(deltas), 1, "tool call deltas")
    d = deltas[0]
    eq((d.get("index"), d.get("id"), d.get("type"), d["function"].get("name")),
       (0, "call_0", "function", "get_weather"), "tool call delta")
    eq(json.loads(d["function"]["arguments"]), {"city": "Oslo"}, "arguments")
    eq(_finish(chunks), ["tool_calls"], "finish_reasons")


@test
def google_fallback(ctx):
    gw = _prov(ctx)
    for stream in (False, True):
        text = uniq("fallback") + " " + marker(status=500, only_model="gemini-t")
        body = {"model": "standard", "messages": [{"role": "user", "content": text}]}
        if not stream:
            b = _check_completion(_chat_ok(gw, body), "fake/gem-backup", built=False)
            h = b["_hiway"]
        else:
            s, evs = _stream(gw, body)
            _, meta = _check_clean_stream(s, evs, "fake/gem-backup")
            h = meta["_hiway"]
        eq(h.get("fallback_chain"), [{"model": "gem/gemini-t", "error": "500"}], "fallback_chain")
        eq(h.get("fallback"), True, "fallback")
    # a Gemini error event mid-stream is §6.4
    s, evs = _stream(gw, {"model": "standard", "messages": [
        {"role": "user", "content": uniq("a b c d e") + " " + marker(error_after_chunks=3)}]})
    eq(s.header("X-HiWay-Routed-Model"), "gem/gemini-t", "routed model")
    _check_error_event(evs, "upstream_error")
    # a Gemini stream cut before its final candidate is upstream_eof
    s, evs = _stream(gw, {"model": "gem/gemini-t", "messages": [
        {"role": "user", "content": uniq("a b c d e") + " " + marker(cut_after_chunks=2)}]})
    _check_error_event(evs, "upstream_eof")


@test
def google_usage_and_mapping(ctx):
    gw = _prov(ctx)
    text = uniq("count these tokens") + " " + marker(cache_read_tokens=12)
    b = _chat_ok(gw, {"model": "gem/gemini-t", "top_p": 0.8, "stop": "STOP",
                      "response_format": {"type": "json_object"},
                      "messages": [{"role": "user", "content": text}]}).json
    last = _last(ctx)
    gc = last["body"].get("generationConfig") or {}
    eq(gc.get("topP"), 0.8, "topP")
    eq(gc.get("stopSequences"), ["STOP"], "stopSequences")
    eq(gc.get("responseMimeType"), "application/json", "responseMimeType")
    um = _replay(ctx, last)["usageMetadata"]
    _check_usage(b["usage"], um["promptTokenCount"],
                 um["candidatesTokenCount"] + um.get("thoughtsTokenCount", 0), 12)
    # gemini-t: $1/M in and out; cache reads at 0.5 x input
    text = uniq("price me") + " " + marker(cache_read_tokens=40)
    r = _chat_ok(gw, {"model": "gem/gemini-t", "messages": [{"role": "user", "content": text}]})
    um = _replay(ctx, _last(ctx))["usageMetadata"]
    _check_cost(r, um["promptTokenCount"] - 40 + 20 + um["candidatesTokenCount"])


# ======================================================================== Mistral

def _sha9(s):
    return hashlib.sha256(s.encode()).hexdigest()[:9]


@test
def mistral_tool_choice_and_ids(ctx):
    gw = _prov(ctx)
    body = {"model": "mis/mistral-t", "tools": TOOLS, "tool_choice": "required",
            "messages": [{"role": "user", "content": uniq("weather?")}]}
    b = _chat_ok(gw, body).json
    eq(b["model"], "mis/mistral-t", "model")
    last = _last(ctx)
    eq(last["path"], "/v1/chat/completions", "upstream path")
    eq(last["headers"].get("authorization"), "Bearer m-test", "authorization")
    eq(last["body"].get("tool_choice"), "any", "tool_choice sent as any")
    eq(last["body"].get("model"), "mistral-t", "upstream model")
    check(b["choices"][0]["message"].get("tool_calls"), "tool_calls in the answer")
    orig_a, orig_b = "call_AbCdEfGhIjKlMnOp", "toolu_01XYZ"
    follow = {"model": "mis/mistral-t", "tools": TOOLS, "messages": [
        {"role": "user", "content": uniq("weather?")},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": orig_a, "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": orig_b, "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": orig_a, "content": "sunny"},
        {"role": "tool", "tool_call_id": orig_b, "content": "rainy"}]}
    b = _chat_ok(gw, follow).json
    eq(b["choices"][0]["message"]["content"], "fake: tool result: rainy", "answer")
    msgs = _last(ctx)["body"]["messages"]
    ids = [tc["id"] for tc in msgs[1]["tool_calls"]]
    eq(ids, [_sha9(orig_a), _sha9(orig_b)], "rewritten tool call ids")
    for i in ids:
        check(re.match(r"^[0-9a-f]{9}$", i), "id %r is not 9 hex characters" % i)
    eq([m.get("tool_call_id") for m in msgs[2:]], ids, "tool messages follow the rewrite")


@test
def mistral_ids_mapped_back(ctx):
    gw = _prov(ctx)
    # An answer carrying calls with ids the upstream chose must come back as the upstream
    # sent them (the map covers ids hiway rewrote); a 9-character id passes unchanged.
    orig = "call_" + "Z" * 20
    follow = {"model": "mis/mistral-t", "tools": TOOLS, "messages": [
        {"role": "user", "content": uniq("weather?")},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": orig, "type": "function",
             "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": orig, "content": "ok"},
        {"role": "user", "content": uniq("again") + " " + marker(
            tool_calls=[{"name": "get_weather", "arguments": {"city": "Nice"}}])}]}
    b = _chat_ok(gw, follow).json
    tcs = b["choices"][0]["message"].get("tool_calls") or []
    eq(len(tcs), 1, "tool_calls")
    check(isinstance(tcs[0].get("id"), str) and tcs[0]["id"], "tool call id")
    eq(json.loads(tcs[0]["function"]["arguments"]), {"city": "Nice"}, "arguments")


@test
def mistral_stream(ctx):
    gw = _prov(ctx)
    # Mistral streams its usage on the finish chunk, with no stream_options asked
    text = uniq("one two three") + " " + marker(usage_on_finish=True)
    s, evs = _stream(gw, {"model": "mis/mistral-t", "stream_options": {"include_usage": True},
                          "messages": [{"role": "user", "content": text}]})
    chunks, meta = _check_clean_stream(s, evs, "mis/mistral-t")
    eq(_stream_text(chunks), "fake: " + text, "content")
    ub = _last(ctx)["body"]
    check("stream_options" not in ub,
          "stream_options sent to mistral: %r" % ub.get("stream_options"))
    eq(ub.get("stream"), True, "stream")
    u = meta["usage"]
    check(u.get("prompt_tokens", 0) > 0 and u.get("completion_tokens", 0) > 0, "usage %r" % u)
    check(not meta["_hiway"].get("usage_estimated"), "usage estimated although mistral sent it")
    # streamed tool calls keep their ids and names
    calls = [{"name": "get_weather", "arguments": {"city": "Lyon"}}]
    s, evs = _stream(gw, {"model": "mis/mistral-t", "tools": TOOLS, "messages": [
        {"role": "user", "content": uniq("w?") + " " + marker(tool_calls=calls,
                                                               usage_on_finish=True)}]})
    chunks, _ = _check_clean_stream(s, evs, "mis/mistral-t")
    deltas = _stream_tool_deltas(chunks)
    check(deltas and deltas[0].get("id") and deltas[0]["function"].get("name") == "get_weather",
          "first tool call delta %r" % (deltas[:1],))
    eq(json.loads("".join(d["function"].get("arguments") or "" for d in deltas)),
       {"city": "Lyon"}, "streamed arguments")
    eq(_finish(chunks), ["tool_calls"], "finish_reasons")


# ======================================================================== BYOK

def _byok(ctx):
    fp = ctx.fake.port
    text = ("secrets: {master_key: \"%s\"}\n"
            "providers:\n"
            "  byo: {kind: openai, base_url: \"http://127.0.0.1:%d/v1\", api_key: \"server-key\","
            " share_key: false}\n"
            "  shr: {kind: openai, base_url: \"http://127.0.0.1:%d/v1\", api_key: \"shared-key\"}\n"
            "  antb: {kind: anthropic, base_url: \"http://127.0.0.1:%d\", share_key: false}\n"
            "  gemb: {kind: google, base_url: \"http://127.0.0.1:%d\", share_key: false}\n"
            "catalog:\n  builtin: false\n  models:\n" % (MASTER, fp, fp, fp, fp)
            + _model("byo/byo-model", "light", 1, 1, 90)
            + _model("shr/shr-model", "light", 2, 2, 10)
            + _model("antb/claude-b", "heavy", 1, 1, 10)
            + _model("gemb/gemini-b", "heavy", 1, 1, 10))
    return _gateway(ctx, "pbyok", text)


def _new_ws(gw):
    r = gw.api("POST", "/workspaces", {"name": uniq("pws"), "create_admin_key": True,
                                        "initial_credit_usd": 10})
    eq(r.status, 201, "creating a workspace (%r)" % r)
    ws = r.json["id"]
    r = gw.api("POST", "/workspaces/%s/keys" % ws, {"name": uniq("k")})
    eq(r.status, 201, "creating a key (%r)" % r)
    return ws, r.json["key"]


def _model_ids(gw, key):
    r = gw.get("/v1/models", key=key)
    eq(r.status, 200, "GET /v1/models (%r)" % r)
    return sorted(m["id"] for m in r.json["data"])


@test
def byok_request_path(ctx):
    gw = _byok(ctx)
    ws, key = _new_ws(gw)
    pin = {"model": "byo/byo-model", "messages": [{"role": "user", "content": uniq("hi")}]}
    expect_error(gw.chat(pin, key=key), 400, "byok_missing", provider="byo")
    eq(_model_ids(gw, key), ["shr/shr-model"], "/v1/models without a workspace key")
    eq(gw.get("/v1/models/byo/byo-model", key=key).status, 404, "GET the unusable model")
    # the shared provider works with the server key
    r = gw.chat({"model": "shr/shr-model", "messages": [{"role": "user", "content": uniq("x")}]},
                key=key)
    eq(r.status, 200, "shared provider (%r)" % r)
    eq(_last(ctx)["headers"].get("authorization"), "Bearer shared-key", "server key upstream")
    # tier routing skips the unusable provider
    r = gw.chat({"model": "light", "messages": [{"role": "user", "content": uniq("x")}]}, key=key)
    eq(r.status, 200, "tier (%r)" % r)
    eq(r.json["model"], "shr/shr-model", "tier without the workspace key")
    # the workspace's own key
    r = gw.api("PUT", "/workspaces/%s/providers/byo" % ws, {"api_key": "ws-key-1"})
    eq(r.status, 200, "PUT provider key (%r)" % r)
    r = gw.chat(dict(pin, messages=[{"role": "user", "content": uniq("hi")}]), key=key)
    eq(r.status, 200, "pinned with the workspace key (%r)" % r)
    eq(r.json["model"], "byo/byo-model", "model")
    last = _last(ctx)
    eq(last["headers"].get("authorization"), "Bearer ws-key-1", "workspace key upstream")
    eq(last["body"].get("model"), "byo-model", "upstream model")
    eq(last["body"].get("max_completion_tokens"), 4096, "openai sends max_completion_tokens")
    check("max_tokens" not in last["body"], "max_tokens sent to openai")
    eq(_model_ids(gw, key), ["byo/byo-model", "shr/shr-model"], "/v1/models with the key")
    eq(gw.get("/v1/models/byo/byo-model", key=key).status, 200, "GET the usable model")
    # streaming takes the workspace key too
    st = gw.stream(dict(pin, messages=[{"role": "user", "content": uniq("s")}]), key=key)
    eq(st.status, 200, "stream status")
    evs = [d for _, d in st.read_all()]
    eq(evs[-1], "[DONE]", "stream end")
    last = _last(ctx)
    eq(last["headers"].get("authorization"), "Bearer ws-key-1", "stream key upstream")
    eq(last["body"].get("stream_options"), {"include_usage": True}, "openai stream_options")
    # the tier now prefers byo (better quality per dollar)
    r = gw.chat({"model": "light", "messages": [{"role": "user", "content": uniq("x")}]}, key=key)
    eq(r.json.get("model"), "byo/byo-model", "tier with the workspace key")
    # another workspace is not affected
    _, key2 = _new_ws(gw)
    expect_error(gw.chat(dict(pin, messages=[{"role": "user", "content": uniq("o")}]), key=key2),
                 400, "byok_missing", provider="byo")
    # a new key takes effect at once
    r = gw.api("PUT", "/workspaces/%s/providers/byo" % ws, {"api_key": "ws-key-2"})
    eq(r.status, 200, "PUT a second key (%r)" % r)
    _chat_ok_key(gw, key, dict(pin, messages=[{"role": "user", "content": uniq("k2")}]))
    eq(_last(ctx)["headers"].get("authorization"), "Bearer ws-key-2", "the new key upstream")
    # switched off by the workspace
    r = gw.api("PUT", "/workspaces/%s/providers/byo" % ws, {"enabled": False})
    eq(r.status, 200, "PUT enabled false (%r)" % r)
    expect_error(gw.chat(dict(pin, messages=[{"role": "user", "content": uniq("d")}]), key=key),
                 400, "byok_missing", provider="byo")
    eq(_model_ids(gw, key), ["shr/shr-model"], "/v1/models after disabling")
    # on again, then the key deleted: the unshared server key is not used
    eq(gw.api("PUT", "/workspaces/%s/providers/byo" % ws, {"enabled": True}).status, 200, "on")
    _chat_ok_key(gw, key, dict(pin, messages=[{"role": "user", "content": uniq("on")}]))
    eq(gw.api("DELETE", "/workspaces/%s/providers/byo" % ws).status, 204, "DELETE")
    expect_error(gw.chat(dict(pin, messages=[{"role": "user", "content": uniq("del")}]), key=key),
                 400, "byok_missing", provider="byo")


def _chat_ok_key(gw, key, body):
    r = gw.chat(body, key=key)
    eq(r.status, 200, "status (%r)" % r)
    return r


@test
def byok_fallback_uses_each_providers_key(ctx):
    """A fallback to another provider sends that provider's key, never the first one's."""
    gw = _byok(ctx)
    ws, key = _new_ws(gw)
    eq(gw.api("PUT", "/workspaces/%s/providers/byo" % ws, {"api_key": "ws-key-fb"}).status, 200,
       "PUT")
    for stream in (False, True):
        text = uniq("fb") + " " + marker(status=503, only_model="byo-model")
        body = {"model": "light", "messages": [{"role": "user", "content": text}]}
        if not stream:
            r = _chat_ok_key(gw, key, body)
            eq(r.json["model"], "shr/shr-model", "answered by the fallback")
            eq(r.json["_hiway"]["fallback_chain"], [{"model": "byo/byo-model", "error": "503"}],
               "fallback_chain")
        else:
            st = gw.stream(body, key=key)
            eq(st.status, 200, "stream status")
            eq(st.header("X-HiWay-Routed-Model"), "shr/shr-model", "stream answered by")
            st.read_all()
        eq(_last(ctx)["headers"].get("authorization"), "Bearer shared-key",
           "the fallback provider's own key")


@test
def byok_anthropic_and_google_keys(ctx):
    gw = _byok(ctx)
    ws, key = _new_ws(gw)
    for model, prov in (("antb/claude-b", "antb"), ("gemb/gemini-b", "gemb")):
        expect_error(gw.chat({"model": model, "messages": [{"role": "user", "content": uniq("x")}]},
                             key=key), 400, "byok_missing", provider=prov)
    for prov, k in (("antb", "ws-ant"), ("gemb", "ws-gem")):
        r = gw.api("PUT", "/workspaces/%s/providers/%s" % (ws, prov), {"api_key": k})
        eq(r.status, 200, "PUT %s (%r)" % (prov, r))
    for stream in (False, True):
        body = {"model": "antb/claude-b", "messages": [{"role": "user", "content": uniq("x")}]}
        if stream:
            st = gw.stream(body, key=key)
            eq(st.status, 200, "stream status")
            st.read_all()
        else:
            _chat_ok_key(gw, key, body)
        hd = _last(ctx)["headers"]
        eq(hd.get("x-api-key"), "ws-ant", "anthropic x-api-key from the workspace")
        check("authorization" not in hd, "authorization sent to anthropic")
        body = {"model": "gemb/gemini-b", "messages": [{"role": "user", "content": uniq("x")}]}
        if stream:
            st = gw.stream(body, key=key)
            eq(st.status, 200, "stream status")
            st.read_all()
        else:
            _chat_ok_key(gw, key, body)
        last = _last(ctx)
        eq(last["headers"].get("x-goog-api-key"), "ws-gem", "google key from the workspace")
        check("ws-gem" not in json.dumps(last.get("query")), "key in the URL query")
    # the heavy tier now has usable models
    r = _chat_ok_key(gw, key, {"model": "heavy",
                               "messages": [{"role": "user", "content": uniq("x")}]})
    check(r.json["model"] in ("antb/claude-b", "gemb/gemini-b"), "heavy model %r" % r.json["model"])


@test
def byok_shared_provider_disabled(ctx):
    gw = _byok(ctx)
    ws, key = _new_ws(gw)
    r = gw.api("PUT", "/workspaces/%s/providers/shr" % ws, {"enabled": False})
    eq(r.status, 200, "PUT enabled false (%r)" % r)
    expect_error(gw.chat({"model": "shr/shr-model",
                          "messages": [{"role": "user", "content": uniq("x")}]}, key=key),
                 400, "byok_missing", provider="shr")
    # no usable model at all (the echo provider `local` stays usable but has no model here,
    # the catalog being builtin: false): the tier has no usable model
    expect_error(gw.chat({"model": "light", "messages": [{"role": "user", "content": uniq("x")}]},
                         key=key), 400, "no_provider_key", tier="light")
    eq(_model_ids(gw, key), [], "/v1/models with nothing usable")
    # a workspace key for the shared provider replaces the server's
    r = gw.api("PUT", "/workspaces/%s/providers/shr" % ws, {"api_key": "ws-shr", "enabled": True})
    eq(r.status, 200, "PUT key (%r)" % r)
    r = gw.chat({"model": "shr/shr-model", "messages": [{"role": "user", "content": uniq("x")}]},
                key=key)
    eq(r.status, 200, "status (%r)" % r)
    eq(_last(ctx)["headers"].get("authorization"), "Bearer ws-shr", "workspace key upstream")


# ======================================================================== routing settings

def _routing(ctx):
    fp = ctx.fake.port
    text = ("providers:\n"
            "  fake: {kind: openai_compatible, base_url: \"http://127.0.0.1:%d/v1\"}\n"
            "catalog:\n  builtin: false\n  models:\n" % fp
            # ul: a small context window; li: no tools
            + _model("fake/ul", "ultra-light", 0.1, 0.1, 40, "us", window=6000, max_out=8000)
            + _model("fake/li", "light", 1, 1, 50, "us", ", supports_tools: false")
            # balanced: std-value (80 per blended dollar); budget: std-cheap (lowest input)
            + _model("fake/std-cheap", "standard", 0.1, 10, 10, "eu")
            + _model("fake/std-value", "standard", 1, 1, 80, "us")
            + _model("fake/hv", "heavy", 5, 5, 90, "us"))
    return _gateway(ctx, "prouting", text)


@test
def workspace_routing_profile(ctx):
    gw = _routing(ctx)
    ws, key = _new_ws(gw)

    def routed():
        r = gw.chat({"model": "standard", "messages": [{"role": "user", "content": uniq("x")}]},
                    key=key)
        eq(r.status, 200, "status (%r)" % r)
        eq(r.header("X-HiWay-Routed-Tier"), "standard", "tier")
        return r.json["model"]
    eq(routed(), "fake/std-value", "balanced pick")
    r = gw.api("PATCH", "/workspaces/%s" % ws, {"routing_profile": "budget"})
    eq(r.status, 200, "PATCH (%r)" % r)
    eq(r.json.get("routing_profile"), "budget", "routing_profile")
    eq(routed(), "fake/std-cheap", "budget pick")
    eq(_last(ctx)["body"].get("model"), "std-cheap", "upstream model")
    r = gw.api("PATCH", "/workspaces/%s" % ws, {"routing_profile": "quality"})
    eq(r.status, 200, "PATCH quality (%r)" % r)
    eq(routed(), "fake/std-value", "quality pick")
    expect_error(gw.api("PATCH", "/workspaces/%s" % ws, {"routing_profile": "cheapest"}), 400,
                 "invalid_request", param="routing_profile")
    eq(gw.api("GET", "/workspaces/%s" % ws).json.get("routing_profile"), "quality",
       "profile after a refused PATCH")


@test
def workspace_allowed_regions(ctx):
    gw = _routing(ctx)
    ws, key = _new_ws(gw)
    r = gw.api("PATCH", "/workspaces/%s" % ws, {"allowed_regions": ["eu"]})
    eq(r.status, 200, "PATCH (%r)" % r)
    eq(r.json.get("allowed_regions"), ["eu"], "allowed_regions")
    r = gw.chat({"model": "standard", "messages": [{"role": "user", "content": uniq("x")}]},
                key=key)
    eq(r.status, 200, "status (%r)" % r)
    eq(r.json["model"], "fake/std-cheap", "the only eu model of the tier")
    eq(_model_ids(gw, key), ["fake/std-cheap"], "/v1/models")
    eq(gw.get("/v1/models/fake/std-value", key=key).status, 404, "GET a model outside the regions")
    expect_error(gw.chat({"model": "fake/std-value",
                          "messages": [{"role": "user", "content": uniq("x")}]}, key=key),
                 400, "invalid_request", param="model")
    # a tier with no allowed model
    r = gw.chat({"model": "heavy", "messages": [{"role": "user", "content": uniq("x")}]}, key=key)
    check(r.status == 400, "heavy with no allowed model: %r" % r)
    # back to every region
    r = gw.api("PATCH", "/workspaces/%s" % ws, {"allowed_regions": ["eu", "us"]})
    eq(r.status, 200, "PATCH (%r)" % r)
    eq(len(_model_ids(gw, key)), 5, "/v1/models with both regions")


# ======================================================================== smart routing

RE_MS = re.compile(r"^\d+\.\d{3}$")


def _auto(gw, text, **kw):
    body = {"model": "auto", "messages": [{"role": "user", "content": text}]}
    body.update(kw)
    r = gw.chat(body, key=gw.key)
    eq(r.status, 200, "status (%r)" % r)
    ms = r.header("X-HiWay-Routing-Ms") or ""
    check(RE_MS.match(ms), "X-HiWay-Routing-Ms %r" % ms)
    h = r.json["_hiway"]
    sc = h.get("score")
    check(isinstance(sc, (int, float)) and not isinstance(sc, bool) and 0 <= sc <= 1,
          "score %r" % sc)
    eq(round(sc, 4), sc, "score has at most 4 decimals")
    check(isinstance(h.get("reason"), str) and h["reason"], "reason %r" % h.get("reason"))
    eq(h.get("routed_tier"), r.header("X-HiWay-Routed-Tier"), "_hiway.routed_tier vs header")
    return r, h


@test
def smart_routing(ctx):
    gw = _routing(ctx)
    r, h = _auto(gw, "hi")
    eq(r.header("X-HiWay-Routed-Tier"), "ultra-light", "tier of hi")
    eq(r.json["model"], "fake/ul", "model of hi")
    eq(h["score"], 0, "score of hi")
    check(h["reason"].startswith("trivial"), "reason %r" % h["reason"])
    check("ultra_light" in h["reason"], "reason %r lacks ultra_light" % h["reason"])
    # the ultra-light gates: a reasoning cue in the system prompt, or a second turn
    r, h = _auto(gw, "hi", messages=[{"role": "system", "content": "Think step by step."},
                                     {"role": "user", "content": "hi"}])
    eq(r.header("X-HiWay-Routed-Tier"), "light", "tier of hi with a reasoning cue")
    r, h = _auto(gw, "hi", messages=[{"role": "user", "content": "hi"},
                                     {"role": "assistant", "content": "Hello!"},
                                     {"role": "user", "content": "hi"}])
    eq(r.header("X-HiWay-Routed-Tier"), "light", "tier of a second hi")
    r, h = _auto(gw, "What is the capital of France?")
    eq(r.header("X-HiWay-Routed-Tier"), "ultra-light", "tier of a simple question")
    check(abs(h["score"] - 0.10) <= 0.01, "score %r" % h["score"])
    r, h = _auto(gw, "Explain how TCP congestion control works")
    eq(r.header("X-HiWay-Routed-Tier"), "light", "tier of an explanation")
    eq(r.json["model"], "fake/li", "model of an explanation")
    code = ("Why does this segfault?\n```c\nint main(void) {\n  char *p = 0;\n  *p = 1;\n"
            "  return 0;\n}\n```")
    r, h = _auto(gw, code)
    tier = r.header("X-HiWay-Routed-Tier")
    check(tier in ("standard", "heavy"), "tier of a code question %r" % tier)
    eq(r.json["model"], {"standard": "fake/std-value", "heavy": "fake/hv"}[tier], "model")
    check("code=" in h["reason"], "reason %r lacks code" % h["reason"])
    check(abs(h["score"] - 0.27) <= 0.01, "score %r" % h["score"])
    check("margin_bump" in h["reason"], "reason %r lacks margin_bump" % h["reason"])
    # tier pins and model pins
    r = gw.chat({"model": "light", "messages": [{"role": "user", "content": uniq("x")}]},
                key=gw.key)
    eq(r.header("X-HiWay-Routed-Tier"), "light", "tier pin")
    check("tier_pin" in r.json["_hiway"]["reason"], "reason %r" % r.json["_hiway"]["reason"])
    r = gw.chat({"model": "fake/hv", "messages": [{"role": "user", "content": uniq("x")}]},
                key=gw.key)
    eq(r.header("X-HiWay-Routed-Tier"), "override", "model pin")
    eq(r.json["_hiway"].get("score"), None, "score of a model pin")
    check("model_pin" in r.json["_hiway"]["reason"], "reason %r" % r.json["_hiway"]["reason"])


@test
def smart_routing_context_up_reason(ctx):
    gw = _routing(ctx)
    r, h = _auto(gw, "hi", max_tokens=7000)
    eq((r.header("X-HiWay-Routed-Tier"), r.json["model"]), ("light", "fake/li"), "tier, model")
    check("context_tier_up" in h["reason"], "reason %r lacks context_tier_up" % h["reason"])


@test
def models_listing_tiers_regions(ctx):
    gw = _routing(ctx)
    ws, key = _new_ws(gw)
    for t in ("ultra-light", "ultra_light"):
        r = gw.get("/v1/models?tier=" + t, key=key)
        eq(r.status, 200, "?tier=%s (%r)" % (t, r))
        eq([(m["id"], m["hiway_tier"]) for m in r.json["data"]], [("fake/ul", "ultra_light")],
           "?tier=" + t)
    eq(gw.api("PATCH", "/workspaces/%s" % ws, {"allowed_regions": ["eu"]}).status, 200, "PATCH")
    r = gw.get("/v1/models?tier=standard", key=key)
    eq([m["id"] for m in r.json["data"]], ["fake/std-cheap"], "?tier=standard in eu")
    m = r.json["data"][0]
    eq((m["hiway_provider"], m["hiway_quality"], m["hiway_pricing"]),
       ("fake", 10, {"input_per_mtok": 0.1, "output_per_mtok": 10}), "model item")


@test
def parallel_translated_streams(ctx):
    """Several translated streams at once (Anthropic and Gemini), each whole and in order."""
    gw = _prov(ctx)

    def one(i):
        model = ("ant/claude-t", "gem/gemini-t")[i % 2]
        text = uniq("w%d " % i + " ".join("word%d" % j for j in range(30)))
        s, evs = _stream(gw, {"model": model, "messages": [{"role": "user", "content": text}]})
        chunks, _ = _check_clean_stream(s, evs, model)
        eq(_stream_text(chunks), "fake: " + text, "content of stream %d" % i)
        return True
    res = run_threads(8, one)
    for i, x in enumerate(res):
        check(x is True, "stream %d: %r" % (i, x))


@test
def smart_routing_tools_stream(ctx):
    gw = _routing(ctx)
    # tools keep a request out of ultra-light; light has no tool model: up to standard
    r, h = _auto(gw, "hi", tools=TOOLS)
    eq(r.header("X-HiWay-Routed-Tier"), "standard", "tier of hi with tools")
    eq(r.json["model"], "fake/std-value", "model of hi with tools")
    check("tools_tier_up" in h["reason"], "reason %r lacks tools_tier_up" % h["reason"])
    check("ultra_light" not in h["reason"], "reason %r has ultra_light" % h["reason"])
    r = gw.chat({"model": "light", "tools": TOOLS,
                 "messages": [{"role": "user", "content": uniq("x")}]}, key=gw.key)
    eq(r.status, 200, "light with tools (%r)" % r)
    eq(r.json["model"], "fake/std-value", "light pin with tools")
    check("tools_tier_up" in r.json["_hiway"]["reason"], "reason %r" % r.json["_hiway"]["reason"])
    # a prompt + max tokens over ul's window moves up to light
    r, h = _auto(gw, "hi", max_tokens=7000)
    eq(r.header("X-HiWay-Routed-Tier"), "light", "tier of hi with a large max_tokens")
    eq(r.json["model"], "fake/li", "model")
    r = gw.chat({"model": "ultra-light", "max_tokens": 7000,
                 "messages": [{"role": "user", "content": uniq("x")}]}, key=gw.key)
    eq(r.status, 200, "ultra-light pin with a large max_tokens (%r)" % r)
    eq((r.header("X-HiWay-Routed-Tier"), r.json["model"]), ("light", "fake/li"), "tier, model")
    check("context_tier_up" in r.json["_hiway"]["reason"], "reason %r lacks context_tier_up"
          % r.json["_hiway"]["reason"])
    # a streamed auto request carries the headers and meta
    s = gw.stream({"model": "auto", "messages": [{"role": "user", "content": "hello"}]},
                  key=gw.key, headers=META)
    eq(s.status, 200, "stream status")
    eq(s.header("X-HiWay-Routed-Tier"), "ultra-light", "stream tier")
    check(RE_MS.match(s.header("X-HiWay-Routing-Ms") or ""), "stream X-HiWay-Routing-Ms")
    evs = [d for _, d in s.read_all()]
    meta = [c for c in _chunks(evs) if "_hiway" in c]
    eq(len(meta), 1, "meta chunk")
    eq(meta[0]["_hiway"].get("routed_tier"), "ultra-light", "meta routed_tier")
    eq(meta[0]["_hiway"].get("score"), 0, "meta score")


