# SPDX-License-Identifier: Apache-2.0
"""Kernel perimeter end to end (SPEC §13.2, §14): hiwayd and hiway-agent on this host, a
client and an attacker each in a network namespace of their own, reaching hiwayd through
veth pairs whose host ends carry the perimeter program. Rules and bans are written straight
into the store's tables (the gateway's API for them is built elsewhere), with
perimeter_generation bumped as the gateway does.

Every namespace, veth, pin directory and process is created here with a per-run unique name
and removed in a finally block; processes are stopped through their Popen handle only.
Traffic goes only to addresses inside the namespaces made here. Skips (with a note) when not
root or when BPF or network namespaces are unavailable."""
import json
import re
import os
import shutil
import signal
import sqlite3
import subprocess
import time

import harness
from harness import check, eq, test

AGENT = os.path.join(harness.BUILD, "hiway-agent")
_LAB_SEQ = [0]


def _run(*cmd, check_rc=True, timeout=20):
    p = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise harness.TestFailure("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                        p.stderr.decode(errors="replace")[-500:]))
    return p.stdout.decode(errors="replace")


def _skip_reason():
    if os.geteuid() != 0:
        return "not root"
    if not os.access(AGENT, os.X_OK):
        return "hiway-agent not built"
    for tool in ("ip", "bpftool"):
        if shutil.which(tool) is None:
            return tool + " not installed"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "kernel without BTF"
    return None


# A probe script run inside a namespace: TCP connects to addr:port, n times, reporting how many
# succeeded; `every` seconds between attempts.
PROBE = r"""
import socket, sys, time, json
addr, port, n, timeout, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
ok = fail = 0
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
for i in range(n):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((addr, port)); ok += 1
    except OSError:
        fail += 1
    finally:
        s.close()
    if every: time.sleep(every)
print(json.dumps({"ok": ok, "fail": fail}))
"""

# Bounded SYN flood from a raw socket: count SYNs from random source ports, at most `secs`.
SYNFLOOD = r"""
import socket, struct, sys, time, random
src, dst, port, count, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
sa, da = socket.inet_aton(src), socket.inet_aton(dst)
end = time.monotonic() + secs
sent = 0
while sent < count and time.monotonic() < end:
    sp = random.randint(20000, 60000)
    tcp = struct.pack("!HHIIBBHHH", sp, port, random.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
    tcp = tcp[:16] + struct.pack("!H", csum(sa + da + struct.pack("!BBH", 0, 6, 20) + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, sent & 0xffff, 0, 64, 6, 0, sa, da)
    s.sendto(ip + tcp, (dst, 0)); sent += 1
print(sent)
"""


class Lab:
    """Two namespaces (client, attacker), hiwayd on the host and the agent's config."""

    def __init__(self, perimeter_extra=""):
        _LAB_SEQ[0] += 1
        tag = "%04x%x" % ((os.getpid() * 7 + int(time.time())) & 0xffff, _LAB_SEQ[0] % 16)
        self.tag = tag
        self.octet = 20 + (os.getpid() + _LAB_SEQ[0] * 13 + int(time.time())) % 200
        self.ns_c, self.ns_a = "hwpc" + tag, "hwpa" + tag
        self.if_c, self.if_a = "hwpc" + tag, "hwpa" + tag  # host ends, same names as the ns
        self.host_c, self.peer_c = "10.201.%d.1" % self.octet, "10.201.%d.2" % self.octet
        self.host_a, self.peer_a = "10.202.%d.1" % self.octet, "10.202.%d.2" % self.octet
        self.host_a6, self.peer_a6 = "fd00:202:%x::1" % self.octet, "fd00:202:%x::2" % self.octet
        self.pin = "/sys/fs/bpf/hiway-it-" + tag
        self.perimeter_extra = perimeter_extra
        self.gw = None
        self.agent = None
        self.made = []  # namespaces and links to remove

    # ------------------------------------------------------------ setup and teardown
    def up(self, ctx):
        for ns, ifn, host, peer in ((self.ns_c, self.if_c, self.host_c, self.peer_c),
                                    (self.ns_a, self.if_a, self.host_a, self.peer_a)):
            _run("ip", "netns", "add", ns)
            self.made.append(("ns", ns))
            _run("ip", "link", "add", ifn, "type", "veth", "peer", "name", "eth0", "netns", ns)
            self.made.append(("link", ifn))
            _run("ip", "addr", "add", host + "/24", "dev", ifn)
            _run("ip", "link", "set", ifn, "up")
            _run("ip", "-n", ns, "addr", "add", peer + "/24", "dev", "eth0")
            _run("ip", "-n", ns, "link", "set", "eth0", "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        _run("ip", "addr", "add", self.host_a6 + "/64", "dev", self.if_a, "nodad")
        _run("ip", "-n", self.ns_a, "addr", "add", self.peer_a6 + "/64", "dev", "eth0", "nodad")

        def config(port, tmp):
            return ("server: {listen: [\"127.0.0.1:%d\", \"%s:%d\", \"%s:%d\", \"[%s]:%d\"], "
                    "client_timeout_s: 5, drain_timeout_s: 2}\n"
                    "store: \"sqlite:%s/hiway.db\"\n"
                    "logging: {level: info}\n"
                    "guardian: {enabled: false}\n"
                    "perimeter:\n  interfaces: [%s, %s]\n  pin_path: %s\n  poll_ms: 50\n%s"
                    % (port, self.host_c, port, self.host_a, port, self.host_a6, port, tmp,
                       self.if_c, self.if_a, self.pin, self.perimeter_extra))
        self.gw = harness.Gateway("perimeter", config)
        ctx.gateways.append(self.gw)
        self.gw.start()
        self.port = self.gw.port
        self.db_path = os.path.join(self.gw.dir, "hiway.db")
        return self

    def down(self):
        errs = []
        if self.agent is not None and self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(10)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
        if self.gw is not None:
            self.gw.config_path and os.path.exists(self.gw.config_path) and subprocess.run(
                [AGENT, "--config", self.gw.config_path, "--detach"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, timeout=20)
            self.gw.stop()
        for kind, name in reversed(self.made):
            if kind == "ns":
                r = subprocess.run(["ip", "netns", "del", name], stderr=subprocess.PIPE)
            else:
                r = subprocess.run(["ip", "link", "del", name], stderr=subprocess.PIPE)
                continue  # usually gone with its namespace peer already
            if r.returncode != 0:
                errs.append(r.stderr.decode(errors="replace"))
        if os.path.isdir(self.pin):
            shutil.rmtree(self.pin, ignore_errors=True)
        return errs

    # ------------------------------------------------------------ store
    def db(self):
        c = sqlite3.connect(self.db_path, timeout=10)
        c.execute("PRAGMA busy_timeout = 10000")
        return c

    def bump(self, c):
        c.execute("UPDATE settings SET value = CAST(value AS INTEGER) + 1 "
                  "WHERE name = 'perimeter_generation'")
        c.commit()
        return int(c.execute("SELECT value FROM settings WHERE name = 'perimeter_generation'")
                   .fetchone()[0])

    def add_rule(self, cidr, action="deny", workspace=None, kernel=1, rid=None):
        with self.db() as c:
            fam = 6 if ":" in cidr else 4
            c.execute("INSERT INTO ip_rules(id, workspace_id, cidr, family, action, comment, kernel,"
                      " expires_at, created_at) VALUES (?,?,?,?,?,?,?,NULL,?)",
                      (rid or "rule_" + harness.uniq("r"), workspace, cidr, fam, action, "it", kernel,
                       int(time.time())))
            return self.bump(c)

    def del_rule(self, cidr):
        with self.db() as c:
            c.execute("DELETE FROM ip_rules WHERE cidr = ?", (cidr,))
            return self.bump(c)

    def add_ban(self, cidr, ttl=600, reason="manual"):
        with self.db() as c:
            c.execute("INSERT INTO bans(id, cidr, family, reason, comment, created_at, expires_at)"
                      " VALUES (?,?,?,?,?,?,?)",
                      ("ban_" + harness.uniq("b"), cidr, 6 if ":" in cidr else 4, reason, "it",
                       int(time.time()), int(time.time()) + ttl))
            return self.bump(c)

    # ------------------------------------------------------------ agent and kernel state
    def start_agent(self, env=None):
        self.agent_log = os.path.join(self.gw.dir, "agent.stderr")
        self.agent = subprocess.Popen([AGENT, "--config", self.gw.config_path], cwd=self.gw.dir,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=open(self.agent_log, "ab"),
                                      env=dict(harness.clean_env(), **(env or {})))
        with self.db() as c:
            gen = int(c.execute("SELECT value FROM settings WHERE name = 'perimeter_generation'")
                      .fetchone()[0])
        self.wait_applied(gen)
        # Rules go into the maps before the program is attached: wait for both interfaces.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            t = self.agent_text()
            if all(("%s: attached" % i) in t or ("%s: program replaced" % i) in t
                   for i in (self.if_c, self.if_a)):
                return
            time.sleep(0.05)
        raise harness.TestFailure("agent did not attach:\n" + self.agent_text()[-1500:])

    def agent_text(self):
        try:
            with open(self.agent_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def bpftool_dump(self, name):
        """The map's entries with BTF-named fields (bpftool's "formatted" view)."""
        raw = json.loads(_run("bpftool", "-j", "map", "dump", "pinned", os.path.join(self.pin, name)))
        return [e.get("formatted", e) for e in raw]

    def wait_applied(self, gen, timeout=5.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.agent is not None and self.agent.poll() is not None:
                raise harness.TestFailure("agent exited %s:\n%s" % (self.agent.returncode,
                                                                    self.agent_text()[-1500:]))
            try:
                last = self.bpftool_dump("ruleset_ctl")[0]["value"]["version"]
                if last >= gen:
                    return
            except (harness.TestFailure, KeyError, IndexError, ValueError):
                pass
            time.sleep(0.05)
        raise harness.TestFailure("generation %d not applied within %.1fs (kernel has %s):\n%s"
                                  % (gen, timeout, last, self.agent_text()[-1500:]))

    def stats(self):
        out = {}
        names = ["pass", "pass_allowed", "drop_deny", "drop_ratelimit", "pass_unparsed"]
        for e in self.bpftool_dump("verdict_stats"):
            out[names[e["key"]]] = sum(v["value"]["packets"] for v in e["values"])
        return out

    # ------------------------------------------------------------ traffic from the namespaces
    def probe(self, ns, addr, n=1, timeout=1.0, every=0.0):
        out = _run("ip", "netns", "exec", ns, "python3", "-c", PROBE, addr, str(self.port), str(n),
                   str(timeout), str(every), timeout=30 + n * (timeout + every))
        return json.loads(out)

    def client_ok(self, n=3):
        r = self.probe(self.ns_c, self.host_c, n=n)
        check(r["ok"] == n, "client connects %s" % r)

    def attacker_blocked(self, addr=None, n=2):
        r = self.probe(self.ns_a, addr or self.host_a, n=n, timeout=0.5)
        check(r["ok"] == 0, "attacker connects despite the rule: %s" % r)

    def attacker_ok(self, addr=None, n=2):
        r = self.probe(self.ns_a, addr or self.host_a, n=n)
        check(r["ok"] == n, "attacker should connect: %s" % r)


# Under ASan (the second pass of scripts/test.sh) only these run: they cover the agent's whole
# lifecycle, and the kernel side is the same in both passes. Keeps the added CI time small.
ASAN_SET = ("deny_rule_drops_attacker_client_unaffected",
            "sigkill_leaves_rules_enforced_detach_leaves_nothing")


def _lab(ctx, fn, perimeter_extra="", name=None):
    why = _skip_reason()
    if why:
        harness.note("perimeter tests skipped: " + why)
        return
    if harness.ASAN and name not in ASAN_SET:
        return
    lab = Lab(perimeter_extra)
    try:
        lab.up(ctx)
        fn(lab)
        bad = [ln for ln in (lab.agent_text() if lab.agent is not None else "").splitlines()
               if any(mk in ln for mk in harness.SANITIZER_MARKERS)]
        check(not bad, "agent sanitizer reports: %s" % bad[:5])
    finally:
        errs = lab.down()
        check(not errs, "lab cleanup: %s" % errs)


@test
def deny_rule_drops_attacker_client_unaffected(ctx):
    def body(lab):
        lab.start_agent()
        check('"mode":"xdp-native"' in lab.agent_text().replace(" ", "") or "xdp-native" in
              lab.agent_text(), "veth attaches natively:\n" + lab.agent_text()[-800:])
        lab.client_ok()
        lab.attacker_ok()
        lab.wait_applied(lab.add_rule(lab.peer_a + "/32"))
        before = lab.stats()["drop_deny"]
        lab.attacker_blocked()
        lab.client_ok()
        check(lab.stats()["drop_deny"] > before, "drops counted: %s" % lab.stats())
        # Deleting the rule opens the door again within a poll or two.
        lab.wait_applied(lab.del_rule(lab.peer_a + "/32"))
        lab.attacker_ok()
        # SIGHUP reloads the file: perimeter settings change, and rule changes keep applying.
        with open(lab.gw.config_path, "a") as f:
            f.write("  deny_scope: all\n  syn_rate_per_s: 9\n")
        lab.agent.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            cfg = lab.bpftool_dump("perimeter_cfg")[0]["value"]
            if cfg["flags"] == 1 and cfg["syn_rate_per_s"] == 9:
                break
            time.sleep(0.05)
        check(cfg["flags"] == 1 and cfg["syn_rate_per_s"] == 9, "reloaded settings %s" % cfg)
        lab.wait_applied(lab.add_rule(lab.peer_a + "/32"))
        lab.attacker_blocked()
    _lab(ctx, body, name="deny_rule_drops_attacker_client_unaffected")


@test
def bans_v6_and_workspace_deny(ctx):
    def body(lab):
        lab.start_agent()
        lab.attacker_ok(addr=lab.host_a6)
        lab.wait_applied(lab.add_ban(lab.peer_a6 + "/128"))
        lab.attacker_blocked(addr=lab.host_a6)
        lab.attacker_ok()  # the v4 address of the same host is not banned
        # A workspace deny rule with kernel=1 enters the kernel; a workspace allow never does.
        lab.wait_applied(lab.add_rule(lab.peer_a + "/32", workspace="ws_it"))
        lab.attacker_blocked()
        lab.wait_applied(lab.add_rule(lab.peer_a + "/32", action="allow", workspace="ws_it"))
        lab.attacker_blocked()
        # A global allow beats the deny and the ban.
        lab.wait_applied(lab.add_rule("10.202.0.0/16", action="allow"))
        lab.attacker_ok()
        lab.wait_applied(lab.add_rule(lab.peer_a6 + "/128", action="allow"))
        lab.attacker_ok(addr=lab.host_a6)
    _lab(ctx, body)


@test
def syn_flood_dropped_and_counted(ctx):
    def body(lab):
        lab.start_agent()
        before = lab.stats()
        flood = subprocess.Popen(["ip", "netns", "exec", lab.ns_a, "python3", "-c", SYNFLOOD,
                                  lab.peer_a, lab.host_a, str(lab.port), "3000", "4"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            lab.client_ok(n=5)
            out, err = flood.communicate(timeout=30)
        finally:
            if flood.poll() is None:
                flood.kill()
                flood.wait()
        sent = int(out.decode().strip() or 0)
        check(sent >= 1000, "flood sent %d SYNs: %s" % (sent, err.decode()[-300:]))
        after = lab.stats()
        dropped = after["drop_ratelimit"] - before["drop_ratelimit"]
        # rate 5/s, burst 10: at most burst + rate * duration SYNs pass.
        check(dropped >= sent - 10 - 5 * 6, "%d of %d SYNs rate-limited" % (dropped, sent))
        lab.client_ok(n=3)
    _lab(ctx, body, "  syn_rate_per_s: 5\n  syn_burst: 10\n")


@test
def rule_swaps_open_no_window(ctx):
    def body(lab):
        lab.start_agent()
        lab.wait_applied(lab.add_rule(lab.peer_a + "/32"))
        probe_c = subprocess.Popen(["ip", "netns", "exec", lab.ns_c, "python3", "-c", PROBE,
                                    lab.host_c, str(lab.port), "60", "1.0", "0.03"],
                                   stdout=subprocess.PIPE)
        probe_a = subprocess.Popen(["ip", "netns", "exec", lab.ns_a, "python3", "-c", PROBE,
                                    lab.host_a, str(lab.port), "12", "0.2", "0.05"],
                                   stdout=subprocess.PIPE)
        try:
            # Twenty swaps while both probe: unrelated rules come and go, the attacker's stays.
            for i in range(20):
                lab.add_rule("10.250.%d.0/24" % i)
                time.sleep(0.06)
            ver = lab.del_rule("10.250.3.0/24")
            lab.wait_applied(ver)
            rc = json.loads(probe_c.communicate(timeout=60)[0])
            ra = json.loads(probe_a.communicate(timeout=60)[0])
        finally:
            for p in (probe_c, probe_a):
                if p.poll() is None:
                    p.kill()
                    p.wait()
        check(rc["fail"] == 0, "client failed during swaps: %s" % rc)
        check(ra["ok"] == 0, "attacker got through during swaps: %s" % ra)
    _lab(ctx, body)


@test
def sigkill_leaves_rules_enforced_detach_leaves_nothing(ctx):
    def body(lab):
        lab.start_agent()
        lab.wait_applied(lab.add_rule(lab.peer_a + "/32"))
        lab.agent.send_signal(signal.SIGKILL)
        lab.agent.wait(10)
        lab.attacker_blocked()
        lab.client_ok()
        check(os.path.exists(os.path.join(lab.pin, "links", "xdp_" + lab.if_a)), "link pinned")
        # A restarted agent reuses the pins and swaps its program into the links.
        lab.start_agent()
        lab.attacker_blocked()
        lab.agent.send_signal(signal.SIGTERM)
        lab.agent.wait(10)
        r = subprocess.run([AGENT, "--config", lab.gw.config_path, "--detach"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        check(r.returncode == 0, "detach: %s" % r.stderr.decode()[-500:])
        check(not os.path.exists(lab.pin), "pin dir removed")
        for ifn in (lab.if_a, lab.if_c):
            link = _run("ip", "-d", "link", "show", "dev", ifn)
            check("xdp" not in link.split("\n", 1)[0] and "prog/xdp" not in link,
                  "no XDP left on %s: %s" % (ifn, link))
            check("clsact" not in _run("tc", "qdisc", "show", "dev", ifn), "no clsact on " + ifn)
        links = _run("bpftool", "-j", "link", "show")
        idx = [int(open("/sys/class/net/%s/ifindex" % i).read()) for i in (lab.if_a, lab.if_c)]
        left = [lk for lk in json.loads(links or "[]") if lk.get("ifindex") in idx]
        check(not left, "links left: %s" % left)
        lab.attacker_ok()
        r = subprocess.run([AGENT, "--config", lab.gw.config_path, "--detach"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        check(r.returncode == 0, "second detach is a no-op: %s" % r.stderr.decode()[-300:])
    _lab(ctx, body, name="sigkill_leaves_rules_enforced_detach_leaves_nothing")


@test
def tc_mode_enforces_and_detaches(ctx):
    def body(lab):
        lab.start_agent()
        check("attached in mode tc" in lab.agent_text(), "tc mode:\n" + lab.agent_text()[-800:])
        lab.wait_applied(lab.add_rule(lab.peer_a + "/32"))
        lab.attacker_blocked()
        lab.client_ok()
        gen = lab.add_rule("10.251.0.0/16")
        with lab.db() as c:
            deadline = time.monotonic() + 3
            row = None
            while time.monotonic() < deadline:
                row = c.execute("SELECT pid, status, generation, interfaces, rules, stats "
                                "FROM agent_status").fetchone()
                if row and row[2] >= gen:
                    break
                time.sleep(0.05)
        check(row is not None and row[2] >= gen, "agent_status row at generation %d: %s" % (gen, row))
        check(row[0] == lab.agent.pid and row[1] == "running", "pid/status %s" % (row[:2],))
        ifs = json.loads(row[3])
        check(sorted(i["mode"] for i in ifs) == ["tc", "tc"] and all(i["prog_id"] > 0 for i in ifs),
              "interfaces %s" % row[3])
        check(json.loads(row[4]) == {"allow_v4": 0, "deny_v4": 2, "allow_v6": 0, "deny_v6": 0,
                                     "bans": 0}, "rules %s" % row[4])
        st = json.loads(row[5])
        check(sorted(st) == sorted(["pass", "pass_allowed", "drop_deny", "drop_ratelimit",
                                    "pass_unparsed"]) and st["drop_deny"]["packets"] > 0,
              "stats %s" % row[5])
        lab.agent.send_signal(signal.SIGTERM)
        lab.agent.wait(10)
        lab.attacker_blocked()
        r = subprocess.run([AGENT, "--config", lab.gw.config_path, "--detach"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        check(r.returncode == 0 and not os.path.exists(lab.pin), "detach")
        lab.attacker_ok()
    _lab(ctx, body, "  attach: tc\n")


@test
def clsact_fallback_without_tcx(ctx):
    """Kernels before 6.6 have no tcx: the TC program goes into a clsact filter, which
    outlives the agent by itself; --detach removes the filter and the qdisc the agent made."""
    def body(lab):
        lab.start_agent(env={"HIWAY_AGENT_NO_TCX": "1"})
        check("using a clsact filter" in lab.agent_text(), lab.agent_text()[-800:])
        for ifn in (lab.if_a, lab.if_c):
            check("bpf" in _run("tc", "filter", "show", "dev", ifn, "ingress"), "filter on " + ifn)
        lab.wait_applied(lab.add_rule(lab.peer_a + "/32"))
        lab.attacker_blocked()
        lab.client_ok()
        lab.agent.send_signal(signal.SIGKILL)
        lab.agent.wait(10)
        lab.attacker_blocked()
        r = subprocess.run([AGENT, "--config", lab.gw.config_path, "--detach"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        check(r.returncode == 0 and not os.path.exists(lab.pin), "detach")
        for ifn in (lab.if_a, lab.if_c):
            check("clsact" not in _run("tc", "qdisc", "show", "dev", ifn), "clsact left on " + ifn)
        lab.attacker_ok()
    _lab(ctx, body, "  attach: tc\n")


@test
def ban_expiry_uncovers_shorter_deny(ctx):
    """An expired ban stops applying at once, and a live shorter deny under it applies again
    (the trie returns only the longest match, so the agent rebuilds the set on expiry)."""
    def body(lab):
        lab.start_agent()
        lab.wait_applied(lab.add_ban(lab.peer_a + "/32", ttl=2))
        lab.attacker_blocked()
        time.sleep(2.5)
        lab.attacker_ok()
        ver = lab.add_rule("10.202.0.0/16")
        lab.wait_applied(lab.add_ban(lab.peer_a + "/32", ttl=2))
        lab.attacker_blocked()
        time.sleep(2.5)
        lab.attacker_blocked()
        check(ver > 0, "generation")
    _lab(ctx, body)


@test
def attach_mode_changes_never_unprotect(ctx):
    """Restarting the agent with another attach mode moves every interface to it (native and
    generic XDP through a temporary tcx link, as the kernel refuses both at once) while a
    denied source keeps probing: no probe ever gets through."""
    def body(lab):
        def once(mode):
            with open(lab.gw.config_path) as f:
                text = f.read()
            with open(lab.gw.config_path, "w") as f:
                f.write(re.sub(r"  attach: \w+\n", "  attach: %s\n" % mode, text))
            r = subprocess.run([AGENT, "--config", lab.gw.config_path, "--once"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            check(r.returncode == 0, "agent --once (%s): %s" % (mode, r.stderr.decode()[-500:]))
            return r.stderr.decode()
        once("generic")
        lab.add_rule(lab.peer_a + "/32")
        once("generic")
        lab.attacker_blocked()
        probe = subprocess.Popen(["ip", "netns", "exec", lab.ns_a, "python3", "-c", PROBE,
                                  lab.host_a, str(lab.port), "16", "0.2", "0.05"],
                                 stdout=subprocess.PIPE)
        try:
            for mode, want in (("native", "xdp-native"), ("tc", "tc"), ("generic", "xdp-generic"),
                               ("native", "xdp-native")):
                log = once(mode)
                check("attached in mode %s" % want in log, "mode %s:\n%s" % (mode, log[-600:]))
            res = json.loads(probe.communicate(timeout=60)[0])
        finally:
            if probe.poll() is None:
                probe.kill()
                probe.wait()
        check(res["ok"] == 0, "attacker got through during mode changes: %s" % res)
        lab.client_ok()
        links = sorted(os.listdir(os.path.join(lab.pin, "links")))
        check(links == sorted(["xdp_" + lab.if_a, "xdp_" + lab.if_c]), "links %s" % links)
    _lab(ctx, body, "  attach: generic\n")


FLOOD_401 = r"""
import http.client, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
codes = []
for i in range(n):
    c = http.client.HTTPConnection(host, port, timeout=3)
    c.request("GET", "/v1/models", headers={"Authorization": "Bearer hw_live_" + "0" * 32})
    codes.append(c.getresponse().status)
    c.close()
print(",".join(map(str, codes)))
"""


@test
def auth_failure_flood_banned_in_kernel(ctx):
    """SPEC §13.3 end to end: a source that collects 5 (configured) 401s in 60 s is banned
    by hiwayd, the agent puts the ban in the kernel, and the attacker's next connections are
    dropped before they reach the gateway (a failed TCP connect, with drop_deny counted),
    while the client still connects."""
    def body(lab):
        lab.start_agent()
        lab.client_ok()
        out = _run("ip", "netns", "exec", lab.ns_a, "python3", "-c", FLOOD_401, lab.host_a,
                   str(lab.port), "5", timeout=60)
        eq(out.strip(), ",".join(["401"] * 5), "the flood's answers")
        before = lab.stats().get("drop_deny", 0)
        deadline = time.monotonic() + 5
        while True:
            r = lab.probe(lab.ns_a, lab.host_a, n=1, timeout=0.5)
            if r["ok"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        lab.attacker_blocked()
        check(lab.stats().get("drop_deny", 0) > before, "the kernel dropped the banned source")
        lab.client_ok()
        bans = lab.gw.api("GET", "/bans").json["data"]
        check(any(b["cidr"] == lab.peer_a + "/32" and b["reason"] == "auth_failures" for b in bans),
              "an auth_failures ban of the attacker: %r" % bans)
    _lab(ctx, body, "  autoban: {auth_failures: {count: 5, window_s: 60}, ttl_s: 600, exempt: []}\n",
         name="auth_failure_flood_banned_in_kernel")
