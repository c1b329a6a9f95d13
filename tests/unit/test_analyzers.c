// SPDX-License-Identifier: Apache-2.0
/* The routing analyzers and the score-to-tier step (SPEC §7.3, §7.4): the calibration lines,
 * a table of prompts with expected scores and tiers, normalization and word boundaries, French
 * and multi-word keywords, keyword and weight overrides from the configuration, threshold and
 * margin boundaries, and each ultra-light gate failing on its own. */
#include "routing/analyzers.h"
#include "routing/router.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct env {
	struct hw_config *cfg;
	struct hw_catalog *cat;
	struct hw_router *router;
};

static struct env *env_new(const char *yaml)
{
	char err[512] = "";
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	if (hw_config_load_string(yaml, strlen(yaml), "hiway.yaml", &e->cfg, err, sizeof(err)) != 0)
		fail_msg("config: %s", err);
	assert_int_equal(hw_catalog_build(e->cfg, &e->cat), 0);
	assert_int_equal(hw_router_build(e->cfg, e->cat, &e->router), 0);
	return e;
}

static void env_free(struct env *e)
{
	hw_router_free(e->router);
	hw_catalog_free(e->cat);
	hw_config_free(e->cfg);
	free(e);
}

static int setup(void **state)
{
	*state = env_new("");
	return 0;
}

static int teardown(void **state)
{
	env_free(*state);
	return 0;
}

static int64_t est_of(const char *text)
{
	return ((int64_t)strlen(text) + 3) / 4;
}

/* Analyzes a request whose only message is one user message. */
static void analyze_user(const struct env *e, const char *text, struct hw_analysis *a)
{
	json_t *req = json_pack("{s:[{s:s,s:s}]}", "messages", "role", "user", "content", text);
	assert_non_null(req);
	hw_analyze(hw_router_analyzers(e->router), req, est_of(text), a);
	json_decref(req);
}

static void analyze_json(const struct env *e, const char *body, int64_t est, struct hw_analysis *a)
{
	json_error_t jerr;
	json_t *req = json_loads(body, 0, &jerr);
	if (!req)
		fail_msg("bad test JSON: %s", jerr.text);
	hw_analyze(hw_router_analyzers(e->router), req, est, a);
	json_decref(req);
}

static const char *tier_of(const struct env *e, const struct hw_analysis *a, unsigned *mods)
{
	unsigned m = 0;
	const char *t = hw_tier_name(hw_router_score_tier(e->router, a, &m));
	if (mods)
		*mods = m;
	return t;
}

#define SEGFAULT_PROMPT                                                                            \
	"Why does this segfault?\n```c\nint main(void) {\n    char *p = 0;\n    *p = 1;\n"         \
	"    return 0;\n}\n```"

static void test_calibration(void **state)
{
	const struct env *e = *state;
	struct hw_analysis a;
	unsigned mods;
	char reason[192];

	analyze_user(e, "hi", &a);
	assert_true(fabs(a.score - 0.00) <= 0.01);
	assert_string_equal(tier_of(e, &a, &mods), "ultra-light");
	assert_int_equal(mods, HW_MOD_ULTRA_LIGHT);
	hw_route_reason(&a, mods, reason, sizeof(reason));
	assert_string_equal(reason, "trivial, ultra_light");

	analyze_user(e, "What is the capital of France?", &a);
	assert_true(fabs(a.score - 0.10) <= 0.01);
	assert_int_equal(a.intent_kind, HW_INTENT_QUESTION);
	assert_string_equal(tier_of(e, &a, NULL), "ultra-light");

	analyze_user(e, "Explain how TCP congestion control works", &a);
	assert_true(fabs(a.score - 0.15) <= 0.01);
	assert_int_equal(a.intent_kind, HW_INTENT_ACTION);
	assert_string_equal(tier_of(e, &a, &mods), "light");
	assert_int_equal(mods, 0);

	analyze_user(e, SEGFAULT_PROMPT, &a);
	assert_true(fabs(a.score - 0.27) <= 0.01);
	assert_true(fabs(a.value[HW_AN_CODE] - 0.85) < 1e-9);
	assert_true(fabs(a.value[HW_AN_INTENT] - 0.40) < 1e-9);
	assert_string_equal(tier_of(e, &a, &mods), "standard");
	assert_int_equal(mods, HW_MOD_MARGIN_BUMP);
	hw_route_reason(&a, mods, reason, sizeof(reason));
	assert_string_equal(reason, "intent=0.40, code=0.85, margin_bump"); /* the §7.7 example */
}

