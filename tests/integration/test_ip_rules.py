# SPDX-License-Identifier: Apache-2.0
"""IP rules, client IP and auto-bans (SPEC §13, §16.2 ip-rules/bans/perimeter rows, §17,
§20.1): the management API and its validation, 403 ip_denied at step 3 (every route,
/health included) and at step 7 (after authentication), allow beats deny, expiry,
X-Forwarded-For only from trusted proxies, a rule written into the store by another
process, a 401 flood that ends in a ban lifted by DELETE, hiwayctl, /api/v1/perimeter
with and without an agent row, metrics.

Sources other than 127.0.0.1 are other loopback addresses (127.0.x.y) bound as the
client's source address, so a denied source never locks the test's own admin calls out."""
import http.client as httpclient
import json
import os
import re
import signal
import sqlite3
import subprocess
import time

from harness import (HIWAYCTL, SLOW, Gateway, Resp, base_config, check, clean_env, eq,
                     expect_error, test, uniq)

RULE_FIELDS = {"id", "scope", "workspace_id", "cidr", "action", "comment", "kernel",
               "expires_at", "created_at", "enforced_in_kernel"}
BAN_FIELDS = {"id", "cidr", "reason", "comment", "created_at", "expires_at"}
RE_RULE_ID = re.compile(r"^ipr_[0-9A-HJKMNP-TV-Z]{26}$")
RE_BAN_ID = re.compile(r"^ban_[0-9A-HJKMNP-TV-Z]{26}$")
AUTH_FAILURES = 5


def _config(port, tmp):
    base = base_config(port, tmp).replace(
        "drain_timeout_s: 3}", "drain_timeout_s: 3, trusted_proxies: [\"127.0.0.1/32\"]}")
    return base + ("perimeter: {poll_ms: 100, autoban: {auth_failures: {count: %d, window_s: 60}, "
                   "ttl_s: 600, exempt: []}}\n" % AUTH_FAILURES)


def _gw(ctx):
    """One gateway for the module: loopback 127.0.0.1 is a trusted proxy (so never banned)."""
    def make():
        gw = Gateway("iprules", _config)
        ctx.gateways.append(gw)
        return gw.start()
    return _shared(ctx, make)


def _shared(ctx, make):
    if "ipr_gw" not in ctx.shared:
        ctx.shared["ipr_gw"] = make()
    gw = ctx.shared["ipr_gw"]
    check(gw.alive(), "the iprules gateway is not running (log %s)" % gw.log_path)
    return gw


def req(gw, method, path, src="127.0.0.1", body=None, key=None, headers=None):
    """One request from loopback source address `src`."""
    conn = httpclient.HTTPConnection("127.0.0.1", gw.port, timeout=15 * SLOW,
                                     source_address=(src, 0))
    hdrs = dict(headers or {})
    if key:
        hdrs["Authorization"] = "Bearer " + key
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        return Resp(r.status, r.getheaders(), r.read(), r.reason)
    finally:
        conn.close()


def _denied(r, ip):
    expect_error(r, 403, "ip_denied", "permission_error", client_ip=ip)


def _rule(gw, body, ws=None, key=None, status=201):
    path = "/workspaces/%s/security/ip-rules" % ws if ws else "/ip-rules"
    r = gw.api("POST", path, body, key=key)
    eq(r.status, status, "create rule %r (%r)" % (body, r))
    return r.json


def _del_rule(gw, rid, ws=None):
    path = "/workspaces/%s/security/ip-rules/%s" % (ws, rid) if ws else "/ip-rules/" + rid
    eq(gw.api("DELETE", path).status, 204, "delete rule " + rid)


def _metric(gw, name, **labels):
    text = gw.get("/metrics").body.decode()
    for ln in text.splitlines():
        if not ln.startswith(name):
            continue
        m = re.match(r"^([a-z_]+)(\{[^}]*\})?\s+(\S+)$", ln)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def _wait(fn, what, timeout=3.0):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        if fn():
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


