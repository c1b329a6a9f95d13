# SPDX-License-Identifier: Apache-2.0
"""Bounded load through the fake upstream: sequential, concurrent, streaming; RSS smoke check.

Loops stop at their count or their time budget, whichever comes first; stopping on time is
a failure (the gateway is far slower than it should be) and says how far it got."""
import json
import time

from harness import ASAN, SLOW, check, chat_body, eq, note, run_threads, test, http

RSS_GROWTH_KIB = 5 * 1024  # "a few MiB" between two halves of the same work


def _load_key(ctx):
    if "load_key" not in ctx.shared:
        ctx.shared["load_key"] = ctx.create_key(name="load", rpm_limit=None)[0]
    return ctx.shared["load_key"]


def _one(gw, key, i):
    r = gw.chat(chat_body(text="load request %d" % i), key=key)
    if r.status != 200:
        return "request %d: %r" % (i, r)
    b = r.json
    if b.get("model") != "fake/gpt-test" or not b["choices"][0]["message"].get("content"):
        return "request %d: bad body %r" % (i, r)
    return None


SLOW_REQUEST_S = 1.0 if ASAN else 0.5  # a loopback request through the fake takes ~1-5 ms


def _lat_summary(lat):
    if not lat:
        return "no request done"
    srt = sorted(lat)
    slow = sum(1 for x in lat if x > SLOW_REQUEST_S)
    return "median %.1f ms, max %.0f ms, %d of %d over %.1f s" % (
        srt[len(srt) // 2] * 1000, srt[-1] * 1000, slow, len(lat), SLOW_REQUEST_S)


def _check_latency(lat, what):
    slow = sum(1 for x in lat if x > SLOW_REQUEST_S)
    check(slow <= len(lat) // 100, "%s stall: %s" % (what, _lat_summary(lat)))
    note("%s: %s" % (what, _lat_summary(lat)))


def _budget(seconds):
    return time.monotonic() + seconds * (2 if ASAN else 1)


@test
def sequential_1000(ctx):
    gw = ctx.main
    key = _load_key(ctx)
    errors, done, rss, lat = [], 0, [], []
    deadline = _budget(60)
    for i in range(1000):
        if time.monotonic() > deadline:
            break
        t0 = time.monotonic()
        e = _one(gw, key, i)
        lat.append(time.monotonic() - t0)
        if e:
            errors.append(e)
        done += 1
        if i in (499, 999):
            rss.append(gw.rss_kib())
    check(not errors, "%d errors in %d requests; first: %s" % (len(errors), done, errors[0]
                                                               if errors else ""))
    eq(done, 1000, "requests done within the time budget (%s)" % _lat_summary(lat))
    _check_latency(lat, "requests")
    ctx.shared["rss_seq"] = rss
    note("sequential: RSS after 500 %d KiB, after 1000 %d KiB" % tuple(rss))


@test
def concurrent_20x10(ctx):
    gw = ctx.main
    key = _load_key(ctx)
    deadline = _budget(60)

    def worker(w):
        errs = []
        n = 0
        for j in range(10):
            if time.monotonic() > deadline:
                errs.append("worker %d stopped by the time budget after %d" % (w, n))
                break
            try:
                e = _one(gw, key, 10000 + w * 100 + j)
            except Exception as ex:  # noqa: BLE001
                e = "worker %d: %s: %s" % (w, type(ex).__name__, ex)
            if e:
                errs.append(e)
            n += 1
        return errs
    res = run_threads(20, worker)
    errors = []
    for r in res:
        errors += r if isinstance(r, list) else [repr(r)]
    check(not errors, "%d errors; first: %s" % (len(errors), errors[0] if errors else ""))


@test
def concurrent_streams(ctx):
    gw = ctx.main
    key = _load_key(ctx)

    def worker(w):
        for j in range(5):
            s = gw.stream(chat_body(text="cs %d %d" % (w, j)), key=key)
            if s.status != 200:
                return "status %d" % s.status
            evs = s.read_all()
            if not evs or evs[-1][1] != "[DONE]":
                return "stream %d/%d did not end with [DONE]: %r" % (w, j, evs[-2:])
        return None
    res = [r for r in run_threads(10, worker) if r is not None]
    check(not res, "%d failed workers; first: %r" % (len(res), res[0] if res else ""))


@test
def sequential_streams_200(ctx):
    gw = ctx.main
    key = _load_key(ctx)
    errors, done, rss, lat = [], 0, [], []
    deadline = _budget(60)
    for i in range(200):
        if time.monotonic() > deadline:
            break
        t0 = time.monotonic()
        s = gw.stream(chat_body(text="stream load %d" % i,
                                stream_options={"include_usage": i % 2 == 0}), key=key)
        if s.status != 200:
            errors.append("stream %d: status %d" % (i, s.status))
            s.close()
        else:
            evs = s.read_all()
            if not evs or evs[-1][1] != "[DONE]":
                errors.append("stream %d: no [DONE]: %r" % (i, evs[-2:]))
            else:
                for _, d in evs[:-1]:
                    if json.loads(d).get("model") != "fake/gpt-test":
                        errors.append("stream %d: chunk model" % i)
                        break
        lat.append(time.monotonic() - t0)
        done += 1
        if i in (99, 199):
            rss.append(gw.rss_kib())
    check(not errors, "%d errors in %d streams; first: %s" % (len(errors), done,
                                                              errors[0] if errors else ""))
    eq(done, 200, "streams done within the time budget (%s)" % _lat_summary(lat))
    _check_latency(lat, "streams")
    ctx.shared["rss_stream"] = rss
    note("streaming: RSS after 100 %d KiB, after 200 %d KiB" % tuple(rss))


@test
def rss_stable(ctx):
    seq = ctx.shared.get("rss_seq")
    st = ctx.shared.get("rss_stream")
    check(seq and len(seq) == 2 and st and len(st) == 2, "load tests did not complete")
    if ASAN:
        note("RSS check skipped under ASan (quarantine); LeakSanitizer checks at exit")
        return
    check(seq[1] - seq[0] <= RSS_GROWTH_KIB,
          "RSS grew %d KiB between requests 500 and 1000" % (seq[1] - seq[0]))
    check(st[1] - st[0] <= RSS_GROWTH_KIB,
          "RSS grew %d KiB between streams 100 and 200" % (st[1] - st[0]))


@test
def fake_saw_every_request(ctx):
    # the fake counts chat requests it received; after the load it must still answer stats
    r = http(ctx.fake.port, "GET", "/_fake/stats")
    eq(r.status, 200, "fake stats")
    check(r.json.get("requests", 0) >= 1400, "fake saw %r requests" % r.json)


_ = SLOW
