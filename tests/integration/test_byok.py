# SPDX-License-Identifier: Apache-2.0
"""BYOK provider keys (SPEC §16.2 providers rows, §16.3, §17): the management API, hiwayctl,
the sealed store rows, restarts, and that a key never shows in a response or a log."""
import hashlib
import json
import os
import re
import sqlite3
import subprocess

from harness import (HIWAYCTL, SLOW, Gateway, base_config, check, clean_env, eq, expect_error,
                     test, uniq)

MASTER = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
RE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FIELDS = {"provider", "kind", "configured", "source", "enabled", "fingerprint", "updated_at"}
SECRETS = []  # every plaintext key a test sent, checked against logs and responses


def secret(tag):
    s = "sk-%s-%s" % (tag, hashlib.sha256(uniq(tag).encode()).hexdigest()[:32])
    SECRETS.append(s)
    return s


def fp(key):
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def byok_config(master=True):
    def cfg(port, tmp):
        return (base_config(port, tmp)
                + ("secrets: {master_key: \"%s\"}\n" % MASTER if master else "")
                + "providers:\n"
                "  fake: {kind: openai_compatible, base_url: \"http://127.0.0.1:9/v1\"}\n"
                "  fakeai: {kind: openai, base_url: \"http://127.0.0.1:9/v1\", api_key: \"sk-srv\"}\n"
                "  mist: {kind: mistral, api_key: \"sk-unshared\", share_key: false}\n"
                "  off: {kind: openai, api_key: \"sk-off\", enabled: false}\n"
                "  a-provider-id-longer-than-forty-characters-0123: {kind: openai}\n")
    return cfg


def gateway(ctx, name="byok", master=True):
    key = "gw_" + name
    if key not in ctx.shared or not ctx.shared[key].alive():
        gw = Gateway(name, byok_config(master))
        ctx.gateways.append(gw)
        ctx.shared[key] = gw.start()
    return ctx.shared[key]


def new_ws(gw):
    r = gw.api("POST", "/workspaces", {"name": uniq("byok"), "create_admin_key": True})
    check(r.status == 201, "creating a workspace: %r" % r)
    ak = r.json["admin_key"]
    return r.json["id"], ak["key"] if isinstance(ak, dict) else ak


def listing(gw, ws, key=None):
    r = gw.api("GET", "/workspaces/%s/providers" % ws, key=key)
    eq(r.status, 200, "GET providers (%r)" % r)
    check(r.json.get("next_cursor", "x") is None, "next_cursor %r" % r.json.get("next_cursor"))
    out = {}
    for p in r.json["data"]:
        eq(set(p), FIELDS, "provider object fields")
        out[p["provider"]] = p
    no_secret_in(r.body, "GET providers")
    return out


def no_secret_in(text, what):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    for s in SECRETS:
        check(s not in text, "%s holds a plaintext provider key" % what)


def put(gw, ws, provider, body, key=None):
    r = gw.api("PUT", "/workspaces/%s/providers/%s" % (ws, provider), body, key=key)
    no_secret_in(r.body, "PUT response")
    return r


@test
def sources_by_default(ctx):
    gw = gateway(ctx)
    ws, _ = new_ws(gw)
    ps = listing(gw, ws)
    want = {"fake": ("openai_compatible", "not_required", True, True),
            "fakeai": ("openai", "server", True, True),
            "mist": ("mistral", "none", False, True),
            "off": ("openai", "server", True, False),
            "local": ("echo", "not_required", True, True),
            "anthropic": ("anthropic", "none", False, True)}
    for pid, (kind, source, configured, enabled) in want.items():
        check(pid in ps, "provider %s not listed: %s" % (pid, sorted(ps)))
        p = ps[pid]
        eq(p["kind"], kind, pid + " kind")
        eq(p["source"], source, pid + " source")
        eq(p["configured"], configured, pid + " configured")
        eq(p["enabled"], enabled, pid + " enabled")
        eq(p["fingerprint"], None, pid + " fingerprint")
        eq(p["updated_at"], None, pid + " updated_at")