@test
def api_workspace_rules_crud(ctx):
    gw = _gw(ctx)
    r = _rule(gw, {"cidr": "10.1.2.3/8", "action": "deny", "comment": "lab"}, ws=gw.ws)
    eq(set(r), RULE_FIELDS, "rule fields")
    check(RE_RULE_ID.match(r["id"]), "rule id %r" % r["id"])
    eq((r["scope"], r["workspace_id"], r["cidr"], r["action"], r["comment"], r["kernel"],
        r["expires_at"], r["enforced_in_kernel"]),
       ("workspace", gw.ws, "10.0.0.0/8", "deny", "lab", True, None, True), "rule values")
    check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", r["created_at"]), "created_at")
    r6 = _rule(gw, {"cidr": "2001:DB8::1", "action": "allow", "kernel": False}, ws=gw.ws)
    eq((r6["cidr"], r6["enforced_in_kernel"], r6["comment"]), ("2001:db8::1/128", False, None),
       "v6 bare address, allow never in the kernel")
    lst = gw.api("GET", "/workspaces/%s/security/ip-rules" % gw.ws)
    eq(lst.status, 200, "list")
    ids = [x["id"] for x in lst.json["data"]]
    check(r["id"] in ids and r6["id"] in ids, "both rules listed")
    eq(lst.json["next_cursor"], None, "single page")
    # pagination like other lists
    p1 = gw.api("GET", "/workspaces/%s/security/ip-rules?limit=1" % gw.ws).json
    eq(len(p1["data"]), 1, "page size")
    check(p1["next_cursor"], "next_cursor on a partial page")
    p2 = gw.api("GET", "/workspaces/%s/security/ip-rules?limit=1&cursor=%s"
                % (gw.ws, p1["next_cursor"])).json
    check(p2["data"][0]["id"] != p1["data"][0]["id"], "second page moves on")
    # the workspace's admin key may manage them too; another workspace's may not see them
    ws2, ak2 = ctx.create_workspace(gw)
    r = gw.api("GET", "/workspaces/%s/security/ip-rules" % gw.ws, key=ak2)
    expect_error(r, 404, "not_found")
    rr = _rule(gw, {"cidr": "192.0.2.0/24", "action": "deny"}, ws=ws2["id"], key=ak2)
    eq(rr["workspace_id"], ws2["id"], "created with the admin key")
    # an inference key may not
    key, _ = ctx.create_key(gw)
    expect_error(gw.api("GET", "/workspaces/%s/security/ip-rules" % gw.ws, key=key), 403,
                 "forbidden")
    for x in (r6["id"],):
        _del_rule(gw, x, ws=gw.ws)
    _del_rule(gw, ids[0] if ids[0] != r6["id"] else ids[1], ws=gw.ws)
    expect_error(gw.api("DELETE", "/workspaces/%s/security/ip-rules/%s" % (gw.ws, r6["id"])),
                 404, "not_found")
    # a rule of one workspace cannot be deleted through another
    expect_error(gw.api("DELETE", "/workspaces/%s/security/ip-rules/%s" % (gw.ws, rr["id"])),
                 404, "not_found")
    _del_rule(gw, rr["id"], ws=ws2["id"])
    expect_error(gw.api("GET", "/workspaces/01JAX3Q5ZP7K8M9N0R1S2T3V4W/security/ip-rules"), 404,
                 "not_found")


