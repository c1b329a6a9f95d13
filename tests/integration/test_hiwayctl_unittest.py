#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""hiwayctl against a real hiwayd (SPEC §17): exit codes, tables, --json, pagination, secrets.

Starts its own hiwayd on a free loopback port with a fresh SQLite store, reads the bootstrap
lines (§4.3) for the admin token and workspace, and stops the server by its PID. Binaries
come from $HIWAY_BUILD (default build/). Standalone: python3 tests/integration/test_hiwayctl.py
ends with "N passed, N failed"; the classes also load under unittest discovery.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("HIWAY_BUILD", "build"))
HIWAYD = os.path.join(BUILD, "hiwayd")
HIWAYCTL = os.path.join(BUILD, "hiwayctl")
LEGACY = "hwy_" + "Q7" * 23 + "x"  # 51 characters: hwy_ + 47 alphanumerics


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One hiwayd with bootstrap; `token`, `workspace` and `api_key` come from its stderr."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hiwayctl-test-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        cfg = os.path.join(self.dir, "hiway.yaml")
        with open(cfg, "w") as f:
            f.write('server: {listen: ["127.0.0.1:%d"]}\n' % self.port)
            f.write('store: "sqlite:%s/hiway.db"\n' % self.dir)
            f.write('admin: {token: ""}\n')
            f.write("logging: {level: warn, access_log: false}\n")
        self.err_path = os.path.join(self.dir, "stderr")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HIWAY_")}
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([HIWAYD, "--config", cfg], cwd=self.dir, env=env,
                                         stdout=subprocess.DEVNULL, stderr=err)
        self.token = self.workspace = self.api_key = None
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hiwayd exited %d:\n%s" % (self.proc.returncode, self.stderr()))
            self._read_bootstrap()
            if self.token and self._healthy():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("hiwayd did not start:\n" + self.stderr())

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def _read_bootstrap(self):
        text = self.stderr()
        m = re.search(r"bootstrap workspace (\S+) created", text)
        if m:
            self.workspace = m.group(1)
        m = re.search(r"admin token: (hw_admin_[0-9a-f]{64})", text)
        if m:
            self.token = m.group(1)
        m = re.search(r"API key: (hw_live_[0-9a-f]{32})", text)
        if m:
            self.api_key = m.group(1)

    def _healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Result:
    def __init__(self, cp):
        self.rc, self.out, self.err = cp.returncode, cp.stdout, cp.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "rc=%d\nstdout:\n%s\nstderr:\n%s" % (self.rc, self.out, self.err)


