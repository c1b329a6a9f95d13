# SPDX-License-Identifier: Apache-2.0
"""The audit trail (SPEC §12.3, §16.2 security/verify and security/export, §17 audit and
security export): verify and export over the API and hiwayctl, tampering done the way an
attacker with the SQLite file would (drop the trigger, edit the row) and named by seq and
problem, offline verification of an export, and the retention purge row.

Rows come from the POST /api/v1/_test/audit hook until the Shield scanner writes them; the
hook exists only in builds with HIWAY_TEST_HOOKS (the ASan build) started with
--test-clock, so in a release build the tests that need rows are skipped, saying so."""
import csv
import hashlib
import io
import json
import os
import re
import sqlite3
import subprocess
import time

from harness import (ASAN, HIWAYCTL, SLOW, Gateway, base_config, check, clean_env, eq,
                     expect_error, note, test, uniq)

CSV_HEADER = ("seq,timestamp,workspace_id,kind,key_id,request_id,client_ip,threat_type,score,"
              "action,prompt_sha256,model,mode,detail,prev_hash,row_hash")
FIELDS = CSV_HEADER.split(",")
VERIFY_FIELDS = {"ok", "rows", "head_seq", "head_hash", "first_bad_seq", "problem"}
RE_TS_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ZERO = "0" * 64


def gateway(ctx, name="audit"):
    key = "gw_" + name
    if key not in ctx.shared or not ctx.shared[key].alive():
        gw = Gateway(name, lambda port, tmp: base_config(port, tmp),
                     args=["--test-clock"] if ASAN else [])
        ctx.gateways.append(gw)
        ctx.shared[key] = gw.start()
    return ctx.shared[key]


def hooks(gw, test_name):
    """True when the gateway has the audit test hook; else notes the skip."""
    r = gw.api("POST", "/_test/audit", {})
    if r.status == 404:
        note("skipped audit.%s: needs the HIWAY_TEST_HOOKS build (POST /api/v1/_test/audit)"
             % test_name)
        return False
    return True


def new_ws(gw):
    r = gw.api("POST", "/workspaces", {"name": uniq("audit"), "create_admin_key": True})
    check(r.status == 201, "creating a workspace: %r" % r)
    ak = r.json["admin_key"]
    return r.json["id"], ak["key"] if isinstance(ak, dict) else ak


def add(gw, ws, n=1, **over):
    out = []
    for i in range(n):
        ev = {"workspace_id": ws, "key_id": "kid_TEST", "request_id": uniq("req"),
              "client_ip": "127.0.0.1", "model": "auto", "threat_type": "prompt_injection",
              "score": 0.8, "action": "logged", "mode": "monitor",
              "prompt_sha256": hashlib.sha256(("p%d" % i).encode()).hexdigest()}
        ev.update(over)
        r = gw.api("POST", "/_test/audit", ev)
        eq(r.status, 201, "hook append (%r)" % r)
        out.append(r.json)
    return out


def verify(gw, ws, key=None, query=""):
    r = gw.api("GET", "/workspaces/%s/security/verify%s" % (ws, query), key=key)
    eq(r.status, 200, "verify (%r)" % r)
    eq(set(r.json), VERIFY_FIELDS, "verify fields")
    return r.json


def export(gw, ws, fmt="json", days=None):
    q = "?fmt=%s" % fmt + ("&days=%d" % days if days else "")
    return gw.api("GET", "/workspaces/%s/security/export%s" % (ws, q))


