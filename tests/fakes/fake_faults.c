// SPDX-License-Identifier: Apache-2.0
/* fake_faults.c: the fault options of fake-upstream and the answer it gives, in no wire format.
 *
 * Faults come from the request body's "fake" object (which a gateway forwards verbatim only to
 * OpenAI-format providers) merged with a FAKE{...json...} marker in the last user message's
 * text, which survives translation to Anthropic or Gemini because it is part of the prompt.
 * The answer is "fake: " + the last user text (marker included), "fake: tool result: " + a
 * trailing tool result, or a call to the first (or chosen) tool, arguments {}, when tools are
 * offered and the conversation ends with user text.
 *
 * Options (e.g. "please answer FAKE{\"status\":503,\"retry_after\":\"2\"}"); "chunks" are
 * SSE events, counted from 0:
 *   status N, retry_after N|"text"   answer N in the format's error shape, with Retry-After
 *   headers_delay_ms, first_byte_delay_ms, chunk_delay_ms   sleep before headers / first event /
 *                                    each later event (first_byte delays a JSON answer's headers)
 *   stall_after_chunks N, cut_after_chunks N   hold the stream 120 s / drop the connection there
 *   malformed (+ malformed_after_chunks N)     truncated JSON body / one broken event (default 0)
 *   error_after_chunks N (+ error_status S)    end the stream with the format's error event
 *   no_usage, content "text", content_type "t", empty_body, finish "length"
 *   usage_on_finish                  OpenAI-format streams carry the usage on the finish chunk
 *                                    and send no usage chunk, whatever stream_options asks,
 *                                    as Mistral does
 *   tool_calls [{"name":..,"arguments":{..}}]  answer these calls
 *   cache_read_tokens N, cache_creation_tokens N   prompt-cache usage to report
 *   oversized N                      the answer's text is N bytes of 'x' (body > N bytes)
 *   close_keepalive true|"idle"      "Connection: close" and close / keep-alive advertised but
 *                                    the socket closed right after the answer
 *   only_model "m"|["m", ...]        the options apply only to requests for these models */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake.h"

#define PIECE_MAX 16384 /* longest streamed piece, so an oversized answer is not one event */

static atomic_uint_fast64_t g_next_id;

static long fault_long(json_t *fake, const char *key, long dflt)
{
	json_t *v = json_object_get(fake, key);
	if (!json_is_number(v))
		return dflt;
	double d = json_number_value(v);
	return d < 0 ? dflt : d > 86400000.0 ? 86400000 : (long)d;
}

static size_t fault_count(json_t *fake, const char *key, size_t dflt)
{
	long v = fault_long(fake, key, -1);
	return v < 0 ? dflt : (size_t)v;
}

static const char *find_marker(const char *text)
{
	return text ? strstr(text, "FAKE{") : NULL;
}

/* `only_model` (a model name or an array of them) limits the fault to requests for those
 * upstream models, so one request can fail on a gateway's first candidate and succeed on
 * its fallback. */
static bool fault_applies(const json_t *o, const char *model)
{
	json_t *only = json_object_get(o, "only_model");
	if (!only)
		return true;
	if (!model)
		return false;
	if (json_is_string(only))
		return strcmp(json_string_value(only), model) == 0;
	size_t i;
	json_t *v;
	json_array_foreach(only, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), model) == 0)
			return true;
	}
	return false;
}

