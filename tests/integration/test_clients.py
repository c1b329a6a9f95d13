# SPDX-License-Identifier: Apache-2.0
"""Real clients (issue 3): the official `openai` and `@anthropic-ai/sdk` npm packages, pinned
in tests/clients/package-lock.json, against hiwayd (SPEC §5.2, §5.3, §6).

The tests run tests/clients/openai_client.mjs or anthropic_client.mjs (scenarios as jobs,
one JSON line out per job) against the echo gateway and a gateway whose providers are the
fake upstream speaking Anthropic Messages, Gemini and OpenAI-compatible chat, then check what
the SDK parsed: non-streamed answers, streams, tools with a follow-up, errors raised as the
SDK's own classes, raw responses with hiway's headers, and broken streams
(FAKE{"cut_after_chunks":3}) that must raise instead of ending cleanly. A scenario runs on
every backend in one node process (a process costs about half a second) and is reported as
one test per backend, NAME[backend].

The SDKs are installed by tests/clients/install.sh (npm ci) when node_modules is missing;
without node, npm or the network every test here fails and says so."""
import json
import math
import os
import shutil
import subprocess

from harness import (REPO, SLOW, Gateway, base_config, check, clean_env, eq, pending, test,
                     tmp_root, uniq)

CLIENTS = os.path.join(REPO, "tests", "clients")
BAD_KEY = "hw_live_" + "0" * 32
RESULT = "sunny 21C"
PARIS = 'FAKE{"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]}'
CUT = 'FAKE{"cut_after_chunks":3}'
META = {"X-HiWay-Stream-Meta": "1"}
OPENAI = "openai_client.mjs"
ANTHROPIC = "anthropic_client.mjs"


# ---------------------------------------------------------------- node and the SDKs

def _ensure_sdks(ctx):
    """Runs install.sh once per run; a failure is remembered and fails every test."""
    if "clients_sdk_error" in ctx.shared:
        raise AssertionError(ctx.shared["clients_sdk_error"])
    if ctx.shared.get("clients_sdk_ready"):
        return
    err = None
    missing = [t for t in ("node", "npm") if shutil.which(t) is None]
    if missing:
        err = ("%s not installed: run scripts/deps.sh --test (the SDK tests need node and npm)"
               % " and ".join(missing))
    else:
        try:
            p = subprocess.run([os.path.join(CLIENTS, "install.sh")], cwd=CLIENTS,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=330)
            if p.returncode != 0:
                lines = [ln.strip() for ln in p.stdout.decode("utf-8", "replace").splitlines()
                         if ln.strip() and not ln.lstrip().startswith("npm error     at ")]
                why = "" if p.returncode == 3 else "; npm ci needs the npm registry"
                err = ("installing the client SDKs failed (tests/clients/install.sh exit %d%s): %s"
                       % (p.returncode, why, " | ".join(lines[:8])[:700]))
        except subprocess.TimeoutExpired:
            err = "installing the client SDKs timed out (tests/clients/install.sh, npm ci)"
    if err:
        ctx.shared["clients_sdk_error"] = err
        raise AssertionError(err)
    ctx.shared["clients_sdk_ready"] = True


