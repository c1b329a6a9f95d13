// SPDX-License-Identifier: Apache-2.0
/* hiwayctl argument handling: one parser for global and per-command long options (so
 * `hiwayctl keys list --json` works as well as `hiwayctl --json keys list`), value checks
 * that fail as usage errors before any request is sent, and reading secrets off argv. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* A legacy key is 51 characters; anything much longer is the wrong file. */
#define SECRET_MAX 2048

static const struct hw_cli_opt global_opts[] = {
	{"url", true},
	{"token", true},
	{"workspace", true},
	{"json", false},
	{NULL, false},
};

int hw_cli_usage(const char *fmt, ...)
{
	va_list ap;
	fputs("hiwayctl: ", stderr);
	va_start(ap, fmt);
	/* va_start is right above; clang-analyzer misreads it. */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return HW_CLI_USAGE;
}

static int find_opt(const struct hw_cli_opt *spec, const char *name, size_t len)
{
	for (int i = 0; spec && i < HW_CLI_MAX_OPTS && spec[i].name; i++) {
		if (strlen(spec[i].name) == len && strncmp(spec[i].name, name, len) == 0)
			return i;
	}
	return -1;
}

static void set_global(struct hw_cli *cli, const char *name, const char *value)
{
	if (strcmp(name, "url") == 0) {
		free(cli->url);
		cli->url = hw_cli_must(strdup(value));
	} else if (strcmp(name, "token") == 0) {
		cli->token = value;
	} else if (strcmp(name, "workspace") == 0) {
		cli->workspace = value;
	} else {
		cli->json = true;
	}
}

int hw_cli_parse(struct hw_cli *cli, int argc, char **argv, const struct hw_cli_opt *spec,
		 struct hw_cli_args *out, int *stop)
{
	struct hw_cli_args globals_only;
	bool only_pos = false;

	if (!out) {
		out = &globals_only;
		spec = NULL;
	}
	memset(out, 0, sizeof(*out));
	out->spec = spec;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		bool is_opt = !only_pos && arg[0] == '-' && arg[1] != '\0';

		if (!is_opt) {
			if (out == &globals_only) {
				*stop = i;
				return 0;
			}
			if (out->npos == HW_CLI_MAX_POS) {
				hw_cli_usage("unexpected argument '%s'", arg);
				return -EINVAL;
			}
			out->pos[out->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			cli->help = true;
			return 0;
		}
		if (arg[1] != '-') {
			hw_cli_usage("unknown option '%s'", arg);
			return -EINVAL;
		}

		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		int g = find_opt(global_opts, name, len);
		int c = g < 0 ? find_opt(spec, name, len) : -1;
		const struct hw_cli_opt *o = g >= 0 ? &global_opts[g] : c >= 0 ? &spec[c] : NULL;
		const char *value = "";

		if (!o) {
			hw_cli_usage("unknown option '--%.*s'", (int)len, name);
			return -EINVAL;
		}
		if (o->takes_value) {
			if (eq) {
				value = eq + 1;
			} else if (i + 1 < argc) {
				value = argv[++i];
			} else {
				hw_cli_usage("option '--%s' needs a value", o->name);
				return -EINVAL;
			}
		} else if (eq) {
			hw_cli_usage("option '--%s' takes no value", o->name);
			return -EINVAL;
		}
		if (g >= 0)
			set_global(cli, o->name, value);
		else
			out->vals[c] = value;
	}
	if (out == &globals_only)
		*stop = argc;
	return 0;
}

const char *hw_cli_get(const struct hw_cli_args *a, const char *name)
{
	int i = find_opt(a->spec, name, strlen(name));
	return i < 0 ? NULL : a->vals[i];
}

int hw_cli_check_choice(const char *opt, const char *value, const char *const *choices)
{
	for (size_t i = 0; choices[i]; i++) {
		if (strcmp(value, choices[i]) == 0)
			return 0;
	}
	hw_cli_usage("--%s: '%s' is not one of the accepted values", opt, value);
	fputs("  accepted:", stderr);
	for (size_t i = 0; choices[i]; i++)
		fprintf(stderr, " %s", choices[i]);
	fputc('\n', stderr);
	return HW_CLI_USAGE;
}

