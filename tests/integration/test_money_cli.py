# SPDX-License-Identifier: Apache-2.0
"""hiwayctl wallet, budget, plan and usage against a running hiwayd (SPEC §10, §16.2, §16.3,
§17). Each test works on a workspace of its own, so they hold in any order and beside the
other modules' use of the shared gateway."""
import re
import time

from harness import SLOW, chat_body, check, eq, test, uniq
from test_hiwayctl import ctl, ctl_json


def _fresh_ws(ctx, credit=10):
    """A new workspace on the shared gateway with `credit` USD and an admin key."""
    ws, admin_key = ctx.create_workspace(initial_credit_usd=credit)
    return ws["id"], admin_key


def _ledger(gw, ws):
    return ctl_json(gw, ["wallet", "ledger"], ws=ws)["data"]


@test
def wallet_get_initial_credit(ctx):
    gw = ctx.main
    ws, _ = _fresh_ws(ctx, credit=10)
    w = ctl_json(gw, ["wallet", "get"], ws=ws)
    eq(w.get("balance_usd"), 10, "balance of a new workspace")
    eq(w.get("available_usd"), 10, "available")
    eq(w.get("reserved_usd"), 0, "reserved")
    eq((w.get("passthrough") or {}).get("active"), False, "passthrough")
    rc, out, err = ctl(gw, ["wallet", "get"], ws=ws)
    eq(rc, 0, "table exit (stderr %r)" % err[:200])
    check(re.search(r"^balance\s+10 USD$", out, re.M), "balance line in %r" % out[:500])
    check(re.search(r"^passthrough\s+off$", out, re.M), "passthrough line in %r" % out[:500])
    check(re.search(r"^markup\s+[0-9.]+ %$", out, re.M), "markup line in %r" % out[:500])
    kinds = [(e["kind"], e["amount_usd"]) for e in _ledger(gw, ws)]
    eq(kinds, [("initial_credit", 10)], "ledger of a new workspace")
    # The bootstrap workspace got the configured credit (bootstrap.initial_credit_usd: 10).
    boot = [e for e in _ledger(gw, gw.ws) if e["kind"] == "initial_credit"]
    eq([e["amount_usd"] for e in boot], [10], "bootstrap workspace's initial credit")


@test
def wallet_topup_reference_once(ctx):
    gw = ctx.main
    ws, admin_key = _fresh_ws(ctx, credit=10)
    ref = uniq("inv")
    w = ctl_json(gw, ["wallet", "topup", "--amount", "2.5", "--reference", ref], ws=ws)
    eq(w.get("balance_usd"), 12.5, "balance after the top-up")
    eq(w.get("last_topup_usd"), 2.5, "last top-up")
    rc, out, err = ctl(gw, ["wallet", "topup", "--amount", "2.50", "--reference", ref], ws=ws)
    eq(rc, 0, "the same top-up again (stderr %r)" % err[:200])
    check(re.search(r"^balance\s+12\.5 USD$", out, re.M), "credited once: %r" % out[:500])
    topups = [e for e in _ledger(gw, ws) if e["kind"] == "topup"]
    eq(len(topups), 1, "top-up rows in the ledger")
    eq(topups[0].get("reference"), ref, "reference")
    eq(topups[0].get("balance_after_usd"), 12.5, "balance after")
    rc, out, err = ctl(gw, ["wallet", "topup", "--amount", "3", "--reference", ref], ws=ws)
    eq(rc, 1, "same reference, another amount")
    check("conflict" in err, "conflict not reported: %r" % err[:300])
    # Six decimals go out as typed and come back to the micro-dollar.
    w = ctl_json(gw, ["wallet", "topup", "--amount", "0.000001"], ws=ws)
    eq(w.get("balance_usd"), 12.500001, "balance after a one micro-dollar top-up")
    rc, _, err = ctl(gw, ["wallet", "topup", "--amount", "1"], token=admin_key, ws=ws)
    eq(rc, 1, "top-up with an admin key")
    check("forbidden" in err, "forbidden not reported: %r" % err[:300])
    page = ctl_json(gw, ["wallet", "ledger", "--limit", "1"], ws=ws)
    eq(len(page["data"]), 1, "one ledger row with --limit 1")
    check(isinstance(page.get("next_cursor"), str), "next_cursor %r" % page.get("next_cursor"))
    rest = ctl_json(gw, ["wallet", "ledger", "--cursor", page["next_cursor"]], ws=ws)["data"]
    eq(len(rest), 2, "rows after the cursor")
    rc, out, err = ctl(gw, ["wallet", "ledger"], ws=ws)
    eq(rc, 0, "ledger table exit")
    check("KIND" in out and "topup" in out and ref in out, "ledger table %r" % out[:500])


