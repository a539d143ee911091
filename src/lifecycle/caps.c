// SPDX-License-Identifier: BSD-3-Clause
/*
 * caps: the IOTLB entry caps, read once at open into h->info
 * (docs/iotlb-caps.md).
 *
 * Kernel: /sys/module/vhost_vdpa/parameters/max_iotlb_entries exists only
 * on kernels that enforce every IOTLB's limit (6.1.192, 6.12.118, 7.x; not
 * 6.12.95 nor 5.10, where a parent may show a limit nothing enforces).
 * Where it exists, the parent's own cap comes from a table of known
 * parents, the parent being found in sysfs from the char device's
 * major:minor (an ancestor's driver module, or the name of the device the
 * parent registers); an unknown parent's cap is unknown.
 * Simulator: its control request LIMITS answers both, as the kernel
 * would show them.
 *
 * The silent case: a set_map parent (vdpa_sim with batch_mapping=1,
 * VDUSE, mlx5_vdpa) whose cap is below vhost_vdpa's refuses a too large
 * table at BATCH_END, where vhost_vdpa ignores the answer: the map is
 * reported done and the device has lost every map of that ASID.  The
 * library refuses such maps before sending when it can count (VA mode,
 * huge pages, PFNs in pagemap); where it cannot, it warns here.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "lifecycle/lifecycle.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif

/* Parents the library knows.  names: what a device of the parent is
 * called in sysfs (its mgmtdev device), besides a driver link to module.
 * mlx5_vdpa's entry is read from its source (drivers/vdpa/mlx5: its own
 * cap, set_map): no test can check it without the hardware. */
static const struct known_parent {
	const char *module;
	const char *names[3];
	bool set_map;  /* unless its batch_mapping says no */
	uint32_t dflt; /* the cap when no parameter shows */
} parents[] = {
	{ "vdpa_sim", { "vdpasim_net", "vdpasim_blk", NULL }, true, 2048 },
	{ "vduse", { "vduse", NULL, NULL }, true, 2048 },
	{ "mlx5_vdpa", { NULL, NULL, NULL }, true, 2048 },
};

