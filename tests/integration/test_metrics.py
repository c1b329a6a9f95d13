# SPDX-License-Identifier: Apache-2.0
"""GET /metrics (SPEC §20.1); runs after the error and chat tests so the counters moved."""
import re
import time

from harness import check, chat_body, eq, expect_error, test

LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+\d+)?$")


def _parse(text):
    """Returns [(name, {label: value}, float)] and checks the exposition syntax."""
    out = []
    for ln in text.splitlines():
        if not ln or ln.startswith("#"):
            continue
        m = LINE.match(ln)
        check(m, "bad exposition line %r" % ln)
        labels = {}
        if m.group(2):
            for k, v in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2)):
                labels[k] = v
        try:
            val = float(m.group(3))
        except ValueError:
            raise AssertionError("bad sample value in %r" % ln)
        out.append((m.group(1), labels, val))
    return out


def _metrics(gw):
    r = gw.get("/metrics")
    eq(r.status, 200, "status (%r)" % r)
    ct = r.header("Content-Type") or ""
    check(ct.startswith("text/plain"), "Content-Type %r" % ct)
    check(r.header("X-Request-Id"), "X-Request-Id on /metrics")
    return r.body.decode(), _parse(r.body.decode())


@test
def metrics_families(ctx):
    gw = ctx.main
    gw.chat(chat_body(), key=gw.key)  # one 200
    gw.chat(chat_body())  # one 401
    text, samples = _metrics(gw)
    names = {s[0] for s in samples}
    for fam in ("hiway_http_requests_total", "hiway_http_request_duration_seconds_bucket",
                "hiway_http_request_duration_seconds_sum",
                "hiway_http_request_duration_seconds_count", "hiway_http_requests_in_flight",
                "process_resident_memory_bytes"):
        check(fam in names, "%s missing from /metrics" % fam)
    check("# TYPE hiway_http_requests_total counter" in text, "TYPE line of the counter")
    check(re.search(r"# TYPE hiway_http_request_duration_seconds histogram", text),
          "TYPE line of the histogram")
    reqs = [s for s in samples if s[0] == "hiway_http_requests_total"]
    for _, lb, _ in reqs:
        for k in ("route", "method", "status", "code"):
            check(k in lb, "hiway_http_requests_total without label %s: %r" % (k, lb))
    ok = [s for s in reqs if s[1].get("status") == "200" and s[1].get("code") == "ok"
          and "chat" in s[1].get("route", "")]
    check(ok and ok[0][2] >= 1, "no 200/ok sample for the chat route: %r" % reqs[:10])
    unauth = [s for s in reqs if s[1].get("status") == "401" and
              s[1].get("code") == "invalid_api_key"]
    check(unauth and unauth[0][2] >= 1, "no 401/invalid_api_key sample: %r" % reqs[:10])
    rss = [s for s in samples if s[0] == "process_resident_memory_bytes"]
    check(rss[0][2] > 1e6, "process_resident_memory_bytes %r" % rss[0][2])
    buckets = [s for s in samples if s[0] == "hiway_http_request_duration_seconds_bucket"]
    check(any(s[1].get("le") == "+Inf" for s in buckets), "no +Inf bucket")


@test
def metrics_counter_increments(ctx):
    gw = ctx.main

    def count():
        _, samples = _metrics(gw)
        return sum(v for n, lb, v in samples if n == "hiway_http_requests_total"
                   and lb.get("status") == "404" and lb.get("code") == "not_found")
    before = count()
    for _ in range(3):
        gw.get("/no/such/route")
    # counters move when a request completes, which may be just after its response was read
    deadline = time.monotonic() + 2
    while count() - before < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    eq(count() - before, 3, "404 counter increment")


@test
def metrics_upstream_and_routing(ctx):
    gw = ctx.main
    gw.chat(chat_body(), key=gw.key)
    _, samples = _metrics(gw)
    names = {s[0] for s in samples}
    for fam in ("hiway_upstream_requests_total", "hiway_routing_decisions_total"):
        check(fam in names, "%s missing" % fam)
    up = [s for s in samples if s[0] == "hiway_upstream_requests_total"
          and s[1].get("model") in ("fake/gpt-test", "gpt-test") and s[1].get("outcome") == "ok"]
    check(up and up[0][2] >= 1, "no ok upstream sample for fake/gpt-test")


@test
def metrics_token(ctx):
    """metrics.token set: /metrics needs it as a bearer token (SPEC §20.1)."""
    gw = ctx.new_echo_gateway("metrics-token",
                              "metrics: {token: \"scrape-secret-0123456789abcdef\"}\n")
    r = gw.get("/metrics")
    expect_error(r, 401, "invalid_api_key", "authentication_error")
    r = gw.get("/metrics", headers={"Authorization": "Bearer wrong"})
    expect_error(r, 401, "invalid_api_key", "authentication_error")
    r = gw.get("/metrics", headers={"Authorization": "Bearer scrape-secret-0123456789abcdef"})
    eq(r.status, 200, "with the token")
    check(b"hiway_http_requests_total" in r.body, "exposition served")