int fault_parse(const struct prompt *p, struct fault *f, const char **msg)
{
	memset(f, 0, sizeof(*f));
	f->merged = json_is_object(p->fake) ? json_deep_copy(p->fake) : json_object();
	if (!f->merged) {
		*msg = "out of memory";
		return -1;
	}
	const char *marker = find_marker(p->user_text);
	if (!marker)
		marker = find_marker(p->tool_result);
	if (marker) {
		json_error_t jerr;
		/* The object ends wherever its closing brace is; the rest of the text is prose. */
		json_t *m = json_loads(marker + 4, JSON_DISABLE_EOF_CHECK, &jerr);
		if (!json_is_object(m)) {
			json_decref(m);
			*msg = "fake-upstream: the FAKE{...} marker is not a JSON object";
			return -1;
		}
		json_object_update(f->merged, m);
		json_decref(m);
	}
	if (!fault_applies(f->merged, p->model))
		json_object_clear(f->merged);
	json_t *o = f->merged;
	f->status = fault_long(o, "status", 200);
	json_t *ra = json_object_get(o, "retry_after");
	if (json_is_string(ra))
		snprintf(f->retry_after, sizeof(f->retry_after), "%s", json_string_value(ra));
	else if (fault_long(o, "retry_after", -1) >= 0)
		snprintf(f->retry_after, sizeof(f->retry_after), "%ld",
			 fault_long(o, "retry_after", 0));
	f->headers_delay_ms = fault_long(o, "headers_delay_ms", 0);
	f->first_byte_delay_ms = fault_long(o, "first_byte_delay_ms", 0);
	f->chunk_delay_ms = fault_long(o, "chunk_delay_ms", 0);
	f->stall_after = fault_count(o, "stall_after_chunks", NONE);
	f->cut_after = fault_count(o, "cut_after_chunks", NONE);
	f->malformed_after = fault_count(o, "malformed_after_chunks", 0);
	f->error_after = fault_count(o, "error_after_chunks", NONE);
	f->error_status = fault_long(o, "error_status", 0);
	f->oversized = fault_count(o, "oversized", 0);
	f->malformed = json_is_true(json_object_get(o, "malformed"));
	f->no_usage = json_is_true(json_object_get(o, "no_usage"));
	f->usage_on_finish = json_is_true(json_object_get(o, "usage_on_finish"));
	f->empty_body = json_is_true(json_object_get(o, "empty_body"));
	json_t *ck = json_object_get(o, "close_keepalive");
	if (json_is_string(ck) && strcmp(json_string_value(ck), "idle") == 0)
		f->close = CLOSE_IDLE;
	else if (json_is_true(ck) || json_is_string(ck))
		f->close = CLOSE_HEADER;
	f->content = json_string_value(json_object_get(o, "content"));
	f->content_type = json_string_value(json_object_get(o, "content_type"));
	f->finish = json_string_value(json_object_get(o, "finish"));
	f->cache_read = fault_long(o, "cache_read_tokens", 0);
	f->cache_creation = fault_long(o, "cache_creation_tokens", 0);
	f->tool_calls = json_object_get(o, "tool_calls");
	if (f->tool_calls && !json_is_array(f->tool_calls)) {
		*msg = "fake-upstream: fake.tool_calls must be an array";
		return -1;
	}
	return 0;
}

void fault_free(struct fault *f)
{
	json_decref(f->merged);
	f->merged = NULL;
}

const char *fault_message(unsigned int status)
{
	if (status == 429)
		return "Rate limit reached (the fake upstream was told to fail).";
	if (status == 503 || status == 529)
		return "Overloaded (the fake upstream was told to fail).";
	return "The fake upstream was told to fail.";
}

static int add_call(struct answer *a, const char *name, json_t *input)
{
	struct call *c = realloc(a->calls, (a->ncalls + 1) * sizeof(*c));
	if (!c)
		return -1;
	a->calls = c;
	c = &a->calls[a->ncalls];
	c->input = json_is_object(input) ? json_deep_copy(input) : json_object();
	c->name = strdup(name ? name : "");
	c->args = c->input ? json_dumps(c->input, JSON_COMPACT) : NULL;
	a->ncalls++;
	return c->name && c->args ? 0 : -1;
}

static char *concat(const char *a, const char *b)
{
	char *s;
	return asprintf(&s, "%s%s", a, b ? b : "") < 0 ? NULL : s;
}

int answer_build(const struct format *fmt, const struct prompt *p, const struct fault *f,
		 struct answer *a)
{
	size_t i;
	json_t *tc;

