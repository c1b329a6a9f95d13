// SPDX-License-Identifier: Apache-2.0
/* The per-request cost of steps 9 and 10 alone (issue 5 target: <= 1 µs): hw_guardian_admit
 * with every rule on and limits out of reach, on one hot key and spread over 10,000 keys,
 * and the canonical prompt hash of the overhead benchmark's small prompt. Prints ns per
 * call; time never decides anything here. */
#include "common/clock.h"
#include "common/config.h"
#include "guardian/guardian.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 2000000

int main(void)
{
	char err[256];
	struct hw_config *cfg = NULL;
	const char *y = "guardian: {dedup: {count: 1000000}, limits: {rpm_log_max: 10000000,"
			" dedup_log_max: 1000000}}\n";
	if (hw_config_load_string(y, strlen(y), "bench", &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct hw_gd_limits lim;
	hw_gd_limits_from_config(cfg, &lim);
	struct hw_guardian *g = hw_guardian_new(&lim);
	const struct hw_gd_settings *s = hw_guardian_settings(g, cfg, "ws");
	uint8_t h[HW_GD_HASH_LEN] = {7};
	struct hw_gd_outcome o;
	static char ids[10000][32];
	for (int i = 0; i < 10000; i++)
		snprintf(ids[i], sizeof(ids[i]), "kid_%020d", i);

	int64_t t0 = hw_clock_mono_ns(), now = 1800000000000LL;
	for (int i = 0; i < N; i++) {
		/* 10,000 requests a simulated second: the RPM log holds 600,000 entries. */
		struct hw_gd_request rq = {"kid_hot", 10000000, s, h, 20, now + i / 10};
		hw_guardian_admit(g, &rq, &o);
	}
	int64_t t1 = hw_clock_mono_ns();
	for (int i = 0; i < N; i++) {
		struct hw_gd_request rq = {ids[i % 10000], 600, s, h, 20, now + i / 10};
		hw_guardian_admit(g, &rq, &o);
	}
	int64_t t2 = hw_clock_mono_ns();
	json_t *rq =
	    json_loads("{\"model\":\"fake/bench\",\"messages\":[{\"role\":\"user\","
		       "\"content\":\"Say hello in one short sentence.\"}],\"max_tokens\":32}",
		       0, NULL);
	for (int i = 0; i < N / 10; i++)
		hw_gd_prompt_hash(rq, h);
	int64_t t3 = hw_clock_mono_ns();
	printf("admit, one hot key (all rules on):  %.0f ns/request\n", (double)(t1 - t0) / N);
	printf("admit, 10,000 keys (all rules on):  %.0f ns/request\n", (double)(t2 - t1) / N);
	printf("canonical prompt hash, small prompt: %.0f ns/request\n",
	       (double)(t3 - t2) / (N / 10));
	json_decref(rq);
	hw_guardian_free(g);
	hw_config_free(cfg);
	return 0;
}
