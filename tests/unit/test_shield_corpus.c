// SPDX-License-Identifier: Apache-2.0
/* The Shield's labelled corpus (tests/shield/corpus): every malicious sample must be found
 * with its expected type, every benign one must score 0. Prints detection and
 * false-positive rates per type; asserts >= 95 % detection and <= 1 % false positives
 * overall. A malicious sample found under another type counts as a miss. */
#include "shield/scanner.h"

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static struct hw_shield_db *db;
static const struct hw_shield_scores scores = {.of = {
	[HW_THREAT_SECRETS] = 0.95, [HW_THREAT_JAILBREAK] = 0.90, [HW_THREAT_PROMPT_INJECTION] = 0.80,
	[HW_THREAT_PROMPT_EXTRACTION] = 0.75, [HW_THREAT_PII] = 0.70}};

/* The corpus next to the sources: from build/tests/<bin>, two levels up. */
static FILE *open_corpus(const char *name)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/../../tests/shield/corpus/%s", exe, name);
			FILE *f = fopen(path, "r");
			if (f)
				return f;
		}
	}
	snprintf(path, sizeof(path), "tests/shield/corpus/%s", name);
	return fopen(path, "r");
}

struct tally {
	unsigned total[HW_THREAT__COUNT], hit[HW_THREAT__COUNT];
	unsigned benign, fp, fp_as[HW_THREAT__COUNT];
};

static void run_file(const char *name, bool malicious, struct tally *t)
{
	FILE *f = open_corpus(name);
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		json_error_t jerr;
		json_t *s = json_loads(line, 0, &jerr);
		if (!s)
			fail_msg("%s:%u: %s", name, lineno, jerr.text);
		const char *text = json_string_value(json_object_get(s, "text"));
		const char *want = json_string_value(json_object_get(s, "type"));
		assert_non_null(text);
		assert_non_null(want);
		struct hw_shield_result r;
		assert_int_equal(hw_shield_scan(db, NULL, &scores, text, strlen(text), &r), 0);
		if (malicious) {
			int type = hw_threat_parse(want);
			if (type < 0)
				fail_msg("%s:%u: unknown type %s", name, lineno, want);
			t->total[type]++;
			if (r.type == (enum hw_threat)type)
				t->hit[type]++;
			else
				printf("  missed (%s, got %s): %s\n", want, hw_threat_name(r.type), text);
		} else {
			t->benign++;
			if (r.type != HW_THREAT_NONE) {
				t->fp++;
				t->fp_as[r.type]++;
				printf("  false positive (%s): %s\n", hw_threat_name(r.type), text);
			}
		}
		json_decref(s);
	}
	free(line);
	fclose(f);
}

static void test_corpus(void **state)
{
	struct tally t = {0};
	run_file("malicious.jsonl", true, &t);
	run_file("benign.jsonl", false, &t);
	unsigned total = 0, hit = 0;
	printf("%-18s %8s %10s %12s\n", "threat_type", "samples", "detection", "false_pos");
	for (int i = 0; i < HW_THREAT__COUNT; i++) {
		total += t.total[i];
		hit += t.hit[i];
		printf("%-18s %8u %9.1f%% %11.2f%%\n", hw_threat_name((enum hw_threat)i), t.total[i],
		       t.total[i] ? 100.0 * t.hit[i] / t.total[i] : 0.0,
		       t.benign ? 100.0 * t.fp_as[i] / t.benign : 0.0);
	}
	double detection = total ? 100.0 * hit / total : 0, fp = t.benign ? 100.0 * t.fp / t.benign : 100;
	printf("%-18s %8u %9.1f%% %11.2f%%  (%u benign)\n", "overall", total, detection, fp, t.benign);
	assert_true(total >= 300);
	assert_true(t.benign >= 300);
	for (int i = 0; i < HW_THREAT__COUNT; i++)
		assert_true(t.total[i] > 0);
	assert_true(detection >= 95.0);
	assert_true(fp <= 1.0);
}

static int setup(void **state)
{
	char err[512];
	if (hw_shield_db_load("", &db, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	hw_shield_db_free(db);
	hw_shield_thread_release();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_corpus)};
	return cmocka_run_group_tests(tests, setup, teardown);
}
