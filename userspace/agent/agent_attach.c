// SPDX-License-Identifier: Apache-2.0
/* Interface attachment for hiway-agent. XDP and tcx attachments are BPF links pinned as
 * links/xdp_<ifname> and links/tc_<ifname>; the pin keeps them alive without the agent. On
 * kernels without tcx the TC program goes into a clsact filter, which outlives the agent by
 * itself; a marker pin progs/tcq_<ifname> (qdisc made by the agent) or progs/tcf_<ifname>
 * (qdisc found) remembers it for --detach. */
#include "agent/agent_attach.h"

#include "common/log.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
/* The tcx attach type and link type (kernel 6.6) postdate the UAPI headers of Debian 12. */
#define HW_BPF_TCX_INGRESS 46
#define HW_BPF_LINK_TYPE_XDP 6
#define HW_BPF_LINK_TYPE_TCX 11
#define HW_TC_HANDLE 0x4877 /* "Hw" */
#define HW_TC_PRIO 1

int hw_attach_want_parse(const char *s, enum hw_attach_want *out)
{
	static const char *const names[] = {"auto", "native", "tc", "generic"};
	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, names[i]) == 0) {
			*out = (enum hw_attach_want)i;
			return 0;
		}
	return -EINVAL;
}

static int path_join(char *buf, size_t len, const char *a, const char *b, const char *c)
{
	int n = snprintf(buf, len, "%s/%s%s", a, b, c ? c : "");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	if (strlen(path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, strlen(path) + 1);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static bool on_bpffs(const char *path)
{
	struct statfs s;
	return statfs(path, &s) == 0 && (unsigned long)s.f_type == BPF_FS_MAGIC;
}

int hw_attach_prepare_dir(const char *pin_dir)
{
	if (!on_bpffs("/sys/fs/bpf") && strncmp(pin_dir, "/sys/fs/bpf/", 12) == 0) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0) {
			hw_log(HW_LOG_ERROR, "agent: mounting bpffs on /sys/fs/bpf: %s",
			       strerror(errno));
			return -errno;
		}
		hw_log(HW_LOG_INFO, "agent: mounted bpffs on /sys/fs/bpf");
	}
	char sub[PATH_MAX];
	int rc = mkdir_p(pin_dir);
	if (!rc && !on_bpffs(pin_dir))
		rc = -ENOTSUP;
	if (!rc)
		rc = path_join(sub, sizeof(sub), pin_dir, "links", NULL) ?: mkdir_p(sub);
	if (!rc)
		rc = path_join(sub, sizeof(sub), pin_dir, "progs", NULL) ?: mkdir_p(sub);
	if (rc)
		hw_log(HW_LOG_ERROR, "agent: pin directory %s: %s", pin_dir, strerror(-rc));
	return rc;
}

/* Pins fd at path, replacing what was there without a moment where the path is missing. */
static int pin_replace(int fd, const char *path)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s_new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) < 0)
		return -errno;
	if (rename(tmp, path) < 0) {
		int rc = -errno;
		unlink(tmp);
		return rc;
	}
	return 0;
}

int hw_attach_pin_prog(const char *pin_dir, const char *name, int prog_fd)
{
	char path[PATH_MAX];
	char rel[NAME_MAX];
	snprintf(rel, sizeof(rel), "progs/%s", name);
	int rc = path_join(path, sizeof(path), pin_dir, rel, NULL);
	return rc ?: pin_replace(prog_fd, path);
}

static uint32_t prog_id_of(int prog_fd)
{
	struct bpf_prog_info info = {0};
	uint32_t len = sizeof(info);
	return bpf_obj_get_info_by_fd(prog_fd, &info, &len) == 0 ? info.id : 0;
}

static const char *xdp_mode_name(int ifindex)
{
	struct bpf_xdp_query_opts q = {.sz = sizeof(struct bpf_xdp_query_opts)};
	if (bpf_xdp_query(ifindex, 0, &q) < 0)
		return "xdp-native";
	return q.attach_mode == XDP_ATTACHED_SKB ? "xdp-generic" : "xdp-native";
}

static bool mode_fits(enum hw_attach_want want, const char *mode)
{
	switch (want) {
	case HW_ATTACH_NATIVE:
		return strcmp(mode, "xdp-native") == 0;
	case HW_ATTACH_GENERIC:
		return strcmp(mode, "xdp-generic") == 0;
	case HW_ATTACH_TC:
		return strcmp(mode, "tc") == 0;
	default:
		return true;
	}
}

