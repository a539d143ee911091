// SPDX-License-Identifier: BSD-3-Clause
/* Shared pieces of the benchmark programs (see benchutil.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "vdpamap.h"

char bench_sim_path[108];

double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return v[n / 2];
}

void bench_die(const char *what, int r)
{
	fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
		strerror(r < 0 ? -r : r));
	if (bench_sim_path[0])
		vdpamap_sim_stop(bench_sim_path);
	exit(1);
}

void bench_print_caps(struct vdpamap *h)
{
	static int done;
	struct vdpamap_info in;
	char parent[48] = "unknown";

	if (done++ || vdpamap_get_info(h, &in) < 0)
		return;
	if (!(in.caps_flags & VDPAMAP_CAPS_ENFORCED))
		printf("IOTLB entry caps: none enforced (%s)\n",
		       in.is_sim ? "the simulator's profile has none" :
				   "this kernel's vhost_vdpa has no "
				   "max_iotlb_entries");
	else {
		if (in.caps_flags & VDPAMAP_CAPS_PARENT_KNOWN)
			snprintf(parent, sizeof(parent), "%u",
				 in.parent_max_iotlb_entries);
		printf("IOTLB entry caps: vhost_vdpa %u, %s %s (the default "
		       "is 2048; scripts/bench-* raise both at module load%s)\n",
		       in.max_iotlb_entries,
		       in.parent[0] ? in.parent : "parent", parent,
		       in.is_sim ? "; here raised when the simulator was "
				   "spawned" :
				   "");
	}
}