struct row {
	const char *prompt;
	double score;
	const char *tier;
	enum hw_intent_kind intent;
};

/* Expected scores worked out by hand from §7.3 (context adds 0.06·est_tokens/8000). */
static const struct row rows[] = {
    {"Hello!", 0.0000, "ultra-light", HW_INTENT_GREETING},
    {"Good morning, team", 0.0000, "ultra-light", HW_INTENT_GREETING},
    {"good\nmorning", 0.0000, "ultra-light", HW_INTENT_GREETING},
    {"Bonjour, ça va ?", 0.0000, "ultra-light", HW_INTENT_GREETING},
    {"Thanks!", 0.0125, "ultra-light", HW_INTENT_CONFIRMATION},
    {"thank you.", 0.0125, "ultra-light", HW_INTENT_CONFIRMATION},
    {"D'accord.", 0.0125, "ultra-light", HW_INTENT_CONFIRMATION},
    {"d\xe2\x80\x99"
     "accord !",
     0.0125, "ultra-light", HW_INTENT_CONFIRMATION},
    {"Ça marche !", 0.0125, "ultra-light", HW_INTENT_CONFIRMATION},
    {"Parfait", 0.0125, "ultra-light", HW_INTENT_CONFIRMATION},
    /* Not the whole text: a question. */
    {"ok but why?", 0.1000, "ultra-light", HW_INTENT_QUESTION},
    {"Classify this review as positive or negative", 0.0501, "ultra-light", HW_INTENT_SIMPLE_TASK},
    {"Détecte la langue de ce texte", 0.0501, "ultra-light", HW_INTENT_SIMPLE_TASK},
    {"Pourquoi le ciel est-il bleu ?", 0.1001, "ultra-light", HW_INTENT_QUESTION},
    {"Où est la gare", 0.1000, "ultra-light", HW_INTENT_QUESTION},
    {"Write a poem about the sea", 0.1501, "light", HW_INTENT_ACTION},
    {"ÉCRIS une lettre de motivation", 0.1501, "light", HW_INTENT_ACTION},
    {"Résume ce texte", 0.1500, "light", HW_INTENT_ACTION}, /* 0.15 fails the < 0.15 gate */
    /* Expert intent scores 0.25 alone: the margin bumps it to standard. */
    {"Prove that the square root of 2 is irrational", 0.2501, "standard", HW_INTENT_EXPERT},
    {"Démontre que la somme des angles vaut 180", 0.2501, "standard", HW_INTENT_EXPERT},
    {"Let us go step by step", 0.2500, "standard", HW_INTENT_EXPERT},
    {"Explique étape par étape", 0.2501, "standard", HW_INTENT_EXPERT},
    /* Word boundaries: "hint" is not "hi", "this" is not "is", "history" is not "hi". */
    {"hint: use a loop", 0.1000, "ultra-light", HW_INTENT_OTHER},
    {"This works fine", 0.1000, "ultra-light", HW_INTENT_OTHER},
    {"history of Rome", 0.1000, "ultra-light", HW_INTENT_OTHER},
    {"Is it raining", 0.1000, "ultra-light", HW_INTENT_QUESTION},
    /* Multi-word constraint: 0.25·0.40 + 0.15·0.10. */
    {"Give me at least three reasons", 0.1151, "ultra-light", HW_INTENT_OTHER},
    /* action 0.15 + complexity 0.15·(0.10·2 + 0.25 + 0.10·1). */
    {"Write a JSON schema. You must include at least 3 fields, then validate it.", 0.2326, "light",
     HW_INTENT_ACTION},
    /* action 0.15 + complexity 0.15·min(1, 0.10·5 list lines). */
    {"Plan my week:\n1. gym\n2) work\n- read\n* cook\n\xe2\x80\xa2 rest", 0.2251, "light",
     HW_INTENT_ACTION},
    /* question 0.10 + domain 0.10·min(1, 0.5·2); two medical words are one domain. */
    {"What is EBITDA and how does GDPR apply?", 0.2001, "light", HW_INTENT_QUESTION},
    {"Quelle posologie pour ce patient ?", 0.1501, "light", HW_INTENT_QUESTION},
    /* other 0.10 + code 0.20·0.15 (path). */
    {"Look at src/main.c please", 0.1301, "light", HW_INTENT_OTHER},
    /* other 0.10 + code 0.20·0.15 (talk: c++ as a keyword ending in punctuation). */
    {"I like c++ a lot", 0.1300, "light", HW_INTENT_OTHER},
    {"I like c++11 a lot", 0.1000, "ultra-light", HW_INTENT_OTHER},
};