def ctl(gw, ws, args):
    env = clean_env()
    env["HIWAY_ADMIN_TOKEN"] = gw.token
    env["HIWAY_WORKSPACE"] = ws
    p = subprocess.run([HIWAYCTL, "--url", "http://127.0.0.1:%d" % gw.port] + args, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def tamper(gw, sql, args=()):
    """Edits the store file as an attacker would: triggers dropped first."""
    db = sqlite3.connect(os.path.join(gw.dir, "hiway.db"), timeout=10)
    try:
        db.execute("DROP TRIGGER IF EXISTS security_events_no_update")
        db.execute("DROP TRIGGER IF EXISTS security_events_no_delete")
        db.execute(sql, args)
        db.commit()
    finally:
        db.close()


@test
def api_shape(ctx):
    """Verify and export of an empty chain, parameters, both credentials, 404s; runs in every
    build."""
    gw = gateway(ctx)
    ws, ak = new_ws(gw)
    for key in (None, ak):
        v = verify(gw, ws, key=key)
        eq(v, {"ok": True, "rows": 0, "head_seq": 0, "head_hash": None, "first_bad_seq": None,
               "problem": None}, "empty chain verdict")
    r = export(gw, ws)
    eq(r.status, 200, "export json (%r)" % r)
    eq(set(r.json), {"workspace_id", "generated_at", "from", "to", "events"}, "export keys")
    eq((r.json["workspace_id"], r.json["events"]), (ws, []), "empty export")
    check(RE_TS_MS.match(r.json["generated_at"]), "generated_at %r" % r.json["generated_at"])
    r = export(gw, ws, "csv", 7)
    eq(r.status, 200, "export csv (%r)" % r)
    check((r.header("Content-Type") or "").startswith("text/csv"), "csv content type")
    check((r.header("Content-Disposition") or "").startswith("attachment"),
          "Content-Disposition %r" % r.header("Content-Disposition"))
    eq(r.body.decode(), CSV_HEADER + "\r\n", "empty CSV is the header line")
    for q, param in (("?days=0", "days"), ("?days=3651", "days"), ("?days=x", "days"),
                     ("?fmt=xml", "fmt")):
        r = gw.api("GET", "/workspaces/%s/security/export%s" % (ws, q))
        expect_error(r, 400, "invalid_request", "invalid_request_error", param=param)
    r = gw.api("GET", "/workspaces/%s/security/verify?expect_head=nope" % ws)
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="expect_head")
    r = gw.api("GET", "/workspaces/01JAX3Q5ZP7K8M9N0R1S2T3V4W/security/verify")
    expect_error(r, 404, "not_found", "not_found_error")
    other, _ = new_ws(gw)
    r = gw.api("GET", "/workspaces/%s/security/export" % other, key=ak)
    expect_error(r, 404, "not_found", "not_found_error")
    r = gw.api("POST", "/workspaces/%s/security/verify" % ws)
    expect_error(r, 405, "method_not_allowed", "invalid_request_error")
    if not ASAN:
        r = gw.api("POST", "/_test/audit", {"workspace_id": ws, "score": 0.9})
        expect_error(r, 404, "not_found", "not_found_error")
    if os.access(HIWAYCTL, os.X_OK):
        rc, out, err = ctl(gw, ws, ["audit", "head"])
        eq((rc, out), (0, "%s 0:-\n" % ws), "audit head of an empty chain (%r)" % err)
        rc, out, err = ctl(gw, ws, ["audit", "verify"])
        eq(rc, 0, "audit verify of an empty chain (%r)" % err)
        rc, _, err = ctl(gw, ws, ["audit", "verify", "--expect-head", "x"])
        eq(rc, 2, "bad --expect-head is a usage error (%r)" % err)
        rc, _, err = ctl(gw, ws, ["security", "export", "--fmt", "xml"])
        eq(rc, 2, "bad --fmt is a usage error (%r)" % err)


