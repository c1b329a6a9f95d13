// SPDX-License-Identifier: Apache-2.0
/* The seven routing analyzers of SPEC §7.3. Keywords of every list are normalized once,
 * merged (a word in several lists carries a bit per list) and grouped by their first word in
 * an open-addressing hash table. A request text is normalized once into a buffer and walked
 * word by word: each word costs one hash lookup, then the few keywords starting with that
 * word are compared in place, multi-word keywords included. */
#include "routing/analyzers.h"

#include <emmintrin.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const kw_greeting[] = {"hi",		  "hello",   "hey",	"good morning",
					  "good evening", "bonjour", "bonsoir", "salut",
					  "coucou",	  NULL};
static const char *const kw_confirmation[] = {
    "yes",     "no",  "ok",  "okay",	 "sure",  "thanks",  "thank you", "got it",    "great",
    "perfect", "oui", "non", "d'accord", "merci", "parfait", "super",	  "ça marche", NULL};
static const char *const kw_expert[] = {"prove",	"proof",	   "derive",
					"formally",	"rigorous",	   "architect",
					"architecture", "design a",	   "trade-off",
					"tradeoff",	"optimize",	   "optimise",
					"in depth",	"in-depth",	   "root cause",
					"step by step", "threat model",	   "démontre",
					"prouve",	"conçois",	   "concevoir",
					"compromis",	"optimiser",	   "en profondeur",
					"cause racine", "étape par étape", NULL};
static const char *const kw_simple_task[] = {"classify",  "categorize",	  "categorise",
					     "label",	  "tag",	  "extract",
					     "parse",	  "sentiment",	  "detect the language",
					     "keywords",  "yes or no",	  "true or false",
					     "classe",	  "classifie",	  "catégorise",
					     "étiquette", "extrais",	  "détecte la langue",
					     "mots-clés", "vrai ou faux", "oui ou non",
					     NULL};
static const char *const kw_action[] = {
    "write",   "create",    "generate",	 "implement", "build",	    "explain",
    "analyze", "analyse",   "compare",	 "rewrite",   "refactor",   "debug",
    "fix",     "translate", "summarize", "summarise", "draft",	    "plan",
    "écris",   "rédige",    "crée",	 "génère",    "implémente", "explique",
    "réécris", "corrige",   "traduis",	 "résume",    "planifie",   NULL};
static const char *const kw_question[] = {
    "what",	"why",	   "how",  "who",   "when",   "where",	"which",  "is",	   "are",
    "can",	"could",   "does", "do",    "should", "quel",	"quelle", "quels", "quelles",
    "pourquoi", "comment", "qui",  "quand", "où",     "est-ce", NULL};
static const char *const kw_constraint[] = {
    "must",	  "should",	"exactly",  "at least", "at most",     "no more than",
    "without",	  "only",	"ensure",   "never",	"always",      "doit",
    "doivent",	  "exactement", "au moins", "au plus",	"pas plus de", "sans",
    "uniquement", "toujours",	"jamais",   NULL};
static const char *const kw_structure[] = {"json",   "yaml",	"xml",	  "csv", "table",
					   "schema", "tableau", "schéma", NULL};
static const char *const kw_step[] = {"then",	 "after that",	 "finally",	 "first", "second",
				      "third",	 "next",	 "ensuite",	 "puis",  "enfin",
				      "d'abord", "premièrement", "deuxièmement", NULL};
static const char *const kw_system_agent[] = {"you have access to the following tools",
					      "available tools",
					      "function calling",
					      "vous avez accès aux outils",
					      "outils disponibles",
					      NULL};
static const char *const kw_system_reasoning[] = {"think step by step",
						  "reason carefully",
						  "chain of thought",
						  "let's think",
						  "réfléchis étape par étape",
						  "raisonne",
						  NULL};
static const char *const kw_system_code[] = {"debug",	    "refactor",	     "architect",
					     "code review", "pull request",  "stack trace",
					     "déboguer",    "revue de code", NULL};
static const char *const kw_code_talk[] = {
    "error",	"exception", "stack trace", "traceback",    "segfault",	  "segmentation fault",
    "bug",	"compile",   "compiler",    "null pointer", "debug",	  "erreur",
    "plantage", "bogue",     "compilation", "python",	    "javascript", "typescript",
    "rust",	"golang",    "java",	    "c++",	    "sql",	  "bash",
    "regex",	NULL};
static const char *const kw_finance[] = {
    "revenue", "ebitda", "valuation", "portfolio", "derivative", "hedge",  "balance sheet", "tax",
    "ifrs",    "gaap",	 "payment",   "bilan",	   "trésorerie", "fiscal", "comptabilité",  NULL};
static const char *const kw_medical[] = {"diagnosis", "symptom",      "dosage",	    "clinical",
					 "patient",   "prescription", "disease",    "diagnostic",
					 "posologie", "symptôme",     "ordonnance", "maladie",
					 NULL};
static const char *const kw_legal[] = {
    "contract", "liability",	  "gdpr", "clause",    "jurisdiction", "lawsuit",    "compliance",
    "contrat",	"responsabilité", "rgpd", "juridique", "tribunal",     "conformité", NULL};
static const char *const kw_security[] = {
    "vulnerability",  "cve",	       "exploit",     "encryption", "pentest", "malware",
    "authentication", "vulnérabilité", "chiffrement", "sécurité",   NULL};