static void test_prompt_table(void **state)
{
	const struct env *e = *state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct hw_analysis a;
		analyze_user(e, rows[i].prompt, &a);
		const char *tier = tier_of(e, &a, NULL);
		if (fabs(a.score - rows[i].score) > 0.00005 || strcmp(tier, rows[i].tier) != 0 ||
		    a.intent_kind != rows[i].intent)
			fail_msg(
			    "row %zu \"%s\": score %.4f tier %s intent %d, expected %.4f %s %d", i,
			    rows[i].prompt, a.score, tier, a.intent_kind, rows[i].score,
			    rows[i].tier, rows[i].intent);
	}
}

static void test_normalize(void **state)
{
	char out[128];
	const char *in = "  Hello\t\tWORLD \n\n  \xc3\x87"
			 "A  \xc3\x89T\xc3\x89\xc2\xa0!  x\xc3\x97y ";
	size_t n = hw_analyzers_normalize(in, strlen(in), out);
	out[n] = '\0';
	/* Ç and É lowercased, × (not a letter) kept, the no-break space is a space. */
	assert_string_equal(out, "hello world\n\xc3\xa7"
				 "a \xc3\xa9t\xc3\xa9 ! x\xc3\x97y");
	const char *apos = "D\xe2\x80\x99"
			   "ACCORD";
	n = hw_analyzers_normalize(apos, strlen(apos), out);
	out[n] = '\0';
	assert_string_equal(out, "d'accord");
}

static void test_word_boundaries(void **state)
{
	const struct env *e = *state;
	struct hw_analysis a;

	/* A non-ASCII letter touching a keyword blocks it: "hé" is not "hi"/"he". */
	analyze_user(e, "taxé", &a);
	assert_false(a.user_lists & (1u << HW_KW_DOMAIN_FINANCE));
	analyze_user(e, "tax", &a);
	assert_true(a.user_lists & (1u << HW_KW_DOMAIN_FINANCE));
	/* Digits touch too; punctuation does not. */
	analyze_user(e, "tax2", &a);
	assert_false(a.user_lists & (1u << HW_KW_DOMAIN_FINANCE));
	analyze_user(e, "(tax)", &a);
	assert_true(a.user_lists & (1u << HW_KW_DOMAIN_FINANCE));
	/* A keyword with a hyphen or an apostrophe matches as a whole only. */
	analyze_user(e, "a trade-off here", &a);
	assert_int_equal(a.intent_kind, HW_INTENT_EXPERT);
	analyze_user(e, "a trade offer", &a);
	assert_int_not_equal(a.intent_kind, HW_INTENT_EXPERT);
	analyze_user(e, "Est-ce que ça marche bien", &a);
	assert_int_equal(a.intent_kind, HW_INTENT_QUESTION);
	assert_true(a.user_lists & (1u << HW_KW_CONFIRMATION)); /* "ça marche" inside */
	/* Counting occurrences: three constraint words. */
	analyze_user(e, "must, must and never", &a);
	assert_true(fabs(a.value[HW_AN_COMPLEXITY] - 0.30) < 1e-9);
	/* Greeting only within 40 characters. */
	analyze_user(e, "Hi, could you write me a short note for Bob?", &a);
	assert_int_equal(a.intent_kind, HW_INTENT_ACTION);
}