@test
def chain_verify_and_modify(ctx):
    gw = gateway(ctx)
    if not hooks(gw, "chain_verify_and_modify"):
        return
    ws, ak = new_ws(gw)
    rows = add(gw, ws, 6)
    eq([r["seq"] for r in rows], [1, 2, 3, 4, 5, 6], "seq 1..6")
    v = verify(gw, ws, key=ak)
    eq((v["ok"], v["rows"], v["head_seq"], v["head_hash"]), (True, 6, 6, rows[5]["row_hash"]),
       "verify ok")
    rc, out, err = ctl(gw, ws, ["audit", "head"])
    eq((rc, out), (0, "%s 6:%s\n" % (ws, rows[5]["row_hash"])), "audit head (%r)" % err)
    rc, out, err = ctl(gw, ws, ["audit", "verify", "--expect-head", "6:" + rows[5]["row_hash"]])
    eq(rc, 0, "audit verify with the right head (%r %r)" % (out, err))
    # The store itself refuses an UPDATE while its triggers stand.
    db = sqlite3.connect(os.path.join(gw.dir, "hiway.db"), timeout=10)
    try:
        db.execute("UPDATE security_events SET score = '0.10' WHERE workspace_id = ?", (ws,))
        refused = False
    except sqlite3.DatabaseError:
        refused = True
    db.close()
    check(refused, "UPDATE refused by the trigger")
    tamper(gw, "UPDATE security_events SET score = '0.10' WHERE workspace_id = ? AND seq = 3",
           (ws,))
    v = verify(gw, ws)
    eq((v["ok"], v["first_bad_seq"], v["problem"]), (False, 3, "modified"), "verify names seq 3")
    rc, out, err = ctl(gw, ws, ["audit", "verify"])
    eq(rc, 1, "hiwayctl audit verify exit status on tampering (%r)" % out)
    check("seq 3" in err and "modified" in err, "hiwayctl names the seq: %r" % err)


@test
def delete_and_rewrite(ctx):
    gw = gateway(ctx)
    if not hooks(gw, "delete_and_rewrite"):
        return
    ws, _ = new_ws(gw)
    rows = add(gw, ws, 5)
    tamper(gw, "DELETE FROM security_events WHERE workspace_id = ? AND seq = 4", (ws,))
    v = verify(gw, ws)
    eq((v["ok"], v["first_bad_seq"], v["problem"]), (False, 4, "missing"), "deleted row")
    rc, _, err = ctl(gw, ws, ["audit", "verify"])
    check(rc == 1 and "seq 4" in err and "missing" in err, "hiwayctl on a deletion: %r" % err)

    # A wholesale rewrite verifies by itself; only the head kept elsewhere catches it.
    ws2, _ = new_ws(gw)
    rows = add(gw, ws2, 3)
    head = "3:" + rows[2]["row_hash"]
    tamper(gw, "DELETE FROM security_events WHERE workspace_id = ?", (ws2,))
    add(gw, ws2, 3, model="rewritten")
    eq(verify(gw, ws2)["ok"], True, "a rewritten chain is self-consistent")
    v = verify(gw, ws2, query="?expect_head=" + head)
    eq((v["ok"], v["first_bad_seq"], v["problem"]), (False, 3, "modified"), "expect_head")
    rc, _, err = ctl(gw, ws2, ["audit", "verify", "--expect-head", head])
    check(rc == 1 and "seq 3" in err, "hiwayctl --expect-head: %r" % err)


