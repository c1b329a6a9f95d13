# SPDX-License-Identifier: Apache-2.0
"""Webhooks (SPEC §15, §16.2 webhooks rows, §16.3 Webhook, §17): the management API, signed
deliveries to a local receiver, retries with the same delivery id, at-least-once delivery
across a kill -9, filters, the self-URL refusal, the write-only secret, hiwayctl."""
import hashlib
import hmac
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import (HIWAYCTL, SLOW, Gateway, base_config, check, clean_env, eq, expect_error,
                     free_port, test, uniq)

MASTER = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
FIELDS = {"id", "name", "url", "events", "security_actions", "created_at", "secret_set"}
RE_SECRET = re.compile(r"^whsec_[0-9a-f]{32}$")


class Receiver:
    """A webhook endpoint on 127.0.0.1: checks each signature with the secret it is told,
    answers 500 to the first `fail_first` attempts of every delivery id, then 200."""

    def __init__(self, port=None, fail_first=0):
        self.port = port or free_port()
        self.fail_first = fail_first
        self.secrets = {}  # path -> secret
        self.attempts = []  # (path, headers dict, body bytes, status answered)
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                secret = rec.secrets.get(self.path, "")
                want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(want, self.headers.get("X-HiWay-Signature", ""))
                with rec.lock:
                    dlv = self.headers.get("X-HiWay-Delivery")
                    seen = sum(1 for a in rec.attempts if a[1].get("X-HiWay-Delivery") == dlv)
                    status = 500 if seen < rec.fail_first or not ok else 200
                    rec.attempts.append((self.path, dict(self.headers), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def delivered(self, path):
        """Delivery ids answered 200 (signature good, past the failures) for `path`."""
        with self.lock:
            out = {}
            for p, h, body, status in self.attempts:
                if p == path and status == 200:
                    out.setdefault(h.get("X-HiWay-Delivery"), []).append((h, body))
            return out


def hooks_config(port, tmp):
    return (base_config(port, tmp)
            + "secrets: {master_key: \"%s\"}\n" % MASTER
            + "webhooks: {workers: 2, timeout_s: 2, retry_schedule_s: [1, 1, 1]}\n")


def gateway(ctx):
    if "gw_hooks" not in ctx.shared or not ctx.shared["gw_hooks"].alive():
        gw = Gateway("hooks", hooks_config)
        ctx.gateways.append(gw)
        ctx.shared["gw_hooks"] = gw.start()
    return ctx.shared["gw_hooks"]


def new_ws(gw):
    r = gw.api("POST", "/workspaces", {"name": uniq("hooks")})
    eq(r.status, 201, "creating a workspace (%r)" % r)
    return r.json["id"]


def add_hook(gw, ws, url, **fields):
    body = {"name": uniq("wh"), "url": url}
    body.update(fields)
    r = gw.api("POST", "/workspaces/%s/webhooks" % ws, body)
    eq(r.status, 201, "POST webhooks (%r)" % r)
    return r.json


def new_key(gw, ws):
    r = gw.api("POST", "/workspaces/%s/keys" % ws, {"name": uniq("k")})
    eq(r.status, 201, "POST keys (%r)" % r)
    return r.json["id"]


def wait_for(fn, what, timeout=15):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    check(False, "timed out waiting for " + what)


@test
def crud_and_write_only_secret(ctx):
    gw = gateway(ctx)
    ws = new_ws(gw)
    h = add_hook(gw, ws, "https://example.invalid/hook")
    check(RE_SECRET.match(h.get("secret", "")), "generated secret %r" % h.get("secret"))
    eq(set(h) - {"secret"}, FIELDS, "webhook fields")
    eq((h["events"], h["security_actions"], h["secret_set"]), (None, ["blocked", "logged"], True),
       "defaults")
    check(h["id"].startswith("wh_"), "id %r" % h["id"])
    given = add_hook(gw, ws, "http://example.invalid/2", secret="s3cret-given",
                     events=["key.rotated"])
    check("secret" not in given, "a given secret is not answered back")
    r = gw.api("GET", "/workspaces/%s/webhooks" % ws)
    eq(r.status, 200, "GET webhooks")
    eq(sorted(x["id"] for x in r.json["data"]), sorted([h["id"], given["id"]]), "listing")
    check(h["secret"].encode() not in r.body and b"s3cret-given" not in r.body,
          "listing holds no secret")
    r = gw.api("PATCH", "/workspaces/%s/webhooks/%s" % (ws, h["id"]),
               {"events": [], "secret": "rotated-secret"})
    eq((r.status, r.json.get("events")), (200, []), "PATCH (%r)" % r)
    check(b"rotated-secret" not in r.body and "secret" not in r.json, "PATCH holds no secret")
    r = gw.api("PATCH", "/workspaces/%s/webhooks/%s" % (ws, h["id"]), {"colour": "red"})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="colour")
    r = gw.api("DELETE", "/workspaces/%s/webhooks/%s" % (ws, h["id"]))
    eq(r.status, 204, "DELETE")
    r = gw.api("DELETE", "/workspaces/%s/webhooks/%s" % (ws, h["id"]))
    eq(r.status, 404, "DELETE again")
    for secret in ("rotated-secret", "s3cret-given", h["secret"]):
        check(secret not in gw.log(), "secret in the log")


@test
def invalid_bodies(ctx):
    gw = gateway(ctx)
    ws = new_ws(gw)
    path = "/workspaces/%s/webhooks" % ws
    for body, param in (({"name": "x", "url": "ftp://example.invalid/"}, "url"),
                        ({"name": "x"}, "url"),
                        ({"url": "http://example.invalid/"}, "name"),
                        ({"name": "x", "url": "http://example.invalid/", "events": ["nope"]},
                         "events"),
                        ({"name": "x", "url": "http://example.invalid/",
                          "security_actions": ["maybe"]}, "security_actions"),
                        ({"name": "x", "url": "http://example.invalid/", "secret": ""}, "secret"),
                        ({"name": "x", "url": "http://example.invalid/", "extra": 1}, "extra")):
        expect_error(gw.api("POST", path, body), 400, "invalid_request", "invalid_request_error",
                     param=param)


@test
def self_url_refused(ctx):
    gw = gateway(ctx)
    ws = new_ws(gw)
    path = "/workspaces/%s/webhooks" % ws
    for host in ("127.0.0.1", "localhost", "0.0.0.0"):
        r = gw.api("POST", path, {"name": "loop", "url": "http://%s:%d/x" % (host, gw.port)})
        expect_error(r, 400, "invalid_request", "invalid_request_error", param="url")
    # Another port on the same host is somebody else.
    add_hook(gw, ws, "http://127.0.0.1:%d/x" % free_port())


@test
def no_master_key_400(ctx):
    gw = Gateway("hooks-nomaster", lambda p, t: base_config(p, t))
    ctx.gateways.append(gw)
    gw.start()
    r = gw.api("POST", "/workspaces/%s/webhooks" % gw.ws,
               {"name": "x", "url": "http://example.invalid/"})
    expect_error(r, 400, "invalid_request", "invalid_request_error", param="secret")


@test
def signed_delivery_after_retries(ctx):
    gw = gateway(ctx)
    rec = Receiver(fail_first=2).start()
    try:
        ws = new_ws(gw)
        h = add_hook(gw, ws, rec.url("/retry"))
        rec.secrets["/retry"] = h["secret"]
        kid = new_key(gw, ws)
        r = gw.api("POST", "/workspaces/%s/keys/%s/rotate" % (ws, kid))
        eq(r.status, 201, "rotate (%r)" % r)
        new_id = r.json["id"]
        got = wait_for(lambda: rec.delivered("/retry"), "the delivery")
        eq(len(got), 1, "one delivery id")
        dlv, attempts = next(iter(got.items()))
        check(dlv.startswith("dlv_"), "delivery id %r" % dlv)
        with rec.lock:
            all_attempts = [a for a in rec.attempts if a[0] == "/retry"]
        eq(len(all_attempts), 3, "two failures then a success")
        check(all(a[1].get("X-HiWay-Delivery") == dlv for a in all_attempts),
              "same X-HiWay-Delivery on every attempt")
        headers, body = attempts[0]
        eq(headers.get("X-HiWay-Event"), "key.rotated", "X-HiWay-Event")
        eq(headers.get("User-Agent"), "hiway-webhooks/1", "User-Agent")
        eq(headers.get("Content-Type"), "application/json", "Content-Type")
        check(abs(int(headers.get("X-HiWay-Timestamp")) - time.time()) < 60, "timestamp")
        ev = json.loads(body)
        eq(list(ev), ["id", "event", "workspace_id", "timestamp", "data"], "body keys")
        check(ev["id"].startswith("evt_"), "event id")
        eq((ev["event"], ev["workspace_id"]), ("key.rotated", ws), "event and workspace")
        eq((ev["data"]["key_id"], ev["data"]["action"], ev["data"]["new_key_id"]),
           (kid, "rotated", new_id), "data")
        m = gw.get("/metrics").body.decode()
        check('hiway_webhook_deliveries_total{outcome="success"}' in m, "metric")
        check("hiway_webhook_outbox_pending" in m, "gauge")
    finally:
        rec.stop()


@test
def filters(ctx):
    gw = gateway(ctx)
    rec = Receiver().start()
    try:
        ws = new_ws(gw)
        paused = add_hook(gw, ws, rec.url("/paused"), events=[])
        other = add_hook(gw, ws, rec.url("/other"), events=["budget.alert"])
        listed = add_hook(gw, ws, rec.url("/listed"), events=["key.rotated"])
        for p, h in (("/paused", paused), ("/other", other), ("/listed", listed)):
            rec.secrets[p] = h["secret"]
        kid = new_key(gw, ws)
        eq(gw.api("POST", "/workspaces/%s/keys/%s/revoke" % (ws, kid)).status, 200, "revoke")
        got = wait_for(lambda: rec.delivered("/listed"), "the listed delivery")
        ev = json.loads(next(iter(got.values()))[0][1])
        eq((ev["data"]["action"], "new_key_id" in ev["data"]), ("revoked", False), "revoke data")
        time.sleep(1.5)
        with rec.lock:
            eq([a[0] for a in rec.attempts if a[0] != "/listed"], [], "paused and other got none")
    finally:
        rec.stop()


@test
def at_least_once_across_kill(ctx):
    gw = Gateway("hooks-kill", hooks_config)
    ctx.gateways.append(gw)
    gw.start()
    rec = Receiver()
    ws = new_ws(gw)
    h = add_hook(gw, ws, rec.url("/kill"))
    rec.secrets["/kill"] = h["secret"]
    kids = [new_key(gw, ws) for _ in range(3)]
    for kid in kids:
        eq(gw.api("POST", "/workspaces/%s/keys/%s/revoke" % (ws, kid)).status, 200, "revoke")
    time.sleep(0.5)  # receiver down: attempts fail and stay pending
    gw.proc.send_signal(signal.SIGKILL)
    gw.proc.wait()
    gw.rc = 0  # killed on purpose
    db = sqlite3.connect(os.path.join(gw.dir, "hiway.db"))
    pending = db.execute("SELECT count(*) FROM outbox WHERE webhook_id = ? AND status = "
                         "'pending'", (h["id"],)).fetchone()[0]
    db.close()
    eq(pending, 3, "rows pending when hiwayd was killed")
    rec.start()
    try:
        gw.relaunch()
        got = wait_for(lambda: len(rec.delivered("/kill")) == 3 and rec.delivered("/kill"),
                       "three deliveries after the restart")
        keys = sorted(json.loads(v[0][1])["data"]["key_id"] for v in got.values())
        eq(keys, sorted(kids), "every event delivered")
    finally:
        rec.stop()


def ctl(gw, ws, args, stdin=b""):
    env = clean_env()
    env["HIWAY_ADMIN_TOKEN"] = gw.token
    env["HIWAY_WORKSPACE"] = ws
    p = subprocess.run([HIWAYCTL, "--url", "http://127.0.0.1:%d" % gw.port] + args, env=env,
                       input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30 * SLOW)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


@test
def hiwayctl_webhooks(ctx):
    gw = gateway(ctx)
    ws = new_ws(gw)
    rc, out, err = ctl(gw, ws, ["--json", "webhooks", "add", "ctl-hook",
                                "http://example.invalid/ctl", "--events", "key.rotated"],
                       stdin=b"ctl-secret-123\n")
    eq(rc, 0, "webhooks add (%s)" % err)
    h = json.loads(out)
    eq((h["name"], h["events"], "secret" in h), ("ctl-hook", ["key.rotated"], False), "added")
    rc, out, err = ctl(gw, ws, ["webhooks", "list"])
    eq(rc, 0, "webhooks list (%s)" % err)
    check(h["id"] in out and "ctl-secret-123" not in out, "listed without the secret")
    rc, out, err = ctl(gw, ws, ["webhooks", "rm", h["id"]])
    eq(rc, 0, "webhooks rm (%s)" % err)
    r = gw.api("GET", "/workspaces/%s/webhooks" % ws)
    eq(r.json["data"], [], "removed")
    rc, out, err = ctl(gw, ws, ["webhooks", "add", "x", "http://example.invalid/", "--secret",
                                "argv-secret"])
    eq(rc, 2, "a secret on argv is a usage error")