static void test_code_analyzer(void **state)
{
	const struct env *e = *state;
	struct hw_analysis a;
	static const struct {
		const char *text;
		double code;
	} cases[] = {
	    {"def add(a, b): return a + b", 0.20},
	    {"function go() {}", 0.20},
	    {"class Foo(Base): pass", 0.20},
	    {"#include <stdio.h>", 0.35}, /* syntax + path */
	    {"import numpy as np", 0.20},
	    {"Can you import the data", 0.0}, /* the verb mid-sentence */
	    {"x => x * 2", 0.20},
	    {"SELECT name FROM users", 0.20},
	    {"<b>bold</b>", 0.20},
	    {"int x = 1;", 0.20},
	    {"see e.g. the docs, i.e. the manual", 0.0},
	    {"edit config.yaml, then run", 0.15},
	    {"a stack trace and a segfault", 0.15},
	    {"```\nplain\n```", 0.50},
	    {"The class is full", 0.0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		analyze_user(e, cases[i].text, &a);
		if (fabs(a.value[HW_AN_CODE] - cases[i].code) > 1e-9)
			fail_msg("\"%s\": code %.2f, expected %.2f", cases[i].text,
				 a.value[HW_AN_CODE], cases[i].code);
	}
}

static void test_tools_system_context(void **state)
{
	const struct env *e = *state;
	struct hw_analysis a;

	analyze_json(
	    e,
	    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\"}},"
	    "{\"type\":\"function\",\"function\":{\"name\":\"b\"}}],\"tool_choice\":\"required\"}",
	    50, &a);
	assert_true(fabs(a.value[HW_AN_TOOLS] - 0.80) < 1e-9);
	assert_string_equal(tier_of(e, &a, NULL), "light"); /* tools fail the gate */

	analyze_json(e,
		     "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
		     "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\"}}],"
		     "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"a\"}}}",
		     50, &a);
	assert_true(fabs(a.value[HW_AN_TOOLS] - 0.75) < 1e-9);

	analyze_json(e,
		     "{\"messages\":[{\"role\":\"user\",\"content\":\"go\"},"
		     "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\","
		     "\"type\":\"function\",\"function\":{\"name\":\"a\",\"arguments\":\"{}\"}}]},"
		     "{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"42\"}]}",
		     20, &a);
	assert_true(fabs(a.value[HW_AN_TOOLS] - 0.50) < 1e-9);
	assert_int_equal(a.assistant_msgs, 1);
	assert_int_equal(a.tool_msgs, 1);

	/* System prompt: 400 bytes = 100 tokens → 0.5·0.025, + agent 0.2 + reasoning 0.2 +
	 * code 0.1 (pull request). */
	char sys[512];
	snprintf(sys, sizeof(sys), "%-400s",
		 "You have access to the following tools. Think step "
		 "by step and review each pull request.");
	json_t *req = json_pack("{s:[{s:s,s:s},{s:s,s:s}]}", "messages", "role", "system",
				"content", sys, "role", "user", "content", "hi");
	hw_analyze(hw_router_analyzers(e->router), req, 101, &a);
	json_decref(req);
	assert_true(fabs(a.value[HW_AN_SYSTEM_PROMPT] - 0.5125) < 1e-9);
	assert_true(a.reasoning_cue);
	assert_string_equal(tier_of(e, &a, NULL), "light"); /* the reasoning cue fails the gate */

	/* Developer messages count as system text; text parts are joined. */
	analyze_json(e,
		     "{\"messages\":[{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
		     "\"text\":\"Be brief.\"},{\"type\":\"text\",\"text\":\"Raisonne.\"}]},"
		     "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Salut\"},"
		     "{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}]}]}",
		     760, &a);
	assert_true(a.reasoning_cue);
	assert_int_equal(a.intent_kind, HW_INTENT_GREETING);

	/* Context: 9 user turns and 8000 tokens saturate it. */
	json_t *msgs = json_array();
	for (int i = 0; i < 9; i++) {
		json_array_append_new(msgs,
				      json_pack("{s:s,s:s}", "role", "user", "content", "more"));
		json_array_append_new(msgs,
				      json_pack("{s:s,s:s}", "role", "assistant", "content", "ok"));
	}
	req = json_pack("{s:o}", "messages", msgs);
	hw_analyze(hw_router_analyzers(e->router), req, 8000, &a);
	assert_true(fabs(a.value[HW_AN_CONTEXT] - 1.0) < 1e-9);
	hw_analyze(hw_router_analyzers(e->router), req, 4000, &a);
	assert_true(fabs(a.value[HW_AN_CONTEXT] - 0.7) < 1e-9);
	json_decref(req);

	/* response_format asks for structure. */
	analyze_json(e,
		     "{\"messages\":[{\"role\":\"user\",\"content\":\"list colors\"}],"
		     "\"response_format\":{\"type\":\"json_object\"}}",
		     3, &a);
	assert_true(fabs(a.value[HW_AN_COMPLEXITY] - 0.25) < 1e-9);

	/* No user message at all, odd types: no crash, neutral intent. */
	analyze_json(e, "{\"messages\":[{\"role\":\"system\",\"content\":5},{\"content\":\"x\"}]}",
		     1, &a);
	assert_int_equal(a.user_msgs, 0);
	assert_int_equal(a.intent_kind, HW_INTENT_OTHER);
	analyze_json(e, "{}", 0, &a);
	assert_int_equal(a.score_e4, 1000);
}

static struct hw_analysis gate_base(void)
{
	struct hw_analysis a = {0};
	a.score_e4 = 1000;
	a.score = 0.1;
	a.intent_kind = HW_INTENT_QUESTION;
	a.user_msgs = 1;
	a.user_chars = 600;
	a.est_tokens = 500;
	return a;
}

static void test_thresholds_and_margin(void **state)
{
	const struct env *e = *state;
	static const struct {
		int32_t e4;
		const char *tier;
		unsigned mods;
	} cases[] = {
	    {2499, "light", 0},
	    {2500, "standard", HW_MOD_MARGIN_BUMP}, /* 0.30 - 0.05 belongs to the bump */
	    {2999, "standard", HW_MOD_MARGIN_BUMP},
	    {3000, "standard", 0}, /* the threshold belongs to the higher tier */
	    {6499, "standard", 0},
	    {6500, "heavy", HW_MOD_MARGIN_BUMP},
	    {6999, "heavy", HW_MOD_MARGIN_BUMP},
	    {7000, "heavy", 0},
	    {10000, "heavy", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hw_analysis a = gate_base();
		a.score_e4 = cases[i].e4;
		a.user_msgs = 2; /* keep the ultra-light gates out of it */
		unsigned mods;
		const char *t = tier_of(e, &a, &mods);
		if (strcmp(t, cases[i].tier) != 0 || mods != cases[i].mods)
			fail_msg("score %d: %s/%u, expected %s/%u", cases[i].e4, t, mods,
				 cases[i].tier, cases[i].mods);
	}
}

static void test_ultra_light_gates(void **state)
{
	const struct env *e = *state;
	struct hw_analysis a = gate_base();
	assert_string_equal(tier_of(e, &a, NULL), "ultra-light");
	a.score_e4 = 1499;
	assert_string_equal(tier_of(e, &a, NULL), "ultra-light");

	for (int gate = 0; gate < 10; gate++) {
		a = gate_base();
		switch (gate) {
		case 0:
			a.score_e4 = 1500;
			break;
		case 1:
			a.user_msgs = 2;
			break;
		case 2:
			a.user_msgs = 0;
			break;
		case 3:
			a.assistant_msgs = 1;
			break;
		case 4:
			a.tool_msgs = 1;
			break;
		case 5:
			a.value[HW_AN_TOOLS] = 0.5;
			break;
		case 6:
			a.value[HW_AN_CODE] = 0.15;
			break;
		case 7:
			a.intent_kind = HW_INTENT_EXPERT;
			break;
		case 8:
			a.reasoning_cue = true;
			break;
		default:
			a.user_chars = 601;
			break;
		}
		unsigned mods;
		if (strcmp(tier_of(e, &a, &mods), "light") != 0 || mods != 0)
			fail_msg("gate %d did not hold the request at light", gate);
	}
	a = gate_base();
	a.est_tokens = 501;
	assert_string_equal(tier_of(e, &a, NULL), "light");

	/* From real requests: a second user turn, an assistant turn. */
	struct hw_analysis r;
	analyze_json(e,
		     "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
		     "{\"role\":\"user\",\"content\":\"hi\"}]}",
		     2, &r);
	assert_string_equal(tier_of(e, &r, NULL), "light");
	analyze_json(e,
		     "{\"messages\":[{\"role\":\"assistant\",\"content\":\"hello\"},"
		     "{\"role\":\"user\",\"content\":\"hi\"}]}",
		     3, &r);
	assert_string_equal(tier_of(e, &r, NULL), "light");
	analyze_json(e,
		     "{\"messages\":[{\"role\":\"system\",\"content\":\"Be nice.\"},"
		     "{\"role\":\"user\",\"content\":\"hi\"}]}",
		     3, &r);
	assert_string_equal(tier_of(e, &r, NULL), "ultra-light");
}

static void test_config_overrides(void **state)
{
	struct env *e = env_new("routing:\n"
				"  keywords:\n"
				"    greeting: [\"yo\", \"Hiya  There\"]\n"
				"    action: [\"ponder\", \"où va\"]\n"
				"  thresholds: {ultra_light: 0.05}\n"
				"  ultra_light: {max_prompt_chars: 10}\n");
	struct hw_analysis a;

	analyze_user(e, "hi", &a); /* no longer a greeting */
	assert_int_equal(a.intent_kind, HW_INTENT_OTHER);
	assert_string_equal(tier_of(e, &a, NULL), "light"); /* 0.10 ≥ the 0.05 gate */
	analyze_user(e, "Yo!", &a);
	assert_int_equal(a.intent_kind, HW_INTENT_GREETING);
	assert_string_equal(tier_of(e, &a, NULL), "ultra-light");
	analyze_user(e, "hiya there friend", &a);
	assert_int_equal(a.intent_kind, HW_INTENT_GREETING);
	assert_string_equal(tier_of(e, &a, NULL), "light"); /* 17 characters > 10 */
	analyze_user(e, "Ponder life", &a);
	assert_int_equal(a.intent_kind, HW_INTENT_ACTION);
	analyze_user(e, "Write it", &a); /* "write" left the replaced list */
	assert_int_equal(a.intent_kind, HW_INTENT_OTHER);
	analyze_user(e, "Où va le train", &a);
	assert_int_equal(a.intent_kind, HW_INTENT_ACTION);
	analyze_user(e, "thanks", &a); /* lists not named keep their defaults */
	assert_int_equal(a.intent_kind, HW_INTENT_CONFIRMATION);
	env_free(e);

	e = env_new("routing:\n"
		    "  weights: {intent: 0.5, complexity: 0, tools: 0, system_prompt: 0, code: 0.5,"
		    " domain: 0, context: 0}\n"
		    "  ultra_light: {enabled: false}\n");
	analyze_user(e, "Explain how TCP congestion control works", &a);
	assert_int_equal(a.score_e4, 3000);
	assert_string_equal(tier_of(e, &a, NULL), "standard");
	analyze_user(e, "hi", &a);
	assert_string_equal(tier_of(e, &a, NULL), "light"); /* ultra-light disabled */
	env_free(e);
}

static void test_large_text(void **state)
{
	const struct env *e = *state;
	/* Beyond the stack buffer: the analysis must hold the same on a heap copy. */
	size_t n = 40000;
	char *big = malloc(n + 1);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = "word "[i % 5];
	memcpy(big + n - 20, " explain the revenue", 20);
	big[n] = '\0';
	struct hw_analysis a;
	analyze_user(e, big, &a);
	assert_int_equal(a.intent_kind, HW_INTENT_ACTION);
	assert_true(a.user_lists & (1u << HW_KW_DOMAIN_FINANCE));
	assert_true(fabs(a.value[HW_AN_CONTEXT] - 0.6) < 1e-9);
	free(big);
}

/* ---- the vector paths against byte-at-a-time references, on random texts ---- */

/* SPEC §7.3's normalization written the plain way: lowercase ASCII and Latin-1 capitals,
 * whitespace runs (no-break and thin no-break spaces included) to one space, or one line
 * break when the run holds one, none at the start; typographic apostrophes to '. */
static size_t reference_normalize(const char *src, size_t len, char *out)
{
	const unsigned char *p = (const unsigned char *)src;
	size_t n = 0;
	int pending = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned c = p[i];
		int ws = 0;
		if (c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r') {
			ws = 1;
		} else if (c == '\n') {
			ws = 2;
		} else if (c == 0xC2 && i + 1 < len && p[i + 1] == 0xA0) {
			ws = 1;
			i++;
		} else if (c == 0xE2 && i + 2 < len && p[i + 1] == 0x80 && p[i + 2] == 0xAF) {
			ws = 1;
			i += 2;
		}
		if (ws) {
			if (ws > pending)
				pending = ws;
			continue;
		}
		if (pending && n)
			out[n++] = pending == 2 ? '\n' : ' ';
		pending = 0;
		if (c >= 'A' && c <= 'Z') {
			out[n++] = (char)(c + 32);
		} else if (c == 0xC3 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9E &&
			   p[i + 1] != 0x97) {
			out[n++] = (char)0xC3;
			out[n++] = (char)(p[++i] + 0x20);
		} else if (c == 0xE2 && i + 2 < len && p[i + 1] == 0x80 &&
			   (p[i + 2] == 0x98 || p[i + 2] == 0x99)) {
			out[n++] = '\'';
			i += 2;
		} else {
			out[n++] = (char)c;
		}
	}
	return n;
}

/* A random text over pieces that exercise every normalization case and the analyzers'
 * keywords, in runs long enough for the 16- and 64-byte blocks. */
static size_t random_text(char *buf, size_t cap, unsigned *seed)
{
	static const char *const pieces[] = {
	    "a", "Z", "Hello", "world", "must", "Should", "JSON", "then", "explain", "def foo(",
	    "class Bar:", "select x from y", "import os", "main.c", "e.g.", "x;", "{", " ", "  ",
	    "\n", " \n ", "\t", "\r\n", "\xc2\xa0", "\xe2\x80\xaf", "\xe2\x80\x99", "\xc3\x89t\xc3\xa9",
	    "d'accord", "1. ", "- ", "```", "0123456789", "tax2", "abcdefghijklmnopqrstuvwxyz"};
	size_t n = 0;
	size_t want = (size_t)(rand_r(seed) % (unsigned)(cap - 64));
	while (n < want) {
		const char *piece = pieces[rand_r(seed) % (sizeof(pieces) / sizeof(pieces[0]))];
		size_t l = strlen(piece);
		memcpy(buf + n, piece, l);
		n += l;
	}
	return n;
}

static void test_normalize_matches_reference(void **state)
{
	(void)state;
	unsigned seed = 12345;
	static char text[2048], got[2048], want[2048];
	for (int round = 0; round < 3000; round++) {
		size_t len = random_text(text, sizeof(text) - 64, &seed);
		size_t gn = hw_analyzers_normalize(text, len, got);
		size_t wn = reference_normalize(text, len, want);
		if (gn != wn || memcmp(got, want, gn) != 0)
			fail_msg("round %d: normalization differs for %zu bytes", round, len);
	}
}

/* A keyword that starts with punctuation sends the scan byte by byte; it never occurs in
 * the random texts, so both scans must find exactly the same. */
static void test_scan_paths_agree(void **state)
{
	(void)state;
	struct env *vec = env_new("");
	struct env *bytes = env_new(
	    "routing: {keywords: {domain_science: [\"#qq#\", theorem, integral, equation, quantum, "
	    "statistics, regression, \"th\\u00e9or\\u00e8me\", \"int\\u00e9grale\", "
	    "\"\\u00e9quation\", quantique, statistique]}}\n");
	unsigned seed = 777;
	static char text[4096];
	for (int round = 0; round < 1500; round++) {
		size_t len = random_text(text, sizeof(text) - 64, &seed);
		text[len] = '\0';
		struct hw_analysis a, b;
		analyze_user(vec, text, &a);
		analyze_user(bytes, text, &b);
		for (int k = 0; k < HW_AN__COUNT; k++)
			if (a.value[k] != b.value[k])
				fail_msg("round %d: analyzer %d: %f vs %f", round, k, a.value[k], b.value[k]);
		assert_int_equal(a.user_lists, b.user_lists);
		assert_int_equal(a.score_e4, b.score_e4);
	}
	env_free(vec);
	env_free(bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_calibration),
	    cmocka_unit_test(test_prompt_table),
	    cmocka_unit_test(test_normalize),
	    cmocka_unit_test(test_word_boundaries),
	    cmocka_unit_test(test_code_analyzer),
	    cmocka_unit_test(test_tools_system_context),
	    cmocka_unit_test(test_thresholds_and_margin),
	    cmocka_unit_test(test_ultra_light_gates),
	    cmocka_unit_test(test_config_overrides),
	    cmocka_unit_test(test_large_text),
	    cmocka_unit_test(test_normalize_matches_reference),
	    cmocka_unit_test(test_scan_paths_agree),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
