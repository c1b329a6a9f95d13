-- SPDX-License-Identifier: Apache-2.0
-- wrk script for bench/shield/overhead.sh: POSTs a chat completion whose user message is about
-- 4 KB of benign prose (nothing any Shield pattern matches, so both targets forward it), with
-- the hiway key from BENCH_API_KEY, and ends with one machine-readable line.
local sentence = "Our team reviewed the quarterly roadmap and agreed to move the mobile release "
	.. "to the second week of the month, after the accessibility fixes land. "
local text = string.rep(sentence, math.floor(4096 / #sentence))
wrk.method = "POST"
wrk.body = '{"model":"fake/bench","messages":[{"role":"user","content":"' .. text
	.. '"}],"max_tokens":32}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or "")

function done(summary, latency, requests)
	local non2xx = summary.errors.status
	local sockerr = summary.errors.connect + summary.errors.read + summary.errors.write
		+ summary.errors.timeout
	io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d sockerr=%d\n",
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
		non2xx, sockerr))
end
