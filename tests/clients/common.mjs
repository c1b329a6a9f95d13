// SPDX-License-Identifier: Apache-2.0
// Shared by openai_client.mjs and anthropic_client.mjs: arguments, jobs, JSON result lines.
//
//   node <script> BASE_URL KEY SCENARIO [OPTIONS_JSON]      one scenario, one line out
//   node <script> --jobs JOBS_JSON                          several, run concurrently
//
// JOBS_JSON is [{"base": BASE_URL, "key": KEY, "scenario": NAME, "opts": {...}}, ...]; a
// node process costs about half a second, so the integration suite runs a scenario on every
// backend in one process. One line per job, in job order:
//   {"job": i, "scenario": ..., "ok": true, ...what the SDK returned}
//   {"job": i, "scenario": ..., "ok": false, "error": {...what the SDK raised}, "partial": {...}}
// Every job prints its line, whatever it raised; the exit status is 0 unless the arguments
// were wrong (2).

function usage(msg) {
	process.stderr.write(msg + '\nusage: node script.mjs BASE_URL KEY SCENARIO [OPTIONS_JSON]\n' +
			     '       node script.mjs --jobs JOBS_JSON\n');
	process.exit(2);
}

export function parseJobs() {
	const a = process.argv.slice(2);
	if (a[0] === '--jobs') {
		if (a.length !== 2) usage('--jobs takes one JSON argument');
		const jobs = JSON.parse(a[1]);
		if (!Array.isArray(jobs)) usage('JOBS_JSON is not an array');
		return jobs.map((j) => ({ base: j.base, key: j.key, scenario: j.scenario,
					  opts: j.opts ?? {} }));
	}
	if (a.length < 3 || a.length > 4) usage('wrong number of arguments');
	return [{ base: a[0], key: a[1], scenario: a[2], opts: a[3] ? JSON.parse(a[3]) : {} }];
}

/* What an SDK exception carries, in plain JSON. `classes` maps names to SDK error classes:
 * the result lists the ones the exception is an instance of. */
export function errorInfo(e, classes) {
	const out = {
		class: e?.constructor?.name ?? typeof e,
		message: String(e?.message ?? e),
		status: e?.status ?? null,
		instance_of: Object.entries(classes)
			.filter(([, cls]) => typeof cls === 'function' && e instanceof cls)
			.map(([name]) => name),
	};
	for (const f of ['type', 'code', 'param', 'requestID']) {
		if (e?.[f] !== undefined) out[f] = e[f];
	}
	if (e?.error !== undefined) out.body = e.error;
	return out;
}

export function headerMap(headers) {
	const out = {};
	if (headers && typeof headers.forEach === 'function') {
		headers.forEach((v, k) => {
			out[k.toLowerCase()] = v;
		});
	}
	return out;
}

/* Runs the jobs concurrently: scenarios[name](client, opts, partial) with
 * client = makeClient(base, key, opts); prints one line per job. */
export async function main(makeClient, scenarios, classes) {
	const jobs = parseJobs();
	process.on('unhandledRejection', (e) => {
		process.stderr.write('unhandled rejection: ' + JSON.stringify(errorInfo(e, classes)) + '\n');
	});
	const results = await Promise.all(jobs.map(async (job, i) => {
		const head = { job: i, scenario: job.scenario };
		const fn = scenarios[job.scenario];
		if (!fn) {
			return { ...head, ok: false,
				 error: { class: 'usage', message: 'unknown scenario ' + job.scenario } };
		}
		const partial = {};
		try {
			const res = await fn(makeClient(job.base, job.key, job.opts), job.opts, partial);
			return { ...head, ok: true, ...res };
		} catch (e) {
			return { ...head, ok: false, error: errorInfo(e, classes), partial };
		}
	}));
	for (const r of results) process.stdout.write(JSON.stringify(r) + '\n');
}