static const char *const kw_science[] = {"theorem",    "integral",   "equation",    "quantum",
					 "statistics", "regression", "théorème",    "intégrale",
					 "équation",   "quantique",  "statistique", NULL};

static const char *const *const kw_defaults[HW_KW__COUNT] = {
    kw_greeting,  kw_confirmation, kw_expert,		kw_simple_task,
    kw_action,	  kw_question,	   kw_constraint,	kw_structure,
    kw_step,	  kw_system_agent, kw_system_reasoning, kw_system_code,
    kw_code_talk, kw_finance,	   kw_medical,		kw_legal,
    kw_security,  kw_science};

static const char *const kw_list_names[] = {HW_CFG_KEYWORD_LISTS};

_Static_assert(sizeof(kw_list_names) / sizeof(kw_list_names[0]) == HW_KW__COUNT,
	       "enum hw_kw_list must follow HW_CFG_KEYWORD_LISTS");

#define DOMAIN_MASK                                                                                \
	((1u << HW_KW_DOMAIN_FINANCE) | (1u << HW_KW_DOMAIN_MEDICAL) |                             \
	 (1u << HW_KW_DOMAIN_LEGAL) | (1u << HW_KW_DOMAIN_SECURITY) |                              \
	 (1u << HW_KW_DOMAIN_SCIENCE))

struct kw {
	const char *s; /* normalized, in the pool */
	uint32_t len;
	uint32_t tok_len; /* length of the leading run of word bytes; 0 when it starts otherwise */
	uint32_t lists;	  /* bit per enum hw_kw_list */
};

/* One first word and the run of keywords (kws[first .. first+count)) that start with it. */
struct kw_slot {
	const char *tok; /* NULL: empty slot */
	uint32_t tok_len, hash, first, count;
};

#define WORD_SIG_BITS 8192

static inline uint32_t word_sig_bit(const char *w, size_t len)
{
	uint32_t x = (uint32_t)(unsigned char)w[0] * 0x9E3779B1u ^
		     (uint32_t)(unsigned char)w[len - 1] * 0x85EBCA77u ^ (uint32_t)len * 0xC2B2AE3Du;
	return (x >> 13) & (WORD_SIG_BITS - 1);
}

struct hw_analyzers {
	char *pool;
	struct kw *kws;
	size_t n_kws;
	struct kw_slot *slots;
	uint32_t slot_mask;
	uint32_t n_punct; /* kws[0 .. n_punct) start with a non-word byte; checked everywhere */
	/* A one-probe Bloom filter over (first byte, last byte, length) of every keyword's first
	 * word: most words of a text are rejected on it, before any hashing. */
	uint64_t word_sig[WORD_SIG_BITS / 64];
	double weight[HW_AN__COUNT];
};

/* Bytes a keyword may not touch (§7.3): letters, digits and any byte of a non-ASCII
 * character. */
static const bool word_byte[256] = {
    ['0' ... '9'] = true, ['A' ... 'Z'] = true, ['a' ... 'z'] = true, [0x80 ... 0xFF] = true,
};

static inline bool is_word(unsigned char c)
{
	return word_byte[c];
}

static inline uint32_t hash_bytes(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* Normalizer state across the pieces of one text (parts of a message, several messages). */
struct norm {
	char *out;
	size_t n;
	int pending; /* whitespace seen since the last byte written: 0 none, 1 space, 2 newline */
};

/* Byte classes for the normalizer; most text is N (copied as is). */
enum { N, UP, WS, NL, LEAD };

static const unsigned char byte_class[256] = {
    ['\t'] = WS, ['\n'] = NL,	     ['\v'] = WS,   ['\f'] = WS,   ['\r'] = WS,
    [' '] = WS,	 ['A' ... 'Z'] = UP, [0xC2] = LEAD, [0xC3] = LEAD, [0xE2] = LEAD,
};

/* Plain bytes (class N or UP) to their lowercase form; 0 for every other byte (and NUL,
 * which then takes the general path). */
static unsigned char plain_lower[256];
static pthread_once_t plain_lower_once = PTHREAD_ONCE_INIT;

static void plain_lower_init(void)
{
	for (int c = 1; c < 256; c++)
		if (byte_class[c] == N || byte_class[c] == UP)
			plain_lower[c] = (unsigned char)(byte_class[c] == UP ? c + 32 : c);
}

/* Sixteen bytes at a time while they need nothing but lowercasing: printable ASCII with
 * lone spaces and line breaks (most of any prompt). Stops before a block with a non-ASCII
 * byte, a tab or other control byte, two whitespace bytes in a row, or leading whitespace;
 * a block ending in whitespace leaves that byte to the general path, which knows what
 * follows it. Returns the bytes consumed; out may receive up to 16 bytes past what it
 * reports, inside the buffer the input bounds. SSE2 is part of x86-64. */
static size_t norm_blocks(const unsigned char *p, size_t len, char *out, size_t *n_io)
{
#if defined(__SSE2__)
	size_t i = 0, n = *n_io;
	const __m128i below = _mm_set1_epi8(0x21), space = _mm_set1_epi8(' '),
		      nl = _mm_set1_epi8('\n'), a_1 = _mm_set1_epi8('A' - 1),
		      z1 = _mm_set1_epi8('Z' + 1), case_bit = _mm_set1_epi8(0x20);
	while (i + 16 <= len) {
		__m128i v = _mm_loadu_si128((const __m128i *)(p + i));
		if (_mm_movemask_epi8(v))
			break; /* a byte >= 0x80 */
		unsigned ws = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(v, below));
		if (ws) {
			unsigned plain_ws = (unsigned)_mm_movemask_epi8(
			    _mm_or_si128(_mm_cmpeq_epi8(v, space), _mm_cmpeq_epi8(v, nl)));
			if (plain_ws != ws || (ws & (ws >> 1)) || (n == 0 && (ws & 1)))
				break;
		}
		__m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, a_1), _mm_cmplt_epi8(v, z1));
		v = _mm_add_epi8(v, _mm_and_si128(upper, case_bit));
		_mm_storeu_si128((__m128i *)(out + n), v);
		size_t used = (ws & 0x8000) ? 15 : 16;
		n += used;
		i += used;
	}
	*n_io = n;
	return i;