/* A pinned link for ifname that fits want: swap its program in place. 1 = done. */
static int update_pinned(const char *pin_dir, const char *ifname, int ifindex,
			 enum hw_attach_want want, int xdp_fd, int tc_fd, struct hw_attached *out,
			 char stale[2][PATH_MAX], int *n_stale)
{
	static const char *const kinds[] = {"links/xdp_", "links/tc_"};
	for (int k = 0; k < 2; k++) {
		char path[PATH_MAX];
		if (path_join(path, sizeof(path), pin_dir, kinds[k], ifname))
			continue;
		int lfd = bpf_obj_get(path);
		if (lfd < 0)
			continue;
		const char *mode = k == 0 ? xdp_mode_name(ifindex) : "tc";
		if (!mode_fits(want, mode)) {
			snprintf(stale[(*n_stale)++], PATH_MAX, "%s", path);
			close(lfd);
			continue;
		}
		int pfd = k == 0 ? xdp_fd : tc_fd;
		int rc = bpf_link_update(lfd, pfd, NULL) < 0 ? -errno : 0;
		close(lfd);
		if (rc) {
			hw_log(HW_LOG_WARN, "agent: %s: replacing the program in %s: %s", ifname,
			       path, strerror(-rc));
			snprintf(stale[(*n_stale)++], PATH_MAX, "%s", path);
			continue;
		}
		out->mode = mode;
		out->prog_id = prog_id_of(pfd);
		return 1;
	}
	return 0;
}

static int link_xdp(const char *pin_dir, const char *ifname, int ifindex, int fd, __u32 flags)
{
	char path[PATH_MAX];
	struct bpf_link_create_opts o = {.sz = sizeof(struct bpf_link_create_opts), .flags = flags};
	int rc = path_join(path, sizeof(path), pin_dir, "links/xdp_", ifname);
	if (rc)
		return rc;
	int lfd = bpf_link_create(fd, ifindex, BPF_XDP, &o);
	if (lfd < 0)
		return -errno;
	rc = pin_replace(lfd, path);
	close(lfd);
	return rc;
}

static int link_tcx(const char *pin_dir, const char *ifname, int ifindex, int fd)
{
	char path[PATH_MAX];
	/* HIWAY_AGENT_NO_TCX=1 makes the agent act as on a kernel without tcx, so the tests reach
	 * the clsact fallback on kernels that have tcx. */
	if (getenv("HIWAY_AGENT_NO_TCX"))
		return -EOPNOTSUPP;
	int rc = path_join(path, sizeof(path), pin_dir, "links/tc_", ifname);
	if (rc)
		return rc;
	int lfd = bpf_link_create(fd, ifindex, (enum bpf_attach_type)HW_BPF_TCX_INGRESS, NULL);
	if (lfd < 0)
		return -errno;
	rc = pin_replace(lfd, path);
	close(lfd);
	return rc;
}

/* clsact filter for kernels without tcx. */
static int filter_tc(const char *pin_dir, const char *ifname, int ifindex, int fd)
{
	struct bpf_tc_hook hook = {
	    .sz = sizeof(struct bpf_tc_hook), .ifindex = ifindex, .attach_point = BPF_TC_INGRESS};
	struct bpf_tc_opts opts = {.sz = sizeof(struct bpf_tc_opts),
				   .handle = HW_TC_HANDLE,
				   .priority = HW_TC_PRIO,
				   .prog_fd = fd,
				   .flags = BPF_TC_F_REPLACE};
	char marker[PATH_MAX];
	int rc = bpf_tc_hook_create(&hook);
	bool made = rc == 0;
	if (rc && rc != -EEXIST)
		return rc;
	rc = bpf_tc_attach(&hook, &opts);
	if (rc)
		return rc;
	rc = path_join(marker, sizeof(marker), pin_dir, made ? "progs/tcq_" : "progs/tcf_", ifname);
	if (!rc && access(marker, F_OK) != 0)
		rc = pin_replace(fd, marker);
	return rc;
}

/* Detaches a pinned link and removes its pin. */
static void drop_link(const char *path)
{
	int lfd = bpf_obj_get(path);
	if (lfd >= 0) {
		bpf_link_detach(lfd);
		close(lfd);
	}
	unlink(path);
}

