// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulator's named profiles: which kernel and which parent driver it
 * plays.  A profile is "KERNEL" or "KERNEL/PARENT" (docs/sim-profiles.md
 * has the table and the source of every fact, UAPI.md's last section):
 *
 *   kernel axis: linux-5.10, linux-6.1, linux-6.12 (the newest 6.12
 *     package, IOTLB caps enforced), linux-6.12.95 (no caps), linux-7.3,
 *     linux-6.12-rfc (linux-6.12 with tests/kernel/rfc's patch: the
 *     "vdpa live update" proposal's two backend bits, for every parent);
 *     it decides what vhost_vdpa can offer, which ioctls exist, the caps,
 *     PA-only, and its version's behaviours (7.x freezes group ASIDs at
 *     DRIVER_OK; 5.10's vdpa_sim cannot use a ring above 64);
 *   parent axis: vdpa_sim (set_map), vdpa_sim-permap (dma_map), vp_vdpa,
 *     vduse (VDUSE v1 with groups and SUSPEND on linux-7.3).
 *
 * The offer is the kernel's possible bits AND the parent's.  Without a
 * profile the simulator plays the newest kernel, linux-7.3 (the default
 * of earlier versions, no caps and ASIDs changed in place, is
 * linux-6.12.95).
 *
 * Calls below it: log.c.  Pure data otherwise.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sim/sim.h"

#define ALL_NEW_IOCTLS                                                \
	(VSIM_NOIOC_SUSPEND | VSIM_NOIOC_RESUME | VSIM_NOIOC_GROUPS | \
	 VSIM_NOIOC_DESC_GROUP | VSIM_NOIOC_VRING_SIZE |              \
	 VSIM_NOIOC_CONFIG_SIZE | VSIM_NOIOC_VQS_COUNT)

struct kprof {
	const char *name;
	uint64_t offer_max; /* what this vhost_vdpa can offer */
	uint32_t kflags, no_ioctl;
	uint32_t vhost_cap;		 /* vhost_vdpa's max_iotlb_entries */
	int pa_only;			 /* vdpa_sim without use_va */
	int sim_as, sim_groups, sim_vqs; /* vdpa_sim_net's shape here */
	int sim_cap;			 /* vdpa_sim's own parameter shown */
	int vp_vdpa, vduse;		 /* 0 none, 1 present, 2 VDUSE v1 */
	int rfc; /* vhost_vdpa offers NEW_OWNER and IOTLB_REMAP */
};

static const struct kprof kernels[] = {
	{ "linux-5.10", 0x6, VSIM_K_RING64, ALL_NEW_IOCTLS, 0, 1, 1, 1, 2, 0, 0,
	  0 },
	{ "linux-6.1", 0x1e, VSIM_K_GROUP_RANGE,
	  VSIM_NOIOC_RESUME | VSIM_NOIOC_DESC_GROUP | VSIM_NOIOC_VRING_SIZE,
	  2048, 1, 2, 2, 3, 2048, 1, 0 },
	{ "linux-6.12.95", 0x1fe, VSIM_K_GROUP_RANGE, 0, 0, 0, 2, 2, 3, 2048, 1,
	  1 },
	{ "linux-6.12", 0x1fe, VSIM_K_GROUP_RANGE, 0, 2048, 0, 2, 2, 3, 2048, 1,
	  1 },
	{ "linux-6.12-rfc", 0x1fe, VSIM_K_GROUP_RANGE, 0, 2048, 0, 2, 2, 3,
	  2048, 1, 1, 1 },
	{ "linux-7.3", 0x1fe, VSIM_K_GROUP_RANGE | VSIM_K_ASID_FROZEN, 0, 2048,
	  0, 2, 2, 3, 2048, 1, 2 },
};

/* a per-map parent's get_vq_size */
#define VSIM_VRING_SIZE_NUM 256

static const struct kprof *kernel_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++)
		if (strlen(kernels[i].name) == len &&
		    !strncmp(kernels[i].name, name, len))
			return &kernels[i];
	return NULL;
}

/* vdpa_sim_net, set_map or per-map (batch_mapping=0) */
static void parent_vdpa_sim(const struct kprof *k, struct vsim_opts *o,
			    int per_map)
{
	o->backend_offer = k->offer_max & VSIM_DEFAULT_BACKEND;
	o->nr_as = (uint32_t)k->sim_as;
	o->nr_groups = (uint32_t)k->sim_groups;
	o->nr_vqs = (uint32_t)k->sim_vqs;
	o->parent_cap = (uint32_t)k->sim_cap;
	if (per_map) {
		o->flags |= VDPAMAP_SIM_PER_MAP;
		/* measured on 6.12: GET_VRING_SIZE answers only with
		 * batch_mapping=0 */
		o->vring_size = VSIM_VRING_SIZE_NUM;
	}
}

/* vp_vdpa behind a platform IOMMU: per-map, pins (PA) */
static void parent_vp_vdpa(const struct kprof *k, struct vsim_opts *o)
{
	o->backend_offer = k->offer_max & 0x10e;
	o->nr_as = o->nr_groups = 1;
	o->nr_vqs = 3;
	o->iova_last = (1ULL << 39) - 1;
	o->flags |= VDPAMAP_SIM_PA | VDPAMAP_SIM_PER_MAP;
	o->kflags |= VSIM_P_NO_GROUP_ASID | VSIM_P_NO_VRING_BASE |
		     VSIM_P_VQSIZE_SET;
	o->parent_cap = 0; /* the IOMMU's, not a parameter */
	o->vring_size = VSIM_VRING_SIZE_NUM;
}