int hw_cli_set_rpm(json_t *body, const char *value)
{
	if (strcmp(value, "none") == 0) {
		hw_cli_set(body, "rpm_limit", json_null());
		return 0;
	}

	char *end;
	errno = 0;
	long long n = strtoll(value, &end, 10);
	if (errno || end == value || *end || n < 1)
		return hw_cli_usage("--rpm: expected a positive integer or 'none', got '%s'", value);
	hw_cli_set(body, "rpm_limit", json_integer(n));
	return 0;
}

int hw_cli_check_limit(const char *value)
{
	char *end;
	errno = 0;
	long n = strtol(value, &end, 10);

	if (errno || end == value || *end || n < 1 || n > 500)
		return hw_cli_usage("--limit: expected an integer from 1 to 500, got '%s'", value);
	return 0;
}

int hw_cli_set_shield(json_t *body, const char *value)
{
	static const char *const modes[] = {"off", "monitor", "block", "inherit", NULL};

	if (hw_cli_check_choice("shield", value, modes))
		return HW_CLI_USAGE;
	/* null means "use the workspace's Shield mode" (SPEC §4.1). */
	hw_cli_set(body, "shield_mode",
		   strcmp(value, "inherit") == 0 ? json_null() : json_string(value));
	return 0;
}

/* Reads up to SECRET_MAX bytes; a terminal gets a prompt and no echo. */
static int read_secret_fd(int fd, char *buf, size_t cap, size_t *len)
{
	struct termios old, quiet;
	bool tty = isatty(fd) && tcgetattr(fd, &old) == 0;
	int ret = 0;

	if (tty) {
		fputs("key: ", stderr);
		fflush(stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	*len = 0;
	while (*len < cap) {
		ssize_t n = read(fd, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
		/* On a terminal the line ends the secret; a file or pipe is read to its end. */
		if (tty && memchr(buf + *len - n, '\n', (size_t)n))
			break;
	}
	if (tty) {
		tcsetattr(fd, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return ret;
}

/* Both readers: with `allow_empty`, nothing but whitespace gives 0 and *out NULL. */
static int read_secret(const char *path, bool allow_empty, char **out)
{
	char buf[SECRET_MAX + 1];
	const char *from = path ? path : "stdin";
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	size_t len = 0;
	int ret;

	if (fd < 0)
		return hw_cli_usage("cannot open %s: %s", path, strerror(errno));
	ret = read_secret_fd(fd, buf, sizeof(buf), &len);
	if (path)
		close(fd);
	if (ret < 0) {
		ret = hw_cli_usage("cannot read %s: %s", from, strerror(-ret));
		goto out;
	}
	if (len > SECRET_MAX) {
		ret = hw_cli_usage("%s: more than %d bytes, not a key", from, SECRET_MAX);
		goto out;
	}

	size_t start = 0;
	while (start < len && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\r' ||
			       buf[start] == '\n'))
		start++;
	while (len > start && (buf[len - 1] == ' ' || buf[len - 1] == '\t' ||
			       buf[len - 1] == '\r' || buf[len - 1] == '\n'))
		len--;
	if (len == start) {
		*out = NULL;
		ret = allow_empty ? 0 : hw_cli_usage("%s: no key found", from);
		goto out;
	}
	if (memchr(buf + start, '\n', len - start)) {
		ret = hw_cli_usage("%s: expected one key on one line", from);
		goto out;
	}
	*out = hw_cli_must(strndup(buf + start, len - start));
	ret = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

int hw_cli_read_secret(const char *path, char **out)
{
	return read_secret(path, false, out);
}

int hw_cli_read_secret_opt(const char *path, char **out)
{
	return read_secret(path, true, out);
}

void hw_cli_oom(void)
{
	fputs("hiwayctl: out of memory\n", stderr);
	exit(HW_CLI_API_ERROR);
}

void hw_cli_set(json_t *obj, const char *key, json_t *value)
{
	if (json_object_set_new(obj, key, value))
		hw_cli_oom();
}

const char *hw_cli_workspace(const struct hw_cli *cli, const char *explicit_ws)
{
	const char *ws = explicit_ws ? explicit_ws : cli->workspace;

	if (!ws || !*ws) {
		hw_cli_usage("no workspace: pass --workspace WS or set HIWAY_WORKSPACE");
		return NULL;
	}
	return ws;
}
