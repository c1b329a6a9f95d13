# SPDX-License-Identifier: Apache-2.0
"""Management API: workspaces and keys (SPEC §4, §16)."""
import re

from harness import (RE_KEY, RE_KID, RE_ULID, check, chat_body, eq, expect_error, test, uniq)

RE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _ws_path(ws):
    return "/workspaces/%s" % ws


@test
def workspace_create(ctx):
    gw = ctx.main
    name = uniq("team")
    r = gw.api("POST", "/workspaces", {"name": name, "routing_profile": "quality"})
    eq(r.status, 201, "status (%r)" % r)
    w = r.json
    check(RE_ULID.match(w.get("id", "")), "workspace id %r" % w.get("id"))
    eq(w.get("name"), name, "name")
    eq(w.get("status"), "active", "status")
    eq(w.get("routing_profile"), "quality", "routing_profile")
    check(RE_TIME.match(w.get("created_at", "")), "created_at %r" % w.get("created_at"))
    for f in ("suspended_reason", "plan", "default_model", "allowed_regions"):
        check(f in w, "workspace.%s missing" % f)
    check("admin_key" not in w, "admin_key without create_admin_key")
    r = gw.api("GET", _ws_path(w["id"]))
    eq(r.status, 200, "GET workspace")
    eq(r.json.get("name"), name, "GET name")


@test
def workspace_create_with_admin_key(ctx):
    gw = ctx.main
    r = gw.api("POST", "/workspaces", {"name": uniq("team"), "create_admin_key": True,
                                        "initial_credit_usd": 5})
    eq(r.status, 201, "status (%r)" % r)
    ak = r.json.get("admin_key")
    plain = ak.get("key") if isinstance(ak, dict) else ak
    check(isinstance(plain, str) and RE_KEY.match(plain), "admin_key plaintext %r" % ak)
    if isinstance(ak, dict):
        eq(ak.get("role"), "admin", "admin_key role")
    # the admin key manages its own workspace
    r2 = gw.api("GET", "/workspaces/%s/keys" % r.json["id"], key=plain)
    eq(r2.status, 200, "admin key lists its keys (%r)" % r2)
    eq(gw.chat(chat_body(), key=plain).status, 200, "admin key does inference")


@test
def workspace_unknown_field_400(ctx):
    r = ctx.main.api("POST", "/workspaces", {"name": uniq("x"), "bogus_field": 1})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="bogus_field")
    r = ctx.main.api("PATCH", _ws_path(ctx.main.ws), {"colour": "red"})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="colour")


@test
def workspace_invalid_values_400(ctx):
    gw = ctx.main
    r = gw.api("POST", "/workspaces", {"routing_profile": "budget"})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="name")
    r = gw.api("POST", "/workspaces", {"name": uniq(), "routing_profile": "cheapest"})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="routing_profile")
    r = gw.req("POST", "/api/v1/workspaces", body="{not json", key=gw.token,
               headers={"Content-Type": "application/json"})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param=None)


@test
def workspace_list_pagination(ctx):
    gw = ctx.main
    made = {ctx.create_workspace(admin_key=False)[0]["id"] for _ in range(3)}
    seen, cursor, pages = [], None, 0
    while True:
        q = "/workspaces?limit=2" + ("&cursor=" + cursor if cursor else "")
        r = gw.api("GET", q)
        eq(r.status, 200, "list page (%r)" % r)
        b = r.json
        check(isinstance(b.get("data"), list) and "next_cursor" in b, "list shape %r" % b)
        check(len(b["data"]) <= 2, "page larger than limit: %d" % len(b["data"]))
        seen += [w["id"] for w in b["data"]]
        pages += 1
        cursor = b["next_cursor"]
        if cursor is None:
            break
        check(pages < 100, "pagination does not end")
    eq(len(seen), len(set(seen)), "no duplicates across pages")
    check(made <= set(seen), "created workspaces missing from the list")
    check(gw.ws in seen, "bootstrap workspace missing")
    check(pages >= 2, "limit=2 with >= 4 workspaces gave one page")
    full = gw.api("GET", "/workspaces").json
    eq(sorted(w["id"] for w in full["data"]), sorted(seen), "default page == all pages")
    for bad in ("0", "501", "abc"):
        r = gw.api("GET", "/workspaces?limit=" + bad)
        expect_error(r, 400, "invalid_request", "invalid_request_error", param="limit")