def _node_env():
    """No proxies, no SDK environment (OPENAI_*, ANTHROPIC_*), a private HOME."""
    home = os.path.join(tmp_root(), "node-home")
    os.makedirs(home, exist_ok=True)
    env = {k: v for k, v in clean_env().items()
           if k in ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")}
    env["HOME"] = home
    env["NO_COLOR"] = "1"
    return env


def _jobs(ctx, script, jobs):
    """Runs [(gateway, scenario, opts, key or None)] in one node process (concurrently);
    returns their JSON results in order."""
    _ensure_sdks(ctx)
    spec = []
    for gw, scenario, opts, key in jobs:
        base = "http://127.0.0.1:%d" % gw.port + ("/v1" if script == OPENAI else "")
        spec.append({"base": base, "key": key or gw.key, "scenario": scenario, "opts": opts})
    args = ["node", os.path.join(CLIENTS, script), "--jobs", json.dumps(spec)]
    what = "%s %s" % (script, ",".join(sorted({j[1] for j in jobs})))
    try:
        p = subprocess.run(args, cwd=CLIENTS, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30 * SLOW, env=_node_env())
    except subprocess.TimeoutExpired:
        raise AssertionError("%s timed out" % what)
    out = p.stdout.decode("utf-8", "replace").strip().splitlines()
    err = " ".join(p.stderr.decode("utf-8", "replace").split())[-600:]
    check(p.returncode == 0 and len(out) == len(jobs),
          "%s: exit %d, stdout %r, stderr %s" % (what, p.returncode, out, err))
    res = [json.loads(line) for line in out]
    eq([r.get("job") for r in res], list(range(len(jobs))), "job order")
    return res


def openai(ctx, gw, scenario, key=None, **opts):
    return _jobs(ctx, OPENAI, [(gw, scenario, opts, key)])[0]


def anthropic(ctx, gw, scenario, key=None, **opts):
    return _jobs(ctx, ANTHROPIC, [(gw, scenario, opts, key)])[0]


def ok(res):
    check(res.get("ok") is True, "the SDK raised: %s" % json.dumps(res)[:1500])
    return res


def raised(res, cls=None, status=None):
    check(res.get("ok") is False, "the SDK did not raise: %s" % json.dumps(res)[:1500])
    e = res["error"]
    if cls is not None:
        check(cls in e.get("instance_of", []),
              "expected %s, the SDK raised %s (%s)" % (cls, e.get("class"), e.get("message")))
    if status is not None:
        eq(e.get("status"), status, "error status")
    return e


# ---------------------------------------------------------------- gateways

def _gw_fake(ctx):
    """anthropic, google and openai_compatible providers on the fake upstream."""
    name = "clients"
    if name not in ctx.shared or not ctx.shared[name].alive():
        fp = ctx.fake.port

        def model(mid, tier):
            return ("    - {id: \"%s\", tier: %s, input_per_mtok: 1, output_per_mtok: 2, "
                    "quality: 80, context_window: 128000, max_output_tokens: 4096, "
                    "region: local}\n" % (mid, tier))
        text = ("providers:\n"
                "  ant: {kind: anthropic, base_url: \"http://127.0.0.1:%d\","
                " api_key: \"sk-ant-clients\"}\n"
                "  gem: {kind: google, base_url: \"http://127.0.0.1:%d\", api_key: \"g-clients\"}\n"
                "  oai: {kind: openai_compatible, base_url: \"http://127.0.0.1:%d/v1\"}\n"
                "catalog:\n  builtin: false\n  models:\n" % (fp, fp, fp)
                + model("ant/claude-t", "light") + model("gem/gemini-t", "standard")
                + model("oai/gpt-t", "heavy"))
        gw = Gateway(name, lambda port, tmp: base_config(port, tmp) + text)
        ctx.gateways.append(gw)
        ctx.shared[name] = gw.start()
    return ctx.shared[name]


class Backend:
    def __init__(self, name, model, prefix, gw):
        self.name = name
        self.model = model  # the catalog id pinned in the requests
        self.prefix = prefix  # "echo: " or "fake: "
        self.gw = gw

    @property
    def fake(self):
        return self.prefix == "fake: "

    def reply(self, text):
        return self.prefix + text

    def tool_prompt(self, text):
        """The fake answers the marker's call with arguments; echo calls the first tool, {}."""
        return text + " " + PARIS if self.fake else text

    def tool_args(self):
        return {"city": "Paris"} if self.fake else {}


BACKENDS = [
    Backend("echo", "local/echo-standard", "echo: ", lambda ctx: ctx.echo),
    Backend("anthropic", "ant/claude-t", "fake: ", _gw_fake),
    Backend("google", "gem/gemini-t", "fake: ", _gw_fake),
    Backend("openai_compatible", "oai/gpt-t", "fake: ", _gw_fake),
]
FAKE_BACKENDS = [b for b in BACKENDS if b.fake]


def tokens(text):
    """Completion tokens of a text answer: ceil(bytes / 4) for echo and the fake alike."""
    return math.ceil(len(text.encode()) / 4)


def per_backend(script, scenarios, backends=None, known=None):
    """Registers the decorated verify(b, results) as one test per backend, NAME[backend].

    scenarios(b) gives the backend's jobs [(scenario, opts)]; the first of these tests to
    run executes the jobs of every backend in one node process (a process costs about half
    a second) and the others reuse the results. verify gets [(opts, result)] in job order.
    known maps a backend name to a pending reason (a gateway bug the SDK revealed)."""
    backends = backends or BACKENDS

    def deco(verify):
        name = verify.__name__
        slot = "clients:" + name

        def results(ctx):
            if slot not in ctx.shared:
                try:
                    _ensure_sdks(ctx)
                    jobs, owner = [], []
                    for b in backends:
                        gw = b.gw(ctx)
                        for scenario, opts in scenarios(b):
                            jobs.append((gw, scenario, opts, None))
                            owner.append(b.name)
                    res = _jobs(ctx, script, jobs)
                except Exception as e:  # noqa: BLE001 (not retried by every backend)
                    ctx.shared[slot] = "%s: %s" % (type(e).__name__, e)
                    raise
                ctx.shared[slot] = {b.name: [(j[2], r) for j, r, o in zip(jobs, res, owner)
                                             if o == b.name] for b in backends}
            check(isinstance(ctx.shared[slot], dict),
                  "the %s batch failed: %s" % (name, ctx.shared[slot]))
            return ctx.shared[slot]

        for b in backends:
            def t(ctx, b=b):
                verify(b, results(ctx)[b.name])
            t.__name__ = "%s[%s]" % (name, b.name)
            t.__module__ = __name__
            why = (known or {}).get(b.name)
            if why:
                pending(3, why)(t)
            else:
                test(t)
        return verify
    return deco


def one(results):
    eq(len(results), 1, "results")
    return results[0]


# ---------------------------------------------------------------- OpenAI SDK

def _oa_usage(u, completion):
    check(isinstance(u, dict), "usage %r" % u)
    check(isinstance(u.get("prompt_tokens"), int) and u["prompt_tokens"] > 0,
          "usage.prompt_tokens %r" % u)
    eq(u.get("completion_tokens"), completion, "usage.completion_tokens")
    eq(u.get("total_tokens"), u["prompt_tokens"] + completion, "usage.total_tokens")


@per_backend(OPENAI, lambda b: [("create", {"model": b.model, "text": uniq("client create")})])
def openai_create(b, results):
    opts, r = one(results)
    ok(r)
    eq(r["object"], "chat.completion", "object")
    eq(r["model"], b.model, "model = the routed catalog id")
    eq(r["role"], "assistant", "role")
    eq(r["content"], b.reply(opts["text"]), "content")
    eq(r["finish_reason"], "stop", "finish_reason")
    eq(r["n_choices"], 1, "choices")
    check(r["tool_calls"] in (None, []), "unexpected tool_calls %r" % r["tool_calls"])
    _oa_usage(r["usage"], tokens(b.reply(opts["text"])))
    eq((r["hiway"] or {}).get("routed_model"), b.model, "_hiway.routed_model")


@per_backend(OPENAI, lambda b: [("stream", {"model": b.model, "text": uniq("stream of words")})])
def openai_stream(b, results):
    opts, r = one(results)
    ok(r)
    want = b.reply(opts["text"])
    eq(r["routed_model"], b.model, "X-HiWay-Routed-Model")
    eq(r["text"], want, "reassembled text")
    eq(r["finish_reasons"], ["stop"], "finish_reason")
    eq(r["models"], [b.model], "chunk models")
    eq(len(r["ids"]), 1, "one id for the stream")
    eq(r["roles"][:1], ["assistant"], "first delta role")
    eq(r["last_object"], "chat.completion.chunk", "chunk object")
    check(r["usage_chunks"], "include_usage: no usage chunk (choices []) reached the SDK")
    _oa_usage(r["usage_chunks"][-1], tokens(want))
    eq(r["meta_chunks"], 1, "hiway meta chunks (include_usage set)")


@per_backend(OPENAI, lambda b: [("stream_plain", {"model": b.model, "text": uniq("plain")})])
def openai_stream_plain(b, results):
    opts, r = one(results)
    ok(r)
    eq(r["text"], b.reply(opts["text"]), "reassembled text")
    eq(r["finish_reasons"], ["stop"], "finish_reason")
    eq(r["usage_chunks"], [], "usage chunks without include_usage")
    eq(r["meta_chunks"], 0, "meta chunks without include_usage")


def _tool_jobs(b):
    text = uniq("weather in Paris?")
    return [("tools", {"model": b.model, "text": b.tool_prompt(text), "followup_text": text,
                       "tool_result": RESULT})]


@per_backend(OPENAI, _tool_jobs)
def openai_tools(b, results):
    _, r = one(results)
    ok(r)
    first = r["first"]
    eq(first["finish_reason"], "tool_calls", "first finish_reason")
    calls = first["tool_calls"] or []
    eq(len(calls), 1, "tool calls (%r)" % calls)
    eq(calls[0].get("type"), "function", "tool call type")
    eq(calls[0]["function"]["name"], "get_weather", "tool name")
    check(isinstance(calls[0].get("id"), str) and calls[0]["id"], "tool call id")
    eq(r["parsed_arguments"], b.tool_args(), "arguments parsed by JSON.parse")
    second = r["second"]
    check(second is not None, "no follow-up")
    eq(second["content"], b.reply("tool result: " + RESULT), "answer after the tool result")
    eq(second["finish_reason"], "stop", "finish_reason after the tool result")
    eq(second["model"], b.model, "model")


@per_backend(OPENAI, lambda b: [("stream_helper", {"model": b.model,
                                                   "text": b.tool_prompt(uniq("weather?"))})])
def openai_stream_tools(b, results):
    _, r = one(results)
    ok(r)
    f = r["final"]
    eq(f["finish_reason"], "tool_calls", "finish_reason")
    calls = f["tool_calls"] or []
    eq([(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls],
       [("get_weather", b.tool_args())], "tool calls reassembled by finalChatCompletion()")
    check(all(c.get("id") for c in calls), "tool call without id: %r" % calls)
    eq(f["model"], b.model, "model")
    u = f["usage"] or {}
    _oa_usage(u, u.get("completion_tokens"))


def _cut_text():
    return uniq("one two three four five six seven eight nine ten") + " " + CUT


@per_backend(OPENAI, lambda b: [("stream", {"model": b.model, "text": _cut_text()})],
             FAKE_BACKENDS)
def openai_broken_stream(b, results):
    _, r = one(results)
    e = raised(r, "APIError")
    body = e.get("body") or {}
    eq(body.get("code"), "stream_interrupted", "error code (%r)" % e)
    eq(body.get("reason"), "upstream_eof", "error reason")
    eq(r["partial"].get("finish_reasons"), [], "finish_reason before the error")


@per_backend(OPENAI, lambda b: [("stream_plain", {"model": b.model, "text": uniq("meta"),
                                                  "headers": META})])
def openai_stream_meta_header(b, results):
    """X-HiWay-Stream-Meta: 1 without include_usage: only the meta chunk (choices [])."""
    opts, r = one(results)
    ok(r)
    eq(r["text"], b.reply(opts["text"]), "reassembled text")
    eq(r["finish_reasons"], ["stop"], "finish_reason")
    eq(r["meta_chunks"], 1, "meta chunks")
    eq(len(r["usage_chunks"]), 1, "usage chunks (the meta chunk's)")
    _oa_usage(r["usage_chunks"][0], tokens(b.reply(opts["text"])))


@test
def openai_models_list(ctx):
    r = ok(openai(ctx, _gw_fake(ctx), "models"))
    eq(sorted(m["id"] for m in r["models"]), ["ant/claude-t", "gem/gemini-t", "oai/gpt-t"],
       "models.list() ids")
    eq({m["object"] for m in r["models"]}, {"model"}, "object")


@test
def openai_raw_response_headers(ctx):
    text = uniq("raw")
    r = ok(openai(ctx, ctx.echo, "raw", model="auto", text=text))
    eq(r["status"], 200, "status")
    h = r["headers"]
    routed = h.get("x-hiway-routed-model")
    check(routed and routed.startswith("local/echo-"), "x-hiway-routed-model %r" % routed)
    eq(r["data"]["model"], routed, "model = X-HiWay-Routed-Model")
    check(h.get("x-hiway-routed-tier"), "x-hiway-routed-tier")
    check(h.get("x-hiway-cost-usd"), "x-hiway-cost-usd")
    check(h.get("x-request-id", "").startswith("req_"), "x-request-id")
    eq(r["request_id"], h.get("x-request-id"), "withResponse().request_id")
    eq(r["data"]["content"], "echo: " + text, "content")


@test
def openai_errors(ctx):
    """401 (bad key; non-streamed on both gateways, streamed) and 400 (n: 2)."""
    fake = _gw_fake(ctx)
    res = _jobs(ctx, OPENAI, [
        (ctx.echo, "create", {"text": uniq()}, BAD_KEY),
        (fake, "create", {"text": uniq()}, BAD_KEY),
        (ctx.echo, "stream", {"text": uniq()}, BAD_KEY),
        (ctx.echo, "bad_request", {"text": uniq()}, None)])
    for r in res[:3]:
        e = raised(r, "AuthenticationError", 401)
        check("APIError" in e["instance_of"], "not an APIError")
        eq(e.get("code"), "invalid_api_key", "error.code")
        check(e.get("requestID"), "requestID from X-Request-Id")
        eq((e.get("body") or {}).get("request_id"), e.get("requestID"),
           "error.request_id = X-Request-Id")
    e = raised(res[3], "BadRequestError", 400)
    eq(e.get("code"), "invalid_request", "error.code")
    eq(e.get("param"), "n", "error.param")


# ---------------------------------------------------------------- Anthropic SDK

def _an_usage(u, output):
    check(isinstance(u, dict), "usage %r" % u)
    check(isinstance(u.get("input_tokens"), int) and u["input_tokens"] > 0,
          "usage.input_tokens %r" % u)
    eq(u.get("output_tokens"), output, "usage.output_tokens")
    for f in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        check(isinstance(u.get(f), int), "usage.%s %r" % (f, u))


@per_backend(ANTHROPIC, lambda b: [("create", {"model": b.model, "text": uniq("message")})])
def anthropic_create(b, results):
    opts, r = one(results)
    ok(r)
    want = b.reply(opts["text"])
    eq(r["type"], "message", "type")
    eq(r["role"], "assistant", "role")
    check(r["id"].startswith("msg_"), "id %r" % r["id"])
    eq(r["model"], b.model, "model = the routed catalog id")
    eq(r["content"], [{"type": "text", "text": want}], "content blocks")
    eq(r["stop_reason"], "end_turn", "stop_reason")
    _an_usage(r["usage"], tokens(want))
    eq((r["hiway"] or {}).get("routed_model"), b.model, "_hiway.routed_model")


@per_backend(ANTHROPIC, lambda b: [("stream", {"model": b.model, "text": uniq("stream words")})])
def anthropic_stream(b, results):
    opts, r = one(results)
    ok(r)
    want = b.reply(opts["text"])
    eq(r["streamed_text"], want, "text events")
    eq(r["final_text"], want, "finalText()")
    ev = r["events"]
    eq(ev[:1], ["message_start"], "first event")
    eq(ev[-1:], ["message_stop"], "last event")
    for n in ("content_block_start", "content_block_delta", "content_block_stop",
              "message_delta"):
        check(n in ev, "no %s event: %r" % (n, ev))
    f = r["final"]
    eq(f["model"], b.model, "finalMessage().model")
    eq(f["content"], [{"type": "text", "text": want}], "finalMessage().content")
    eq(f["stop_reason"], "end_turn", "finalMessage().stop_reason")
    eq(f["usage"].get("output_tokens"), tokens(want), "finalMessage().usage.output_tokens")


@per_backend(ANTHROPIC, lambda b: [("stream_raw", {"model": b.model, "text": uniq("raw words")})])
def anthropic_stream_raw(b, results):
    opts, r = one(results)
    ok(r)
    want = b.reply(opts["text"])
    eq(r["model"], b.model, "message_start model")
    eq(r["text"], want, "text deltas")
    eq(r["stop_reason"], "end_turn", "message_delta stop_reason")
    eq(r["output_tokens"], tokens(want), "message_delta usage.output_tokens")
    eq(r["events"][-1:], ["message_stop"], "last event")


@per_backend(ANTHROPIC, _tool_jobs)
def anthropic_tools(b, results):
    _, r = one(results)
    ok(r)
    first = r["first"]
    eq(first["stop_reason"], "tool_use", "first stop_reason")
    uses = [c for c in first["content"] if c["type"] == "tool_use"]
    eq([(u["name"], u["input"]) for u in uses], [("get_weather", b.tool_args())], "tool_use")
    check(uses[0].get("id"), "tool_use id")
    second = r["second"]
    check(second is not None, "no follow-up")
    eq(second["content"], [{"type": "text", "text": b.reply("tool result: " + RESULT)}],
       "answer after the tool_result")
    eq(second["stop_reason"], "end_turn", "stop_reason after the tool_result")


@per_backend(ANTHROPIC, lambda b: [("stream", {"model": b.model, "tools": True,
                                               "text": b.tool_prompt(uniq("weather?"))})])
def anthropic_stream_tools(b, results):
    """A streamed tool_use block: input_json_delta pieces assembled by finalMessage()."""
    _, r = one(results)
    ok(r)
    f = r["final"]
    eq(f["stop_reason"], "tool_use", "finalMessage().stop_reason")
    uses = [c for c in f["content"] if c["type"] == "tool_use"]
    eq([(u["name"], u["input"]) for u in uses], [("get_weather", b.tool_args())],
       "tool_use blocks of finalMessage()")
    check(uses[0].get("id"), "tool_use id")
    check("content_block_start" in r["events"], "no content_block_start")


@per_backend(ANTHROPIC, lambda b: [(s, {"model": b.model, "text": _cut_text()})
                                   for s in ("stream", "stream_raw")], FAKE_BACKENDS)
def anthropic_broken_stream(b, results):
    eq(len(results), 2, "results")
    for opts, r in results:
        e = raised(r, "APIError")
        body = (e.get("body") or {}).get("error") or {}
        eq(body.get("code"), "stream_interrupted", "%s: error code (%r)" % (r["scenario"], e))
        eq(body.get("reason"), "upstream_eof", "%s: error reason" % r["scenario"])
        check("message_stop" not in r["partial"].get("events", []),
              "%s: message_stop before the error" % r["scenario"])


@per_backend(ANTHROPIC, lambda b: [("stream", {"model": b.model, "text": uniq("meta"),
                                               "headers": META})])
def anthropic_stream_meta_header(b, results):
    """X-HiWay-Stream-Meta: 1: the SDK skips the `event: hiway` between message_delta and
    message_stop."""
    opts, r = one(results)
    ok(r)
    want = b.reply(opts["text"])
    eq(r["events"][-3:], ["message_delta", "hiway", "message_stop"], "last events")
    eq(r["final_text"], want, "finalText()")
    eq(r["final"]["stop_reason"], "end_turn", "finalMessage().stop_reason")


@test
def anthropic_auth_token(ctx):
    """authToken (Authorization: Bearer, as ANTHROPIC_AUTH_TOKEN) instead of apiKey."""
    fake = _gw_fake(ctx)
    good, bad = _jobs(ctx, ANTHROPIC, [
        (fake, "create", {"model": "ant/claude-t", "text": uniq("token"), "auth_token": True},
         None),
        (fake, "create", {"model": "ant/claude-t", "text": uniq(), "auth_token": True}, BAD_KEY)])
    eq(ok(good)["model"], "ant/claude-t", "model")
    raised(bad, "AuthenticationError", 401)


@test
def anthropic_raw_response_headers(ctx):
    r = ok(anthropic(ctx, _gw_fake(ctx), "raw", model="ant/claude-t", text=uniq("raw")))
    eq(r["status"], 200, "status")
    h = r["headers"]
    eq(h.get("x-hiway-routed-model"), "ant/claude-t", "x-hiway-routed-model")
    eq(r["data"]["model"], "ant/claude-t", "model")
    eq(h.get("x-hiway-routed-tier"), "override", "x-hiway-routed-tier")
    check(h.get("x-request-id", "").startswith("req_"), "x-request-id")
    eq((r["data"]["hiway"] or {}).get("request_id"), h.get("x-request-id"), "_hiway.request_id")


@test
def anthropic_request_id(ctx):
    fake = _gw_fake(ctx)
    ok_r, err_r = _jobs(ctx, ANTHROPIC, [(fake, "raw", {"model": "ant/claude-t", "text": uniq()},
                                          None),
                                         (fake, "create", {"text": uniq()}, BAD_KEY)])
    ok(ok_r)
    rid = ok_r["headers"].get("x-request-id")
    eq(ok_r["request_id"], rid, "withResponse().request_id")
    eq(ok_r["sdk_request_id"], rid, "message._request_id")
    e = raised(err_r, "AuthenticationError", 401)
    eq(e.get("requestID"), (e["body"].get("error") or {}).get("request_id"), "APIError.requestID")


@test
def anthropic_errors(ctx):
    """401 (bad key; non-streamed on both gateways, streamed) and 400 (unknown block)."""
    fake = _gw_fake(ctx)
    res = _jobs(ctx, ANTHROPIC, [
        (ctx.echo, "create", {"text": uniq()}, BAD_KEY),
        (fake, "create", {"text": uniq()}, BAD_KEY),
        (ctx.echo, "stream", {"text": uniq()}, BAD_KEY),
        (ctx.echo, "bad_request", {"text": uniq()}, None)])
    for r in res[:3]:
        e = raised(r, "AuthenticationError", 401)
        check("APIError" in e["instance_of"], "not an APIError")
        body = e.get("body") or {}
        eq(body.get("type"), "error", "body type")
        eq((body.get("error") or {}).get("code"), "invalid_api_key", "error.code")
    e = raised(res[3], "BadRequestError", 400)
    body = e.get("body") or {}
    eq((body.get("error") or {}).get("param"), "messages[0].content[0].type", "error.param")