@test
def put_get_delete_with_token(ctx):
    gw = gateway(ctx)
    ws, _ = new_ws(gw)
    k = secret("openai")
    r = put(gw, ws, "fakeai", {"api_key": k})
    eq(r.status, 200, "PUT (%r)" % r)
    p = r.json
    eq(set(p), FIELDS, "fields")
    eq(p["source"], "workspace", "source")
    eq(p["fingerprint"], fp(k), "fingerprint")
    eq(p["configured"], True, "configured")
    eq(p["enabled"], True, "enabled")
    check(RE_TIME.match(p["updated_at"] or ""), "updated_at %r" % p["updated_at"])
    eq(listing(gw, ws)["fakeai"], p, "listed as answered")
    # A key of its own makes an unshared server key's provider usable.
    k2 = secret("mistral")
    p2 = put(gw, ws, "mist", {"api_key": k2}).json
    eq((p2["source"], p2["configured"], p2["fingerprint"]), ("workspace", True, fp(k2)), "mist")
    # Another workspace is untouched.
    other, _ = new_ws(gw)
    eq(listing(gw, other)["fakeai"]["source"], "server", "other workspace")
    r = gw.api("DELETE", "/workspaces/%s/providers/fakeai" % ws)
    eq(r.status, 204, "DELETE (%r)" % r)
    eq(r.body, b"", "204 body")
    p = listing(gw, ws)["fakeai"]
    eq((p["source"], p["fingerprint"], p["updated_at"]), ("server", None, None), "after DELETE")
    # Deleting again leaves the same state.
    eq(gw.api("DELETE", "/workspaces/%s/providers/fakeai" % ws).status, 204, "DELETE again")


@test
def enabled_switch_and_null_key(ctx):
    gw = gateway(ctx)
    ws, _ = new_ws(gw)
    p = put(gw, ws, "fakeai", {"enabled": False}).json
    eq((p["source"], p["enabled"], p["configured"]), ("server", False, True), "disabled")
    check(RE_TIME.match(p["updated_at"] or ""), "updated_at %r" % p["updated_at"])
    k = secret("sw")
    p = put(gw, ws, "fakeai", {"api_key": k}).json
    eq((p["source"], p["enabled"], p["fingerprint"]), ("workspace", False, fp(k)),
       "a key keeps the switch")
    p = put(gw, ws, "fakeai", {"api_key": None, "enabled": True}).json
    eq((p["source"], p["enabled"], p["fingerprint"]), ("server", True, None), "key cleared")
    # The server's own switch wins: a provider off in the configuration stays off.
    p = put(gw, ws, "off", {"enabled": True}).json
    eq(p["enabled"], False, "server-disabled provider")
    # An empty body changes nothing.
    r = put(gw, ws, "mist", {})
    eq(r.status, 200, "empty PUT")
    eq(r.json["updated_at"], None, "empty PUT wrote nothing")
    r = gw.api("DELETE", "/workspaces/%s/providers/fakeai" % ws)
    eq(r.status, 204, "DELETE")
    eq(listing(gw, ws)["fakeai"]["enabled"], True, "DELETE removes the switch too")


@test
def admin_key_own_workspace_only(ctx):
    gw = gateway(ctx)
    ws, ak = new_ws(gw)
    k = secret("ak")
    r = put(gw, ws, "fakeai", {"api_key": k}, key=ak)
    eq(r.status, 200, "admin key PUT (%r)" % r)
    eq(r.json["fingerprint"], fp(k), "fingerprint")
    eq(listing(gw, ws, key=ak)["fakeai"]["source"], "workspace", "admin key GET")
    other, _ = new_ws(gw)
    for method, path, body in (("GET", "/providers", None),
                               ("PUT", "/providers/fakeai", {"enabled": False}),
                               ("DELETE", "/providers/fakeai", None)):
        r = gw.api(method, "/workspaces/%s%s" % (other, path), body, key=ak)
        expect_error(r, 404, "not_found", "not_found_error")
    r = gw.api("DELETE", "/workspaces/%s/providers/fakeai" % ws, key=ak)
    eq(r.status, 204, "admin key DELETE")
    # An inference key may not manage provider keys.
    r = gw.api("POST", "/workspaces/%s/keys" % ws, {"name": uniq("inf")})
    r = gw.api("GET", "/workspaces/%s/providers" % ws, key=r.json["key"])
    expect_error(r, 403, "forbidden", "permission_error")


