#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""hiway integration tests: real hiwayd + fake-upstream on 127.0.0.1.

    HIWAY_BUILD=build python3 tests/integration/run.py [SUBSTRING ...]

Prints "ok NAME" or "FAIL NAME: reason" per test and closes with "N passed, N failed";
exits non-zero when any test failed. Optional arguments keep only the tests whose name
contains one of them. HIWAY_IT_KEEP=1 keeps the temporary directories (logs, stores).
"""
import importlib
import os
import sys
import time
import traceback
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import TestFailure  # noqa: E402

MODULES = [
    "test_health",
    "test_errors",
    "test_chat",
    "test_echo",
    "test_streaming",
    "test_fallback",
    "test_messages",
    "test_admin_keys",
    "test_hiwayctl",
    "test_money_cli",
    "test_byok",
    "test_webhooks",
    "test_money",
    "test_metrics",
    "test_shield",
    "test_guardian",
    "test_robustness",
    "test_load",
    "test_logs",
    "test_config",
    "test_lifecycle",
    "test_fakes",
    "test_providers",
    "test_clients",
    "test_audit",
    "test_perimeter",
    "test_security_config",
    "test_ip_rules",
]


RUN_BUDGET_S = 420  # a hung gateway must not hang the suite (doubled for ASan)

# (module, name prefix): unittest.TestCase modules, run through the adapter below
# test_hiwayctl_unittest.py is the hiwayctl helper's own suite (standalone-capable); any
# module of MODULES that holds unittest.TestCase classes is run the same way.
UNITTEST_MODULES = [("test_hiwayctl_unittest", "hiwayctl_cli")]


class _LineResult(unittest.TestResult):
    """Reports each unittest test as one ok/FAIL line."""

    def __init__(self, prefix, report):
        super().__init__()
        self.prefix = prefix
        self.report = report

    def _name(self, t):
        tid = t.id() if hasattr(t, "id") else str(t)
        parts = tid.split(".")
        return "%s.%s" % (self.prefix, ".".join(parts[-2:]) if len(parts) >= 2 else tid)

    def addSuccess(self, t):
        self.report(self._name(t), None)

    def _fail(self, t, err):
        etype, value, _ = err
        self.report(self._name(t), "%s: %s" % (etype.__name__, value))

    def addFailure(self, t, err):
        self._fail(t, err)

    def addError(self, t, err):
        self._fail(t, err)

    def addSkip(self, t, reason):
        harness.note("skipped %s: %s" % (self._name(t), reason))

    def addUnexpectedSuccess(self, t):
        self.report(self._name(t), "unexpected success")


def run_unittest_module(mod, prefix, filters, report):
    try:
        m = importlib.import_module(mod)
    except Exception as e:  # noqa: BLE001
        report(prefix + ".import", "%s: %s" % (type(e).__name__, e))
        return
    suite = unittest.defaultTestLoader.loadTestsFromModule(m)
    if filters:
        def keep(s):
            out = unittest.TestSuite()
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    sub = keep(t)
                    if sub.countTestCases():
                        out.addTest(sub)
                elif any(f in prefix + "." + t.id() for f in filters):
                    out.addTest(t)
            return out
        suite = keep(suite)
    suite.run(_LineResult(prefix, report))


def main():
    filters = sys.argv[1:]
    passed = failed = 0
    t_start = time.monotonic()

    def report(name, err):
        nonlocal passed, failed
        if err is None:
            passed += 1
            print("ok " + name, flush=True)
        else:
            failed += 1
            print("FAIL %s: %s" % (name, " ".join(str(err).split("\n"))[:2000]), flush=True)

    missing = [p for p in (harness.HIWAYD, harness.FAKE) if not os.access(p, os.X_OK)]
    if missing:
        report("setup.binaries", "not built: " + ", ".join(missing))
        print("%d passed, %d failed" % (passed, failed), flush=True)
        return 1
    for mod in MODULES:
        if mod == "test_hiwayctl" and not os.access(harness.HIWAYCTL, os.X_OK):
            harness.note("hiwayctl not built: its tests are skipped")
            continue
        try:
            importlib.import_module(mod)
        except Exception as e:  # noqa: BLE001
            report(mod + ".import", "%s: %s" % (type(e).__name__, e))

    ctx = harness.Ctx()
    harness.note("build %s (%s)" % (harness.BUILD, "asan" if harness.ASAN else "release"))
    budget = RUN_BUDGET_S * (2 if harness.ASAN else 1)
    for name, fn in harness.TESTS:
        if filters and not any(f in name for f in filters):
            continue
        if time.monotonic() - t_start > budget:
            report(name, "not run: the integration run exceeded its %ds budget" % budget)
            continue
        t0 = time.monotonic()
        err = None
        try:
            fn(ctx)
        except TestFailure as e:
            err = e
        except Exception as e:  # noqa: BLE001
            tb = traceback.extract_tb(e.__traceback__)
            where = ""
            for fr in reversed(tb):
                if os.path.basename(fr.filename).startswith("test_"):
                    where = " (%s:%d)" % (os.path.basename(fr.filename), fr.lineno)
                    break
            err = "%s: %s%s" % (type(e).__name__, e, where)
        dt = time.monotonic() - t0
        if dt > 10:
            harness.note("%s took %.1fs" % (name, dt))
        report(name, err)

    for name, issue, why in harness.PENDING:
        harness.note("pending (issue %d) %s: %s" % (issue, name, why))

    # unittest-style modules written by other engineers (standalone-capable), folded in here
    extra = [(m, m[5:]) for m in MODULES if m in sys.modules and
             unittest.defaultTestLoader.loadTestsFromModule(sys.modules[m]).countTestCases()]
    for mod, prefix in UNITTEST_MODULES + extra:
        if "hiwayctl" in mod and not os.access(harness.HIWAYCTL, os.X_OK):
            harness.note("hiwayctl not built: its tests are skipped")
            continue
        run_unittest_module(mod, prefix, filters, report)

    # Every gateway started must stop cleanly on SIGTERM, with no sanitizer report.
    for gw in ctx.gateways:
        if gw.proc is None:
            continue
        alive_before = gw.alive()
        gw.stop()
        probs = gw.exit_problems()
        if not alive_before and gw.rc is not None and gw.rc < 0:
            probs.insert(0, "had died before the end of the run (signal %d)" % -gw.rc)
        if probs:
            probs.append("log: " + gw.log_path)
        report("shutdown.clean_exit[%s]" % gw.name, "; ".join(probs) if probs else None)
    if ctx._fake is not None:
        rc = ctx._fake.stop()
        san = [ln for ln in ctx._fake.stderr().splitlines()
               if any(m in ln for m in harness.SANITIZER_MARKERS)]
        err = None
        if rc != 0 or san:
            err = "fake-upstream exit %s %s" % (rc, " | ".join(san[:3]))
        report("shutdown.clean_exit[fake-upstream]", err)
    ctx.close()

    keep = failed > 0 or os.environ.get("HIWAY_IT_KEEP")
    if keep and harness._TMP_ROOT:
        harness.note("logs and stores kept in " + harness._TMP_ROOT)
    harness.cleanup_tmp(keep)
    harness.note("integration run took %.1fs" % (time.monotonic() - t_start))
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