def ctl(*args, env=None, stdin=None, url=None, token=None, workspace=None):
    """Runs hiwayctl with HIWAY_* taken only from the keyword arguments."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("HIWAY_")}
    for name, value in (("HIWAY_URL", url), ("HIWAY_ADMIN_TOKEN", token),
                        ("HIWAY_WORKSPACE", workspace)):
        if value is not None:
            e[name] = value
    e.update(env or {})
    cp = subprocess.run([HIWAYCTL, *args], env=e, input=stdin, capture_output=True, text=True,
                        timeout=60)
    return Result(cp)


class Offline(unittest.TestCase):
    """What needs no server: usage errors (2) and an unreachable gateway (3)."""

    def test_help(self):
        r = ctl("--help")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("usage: hiwayctl", r.out)
        for group in ("workspaces", "keys", "health"):
            self.assertIn(group, r.out)
        r = ctl("keys", "--help")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("hiwayctl keys rotate KID", r.out)
        r = ctl("help", "workspaces")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("hiwayctl workspaces suspend", r.out)

    def test_usage_errors(self):
        cases = [
            (),
            ("bogus",),
            ("keys",),
            ("keys", "frob"),
            ("keys", "get"),
            ("keys", "get", "a", "b"),
            ("keys", "list", "--bogus"),
            ("keys", "list", "--limit", "0"),
            ("keys", "create", "x", "--role", "root"),
            ("keys", "create", "x", "--rpm", "-3"),
            ("keys", "set", "kid_x"),
            ("--json=yes", "health"),
            ("--url", "ftp://example", "health"),
        ]
        for args in cases:
            r = ctl(*args, workspace="W", url="http://127.0.0.1:1")
            self.assertEqual(r.rc, 2, "%s: %r" % (args, r))
            self.assertIn("usage:", r.err, args)

    def test_needs_workspace(self):
        for group in ("keys", "providers", "webhooks", "ip-rules"):
            r = ctl(group, "list", url="http://127.0.0.1:1")
            self.assertEqual(r.rc, 2, r)
            self.assertIn("no workspace", r.err)

    def test_every_spec_group_available(self):
        # SPEC §17's command groups: each one answers its help, none is "not available".
        for group in ("workspaces", "keys", "providers", "ip-rules", "bans", "security", "audit",
                      "budget", "plan", "wallet", "guardian", "webhooks", "usage", "perimeter",
                      "health"):
            r = ctl(group, "--help")
            self.assertEqual(r.rc, 0, "%s: %r" % (group, r))
            self.assertNotIn("not available", r.err + r.out, group)

    def test_connection_error(self):
        port = free_port()  # bound then released: nothing listens there
        for args in (("health",), ("workspaces", "list"), ("keys", "list", "--workspace", "W")):
            r = ctl(*args, url="http://127.0.0.1:%d" % port, token="t")
            self.assertEqual(r.rc, 3, r)
            self.assertIn("cannot reach", r.err)


class Live(unittest.TestCase):
    srv = None

    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        if cls.srv:
            cls.srv.stop()

    def ctl(self, *args, token=None, workspace=None, stdin=None):
        return ctl(*args, url=self.srv.url, token=token or self.srv.token,
                   workspace=workspace or self.srv.workspace, stdin=stdin)

    def ok(self, *args, **kw):
        r = self.ctl(*args, **kw)
        self.assertEqual(r.rc, 0, r)
        return r

    def models_status(self, key):
        req = urllib.request.Request(self.srv.url + "/v1/models",
                                     headers={"Authorization": "Bearer " + key})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def test_health(self):
        r = ctl("health", url=self.srv.url)  # no token
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.out, r"(?m)^status\s+ok$")
        self.assertRegex(r.out, r"(?m)^store\.status\s+ok$")
        doc = ctl("health", "--json", url=self.srv.url).json()
        self.assertEqual(doc["status"], "ok")

    def test_workspaces(self):
        r = self.ok("workspaces", "list")
        self.assertTrue(r.out.startswith("ID "), r)
        self.assertIn(self.srv.workspace, r.out)
        r = self.ok("workspaces", "get")
        self.assertRegex(r.out, r"(?m)^id\s+%s$" % self.srv.workspace)

        r = self.ok("workspaces", "create", "team-a", "--profile", "quality", "--plan", "build",
                    "--admin-key")
        self.assertIn("shown only once", r.out)
        key = re.search(r"hw_live_[0-9a-f]{32}", r.out).group(0)
        self.assertEqual(self.models_status(key), 200)
        ws = re.search(r"(?m)^id\s+(\S+)$", r.out).group(1)

        doc = self.ok("workspaces", "get", ws, "--json").json()
        self.assertEqual((doc["name"], doc["routing_profile"], doc["plan"]),
                         ("team-a", "quality", "build"))

        doc = self.ok("workspaces", "suspend", ws, "--reason", "unpaid", "--json").json()
        self.assertEqual((doc["status"], doc["suspended_reason"]), ("suspended", "unpaid"))
        self.assertEqual(self.models_status(key), 403)
        doc = self.ok("--workspace", ws, "workspaces", "unsuspend", "--json").json()
        self.assertEqual(doc["status"], "active")

        r = self.ctl("workspaces", "create", "team-a", "--profile", "cheap")
        self.assertEqual(r.rc, 2, r)

    def test_key_lifecycle(self):
        r = self.ok("keys", "create", "life", "--rpm", "120", "--shield", "block")
        plain = re.search(r"(?m)^    (hw_live_[0-9a-f]{32})$", r.out).group(1)
        kid = re.search(r"(?m)^id\s+(kid_\S+)$", r.out).group(1)
        self.assertRegex(r.out, r"(?m)^source\s+cli$")
        self.assertEqual(self.models_status(plain), 200)

        doc = self.ok("keys", "get", kid, "--json").json()
        self.assertNotIn("key", doc)
        self.assertEqual((doc["rpm_limit"], doc["shield_mode"]), (120, "block"))

        doc = self.ok("keys", "set", kid, "--name", "life2", "--rpm", "none", "--shield",
                      "inherit", "--json").json()
        self.assertEqual((doc["name"], doc["rpm_limit"], doc["shield_mode"]),
                         ("life2", None, None))
        doc = self.ok("keys", "set", kid, "--status", "suspended", "--json").json()
        self.assertEqual(doc["status"], "suspended")
        self.assertEqual(self.models_status(plain), 403)
        doc = self.ok("keys", "unsuspend", kid, "--json").json()
        self.assertEqual(doc["status"], "active")

        r = self.ctl("keys", "delete", kid)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: conflict: ", r.err)
        self.assertRegex(r.err, r"request id: req_[0-9A-Z]{26}")
        r = self.ctl("keys", "delete", kid, "--json")
        self.assertEqual(r.rc, 1, r)
        self.assertEqual(r.json()["error"]["code"], "conflict")

        r = self.ok("keys", "rotate", kid)
        new_plain = re.search(r"(?m)^    (hw_live_[0-9a-f]{32})$", r.out).group(1)
        new_kid = re.search(r"(?m)^id\s+(kid_\S+)$", r.out).group(1)
        self.assertRegex(r.out, r"(?m)^name\s+life2 \(rotated\)$")
        self.assertEqual(self.models_status(plain), 401)
        self.assertEqual(self.models_status(new_plain), 200)
        self.assertEqual(self.ok("keys", "get", kid, "--json").json()["status"], "revoked")

        doc = self.ok("keys", "revoke", new_kid, "--json").json()
        self.assertEqual(doc["status"], "revoked")
        r = self.ok("keys", "delete", new_kid)
        self.assertIn("deleted key " + new_kid, r.out)
        self.assertEqual(self.ctl("keys", "get", new_kid).rc, 1)

        revoked = self.ok("keys", "list", "--status", "revoked", "--json").json()["data"]
        self.assertIn(kid, [k["id"] for k in revoked])

    def test_pagination(self):
        for i in range(5):
            self.ok("keys", "create", "page-%d" % i)
        all_keys = self.ok("keys", "list", "--json").json()
        self.assertIsNone(all_keys["next_cursor"])
        ids = [k["id"] for k in all_keys["data"]]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertGreaterEqual(len(ids), 6)

        page = self.ok("keys", "list", "--limit", "2", "--json").json()
        self.assertEqual([k["id"] for k in page["data"]], ids[:2])
        self.assertTrue(page["next_cursor"])
        rest = self.ok("keys", "list", "--cursor", page["next_cursor"], "--json").json()
        self.assertEqual([k["id"] for k in rest["data"]], ids[2:len(rest["data"]) + 2])

        r = self.ok("keys", "list", "--limit", "2")
        self.assertEqual(len(r.out.strip().splitlines()), 3, r)
        self.assertIn("more: --cursor", r.err)
        table = self.ok("keys", "list").out.strip().splitlines()
        self.assertEqual(len(table), len(ids) + 1)
        # Aligned: every row starts its second column where the header's does.
        col = table[0].index("NAME")
        self.assertTrue(all(line[col - 2:col] == "  " and line[col] != " " for line in table))

    def test_legacy_import(self):
        path = os.path.join(self.srv.dir, "legacy.key")
        with open(path, "w") as f:
            f.write(LEGACY + "\n")
        doc = self.ok("keys", "create", "legacy-file", "--legacy-key-file", path,
                      "--json").json()
        self.assertEqual((doc["source"], doc["prefix"]), ("import", LEGACY[:12]))
        self.assertEqual(self.models_status(LEGACY), 200)
        other = "hwy_" + "Zk" * 23 + "9"
        r = self.ok("keys", "create", "legacy-stdin", "--legacy-key-stdin", stdin=other + "\n")
        self.assertNotIn(other, r.out)  # the caller's own secret is not echoed back
        self.assertRegex(r.out, r"(?m)^source\s+import$")
        r = self.ctl("keys", "create", "legacy-empty", "--legacy-key-stdin", stdin="")
        self.assertEqual(r.rc, 2, r)

    def test_api_errors(self):
        r = self.ctl("workspaces", "list", token="hw_admin_" + "0" * 64)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: invalid_api_key: ", r.err)
        r = ctl("workspaces", "list", url=self.srv.url)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("hint: pass --token", r.err)
        # An admin key manages its own workspace but not the server-only list (SPEC §4.2).
        r = self.ctl("workspaces", "list", token=self.srv.api_key)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: forbidden: ", r.err)
        self.ok("keys", "list", token=self.srv.api_key)
        r = self.ctl("keys", "get", "kid_01J00000000000000000000000")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("error: not_found: ", r.err)


if __name__ == "__main__":
    missing = [p for p in (HIWAYD, HIWAYCTL) if not os.access(p, os.X_OK)]
    if missing:
        print("missing %s (run make)" % ", ".join(missing), file=sys.stderr)
        print("0 passed, 1 failed")
        sys.exit(1)
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    res = unittest.TextTestRunner(verbosity=2).run(suite)
    bad = len(res.failures) + len(res.errors)
    print("%d passed, %d failed" % (res.testsRun - bad, bad))
    sys.exit(1 if bad else 0)
