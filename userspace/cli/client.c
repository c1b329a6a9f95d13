// SPDX-License-Identifier: Apache-2.0
/* The management API client: one blocking libcurl easy request per call, the error
 * envelope (SPEC §2.1) turned into the `error: <code>: <message>` line and exit status 1,
 * transport failures into exit status 3, and list pagination (SPEC §16.1). */
#include "cli/cli.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONNECT_TIMEOUT_S 10L
#define TOTAL_TIMEOUT_S 30L
/* No management answer comes near this; a bigger one is not the gateway talking. */
#define BODY_MAX (64u << 20)
/* Lists are fetched whole with the largest page the API allows. */
#define PAGE_MAX "500"

struct http_resp {
	long status;
	char *data;
	size_t len, cap;
	bool too_large;
	char request_id[129]; /* X-Request-Id: at most 128 characters (SPEC §5.1) */
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_resp *r = arg;
	size_t n = size * nmemb;

	if (r->len + n > BODY_MAX) {
		r->too_large = true;
		return 0;
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->len + n + 1)
			cap *= 2;
		r->data = hw_cli_must(realloc(r->data, cap));
		r->cap = cap;
	}
	memcpy(r->data + r->len, ptr, n);
	r->len += n;
	r->data[r->len] = '\0';
	return n;
}

/* [A-Za-z0-9._:-]; the header line is not NUL-terminated. */
static bool request_id_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *arg)
{
	static const char name[] = "x-request-id:";
	struct http_resp *r = arg;
	size_t n = size * nitems;

	if (n > sizeof(name) - 1 && strncasecmp(buf, name, sizeof(name) - 1) == 0) {
		const char *v = buf + sizeof(name) - 1;
		const char *end = buf + n;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		size_t len = (size_t)(end - v);
		/* Kept only in the shape SPEC §5.1 allows, as it is printed as is. */
		if (len < sizeof(r->request_id) && request_id_chars(v, len)) {
			memcpy(r->request_id, v, len);
			r->request_id[len] = '\0';
		}
	}
	return n;
}

static char *escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = hw_cli_must(malloc(strlen(s) * 3 + 1));
	char *p = out;

	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    *c == '-' || *c == '.' || *c == '_' || *c == '~') {
			*p++ = (char)*c;
		} else {
			*p++ = '%';
			*p++ = hex[*c >> 4];
			*p++ = hex[*c & 15];
		}
	}
	*p = '\0';
	return out;
}

/* Appends `sep` and `piece` to *s, the piece percent-encoded when `encode`. */
static void append(char **s, const char *sep, const char *piece, bool encode)
{
	char *enc = encode ? escape(piece) : NULL;
	char *joined;

	if (asprintf(&joined, "%s%s%s", *s, sep, enc ? enc : piece) < 0)
		hw_cli_oom();
	free(enc);
	free(*s);
	*s = joined;
}

char *hw_cli_path(const char *const *segs)
{
	char *path = hw_cli_must(strdup("/api/v1"));

	for (; *segs; segs++)
		append(&path, "/", *segs, true);
	return path;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *line)
{
	return hw_cli_must(curl_slist_append(list, line));
}

/* Sends one request; returns 0 once the gateway answered (whatever the status), else
 * HW_CLI_CONN after saying why on stderr. */
static int perform(const struct hw_cli *cli, const char *method, const char *path_query,
		   const char *body, bool auth, struct http_resp *r)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	char *url, *authz = NULL;
	CURL *h = hw_cli_must(curl_easy_init());
	CURLcode rc;

	if (asprintf(&url, "%s%s", cli->url, path_query) < 0)
		hw_cli_oom();
	hdrs = add_header(hdrs, "Accept: application/json");
	/* Bodies are small; waiting for "100 Continue" only adds a round trip. */
	hdrs = add_header(hdrs, "Expect:");
	hdrs = add_header(hdrs, body ? "Content-Type: application/json" : "Content-Type:");
	if (auth && cli->token && *cli->token) {
		if (asprintf(&authz, "Authorization: Bearer %s", cli->token) < 0)
			hw_cli_oom();
		hdrs = add_header(hdrs, authz);
	}

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "hiwayctl/1");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body || strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc != CURLE_OK && !r->too_large) {
		fprintf(stderr, "hiwayctl: cannot reach %s: %s\n", cli->url,
			*errbuf ? errbuf : curl_easy_strerror(rc));
	}
	free(authz);
	free(url);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (r->too_large)
		return 0;
	return rc == CURLE_OK ? 0 : HW_CLI_CONN;
}

