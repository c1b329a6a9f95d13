# SPDX-License-Identifier: Apache-2.0
"""POST /v1/messages, the Anthropic-compatible ingress (SPEC §5.3, §6.3, §6.4, §2.1).

Against the echo provider (translated from the internal form), an anthropic provider on
the fake (forwarded as received, answered with only the model replaced) and an
OpenAI-format provider on the fake (translated both ways)."""
import http.client as httpclient
import json

from harness import (SLOW, Gateway, RE_REQ_ID, base_config, check, eq, http, test, uniq)

PATH = "/v1/messages"


def _post(gw, body, headers=None, key=None):
    hdrs = {"x-api-key": key or gw.key, "anthropic-version": "2023-06-01"}
    hdrs.update(headers or {})
    return http(gw.port, "POST", PATH, body=body, headers=hdrs)


def _stream(gw, body, headers=None):
    """[(event, data dict)] of a streamed answer, and the response."""
    conn = httpclient.HTTPConnection("127.0.0.1", gw.port, timeout=15 * SLOW)
    hdrs = {"x-api-key": gw.key, "Content-Type": "application/json"}
    hdrs.update(headers or {})
    b = dict(body, stream=True)
    conn.request("POST", PATH, body=json.dumps(b).encode(), headers=hdrs)
    r = conn.getresponse()
    if r.status != 200:
        data = r.read()
        conn.close()
        return r, json.loads(data)
    evs, name, data = [], None, []
    for raw in r:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            evs.append((name, json.loads("\n".join(data))))
            name, data = None, []
    conn.close()
    return r, evs


def _msg(text=None, **kw):
    b = {"model": "auto", "max_tokens": 64,
         "messages": [{"role": "user", "content": text or uniq("hello")}]}
    b.update(kw)
    return b


def _check_sequence(evs):
    names = [n for n, _ in evs if n != "ping"]
    eq(names[0], "message_start", "first event")
    eq(names[-1], "message_stop", "last event")
    check("message_delta" in names, "no message_delta: %r" % names)
    for n, d in evs:
        eq(d.get("type"), n, "data.type of event %s" % n)
    return names


# ---------------------------------------------------------------- echo (translated)

@test
def messages_echo_json(ctx):
    gw = ctx.echo
    r = _post(gw, _msg("hi"))
    eq(r.status, 200, "status (%r)" % r)
    b = r.json
    eq(b.get("type"), "message", "type")
    eq(b.get("role"), "assistant", "role")
    check(b.get("id", "").startswith("msg_"), "id %r" % b.get("id"))
    eq(b.get("content"), [{"type": "text", "text": "echo: hi"}], "content")
    eq(b.get("stop_reason"), "end_turn", "stop_reason")
    eq(b.get("model"), r.header("X-HiWay-Routed-Model"), "model = routed model")
    u = b.get("usage") or {}
    for f in ("input_tokens", "output_tokens", "cache_read_input_tokens",
              "cache_creation_input_tokens"):
        check(isinstance(u.get(f), int), "usage.%s" % f)
    eq(b["_hiway"].get("routed_tier"), "ultra-light", "_hiway.routed_tier")
    check(r.header("X-HiWay-Cost-USD"), "X-HiWay-Cost-USD")
    check(RE_REQ_ID.match(r.header("X-Request-Id") or ""), "X-Request-Id")
    eq(r.header("request-id"), r.header("X-Request-Id"), "request-id (Anthropic's name)")


@test
def messages_echo_stream(ctx):
    gw = ctx.echo
    r, evs = _stream(gw, _msg("one two three"))
    eq(r.status, 200, "status")
    eq(r.getheader("Content-Type"), "text/event-stream", "content type")
    names = _check_sequence(evs)
    check("hiway" not in names, "hiway event without X-HiWay-Stream-Meta")
    text = "".join(d["delta"]["text"] for n, d in evs
                   if n == "content_block_delta" and d["delta"]["type"] == "text_delta")
    eq(text, "echo: one two three", "text")
    delta = [d for n, d in evs if n == "message_delta"][0]
    eq(delta["delta"]["stop_reason"], "end_turn", "stop_reason")
    check(delta["usage"]["output_tokens"] > 0, "output_tokens")
    # with the meta header: the hiway event sits between message_delta and message_stop
    r, evs = _stream(gw, _msg("meta please"), headers={"X-HiWay-Stream-Meta": "1"})
    names = _check_sequence(evs)
    eq(names[-3:], ["message_delta", "hiway", "message_stop"], "tail")
    hw = [d for n, d in evs if n == "hiway"][0]
    check(isinstance(hw["_hiway"].get("upstream_cost"), (int, float)), "USD as a number")


@test
def messages_echo_tools(ctx):
    gw = ctx.echo
    tools = [{"name": "get_time", "description": "now", "input_schema": {"type": "object"}}]
    r = _post(gw, _msg("what time is it?", tools=tools))
    eq(r.status, 200, "status (%r)" % r)
    eq(r.json["stop_reason"], "tool_use", "stop_reason")
    block = r.json["content"][-1]
    eq((block["type"], block["name"], block["input"]), ("tool_use", "get_time", {}), "tool_use")
    follow = _msg(tools=tools, messages=[
        {"role": "user", "content": "what time is it?"},
        {"role": "assistant", "content": [block]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block["id"],
                                      "content": "noon"}]}])
    r = _post(gw, follow)
    eq(r.json["content"], [{"type": "text", "text": "echo: tool result: noon"}], "after tool")