#else
	(void)p;
	(void)len;
	(void)out;
	(void)n_io;
	return 0;
#endif
}

static void norm_feed(struct norm *s, const char *src, size_t len)
{
	/* Locals, not s->...: stores through a char pointer would force reloads of s. */
	const unsigned char *p = (const unsigned char *)src;
	char *out = s->out;
	size_t n = s->n;
	int pending = s->pending;
#define PUT(ch)                                                                                    \
	do {                                                                                       \
		if (pending) {                                                                     \
			if (n)                                                                     \
				out[n++] = pending == 2 ? '\n' : ' ';                              \
			pending = 0;                                                               \
		}                                                                                  \
		out[n++] = (char)(ch);                                                             \
	} while (0)
	for (size_t i = 0; i < len; i++) {
		/* The common case, a run of plain bytes with no space pending, in a tight loop. */
		if (!pending) {
			i += norm_blocks(p + i, len - i, out, &n);
			unsigned char m;
			while (i < len && (m = plain_lower[p[i]]) != 0) {
				out[n++] = (char)m;
				i++;
			}
			if (i == len)
				break;
		}
		unsigned char c = p[i];
		switch (byte_class[c]) {
		case N:
			PUT(c);
			break;
		case UP:
			PUT(c + 32);
			break;
		case WS:
			if (!pending)
				pending = 1;
			break;
		case NL:
			pending = 2;
			break;
		default:
			if (c == 0xC3 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9E &&
			    p[i + 1] != 0x97) {
				/* Latin-1 capitals U+00C0..U+00DE (not ×) sit 0x20 below their
				 * small letter. */
				PUT(0xC3);
				PUT(p[++i] + 0x20);
			} else if (c == 0xC2 && i + 1 < len && p[i + 1] == 0xA0) {
				/* No-break space: French puts it before ? and !; it must not glue
				 * words. */
				i++;
				if (!pending)
					pending = 1;
			} else if (c == 0xE2 && i + 2 < len && p[i + 1] == 0x80 &&
				   (p[i + 2] == 0x98 || p[i + 2] == 0x99 || p[i + 2] == 0xAF)) {
				/* Typographic apostrophes match "d'accord"; U+202F is the French
				 * thin no-break space. */
				if (p[i + 2] == 0xAF) {
					if (!pending)
						pending = 1;
				} else {
					PUT('\'');
				}
				i += 2;
			} else {
				PUT(c);
			}
		}
	}
#undef PUT
	s->n = n;
	s->pending = pending;
}

size_t hw_analyzers_normalize(const char *src, size_t len, char *dst)
{
	struct norm s = {dst, 0, 0};
	norm_feed(&s, src, len);
	return s.n;
}

static size_t word_run(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && is_word((unsigned char)s[i]))
		i++;
	return i;
}

/* Whether keyword k sits at t (n bytes left) and ends on a boundary; a space in the keyword
 * matches a space or a line break of the text. */
static inline bool kw_at(const struct kw *k, const char *t, size_t n)
{
	if (k->len > n)
		return false;
	for (uint32_t i = k->tok_len; i < k->len; i++) {
		char kc = k->s[i], tc = t[i];
		if (kc == ' ' ? (tc != ' ' && tc != '\n') : kc != tc)
			return false;
	}
	return k->len == n || !is_word((unsigned char)t[k->len]);
}

static const struct kw_slot *slot_find(const struct hw_analyzers *a, const char *tok, uint32_t len,
				       uint32_t h)
{
	for (uint32_t i = h & a->slot_mask;; i = (i + 1) & a->slot_mask) {
		const struct kw_slot *s = &a->slots[i];
		if (!s->tok)
			return NULL;
		if (s->hash == h && s->tok_len == len && memcmp(s->tok, tok, len) == 0)
			return s;
	}
}

/* Orders by first word; keywords without one come first. */
static int kw_cmp_tok(const struct kw *a, const struct kw *b)
{
	if ((a->tok_len == 0) != (b->tok_len == 0))
		return a->tok_len == 0 ? -1 : 1;
	uint32_t ta = a->tok_len, tb = b->tok_len;
	int c = memcmp(a->s, b->s, ta < tb ? ta : tb);
	return c ? c : (ta < tb ? -1 : ta > tb);
}

static int kw_cmp(const void *pa, const void *pb)
{
	const struct kw *a = pa, *b = pb;
	int c = kw_cmp_tok(a, b);
	if (c)
		return c;
	c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
	return c ? c : (a->len < b->len ? -1 : a->len > b->len);
}