@test
def export_formats_and_offline_verify(ctx):
    gw = gateway(ctx)
    if not hooks(gw, "export_formats_and_offline_verify"):
        return
    ws, _ = new_ws(gw)
    # A request id with a comma and a quote exercises RFC 4180 quoting.
    add(gw, ws, 3)
    add(gw, ws, 1, request_id='req_"odd",id', score=0.9, action="blocked", mode="block")
    r = export(gw, ws)
    ev = r.json["events"]
    eq(len(ev), 4, "4 events")
    eq(set(ev[0]), set(FIELDS), "event fields")
    eq((ev[0]["seq"], ev[0]["prev_hash"], ev[0]["kind"], ev[0]["detail"]),
       (1, ZERO, "threat", None), "first event")
    check(RE_TS_MS.match(ev[0]["timestamp"]), "timestamp with ms %r" % ev[0]["timestamp"])
    eq((ev[3]["score"], ev[3]["action"]), (0.9, "blocked"), "score and action")
    # Recompute the chain here, independently of hiway.
    prev = ZERO
    for e in ev:
        vals = ["1", str(e["seq"]), e["timestamp"]] + [
            "" if e[f] is None else ("%.2f" % e[f] if f == "score" else e[f])
            for f in FIELDS[2:14]]
        canon = "".join("%d:%s," % (len(x.encode()), x) for x in vals)
        eq(e["prev_hash"], prev, "prev_hash of %d" % e["seq"])
        eq(hashlib.sha256((prev + canon).encode()).hexdigest(), e["row_hash"],
           "row_hash of %d recomputed" % e["seq"])
        prev = e["row_hash"]
    r = export(gw, ws, "csv", 30)
    text = r.body.decode()
    eq(text.split("\r\n")[0], CSV_HEADER, "CSV header")
    recs = list(csv.reader(io.StringIO(text)))
    eq(len(recs), 5, "CSV records")
    eq(recs[4][5], 'req_"odd",id', "quoted field read back")
    eq(recs[4][15], ev[3]["row_hash"], "CSV row_hash")
    # Offline verification of both exports through hiwayctl, then of a doctored copy.
    for fmt in ("json", "csv"):
        rc, out, err = ctl(gw, ws, ["security", "export", "--fmt", fmt, "--days", "30"])
        eq(rc, 0, "security export %s (%r)" % (fmt, err))
        path = os.path.join(gw.dir, "export-%s.%s" % (ws, fmt))
        with open(path, "w") as f:
            f.write(out)
        rc, out2, err = ctl(gw, ws, ["audit", "verify", "--file", path])
        eq(rc, 0, "verify --file %s (%r %r)" % (fmt, out2, err))
        bad = out.replace("prompt_injection", "pii", 1) if fmt == "csv" else None
        if fmt == "json":
            doc = json.loads(out)
            doc["events"][1]["model"] = "edited"
            bad = json.dumps(doc)
        with open(path, "w") as f:
            f.write(bad)
        rc, _, err = ctl(gw, ws, ["audit", "verify", "--file", path])
        check(rc == 1 and "modified" in err, "doctored %s export: %r" % (fmt, err))


@test
def retention_purge_row(ctx):
    gw = Gateway("audit-purge", lambda port, tmp: base_config(port, tmp),
                 args=["--test-clock"] if ASAN else [])
    ctx.gateways.append(gw)
    gw.start()
    if not hooks(gw, "retention_purge_row"):
        return
    ws = gw.ws
    day_ms = 86400000
    old = add(gw, ws, 3, timestamp_ms=int(time.time() * 1000) - 2 * day_ms)
    add(gw, ws, 2)
    eq(verify(gw, ws)["rows"], 5, "rows before the purge")
    # Retention 90 days (default): nothing is old enough at this start. Now lower it.
    gw.stop()
    with open(gw.config_path, "a") as f:
        f.write("shield: {retention_days: 1}\n")
    gw.relaunch()
    deadline = time.monotonic() + 10 * SLOW
    while time.monotonic() < deadline and verify(gw, ws)["rows"] != 3:
        time.sleep(0.1)
    ev = export(gw, ws, "json", 3650).json["events"]
    eq([e["seq"] for e in ev], [4, 5, 6], "rows left after the purge")
    purge = ev[-1]
    eq(purge["kind"], "retention_purge", "purge row kind")
    eq(purge["detail"], "deleted_through_seq=3;deleted_count=3;anchor=%s" % old[2]["row_hash"],
       "purge detail")
    eq(ev[0]["prev_hash"], old[2]["row_hash"], "first row follows the anchor")
    v = verify(gw, ws)
    eq((v["ok"], v["head_seq"]), (True, 6), "verify after the purge")
    # The chain goes on after the purge row.
    add(gw, ws, 1)
    eq(verify(gw, ws)["ok"], True, "append after the purge")
    check("3 rows purged" in gw.log(), "purge logged")
