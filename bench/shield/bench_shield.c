// SPDX-License-Identifier: Apache-2.0
/* Shield scan throughput (issue 6): the Hyperscan database of config/shield against a PCRE2
 * loop over the same patterns (each compiled with JIT, run one after the other, validators
 * on their matches), in the same run, over benign prompts of 1 KB, 100 KB and 1 MB. Prints
 * GB/s for both, Hyperscan with and without the prompt's SHA-256, and the ratio. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "shield/scanner.h"
#include "shield/validators.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const sentences[] = {
	"Could you summarize the quarterly report and list the three biggest risks? ",
	"Peux-tu résumer le compte rendu de la réunion de lundi en cinq points ? ",
	"The function returns early when the buffer is empty, which hides the real error. ",
	"Nous devons migrer la base PostgreSQL vers la version 16 avant la fin du mois. ",
	"Here is the stack trace from the staging server, line 42 looks suspicious. ",
	"Écris un courriel poli pour décaler la livraison de la commande 2024-118. ",
	"Translate the onboarding guide into Spanish and keep the headings as they are. ",
	"Le client demande un devis pour 250 licences et un support de deux ans. ",
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Benign mixed English and French prose of about `size` bytes, cut at a sentence end so
 * the text stays valid UTF-8. */
static char *make_text(size_t size, size_t *len)
{
	char *t = malloc(size + 256);
	size_t n = 0;
	for (size_t i = 0; n < size; i++) {
		const char *s = sentences[i % (sizeof(sentences) / sizeof(sentences[0]))];
		size_t l = strlen(s);
		if (n + l > size && n > 0)
			break;
		memcpy(t + n, s, l);
		n += l;
	}
	t[n] = '\0';
	*len = n;
	return t;
}

struct pcre_pat {
	pcre2_code *re;
	hw_validator_fn validator;
};

static struct pcre_pat *pcre_load(size_t *count)
{
	static const char *const files[] = {"secrets", "jailbreak", "prompt_injection", "prompt_extraction", "pii"};
	struct hw_shield_pattern *list = NULL;
	size_t n = 0;
	char err[256];
	for (size_t f = 0; f < 5; f++) {
		char path[128];
		snprintf(path, sizeof(path), "config/shield/%s.txt", files[f]);
		FILE *fp = fopen(path, "rb");
		if (!fp) {
			perror(path);
			exit(1);
		}
		static char buf[1 << 20];
		size_t got = fread(buf, 1, sizeof(buf) - 1, fp);
		buf[got] = '\0';
		fclose(fp);
		if (hw_shield_patterns_parse(buf, (enum hw_threat)f, &list, &n, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			exit(1);
		}
	}
	struct pcre_pat *p = calloc(n, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		int ec;
		PCRE2_SIZE off;
		p[i].re = pcre2_compile((PCRE2_SPTR)list[i].expr, PCRE2_ZERO_TERMINATED,
					PCRE2_CASELESS | PCRE2_UTF, &ec, &off, NULL);
		if (!p[i].re || pcre2_jit_compile(p[i].re, PCRE2_JIT_COMPLETE) != 0) {
			fprintf(stderr, "pcre2: cannot compile %s\n", list[i].expr);
			exit(1);
		}
		p[i].validator = list[i].validator ? hw_validator_find(list[i].validator) : NULL;
	}
	hw_shield_patterns_free(list, n);
	*count = n;
	return p;
}

/* One pattern at a time over the whole text: the first match ends a pattern without a
 * validator; a validated pattern goes on until a match passes. Returns the matches found. */
static unsigned pcre_scan(const struct pcre_pat *p, size_t n, pcre2_match_data *md, const char *text,
			  size_t len)
{
	unsigned found = 0;
	for (size_t i = 0; i < n; i++) {
		PCRE2_SIZE start = 0;
		while (start <= len &&
		       pcre2_jit_match(p[i].re, (PCRE2_SPTR)text, len, start, 0, md, NULL) > 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
			if (!p[i].validator || p[i].validator(text, len, ov[0], ov[1])) {
				found++;
				break;
			}
			start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
		}
	}
	return found;
}

int main(void)
{
	struct hw_shield_db *db;
	char err[512];
	if (hw_shield_db_load("config/shield", &db, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	size_t np;
	struct pcre_pat *pats = pcre_load(&np);
	pcre2_match_data *md = pcre2_match_data_create(16, NULL);
	const struct hw_shield_scores scores = {.of = {0.95, 0.90, 0.80, 0.75, 0.70}};
	const size_t sizes[] = {1024, 100 * 1024, 1024 * 1024};
	printf("%zu patterns, one Hyperscan database vs %zu PCRE2 JIT patterns one by one\n", np, np);
	printf("%-8s %14s %16s %12s %10s\n", "prompt", "hyperscan GB/s", "+sha256 GB/s", "pcre2 GB/s",
	       "ratio");
	for (size_t s = 0; s < 3; s++) {
		size_t len;
		char *text = make_text(sizes[s], &len);
		struct hw_shield_result r;
		/* Each side runs for at least 0.5 s; the first call warms the scratch space. */
		hw_shield_match(db, NULL, &scores, text, len, &r);
		if (r.type != HW_THREAT_NONE || pcre_scan(pats, np, md, text, len) != 0) {
			fprintf(stderr, "benign text matched (%s)\n", hw_threat_name(r.type));
			return 1;
		}
		double t0 = now_s(), hs_bytes = 0;
		while (now_s() - t0 < 0.5) {
			for (int k = 0; k < 16; k++)
				hw_shield_match(db, NULL, &scores, text, len, &r);
			hs_bytes += 16.0 * (double)len;
		}
		double hs = hs_bytes / (now_s() - t0) / 1e9;
		t0 = now_s();
		double sha_bytes = 0;
		while (now_s() - t0 < 0.5) {
			for (int k = 0; k < 16; k++)
				hw_shield_scan(db, NULL, &scores, text, len, &r);
			sha_bytes += 16.0 * (double)len;
		}
		double sha = sha_bytes / (now_s() - t0) / 1e9;
		t0 = now_s();
		double pc_bytes = 0;
		while (now_s() - t0 < 0.5) {
			pcre_scan(pats, np, md, text, len);
			pc_bytes += (double)len;
		}
		double pc = pc_bytes / (now_s() - t0) / 1e9;
		printf("%-8s %14.2f %16.2f %12.3f %9.1fx\n",
		       s == 0 ? "1 KB" : s == 1 ? "100 KB" : "1 MB", hs, sha, pc, hs / pc);
		free(text);
	}
	for (size_t i = 0; i < np; i++)
		pcre2_code_free(pats[i].re);
	free(pats);
	pcre2_match_data_free(md);
	hw_shield_db_free(db);
	hw_shield_thread_release();
	return 0;
}