static const struct hw_cfg_keyword_list *cfg_list(const struct hw_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->routing.n_keywords; i++)
		if (strcmp(cfg->routing.keywords[i].name, name) == 0)
			return &cfg->routing.keywords[i];
	return NULL;
}

/* Calls fn on every word of list l: the file's replacement, else the §7.3 defaults. */
static void each_word(const struct hw_config *cfg, int l,
		      void (*fn)(void *arg, const char *w, int list), void *arg)
{
	const struct hw_cfg_keyword_list *c = cfg_list(cfg, kw_list_names[l]);
	if (c) {
		for (size_t i = 0; i < c->n_words; i++)
			fn(arg, c->words[i], l);
		return;
	}
	for (const char *const *w = kw_defaults[l]; *w; w++)
		fn(arg, *w, l);
}

struct build_ctx {
	struct hw_analyzers *a;
	size_t pool_used, bytes, words;
};

static void count_word(void *arg, const char *w, int list)
{
	struct build_ctx *b = arg;
	b->bytes += strlen(w) + 1;
	b->words++;
}

static void add_word(void *arg, const char *w, int list)
{
	struct build_ctx *b = arg;
	char *dst = b->a->pool + b->pool_used;
	size_t n = hw_analyzers_normalize(w, strlen(w), dst);
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (dst[i] == '\n')
			dst[i] = ' ';
	dst[n] = '\0';
	b->pool_used += n + 1;
	b->a->kws[b->a->n_kws++] =
	    (struct kw){dst, (uint32_t)n, (uint32_t)word_run(dst, n), 1u << list};
}

/* Sorts, merges duplicates (one keyword, several lists) and hashes the first words. */
static int index_keywords(struct hw_analyzers *a)
{
	qsort(a->kws, a->n_kws, sizeof(*a->kws), kw_cmp);
	size_t n = 0;
	for (size_t i = 0; i < a->n_kws; i++) {
		if (n && a->kws[n - 1].len == a->kws[i].len &&
		    memcmp(a->kws[n - 1].s, a->kws[i].s, a->kws[i].len) == 0)
			a->kws[n - 1].lists |= a->kws[i].lists;
		else
			a->kws[n++] = a->kws[i];
	}
	a->n_kws = n;
	size_t groups = 0;
	for (size_t i = 0; i < n; i++) {
		if (a->kws[i].tok_len == 0)
			a->n_punct++;
		else if (i == 0 || kw_cmp_tok(&a->kws[i - 1], &a->kws[i]) != 0)
			groups++;
	}
	uint32_t cap = 16;
	while (cap < 2 * groups)
		cap <<= 1;
	a->slots = calloc(cap, sizeof(*a->slots));
	if (!a->slots)
		return -ENOMEM;
	a->slot_mask = cap - 1;
	for (size_t i = a->n_punct; i < n;) {
		const struct kw *k = &a->kws[i];
		size_t j = i + 1;
		while (j < n && kw_cmp_tok(k, &a->kws[j]) == 0)
			j++;
		uint32_t h = hash_bytes(k->s, k->tok_len);
		uint32_t bit = word_sig_bit(k->s, k->tok_len);
		a->word_sig[bit / 64] |= 1ull << (bit % 64);
		uint32_t s = h & a->slot_mask;
		while (a->slots[s].tok)
			s = (s + 1) & a->slot_mask;
		a->slots[s] = (struct kw_slot){k->s, k->tok_len, h, (uint32_t)i, (uint32_t)(j - i)};
		i = j;
	}
	return 0;
}

int hw_analyzers_build(const struct hw_config *cfg, struct hw_analyzers **out)
{
	pthread_once(&plain_lower_once, plain_lower_init);
	struct hw_analyzers *a = calloc(1, sizeof(*a));
	struct build_ctx b = {a, 0, 0, 0};
	int ret = -ENOMEM;
	*out = NULL;
	if (!a)
		return -ENOMEM;
	for (int l = 0; l < HW_KW__COUNT; l++)
		each_word(cfg, l, count_word, &b);
	a->pool = malloc(b.bytes + 1);
	a->kws = calloc(b.words + 1, sizeof(*a->kws));
	if (!a->pool || !a->kws)
		goto out;
	for (int l = 0; l < HW_KW__COUNT; l++)
		each_word(cfg, l, add_word, &b);
	if ((ret = index_keywords(a)) < 0)
		goto out;
	a->weight[HW_AN_INTENT] = cfg->routing.weights.intent;
	a->weight[HW_AN_COMPLEXITY] = cfg->routing.weights.complexity;
	a->weight[HW_AN_TOOLS] = cfg->routing.weights.tools;
	a->weight[HW_AN_SYSTEM_PROMPT] = cfg->routing.weights.system_prompt;
	a->weight[HW_AN_CODE] = cfg->routing.weights.code;
	a->weight[HW_AN_DOMAIN] = cfg->routing.weights.domain;
	a->weight[HW_AN_CONTEXT] = cfg->routing.weights.context;
	*out = a;
	return 0;
out:
	hw_analyzers_free(a);
	return ret;
}

void hw_analyzers_free(struct hw_analyzers *a)
{
	if (!a)
		return;
	free(a->pool);
	free(a->kws);
	free(a->slots);
	free(a);
}