@test
def budget_set_get_round_trip(ctx):
    gw = ctx.main
    ws, admin_key = _fresh_ws(ctx)
    b = ctl_json(gw, ["budget", "set", "--cap", "50.25", "--downgrade", "0.8", "--light-only",
                      "0.9", "--block", "1"], ws=ws)
    eq(b.get("cap_usd"), 50.25, "cap")
    eq(b.get("thresholds"), {"downgrade": 0.8, "light_only": 0.9, "block": 1}, "thresholds")
    g = ctl_json(gw, ["budget", "get"], ws=ws)
    eq(g.get("cap_usd"), 50.25, "cap read back")
    eq(g.get("thresholds"), b["thresholds"], "thresholds read back")
    check(isinstance(g.get("verdict"), str), "verdict %r" % g.get("verdict"))
    rc, out, err = ctl(gw, ["budget", "get"], ws=ws)
    eq(rc, 0, "table exit (stderr %r)" % err[:200])
    check(re.search(r"^cap\s+50\.25 USD$", out, re.M), "cap line in %r" % out[:500])
    # Only the options given change: --block alone keeps the cap and the other fractions.
    b = ctl_json(gw, ["budget", "set", "--block", "1.2"], ws=ws)
    eq(b.get("cap_usd"), 50.25, "cap kept")
    eq(b.get("thresholds"), {"downgrade": 0.8, "light_only": 0.9, "block": 1.2}, "thresholds")
    # An admin key may change the budget (both).
    b = ctl_json(gw, ["budget", "set", "--cap", "none"], token=admin_key, ws=ws)
    eq(b.get("cap_usd"), None, "cap removed")
    rc, out, _ = ctl(gw, ["budget", "get"], ws=ws)
    check(re.search(r"^cap\s+none$", out, re.M), "no cap shown as none: %r" % out[:500])
    rc, _, err = ctl(gw, ["budget", "set", "--downgrade", "2"], ws=ws)
    eq(rc, 1, "downgrade above light_only")
    check("thresholds" in err, "the parameter is not named: %r" % err[:300])


@test
def plan_set_get_token_only(ctx):
    gw = ctx.main
    ws, admin_key = _fresh_ws(ctx)
    p = ctl_json(gw, ["plan", "set", "--plan", "build"], ws=ws)
    eq((p.get("plan"), p.get("included_requests"), p.get("overage_enabled"),
        p.get("overage_usd_per_100k")), ("build", 100000, False, 4), "build preset")
    eq(ctl_json(gw, ["workspaces", "get", ws]).get("plan"), "build", "workspace's plan")
    p = ctl_json(gw, ["plan", "set", "--included", "none", "--overage", "on",
                      "--overage-per-100k", "2.5"], ws=ws)
    eq((p.get("included_requests"), p.get("overage_enabled"), p.get("overage_usd_per_100k")),
       (None, True, 2.5), "overrides")
    g = ctl_json(gw, ["plan", "get"], token=admin_key, ws=ws)
    eq((g.get("included_requests"), g.get("overage_enabled"), g.get("overage_usd_per_100k")),
       (None, True, 2.5), "read back with an admin key")
    eq(g.get("plan"), "build", "overrides keep the plan's name")
    rc, out, err = ctl(gw, ["plan", "get"], ws=ws)
    eq(rc, 0, "table exit (stderr %r)" % err[:200])
    check(re.search(r"^included requests\s+unlimited$", out, re.M), "table %r" % out[:500])
    check(re.search(r"^overage\s+on$", out, re.M), "table %r" % out[:500])
    p = ctl_json(gw, ["plan", "set", "--included", "250", "--overage", "off"], ws=ws)
    eq((p.get("included_requests"), p.get("overage_enabled")), (250, False), "included 250")
    rc, _, err = ctl(gw, ["plan", "set", "--plan", "free"], token=admin_key, ws=ws)
    eq(rc, 1, "plan set with an admin key")
    check("forbidden" in err, "forbidden not reported: %r" % err[:300])
    rc, _, err = ctl(gw, ["plan", "set", "--plan", "no-such-plan"], ws=ws)
    eq(rc, 1, "unknown plan")
    check("plan" in err, "param not named: %r" % err[:300])


def _usage_settled(gw, ws, want, group_by="key"):
    """The report once `want` requests are in it (settlement is written asynchronously)."""
    deadline = time.monotonic() + 10 * SLOW
    while True:
        u = ctl_json(gw, ["usage", "--group-by", group_by], ws=ws)
        if u["totals"]["requests"] >= want or time.monotonic() > deadline:
            return u
        time.sleep(0.1)