@test
def messages_errors_anthropic_shape(ctx):
    gw = ctx.echo
    r = _post(gw, {"model": "auto", "messages": [{"role": "user", "content": "x"}]})
    eq(r.status, 400, "status")
    eq(r.json.get("type"), "error", "top-level type")
    e = r.json["error"]
    eq((e["type"], e["code"], e.get("param")), ("invalid_request_error", "invalid_request",
                                                "max_tokens"), "error")
    eq(e.get("request_id"), r.header("X-Request-Id"), "request_id")
    r = _post(gw, _msg(messages=[{"role": "user", "content": [{"type": "video"}]}]))
    eq(r.status, 400, "bad block")
    eq(r.json["error"].get("param"), "messages[0].content[0].type", "param")
    r = _post(gw, "{not json")
    eq((r.status, r.json.get("type")), (400, "error"), "invalid JSON")
    r = _post(gw, _msg(), key="hw_live_" + "0" * 32)
    eq((r.status, r.json.get("type"), r.json["error"]["code"]), (401, "error", "invalid_api_key"),
       "401")
    r = http(gw.port, "GET", PATH, key=gw.key)
    eq((r.status, r.json.get("type")), (405, "error"), "405")


# ---------------------------------------------------------------- on the fake

def _fake_gw(ctx):
    if "msg_fake" not in ctx.shared:
        fp = ctx.fake.port
        extra = ("providers:\n"
                 "  ant: {kind: anthropic, base_url: \"http://127.0.0.1:%d\", api_key: \"sk-ant-m\"}\n"
                 "  oai: {kind: openai_compatible, base_url: \"http://127.0.0.1:%d/v1\"}\n"
                 "catalog:\n  builtin: false\n  models:\n"
                 "    - {id: \"ant/claude-t\", upstream_model: \"claude-up\", tier: light, "
                 "input_per_mtok: 1, output_per_mtok: 5, quality: 90, region: us}\n"
                 "    - {id: \"oai/gpt-t\", tier: light, input_per_mtok: 2, output_per_mtok: 6, "
                 "quality: 10, region: us}\n" % (fp, fp))
        gw = Gateway("messages", lambda port, tmp: base_config(port, tmp) + extra)
        ctx.gateways.append(gw)
        ctx.shared["msg_fake"] = gw.start()
    return ctx.shared["msg_fake"]


@test
def messages_native_forwarded_as_received(ctx):
    gw = _fake_gw(ctx)
    body = _msg("native one", model="ant/claude-t", top_k=5, metadata={"user_id": "u-1"},
                system=[{"type": "text", "text": "be brief"}], unknown_field={"a": 1})
    r = _post(gw, body, headers={"anthropic-beta": "tools-2024"})
    eq(r.status, 200, "status (%r)" % r)
    last = ctx.fake.last()
    eq(last["path"], "/v1/messages", "upstream path")
    sent = last["body"]
    want = dict(body, model="claude-up")
    eq(sent, want, "upstream body = the client's with only model replaced")
    eq(last["headers"].get("anthropic-beta"), "tools-2024", "anthropic-beta forwarded")
    eq(last["headers"].get("x-api-key"), "sk-ant-m", "provider key")
    eq(r.json["model"], "ant/claude-t", "model replaced")
    eq(r.json["content"][0]["text"], "fake: native one", "answer")
    check("_hiway" in r.json, "_hiway added")
    check(r.json["id"].startswith("msg_"), "the provider's own id")


@test
def messages_native_stream_relayed(ctx):
    gw = _fake_gw(ctx)
    r, evs = _stream(gw, _msg("native stream words", model="ant/claude-t"),
                     headers={"X-HiWay-Stream-Meta": "1"})
    eq(r.status, 200, "status")
    names = [n for n, _ in evs]
    check("ping" in names, "the upstream's ping relayed: %r" % names)
    _check_sequence(evs)
    eq(names[-2:], ["hiway", "message_stop"], "tail")
    eq(evs[0][1]["message"]["model"], "ant/claude-t", "message_start model replaced")
    text = "".join(d["delta"].get("text", "") for n, d in evs if n == "content_block_delta")
    eq(text, "fake: native stream words", "text")


@test
def messages_translated_to_openai_provider(ctx):
    gw = _fake_gw(ctx)
    r = _post(gw, _msg("to openai", model="oai/gpt-t", system="sys text",
                       stop_sequences=["zzz"]))
    eq(r.status, 200, "status (%r)" % r)
    sent = ctx.fake.last()["body"]
    eq(sent["messages"][0], {"role": "system", "content": "sys text"}, "system message")
    eq(sent.get("stop"), ["zzz"], "stop")
    eq(sent.get("model"), "gpt-t", "upstream model")
    eq(r.json["type"], "message", "answer type")
    eq(r.json["content"], [{"type": "text", "text": "fake: to openai"}], "content")


@test
def messages_fallback_and_broken_stream(ctx):
    gw = _fake_gw(ctx)
    # the anthropic primary answers 529 (overloaded): the OpenAI-format model answers
    r = _post(gw, _msg('fb FAKE{"status":503,"only_model":"claude-up"}', model="light"))
    eq(r.status, 200, "status (%r)" % r)
    eq(r.json["model"], "oai/gpt-t", "answered by the fallback")
    eq(r.json["_hiway"]["fallback_chain"], [{"model": "ant/claude-t", "error": "503"}], "chain")
    # broken after the first byte: event: error, no message_stop
    for model in ("ant/claude-t", "oai/gpt-t"):
        r, evs = _stream(gw, _msg('cut FAKE{"cut_after_chunks":3}', model=model))
        names = [n for n, _ in evs]
        eq(names[-1], "error", "last event for %s: %r" % (model, names))
        check("message_stop" not in names, "message_stop after a broken stream")
        err = evs[-1][1]
        eq(err.get("type"), "error", "type")
        eq((err["error"]["code"], err["error"]["reason"]), ("stream_interrupted", "upstream_eof"),
           "error")