static void print_request_id(const char *id)
{
	if (id && *id)
		fprintf(stderr, "request id: %s\n", id);
}

/* `error: <code>: <message>`, the code's extra fields, and the request id. */
static void report_envelope(const struct hw_cli *cli, json_t *err, const struct http_resp *r)
{
	/* Table text: whatever the server echoes back cannot drive the terminal. */
	char *code = hw_cli_text(json_object_get(err, "code"), "unknown");
	char *msg = hw_cli_text(json_object_get(err, "message"), "(no message)");
	char *rid = hw_cli_text(json_object_get(err, "request_id"), r->request_id);
	const char *key;
	json_t *v;

	fprintf(stderr, "error: %s: %s\n", code, msg);
	json_object_foreach(err, key, v) {
		if (strcmp(key, "type") == 0 || strcmp(key, "code") == 0 ||
		    strcmp(key, "message") == 0 || strcmp(key, "request_id") == 0)
			continue;
		char *text = hw_cli_text(v, "null");
		fprintf(stderr, "  %s: %s\n", key, text);
		free(text);
	}
	print_request_id(rid);
	free(code);
	free(msg);
	free(rid);
	if (r->status == 401 && !(cli->token && *cli->token))
		fputs("hint: pass --token or set HIWAY_ADMIN_TOKEN\n", stderr);
}

/* One call with the body already serialised (`text` may be NULL). */
static int call_text(const struct hw_cli *cli, const char *method, const char *path,
		     const char *text, bool auth, json_t **out, long *status)
{
	struct http_resp r = {0};
	json_t *doc = NULL;
	int ret;

	*out = NULL;
	ret = perform(cli, method, path, text, auth, &r);
	if (ret)
		goto out;
	ret = HW_CLI_API_ERROR;
	if (r.too_large) {
		fprintf(stderr, "error: invalid_response: answer larger than %u MiB\n", BODY_MAX >> 20);
		goto out;
	}
	if (r.len) {
		doc = json_loadb(r.data, r.len, 0, NULL);
		if (!doc) {
			fprintf(stderr, "error: invalid_response: HTTP %ld from %s is not JSON\n",
				r.status, cli->url);
			print_request_id(r.request_id);
			goto out;
		}
	}

	json_t *err = json_object_get(doc, "error");
	bool ok = r.status >= 200 && r.status < 300;
	if (!ok && status && json_is_object(doc)) {
		/* The caller shows the document itself; only the envelope's line is ours. */
		if (json_is_object(err))
			report_envelope(cli, err, &r);
	} else if (!ok && json_is_object(err)) {
		if (cli->json)
			hw_cli_print_json(doc);
		report_envelope(cli, err, &r);
		goto out;
	} else if (!ok) {
		fprintf(stderr, "error: http_%ld: unexpected answer from %s\n", r.status, cli->url);
		print_request_id(r.request_id);
		goto out;
	}
	if (status)
		*status = r.status;
	*out = doc;
	doc = NULL;
	ret = HW_CLI_OK;
out:
	json_decref(doc);
	/* The answer may carry a secret (a key just minted). */
	if (r.data)
		explicit_bzero(r.data, r.len);
	free(r.data);
	return ret;
}

int hw_cli_call_status(const struct hw_cli *cli, const char *method, const char *path,
		       json_t *body, bool auth, json_t **out, long *status)
{
	char *text = body ? hw_cli_must(json_dumps(body, JSON_COMPACT)) : NULL;
	int ret = call_text(cli, method, path, text, auth, out, status);

	/* The body may carry a secret (a legacy key being imported). */
	if (text)
		explicit_bzero(text, strlen(text));
	free(text);
	return ret;
}

int hw_cli_call_raw(const struct hw_cli *cli, const char *method, const char *path,
		    const char *body, json_t **out)
{
	return call_text(cli, method, path, body, true, out, NULL);
}