/* Removes the clsact filter behind a marker pin, and the qdisc when the agent made it. */
static void drop_filter(const char *ifname, bool made_qdisc)
{
	int ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return;
	struct bpf_tc_hook hook = {
	    .sz = sizeof(struct bpf_tc_hook), .ifindex = ifindex, .attach_point = BPF_TC_INGRESS};
	struct bpf_tc_opts opts = {
	    .sz = sizeof(struct bpf_tc_opts), .handle = HW_TC_HANDLE, .priority = HW_TC_PRIO};
	bpf_tc_detach(&hook, &opts);
	if (made_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
}

/* Removes ifname's clsact filter markers, and the filters (and qdisc) they stand for. */
static void drop_markers(const char *pin_dir, const char *ifname)
{
	static const char *const kinds[] = {"progs/tcq_", "progs/tcf_"};
	for (int k = 0; k < 2; k++) {
		char path[PATH_MAX];
		if (path_join(path, sizeof(path), pin_dir, kinds[k], ifname) == 0 &&
		    access(path, F_OK) == 0) {
			drop_filter(ifname, k == 0);
			unlink(path);
		}
	}
}

int hw_attach_iface(const char *pin_dir, const char *ifname, enum hw_attach_want want, int xdp_fd,
		    int tc_fd, struct hw_attached *out)
{
	char stale[2][PATH_MAX];
	int n_stale = 0, rc;
	int ifindex = (int)if_nametoindex(ifname);
	memset(out, 0, sizeof(*out));
	snprintf(out->ifname, sizeof(out->ifname), "%s", ifname);
	if (!ifindex) {
		hw_log(HW_LOG_ERROR, "agent: interface %s: %s", ifname, strerror(errno));
		return -ENODEV;
	}
	if (update_pinned(pin_dir, ifname, ifindex, want, xdp_fd, tc_fd, out, stale, &n_stale) ==
	    1) {
		hw_log(HW_LOG_INFO, "agent: %s: program replaced in the pinned %s link", ifname,
		       out->mode);
		goto drop_stale;
	}
	/* Native and generic XDP cannot be attached at once: moving between them goes through a
	 * temporary (unpinned) tcx link so the interface is never unprotected. */
	int bridge = -1;
	bool used_filter = false;
	if (n_stale && want != HW_ATTACH_TC) {
		for (int i = 0; i < n_stale; i++)
			if (strstr(stale[i], "/links/xdp_")) {
				bridge = bpf_link_create(
				    tc_fd, ifindex, (enum bpf_attach_type)HW_BPF_TCX_INGRESS, NULL);
				if (bridge < 0)
					hw_log(HW_LOG_WARN,
					       "agent: %s: XDP mode change without a tcx bridge: "
					       "briefly "
					       "unprotected",
					       ifname);
				drop_link(stale[i]);
				stale[i][0] = '\0'; /* gone; the new link takes its path */
			}
	}
	rc = -EOPNOTSUPP;
	if (want == HW_ATTACH_AUTO || want == HW_ATTACH_NATIVE) {
		rc = link_xdp(pin_dir, ifname, ifindex, xdp_fd, XDP_FLAGS_DRV_MODE);
		if (!rc)
			out->mode = "xdp-native";
		else if (want == HW_ATTACH_AUTO)
			hw_log(HW_LOG_INFO,
			       "agent: %s: native XDP refused (%s), falling back to TC", ifname,
			       strerror(-rc));
	}
	if (want == HW_ATTACH_GENERIC) {
		rc = link_xdp(pin_dir, ifname, ifindex, xdp_fd, XDP_FLAGS_SKB_MODE);
		if (!rc)
			out->mode = "xdp-generic";
	}
	if (!out->mode && (want == HW_ATTACH_AUTO || want == HW_ATTACH_TC)) {
		rc = link_tcx(pin_dir, ifname, ifindex, tc_fd);
		if (rc) {
			hw_log(HW_LOG_INFO,
			       "agent: %s: tcx link refused (%s), using a clsact filter", ifname,
			       strerror(-rc));
			rc = filter_tc(pin_dir, ifname, ifindex, tc_fd);
			used_filter = rc == 0;
		}
		if (!rc)
			out->mode = "tc";
	}
	if (bridge >= 0 && !out->mode) {
		/* The new mode failed and the old XDP link is gone: the bridge stays, as the
		 * interface's TC attachment. */
		char path[PATH_MAX];
		if (path_join(path, sizeof(path), pin_dir, "links/tc_", ifname) == 0 &&
		    pin_replace(bridge, path) == 0) {
			hw_log(HW_LOG_WARN, "agent: %s: %s; kept on TC instead", ifname,
			       strerror(-rc));
			out->mode = "tc";
			used_filter = false;
		}
	}
	if (bridge >= 0)
		close(bridge); /* unpinned, it detaches with its only fd */
	if (!out->mode) {
		hw_log(HW_LOG_ERROR, "agent: %s: attach failed: %s", ifname, strerror(-rc));
		return rc;
	}
	out->prog_id = prog_id_of(strcmp(out->mode, "tc") == 0 ? tc_fd : xdp_fd);
	hw_log(HW_LOG_INFO, "agent: %s: attached in mode %s (prog id %u)", ifname, out->mode,
	       out->prog_id);
	/* A clsact filter of an earlier run goes once a link has taken over. */
	if (!used_filter)
		drop_markers(pin_dir, ifname);
drop_stale:
	/* The new attachment is in place before the one of the wrong mode goes. */
	for (int i = 0; i < n_stale; i++) {
		if (!stale[i][0])
			continue;
		int lfd = bpf_obj_get(stale[i]);
		if (lfd >= 0) {
			bpf_link_detach(lfd);
			close(lfd);
		}
		unlink(stale[i]);
	}
	return 0;
}

/* Calls fn(path, name) for each entry of dir/sub. */
static void each_entry(const char *dir, const char *sub,
		       void (*fn)(const char *, const char *, void *), void *arg)
{
	char path[PATH_MAX];
	if (path_join(path, sizeof(path), dir, sub, NULL))
		return;
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' || (e->d_name[1] && e->d_name[1] != '.')) {
			char full[PATH_MAX];
			if (path_join(full, sizeof(full), path, e->d_name, NULL) == 0)
				fn(full, e->d_name, arg);
		}
	closedir(d);
}

