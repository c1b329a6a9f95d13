/* SPDX-License-Identifier: Apache-2.0 */
/* Attaching the perimeter programs to interfaces (SPEC §14.1) with pinned links, so the
 * programs stay attached when the agent exits or is killed, and removing all of it. */
#ifndef HW_AGENT_ATTACH_H
#define HW_AGENT_ATTACH_H

#include <net/if.h>
#include <stdint.h>

enum hw_attach_want { HW_ATTACH_AUTO, HW_ATTACH_NATIVE, HW_ATTACH_TC, HW_ATTACH_GENERIC };

struct hw_attached {
	char ifname[IF_NAMESIZE];
	const char *mode; /* "xdp-native" | "xdp-generic" | "tc" */
	uint32_t prog_id;
};

int hw_attach_want_parse(const char *s, enum hw_attach_want *out);

/* Makes sure pin_dir and its links/ and progs/ exist on a BPF filesystem, mounting bpffs
 * at /sys/fs/bpf when nothing is mounted there. */
int hw_attach_prepare_dir(const char *pin_dir);

/* Pins prog_fd as pin_dir/progs/name, replacing an older pin. */
int hw_attach_pin_prog(const char *pin_dir, const char *name, int prog_fd);

/* Attaches (or, when a pinned link for ifname exists, swaps the program inside it without a
 * moment unprotected) and reports the mode. */
int hw_attach_iface(const char *pin_dir, const char *ifname, enum hw_attach_want want, int xdp_fd,
		    int tc_fd, struct hw_attached *out);

/* Removes the attachments of interfaces that are pinned but not in keep[0..n). */
void hw_attach_prune(const char *pin_dir, char *const *keep, size_t n);

/* Removes every link, TC filter (and clsact qdisc the agent made), program and map pin under
 * pin_dir, then pin_dir itself. Missing pieces are not errors. */
int hw_attach_detach_all(const char *pin_dir);

#endif