@test
def invalid_requests(ctx):
    gw = gateway(ctx)
    ws, _ = new_ws(gw)
    base = "/workspaces/%s/providers/" % ws
    expect_error(gw.api("PUT", base + "nope", {"api_key": "sk-x"}), 404, "not_found")
    expect_error(gw.api("DELETE", base + "nope"), 404, "not_found")
    expect_error(gw.api("PUT", "/workspaces/01JAX3Q5ZP7K8M9N0R1S2T3V4W/providers/fakeai",
                        {"enabled": True}), 404, "not_found")
    expect_error(gw.api("PUT", base + "fakeai", {"api_key": "sk-x", "colour": 1}), 400,
                 "invalid_request", "invalid_request_error", param="colour")
    for bad in ("", "sk with space", "sk-line\nbreak", "sk-\u00e9", 42, "x" * 2049):
        expect_error(gw.api("PUT", base + "fakeai", {"api_key": bad}), 400, "invalid_request",
                     param="api_key")
    expect_error(gw.api("PUT", base + "fakeai", {"enabled": "yes"}), 400, "invalid_request",
                 param="enabled")
    expect_error(gw.api("PUT", base + "local", {"api_key": "sk-echo"}), 400, "invalid_request",
                 param="api_key")
    expect_error(gw.api("PUT", base + "fakeai", "[1]"), 400, "invalid_request")
    r = gw.api("POST", base + "fakeai", {})
    expect_error(r, 405, "method_not_allowed")
    eq(r.header("Allow"), "PUT, DELETE", "Allow")
    # Nothing of the above was stored.
    eq(listing(gw, ws)["fakeai"]["updated_at"], None, "no row written")
    # A provider id longer than a workspace id still routes.
    long_id = "a-provider-id-longer-than-forty-characters-0123"
    r = put(gw, ws, long_id, {"api_key": secret("long")})
    eq((r.status, r.json.get("source")), (200, "workspace"), "long provider id (%r)" % r)


@test
def no_master_key_400(ctx):
    gw = gateway(ctx, "byok-nomaster", master=False)
    ws, _ = new_ws(gw)
    r = put(gw, ws, "fakeai", {"api_key": secret("nomaster")})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="api_key")
    check("master_key" in r.json["error"]["message"], "message %r" % r.json["error"]["message"])
    # The switch needs no secret, and server keys still work.
    r = put(gw, ws, "fakeai", {"enabled": False})
    eq((r.status, r.json.get("source"), r.json.get("enabled")), (200, "server", False),
       "switch without a master key (%r)" % r)


def ctl(gw, ws, args, stdin=b""):
    env = clean_env()
    env["HIWAY_ADMIN_TOKEN"] = gw.token
    env["HIWAY_WORKSPACE"] = ws
    p = subprocess.run([HIWAYCTL, "--url", "http://127.0.0.1:%d" % gw.port] + args, env=env,
                       input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30 * SLOW)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    no_secret_in(out + err, "hiwayctl output")
    return p.returncode, out, err