struct prune_arg {
	char *const *keep;
	size_t n;
};

static bool kept(const struct prune_arg *a, const char *ifname)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->keep[i], ifname) == 0)
			return true;
	return false;
}

static void prune_link(const char *path, const char *name, void *arg)
{
	const char *ifname = strncmp(name, "xdp_", 4) == 0  ? name + 4
			     : strncmp(name, "tc_", 3) == 0 ? name + 3
							    : NULL;
	if (ifname && !strstr(name, "_new") && !kept(arg, ifname)) {
		hw_log(HW_LOG_INFO, "agent: %s no longer configured: detaching", ifname);
		drop_link(path);
	}
}

static void prune_marker(const char *path, const char *name, void *arg)
{
	bool q = strncmp(name, "tcq_", 4) == 0, f = strncmp(name, "tcf_", 4) == 0;
	if ((q || f) && (!arg || !kept(arg, name + 4))) {
		drop_filter(name + 4, q);
		unlink(path);
	}
}

void hw_attach_prune(const char *pin_dir, char *const *keep, size_t n)
{
	struct prune_arg a = {keep, n};
	each_entry(pin_dir, "links", prune_link, &a);
	each_entry(pin_dir, "progs", prune_marker, &a);
}

static void unlink_entry(const char *path, const char *name, void *arg)
{
	(void)name;
	(void)arg;
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
		unlink(path);
}

static void detach_link(const char *path, const char *name, void *arg)
{
	(void)name;
	(void)arg;
	drop_link(path);
}

int hw_attach_detach_all(const char *pin_dir)
{
	struct stat st;
	if (stat(pin_dir, &st) < 0)
		return 0;
	each_entry(pin_dir, "links", detach_link, NULL);
	each_entry(pin_dir, "progs", prune_marker, NULL);
	each_entry(pin_dir, "progs", unlink_entry, NULL);
	each_entry(pin_dir, ".", unlink_entry, NULL);
	char sub[PATH_MAX];
	if (!path_join(sub, sizeof(sub), pin_dir, "links", NULL))
		rmdir(sub);
	if (!path_join(sub, sizeof(sub), pin_dir, "progs", NULL))
		rmdir(sub);
	if (rmdir(pin_dir) < 0 && errno != ENOENT) {
		hw_log(HW_LOG_ERROR, "agent: removing %s: %s", pin_dir, strerror(errno));
		return -errno;
	}
	return 0;
}