/* Keyword matches in one normalized text. */
struct scan {
	uint32_t count[HW_KW__COUNT]; /* occurrences per list */
	uint32_t lists;		      /* lists with a match */
	uint32_t at_start;	      /* lists with a match at the first byte */
};

static inline void record(struct scan *s, const struct kw *k, size_t pos)
{
	uint32_t m = k->lists;
	s->lists |= m;
	if (pos == 0)
		s->at_start |= m;
	for (; m; m &= m - 1)
		s->count[__builtin_ctz(m)]++;
}

/* The code analyzer's word and line cues (§7.3), read during the user text's keyword scan
 * so that text is walked once: a line ending in `;` or `{`, `def x(`, `function x(`,
 * `class X` then `:`/`{`/`(`, `import x` at the start of a line, `select … from` on one
 * line. */
struct syntax {
	bool found;
	bool select_seen; /* on the current line */
	size_t line;      /* where the current line starts */
};

static bool named_then(const char *p, size_t n, const char *ends);
static inline bool is_ident(unsigned char c);

#define WORD_IS(w, n, lit) ((n) == sizeof(lit) - 1 && memcmp((w), (lit), sizeof(lit) - 1) == 0)

static void syntax_word(struct syntax *y, const char *t, size_t n, size_t i, size_t w)
{
	const char *p = t + i + w;
	size_t rem = n - i - w;
	if (WORD_IS(t + i, w, "def") || WORD_IS(t + i, w, "function"))
		y->found |= named_then(p, rem, "(");
	else if (WORD_IS(t + i, w, "class"))
		y->found |= named_then(p, rem, ":{(");
	else if (WORD_IS(t + i, w, "import"))
		y->found |= i == y->line && rem >= 2 && p[0] == ' ' && is_ident((unsigned char)p[1]);
	else if (WORD_IS(t + i, w, "select"))
		y->select_seen = true;
	else if (WORD_IS(t + i, w, "from"))
		y->found |= y->select_seen;
}

/* One word t[i, j): the code analyzer's cues, then the keywords whose first word it is. */
static inline void scan_word(const struct hw_analyzers *a, const char *t, size_t n, size_t i,
			     size_t j, struct scan *s, struct syntax *y)
{
	size_t len = j - i;
	if (y && !y->found && len >= 3 && len <= 8)
		syntax_word(y, t, n, i, len);
	uint32_t bit = word_sig_bit(t + i, len);
	if (!(a->word_sig[bit / 64] & (1ull << (bit % 64))))
		return;
	const struct kw_slot *sl = slot_find(a, t + i, (uint32_t)len, hash_bytes(t + i, len));
	if (sl)
		for (uint32_t k = sl->first; k < sl->first + sl->count; k++)
			if (kw_at(&a->kws[k], t + i, n - i))
				record(s, &a->kws[k], i);
}

static inline void scan_newline(const char *t, size_t i, struct syntax *y)
{
	if (i > y->line && (t[i - 1] == ';' || t[i - 1] == '{'))
		y->found = true;
	y->line = i + 1;
	y->select_seen = false;
}

/* Byte by byte: for keyword lists with entries that start with punctuation, which may
 * begin at any non-word byte. */
static void scan_bytes(const struct hw_analyzers *a, const char *t, size_t n, struct scan *s,
		       struct syntax *y)
{
	size_t i = 0;
	while (i < n) {
		if (!is_word((unsigned char)t[i])) {
			if (y && t[i] == '\n')
				scan_newline(t, i, y);
			/* Whole word runs are skipped below, so the byte before is never a word
			 * byte unless i ends one: that case is excluded here. */
			if (i == 0 || !is_word((unsigned char)t[i - 1]))
				for (uint32_t k = 0; k < a->n_punct; k++)
					if (kw_at(&a->kws[k], t + i, n - i))
						record(s, &a->kws[k], i);
			i++;
			continue;
		}
		size_t j = i + 1;
		while (j < n && is_word((unsigned char)t[j]))
			j++;
		scan_word(a, t, n, i, j, s, y);
		i = j;
	}
}

#if defined(__SSE2__)
/* Bit k: byte k of the 16 is a word byte ([0-9A-Za-z] or >= 0x80). */
static inline unsigned word_bits16(__m128i v)
{
	__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
				      _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
	__m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20)); /* 'A'..'Z' -> 'a'..'z' */
	__m128i letter = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)),
				       _mm_cmplt_epi8(folded, _mm_set1_epi8('z' + 1)));
	__m128i high = _mm_cmplt_epi8(v, _mm_setzero_si128()); /* >= 0x80 as signed < 0 */
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(digit, letter), high));
}
#endif

/* Keyword matches (and the code cues of the user text) in one normalized text. Word starts
 * and line breaks are found 64 bytes at a time from SIMD byte masks, so the per-byte work
 * is a few vector instructions and each word costs one filter test, most words rejected
 * before any hashing. */