int hw_cli_call(const struct hw_cli *cli, const char *method, const char *path, json_t *body,
		bool auth, json_t **out)
{
	return hw_cli_call_status(cli, method, path, body, auth, out, NULL);
}

int hw_cli_call_text(const struct hw_cli *cli, const char *path, char **text, size_t *len)
{
	struct http_resp r = {0};
	int ret = perform(cli, "GET", path, NULL, true, &r);

	*text = NULL;
	*len = 0;
	if (ret)
		goto out;
	ret = HW_CLI_API_ERROR;
	if (r.too_large) {
		fprintf(stderr, "error: invalid_response: answer larger than %u MiB\n", BODY_MAX >> 20);
		goto out;
	}
	if (r.status < 200 || r.status >= 300) {
		/* Errors are the JSON envelope, whatever the success format is. */
		json_t *doc = r.len ? json_loadb(r.data, r.len, 0, NULL) : NULL;
		json_t *err = json_object_get(doc, "error");
		if (json_is_object(err))
			report_envelope(cli, err, &r);
		else
			fprintf(stderr, "error: http_%ld: unexpected answer from %s\n", r.status,
				cli->url);
		json_decref(doc);
		goto out;
	}
	*text = r.data ? r.data : hw_cli_must(strdup(""));
	*len = r.len;
	r.data = NULL;
	ret = HW_CLI_OK;
out:
	free(r.data);
	return ret;
}

char *hw_cli_query(const char *path, const struct hw_cli_param *params, size_t nparams)
{
	char *q = hw_cli_must(strdup(path));
	const char *sep = "?";

	for (size_t i = 0; i < nparams; i++) {
		if (!params[i].value)
			continue;
		append(&q, sep, params[i].name, false);
		append(&q, "=", params[i].value, true);
		sep = "&";
	}
	return q;
}

static char *page_query(const char *path, const struct hw_cli_param *params, size_t nparams,
			const char *limit, const char *cursor)
{
	char *q = hw_cli_query(path, params, nparams);

	append(&q, strchr(q, '?') ? "&" : "?", "limit=", false);
	append(&q, "", limit, true);
	if (cursor) {
		append(&q, "&", "cursor=", false);
		append(&q, "", cursor, true);
	}
	return q;
}

int hw_cli_list(const struct hw_cli *cli, const char *path, const struct hw_cli_param *params,
		size_t nparams, const char *limit, const char *cursor, json_t **out)
{
	bool one_page = limit || cursor;
	json_t *data = hw_cli_must(json_array());
	json_t *next = json_null();
	char *cur = cursor ? hw_cli_must(strdup(cursor)) : NULL;
	int ret;

	*out = NULL;
	for (;;) {
		char *pq = page_query(path, params, nparams, limit ? limit : PAGE_MAX, cur);
		json_t *page;

		ret = hw_cli_call(cli, "GET", pq, NULL, true, &page);
		free(pq);
		if (ret)
			break;

		json_t *items = json_object_get(page, "data");
		json_t *nc = json_object_get(page, "next_cursor");
		const char *ncs = json_string_value(nc);
		if (!json_is_array(items) || (nc && !json_is_null(nc) && !ncs)) {
			fprintf(stderr, "error: invalid_response: %s did not answer a list\n", path);
			json_decref(page);
			ret = HW_CLI_API_ERROR;
			break;
		}
		if (json_array_extend(data, items))
			hw_cli_oom();
		if (one_page || !ncs || !*ncs) {
			next = ncs && *ncs ? hw_cli_must(json_string(ncs)) : json_null();
			json_decref(page);
			break;
		}
		/* A cursor that does not move would loop forever. */
		if (cur && strcmp(cur, ncs) == 0) {
			fprintf(stderr, "error: invalid_response: %s repeated cursor %s\n", path, ncs);
			json_decref(page);
			ret = HW_CLI_API_ERROR;
			break;
		}
		free(cur);
		cur = hw_cli_must(strdup(ncs));
		json_decref(page);
	}
	free(cur);
	if (ret == HW_CLI_OK)
		*out = hw_cli_must(json_pack("{s:o,s:o}", "data", data, "next_cursor", next));
	else
		json_decref(data);
	return ret;
}