@test
def api_validation(ctx):
    gw = _gw(ctx)
    path = "/workspaces/%s/security/ip-rules" % gw.ws
    bad = [
        ({"action": "deny"}, "cidr"),
        ({"cidr": "10.0.0.0/33", "action": "deny"}, "cidr"),
        ({"cidr": "300.1.1.1", "action": "deny"}, "cidr"),
        ({"cidr": "10.0.0.0/", "action": "deny"}, "cidr"),
        ({"cidr": "fe80::1%eth0", "action": "deny"}, "cidr"),
        ({"cidr": 12, "action": "deny"}, "cidr"),
        ({"cidr": "10.0.0.0/8"}, "action"),
        ({"cidr": "10.0.0.0/8", "action": "block"}, "action"),
        ({"cidr": "10.0.0.0/8", "action": "deny", "comment": "x" * 201}, "comment"),
        ({"cidr": "10.0.0.0/8", "action": "deny", "kernel": "yes"}, "kernel"),
        ({"cidr": "10.0.0.0/8", "action": "deny", "expires_at": "tomorrow"}, "expires_at"),
        ({"cidr": "10.0.0.0/8", "action": "deny", "expires_at": "2001-01-01T00:00:00Z"},
         "expires_at"),
        ({"cidr": "10.0.0.0/8", "action": "deny", "port": 22}, "port"),
    ]
    for body, param in bad:
        expect_error(gw.api("POST", path, body), 400, "invalid_request", param=param)
        expect_error(gw.api("POST", "/ip-rules", body), 400, "invalid_request", param=param)
    ok = _rule(gw, {"cidr": "10.9.0.0/16", "action": "deny", "comment": "é" * 200}, ws=gw.ws)
    _del_rule(gw, ok["id"], ws=gw.ws)
    for body, param in [({"cidr": "nope"}, "cidr"), ({"cidr": "10.0.0.1", "ttl_s": 0}, "ttl_s"),
                        ({"cidr": "10.0.0.1", "ttl_s": "60"}, "ttl_s"), ({}, "cidr"),
                        ({"cidr": "10.0.0.1", "reason": "manual"}, "reason")]:
        expect_error(gw.api("POST", "/bans", body), 400, "invalid_request", param=param)
    # token-only resources refuse an admin key
    _, ak = ctx.create_workspace(gw)
    for method, p in [("GET", "/ip-rules"), ("POST", "/ip-rules"), ("GET", "/bans"),
                      ("GET", "/perimeter"), ("DELETE", "/bans/ban_01JAX3Q5ZP7K8M9N0R1S2T3V4W")]:
        expect_error(gw.api(method, p, {"cidr": "10.0.0.1", "action": "deny"}
                            if method == "POST" else None, key=ak), 403, "forbidden")
    expect_error(gw.api("PUT", "/ip-rules"), 405, "method_not_allowed")
    expect_error(gw.api("DELETE", "/ip-rules/ipr_01JAX3Q5ZP7K8M9N0R1S2T3V4W"), 404, "not_found")


@test
def global_rules_and_bans_crud(ctx):
    gw = _gw(ctx)
    g = _rule(gw, {"cidr": "198.18.0.0/15", "action": "deny", "kernel": False})
    eq((g["scope"], g["workspace_id"], g["enforced_in_kernel"]), ("global", None, False),
       "global kernel:false rule")
    check(any(x["id"] == g["id"] for x in gw.api("GET", "/ip-rules").json["data"]), "listed")
    check(all(x["id"] != g["id"] for x in
              gw.api("GET", "/workspaces/%s/security/ip-rules" % gw.ws).json["data"]),
          "a global rule is not a workspace's")
    _del_rule(gw, g["id"])
    r = gw.api("POST", "/bans", {"cidr": "203.0.113.77", "ttl_s": 120, "comment": "scanner"})
    eq(r.status, 201, "ban create (%r)" % r)
    b = r.json
    eq(set(b), BAN_FIELDS, "ban fields")
    check(RE_BAN_ID.match(b["id"]), "ban id")
    eq((b["cidr"], b["reason"], b["comment"]), ("203.0.113.77/32", "manual", "scanner"), "ban")
    check(b["expires_at"] is not None, "ttl gives expires_at")
    r = gw.api("POST", "/bans", {"cidr": "2001:db8:dead::/48"})
    eq(r.status, 201, "ban without ttl")
    eq(r.json["expires_at"], None, "no ttl: no end")
    ids = [x["id"] for x in gw.api("GET", "/bans").json["data"]]
    check(b["id"] in ids and r.json["id"] in ids, "bans listed")
    for x in (b["id"], r.json["id"]):
        eq(gw.api("DELETE", "/bans/" + x).status, 204, "lift ban")
    expect_error(gw.api("DELETE", "/bans/" + b["id"]), 404, "not_found")


