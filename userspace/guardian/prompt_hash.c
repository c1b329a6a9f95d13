// SPDX-License-Identifier: Apache-2.0
/* The canonical prompt hash and the response hash (SPEC §11.2). Netstrings make the
 * concatenation unambiguous; only what the model reads counts, so sampling parameters,
 * `stream` and max tokens never change the hash, and the internal form both endpoints
 * share makes a prompt hash alike through either. */
#include "guardian/guardian.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The hash runs on every admitted request: the digest is fetched once and each thread keeps
 * its context, so a call costs the SHA-256 itself, not a provider lookup and allocations. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;
static pthread_key_t ctx_key;

static void ctx_free(void *p)
{
	EVP_MD_CTX_free(p);
}

static void init_once(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	pthread_key_create(&ctx_key, ctx_free);
}

static EVP_MD_CTX *begin(void)
{
	pthread_once(&once, init_once);
	EVP_MD_CTX *h = pthread_getspecific(ctx_key);
	if (!h) {
		h = EVP_MD_CTX_new();
		if (!h || pthread_setspecific(ctx_key, h) != 0) {
			EVP_MD_CTX_free(h);
			return NULL;
		}
	}
	return EVP_DigestInit_ex(h, sha256_md ? sha256_md : EVP_sha256(), NULL) == 1 ? h : NULL;
}

static void ns(EVP_MD_CTX *h, const char *s, size_t len)
{
	char head[24];
	int n = snprintf(head, sizeof(head), "%zu:", len);
	EVP_DigestUpdate(h, head, (size_t)n);
	if (len)
		EVP_DigestUpdate(h, s, len);
	EVP_DigestUpdate(h, ",", 1);
}

static void ns_str(EVP_MD_CTX *h, const json_t *v)
{
	const char *s = json_string_value(v);
	ns(h, s ? s : "", s ? json_string_length(v) : 0);
}

/* The text parts of a content (a string, or an array of parts) joined by \n, as one
 * netstring: the length is known only at the end, so the parts are measured first. */
static void ns_content(EVP_MD_CTX *h, const json_t *content)
{
	if (json_is_string(content) || !json_is_array(content)) {
		ns_str(h, content);
		return;
	}
	size_t total = 0, n = 0, i;
	json_t *part;
	json_array_foreach(content, i, part)
	{
		const json_t *t = json_object_get(part, "text");
		if (json_is_string(t)) {
			total += json_string_length(t) + (n ? 1 : 0);
			n++;
		}
	}
	char head[24];
	int hn = snprintf(head, sizeof(head), "%zu:", total);
	EVP_DigestUpdate(h, head, (size_t)hn);
	n = 0;
	json_array_foreach(content, i, part)
	{
		const json_t *t = json_object_get(part, "text");
		if (!json_is_string(t))
			continue;
		if (n++)
			EVP_DigestUpdate(h, "\n", 1);
		EVP_DigestUpdate(h, json_string_value(t), json_string_length(t));
	}
	EVP_DigestUpdate(h, ",", 1);
}

static void ns_tool_calls(EVP_MD_CTX *h, const json_t *calls)
{
	size_t i;
	json_t *tc;
	json_array_foreach(calls, i, tc)
	{
		const json_t *fn = json_object_get(tc, "function");
		ns_str(h, json_object_get(fn, "name"));
		ns_str(h, json_object_get(fn, "arguments"));
	}
}

static int finish(EVP_MD_CTX *h, uint8_t out[HW_GD_HASH_LEN])
{
	unsigned len = 0;
	int ok = EVP_DigestFinal_ex(h, out, &len);
	return ok == 1 && len == HW_GD_HASH_LEN ? 0 : -EIO;
}

int hw_gd_prompt_hash(const json_t *rq, uint8_t out[HW_GD_HASH_LEN])
{
	const json_t *msgs = json_object_get(rq, "messages");
	if (!json_is_array(msgs))
		return -EINVAL;
	EVP_MD_CTX *h = begin();
	if (!h)
		return -ENOMEM;
	ns_str(h, json_object_get(rq, "model"));
	size_t i;
	json_t *m;
	json_array_foreach(msgs, i, m)
	{
		ns_str(h, json_object_get(m, "role"));
		ns_content(h, json_object_get(m, "content"));
		ns_tool_calls(h, json_object_get(m, "tool_calls"));
		ns_str(h, json_object_get(m, "tool_call_id"));
	}
	json_t *t;
	json_array_foreach(json_object_get(rq, "tools"), i, t)
	    ns_str(h, json_object_get(json_object_get(t, "function"), "name"));
	return finish(h, out);
}

int hw_gd_response_hash(const json_t *completion, uint8_t out[HW_GD_HASH_LEN])
{
	const json_t *msg =
	    json_object_get(json_array_get(json_object_get(completion, "choices"), 0), "message");
	EVP_MD_CTX *h = begin();
	if (!h)
		return -ENOMEM;
	ns_content(h, json_object_get(msg, "content"));
	ns_tool_calls(h, json_object_get(msg, "tool_calls"));
	return finish(h, out);
}
