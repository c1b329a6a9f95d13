# SPDX-License-Identifier: Apache-2.0
"""fake-upstream itself, spoken to directly (no gateway): the three wire formats (OpenAI chat
completions, Anthropic Messages, Gemini generateContent) answer in the right shapes and event
order, tool calls work, and the faults chosen by a FAKE{...} marker in the last user message
(or the body's "fake" object) behave as documented, so the gateway tests built on them test
the gateway and not the fake."""
import http.client as httpclient
import json
import socket
import time

from harness import SLOW, check, eq, raw_connect, raw_read_response, readable, test, uniq

OPENAI = "/v1/chat/completions"
ANTHROPIC = "/v1/messages"
ANTH_H = {"x-api-key": "sk-ant-fake", "anthropic-version": "2023-06-01"}
GEM_H = {"x-goog-api-key": "goog-fake"}
GEM_MODEL = "gemini-2.0-flash"
TOOLS_OPENAI = [{"type": "function", "function": {"name": "get_weather",
                                                  "parameters": {"type": "object"}}}]
TOOLS_ANTHROPIC = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}},
                   {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}]
TOOLS_GEMINI = [{"functionDeclarations": [{"name": "get_weather"}, {"name": "get_time"}]}]


def marker(**fault):
    return "FAKE" + json.dumps(fault)


def gem_path(stream=False):
    if stream:
        return "/v1beta/models/%s:streamGenerateContent?alt=sse" % GEM_MODEL
    return "/v1beta/models/%s:generateContent" % GEM_MODEL


# ------------------------------------------------------------------------- request helpers

class Answer:
    """A complete or broken answer: status, headers, raw body, SSE events, whether it ended."""

    def __init__(self, status, headers, data, complete):
        self.status = status
        self.headers = headers
        self.data = data
        self.complete = complete

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def json(self):
        try:
            return json.loads(self.data.decode())
        except ValueError as e:
            raise AssertionError("status %d: not JSON (%s): %r" % (self.status, e, self.data[:300]))

    def events(self):
        """[(event name or None, data text)], in order."""
        out = []
        for block in self.data.decode("utf-8", "replace").split("\n\n"):
            name, lines = None, []
            for line in block.split("\n"):
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    lines.append(line[5:].lstrip(" "))
            if lines:
                out.append((name, "\n".join(lines)))
        return out

    def event_json(self):
        return [(n, json.loads(d)) for n, d in self.events() if d != "[DONE]"]


def post(ctx, path, body, headers=None, timeout=None):
    conn = httpclient.HTTPConnection("127.0.0.1", ctx.fake.port, timeout=timeout or 15 * SLOW)
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers=hdrs)
        r = conn.getresponse()
        complete = True
        try:
            data = r.read()
        except httpclient.IncompleteRead as e:
            data, complete = e.partial, False
        return Answer(r.status, r.getheaders(), data, complete)
    finally:
        conn.close()


def openai(ctx, text, stream=False, **kw):
    body = {"model": "fake-model", "messages": [{"role": "user", "content": text}]}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    body.update(kw)
    return post(ctx, OPENAI, body)