static void scan_text(const struct hw_analyzers *a, const char *t, size_t n, struct scan *s,
		      struct syntax *y)
{
	if (y && n && (t[n - 1] == ';' || t[n - 1] == '{'))
		y->found = true;
#if defined(__SSE2__)
	if (a->n_punct) {
		scan_bytes(a, t, n, s, y);
		return;
	}
	uint64_t prev_word = 0;
	for (size_t base = 0; base < n; base += 64) {
		char pad[64];
		const char *blk = t + base;
		size_t left = n - base;
		if (left < 64) {
			memset(pad, 0, sizeof(pad));
			memcpy(pad, blk, left);
			blk = pad;
		}
		uint64_t wm = 0, nlm = 0;
		for (int k = 0; k < 4; k++) {
			__m128i v = _mm_loadu_si128((const __m128i *)(blk + 16 * k));
			wm |= (uint64_t)word_bits16(v) << (16 * k);
			nlm |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')))
			       << (16 * k);
		}
		uint64_t starts = wm & ~((wm << 1) | prev_word);
		uint64_t events = starts | (y ? nlm : 0);
		while (events) {
			unsigned off = (unsigned)__builtin_ctzll(events);
			events &= events - 1;
			size_t q = base + off;
			if ((nlm >> off) & 1) {
				scan_newline(t, q, y);
				continue;
			}
			uint64_t rest = ~wm & (~0ull << off);
			size_t e;
			if (rest) {
				e = base + (unsigned)__builtin_ctzll(rest);
			} else {
				e = base + 64; /* the word runs into the next block */
				while (e < n && is_word((unsigned char)t[e]))
					e++;
			}
			scan_word(a, t, n, q, e < n ? e : n, s, y);
		}
		prev_word = wm >> 63;
	}
#else
	scan_bytes(a, t, n, s, y);
#endif
}

/* Lists holding a keyword equal to the whole text. */
static uint32_t whole_match(const struct hw_analyzers *a, const char *t, size_t n)
{
	uint32_t m = 0, first = 0, count = a->n_punct;
	size_t tok = word_run(t, n);
	if (tok) {
		const struct kw_slot *sl = slot_find(a, t, (uint32_t)tok, hash_bytes(t, tok));
		if (!sl)
			return 0;
		first = sl->first;
		count = sl->count;
	}
	for (uint32_t k = first; k < first + count; k++)
		if (a->kws[k].len == n && kw_at(&a->kws[k], t, n))
			m |= a->kws[k].lists;
	return m;
}

static inline bool is_ident(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_' || c == '$';
}

/* After a keyword: " name", an optional space, then one of `ends`. */
static bool named_then(const char *p, size_t n, const char *ends)
{
	size_t i = 0;
	if (n < 3 || p[0] != ' ')
		return false;
	for (i = 1; i < n && is_ident((unsigned char)p[i]); i++)
		;
	if (i == 1)
		return false;
	if (i < n && p[i] == ' ')
		i++;
	return i < n && p[i] && strchr(ends, p[i]);
}

/* memmem for short literals: memchr on the first byte is much faster in practice. */
static bool contains(const char *t, size_t n, const char *lit, size_t ln)
{
	const char *p = t, *end = t + n;
	while ((size_t)(end - p) >= ln && (p = memchr(p, lit[0], (size_t)(end - p) - ln + 1))) {
		if (memcmp(p + 1, lit + 1, ln - 1) == 0)
			return true;
		p++;
	}
	return false;
}

/* The code analyzer's syntax cues (§7.3) on normalized text: the literal ones here, the
 * word and line ones from the keyword scan (struct syntax). Line structure survives
 * normalization as '\n'; indentation is gone. */
static bool has_syntax(const char *t, size_t n, const struct syntax *y)
{
	return y->found || contains(t, n, "#include", 8) || contains(t, n, "=>", 2) ||
	       contains(t, n, "</", 2);
}

static bool trailing_punct(char c)
{
	switch (c) {
	case '.':
	case ',':
	case ';':
	case ':':
	case '!':
	case '?':
	case ')':
	case ']':
	case '}':
	case '>':
	case '"':
	case '\'':
	case '`':
		return true;
	default:
		return false;
	}
}

static bool code_ext(const char *e, size_t n)
{
	/* Grouped by length, so most tokens are decided without a comparison. */
	static const char *const exts[5][10] = {
	    {NULL},
	    {"c", "h"},
	    {"cc", "py", "js", "ts", "go", "rs", "rb", "cs", "sh"},
	    {"cpp", "php", "sql", "yml"},
	    {"java", "yaml", "toml", "json"},
	};
	if (n == 0 || n > 4)
		return false;
	for (size_t i = 0; i < 10 && exts[n][i]; i++)
		if (memcmp(e, exts[n][i], n) == 0 && exts[n][i][n] == '\0')
			return true;
	return false;
}

/* A whitespace-separated token ending (trailing punctuation aside) in a source-file
 * extension after at least one letter or digit: `main.c`, `src/app.py`, `<stdio.h>`. Only
 * dots can start an extension, so the text is walked from dot to dot (memchr), not byte by
 * byte. */
static bool has_path(const char *t, size_t n)
{
	const char *end = t + n, *dot = t;
	while ((dot = memchr(dot, '.', (size_t)(end - dot)))) {
		const char *e = dot + 1;
		while (e < end && *e != ' ' && *e != '\n' && *e != '.')
			e++;
		const char *next = e;
		if (e < end && *e == '.') {
			/* Another dot in the token: an extension only if the rest is punctuation. */
			const char *r = e;
			while (r < end && *r != ' ' && *r != '\n' && trailing_punct(*r))
				r++;
			if (r < end && *r != ' ' && *r != '\n') {
				dot = next;
				continue;
			}
		}
		while (e > dot + 1 && trailing_punct(e[-1]))
			e--;
		if (dot > t && is_word((unsigned char)dot[-1]) && code_ext(dot + 1, (size_t)(e - dot - 1)))
			return true;
		dot = next;
	}
	return false;
}