/* VDUSE net: set_map, VA, no control vq; v1 (7.x) has groups, address
 * spaces and SUSPEND */
static void parent_vduse(const struct kprof *k, struct vsim_opts *o)
{
	o->kflags |= VSIM_P_VA_ONLY | VSIM_P_VQSIZE_SET;
	o->nr_vqs = 2;
	o->parent_cap = 2048;
	/* get_vq_size: the size set, else vdpamap-vduse-net's max_size
	 * (256 by default); kernels before 6.10 lack the ioctl */
	o->vring_size = VSIM_VRING_SIZE_NUM;
	if (k->vduse == 2) {
		o->backend_offer = k->offer_max & 0x1e;
		o->nr_as = o->nr_groups = 2;
	} else {
		o->backend_offer = k->offer_max & 0x0e;
		o->nr_as = o->nr_groups = 1;
		o->kflags |= VSIM_P_NO_GROUP_ASID;
	}
}

static int parent_apply(const struct kprof *k, const char *p,
			struct vsim_opts *o)
{
	if (!strcmp(p, "vdpa_sim")) {
		parent_vdpa_sim(k, o, 0);
	} else if (!strcmp(p, "vdpa_sim-permap")) {
		parent_vdpa_sim(k, o, 1);
	} else if (!strcmp(p, "vp_vdpa")) {
		if (!k->vp_vdpa) {
			vsim_log("profile: no vp_vdpa in %s", k->name);
			return -EINVAL;
		}
		parent_vp_vdpa(k, o);
	} else if (!strcmp(p, "vduse")) {
		if (!k->vduse) {
			vsim_log("profile: no VDUSE net device in %s", k->name);
			return -EINVAL;
		}
		parent_vduse(k, o);
	} else {
		vsim_log("profile: unknown parent '%s' (vdpa_sim, "
			 "vdpa_sim-permap, vp_vdpa, vduse)",
			 p);
		return -EINVAL;
	}
	return 0;
}

int vsim_profile_apply(const char *name, struct vsim_opts *o)
{
	const char *slash, *parent;
	const struct kprof *k;
	size_t klen;

	memset(o, 0, sizeof(*o));
	o->kernel = o->parent = "";
	o->iova_last = UINT64_MAX;
	if (!name)
		name = "linux-7.3";
	slash = strchr(name, '/');
	klen = slash ? (size_t)(slash - name) : strlen(name);
	parent = slash ? slash + 1 : "vdpa_sim";
	k = kernel_find(name, klen);
	if (!k) {
		vsim_log("profile: unknown kernel in '%s' (linux-5.10, "
			 "linux-6.1, linux-6.12, linux-6.12.95, linux-7.3, "
			 "linux-6.12-rfc)",
			 name);
		return -EINVAL;
	}
	o->kernel = k->name;
	o->kflags = k->kflags;
	o->no_ioctl = k->no_ioctl;
	o->vhost_cap = k->vhost_cap;
	if (parent_apply(k, parent, o))
		return -EINVAL;
	if (k->rfc)
		o->backend_offer |= VSIM_BIT(VHOST_BACKEND_F_NEW_OWNER) |
				    VSIM_BIT(VHOST_BACKEND_F_IOTLB_REMAP);
	if (k->pa_only)
		o->flags |= VDPAMAP_SIM_PA;
	/* a static name for the daemon's copy of the options */
	o->parent = !strcmp(parent, "vdpa_sim")	       ? "vdpa_sim" :
		    !strcmp(parent, "vdpa_sim-permap") ? "vdpa_sim-permap" :
		    !strcmp(parent, "vp_vdpa")	       ? "vp_vdpa" :
							 "vduse";
	return 0;
}

/* VDPAMAP_SIM_PER_MAP asked on top of a vdpa_sim profile makes it the
 * per-map parent (batch_mapping=0), with that parent's ops: its
 * get_vq_size too. */
void vsim_profile_flags(struct vsim_opts *o, uint32_t flags)
{
	o->flags |= flags;
	if (!strcmp(o->parent, "vdpa_sim") && (flags & VDPAMAP_SIM_PER_MAP))
		o->vring_size = VSIM_VRING_SIZE_NUM;
}

/* Like raising both module parameters: a parameter that does not exist
 * stays absent, and a kernel without its own cap still enforces none. */
void vsim_profile_caps(struct vsim_opts *o, uint32_t max_iotlb_entries,
		       uint32_t parent_max)
{
	if (!parent_max)
		parent_max = max_iotlb_entries;
	if (o->vhost_cap && max_iotlb_entries)
		o->vhost_cap = max_iotlb_entries;
	if (o->parent_cap && parent_max)
		o->parent_cap = parent_max;
	if (!o->vhost_cap && (max_iotlb_entries || parent_max))
		vsim_log("profile: max_iotlb_entries %u: %s enforces no cap",
			 max_iotlb_entries,
			 *o->kernel ? o->kernel : "the default profile");
}
