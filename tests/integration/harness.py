# SPDX-License-Identifier: Apache-2.0
"""Tiny shared harness for the hiway integration tests (Python 3 standard library only).

It starts fake-upstream and hiwayd on 127.0.0.1 with configurations written into temporary
directories, speaks HTTP to them (http.client for ordinary and streamed requests, raw sockets
for malformed, slow or vanishing clients) and offers a few assertion helpers. Processes are
only ever stopped through the Popen handle of the process this harness started.
"""
import http.client as httpclient
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _build_dir():
    b = os.environ.get("HIWAY_BUILD", "build")
    if os.path.isabs(b):
        return b
    cand = os.path.abspath(b)
    if os.path.isdir(cand):
        return cand
    return os.path.join(REPO, b)


BUILD = _build_dir()
HIWAYD = os.path.join(BUILD, "hiwayd")
HIWAYCTL = os.path.join(BUILD, "hiwayctl")
FAKE = os.path.join(BUILD, "fake-upstream")


def _is_asan():
    try:
        with open(HIWAYD, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return "asan" in os.path.basename(BUILD)


ASAN = _is_asan()
SLOW = 3.0 if ASAN else 1.0  # time multiplier for sanitizer builds

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer", "ERROR: ThreadSanitizer")

RE_REQ_ID = re.compile(r"^req_[0-9A-HJKMNP-TV-Z]{26}$")
RE_KEY = re.compile(r"^hw_live_[0-9a-f]{32}$")
RE_KID = re.compile(r"^kid_[0-9A-HJKMNP-TV-Z]{26}$")
RE_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")

# ---------------------------------------------------------------- registry and assertions

TESTS = []  # (name, function)


def test(fn):
    """Registers fn as a test named <module without test_>.<function name>."""
    mod = fn.__module__.split(".")[-1]
    if mod.startswith("test_"):
        mod = mod[5:]
    TESTS.append((mod + "." + fn.__name__, fn))
    return fn


PENDING = []


def pending(issue, why):
    """Marks a test written ahead of the issue that builds the behaviour: it is listed as
    pending (not run, not counted) until that issue turns it back into @test."""
    def mark(fn):
        mod = fn.__module__.split(".")[-1]
        PENDING.append(("%s.%s" % (mod[5:] if mod.startswith("test_") else mod, fn.__name__),
                        issue, why))
        return fn
    return mark


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise TestFailure("%s: expected %r, got %r" % (what, expected, actual))


def note(msg):
    """An informational line; never starts with ok/FAIL."""
    print("# " + msg, flush=True)


_seq = itertools.count(1)


def uniq(text="hello"):
    """A unique prompt (keeps Guardian's dedup window out of the way)."""
    return "%s %d%d" % (text, os.getpid() % 1000, next(_seq))


def short(b, n=300):
    if isinstance(b, bytes):
        b = b.decode("utf-8", "replace")
    return b if len(b) <= n else b[:n] + "..."


# ---------------------------------------------------------------- HTTP

class Resp:
    def __init__(self, status, headers, body, reason=""):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body
        self._json = None

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except Exception as e:  # noqa: BLE001
                raise TestFailure("status %d: body is not JSON (%s): %s" %
                                  (self.status, e, short(self.body)))
        return self._json

    def __repr__(self):
        return "<%d %s>" % (self.status, short(self.body, 400))


def http(port, method, path, body=None, headers=None, key=None, timeout=None):
    """One request on a fresh connection; returns Resp. body may be dict/list (JSON), str, bytes."""
    timeout = timeout or 15 * SLOW
    conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=timeout)
    hdrs = dict(headers or {})
    if key:
        hdrs["Authorization"] = "Bearer " + key
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, r.getheaders(), data, r.reason)
    finally:
        conn.close()


class Stream:
    """A streamed POST; events() yields (t_since_request, data) per SSE event."""

    def __init__(self, port, body, key=None, headers=None, path="/v1/chat/completions",
                 timeout=None):
        self.conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=timeout or 15 * SLOW)
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        if key:
            hdrs["Authorization"] = "Bearer " + key
        self.t0 = time.monotonic()
        self.conn.request("POST", path, body=json.dumps(body).encode(), headers=hdrs)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = self.resp.getheaders()
        self.eof = False

    def header(self, name, default=None):
        return Resp(self.status, self.headers, b"").header(name, default)

    def body_resp(self):
        """For a non-streamed (error) answer."""
        data = self.resp.read()
        self.close()
        return Resp(self.status, self.headers, data)

    def events(self):
        data_lines = []
        event_name = None
        while True:
            line = self.resp.readline()
            if not line:
                self.eof = True
                if data_lines:
                    yield (time.monotonic() - self.t0, "\n".join(data_lines))
                return
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            if line == "":
                if data_lines:
                    yield (time.monotonic() - self.t0, "\n".join(data_lines))
                data_lines = []
                event_name = None
                continue
            if line.startswith(":"):
                continue
            if line.startswith("data:"):
                v = line[5:]
                data_lines.append(v[1:] if v.startswith(" ") else v)
            elif line.startswith("event:"):
                event_name = line[6:].strip()  # noqa: F841 (kept for debugging)

    def read_all(self):
        out = list(self.events())
        self.close()
        return out

    def close(self):
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001
            pass