/* `1. `, `2) `, `- `, `* ` or `•` opening a line. A space is required after the ASCII
 * markers so `*p = 1;` and `-1` are not list items. */
static bool list_marker(const char *l, size_t n)
{
	if (n >= 2 && (l[0] == '-' || l[0] == '*') && l[1] == ' ')
		return true;
	if (n >= 3 && memcmp(l, "\xe2\x80\xa2", 3) == 0)
		return true;
	size_t d = 0;
	while (d < n && d < 4 && l[d] >= '0' && l[d] <= '9')
		d++;
	return d > 0 && d < 4 && d + 1 < n && (l[d] == '.' || l[d] == ')') && l[d + 1] == ' ';
}

static unsigned list_lines(const char *t, size_t n)
{
	unsigned c = 0;
	size_t i = 0;
	while (i < n) {
		c += list_marker(t + i, n - i);
		const char *nl = memchr(t + i, '\n', n - i);
		if (!nl)
			break;
		i = (size_t)(nl - t) + 1;
	}
	return c;
}

static size_t utf8_chars(const char *t, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)t[i] & 0xC0) != 0x80;
	return c;
}

static bool is_text_part(const json_t *part)
{
	const char *type = json_string_value(json_object_get(part, "type"));
	return type && strcmp(type, "text") == 0 && json_is_string(json_object_get(part, "text"));
}

/* Upper bound of the normalized size of a content value: its text plus one joiner per part. */
static size_t content_len(const json_t *content)
{
	if (json_is_string(content))
		return json_string_length(content);
	size_t i, n = 0;
	const json_t *part;
	json_array_foreach(content, i, part) if (is_text_part(part)) n +=
	    json_string_length(json_object_get(part, "text")) + 1;
	return n;
}

/* Feeds a content value (string, or text parts joined by a line break) to the normalizer. */
static void content_feed(struct norm *s, const json_t *content)
{
	if (json_is_string(content)) {
		norm_feed(s, json_string_value(content), json_string_length(content));
		return;
	}
	size_t i;
	bool first = true;
	const json_t *part;
	json_array_foreach(content, i, part)
	{
		if (!is_text_part(part))
			continue;
		const json_t *text = json_object_get(part, "text");
		if (!first)
			norm_feed(s, "\n", 1);
		norm_feed(s, json_string_value(text), json_string_length(text));
		first = false;
	}
}

static double clamp1(double x)
{
	return x > 1.0 ? 1.0 : x < 0.0 ? 0.0 : x;
}

/* What one pass over `messages` tells the analyzers. */
struct msgs {
	const json_t *last_user;
	size_t sys_len;	  /* normalized-size bound of the system text */
	size_t sys_bytes; /* raw text bytes of the system text, for its token estimate */
	unsigned n_sys;
	bool tool_history;
};

static void walk_messages(const json_t *messages, struct msgs *m, struct hw_analysis *out)
{
	size_t i;
	const json_t *msg;
	json_array_foreach(messages, i, msg)
	{
		const char *role = json_string_value(json_object_get(msg, "role"));
		const json_t *content = json_object_get(msg, "content");
		if (!role)
			continue;
		if (strcmp(role, "user") == 0) {
			out->user_msgs++;
			m->last_user = content;
		} else if (strcmp(role, "assistant") == 0) {
			out->assistant_msgs++;
			if (json_array_size(json_object_get(msg, "tool_calls")))
				m->tool_history = true;
		} else if (strcmp(role, "tool") == 0) {
			out->tool_msgs++;
			m->tool_history = true;
		} else if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
			size_t len = content_len(content);
			m->sys_len += len + 1;
			m->sys_bytes += len;
			m->n_sys++;
		}
	}
}

static double intent_score(const struct hw_analyzers *a, const char *u, size_t n,
			   const struct scan *s, struct hw_analysis *out)
{
	size_t end = n;
	while (end && (trailing_punct(u[end - 1]) || u[end - 1] == ' ' || u[end - 1] == '\n'))
		end--;
	if (out->user_chars <= 40 && (s->at_start & (1u << HW_KW_GREETING))) {
		out->intent_kind = HW_INTENT_GREETING;
		return 0.0;
	}
	if (end && (whole_match(a, u, end) & (1u << HW_KW_CONFIRMATION))) {
		out->intent_kind = HW_INTENT_CONFIRMATION;
		return 0.05;
	}
	if (s->lists & (1u << HW_KW_EXPERT)) {
		out->intent_kind = HW_INTENT_EXPERT;
		return 1.0;
	}
	if (s->lists & (1u << HW_KW_SIMPLE_TASK)) {
		out->intent_kind = HW_INTENT_SIMPLE_TASK;
		return 0.20;
	}
	if (s->lists & (1u << HW_KW_ACTION)) {
		out->intent_kind = HW_INTENT_ACTION;
		return 0.60;
	}
	bool question = memchr(u, '?', n) || (s->at_start & (1u << HW_KW_QUESTION));
	out->intent_kind = question ? HW_INTENT_QUESTION : HW_INTENT_OTHER;
	return 0.40;
}

