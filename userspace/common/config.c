// SPDX-License-Identifier: Apache-2.0
/* The configuration loader (SPEC §18): reads one YAML file over the built-in defaults,
 * expands environment references and validates every key, stopping at the first problem
 * with one line "FILE: key.path: problem".
 *
 * Why libyaml and not libcyaml: libcyaml 1.3 maps YAML onto C structs through a fixed
 * schema, so a mapping's keys must be field names known at compile time; `providers`
 * (ollama: {...}), `plans.presets` and `routing.keywords` are keyed by names the operator
 * chooses. Its errors are a cyaml_err_t code plus free-form log lines, which cannot give
 * the exact "FILE: key.path: problem" message; it also cannot say which keys a mapping
 * named (needed to merge providers by id and inherit timeouts field by field), has no hook
 * for ${ENV} expansion before typing, and reads decimals through a float. So the file is
 * loaded with libyaml's document API and walked against small typed tables
 * (config_walk.c, config_schema.c, config_providers.c). */
#include "common/config.h"

#include "common/config_walk.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_MAX_BYTES (16 << 20)

static size_t line_of_offset(const char *text, size_t len, size_t offset)
{
	size_t line = 1;
	for (size_t i = 0; i < offset && i < len; i++)
		line += text[i] == '\n';
	return line;
}

static void syntax_error(const yaml_parser_t *parser, const char *text, size_t len,
			 const char *name, char *err, size_t errlen)
{
	const char *problem = parser->problem ? parser->problem : "invalid YAML";
	size_t line = parser->error == YAML_READER_ERROR
			      ? line_of_offset(text, len, parser->problem_offset)
			      : parser->problem_mark.line + 1;
	if (parser->context)
		snprintf(err, errlen, "%s: line %zu: %s (%s at line %zu)", name, line, problem,
			 parser->context, parser->context_mark.line + 1);
	else
		snprintf(err, errlen, "%s: line %zu: %s", name, line, problem);
}

/* Exactly one document; an empty text gives a document without a root node. */
static int load_document(const char *text, size_t len, const char *name, yaml_document_t *doc,
			 char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	int ret = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, doc)) {
		ret = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
		syntax_error(&parser, text, len, name, err, errlen);
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		ret = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
		syntax_error(&parser, text, len, name, err, errlen);
		yaml_document_delete(doc);
		goto out;
	}
	yaml_node_t *second = yaml_document_get_root_node(&extra);
	if (second) {
		snprintf(err, errlen, "%s: line %zu: only one YAML document is allowed", name,
			 second->start_mark.line + 1);
		yaml_document_delete(doc);
		ret = -EINVAL;
	}
	yaml_document_delete(&extra);
out:
	yaml_parser_delete(&parser);
	return ret;
}

static int walk_text(struct hw_config *cfg, const char *text, size_t len, const char *name,
		     char *err, size_t errlen)
{
	yaml_document_t doc;
	struct hw_cfg_walk w = {.doc = &doc, .name = name, .err = err, .errlen = errlen};
	int ret = load_document(text, len, name, &doc, err, errlen);
	if (ret < 0)
		return ret;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && root->type != YAML_MAPPING_NODE && !hw_cfg_is_null(root)) {
		char got[200];
		hw_cfg_describe(root, NULL, false, got, sizeof(got));
		ret = hw_cfg_fail(&w, "expected a mapping at the top level, got %s", got);
	} else {
		ret = hw_cfg_walk_map(&w, root, hw_cfg_root, cfg, NULL);
	}
	yaml_document_delete(&doc);
	return ret;
}

/* Rules between keys, checked once both passes are done. */
static int check_relations(struct hw_cfg_walk *w, struct hw_config *cfg)
{
	const typeof(cfg->routing.weights) *wt = &cfg->routing.weights;
	const typeof(cfg->routing.thresholds) *rt = &cfg->routing.thresholds;
	const typeof(cfg->budget.thresholds) *bt = &cfg->budget.thresholds;
	double sum = wt->intent + wt->complexity + wt->tools + wt->system_prompt + wt->code +
		     wt->domain + wt->context;

	if (fabs(sum - 1.0) > 0.001) {
		hw_cfg_path_set(w, "routing.weights");
		return hw_cfg_fail(w, "must sum to 1 (± 0.001), got %g", sum);
	}
	if (rt->ultra_light > rt->standard) {
		hw_cfg_path_set(w, "routing.thresholds.ultra_light");
		return hw_cfg_fail(w, "must not exceed routing.thresholds.standard (%g)",
				   rt->standard);
	}
	if (rt->standard > rt->heavy) {
		hw_cfg_path_set(w, "routing.thresholds.standard");
		return hw_cfg_fail(w, "must not exceed routing.thresholds.heavy (%g)", rt->heavy);
	}
	if (bt->downgrade > bt->light_only) {
		hw_cfg_path_set(w, "budget.thresholds.downgrade");
		return hw_cfg_fail(w, "must not exceed budget.thresholds.light_only (%g)",
				   bt->light_only);
	}
	if (bt->light_only > bt->block) {
		hw_cfg_path_set(w, "budget.thresholds.light_only");
		return hw_cfg_fail(w, "must not exceed budget.thresholds.block (%g)", bt->block);
	}
	for (size_t i = 0; i < cfg->plans.n_presets; i++)
		if (strcmp(cfg->plans.presets[i].name, cfg->plans.default_plan) == 0)
			return 0;
	hw_cfg_path_set(w, "plans.default");
	return hw_cfg_fail(w, "no plan named \"%s\" in plans.presets", cfg->plans.default_plan);
}