@test
def workspace_patch(ctx):
    gw = ctx.main
    ws, _ = ctx.create_workspace(admin_key=False)
    new = uniq("renamed")
    r = gw.api("PATCH", _ws_path(ws["id"]), {"name": new, "routing_profile": "budget"})
    eq(r.status, 200, "PATCH (%r)" % r)
    eq(r.json.get("name"), new, "name")
    eq(r.json.get("routing_profile"), "budget", "routing_profile")
    eq(r.json.get("id"), ws["id"], "full object returned")
    eq(gw.api("GET", _ws_path(ws["id"])).json.get("name"), new, "persisted")


@test
def workspace_unknown_404(ctx):
    r = ctx.main.api("GET", "/workspaces/01JAX3Q5ZP7K8M9N0R1S2T3V4W")
    expect_error(r, 404, "not_found", "not_found_error")
    r = ctx.main.api("GET", "/workspaces/01JAX3Q5ZP7K8M9N0R1S2T3V4W/keys")
    expect_error(r, 404, "not_found", "not_found_error")


@test
def key_create_use_and_shape(ctx):
    gw = ctx.main
    name = uniq("svc")
    r = gw.api("POST", "/workspaces/%s/keys" % gw.ws, {"name": name, "rpm_limit": 1000})
    eq(r.status, 201, "status (%r)" % r)
    k = r.json
    plain = k.get("key")
    check(isinstance(plain, str) and RE_KEY.match(plain), "plaintext %r" % plain)
    check(RE_KID.match(k.get("id", "")), "id %r" % k.get("id"))
    eq(k.get("prefix"), plain[:12], "prefix")
    eq(k.get("name"), name, "name")
    eq(k.get("role"), "inference", "role default")
    eq(k.get("status"), "active", "status")
    eq(k.get("source"), "api", "source")
    eq(k.get("rpm_limit"), 1000, "rpm_limit")
    eq(k.get("workspace_id"), gw.ws, "workspace_id")
    for f in ("shield_mode", "created_at", "last_used_at", "revoked_at", "suspended_reason"):
        check(f in k, "key.%s missing" % f)
    for f in ("hash", "key_hash", "sha256"):
        check(f not in k, "key.%s exposed" % f)
    r = gw.chat(chat_body(), key=plain)
    eq(r.status, 200, "new key works (%r)" % r)
    # GET never shows the plaintext
    r = gw.api("GET", "/workspaces/%s/keys/%s" % (gw.ws, k["id"]))
    eq(r.status, 200, "GET key")
    check(plain not in r.body.decode(), "plaintext in GET")
    check("key" not in r.json, "GET key has a 'key' field")
    eq(r.json.get("id"), k["id"], "GET id")


@test
def key_list_no_secrets(ctx):
    gw = ctx.main
    plains = [ctx.create_key()[0] for _ in range(3)]
    r = gw.api("GET", "/workspaces/%s/keys" % gw.ws)
    eq(r.status, 200, "list (%r)" % r)
    body = r.body.decode()
    for p in plains:
        check(p not in body, "plaintext key in the list")
        check(p[:12] in body, "prefix of a created key missing from the list")
    for k in r.json["data"]:
        for f in ("key", "hash", "key_hash"):
            check(f not in k, "listed key has %r" % f)
    check("next_cursor" in r.json, "next_cursor missing")
    # pagination
    ids, cursor = [], None
    for _ in range(200):
        q = "/workspaces/%s/keys?limit=1" % gw.ws + ("&cursor=" + cursor if cursor else "")
        b = gw.api("GET", q).json
        check(len(b["data"]) <= 1, "page larger than limit")
        ids += [k["id"] for k in b["data"]]
        cursor = b["next_cursor"]
        if not cursor:
            break
    eq(sorted(ids), sorted(k["id"] for k in r.json["data"]), "paged keys == listed keys")


