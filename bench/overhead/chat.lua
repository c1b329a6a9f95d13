-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/overhead/run.sh: POSTs one small chat completion for model "fake/bench"
-- (with the hiway key from BENCH_API_KEY when set) and ends with one machine-readable line,
-- so run.sh never has to parse wrk's human-oriented units.
wrk.method = "POST"
wrk.body = '{"model":"fake/bench","messages":[{"role":"user","content":'
	.. '"Say hello in one short sentence."}],"max_tokens":32}'
wrk.headers["Content-Type"] = "application/json"

local key = os.getenv("BENCH_API_KEY")
if key and key ~= "" then
	wrk.headers["Authorization"] = "Bearer " .. key
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"BENCH requests=%d duration_us=%d p50_us=%.0f p99_us=%.0f non2xx=%d sockerr=%d\n",
		summary.requests, summary.duration, latency:percentile(50.0),
		latency:percentile(99.0), e.status, e.connect + e.read + e.write + e.timeout))
end