/* The ports the kernel perimeter protects default to those the gateway listens on. */
static int default_protected_ports(struct hw_config *cfg)
{
	size_t n = 0;
	if (cfg->perimeter.n_protected_ports)
		return 0;
	int64_t *ports = calloc(cfg->server.n_listen, sizeof(*ports));
	if (!ports)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->server.n_listen; i++) {
		size_t j = 0;
		while (j < n && ports[j] != cfg->server.listen_addrs[i].port)
			j++;
		if (j == n)
			ports[n++] = cfg->server.listen_addrs[i].port;
	}
	free(cfg->perimeter.protected_ports);
	cfg->perimeter.protected_ports = ports;
	cfg->perimeter.n_protected_ports = n;
	return 0;
}

static int finish(struct hw_config *cfg, const char *name, char *err, size_t errlen)
{
	struct hw_cfg_walk w = {.name = name, .err = err, .errlen = errlen};
	int ret;

	if (!cfg->node_id || !*cfg->node_id) {
		char host[256] = "";
		if (gethostname(host, sizeof(host) - 1) < 0 || !*host) {
			ret = -errno;
			hw_cfg_path_set(&w, "node_id");
			hw_cfg_fail(&w, "empty, and the host name cannot be read: %s",
				    strerror(-ret));
			return ret;
		}
		char *dup = strdup(host);
		if (!dup)
			return -ENOMEM;
		free(cfg->node_id);
		cfg->node_id = dup;
	}
	if ((ret = hw_cfg_finish_providers(&w, cfg)) < 0)
		return ret;
	if ((ret = default_protected_ports(cfg)) < 0)
		return ret;
	if ((ret = check_relations(&w, cfg)) < 0)
		return ret;
	cfg->secrets.has_master_key =
		*cfg->secrets.master_key &&
		hw_cfg_master_key_decode(cfg->secrets.master_key, cfg->secrets.master_key_raw) == 0;
	return 0;
}

int hw_config_load_string(const char *yaml, size_t len, const char *name, struct hw_config **out,
			  char *err, size_t errlen)
{
	struct hw_config *cfg = calloc(1, sizeof(*cfg));
	int ret;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (!cfg || !(cfg->path = strdup(name))) {
		ret = -ENOMEM;
		goto out;
	}
	ret = walk_text(cfg, hw_cfg_defaults_yaml, strlen(hw_cfg_defaults_yaml), name, err, errlen);
	if (ret < 0)
		goto out;
	ret = walk_text(cfg, yaml, len, name, err, errlen);
	if (ret < 0)
		goto out;
	ret = finish(cfg, name, err, errlen);
out:
	if (ret == -ENOMEM && errlen && !err[0])
		snprintf(err, errlen, "%s: out of memory", name);
	if (ret < 0)
		hw_config_free(cfg);
	else
		*out = cfg;
	return ret;
}

int hw_config_load(const char *path, struct hw_config **out, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int ret = 0;
	FILE *f = fopen(path, "rb");

	*out = NULL;
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(-ret));
		return ret;
	}
	for (;;) {
		char *grown = realloc(buf, len + 65536 + 1);
		if (!grown) {
			ret = -ENOMEM;
			snprintf(err, errlen, "%s: out of memory", path);
			goto out;
		}
		buf = grown;
		size_t got = fread(buf + len, 1, 65536, f);
		len += got;
		if (got < 65536)
			break;
		if (len > CONFIG_MAX_BYTES) {
			ret = -EFBIG;
			snprintf(err, errlen, "%s: larger than %d bytes", path, CONFIG_MAX_BYTES);
			goto out;
		}
	}
	if (ferror(f)) {
		ret = -EIO;
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	buf[len] = '\0';
	ret = hw_config_load_string(buf, len, path, out, err, errlen);
out:
	free(buf);
	fclose(f);
	return ret;
}

void hw_config_free(struct hw_config *cfg)
{
	if (!cfg)
		return;
	/* The secrets leave no copy in freed memory. */
	if (cfg->admin.token)
		explicit_bzero(cfg->admin.token, strlen(cfg->admin.token));
	if (cfg->secrets.master_key)
		explicit_bzero(cfg->secrets.master_key, strlen(cfg->secrets.master_key));
	explicit_bzero(cfg->secrets.master_key_raw, sizeof(cfg->secrets.master_key_raw));
	hw_cfg_release(hw_cfg_root, cfg);
	free(cfg->path);
	free(cfg);
}