@test
def key_patch(ctx):
    gw = ctx.main
    _, k = ctx.create_key()
    new = uniq("renamed-key")
    r = gw.api("PATCH", "/workspaces/%s/keys/%s" % (gw.ws, k["id"]),
               {"name": new, "rpm_limit": None, "shield_mode": "block"})
    eq(r.status, 200, "PATCH (%r)" % r)
    eq(r.json.get("name"), new, "name")
    eq(r.json.get("rpm_limit"), None, "rpm_limit null")
    eq(r.json.get("shield_mode"), "block", "shield_mode")
    eq(r.json.get("id"), k["id"], "full object")
    r = gw.api("PATCH", "/workspaces/%s/keys/%s" % (gw.ws, k["id"]), {"status": "revoked"})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="status")
    r = gw.api("PATCH", "/workspaces/%s/keys/%s" % (gw.ws, k["id"]), {"rpm_limit": 0})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="rpm_limit")


@test
def key_unknown_field_and_bad_values(ctx):
    gw = ctx.main
    r = gw.api("POST", "/workspaces/%s/keys" % gw.ws, {"name": uniq(), "colour": "blue"})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="colour")
    r = gw.api("POST", "/workspaces/%s/keys" % gw.ws, {"name": ""})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="name")
    r = gw.api("POST", "/workspaces/%s/keys" % gw.ws, {"name": "x" * 101})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="name")
    r = gw.api("POST", "/workspaces/%s/keys" % gw.ws, {"name": uniq(), "role": "root"})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="role")
    r = gw.api("POST", "/workspaces/%s/keys" % gw.ws, {})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="name")


@test
def key_duplicate_name_409(ctx):
    gw = ctx.main
    name = uniq("dup")
    ctx.create_key(name=name)
    r = gw.api("POST", "/workspaces/%s/keys" % gw.ws, {"name": name})
    expect_error(r, 409, "conflict", "invalid_request_error")
    _, other = ctx.create_key()
    r = gw.api("PATCH", "/workspaces/%s/keys/%s" % (gw.ws, other["id"]), {"name": name})
    expect_error(r, 409, "conflict", "invalid_request_error")


@test
def key_revoke(ctx):
    gw = ctx.main
    plain, k = ctx.create_key()
    r = gw.api("POST", "/workspaces/%s/keys/%s/revoke" % (gw.ws, k["id"]))
    eq(r.status, 200, "revoke (%r)" % r)
    eq(r.json.get("status"), "revoked", "status")
    check(RE_TIME.match(r.json.get("revoked_at") or ""), "revoked_at %r" % r.json.get("revoked_at"))
    expect_error(gw.chat(chat_body(), key=plain), 401, "invalid_api_key",
                 "authentication_error", "API key revoked.")
    lst = gw.api("GET", "/workspaces/%s/keys?status=revoked" % gw.ws).json["data"]
    check(k["id"] in [x["id"] for x in lst], "revoked key not listed with ?status=revoked")
    check(all(x["status"] == "revoked" for x in lst), "?status=revoked lists other statuses")
    act = gw.api("GET", "/workspaces/%s/keys?status=active" % gw.ws).json["data"]
    check(k["id"] not in [x["id"] for x in act], "revoked key listed as active")
    # a revoked key cannot be reactivated
    r = gw.api("PATCH", "/workspaces/%s/keys/%s" % (gw.ws, k["id"]), {"status": "active"})
    check(r.status in (400, 409), "reactivating a revoked key: %r" % r)
    expect_error(gw.chat(chat_body(), key=plain), 401, "invalid_api_key")


@test
def key_rotate(ctx):
    gw = ctx.main
    name = uniq("rot")
    old_plain, old = ctx.create_key(name=name, rpm_limit=321, role="admin")
    eq(gw.chat(chat_body(), key=old_plain).status, 200, "old key before rotation")
    r = gw.api("POST", "/workspaces/%s/keys/%s/rotate" % (gw.ws, old["id"]))
    eq(r.status, 201, "rotate (%r)" % r)
    new = r.json
    new_plain = new.get("key")
    check(isinstance(new_plain, str) and RE_KEY.match(new_plain), "new plaintext %r" % new_plain)
    check(new.get("id") != old["id"], "rotation kept the id")
    eq(new.get("name"), name + " (rotated)", "name")
    eq(new.get("role"), "admin", "role kept")
    eq(new.get("rpm_limit"), 321, "rpm_limit kept")
    expect_error(gw.chat(chat_body(), key=old_plain), 401, "invalid_api_key",
                 "authentication_error", "API key revoked.")
    eq(gw.chat(chat_body(), key=new_plain).status, 200, "new key works")
    r = gw.api("GET", "/workspaces/%s/keys/%s" % (gw.ws, old["id"]))
    eq(r.json.get("status"), "revoked", "old key status")
    r = gw.api("POST", "/workspaces/%s/keys/%s/rotate" % (gw.ws, old["id"]))
    check(r.status in (400, 404, 409), "rotating a revoked key: %r" % r)