@test
def step3_denies_every_route(ctx):
    gw = _gw(ctx)
    src = "127.0.0.2"
    eq(req(gw, "GET", "/health", src).status, 200, "before the rule")
    g = _rule(gw, {"cidr": src, "action": "deny"})
    for method, path in [("GET", "/health"), ("HEAD", "/health"), ("GET", "/metrics"),
                         ("GET", "/v1/models"), ("POST", "/v1/chat/completions"),
                         ("GET", "/api/v1/workspaces")]:
        r = req(gw, method, path, src, key=gw.key)
        if method == "HEAD":
            eq(r.status, 403, "HEAD /health denied")
        else:
            _denied(r, src)
    # step 2 comes first: an unknown route is still 404
    expect_error(req(gw, "GET", "/nope", src), 404, "not_found")
    eq(req(gw, "GET", "/health").status, 200, "127.0.0.1 is not affected")
    _del_rule(gw, g["id"])
    eq(req(gw, "GET", "/health", src).status, 200, "deleting the rule lifts it at once")


@test
def allow_beats_deny(ctx):
    gw = _gw(ctx)
    d = _rule(gw, {"cidr": "127.0.1.0/24", "action": "deny", "kernel": False})
    a = _rule(gw, {"cidr": "127.0.1.5/32", "action": "allow"})
    _denied(req(gw, "GET", "/health", "127.0.1.6"), "127.0.1.6")
    eq(req(gw, "GET", "/health", "127.0.1.5").status, 200, "allow beats deny")
    # a workspace allow never lifts a perimeter-set deny
    w = _rule(gw, {"cidr": "127.0.1.6", "action": "allow"}, ws=gw.ws)
    _denied(req(gw, "GET", "/v1/models", "127.0.1.6", key=gw.key), "127.0.1.6")
    for rid in (d["id"], a["id"]):
        _del_rule(gw, rid)
    _del_rule(gw, w["id"], ws=gw.ws)


@test
def step7_workspace_rules(ctx):
    gw = _gw(ctx)
    src = "127.0.2.1"
    w = _rule(gw, {"cidr": "127.0.2.0/24", "action": "deny", "kernel": False}, ws=gw.ws)
    eq(w["enforced_in_kernel"], False, "kernel:false")
    eq(req(gw, "GET", "/health", src).status, 200, "step 3 does not see a kernel:false "
       "workspace rule")
    _denied(req(gw, "GET", "/v1/models", src, key=gw.key), src)
    r = req(gw, "POST", "/v1/chat/completions", src, key=gw.key,
            body={"model": "local/echo", "messages": [{"role": "user", "content": uniq()}]})
    _denied(r, src)
    # authentication comes first (step 5 before 7)
    expect_error(req(gw, "GET", "/v1/models", src, key="hw_live_" + "0" * 32), 401,
                 "invalid_api_key")
    # another workspace's key is not affected
    ws2, _ = ctx.create_workspace(gw, admin_key=False)
    k2, _ = ctx.create_key(gw, ws=ws2["id"])
    eq(req(gw, "GET", "/v1/models", src, key=k2).status, 200, "other workspace")
    # a global allow lifts the workspace deny (the workspace set holds the global rules)
    ga = _rule(gw, {"cidr": "127.0.2.1", "action": "allow"})
    eq(req(gw, "GET", "/v1/models", src, key=gw.key).status, 200, "global allow beats deny")
    _del_rule(gw, ga["id"])
    # with kernel: true (and workspace_rules_in_kernel) the deny is in the perimeter set
    wk = _rule(gw, {"cidr": "127.0.2.9", "action": "deny"}, ws=gw.ws)
    eq(wk["enforced_in_kernel"], True, "kernel deny of a workspace")
    _denied(req(gw, "GET", "/health", "127.0.2.9"), "127.0.2.9")
    _del_rule(gw, wk["id"], ws=gw.ws)
    _del_rule(gw, w["id"], ws=gw.ws)
    eq(req(gw, "GET", "/v1/models", src, key=gw.key).status, 200, "lifted")


