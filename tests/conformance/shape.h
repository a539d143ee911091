/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shape: which device the simulator plays, from the environment, so that
 * the suites can be run on the shapes of other kernels and parents
 * (/work/shared/UAPI.md "Beyond vdpa_sim on 6.12") without booting them.
 *
 *   VDPAMAP_TEST_SIM_SHAPE       a preset (the explicit knobs below override
 *                                its fields):
 *       612     vdpa_sim on 6.12: offer 0x17e, 2 AS, 2 groups, 3 vqs
 *       61      vdpa_sim on 6.1: 0x1e (no RESUME, no PERSIST), 2/2/3
 *       510     vdpa_sim on 5.10: 0x6 (no ASID, no SUSPEND), 1 AS,
 *               1 group, 2 vqs (no control vq)
 *       vpvdpa  vp_vdpa behind an IOMMU: 0x10e, 1 AS, 1 group, 3 vqs,
 *               IOVA [0, 2^39-1] (the counts only: profile
 *               linux-6.12/vp_vdpa also refuses GET_VRING_BASE and ring
 *               positions as vp_vdpa does; handoff-sim-profile-vp_vdpa)
 *       vduse   VDUSE net: 0x0e, 1 AS, 1 group, 3 vqs
 *   VDPAMAP_TEST_SIM_BACKEND     the backend offer (e.g. 0x1e)
 *   VDPAMAP_TEST_SIM_AS          number of address spaces
 *   VDPAMAP_TEST_SIM_GROUPS      number of vq groups
 *   VDPAMAP_TEST_SIM_VQS         number of vqs (2: no control vq)
 *   VDPAMAP_TEST_SIM_IOVA_FIRST  the IOVA range, inclusive (with _LAST)
 *   VDPAMAP_TEST_SIM_IOVA_LAST
 *   VDPAMAP_TEST_SIM_PROFILE     a simulator profile (docs/sim-profiles.md,
 *                                e.g. linux-7.3: group ASIDs frozen at
 *                                DRIVER_OK); the knobs above override it
 *
 * The memory mode stays VDPAMAP_TEST_SIM's (va | pa | permap).  A field
 * the caller already set (non-zero) is kept: a case that builds a device
 * of its own (DESC_ASID, a small IOVA range) says what it needs.
 * Header-only; depends on vdpamap.h.
 */
#ifndef VDPAMAP_TESTS_SHAPE_H
#define VDPAMAP_TESTS_SHAPE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vdpamap.h"

struct sim_shape {
	const char *name;
	uint64_t offer;
	uint32_t nr_as, nr_groups, nr_vqs;
	uint64_t iova_last;
};

static const struct sim_shape sim_shapes[] = {
	{ "612", 0x17e, 2, 2, 3, 0 },
	{ "61", 0x1e, 2, 2, 3, 0 },
	{ "510", 0x6, 1, 1, 2, 0 },
	{ "vpvdpa", 0x10e, 1, 1, 3, (1ULL << 39) - 1 },
	{ "vduse", 0x0e, 1, 1, 3, 0 },
};

static inline int sim_shape_u64(const char *var, uint64_t *v)
{
	const char *s = getenv(var);
	char *end;

	if (!s || !*s)
		return 0;
	*v = strtoull(s, &end, 0);
	if (*end) {
		fprintf(stderr, "%s=%s: not a number\n", var, s);
		return -1;
	}
	return 1;
}

/* VDPAMAP_TEST_SIM_PROFILE names kernel k ("linux-7.3", with or without
 * "/PARENT") */
static inline int sim_profile_kernel_is(const char *k)
{
	const char *pr = getenv("VDPAMAP_TEST_SIM_PROFILE");
	size_t n = strlen(k);

	return pr && !strncmp(pr, k, n) && (!pr[n] || pr[n] == '/');
}

/* Fill the zero fields of *so from the environment.  0, or -1 (and a
 * message on stderr) on a bad value. */
static inline int sim_shape_apply(struct vdpamap_sim_opts *so)
{
	const char *name = getenv("VDPAMAP_TEST_SIM_SHAPE");
	struct sim_shape s = { 0 };
	uint64_t v;
	size_t i;

	if (name && *name) {
		for (i = 0; i < sizeof(sim_shapes) / sizeof(sim_shapes[0]); i++)
			if (!strcmp(name, sim_shapes[i].name))
				s = sim_shapes[i];
		if (!s.name) {
			fprintf(stderr,
				"VDPAMAP_TEST_SIM_SHAPE=%s: not one of "
				"612 61 510 vpvdpa vduse\n",
				name);
			return -1;
		}
	}
	if (sim_shape_u64("VDPAMAP_TEST_SIM_BACKEND", &v) < 0 ||
	    sim_shape_u64("VDPAMAP_TEST_SIM_IOVA_LAST", &s.iova_last) < 0)
		return -1;
	if (sim_shape_u64("VDPAMAP_TEST_SIM_BACKEND", &v) > 0)
		s.offer = v;
	if (sim_shape_u64("VDPAMAP_TEST_SIM_AS", &v) > 0)
		s.nr_as = (uint32_t)v;
	if (sim_shape_u64("VDPAMAP_TEST_SIM_GROUPS", &v) > 0)
		s.nr_groups = (uint32_t)v;
	if (sim_shape_u64("VDPAMAP_TEST_SIM_VQS", &v) > 0)
		s.nr_vqs = (uint32_t)v;
	/* getenv() is tested non-NULL before it is read:
	 * NOLINTBEGIN(clang-analyzer-core.NullDereference) */
	if (!so->profile && getenv("VDPAMAP_TEST_SIM_PROFILE") &&
	    *getenv("VDPAMAP_TEST_SIM_PROFILE"))
		so->profile = getenv("VDPAMAP_TEST_SIM_PROFILE");
	/* NOLINTEND(clang-analyzer-core.NullDereference) */
	if (!so->backend_features)
		so->backend_features = s.offer;
	if (!so->nr_as)
		so->nr_as = s.nr_as;
	if (!so->nr_groups)
		so->nr_groups = s.nr_groups;
	if (!so->nr_vqs)
		so->nr_vqs = s.nr_vqs;
	if (!so->iova_last && s.iova_last) {
		so->iova_first = 0;
		so->iova_last = s.iova_last;
		if (sim_shape_u64("VDPAMAP_TEST_SIM_IOVA_FIRST",
				  &so->iova_first) < 0)
			return -1;
	}
	return 0;
}

#endif