@test
def hiwayctl_providers(ctx):
    gw = gateway(ctx)
    ws, _ = new_ws(gw)
    k1 = secret("stdin")
    rc, out, err = ctl(gw, ws, ["providers", "set", "fakeai"], stdin=(k1 + "\n").encode())
    eq(rc, 0, "set via stdin (stderr %r)" % err)
    check(fp(k1) in out and "workspace" in out, "set output %r" % out)
    kf = os.path.join(gw.dir, "mist.key")
    k2 = secret("file")
    with open(kf, "w") as f:
        f.write(k2 + "\n")
    rc, out, err = ctl(gw, ws, ["--json", "providers", "set", "mist", "--key-file", kf,
                                "--disable"])
    eq(rc, 0, "set --key-file (stderr %r)" % err)
    p = json.loads(out)
    eq((p["fingerprint"], p["source"], p["enabled"]), (fp(k2), "workspace", False), "--json set")
    rc, out, err = ctl(gw, ws, ["providers", "list"])
    eq(rc, 0, "list")
    check("FINGERPRINT" in out and fp(k1) in out and fp(k2) in out, "table %r" % out)
    rc, out, _ = ctl(gw, ws, ["--json", "providers", "list"])
    eq({p["provider"]: p["source"] for p in json.loads(out)["data"]}["fakeai"], "workspace",
       "--json list")
    # Only a switch: empty stdin is no key.
    rc, out, err = ctl(gw, ws, ["providers", "set", "mist", "--enable"])
    eq(rc, 0, "--enable with empty stdin (stderr %r)" % err)
    eq(listing(gw, ws)["mist"]["fingerprint"], fp(k2), "the key stays")
    # Nothing to send at all is a usage error; so are both switches.
    eq(ctl(gw, ws, ["providers", "set", "mist"])[0], 2, "no key, no switch")
    eq(ctl(gw, ws, ["providers", "set", "mist", "--enable", "--disable"])[0], 2, "both")
    # A key is never taken from argv.
    eq(ctl(gw, ws, ["providers", "set", "mist", "--key", "sk-argv"])[0], 2, "--key refused")
    rc, out, err = ctl(gw, ws, ["providers", "set", "nope"], stdin=b"sk-nope\n")
    eq(rc, 1, "unknown provider is an API error")
    check("not_found" in err, "stderr %r" % err)
    rc, out, err = ctl(gw, ws, ["providers", "unset", "fakeai"])
    eq(rc, 0, "unset (stderr %r)" % err)
    eq(listing(gw, ws)["fakeai"]["source"], "server", "after unset")


@test
def store_holds_ciphertext_only(ctx):
    gw = gateway(ctx)
    ws, _ = new_ws(gw)
    k = secret("store")
    eq(put(gw, ws, "fakeai", {"api_key": k}).status, 200, "PUT")
    db = sqlite3.connect("file:%s/hiway.db?mode=ro" % gw.dir, uri=True)
    try:
        rows = db.execute("SELECT ciphertext, fingerprint, enabled FROM provider_keys "
                          "WHERE workspace_id = ? AND provider = 'fakeai'", (ws,)).fetchall()
        eq(len(rows), 1, "one row")
        box, fingerprint, enabled = rows[0]
        eq(len(box), len(k) + 29, "version + nonce + ciphertext + tag")
        eq(box[0], 1, "version byte")
        check(k.encode() not in bytes(box), "plaintext in the ciphertext column")
        eq((fingerprint, enabled), (fp(k), 1), "fingerprint and enabled columns")
    finally:
        db.close()
    # Neither the database nor its WAL holds the plaintext anywhere.
    for name in os.listdir(gw.dir):
        if name.startswith("hiway.db"):
            with open(os.path.join(gw.dir, name), "rb") as f:
                check(k.encode() not in f.read(), "plaintext in %s" % name)


@test
def restart_keeps_keys(ctx):
    gw = Gateway("byok-restart", byok_config())
    ctx.gateways.append(gw)
    gw.start()
    ws, _ = new_ws(gw)
    k = secret("restart")
    eq(put(gw, ws, "mist", {"api_key": k, "enabled": False}).status, 200, "PUT")
    eq(gw.stop(), 0, "clean stop")
    gw.relaunch()
    p = listing(gw, ws)["mist"]
    eq((p["source"], p["fingerprint"], p["enabled"]), ("workspace", fp(k), False),
       "after restart")
    r = gw.api("DELETE", "/workspaces/%s/providers/mist" % ws)
    eq(r.status, 204, "DELETE after restart")
    no_secret_in(gw.log(), "hiwayd log after restart")


@test
def keys_never_logged(ctx):
    for name in ("gw_byok", "gw_byok-nomaster"):
        gw = ctx.shared.get(name)
        if gw is None:
            continue
        for fn in os.listdir(gw.dir):
            if fn.startswith("hiwayd."):
                with open(os.path.join(gw.dir, fn), "rb") as f:
                    no_secret_in(f.read(), "%s/%s" % (gw.name, fn))
    check(len(SECRETS) >= 5, "the tests sent keys (%d)" % len(SECRETS))
