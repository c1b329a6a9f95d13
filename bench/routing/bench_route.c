// SPDX-License-Identifier: Apache-2.0
/* Time of one hw_route call (SPEC §7: analyzers, tier, candidates, reason) on single prompts
 * from 100 B to 100 KB and a ~16 KB multi-turn conversation with tools. Each request is
 * parsed once like the gateway does (hw_chat_parse gives est_tokens); each routing call is
 * then timed on its own, a bounded number of times, and the p50, p99 and maximum printed.
 * Issue 3's target: p99 <= 20 us at 10 KB. */
#include "gateway/chat_request.h"
#include "routing/router.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TARGET_10KB_P99_NS 20000
#define MAX_CALLS 20000
#define BUDGET_NS 2000000000LL /* per request size: stop earlier on slow machines */

static const char config_yaml[] = "providers:\n"
				  "  openai: {api_key: sk-bench}\n"
				  "  mistral: {api_key: mk-bench}\n";

static const char paragraph[] =
    "We run a small online shop and our checkout service has started to time out under "
    "load since last week's deploy. Please explain what could cause the latency spikes, "
    "compare the usual suspects (database connection pool exhaustion, lock contention, "
    "slow third-party payment calls) and suggest how we should instrument the service. "
    "The answer must be practical: at most ten steps, in order, and it should mention "
    "which metrics to watch first. ";

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static char *one_prompt(const char *text)
{
	json_t *req = json_pack("{s:s,s:[{s:s,s:s}]}", "model", "auto", "messages", "role", "user",
				"content", text);
	char *s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return s;
}

/* ~16 KB: a system prompt, eight user/assistant turns, a tool call and its result, three
 * tools, and a last user question. */
static char *conversation(void)
{
	json_t *msgs = json_array();
	char sys[1200], turn[1400];
	snprintf(sys, sizeof(sys),
		 "You are a support agent for an online shop. You have access to the following "
		 "tools: lookup_order, refund, escalate. Think step by step before acting. %s%s",
		 paragraph, paragraph);
	json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", sys));
	for (int i = 0; i < 8; i++) {
		snprintf(turn, sizeof(turn), "Turn %d. %s%s", i, paragraph, paragraph);
		json_array_append_new(msgs,
				      json_pack("{s:s,s:s}", "role", "user", "content", turn));
		json_array_append_new(msgs,
				      json_pack("{s:s,s:s}", "role", "assistant", "content", turn));
	}
	json_array_append_new(
	    msgs, json_pack("{s:s,s:n,s:[{s:s,s:s,s:{s:s,s:s}}]}", "role", "assistant", "content",
			    "tool_calls", "id", "call_1", "type", "function", "function", "name",
			    "lookup_order", "arguments", "{\"order_id\":\"A-1234\"}"));
	json_array_append_new(msgs,
			      json_pack("{s:s,s:s,s:s}", "role", "tool", "tool_call_id", "call_1",
					"content", "{\"status\":\"shipped\",\"carrier\":\"UPS\"}"));
	json_array_append_new(msgs,
			      json_pack("{s:s,s:s}", "role", "user", "content",
					"Why was my order A-1234 shipped twice? Please fix the "
					"invoice and explain the refund policy in a table."));
	json_t *tools = json_array();
	const char *names[] = {"lookup_order", "refund", "escalate"};
	for (int i = 0; i < 3; i++)
		json_array_append_new(
		    tools,
		    json_pack("{s:s,s:{s:s,s:s,s:{s:s,s:{s:{s:s}},s:[s]}}}", "type", "function",
			      "function", "name", names[i], "description",
			      "Acts on an order of the shop.", "parameters", "type", "object",
			      "properties", "order_id", "type", "string", "required", "order_id"));
	json_t *req = json_pack("{s:s,s:o,s:o,s:s,s:i}", "model", "auto", "messages", msgs, "tools",
				tools, "tool_choice", "auto", "max_tokens", 1024);
	char *s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	return s;
}

/* A user prompt of about `size` bytes: prose with a question, a list and a code fence, so
 * every analyzer has something to read. */
static char *sized_prompt(size_t size)
{
	static const char code[] = "```c\nint main(void) { return 0; }\n```\n";
	char *text = malloc(size + sizeof(paragraph) + sizeof(code));
	size_t n = 0;
	while (n + sizeof(paragraph) < size) {
		memcpy(text + n, paragraph, sizeof(paragraph) - 1);
		n += sizeof(paragraph) - 1;
		if (n > size / 2 && n < size / 2 + sizeof(paragraph)) {
			memcpy(text + n, code, sizeof(code) - 1);
			n += sizeof(code) - 1;
		}
	}
	memcpy(text + n, "Why?", 5);
	if (size < 200)
		snprintf(text, size, "Why does this query time out under load? Be brief.");
	char *body = one_prompt(text);
	free(text);
	return body;
}

/* p99 of the 10 KB prompt and of the busy loop of the same median, for the target line. */
static int64_t p99_10kb = -1, p99_10kb_floor = -1;

