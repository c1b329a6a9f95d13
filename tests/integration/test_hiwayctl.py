# SPDX-License-Identifier: Apache-2.0
"""hiwayctl against a running hiwayd (SPEC §17): workspaces, keys, health, exit codes."""
import json
import re
import subprocess

from harness import (HIWAYCTL, SLOW, RE_KEY, check, chat_body, clean_env, eq, free_port, test,
                     uniq)


def ctl(gw, args, token=None, url=None, ws=None):
    env = clean_env()
    if token is not False:
        env["HIWAY_ADMIN_TOKEN"] = token or gw.token
    if ws:
        env["HIWAY_WORKSPACE"] = ws
    cmd = [HIWAYCTL, "--url", url or "http://127.0.0.1:%d" % gw.port] + args
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30 * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def ctl_json(gw, args, **kw):
    rc, out, err = ctl(gw, ["--json"] + args, **kw)
    eq(rc, 0, "hiwayctl %s exit (stderr %r)" % (" ".join(args), err[:300]))
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError("hiwayctl --json %s printed non-JSON: %r" % (" ".join(args), out[:300]))


def _list(obj):
    return obj.get("data", obj) if isinstance(obj, dict) else obj


@test
def health(ctx):
    rc, out, err = ctl(ctx.main, ["health"], token=False)
    eq(rc, 0, "exit (stderr %r)" % err[:200])
    check("ok" in out, "health output %r" % out[:300])
    h = ctl_json(ctx.main, ["health"], token=False)
    eq(h.get("status"), "ok", "status")


@test
def workspaces_create_list_get(ctx):
    gw = ctx.main
    name = uniq("ctl-ws")
    w = ctl_json(gw, ["workspaces", "create", name])
    check(isinstance(w, dict) and w.get("name") == name, "created %r" % w)
    ids = [x["id"] for x in _list(ctl_json(gw, ["workspaces", "list"]))]
    check(w["id"] in ids, "created workspace not listed")
    rc, out, _ = ctl(gw, ["workspaces", "list"])
    eq(rc, 0, "table list exit")
    check(name in out and w["id"] in out, "table output lacks the workspace")
    g = ctl_json(gw, ["workspaces", "get", w["id"]])
    eq(g.get("id"), w["id"], "get id")


@test
def workspaces_suspend_unsuspend(ctx):
    gw = ctx.main
    ws, admin_key = ctx.create_workspace()
    s = ctl_json(gw, ["workspaces", "suspend", ws["id"], "--reason", "ctl test"])
    eq(s.get("status"), "suspended", "status")
    r = gw.chat(chat_body(), key=admin_key)
    eq(r.status, 403, "inference on a workspace suspended by hiwayctl")
    eq(r.json["error"].get("reason"), "ctl test", "reason")
    u = ctl_json(gw, ["workspaces", "unsuspend", ws["id"]])
    eq(u.get("status"), "active", "status")
    eq(gw.chat(chat_body(), key=admin_key).status, 200, "after unsuspend")


@test
def keys_create_list_revoke(ctx):
    gw = ctx.main
    name = uniq("ctl-key")
    k = ctl_json(gw, ["--workspace", gw.ws, "keys", "create", name])
    plain = k.get("key")
    check(isinstance(plain, str) and RE_KEY.match(plain), "plaintext %r" % plain)
    eq(k.get("source"), "cli", "source")
    eq(gw.chat(chat_body(), key=plain).status, 200, "the cli key works")
    lst = _list(ctl_json(gw, ["keys", "list"], ws=gw.ws))
    check(k["id"] in [x["id"] for x in lst], "key not listed")
    check(plain not in json.dumps(lst), "plaintext in the list")
    rc, out, _ = ctl(gw, ["--workspace", gw.ws, "keys", "revoke", k["id"]])
    eq(rc, 0, "revoke exit")
    r = gw.chat(chat_body(), key=plain)
    eq(r.status, 401, "revoked via hiwayctl")
    rc, out, _ = ctl(gw, ["--workspace", gw.ws, "keys", "delete", k["id"]])
    eq(rc, 0, "delete exit")


@test
def keys_create_plaintext_in_table_output(ctx):
    gw = ctx.main
    rc, out, err = ctl(gw, ["--workspace", gw.ws, "keys", "create", uniq("ctl-key")])
    eq(rc, 0, "exit (stderr %r)" % err[:200])
    m = re.search(r"hw_live_[0-9a-f]{32}", out + err)
    check(m, "no plaintext printed: %r" % out[:300])
    eq(gw.chat(chat_body(), key=m.group(0)).status, 200, "printed key works")


@test
def keys_rotate(ctx):
    gw = ctx.main
    old_plain, old = ctx.create_key(name=uniq("ctl-rot"))
    rc, out, err = ctl(gw, ["--workspace", gw.ws, "keys", "rotate", old["id"]])
    eq(rc, 0, "exit (stderr %r)" % err[:200])
    m = re.search(r"hw_live_[0-9a-f]{32}", out)
    check(m and m.group(0) != old_plain, "new plaintext not printed: %r" % out[:300])
    eq(gw.chat(chat_body(), key=old_plain).status, 401, "old key after rotation")
    eq(gw.chat(chat_body(), key=m.group(0)).status, 200, "new key")


@test
def keys_set_suspend_and_unsuspend(ctx):
    gw = ctx.main
    plain, k = ctx.create_key()
    s = ctl_json(gw, ["--workspace", gw.ws, "keys", "set", k["id"], "--status", "suspended"])
    eq(s.get("status"), "suspended", "status")
    eq(gw.chat(chat_body(), key=plain).status, 403, "suspended key")
    u = ctl_json(gw, ["--workspace", gw.ws, "keys", "unsuspend", k["id"]])
    eq(u.get("status"), "active", "status")
    eq(gw.chat(chat_body(), key=plain).status, 200, "reactivated key")


@test
def exit_code_api_error(ctx):
    gw = ctx.main
    rc, out, err = ctl(gw, ["workspaces", "list"], token="hw_admin_" + "1" * 64)
    eq(rc, 1, "exit code on 401")
    check("invalid_api_key" in out + err, "error code not printed: %r" % (out + err)[:300])
    rc, out, err = ctl(gw, ["workspaces", "get", "01JAX3Q5ZP7K8M9N0R1S2T3V4W"])
    eq(rc, 1, "exit code on 404")
    check("not_found" in out + err, "error code not printed: %r" % (out + err)[:300])


@test
def exit_code_connection_error(ctx):
    rc, out, err = ctl(ctx.main, ["health"], url="http://127.0.0.1:%d" % free_port())
    eq(rc, 3, "exit code when the gateway is unreachable")


@test
def exit_code_usage_error(ctx):
    rc, _, _ = ctl(ctx.main, ["frobnicate"])
    eq(rc, 2, "unknown command")
    rc, _, _ = ctl(ctx.main, ["keys", "revoke"], ws=ctx.main.ws)
    eq(rc, 2, "missing KID")