	memset(a, 0, sizeof(*a));
	a->model = p->model;
	a->created = (json_int_t)time(NULL);
	snprintf(a->id, sizeof(a->id), fmt->id_fmt,
		 (uint64_t)atomic_fetch_add(&g_next_id, 1) + 1);
	a->include_usage = p->include_usage;
	a->usage = !f->no_usage;
	a->usage_on_finish = f->usage_on_finish;
	a->length = f->finish && strcmp(f->finish, "length") == 0;
	a->cache_read = f->cache_read;
	a->cache_creation = f->cache_creation;
	a->prompt_tokens = (json_int_t)((p->prompt_bytes + 3) / 4);

	if (json_array_size(f->tool_calls)) {
		json_array_foreach (f->tool_calls, i, tc) {
			if (add_call(a, json_string_value(json_object_get(tc, "name")),
				     json_object_get(tc, "arguments")) < 0)
				return -1;
		}
	} else if (!f->content && !f->oversized && !p->tool_result && p->tool) {
		if (add_call(a, p->tool, NULL) < 0)
			return -1;
	}
	if (f->oversized) {
		a->text = malloc(6 + f->oversized + 1);
		if (!a->text)
			return -1;
		memcpy(a->text, "fake: ", 6);
		memset(a->text + 6, 'x', f->oversized);
		a->text[6 + f->oversized] = '\0';
	} else if (f->content) {
		a->text = strdup(f->content);
	} else if (!a->ncalls) {
		a->text = p->tool_result ? concat("fake: tool result: ", p->tool_result)
					 : concat("fake: ", p->user_text);
	}
	if (!a->ncalls && !a->text)
		return -1;
	size_t out = a->text ? strlen(a->text) : 0;
	for (i = 0; i < a->ncalls; i++)
		out += strlen(a->calls[i].name) + strlen(a->calls[i].args);
	a->completion_tokens = (json_int_t)((out + 3) / 4);
	return 0;
}

void answer_free(struct answer *a)
{
	for (size_t i = 0; i < a->ncalls; i++) {
		free(a->calls[i].name);
		free(a->calls[i].args);
		json_decref(a->calls[i].input);
	}
	free(a->calls);
	free(a->text);
	memset(a, 0, sizeof(*a));
}

void prompt_free(struct prompt *p)
{
	free(p->model);
	free(p->user_text);
	free(p->tool_result);
	memset(p, 0, sizeof(*p));
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* One word with the whitespace before it, so the pieces concatenate back to the exact text;
 * a very long word is cut on a UTF-8 boundary. */
size_t next_piece(const char *p)
{
	size_t n = 0;
	while (is_space(p[n]))
		n++;
	while (p[n] && !is_space(p[n]) && n < PIECE_MAX)
		n++;
	if (n == PIECE_MAX && p[n])
		while (n > 1 && ((unsigned char)p[n] & 0xC0) == 0x80)
			n--;
	return n;
}

/* The text of a message's content (a string, or text parts joined by newlines): returns its
 * length and, when out is not NULL, writes it there (out must hold that length). Works for
 * OpenAI parts, Anthropic blocks and Gemini parts, which all name the text "text". */
size_t content_text(json_t *content, char *out)
{
	size_t n = 0, i;
	json_t *part;

	if (json_is_string(content)) {
		n = json_string_length(content);
		if (out)
			memcpy(out, json_string_value(content), n);
		return n;
	}
	json_array_foreach (content, i, part) {
		json_t *text = json_object_get(part, "text");
		if (!json_is_string(text))
			continue;
		if (n) {
			if (out)
				out[n] = '\n';
			n++;
		}
		size_t len = json_string_length(text);
		if (out)
			memcpy(out + n, json_string_value(text), len);
		n += len;
	}
	return n;
}

char *content_dup(json_t *content)
{
	size_t n = content_text(content, NULL);
	char *s = malloc(n + 1);
	if (s) {
		content_text(content, s);
		s[n] = '\0';
	}
	return s;
}

char *strdup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}