@test
def expiry(ctx):
    gw = _gw(ctx)
    src = "127.0.5.1"
    exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    r = _rule(gw, {"cidr": src, "action": "deny", "expires_at": exp})
    eq(r["expires_at"], exp, "expires_at echoed")
    _denied(req(gw, "GET", "/health", src), src)
    _wait(lambda: req(gw, "GET", "/health", src).status == 200, "the rule to stop applying", 4)
    # and the row is deleted within 60 s (the sweep runs every 10 s)
    _wait(lambda: all(x["id"] != r["id"] for x in gw.api("GET", "/ip-rules").json["data"]),
          "the expired rule to be deleted", 15)


@test
def xff_only_from_trusted_proxies(ctx):
    gw = _gw(ctx)
    g = _rule(gw, {"cidr": "198.51.100.9", "action": "deny"})
    for xff in ["198.51.100.9", "203.0.113.1, 198.51.100.9", "198.51.100.9, 127.0.0.1",
                "198.51.100.9,127.0.0.1 , 127.0.0.1", "::ffff:198.51.100.9"]:
        _denied(req(gw, "GET", "/health", headers={"X-Forwarded-For": xff}), "198.51.100.9")
    # the rightmost untrusted hop is the client: an address left of it is not believed
    eq(req(gw, "GET", "/health", headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.1"})
       .status, 200, "left of the client")
    # malformed header: the peer stays the client
    for xff in ["garbage", "198.51.100.9, ", "198.51.100.9;1.2.3.4", "[::1]"]:
        eq(req(gw, "GET", "/health", headers={"X-Forwarded-For": xff}).status, 200,
           "malformed %r" % xff)
    # an untrusted peer's header is ignored
    eq(req(gw, "GET", "/health", "127.0.6.1", headers={"X-Forwarded-For": "198.51.100.9"})
       .status, 200, "XFF from an untrusted peer")
    _del_rule(gw, g["id"])


@test
def store_change_by_another_process(ctx):
    gw = _gw(ctx)
    src = "127.0.3.1"
    db = sqlite3.connect("%s/hiway.db" % gw.dir, timeout=10)
    rid = "ipr_01JAX3Q5ZP7K8M9N0R1S2T3V4X"
    with db:
        db.execute("INSERT INTO ip_rules(id, workspace_id, cidr, family, action, comment, kernel,"
                   " expires_at, created_at) VALUES (?, NULL, ?, 4, 'deny', 'direct', 1, NULL, ?)",
                   (rid, src + "/32", int(time.time())))
        db.execute("UPDATE settings SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
                   "WHERE name = 'perimeter_generation'")
    t0 = time.monotonic()
    _wait(lambda: req(gw, "GET", "/health", src).status == 403, "the direct rule to apply", 1.5)
    check(time.monotonic() - t0 < 1.5 * SLOW, "applied within about a second")
    with db:
        db.execute("DELETE FROM ip_rules WHERE id = ?", (rid,))
        db.execute("UPDATE settings SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
                   "WHERE name = 'perimeter_generation'")
    _wait(lambda: req(gw, "GET", "/health", src).status == 200, "the deletion to apply", 1.5)
    db.close()


@test
def generation_bumps_with_api_changes(ctx):
    gw = _gw(ctx)
    db = sqlite3.connect("%s/hiway.db" % gw.dir, timeout=10)

    def gen():
        return int(db.execute("SELECT value FROM settings WHERE name = 'perimeter_generation'")
                   .fetchone()[0])
    g0 = gen()
    r = _rule(gw, {"cidr": "192.0.2.55", "action": "deny"})
    eq(gen(), g0 + 1, "insert bumps")
    _del_rule(gw, r["id"])
    eq(gen(), g0 + 2, "delete bumps")
    db.close()


@test
def autoban_401_flood_then_lift(ctx):
    gw = _gw(ctx)
    src = "127.0.4.1"
    before = _metric(gw, "hiway_autobans_total", reason="auth_failures") or 0
    for i in range(AUTH_FAILURES):
        r = req(gw, "GET", "/v1/models", src, key="hw_live_" + "1" * 32)
        expect_error(r, 401, "invalid_api_key")
    # the ban applies at once, on every route
    _denied(req(gw, "GET", "/health", src), src)
    _denied(req(gw, "GET", "/v1/models", src, key=gw.key), src)
    bans = [b for b in gw.api("GET", "/bans").json["data"] if b["cidr"] == src + "/32"]
    eq(len(bans), 1, "one ban for the source")
    b = bans[0]
    eq(b["reason"], "auth_failures", "reason")
    check(b["expires_at"] is not None, "auto-ban has a TTL")
    eq(_metric(gw, "hiway_autobans_total", reason="auth_failures"), before + 1, "autobans_total")
    _wait(lambda: (_metric(gw, "hiway_autobans_active") or 0) >= 1, "autobans_active", 3)
    check((_metric(gw, "hiway_ip_denied_total", source="ban") or 0) >= 2, "ip_denied ban")
    eq(gw.api("DELETE", "/bans/" + b["id"]).status, 204, "lift")
    eq(req(gw, "GET", "/health", src).status, 200, "lifted at once")
    # fewer failures than the threshold do not ban; the trusted proxy is never banned
    for i in range(AUTH_FAILURES * 2):
        req(gw, "GET", "/v1/models", key="hw_live_" + "2" * 32)
    eq(req(gw, "GET", "/health").status, 200, "trusted proxy exempt")
    check((_metric(gw, "hiway_ip_denied_total", source="rule") or 0) >= 1, "ip_denied rule")


@test
def autoban_through_proxy_and_default_exempt(ctx):
    gw = _gw(ctx)
    client = "198.51.100.200"
    for i in range(AUTH_FAILURES):
        req(gw, "GET", "/v1/models", key="hw_live_" + "3" * 32,
            headers={"X-Forwarded-For": client})
    _denied(req(gw, "GET", "/health", headers={"X-Forwarded-For": client}), client)
    eq(req(gw, "GET", "/health").status, 200, "the proxy itself is not banned")
    for b in gw.api("GET", "/bans").json["data"]:
        if b["cidr"] == client + "/32":
            gw.api("DELETE", "/bans/" + b["id"])
    # the default configuration exempts loopback: a flood from 127.0.0.1 bans nothing
    echo = ctx.echo
    for i in range(22):
        echo.get("/v1/models", key="hw_live_" + "4" * 32)
    eq(echo.get("/health").status, 200, "loopback exempt by default")
    eq(echo.api("GET", "/bans").json["data"], [], "no ban")


def _ctl(gw, args, ws=None):
    env = clean_env()
    env["HIWAY_ADMIN_TOKEN"] = gw.token
    if ws:
        env["HIWAY_WORKSPACE"] = ws
    p = subprocess.run([HIWAYCTL, "--url", "http://127.0.0.1:%d" % gw.port] + args, env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30 * SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@test
def hiwayctl_ip_rules_bans_perimeter(ctx):
    gw = _gw(ctx)
    rc, out, err = _ctl(gw, ["--json", "ip-rules", "add", "deny", "10.20.30.40/16", "--comment",
                             "cli", "--no-kernel", "--expires", "1h"], ws=gw.ws)
    eq(rc, 0, "ip-rules add (%s)" % err)
    r = json.loads(out)
    eq((r["cidr"], r["kernel"], r["comment"], r["scope"]), ("10.20.0.0/16", False, "cli",
                                                            "workspace"), "added")
    check(r["expires_at"], "--expires 1h sets expires_at")
    rc, out, err = _ctl(gw, ["ip-rules", "list"], ws=gw.ws)
    eq(rc, 0, "list (%s)" % err)
    check(r["id"] in out and "10.20.0.0/16" in out and "CIDR" in out, "table: %r" % out[:400])
    rc, out, err = _ctl(gw, ["--json", "ip-rules", "add", "allow", "2001:db8::/32", "--global"])
    eq(rc, 0, "global add (%s)" % err)
    g = json.loads(out)
    eq(g["scope"], "global", "global scope")
    rc, out, _ = _ctl(gw, ["--json", "ip-rules", "list", "--global"])
    check(any(x["id"] == g["id"] for x in json.loads(out)["data"]), "global listed")
    eq(_ctl(gw, ["ip-rules", "rm", g["id"], "--global"])[0], 0, "global rm")
    eq(_ctl(gw, ["ip-rules", "rm", r["id"]], ws=gw.ws)[0], 0, "rm")
    rc, out, err = _ctl(gw, ["ip-rules", "rm", r["id"]], ws=gw.ws)
    eq(rc, 1, "rm again is an API error")
    check("not_found" in err, "prints the code: %r" % err)
    rc, out, err = _ctl(gw, ["--json", "ip-rules", "add", "10.30.0.0/16", "--action", "allow"],
                        ws=gw.ws)
    eq(rc, 0, "add with --action (%s)" % err)
    eq(json.loads(out)["action"], "allow", "--action allow")
    eq(_ctl(gw, ["ip-rules", "rm", json.loads(out)["id"]], ws=gw.ws)[0], 0, "rm")
    eq(_ctl(gw, ["ip-rules", "add", "block", "10.0.0.1"], ws=gw.ws)[0], 2, "bad action: usage")
    eq(_ctl(gw, ["ip-rules", "list"])[0], 2, "no workspace and no --global: usage")
    rc, out, err = _ctl(gw, ["ip-rules", "add", "deny", "10.0.0.0/40"], ws=gw.ws)
    eq(rc, 1, "invalid cidr is an API error")
    check("invalid_request" in err, err)
    # bans
    rc, out, err = _ctl(gw, ["--json", "bans", "add", "192.0.2.99", "--ttl", "300",
                             "--comment", "cli ban"])
    eq(rc, 0, "bans add (%s)" % err)
    b = json.loads(out)
    eq((b["cidr"], b["reason"]), ("192.0.2.99/32", "manual"), "ban")
    rc, out, _ = _ctl(gw, ["bans", "list"])
    check(b["id"] in out and "manual" in out, "bans table %r" % out[:300])
    eq(_ctl(gw, ["bans", "rm", b["id"]])[0], 0, "bans rm")
    # perimeter status, table and JSON
    rc, out, err = _ctl(gw, ["perimeter", "status"])
    eq(rc, 0, "perimeter status (%s)" % err)
    check("agent.status" in out and "down" in out, "status table %r" % out[:400])
    rc, out, _ = _ctl(gw, ["--json", "perimeter", "status"])
    eq(json.loads(out)["agent"]["status"], "down", "json")


@test
def perimeter_status_without_and_with_agent(ctx):
    gw = _gw(ctx)
    r = gw.api("GET", "/perimeter")
    eq(r.status, 200, "perimeter (%r)" % r)
    p = r.json
    eq(set(p), {"enabled", "agent", "interfaces", "generation", "rules", "bans", "stats"},
       "fields")
    eq(p["enabled"], True, "enabled")
    eq(p["agent"], {"status": "down", "node_id": None, "pid": None, "version": None,
                    "heartbeat_at": None}, "no agent")
    eq(p["interfaces"], [], "no interfaces")
    eq(set(p["rules"]), {"allow_v4", "deny_v4", "allow_v6", "deny_v6"}, "rules keys")
    eq(set(p["stats"]), {"pass", "pass_allowed", "drop_deny", "drop_ratelimit",
                         "pass_unparsed"}, "stats keys")
    check(isinstance(p["generation"], int), "generation")
    eq(gw.get("/health").json["perimeter"]["status"], "inactive", "health: inactive")
    eq(_metric(gw, "hiway_perimeter_agent_up"), 0, "agent_up 0")
    db = sqlite3.connect("%s/hiway.db" % gw.dir, timeout=10)
    now_ms = int(time.time() * 1000)
    stats = {"pass": {"packets": 10, "bytes": 1000}, "pass_allowed": {"packets": 1, "bytes": 60},
             "drop_deny": {"packets": 7, "bytes": 420}, "drop_ratelimit": {"packets": 2,
                                                                           "bytes": 120},
             "pass_unparsed": {"packets": 0, "bytes": 0}}
    with db:
        db.execute("INSERT OR REPLACE INTO agent_status(node_id, pid, version, status, "
                   "heartbeat_at, generation, interfaces, rules, stats) VALUES "
                   "('agent-node', 4242, '1.0.0', 'running', ?, ?, ?, ?, ?)",
                   (now_ms, p["generation"],
                    json.dumps([{"name": "veth0", "mode": "xdp-generic", "prog_id": 77}]),
                    json.dumps({"allow_v4": 1, "deny_v4": 3, "allow_v6": 0, "deny_v6": 1,
                                "bans": 2}),
                    json.dumps(stats)))
    p = gw.api("GET", "/perimeter").json
    eq((p["agent"]["status"], p["agent"]["node_id"], p["agent"]["pid"]), ("up", "agent-node",
                                                                          4242), "agent up")
    eq(p["interfaces"], [{"name": "veth0", "mode": "xdp-generic", "prog_id": 77}], "interfaces")
    eq(p["rules"], {"allow_v4": 1, "deny_v4": 3, "allow_v6": 0, "deny_v6": 1}, "agent rules")
    eq(p["bans"], 2, "agent bans")
    eq(p["stats"]["drop_deny"], {"packets": 7, "bytes": 420}, "stats")
    _wait(lambda: gw.get("/health").json["perimeter"]["status"] == "active", "health active", 3)
    eq(_metric(gw, "hiway_perimeter_agent_up", node="agent-node"), 1, "agent_up 1")
    eq(_metric(gw, "hiway_perimeter_packets_total", verdict="drop_deny", node="agent-node"), 7,
       "packets")
    eq(_metric(gw, "hiway_perimeter_bytes_total", verdict="pass", node="agent-node"), 1000,
       "bytes")
    # a stale heartbeat is a down agent
    with db:
        db.execute("UPDATE agent_status SET heartbeat_at = ? WHERE node_id = 'agent-node'",
                   (now_ms - 16000,))
    eq(gw.api("GET", "/perimeter").json["agent"]["status"], "down", "stale heartbeat")
    with db:
        db.execute("DELETE FROM agent_status")
    db.close()
    check(_metric(gw, "hiway_perimeter_rules", family="ipv4", action="deny") is not None,
          "hiway_perimeter_rules present")


@test
def sighup_reloads_trusted_proxies(ctx):
    gw = _gw(ctx)
    src, client = "127.0.0.7", "198.51.100.61"
    g = _rule(gw, {"cidr": client, "action": "deny"})
    eq(req(gw, "GET", "/health", src, headers={"X-Forwarded-For": client}).status, 200,
       "127.0.0.7 is not a trusted proxy yet")
    with open(gw.config_path) as f:
        original = f.read()
    try:
        with open(gw.config_path, "w") as f:
            f.write(original.replace('trusted_proxies: ["127.0.0.1/32"]',
                                     'trusted_proxies: ["127.0.0.1/32", "127.0.0.7/32"]'))
        os.kill(gw.proc.pid, signal.SIGHUP)
        _wait(lambda: req(gw, "GET", "/health", src,
                          headers={"X-Forwarded-For": client}).status == 403,
              "the reloaded trusted proxy to apply", 3)
        _denied(req(gw, "GET", "/health", src, headers={"X-Forwarded-For": client}), client)
    finally:
        with open(gw.config_path, "w") as f:
            f.write(original)
        os.kill(gw.proc.pid, signal.SIGHUP)
    _wait(lambda: req(gw, "GET", "/health", src,
                      headers={"X-Forwarded-For": client}).status == 200,
          "the original configuration to apply again", 3)
    _del_rule(gw, g["id"])
