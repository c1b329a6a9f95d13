/* SPDX-License-Identifier: Apache-2.0 */
/* The seven routing analyzers and the complexity score (SPEC §7.3), over the OpenAI
 * chat-completions request (the internal form both ingresses are converted into).
 * Keyword lists are normalized and hashed once per configuration; analyzing a request
 * reads the JSON in place, needs no regex and allocates only when the user and system
 * texts together exceed a stack buffer. */
#ifndef HW_ROUTING_ANALYZERS_H
#define HW_ROUTING_ANALYZERS_H

#include "common/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The §7.3 word lists, in the order of HW_CFG_KEYWORD_LISTS (bit i of a list mask). */
enum hw_kw_list {
	HW_KW_GREETING,
	HW_KW_CONFIRMATION,
	HW_KW_EXPERT,
	HW_KW_SIMPLE_TASK,
	HW_KW_ACTION,
	HW_KW_QUESTION,
	HW_KW_CONSTRAINT,
	HW_KW_STRUCTURE,
	HW_KW_STEP,
	HW_KW_SYSTEM_AGENT,
	HW_KW_SYSTEM_REASONING,
	HW_KW_SYSTEM_CODE,
	HW_KW_CODE_TALK,
	HW_KW_DOMAIN_FINANCE,
	HW_KW_DOMAIN_MEDICAL,
	HW_KW_DOMAIN_LEGAL,
	HW_KW_DOMAIN_SECURITY,
	HW_KW_DOMAIN_SCIENCE,
	HW_KW__COUNT
};

/* Which rule of the intent analyzer decided (first match wins). */
enum hw_intent_kind {
	HW_INTENT_GREETING,
	HW_INTENT_CONFIRMATION,
	HW_INTENT_EXPERT,
	HW_INTENT_SIMPLE_TASK,
	HW_INTENT_ACTION,
	HW_INTENT_QUESTION,
	HW_INTENT_OTHER,
};

/* The analyzers in the order of the §7.3 table; reasons list them in this order. */
enum hw_analyzer {
	HW_AN_INTENT,
	HW_AN_COMPLEXITY,
	HW_AN_TOOLS,
	HW_AN_SYSTEM_PROMPT,
	HW_AN_CODE,
	HW_AN_DOMAIN,
	HW_AN_CONTEXT,
	HW_AN__COUNT
};

struct hw_analysis {
	/* Each analyzer's score in [0, 1], indexed by enum hw_analyzer. */
	double value[HW_AN__COUNT];
	double weight[HW_AN__COUNT]; /* the configured weights the score used */
	double score;		     /* weighted sum rounded half away from zero to 4 decimals */
	int32_t score_e4;	     /* the same in ten-thousandths: what every decision compares */
	/* What the ultra-light gates (§7.4) need beyond the score. */
	enum hw_intent_kind intent_kind;
	bool reasoning_cue; /* the system text holds a reasoning cue */
	unsigned user_msgs, assistant_msgs, tool_msgs;
	size_t user_chars;  /* characters of the normalized last user text */
	int64_t est_tokens; /* as given (SPEC §1.3) */
	/* Lists with at least one match (bit = enum hw_kw_list), for logs and tests. */
	uint32_t user_lists, system_lists;
};

/* Normalized, hashed keyword tables and weights; immutable once built, shared by threads. */
struct hw_analyzers;

/* Builds the tables from the §7.3 defaults, each list replaced by cfg->routing.keywords when
 * named there, and the weights of cfg->routing.weights. Returns 0 or -ENOMEM. */
int hw_analyzers_build(const struct hw_config *cfg, struct hw_analyzers **out);
/* Frees what hw_analyzers_build made; NULL is fine. */
void hw_analyzers_free(struct hw_analyzers *a);

/* Runs the seven analyzers on an OpenAI-form request whose text weighs est_tokens (§1.3).
 * Never fails: missing or ill-typed fields count as absent. */
void hw_analyze(const struct hw_analyzers *a, const json_t *request, int64_t est_tokens,
		struct hw_analysis *out);

/* The §7.3 normalization of src into dst (ASCII and Latin-1 letters lowercased, typographic
 * apostrophes made ASCII, whitespace runs collapsed to one space, or one newline when the run
 * holds one; ends trimmed). dst needs len bytes; returns the length written (no NUL). */
size_t hw_analyzers_normalize(const char *src, size_t len, char *dst);

#endif
