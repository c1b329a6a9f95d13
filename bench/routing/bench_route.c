// SPDX-License-Identifier: Apache-2.0
/* Time of one hw_route call (SPEC §7: analyzers, tier, candidates, reason) on three requests:
 * "hi", a ~1 KB prompt and a ~16 KB multi-turn conversation with tools. Each request is
 * parsed once like the gateway does (hw_chat_parse gives est_tokens); the loop then times
 * only routing. Prints the median and the minimum ns per call over bounded rounds. */
#include "gateway/chat_request.h"
#include "routing/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 201
#define CALLS_PER_ROUND 500

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
	int64_t per_call[ROUNDS];
	volatile double sink = 0;
	for (int round = 0; round < ROUNDS; round++) {
		int64_t t0 = now_ns();
		for (int i = 0; i < CALLS_PER_ROUND; i++) {
			if (hw_route(r, &ws, &rq, &res) != 0) {
				fprintf(stderr, "bench: %s: %s\n", label, res.msg);
				exit(1);
			}
			sink += res.score;
		}
		per_call[round] = (now_ns() - t0) / CALLS_PER_ROUND;
	}
	qsort(per_call, ROUNDS, sizeof(per_call[0]), cmp_i64);
	printf("%-28s %6zu bytes  est_tokens %5lld  tier %-11s median %6lld ns  min %6lld ns"
	       "  reason \"%s\"\n",
	       label, strlen(body), (long long)chat.est_tokens, res.tier,
	       (long long)per_call[ROUNDS / 2], (long long)per_call[0], res.reason);
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
	char kb[1100];
	snprintf(kb, sizeof(kb), "%s%s", paragraph, paragraph);
	char *hi = one_prompt("hi"), *one_kb = one_prompt(kb), *conv = conversation();
	printf("hw_route, %d rounds of %d calls, ns per call\n", ROUNDS, CALLS_PER_ROUND);
	bench(r, "(a) \"hi\"", hi);
	bench(r, "(b) ~1 KB prompt", one_kb);
	bench(r, "(c) ~16 KB conversation", conv);
	free(hi);
	free(one_kb);
	free(conv);
	hw_router_free(r);
	hw_catalog_free(cat);
	hw_config_free(cfg);
	return 0;
}
