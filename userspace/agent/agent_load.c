// SPDX-License-Identifier: Apache-2.0
/* Object loading for hiway-agent: the skeleton's maps get pin paths before load, so libbpf
 * reuses compatible pinned maps and pins new ones. A pinned map that no longer fits (another
 * size limit, an older layout) is unpinned and the load retried once: the attached program
 * keeps the old maps until the agent swaps the new program in after reconciling. */
#include "agent/agent_load.h"

#include "common/log.h"
#include "hiway/perimeter.h"
#include "perimeter.skel.h"
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Maps the object defines for itself: the inner-map templates and .bss are not pinned. */
static bool pinned_map(const struct bpf_map *m)
{
	return strchr(bpf_map__name(m), '.') == NULL;
}

static struct perimeter_bpf *open_with_pins(const char *pin_dir, uint32_t max_sources)
{
	struct perimeter_bpf *skel = perimeter_bpf__open();
	if (!skel)
		return NULL;
	struct bpf_map *m;
	bpf_object__for_each_map(m, skel->obj)
	{
		if (!pinned_map(m))
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(m));
		if (bpf_map__set_pin_path(m, path)) {
			perimeter_bpf__destroy(skel);
			return NULL;
		}
	}
	if (max_sources) {
		bpf_map__set_max_entries(skel->maps.src_buckets_v4, max_sources);
		bpf_map__set_max_entries(skel->maps.src_buckets_v6, max_sources);
	}
	return skel;
}

int hw_agent_load(const char *pin_dir, uint32_t max_sources, struct perimeter_bpf **out)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		struct perimeter_bpf *skel = open_with_pins(pin_dir, max_sources);
		if (!skel)
			return -errno ? -errno : -ENOMEM;
		int rc = perimeter_bpf__load(skel);
		if (!rc) {
			*out = skel;
			return 0;
		}
		hw_log(HW_LOG_WARN, "agent: loading the perimeter object: %s%s", strerror(-rc),
		       attempt ? "" : "; unpinning maps that no longer fit and retrying");
		if (attempt == 0) {
			struct bpf_map *m;
			bpf_object__for_each_map(m, skel->obj)
			{
				if (pinned_map(m))
					unlink(bpf_map__pin_path(m));
			}
		}
		perimeter_bpf__destroy(skel);
		if (attempt)
			return rc;
	}
	return -EIO;
}
