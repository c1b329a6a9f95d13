# SPDX-License-Identifier: Apache-2.0
"""hiwayd's stderr: JSON lines, one access line per request, no secrets or prompts (§20.2)."""
import json
import re

from harness import check, chat_body, eq, test

MARKER = "PROMPT-MARKER-7f3a9c"


@test
def json_lines_and_no_secrets(ctx):
    gw = ctx.main
    r = gw.chat(chat_body(text="%s please keep me out of the logs" % MARKER), key=gw.key,
                headers={"X-Request-Id": "log-check-1"})
    eq(r.status, 200, "chat")
    gw.chat(chat_body(model="fakeai/gpt-4o-test", text=MARKER + " too"), key=gw.key)
    log = gw.log()
    access = []
    for ln in log.splitlines():
        if ln.startswith("hiway: "):
            continue  # the bootstrap lines, shown once by design
        try:
            obj = json.loads(ln)
        except ValueError:
            raise AssertionError("stderr line is not JSON: %r" % ln[:200])
        for f in ("ts", "level", "msg"):
            check(f in obj, "log line without %s: %r" % (f, ln[:200]))
        if obj.get("msg") == "access":
            access.append(obj)
        check(MARKER not in ln, "prompt or response text logged: %r" % ln[:300])
        check(not re.search(r"hw_live_[0-9a-f]{32}", ln), "a key plaintext logged: %r" % ln[:300])
        check(not re.search(r"hw_admin_[0-9a-f]{64}", ln), "the admin token logged")
        check("sk-test-123" not in ln, "a provider key logged")
    mine = [a for a in access if a.get("request_id") == "log-check-1"]
    eq(len(mine), 1, "access lines for one request")
    a = mine[0]
    for f in ("route", "status", "code", "latency_ms", "client_ip", "workspace_id", "key_id"):
        check(f in a, "access line without %s: %r" % (f, a))
    eq(a["status"], 200, "access status")
    eq(a.get("routed_model"), "fake/gpt-test", "access routed_model")
