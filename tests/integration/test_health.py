# SPDX-License-Identifier: Apache-2.0
"""GET/HEAD /health, GET /v1/models (SPEC §5.4, §5.5)."""
from harness import ANY, check, eq, expect_error, test, RE_REQ_ID


@test
def health_get(ctx):
    r = ctx.main.get("/health")
    eq(r.status, 200, "status")
    eq((r.header("Content-Type") or "").split(";")[0], "application/json", "Content-Type")
    check(RE_REQ_ID.match(r.header("X-Request-Id") or ""), "X-Request-Id %r" % r.header("X-Request-Id"))
    b = r.json
    eq(b.get("status"), "ok", "status field")
    check(isinstance(b.get("version"), str) and b["version"], "version missing: %r" % b)
    check(isinstance(b.get("node_id"), str) and b["node_id"], "node_id missing: %r" % b)
    check(isinstance(b.get("uptime_s"), int) and b["uptime_s"] >= 0, "uptime_s: %r" % b.get("uptime_s"))
    store = b.get("store") or {}
    eq(store.get("backend"), "sqlite", "store.backend")
    eq(store.get("status"), "ok", "store.status")
    check(isinstance(store.get("latency_ms"), (int, float)), "store.latency_ms: %r" % store)
    check("perimeter" in b and "circuits_open" in b, "perimeter/circuits_open missing: %r" % b)


@test
def health_head(ctx):
    r = ctx.main.req("HEAD", "/health")
    eq(r.status, 200, "status")
    eq(r.body, b"", "HEAD body")
    check(r.header("X-Request-Id"), "X-Request-Id missing on HEAD")


@test
def health_post_405(ctx):
    r = ctx.main.req("POST", "/health", body="{}")
    expect_error(r, 405, "method_not_allowed", "invalid_request_error")
    allow = r.header("Allow") or ""
    check("GET" in allow and "HEAD" in allow, "Allow header %r" % allow)


def _ids(r):
    eq(r.status, 200, "status of %r" % r)
    b = r.json
    eq(b.get("object"), "list", "object")
    return [m.get("id") for m in b.get("data", [])]


@test
def models_list_usable_only(ctx):
    r = ctx.main.get("/v1/models", key=ctx.main.key)
    ids = _ids(r)
    for want in ("fake/gpt-test", "fakeai/gpt-4o-test", "fake/gpt-backup"):
        check(want in ids, "%s missing from /v1/models: %r" % (want, ids))
    # builtin models whose provider has no key are not usable
    for bad in ("openai/gpt-4o", "anthropic/claude-sonnet-4-6", "mistral/mistral-small-latest",
                "google/gemini-2.5-pro"):
        check(bad not in ids, "%s listed but its provider has no key: %r" % (bad, ids))
    m = [x for x in r.json["data"] if x["id"] == "fake/gpt-test"][0]
    eq(m.get("object"), "model", "item object")
    eq(m.get("owned_by"), "fake", "owned_by")
    eq(m.get("hiway_tier"), "light", "hiway_tier")
    eq(m.get("hiway_provider"), "fake", "hiway_provider")
    eq(m.get("hiway_quality"), 50, "hiway_quality")
    eq(m.get("hiway_context_window"), 128000, "hiway_context_window")
    eq(m.get("hiway_pricing"), {"input_per_mtok": 1, "output_per_mtok": 2}, "hiway_pricing")
    eq([x for x in r.json["data"] if x["id"] == "fakeai/gpt-4o-test"][0].get("hiway_pricing"),
       {"input_per_mtok": 2.5, "output_per_mtok": 10}, "fakeai pricing")


@test
def models_list_tier_filter(ctx):
    ids = _ids(ctx.main.get("/v1/models?tier=standard", key=ctx.main.key))
    check("fakeai/gpt-4o-test" in ids, "fakeai/gpt-4o-test missing: %r" % ids)
    check("fake/gpt-test" not in ids, "light model listed with ?tier=standard: %r" % ids)


@test
def models_list_needs_key(ctx):
    expect_error(ctx.main.get("/v1/models"), 401, "invalid_api_key", "authentication_error",
                 "Missing API key.")


@test
def models_get_one(ctx):
    r = ctx.main.get("/v1/models/fake/gpt-test", key=ctx.main.key)
    eq(r.status, 200, "status (%r)" % r)
    eq(r.json.get("id"), "fake/gpt-test", "id")
    eq(r.json.get("hiway_tier"), "light", "hiway_tier")


@test
def models_get_unknown_404(ctx):
    r = ctx.main.get("/v1/models/fake/no-such-model", key=ctx.main.key)
    expect_error(r, 404, "not_found", "not_found_error")
    r = ctx.main.get("/v1/models/openai/gpt-4o", key=ctx.main.key)  # exists but not usable
    expect_error(r, 404, "not_found", "not_found_error")


@test
def echo_models_listed_on_echo_config(ctx):
    ids = _ids(ctx.echo.get("/v1/models", key=ctx.echo.key))
    for want in ("local/echo-ultra-light", "local/echo-light", "local/echo-standard",
                 "local/echo-heavy"):
        check(want in ids, "%s missing: %r" % (want, ids))
    check("openai/gpt-4o" not in ids, "openai/gpt-4o listed without a key: %r" % ids)
    m = [x for x in ctx.echo.get("/v1/models", key=ctx.echo.key).json["data"]
         if x["id"] == "local/echo-ultra-light"][0]
    eq(m.get("hiway_tier"), "ultra_light", "hiway_tier spelling of the lowest tier")


_ = ANY