def anthropic(ctx, text, stream=False, headers=ANTH_H, **kw):
    body = {"model": "claude-fake", "max_tokens": 64,
            "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    body.update(kw)
    return post(ctx, ANTHROPIC, body, headers)


def gemini(ctx, text, stream=False, headers=GEM_H, **kw):
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    body.update(kw)
    return post(ctx, gem_path(stream), body, headers)


FORMATS = {"openai": openai, "anthropic": anthropic, "gemini": gemini}


def openai_text(a):
    return "".join((e["choices"][0]["delta"].get("content") or "")
                   for _, e in a.event_json() if e.get("choices"))


def anthropic_text(a):
    return "".join(e["delta"].get("text", "") for n, e in a.event_json()
                   if n == "content_block_delta")


def gemini_text(a):
    return "".join(p.get("text", "") for _, e in a.event_json()
                   for p in e["candidates"][0]["content"]["parts"])


STREAM_TEXT = {"openai": openai_text, "anthropic": anthropic_text, "gemini": gemini_text}
JSON_TEXT = {
    "openai": lambda b: b["choices"][0]["message"]["content"],
    "anthropic": lambda b: "".join(c["text"] for c in b["content"] if c["type"] == "text"),
    "gemini": lambda b: "".join(p.get("text", "") for p in b["candidates"][0]["content"]["parts"]),
}


# ------------------------------------------------------------------------------- OpenAI

@test
def openai_json_and_stream(ctx):
    text = uniq("hello openai")
    b = openai(ctx, text).json
    eq(b["object"], "chat.completion", "object")
    eq(b["choices"][0]["message"]["content"], "fake: " + text, "content")
    eq(b["choices"][0]["finish_reason"], "stop", "finish_reason")
    check(b["usage"]["total_tokens"] == b["usage"]["prompt_tokens"] +
          b["usage"]["completion_tokens"], "usage adds up: %r" % b["usage"])
    a = openai(ctx, text, stream=True)
    eq(a.status, 200, "stream status")
    check(a.header("Content-Type").startswith("text/event-stream"), "content type")
    evs = a.events()
    eq(evs[-1][1], "[DONE]", "last event")
    eq(openai_text(a), "fake: " + text, "streamed content")
    chunks = [e for _, e in a.event_json()]
    eq(chunks[-1]["choices"], [], "usage chunk has no choices")
    check(chunks[-1]["usage"]["completion_tokens"] > 0, "usage chunk: %r" % chunks[-1])


@test
def openai_marker_and_body_fault(ctx):
    a = openai(ctx, "x " + marker(status=429, retry_after=7))
    eq(a.status, 429, "status from the marker")
    eq(a.header("Retry-After"), "7", "Retry-After")
    eq(a.json["error"]["code"], "rate_limit_exceeded", "OpenAI error code")
    a = openai(ctx, "x", fake={"status": 503, "retry_after": "3"})
    eq(a.status, 503, "status from the body's fake object")
    eq(a.header("Retry-After"), "3", "Retry-After")
    # the marker wins over the body object
    a = openai(ctx, "x " + marker(status=200), fake={"status": 500})
    eq(a.status, 200, "marker overrides the body object")
    a = openai(ctx, "x FAKE{not json")
    eq(a.status, 400, "a broken marker is a 400")


@test
def openai_tool_call_then_result(ctx):
    b = openai(ctx, "weather?", tools=TOOLS_OPENAI).json
    ch = b["choices"][0]
    eq(ch["finish_reason"], "tool_calls", "finish_reason")
    eq(ch["message"]["tool_calls"][0]["function"], {"name": "get_weather", "arguments": "{}"},
       "call")
    msgs = [{"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": ch["message"]["tool_calls"]},
            {"role": "tool", "tool_call_id": "call_fake_0", "content": "sunny"}]
    b = post(ctx, OPENAI, {"model": "m", "messages": msgs, "tools": TOOLS_OPENAI}).json
    eq(b["choices"][0]["message"]["content"], "fake: tool result: sunny", "after a tool result")
    calls = [{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {}}]
    b = openai(ctx, marker(tool_calls=calls)).json
    eq([c["function"]["name"] for c in b["choices"][0]["message"]["tool_calls"]], ["a", "b"],
       "calls asked by the marker")
    eq(b["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], '{"x":1}', "args")


# ------------------------------------------------------------------------------- Anthropic

@test
def anthropic_headers_required(ctx):
    a = anthropic(ctx, "hi", headers={"anthropic-version": "2023-06-01"})
    eq(a.status, 401, "no x-api-key")
    eq(a.json["type"], "error", "error envelope")
    eq(a.json["error"]["type"], "authentication_error", "error type")
    a = anthropic(ctx, "hi", headers={"x-api-key": "k"})
    eq(a.status, 400, "no anthropic-version")
    eq(a.json["error"]["type"], "invalid_request_error", "error type")
    a = post(ctx, ANTHROPIC, {"model": "m", "messages": [{"role": "user", "content": "x"}]},
             ANTH_H)
    eq(a.status, 400, "max_tokens is required")


@test
def anthropic_json_message(ctx):
    text = uniq("hello anthropic")
    a = anthropic(ctx, text, system="be brief")
    eq(a.status, 200, "status")
    b = a.json
    check(b["id"].startswith("msg_"), "id: %r" % b["id"])
    eq((b["type"], b["role"], b["model"]), ("message", "assistant", "claude-fake"), "envelope")
    eq(b["content"], [{"type": "text", "text": "fake: " + text}], "content")
    eq((b["stop_reason"], b["stop_sequence"]), ("end_turn", None), "stop")
    eq(sorted(b["usage"]), ["cache_creation_input_tokens", "cache_read_input_tokens",
                            "input_tokens", "output_tokens"], "usage fields")
    check(b["usage"]["input_tokens"] > 0 and b["usage"]["output_tokens"] > 0, "usage counts")
    last = ctx.fake.last()
    eq(last["path"], ANTHROPIC, "recorded path")
    eq(last["format"], "anthropic", "recorded format")
    eq(last["headers"]["x-api-key"], "sk-ant-fake", "recorded x-api-key")
    eq(last["headers"]["anthropic-version"], "2023-06-01", "recorded version")
    eq(last["body"]["system"], "be brief", "recorded body")


@test
def anthropic_stream_event_order(ctx):
    text = uniq("one two three")
    a = anthropic(ctx, text, stream=True)
    eq(a.status, 200, "status")
    check(a.header("Content-Type").startswith("text/event-stream"), "content type")
    evs = a.event_json()
    names = [n for n, _ in evs]
    eq(names[:3], ["message_start", "content_block_start", "ping"], "opening events")
    eq(names[-4:], ["content_block_delta", "content_block_stop", "message_delta", "message_stop"],
       "closing events")
    check(names.count("content_block_delta") >= 4, "several deltas: %r" % names)
    for n, e in evs:
        eq(e["type"], n, "event name matches data.type")
    start = evs[0][1]["message"]
    eq((start["content"], start["stop_reason"], start["model"]), ([], None, "claude-fake"),
       "message_start")
    eq(evs[1][1]["content_block"], {"type": "text", "text": ""}, "text block start")
    eq(anthropic_text(a), "fake: " + text, "text deltas concatenate")
    md = evs[-2][1]
    eq(md["delta"], {"stop_reason": "end_turn", "stop_sequence": None}, "message_delta")
    check(md["usage"]["output_tokens"] > 0, "message_delta usage")


@test
def anthropic_tool_use(ctx):
    a = anthropic(ctx, "weather?", tools=TOOLS_ANTHROPIC)
    b = a.json
    eq(b["stop_reason"], "tool_use", "stop_reason")
    eq(len(b["content"]), 1, "one block")
    blk = b["content"][0]
    eq((blk["type"], blk["name"], blk["input"]), ("tool_use", "get_weather", {}), "tool_use")
    check(blk["id"].startswith("toolu_"), "tool id")
    b = anthropic(ctx, "time?", tools=TOOLS_ANTHROPIC,
                  tool_choice={"type": "tool", "name": "get_time"}).json
    eq(b["content"][0]["name"], "get_time", "tool_choice names the tool")
    b = anthropic(ctx, "none", tools=TOOLS_ANTHROPIC, tool_choice={"type": "none"}).json
    eq(b["content"][0]["type"], "text", "tool_choice none")
    msgs = [{"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [blk]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": blk["id"],
                                          "content": "sunny"}]}]
    b = post(ctx, ANTHROPIC, {"model": "c", "max_tokens": 9, "messages": msgs,
                              "tools": TOOLS_ANTHROPIC}, ANTH_H).json
    eq(b["content"], [{"type": "text", "text": "fake: tool result: sunny"}], "after tool_result")
    eq(b["stop_reason"], "end_turn", "stop_reason after tool_result")
    # streamed: input_json_delta pieces rebuild the input
    args = {"city": "Paris", "days": 3}
    a = anthropic(ctx, marker(tool_calls=[{"name": "get_weather", "arguments": args}]),
                  stream=True, tools=TOOLS_ANTHROPIC)
    evs = a.event_json()
    starts = [e for n, e in evs if n == "content_block_start"]
    eq(starts[0]["content_block"], {"type": "tool_use", "id": "toolu_fake_0",
                                    "name": "get_weather", "input": {}}, "tool_use start")
    pieces = [e["delta"]["partial_json"] for n, e in evs if n == "content_block_delta"]
    check(len(pieces) >= 2, "several input_json_delta pieces: %r" % pieces)
    eq(json.loads("".join(pieces)), args, "input rebuilt")
    eq(evs[-2][1]["delta"]["stop_reason"], "tool_use", "message_delta stop_reason")


@test
def anthropic_cache_usage(ctx):
    b = anthropic(ctx, "cached " + marker(cache_read_tokens=1200,
                                          cache_creation_tokens=300)).json
    eq(b["usage"]["cache_read_input_tokens"], 1200, "cache read")
    eq(b["usage"]["cache_creation_input_tokens"], 300, "cache creation")
    a = anthropic(ctx, "cached " + marker(cache_read_tokens=50), stream=True)
    eq(a.event_json()[0][1]["message"]["usage"]["cache_read_input_tokens"], 50, "stream cache")
    b = openai(ctx, "cached " + marker(cache_read_tokens=40)).json
    eq(b["usage"]["prompt_tokens_details"]["cached_tokens"], 40, "OpenAI cached_tokens")
    b = gemini(ctx, "cached " + marker(cache_read_tokens=40)).json
    eq(b["usageMetadata"]["cachedContentTokenCount"], 40, "Gemini cachedContentTokenCount")


@test
def anthropic_errors(ctx):
    for status, etype in ((529, "overloaded_error"), (503, "overloaded_error"),
                          (429, "rate_limit_error"), (500, "api_error"),
                          (400, "invalid_request_error")):
        a = anthropic(ctx, marker(status=status, retry_after="2"))
        eq(a.status, status, "status")
        eq(a.json, {"type": "error", "error": {"type": etype, "message": a.json["error"]["message"]}},
           "Anthropic error body for %d" % status)
        eq(a.header("Retry-After"), "2", "Retry-After")
    a = anthropic(ctx, marker(error_after_chunks=4), stream=True)
    check(a.complete, "the stream ends cleanly after the error event")
    evs = a.event_json()
    eq([n for n, _ in evs], ["message_start", "content_block_start", "ping",
                             "content_block_delta", "error"], "events up to the error")
    eq(evs[-1][1]["error"]["type"], "overloaded_error", "error event")


# ------------------------------------------------------------------------------- Gemini

@test
def gemini_json_and_auth(ctx):
    text = uniq("hello gemini")
    a = gemini(ctx, text, systemInstruction={"parts": [{"text": "be brief"}]})
    eq(a.status, 200, "status")
    b = a.json
    cand = b["candidates"][0]
    eq(cand["content"], {"role": "model", "parts": [{"text": "fake: " + text}]}, "content")
    eq((cand["finishReason"], cand["index"]), ("STOP", 0), "finish")
    u = b["usageMetadata"]
    eq(u["totalTokenCount"], u["promptTokenCount"] + u["candidatesTokenCount"], "usage")
    eq(b["modelVersion"], GEM_MODEL, "modelVersion")
    last = ctx.fake.last()
    eq(last["headers"]["x-goog-api-key"], "goog-fake", "recorded key")
    eq(last["body"]["systemInstruction"], {"parts": [{"text": "be brief"}]}, "recorded body")
    a = gemini(ctx, "hi", headers={})
    eq(a.status, 403, "no key")
    eq(a.json["error"]["status"], "PERMISSION_DENIED", "Google error status")
    a = gemini(ctx, "x " + marker(status=503, retry_after="2"))
    eq(a.status, 503, "fault status")
    eq(a.json, {"error": {"code": 503, "message": a.json["error"]["message"],
                          "status": "UNAVAILABLE"}}, "Google error shape")
    eq(a.header("Retry-After"), "2", "Retry-After")
    eq(gemini(ctx, "x " + marker(status=429)).json["error"]["status"], "RESOURCE_EXHAUSTED", "429")


@test
def gemini_stream(ctx):
    text = uniq("alpha beta gamma")
    a = gemini(ctx, text, stream=True)
    eq(a.status, 200, "status")
    check(a.header("Content-Type").startswith("text/event-stream"), "content type")
    evs = [e for _, e in a.event_json()]
    check(len(evs) >= 4, "several events: %d" % len(evs))
    eq(gemini_text(a), "fake: " + text, "text parts concatenate")
    for e in evs[:-1]:
        check("finishReason" not in e["candidates"][0] and "usageMetadata" not in e,
              "only the last event finishes: %r" % e)
    eq(evs[-1]["candidates"][0]["finishReason"], "STOP", "last finishReason")
    check(evs[-1]["usageMetadata"]["candidatesTokenCount"] > 0, "last usage")
    eq(ctx.fake.last()["query"], {"alt": "sse"}, "recorded query")
    a = post(ctx, "/v1beta/models/%s:streamGenerateContent" % GEM_MODEL,
             {"contents": [{"parts": [{"text": "x"}]}]}, GEM_H)
    eq(a.status, 400, "streams need alt=sse")


@test
def gemini_function_call(ctx):
    b = gemini(ctx, "weather?", tools=TOOLS_GEMINI).json
    cand = b["candidates"][0]
    eq(cand["content"]["parts"], [{"functionCall": {"name": "get_weather", "args": {}}}], "call")
    eq(cand["finishReason"], "STOP", "finishReason")
    b = gemini(ctx, "no", tools=TOOLS_GEMINI,
               toolConfig={"functionCallingConfig": {"mode": "NONE"}}).json
    check("text" in b["candidates"][0]["content"]["parts"][0], "mode NONE answers text")
    contents = [{"role": "user", "parts": [{"text": "weather?"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {
                    "name": "get_weather", "response": {"content": "sunny"}}}]}]
    b = post(ctx, gem_path(), {"contents": contents, "tools": TOOLS_GEMINI}, GEM_H).json
    eq(b["candidates"][0]["content"]["parts"], [{"text": "fake: tool result: sunny"}],
       "after functionResponse")
    a = gemini(ctx, "weather?", stream=True, tools=TOOLS_GEMINI)
    evs = [e for _, e in a.event_json()]
    eq(evs[-1]["candidates"][0]["content"]["parts"],
       [{"functionCall": {"name": "get_weather", "args": {}}}], "streamed call arrives whole")
    eq(evs[-1]["candidates"][0]["finishReason"], "STOP", "streamed finish")


# ------------------------------------------------------------------------------- faults, all formats

@test
def fault_malformed(ctx):
    for name, call in FORMATS.items():
        a = call(ctx, "x " + marker(malformed=True))
        eq(a.status, 200, "%s malformed status" % name)
        try:
            json.loads(a.data.decode())
            raise AssertionError("%s: malformed body parsed as JSON" % name)
        except ValueError:
            pass
        a = call(ctx, "one two " + marker(malformed=True, malformed_after_chunks=2), stream=True)
        evs = a.events()
        bad = [i for i, (_, d) in enumerate(evs) if d != "[DONE]" and not _parses(d)]
        eq(bad, [2], "%s: the bad event's position" % name)


def _parses(d):
    try:
        json.loads(d)
        return True
    except ValueError:
        return False


@test
def fault_cut_and_stall(ctx):
    for name, call in FORMATS.items():
        a = call(ctx, "a b c d e f " + marker(cut_after_chunks=3), stream=True)
        eq(a.status, 200, "%s cut status" % name)
        check(not a.complete, "%s: a cut stream must end without its last chunk" % name)
        eq(len(a.events()), 3, "%s: events before the cut" % name)
    t0 = time.monotonic()
    conn = httpclient.HTTPConnection("127.0.0.1", ctx.fake.port, timeout=1.0 * SLOW)
    try:
        conn.request("POST", ANTHROPIC, body=json.dumps(
            {"model": "c", "max_tokens": 5, "stream": True,
             "messages": [{"role": "user", "content": "a b c " + marker(stall_after_chunks=2)}]}),
            headers=ANTH_H)
        r = conn.getresponse()
        got = b""
        try:
            while True:
                line = r.readline()
                if not line:
                    break
                got += line
        except (socket.timeout, TimeoutError):
            pass
    finally:
        conn.close()
    check(time.monotonic() - t0 >= 0.9 * SLOW, "the stall must hold the stream")
    eq(got.count(b"data:"), 2, "events before the stall")


@test
def fault_delays(ctx):
    t0 = time.monotonic()
    a = gemini(ctx, "x " + marker(headers_delay_ms=300))
    check(time.monotonic() - t0 >= 0.3, "headers delay")
    eq(a.status, 200, "status after the delay")
    t0 = time.monotonic()
    a = anthropic(ctx, "a b c " + marker(chunk_delay_ms=60), stream=True)
    check(time.monotonic() - t0 >= 0.06 * (len(a.events()) - 1), "chunk delay")
    t0 = time.monotonic()
    anthropic(ctx, "x " + marker(first_byte_delay_ms=300))
    check(time.monotonic() - t0 >= 0.3, "first byte delay (JSON)")


@test
def fault_usage_type_empty(ctx):
    check("usage" not in anthropic(ctx, "x " + marker(no_usage=True)).json, "anthropic no usage")
    check("usageMetadata" not in gemini(ctx, "x " + marker(no_usage=True)).json,
          "gemini no usage")
    check("usage" not in openai(ctx, "x " + marker(no_usage=True)).json, "openai no usage")
    a = anthropic(ctx, "x " + marker(no_usage=True), stream=True)
    check(all("usage" not in e and "usage" not in e.get("message", {})
              for _, e in a.event_json()), "anthropic stream without usage")
    for name, call in FORMATS.items():
        a = call(ctx, "x " + marker(content_type="text/html"))
        eq(a.header("Content-Type"), "text/html", "%s content type" % name)
        a = call(ctx, "x " + marker(empty_body=True), stream=True)
        eq((a.status, a.data), (200, b""), "%s empty body" % name)
        b = call(ctx, "x " + marker(content="chosen words")).json
        eq(JSON_TEXT[name](b), "chosen words", "%s content" % name)
    b = anthropic(ctx, "x " + marker(finish="length")).json
    eq(b["stop_reason"], "max_tokens", "anthropic finish length")
    eq(gemini(ctx, "x " + marker(finish="length")).json["candidates"][0]["finishReason"],
       "MAX_TOKENS", "gemini finish length")


@test
def fault_oversized(ctx):
    n = 300000
    for name, call in FORMATS.items():
        a = call(ctx, "x " + marker(oversized=n))
        check(len(a.data) > n, "%s body %d bytes" % (name, len(a.data)))
        check(len(JSON_TEXT[name](a.json)) > n, "%s JSON text" % name)
        a = call(ctx, "x " + marker(oversized=n), stream=True)
        check(a.complete and len(a.data) > n, "%s stream %d bytes" % (name, len(a.data)))
        check(len(STREAM_TEXT[name](a)) > n, "%s streamed text" % name)


def _raw(path, body, headers):
    b = json.dumps(body).encode()
    head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" \
           "Content-Length: %d\r\n" % (path, len(b))
    head += "".join("%s: %s\r\n" % kv for kv in headers.items())
    return head.encode() + b"\r\n" + b


def _closed_after_answer(ctx, path, body, headers):
    """Sends one keep-alive request; returns (Resp, whether the server closed the socket)."""
    s = raw_connect(ctx.fake.port)
    try:
        s.sendall(_raw(path, body, headers))
        r, _, closed = raw_read_response(s, 5 * SLOW)
        check(r is not None, "no answer")
        if not closed and readable(s, 1.0 * SLOW):
            try:
                closed = s.recv(1) == b""
            except (ConnectionResetError, BrokenPipeError):
                closed = True
        return r, closed
    finally:
        s.close()


@test
def fault_close_keepalive(ctx):
    bodies = {
        "openai": (OPENAI, lambda t: {"model": "m", "messages": [{"role": "user", "content": t}]},
                   {}),
        "anthropic": (ANTHROPIC, lambda t: {"model": "c", "max_tokens": 5,
                                            "messages": [{"role": "user", "content": t}]}, ANTH_H),
        "gemini": (gem_path(), lambda t: {"contents": [{"parts": [{"text": t}]}]}, GEM_H),
    }
    for name, (path, body, hdrs) in bodies.items():
        r, closed = _closed_after_answer(ctx, path, body("x"), hdrs)
        eq(r.status, 200, "%s plain" % name)
        check(not closed, "%s: a plain answer keeps the connection" % name)
        r, closed = _closed_after_answer(ctx, path, body("x " + marker(close_keepalive=True)), hdrs)
        eq((r.status, (r.header("Connection") or "").lower()), (200, "close"),
           "%s: Connection: close" % name)
        check(closed, "%s: closed after Connection: close" % name)
        r, closed = _closed_after_answer(ctx, path, body("x " + marker(close_keepalive="idle")),
                                         hdrs)
        eq(r.status, 200, "%s idle close status" % name)
        check((r.header("Connection") or "").lower() != "close", "%s: no close header" % name)
        check(closed, "%s: the kept-alive connection is closed after the answer" % name)
        json.loads(r.body.decode())


@test
def fake_last_records_every_format(ctx):
    openai(ctx, "rec", fake={"no_usage": True})
    last = ctx.fake.last()
    eq((last["method"], last["path"], last["format"]), ("POST", OPENAI, "openai"), "openai")
    eq(last["body"]["fake"], {"no_usage": True}, "openai body")
    gemini(ctx, "rec", stream=True)
    last = ctx.fake.last()
    eq(last["path"], "/v1beta/models/%s:streamGenerateContent" % GEM_MODEL, "gemini path")
    eq(last["body"]["contents"][0]["parts"][0]["text"], "rec", "gemini body")
    before = ctx.fake.requests()
    anthropic(ctx, "rec", headers={})
    eq(ctx.fake.requests(), before + 1, "rejected requests are counted")
    eq(ctx.fake.last()["path"], ANTHROPIC, "rejected requests are recorded")


@test
def fault_status_on_stream_requests(ctx):
    """A failing stream request gets a plain JSON error, as the real providers answer."""
    shapes = {"openai": lambda b: b["error"]["type"] == "server_error",
              "anthropic": lambda b: b["error"]["type"] == "overloaded_error",
              "gemini": lambda b: b["error"]["status"] == "UNAVAILABLE"}
    for name, call in FORMATS.items():
        a = call(ctx, "x " + marker(status=503, retry_after=4), stream=True)
        eq((a.status, a.header("Retry-After")), (503, "4"), "%s stream fault" % name)
        check(a.header("Content-Type").startswith("application/json"), "%s error type" % name)
        check(shapes[name](a.json), "%s error shape: %r" % (name, a.json))


@test
def fault_close_keepalive_stream(ctx):
    body = {"model": "c", "max_tokens": 5, "stream": True,
            "messages": [{"role": "user", "content": "a b " + marker(close_keepalive="idle")}]}
    r, closed = _closed_after_answer(ctx, ANTHROPIC, body, ANTH_H)
    eq(r.status, 200, "status")
    check(b"event: message_stop" in r.body, "whole stream before the close: %r" % r.body[-200:])
    check(closed, "closed after the stream")