@test
def usage_by_key_and_model(ctx):
    gw = ctx.main
    ws, _ = _fresh_ws(ctx)
    k1, key1 = ctx.create_key(ws=ws, name=uniq("u1"))
    k2, key2 = ctx.create_key(ws=ws, name=uniq("u2"))
    for plain, model in ((k1, "fake/gpt-test"), (k1, "fake/gpt-test"),
                         (k2, "fakeai/gpt-4o-test")):
        r = gw.chat(chat_body(model=model), key=plain)
        eq(r.status, 200, "chat for usage: %r" % r)
    u = _usage_settled(gw, ws, 3, "key")
    eq(u.get("group_by"), "key", "group_by")
    eq(u["totals"]["requests"], 3, "total requests")
    check(u["totals"]["upstream_cost_usd"] > 0, "upstream cost %r" % u["totals"])
    by_key = {g["key"]: g["requests"] for g in u["groups"]}
    eq(sorted(by_key.values()), [1, 2], "requests per key %r" % by_key)
    check(key1["id"] in by_key and key2["id"] in by_key, "groups keyed by key id: %r" % by_key)
    check(isinstance(u.get("in_flight"), dict) and "requests" in u["in_flight"], "in_flight")
    m = ctl_json(gw, ["usage", "--group-by", "model"], ws=ws)
    by_model = {g["model"]: g for g in m["groups"]}
    eq(sorted(by_model), ["fake/gpt-test", "fakeai/gpt-4o-test"], "models")
    eq(by_model["fake/gpt-test"]["requests"], 2, "requests of fake/gpt-test")
    check(by_model["fakeai/gpt-4o-test"]["upstream_cost_usd"] > 0, "cost per model")
    rc, out, err = ctl(gw, ["usage", "--group-by", "model"], ws=ws)
    eq(rc, 0, "table exit (stderr %r)" % err[:200])
    check(re.search(r"^MODEL\s+REQUESTS", out, re.M), "header in %r" % out[:600])
    check(re.search(r"^TOTAL\s+3\s", out, re.M), "total line in %r" % out[:600])
    check(re.search(r"^fake/gpt-test\s+2\s", out, re.M), "model line in %r" % out[:600])
    check(re.search(r"^in flight: \d+ requests", out, re.M), "in-flight line in %r" % out[:600])
    # A window before any traffic is empty; one around today holds the requests.
    old = ctl_json(gw, ["usage", "--from", "2000-01-01", "--to", "2000-01-02"], ws=ws)
    eq(old["totals"]["requests"], 0, "requests in 2000")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    now = ctl_json(gw, ["usage", "--from", today, "--to", "2100-01-01T00:00:00Z"], ws=ws)
    eq(now["totals"]["requests"], 3, "requests since today")


@test
def json_output_and_errors(ctx):
    gw = ctx.main
    ws, _ = _fresh_ws(ctx)
    for args in (["wallet", "get"], ["wallet", "ledger"], ["budget", "get"], ["plan", "get"],
                 ["usage"], ["usage", "--group-by", "day"]):
        doc = ctl_json(gw, args, ws=ws)
        check(isinstance(doc, dict) and doc, "%s --json: %r" % (args, doc))
    bad = [
        ["wallet", "topup"],
        ["wallet", "topup", "--amount", "1.1234567"],
        ["wallet", "topup", "--amount", "-5"],
        ["wallet", "topup", "--amount", "1e3"],
        ["wallet", "topup", "--amount", "ten"],
        ["wallet", "ledger", "--limit", "0"],
        ["wallet", "frob"],
        ["budget", "set"],
        ["budget", "set", "--cap", "12,5"],
        ["budget", "set", "--block", "x"],
        ["plan", "set"],
        ["plan", "set", "--overage", "maybe"],
        ["plan", "set", "--included", "-1"],
        ["usage", "--group-by", "provider"],
        ["usage", "--from", "01/02/2026"],
        ["usage", "extra"],
    ]
    for args in bad:
        rc, _, err = ctl(gw, args, ws=ws)
        eq(rc, 2, "%s exit (stderr %r)" % (args, err[:200]))
        check("usage:" in err, "%s: no usage reminder in %r" % (args, err[:300]))
    rc, _, err = ctl(gw, ["wallet", "get"])
    eq(rc, 2, "no workspace")
    check("no workspace" in err, "message %r" % err[:200])
    rc, out, err = ctl(gw, ["--json", "wallet", "get"], ws="01JAX3Q5ZP7K8M9N0R1S2T3V4W")
    eq(rc, 1, "unknown workspace")
    check("not_found" in err, "code not printed: %r" % err[:300])