@test
def key_delete(ctx):
    gw = ctx.main
    _, k = ctx.create_key()
    path = "/workspaces/%s/keys/%s" % (gw.ws, k["id"])
    expect_error(gw.api("DELETE", path), 409, "conflict", "invalid_request_error")
    eq(gw.api("GET", path).status, 200, "still there after 409")
    eq(gw.api("POST", path + "/revoke").status, 200, "revoke")
    r = gw.api("DELETE", path)
    eq(r.status, 204, "delete revoked (%r)" % r)
    eq(r.body, b"", "204 body")
    check(r.header("X-Request-Id"), "X-Request-Id on 204")
    expect_error(gw.api("GET", path), 404, "not_found", "not_found_error")
    expect_error(gw.api("DELETE", path), 404, "not_found", "not_found_error")


@test
def key_unknown_404(ctx):
    gw = ctx.main
    path = "/workspaces/%s/keys/kid_01JAX3Q5ZP7K8M9N0R1S2T3V4W" % gw.ws
    for m in ("GET", "DELETE"):
        expect_error(gw.api(m, path), 404, "not_found", "not_found_error")
    expect_error(gw.api("POST", path + "/revoke"), 404, "not_found", "not_found_error")


@test
def admin_key_cross_workspace_404(ctx):
    gw = ctx.main
    a, a_key = ctx.create_workspace()
    b, b_key = ctx.create_workspace()
    eq(gw.api("GET", "/workspaces/%s/keys" % a["id"], key=a_key).status, 200, "own workspace")
    eq(gw.api("GET", "/workspaces/%s" % a["id"], key=a_key).status, 200, "own workspace GET")
    for method, path, body in (("GET", "/workspaces/%s/keys" % b["id"], None),
                               ("GET", "/workspaces/%s" % b["id"], None),
                               ("POST", "/workspaces/%s/keys" % b["id"], {"name": uniq()}),
                               ("PATCH", "/workspaces/%s" % b["id"], {"name": uniq()})):
        r = gw.api(method, path, body, key=a_key)
        expect_error(r, 404, "not_found", "not_found_error")
    # one of B's keys through A's path: 404 too
    _, bk = ctx.create_key(ws=b["id"])
    r = gw.api("GET", "/workspaces/%s/keys/%s" % (a["id"], bk["id"]), key=a_key)
    expect_error(r, 404, "not_found", "not_found_error")
    r = gw.api("GET", "/workspaces/%s/keys/%s" % (a["id"], bk["id"]))
    expect_error(r, 404, "not_found", "not_found_error")


@test
def admin_key_server_only_routes_403(ctx):
    gw = ctx.main
    a, a_key = ctx.create_workspace()
    expect_error(gw.api("GET", "/workspaces", key=a_key), 403, "forbidden", "permission_error")
    expect_error(gw.api("POST", "/workspaces", {"name": uniq()}, key=a_key), 403, "forbidden",
                 "permission_error")
    expect_error(gw.api("POST", "/workspaces/%s/suspend" % a["id"], {}, key=a_key), 403,
                 "forbidden", "permission_error")


@test
def admin_key_creates_keys_in_own_workspace(ctx):
    gw = ctx.main
    a, a_key = ctx.create_workspace()
    r = gw.api("POST", "/workspaces/%s/keys" % a["id"], {"name": uniq()}, key=a_key)
    eq(r.status, 201, "create (%r)" % r)
    eq(r.json.get("workspace_id"), a["id"], "workspace_id")
    eq(gw.chat(chat_body(), key=r.json["key"]).status, 200, "its key works")