static double tools_score(const json_t *req, bool tool_history)
{
	size_t n = json_array_size(json_object_get(req, "tools"));
	if (!n)
		return tool_history ? 0.50 : 0.0;
	const json_t *tc = json_object_get(req, "tool_choice");
	const char *type = json_string_value(json_is_object(tc) ? json_object_get(tc, "type") : tc);
	/* "required", a named function, or an object of any type but auto/none forces a call. */
	bool forced = json_is_string(tc)
			  ? strcmp(type, "required") == 0
			  : json_is_object(tc) &&
				!(type && (strcmp(type, "auto") == 0 || strcmp(type, "none") == 0));
	return clamp1(0.50 + 0.05 * (double)n + (forced ? 0.20 : 0.0));
}

#define STACK_TEXT 8192

void hw_analyze(const struct hw_analyzers *a, const json_t *req, int64_t est_tokens,
		struct hw_analysis *out)
{
	struct msgs m = {0};
	struct scan su = {0}, ss = {0};
	char stack[STACK_TEXT];
	memset(out, 0, sizeof(*out));
	out->est_tokens = est_tokens;
	memcpy(out->weight, a->weight, sizeof(out->weight));
	walk_messages(json_object_get(req, "messages"), &m, out);

	size_t cap = (m.last_user ? content_len(m.last_user) : 0) + m.sys_len + 1;
	char *buf = cap <= sizeof(stack) ? stack : malloc(cap);
	if (!buf) {
		/* Out of memory: analyze without text rather than fail the request. */
		buf = stack;
		m.last_user = NULL;
		m.n_sys = 0;
		m.sys_bytes = 0;
	}
	struct norm nu = {buf, 0, 0};
	if (m.last_user)
		content_feed(&nu, m.last_user);
	const char *u = buf;
	size_t un = nu.n;
	struct norm ns = {buf + un, 0, 0};
	if (m.n_sys) {
		size_t i;
		const json_t *msg;
		json_array_foreach(json_object_get(req, "messages"), i, msg)
		{
			const char *role = json_string_value(json_object_get(msg, "role"));
			if (role &&
			    (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0)) {
				content_feed(&ns, json_object_get(msg, "content"));
				norm_feed(&ns, "\n", 1);
			}
		}
	}
	struct syntax syn = {0};
	scan_text(a, u, un, &su, &syn);
	scan_text(a, ns.out, ns.n, &ss, NULL);
	out->user_lists = su.lists;
	out->system_lists = ss.lists;
	/* Only the gates read it (<= 40, <= 600 characters): past 2,400 bytes a lower bound,
	 * a quarter of the bytes, says as much as the count. */
	out->user_chars = un <= 2400 ? utf8_chars(u, un) : un / 4;

	out->value[HW_AN_INTENT] = intent_score(a, u, un, &su, out);

	const char *rf =
	    json_string_value(json_object_get(json_object_get(req, "response_format"), "type"));
	bool structured =
	    (su.lists & (1u << HW_KW_STRUCTURE)) ||
	    (rf && (strcmp(rf, "json_object") == 0 || strcmp(rf, "json_schema") == 0));
	double steps = (double)list_lines(u, un) + su.count[HW_KW_STEP];
	out->value[HW_AN_COMPLEXITY] =
	    clamp1(0.10 * su.count[HW_KW_CONSTRAINT] + (structured ? 0.25 : 0.0) + 0.10 * steps);

	out->value[HW_AN_TOOLS] = tools_score(req, m.tool_history);

	if (ns.n) {
		/* The system prompt's own size, in §1.3 tokens, measures how much it asks. */
		double sys_tokens = (double)((m.sys_bytes + 3) / 4); // NOLINT(bugprone-integer-division): ceil in whole tokens
		out->reasoning_cue = ss.lists & (1u << HW_KW_SYSTEM_REASONING);
		out->value[HW_AN_SYSTEM_PROMPT] =
		    clamp1(0.5 * clamp1(sys_tokens / 4000.0) +
			   ((ss.lists & (1u << HW_KW_SYSTEM_AGENT)) ? 0.2 : 0.0) +
			   (out->reasoning_cue ? 0.2 : 0.0) +
			   ((ss.lists & (1u << HW_KW_SYSTEM_CODE)) ? 0.1 : 0.0));
	}

	bool fence = contains(u, un, "```", 3);
	out->value[HW_AN_CODE] = clamp1((fence ? 0.50 : 0.0) + (has_syntax(u, un, &syn) ? 0.20 : 0.0) +
					(has_path(u, un) ? 0.15 : 0.0) +
					((su.lists & (1u << HW_KW_CODE_TALK)) ? 0.15 : 0.0));

	out->value[HW_AN_DOMAIN] =
	    clamp1(0.5 * __builtin_popcount((su.lists | ss.lists) & DOMAIN_MASK));

	double turns = out->user_msgs > 1 ? (double)(out->user_msgs - 1) : 0.0;
	out->value[HW_AN_CONTEXT] =
	    clamp1(0.6 * clamp1((double)est_tokens / 8000.0) + 0.4 * clamp1(turns / 8.0));

	double sum = 0.0;
	for (int i = 0; i < HW_AN__COUNT; i++)
		sum += a->weight[i] * out->value[i];
	/* Half away from zero; the nudge keeps a sum meant to end in 5 from rounding down
	 * because of binary representation. */
	out->score_e4 = (int32_t)llround(sum * 10000.0 + 1e-6);
	out->score = out->score_e4 / 10000.0;
	if (buf != stack)
		free(buf);
}