static int read_u32(const char *path, uint32_t *ret)
{
	unsigned long v;
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -ENOENT;
	ok = fscanf(f, "%lu", &v) == 1;
	fclose(f);
	if (!ok || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int read_param(const char *mod, const char *param, uint32_t *ret)
{
	char p[128];

	snprintf(p, sizeof(p), "/sys/module/%s/parameters/%s", mod, param);
	return read_u32(p, ret);
}

/* The known parent one sysfs directory stands for, or NULL. */
static const struct known_parent *parent_of_dir(const char *dir)
{
	const char *base = strrchr(dir, '/');
	char link[PATH_MAX + 32], tgt[PATH_MAX];
	const char *mod;
	size_t i, j;
	ssize_t n;

	base = base ? base + 1 : dir;
	snprintf(link, sizeof(link), "%s/driver/module", dir);
	n = readlink(link, tgt, sizeof(tgt) - 1);
	tgt[n > 0 ? n : 0] = 0;
	mod = strrchr(tgt, '/');
	mod = mod ? mod + 1 : tgt;
	for (i = 0; i < ARRAY_SIZE(parents); i++) {
		if (n > 0 && !strcmp(mod, parents[i].module))
			return &parents[i];
		for (j = 0; j < ARRAY_SIZE(parents[i].names); j++)
			if (parents[i].names[j] &&
			    !strcmp(base, parents[i].names[j]))
				return &parents[i];
	}
	return NULL;
}

/* Walk up from the char device's sysfs directory. */
static const struct known_parent *find_parent(int fd)
{
	const struct known_parent *kp = NULL;
	char p[64], *real, *slash;
	struct stat st;
	int depth = 0;

	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
		return NULL;
	snprintf(p, sizeof(p), "/sys/dev/char/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	real = realpath(p, NULL);
	if (!real)
		return NULL;
	while (!kp && strcmp(real, "/sys/devices") &&
	       (slash = strrchr(real, '/')) && slash > real) {
		*slash = 0;
		depth++;
		if (strcmp(real, "/sys/devices"))
			kp = parent_of_dir(real);
	}
	/* vdpa_sim allocates its vdpa device without a parent: it sits at
	 * /sys/devices/vdpaN/vhost-vdpa-M (6.12.118, measured), beside its
	 * mgmtdev /sys/devices/vdpasim_net.  VDUSE's and mlx5's have one. */
	if (!kp && !strcmp(real, "/sys/devices") && depth == 2 &&
	    access("/sys/module/vdpa_sim", F_OK) == 0)
		kp = &parents[0];
	free(real);
	return kp;
}

static void caps_kernel(struct vdpamap *h)
{
	const struct known_parent *kp;
	uint32_t v, batch = 1;

	if (read_param("vhost_vdpa", "max_iotlb_entries", &v) < 0)
		return; /* no enforcement on this kernel */
	h->info.max_iotlb_entries = v;
	h->info.caps_flags |= VDPAMAP_CAPS_ENFORCED;
	kp = find_parent(h->tp->fd);
	if (!kp)
		return;
	snprintf(h->info.parent, sizeof(h->info.parent), "%s", kp->module);
	if (read_param(kp->module, "max_iotlb_entries", &v) < 0)
		v = kp->dflt;
	h->info.parent_max_iotlb_entries = v;
	h->info.caps_flags |= VDPAMAP_CAPS_PARENT_KNOWN;
	if (kp->set_map &&
	    (read_param(kp->module, "batch_mapping", &batch) < 0 || batch))
		h->info.caps_flags |= VDPAMAP_CAPS_SET_MAP;
}

static void caps_sim(struct vdpamap *h)
{
	struct vdpamap_sim_limits l;
	int r;

	r = vdm_tp_sim_limits(h->tp, &l);
	if (r < 0) {
		vdm_info(h, "simulator limits: %d (caps unknown)", r);
		return;
	}
	if (!l.vhost_max_iotlb_entries)
		return;
	h->info.max_iotlb_entries = l.vhost_max_iotlb_entries;
	h->info.caps_flags |= VDPAMAP_CAPS_ENFORCED;
	/* the simulator's parent names are short ("vdpa_sim") */
	memcpy(h->info.parent, l.parent, sizeof(h->info.parent) - 1);
	if (l.parent_max_iotlb_entries) {
		h->info.parent_max_iotlb_entries = l.parent_max_iotlb_entries;
		h->info.caps_flags |= VDPAMAP_CAPS_PARENT_KNOWN;
		if (!(l.flags & VDPAMAP_SIM_PER_MAP))
			h->info.caps_flags |= VDPAMAP_CAPS_SET_MAP;
	}
}

/* Are all the regions the caller pre-maps hugetlb-backed? */
static bool all_hugetlb(const struct vdpamap_open_opts *opts)
{
	const struct vdpamap_region *r = OPTS_GET(opts, regions, NULL);
	uint32_t i, n = OPTS_GET(opts, nr_regions, 0);
	struct statfs sf;

	for (i = 0; i < n; i++)
		if (r[i].fd < 0 || fstatfs(r[i].fd, &sf) < 0 ||
		    (unsigned long)sf.f_type != HUGETLBFS_MAGIC)
			return false;
	return n > 0;
}

void vdm_caps_read(struct vdpamap *h, const struct vdpamap_open_opts *opts)
{
	const struct vdpamap_info *in = &h->info;
	bool silent;

	if (h->tp->is_sim)
		caps_sim(h);
	else
		caps_kernel(h);
	if (!(in->caps_flags & VDPAMAP_CAPS_ENFORCED)) {
		vdm_info(h, "IOTLB entry caps: none enforced");
		return;
	}
	if (in->mem_mode == VDPAMAP_MEMMODE_PA && !vdm_entries_pa_counted(h) &&
	    !all_hugetlb(opts))
		h->info.caps_flags |= VDPAMAP_CAPS_COUNT_UNKNOWN;
	vdm_info(h, "IOTLB entry caps: vhost_vdpa %u, %s %ld%s",
		 in->max_iotlb_entries, in->parent[0] ? in->parent : "parent",
		 (in->caps_flags & VDPAMAP_CAPS_PARENT_KNOWN) ?
			 (long)in->parent_max_iotlb_entries :
			 -1L,
		 (in->caps_flags & VDPAMAP_CAPS_COUNT_UNKNOWN) ?
			 "; PA counts unknown (no PFNs in pagemap)" :
			 "");
	silent = (in->caps_flags & VDPAMAP_CAPS_SET_MAP) &&
		 (in->caps_flags & VDPAMAP_CAPS_PARENT_KNOWN) &&
		 (in->caps_flags & VDPAMAP_CAPS_COUNT_UNKNOWN) &&
		 in->parent_max_iotlb_entries < in->max_iotlb_entries;
	if (silent)
		vdm_warn(h,
			 "IOTLB caps: %s's max_iotlb_entries (%u) is below "
			 "vhost_vdpa's (%u) and PA-mode entry counts are "
			 "unknown here (no PFNs in /proc/self/pagemap): a map "
			 "that passes vhost_vdpa's cap but not %s's is "
			 "accepted and then lost by the device without an "
			 "error (docs/iotlb-caps.md); raise %s's "
			 "max_iotlb_entries to vhost_vdpa's at module load, "
			 "or back guest memory with huge pages",
			 in->parent, in->parent_max_iotlb_entries,
			 in->max_iotlb_entries, in->parent, in->parent);
}