def parse_raw_response(data):
    """Parses the first HTTP/1.x response in data; returns Resp or None if incomplete."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = data[:head_end].decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/\d\.\d (\d{3})", head[0])
    if not m:
        return None
    headers = []
    for h in head[1:]:
        if ":" in h:
            k, v = h.split(":", 1)
            headers.append((k.strip(), v.strip()))
    r = Resp(int(m.group(1)), headers, b"")
    rest = data[head_end + 4:]
    cl = r.header("Content-Length")
    if cl is not None:
        n = int(cl)
        if len(rest) < n:
            return None
        r.body = rest[:n]
    elif (r.header("Transfer-Encoding") or "").lower() == "chunked":
        body = b""
        pos = 0
        while True:
            nl = rest.find(b"\r\n", pos)
            if nl < 0:
                return None
            size = int(rest[pos:nl].split(b";")[0], 16)
            if size == 0:
                break
            if len(rest) < nl + 2 + size + 2:
                return None
            body += rest[nl + 2:nl + 2 + size]
            pos = nl + 2 + size + 2
        r.body = body
    else:
        r.body = rest
    return r


def raw_connect(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def raw_read_response(s, timeout):
    """Reads until a full response is parsed or the peer closes; returns (Resp|None, raw, closed)."""
    data = b""
    deadline = time.monotonic() + timeout
    closed = False
    while True:
        r = parse_raw_response(data)
        if r is not None and (r.header("Content-Length") is not None or
                              (r.header("Transfer-Encoding") or "").lower() == "chunked"):
            return r, data, closed
        left = deadline - time.monotonic()
        if left <= 0:
            return parse_raw_response(data), data, closed
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return parse_raw_response(data), data, closed
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            return parse_raw_response(data), data, closed
        if not chunk:
            closed = True
            return parse_raw_response(data), data, closed
        data += chunk


def readable(s, timeout):
    r, _, _ = select.select([s], [], [], timeout)
    return bool(r)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---------------------------------------------------------------- error assertions

def check_request_id_header(r):
    rid = r.header("X-Request-Id")
    check(rid, "no X-Request-Id header on a %d response" % r.status)
    return rid


def expect_error(r, status, code, etype=None, message=None, **extra):
    """Checks SPEC §2 for one error response; extra fields are compared exactly
    (pass ANY to only require presence). Returns the error object."""
    check(r.status == status, "expected %d %s, got %r" % (status, code, r))
    ct = r.header("Content-Type") or ""
    check(ct.split(";")[0].strip() == "application/json",
          "error Content-Type is %r, expected application/json" % ct)
    rid = check_request_id_header(r)
    body = r.json
    check(isinstance(body, dict) and isinstance(body.get("error"), dict),
          "no error object in %s" % short(r.body))
    err = body["error"]
    for f in ("type", "code", "message", "request_id"):
        check(f in err, "error.%s missing in %s" % (f, short(r.body)))
    eq(err["code"], code, "error.code")
    if etype is not None:
        eq(err["type"], etype, "error.type")
    check(isinstance(err["message"], str) and err["message"], "error.message empty")
    if message is not None:
        eq(err["message"], message, "error.message")
    eq(err["request_id"], rid, "error.request_id vs X-Request-Id")
    for k, v in extra.items():
        check(k in err, "error.%s missing in %s" % (k, short(r.body)))
        if v is not ANY:
            eq(err[k], v, "error.%s" % k)
    if status in (429, 503):
        ra = r.header("Retry-After")
        check(ra is not None and ra.isdigit() and int(ra) >= 1,
              "%d without a valid Retry-After (%r)" % (status, ra))
        if "retry_after_seconds" in err:
            eq(int(ra), err["retry_after_seconds"], "Retry-After vs retry_after_seconds")
    return err


class _Any:
    def __repr__(self):
        return "ANY"


ANY = _Any()

# ---------------------------------------------------------------- processes

_TMP_ROOT = None


def tmp_root():
    global _TMP_ROOT
    if _TMP_ROOT is None:
        _TMP_ROOT = tempfile.mkdtemp(prefix="hiway-it-")
    return _TMP_ROOT


def clean_env():
    env = {}
    for k, v in os.environ.items():
        if k.endswith("_API_KEY") or k.startswith("HIWAY_"):
            continue
        env[k] = v
    return env


class Fake:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fake-", dir=tmp_root())
        self.err_path = os.path.join(self.dir, "fake.stderr")
        self.proc = subprocess.Popen([FAKE, "--listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=open(self.err_path, "wb"),
                                     env=clean_env(), cwd=self.dir)
        line = b""
        deadline = time.monotonic() + 10 * SLOW
        fd = self.proc.stdout
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            if readable(fd, 0.2):
                c = fd.read1(256) if hasattr(fd, "read1") else fd.read(1)
                if not c:
                    break
                line += c
            elif self.proc.poll() is not None:
                break
        m = re.search(rb"listening on (\d+)", line)
        if not m:
            raise RuntimeError("fake-upstream did not start: %r %s" % (line, self.stderr()))
        self.port = int(m.group(1))
        self.rc = None

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def last(self):
        r = http(self.port, "GET", "/_fake/last")
        check(r.status == 200, "fake /_fake/last: %r" % r)
        return r.json

    def reset(self):
        http(self.port, "POST", "/_fake/reset")

    def requests(self):
        return http(self.port, "GET", "/_fake/stats").json["requests"]

    def stop(self):
        if self.rc is not None:
            return self.rc
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.rc = self.proc.wait()
        return self.rc


def base_config(port, tmp, upstream=", breaker: {failures: 1000}"):
    """The common part of every test gateway's configuration. `upstream` goes into the
    upstream map: by default circuits never open, so tests that fail one model on purpose
    stay independent of their order (test_fallback.py tests the breaker itself). Guardian
    and the per-key RPM default are off: shared keys send many identical requests fast
    (test_guardian.py turns them on)."""
    return ("server: {listen: [\"127.0.0.1:%d\"], max_body_bytes: 65536, max_header_bytes: 8192, "
            "client_timeout_s: 5, drain_timeout_s: 3}\n"
            "store: \"sqlite:%s/hiway.db\"\n"
            "logging: {level: info, access_log: true}\n"
            "guardian: {enabled: false}\n"
            "keys: {default_rpm_limit: null}\n"
            "upstream: {timeouts: {connect_ms: 1000, first_byte_ms: 2000, response_ms: 3000, "
            "idle_ms: 1000, total_ms: 10000}%s}\n" % (port, tmp, upstream))


def fake_config(fake_port, dead_port):
    """Providers and catalog of the main test configuration (fake upstream)."""
    def m(mid, tier, inp, out, q, region="local", mx=4096):
        return ("    - {id: \"%s\", tier: %s, input_per_mtok: %s, output_per_mtok: %s, quality: %d, "
                "context_window: 128000, max_output_tokens: %d, region: %s}\n"
                % (mid, tier, inp, out, q, mx, region))
    return ("providers:\n"
            "  fake: {kind: openai_compatible, base_url: \"http://127.0.0.1:%d/v1\"}\n"
            "  fakeai: {kind: openai, base_url: \"http://127.0.0.1:%d/v1\", api_key: \"sk-test-123\"}\n"
            "  dead: {kind: openai_compatible, base_url: \"http://127.0.0.1:%d/v1\"}\n"
            # a host name, not an address: served by libcurl instead of the HTTP/1.1 client
            "  fakehost: {kind: openai_compatible, base_url: \"http://localhost:%d/v1\"}\n"
            "catalog:\n"
            "  models:\n" % (fake_port, fake_port, dead_port, fake_port)
            + m("fakehost/gpt-curl", "light", 1, 2, 50)
            + m("fake/gpt-test", "light", 1, 2, 50)
            + m("fakeai/gpt-4o-test", "standard", 2.5, 10, 75, "us", 16384)
            # heavy: dead is the primary (best quality per dollar), gpt-backup the first fallback
            + m("dead/gpt-dead", "heavy", 0.5, 0.5, 99)
            + m("fake/gpt-backup", "heavy", 3, 6, 10)
            # one model per fault family, so circuit breakers and cool-downs never meet
            + "".join(m("fake/" + n, "heavy", 50, 100, 1) for n in FAULT_MODELS))


FAULT_MODELS = ("fault-5xx", "fault-429", "fault-timeout", "fault-malformed", "fault-auth",
                "fault-reject", "stream-cut", "stream-stall", "stream-malformed",
                "stream-slow", "stream-drain")


# How long a gateway may take to answer /health after it starts. Under ASan, compiling the
# Shield's patterns alone takes several seconds of CPU, and a loaded 2-core machine stretches
# that: the deadline only bounds how long a broken start takes to be reported.
START_DEADLINE_S = 60 if ASAN else 10


class Gateway:
    """One hiwayd with its own temp dir, port and store."""

    def __init__(self, name, config_fn, args=()):
        self.name = name
        self.config_fn = config_fn  # (port, tmpdir) -> yaml text
        self.args = list(args)  # extra hiwayd arguments
        self.proc = None
        self.rc = None
        self.killed = False

    def start(self):
        self.dir = tempfile.mkdtemp(prefix=self.name + "-", dir=tmp_root())
        self.port = free_port()
        self.config_path = os.path.join(self.dir, "hiway.yaml")
        with open(self.config_path, "w") as f:
            f.write(self.config_fn(self.port, self.dir))
        self.log_path = os.path.join(self.dir, "hiwayd.stderr")
        self.proc = subprocess.Popen([HIWAYD, "--config", self.config_path] + self.args, cwd=self.dir,
                                     stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.dir, "hiwayd.stdout"), "wb"),
                                     stderr=open(self.log_path, "wb"), env=clean_env())
        deadline = time.monotonic() + START_DEADLINE_S
        ok = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hiwayd %s exited with %s at start:\n%s" %
                                   (self.name, self.proc.returncode, self.log_tail(30)))
            try:
                r = http(self.port, "GET", "/health", timeout=1)
                if r.status == 200:
                    ok = True
                    break
            except OSError:
                pass
            time.sleep(0.05)
        if not ok:
            raise RuntimeError("hiwayd %s not ready within the deadline:\n%s" %
                               (self.name, self.log_tail(30)))
        log = self.log()
        m1 = re.search(r"hiway: bootstrap workspace (\S+) created", log)
        m2 = re.search(r"hiway: admin token: (hw_admin_[0-9a-f]{64}) \(shown once\)", log)
        m3 = re.search(r"hiway: API key: (hw_live_[0-9a-f]{32}) \(shown once\)", log)
        if not (m1 and m2 and m3):
            raise RuntimeError("bootstrap lines missing in hiwayd stderr:\n" + self.log_tail(30))
        self.ws, self.token, self.key = m1.group(1), m2.group(1), m3.group(1)
        return self

    def relaunch(self):
        """Starts hiwayd again on the same directory, config and store (after stop())."""
        check(self.proc is not None and self.proc.poll() is not None, "relaunch while running")
        self.relaunches = getattr(self, "relaunches", 0) + 1
        self.log_path = os.path.join(self.dir, "hiwayd.%d.stderr" % (self.relaunches + 1))
        self.rc = None
        self.killed = False
        self.proc = subprocess.Popen([HIWAYD, "--config", self.config_path] + self.args, cwd=self.dir,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "wb"), env=clean_env())
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("hiwayd %s exited with %s at restart:\n%s" %
                                  (self.name, self.proc.returncode, self.log_tail(10)))
            try:
                if http(self.port, "GET", "/health", timeout=1).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise TestFailure("hiwayd %s not ready after restart" % self.name)

    # -- requests
    def get(self, path, key=None, headers=None, **kw):
        return http(self.port, "GET", path, key=key, headers=headers, **kw)

    def req(self, method, path, body=None, key=None, headers=None, **kw):
        return http(self.port, method, path, body=body, key=key, headers=headers, **kw)

    def chat(self, body, key=None, headers=None, **kw):
        return http(self.port, "POST", "/v1/chat/completions", body=body, key=key,
                    headers=headers, **kw)

    def stream(self, body, key=None, headers=None, **kw):
        b = dict(body)
        b.setdefault("stream", True)
        return Stream(self.port, b, key=key, headers=headers, **kw)

    def api(self, method, path, body=None, key=None, **kw):
        """Management API call with the admin token unless key is given."""
        return http(self.port, method, "/api/v1" + path, body=body, key=key or self.token, **kw)

    # -- process
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=15):
        return "\n".join(self.log().splitlines()[-n:])

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, timeout=10):
        """SIGTERM, wait, SIGKILL after timeout; returns the exit code."""
        if self.proc is None or self.rc is not None:
            return self.rc
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.rc = self.proc.wait(timeout * (2 if ASAN else 1))
        except subprocess.TimeoutExpired:
            self.killed = True
            self.proc.kill()
            self.rc = self.proc.wait()
        return self.rc

    def sanitizer_problems(self):
        out = []
        for line in self.log().splitlines():
            if any(mk in line for mk in SANITIZER_MARKERS):
                out.append(line.strip())
        return out

    def exit_problems(self):
        """Problems to report once the process has been stopped."""
        probs = []
        if self.killed:
            probs.append("did not exit within the SIGTERM grace, killed")
        elif self.rc != 0:
            probs.append("exit status %s" % self.rc)
        sp = self.sanitizer_problems()
        if sp:
            probs.append("sanitizer: " + " | ".join(sp[:5]))
        return probs


class Ctx:
    """Shared environments, started lazily and stopped by run.py at the end."""

    def __init__(self):
        self._fake = None
        self._main = None
        self._echo = None
        self.gateways = []  # every Gateway started, for the final exit checks
        self.shared = {}

    @property
    def fake(self):
        if self._fake is None:
            self._fake = Fake()
        return self._fake

    def dead_port(self):
        if "dead_port" not in self.shared:
            self.shared["dead_port"] = free_port()  # nothing listens there
        return self.shared["dead_port"]

    def new_fake_gateway(self, name, extra=""):
        fp, dp = self.fake.port, self.dead_port()
        gw = Gateway(name, lambda port, tmp: base_config(port, tmp) + fake_config(fp, dp) + extra)
        self.gateways.append(gw)
        return gw.start()

    def new_echo_gateway(self, name, extra=""):
        gw = Gateway(name, lambda port, tmp: base_config(port, tmp) + extra)
        self.gateways.append(gw)
        return gw.start()

    def _shared_gateway(self, attr, make):
        """Starts a shared gateway once; a failed start is remembered, not retried per test."""
        err = self.shared.get(attr + "_error")
        if err:
            raise TestFailure("shared gateway %s did not start: %s" % (attr, err))
        if getattr(self, attr) is None:
            try:
                setattr(self, attr, make())
            except Exception as e:  # noqa: BLE001
                self.shared[attr + "_error"] = " ".join(str(e).split())[:1500]
                raise
        gw = getattr(self, attr)
        check(gw.alive(), "shared gateway %s is not running any more (exit %s); log %s"
              % (gw.name, gw.proc.poll(), gw.log_path))
        return gw

    @property
    def main(self):
        return self._shared_gateway("_main", lambda: self.new_fake_gateway("main"))

    @property
    def echo(self):
        return self._shared_gateway("_echo", lambda: self.new_echo_gateway("echo"))

    def create_key(self, gw=None, ws=None, **fields):
        """Creates a key through the management API; returns (plaintext, key object)."""
        gw = gw or self.main
        body = {"name": fields.pop("name", uniq("key"))}
        body.update(fields)
        r = gw.api("POST", "/workspaces/%s/keys" % (ws or gw.ws), body)
        check(r.status == 201, "creating a key: %r" % r)
        return r.json["key"], r.json

    def create_workspace(self, gw=None, admin_key=True, **fields):
        """Returns (workspace object, admin key plaintext or None)."""
        gw = gw or self.main
        body = {"name": fields.pop("name", uniq("ws")), "initial_credit_usd": 10}
        if admin_key:
            body["create_admin_key"] = True
        body.update(fields)
        r = gw.api("POST", "/workspaces", body)
        check(r.status == 201, "creating a workspace: %r" % r)
        ak = r.json.get("admin_key")
        if isinstance(ak, dict):
            ak = ak.get("key")
        return r.json, ak

    def close(self):
        if self._fake is not None:
            self._fake.stop()


def user_msg(text):
    return [{"role": "user", "content": text}]


def chat_body(model="fake/gpt-test", text=None, **kw):
    b = {"model": model, "messages": user_msg(text or uniq("hello"))}
    b.update(kw)
    return b


def cleanup_tmp(keep):
    if _TMP_ROOT and not keep:
        shutil.rmtree(_TMP_ROOT, ignore_errors=True)


def run_threads(n, fn):
    """Runs fn(i) in n threads; returns the list of results (exceptions as values)."""
    res = [None] * n

    def wrap(i):
        try:
            res[i] = fn(i)
        except Exception as e:  # noqa: BLE001
            res[i] = e
    ts = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120 * SLOW)
    return res


def eprint(*a):
    print(*a, file=sys.stderr, flush=True)
