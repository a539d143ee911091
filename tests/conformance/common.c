// SPDX-License-Identifier: BSD-3-Clause
/*
 * The conformance cases' shared fixture and helpers (conformance.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -1;
	r = fx_setup(f, NULL, MEM_SIZE);
	if (r < 0) {
		fprintf(stderr, "backend setup: %s\n", strerror(-r));
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int teardown(void **state)
{
	struct fx *f = *state;

	fx_teardown(f);
	free(f);
	return 0;
}

void open_default(struct fx *f)
{
	int r = fx_open(f, NULL);

	if (r < 0)
		fail_msg("open %s: %s", f->path, strerror(-r));
}

void map_guest(struct fx *f, uint32_t asid)
{
	map_ok(f, asid, GPA, 0, f->mem_size);
}

void map_window(struct fx *f, uint32_t asid, uint64_t base)
{
	map_ok(f, asid, base + WIN_OFF, WIN_OFF, WIN_SIZE);
}

void loop_ok(struct fx *f, uint64_t ring_iova)
{
	struct vnet v;
	int r;

	r = vnet_start(&v, f->h, f->mem + RING_OFF, ring_iova, RING_SIZE);
	if (r < 0)
		fail_msg("vnet_start: %s", strerror(-r));
	for (uint32_t i = 0; i < 3; i++) {
		r = vnet_loop(&v, i, 60 + 400 * i, LOOP_MS);
		if (r < 0)
			fail_msg("loopback frame %u: %s", i, strerror(-r));
	}
	vnet_stop(&v);
}

/* the queries of a dstate: status, group bindings, vrings, dirty logs */
static void dstate_queries(struct fx *f, struct dstate *d)
{
	struct vdpamap_info in;
	uint32_t i;

	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	assert_int_equal(vdpamap_get_status(f->h, &d->status), 0);
	for (i = 0; i < 4; i++) {
		if (i < in.nr_groups)
			assert_int_equal(vdpamap_get_group_asid(f->h, i,
								&d->gasid[i]),
					 0);
		if (i < in.nr_vqs)
			d->vr_r[i] = vdpamap_vring_get(f->h, i, &d->vr[i]);
		if (i < in.nr_as)
			d->di_r[i] = vdpamap_dirty_get_info(f->h, i, &d->di[i]);
	}
}

void dstate_take(struct fx *f, struct dstate *d)
{
	struct vdpamap_stats st;

	memset(d, 0, sizeof(*d));
	dstate_queries(f, d);
	snap_take(f, &d->s);
	assert_int_equal(vdpamap_get_stats(f->h, &st), 0);
	d->ioctls = st.ioctls;
}

void _dstate_equal(struct fx *f, const struct dstate *a, int line)
{
	struct vdpamap_stats st;
	struct dstate b;

	memset(&b, 0, sizeof(b));
	assert_int_equal(vdpamap_get_stats(f->h, &st), 0);
	if (st.ioctls != a->ioctls)
		fail_msg("line %d: %llu ioctls sent", line,
			 (unsigned long long)(st.ioctls - a->ioctls));
	b.ioctls = st.ioctls;
	snap_equal(f, &a->s);
	b.s = a->s;
	dstate_queries(f, &b);
	/* both were zeroed whole before their fields were set: padding
	 * compares equal:
	 * NOLINTNEXTLINE(bugprone-suspicious-memory-comparison) */
	if (memcmp(a, &b, sizeof(b)))
		fail_msg("line %d: status, group bindings, vrings or dirty "
			 "logs changed",
			 line);
}

/* ---- the SVQ flip's shadow area, shared with handoff_refusals.c */
const uint32_t vqs01[2] = { 0, 1 }, grp1[1] = { 1 };

const struct vdpamap_flip_vring svq_rings[2] = {
	{ .vq = 0,
	  .shadow = 0,
	  .desc = (uint64_t)1 * VB,
	  .avail = (uint64_t)2 * VB,
	  .used = (uint64_t)3 * VB },
	{ .vq = 1,
	  .shadow = 0,
	  .desc = (uint64_t)4 * VB,
	  .avail = (uint64_t)5 * VB,
	  .used = (uint64_t)6 * VB },
};

/* Move the driver's whole area between guest and shadow memory: copy it
 * while the device is idle (ring indexes consistent: a device that resumes
 * on the copy finds nothing to do), then translate and take it over once
 * its IOVA is known (flip.c: svq_adopt()). */
void svq_copy(struct vnet *v, uint8_t *to_mem)
{
	memcpy(to_mem, v->mem, RING_SIZE);
}