/* The machine's own tail: a busy loop calibrated to last `ns`, timed like a routing call.
 * On a virtual machine, interrupts cost tens of microseconds each and land in about 1 % of
 * 10 us windows, so no code that runs that long can show a lower p99 than this. */
static int64_t floor_p99(int64_t ns, int n)
{
	static int64_t t[MAX_CALLS];
	volatile uint64_t sink = 0;
	uint64_t iters = 1000;
	for (int tries = 0; tries < 20; tries++) { /* calibrate on medians of short batches */
		int64_t best = INT64_MAX;
		for (int k = 0; k < 50; k++) {
			int64_t t0 = now_ns();
			for (uint64_t i = 0; i < iters; i++)
				sink += i * 7;
			int64_t d = now_ns() - t0;
			best = d < best ? d : best;
		}
		iters = best > 0 ? iters * (uint64_t)ns / (uint64_t)best : iters * 2;
		if (iters == 0)
			iters = 1;
	}
	for (int k = 0; k < n; k++) {
		int64_t t0 = now_ns();
		for (uint64_t i = 0; i < iters; i++)
			sink += i * 7;
		t[k] = now_ns() - t0;
	}
	qsort(t, (size_t)n, sizeof(t[0]), cmp_i64);
	return t[(n * 99) / 100];
}

static void bench(const struct hw_router *r, const char *label, const char *body)
{
	struct hw_chat_req chat;
	char param[64], msg[256];
	if (hw_chat_parse(body, strlen(body), &chat, param, sizeof(param), msg, sizeof(msg)) != 0) {
		fprintf(stderr, "bench: %s: %s\n", label, msg);
		exit(1);
	}
	struct hw_route_workspace ws = {.profile = HW_PROFILE_BALANCED};
	struct hw_route_request rq = {
	    .request = chat.root,
	    .model = chat.model,
	    .est_tokens = chat.est_tokens,
	    .max_tokens = chat.max_tokens ? chat.max_tokens : 4096,
	    .has_tools = chat.n_tools > 0,
	};
	struct hw_route_result res;
	static int64_t t[MAX_CALLS];
	volatile double sink = 0;
	int n = 0;
	int64_t start = now_ns();
	while (n < MAX_CALLS && now_ns() - start < BUDGET_NS) {
		int64_t t0 = now_ns();
		if (hw_route(r, &ws, &rq, &res) != 0) {
			fprintf(stderr, "bench: %s: %s\n", label, res.msg);
			exit(1);
		}
		t[n++] = now_ns() - t0;
		sink += res.score;
	}
	qsort(t, (size_t)n, sizeof(t[0]), cmp_i64);
	int64_t p99 = t[(n * 99) / 100], p50 = t[n / 2];
	int64_t floor = floor_p99(p50, n);
	printf("%-26s %7zu bytes  est_tokens %6lld  tier %-11s calls %5d  p50 %7.2f us  p99 %7.2f us"
	       "  max %8.2f us  busy-loop p99 %7.2f us  reason \"%s\"\n",
	       label, strlen(body), (long long)chat.est_tokens, res.tier, n, p50 / 1e3, p99 / 1e3,
	       t[n - 1] / 1e3, floor / 1e3, res.reason);
	if (strstr(label, "10 KB")) {
		p99_10kb = p99;
		p99_10kb_floor = floor;
	}
	(void)sink;
	hw_chat_req_free(&chat);
}

int main(void)
{
	struct hw_config *cfg;
	struct hw_catalog *cat;
	struct hw_router *r;
	char err[256];
	if (hw_config_load_string(config_yaml, strlen(config_yaml), "bench.yaml", &cfg, err,
				  sizeof(err)) != 0 ||
	    hw_catalog_build(cfg, &cat) != 0 || hw_router_build(cfg, cat, &r) != 0) {
		fprintf(stderr, "bench: setup failed %s\n", err);
		return 1;
	}
	printf("hw_route, each call timed on its own (at most %d calls or %.0f s per request)\n",
	       MAX_CALLS, BUDGET_NS / 1e9);
	char *hi = one_prompt("hi");
	bench(r, "\"hi\"", hi);
	free(hi);
	static const struct {
		const char *label;
		size_t size;
	} sizes[] = {{"100 B prompt", 100}, {"1 KB prompt", 1024}, {"10 KB prompt", 10240},
		     {"100 KB prompt", 102400}};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *body = sized_prompt(sizes[i].size);
		bench(r, sizes[i].label, body);
		free(body);
	}
	char *conv = conversation();
	bench(r, "16 KB conversation, tools", conv);
	free(conv);
	printf("target: p99 <= %.0f us at 10 KB: %.2f us, %s (a busy loop of the same median: p99 "
	       "%.2f us on this machine)\n",
	       TARGET_10KB_P99_NS / 1e3, p99_10kb / 1e3,
	       p99_10kb >= 0 && p99_10kb <= TARGET_10KB_P99_NS ? "met" : "NOT met",
	       p99_10kb_floor / 1e3);
	hw_router_free(r);
	hw_catalog_free(cat);
	hw_config_free(cfg);
	return 0;
}
