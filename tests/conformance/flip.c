// SPDX-License-Identifier: BSD-3-Clause
/*
 * The SVQ ASID flip (issue 5): frames through shadow rings, the dirty
 * log, the IOTLB messages a flip costs, the flip across a reset, and
 * DESC_ASID.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conformance.h"

/* The shadow area lives in guest-region memory that ASID 0 does not map
 * (map_window() maps [WIN_OFF, WIN_OFF + WIN_SIZE) only), so the device can
 * reach it through the shadow ASID alone.  The "shadow virtqueue" of these
 * tests is the simplest one there is: it moves the whole vnet area (rings
 * and buffers) into the shadow area and translates every descriptor
 * address, so the device loops frames through rings and buffers that exist
 * only in the shadow ASID; flipping back moves them home again. */

/* Rewrite descriptor addresses in [from, from + RING_SIZE) to base to. */
static void svq_translate(uint8_t *area, uint16_t qsize, uint64_t from,
			  uint64_t to)
{
	uint32_t q, i;

	for (q = 0; q < 2; q++) {
		for (i = 0; i < qsize; i++) {
			uint64_t a;
			uint8_t *p = area + (size_t)(1 + 3 * q) * VB +
				     (size_t)16 * i;

			memcpy(&a, p, 8);
			if (a >= from && a - from < RING_SIZE) {
				a = a - from + to;
				memcpy(p, &a, 8);
			}
		}
	}
}

static void svq_adopt(struct vnet *v, uint8_t *to_mem, uint64_t to_iova)
{
	svq_translate(to_mem, v->qsize, v->iova, to_iova);
	v->mem = to_mem;
	v->iova = to_iova;
}

static void svq_move(struct vnet *v, uint8_t *to_mem, uint64_t to_iova)
{
	svq_copy(v, to_mem);
	svq_adopt(v, to_mem, to_iova);
}

/* (not compound literals inside VDPAMAP_OPTS(): they would die with its
 * statement expression; vqs01, grp1 and svq_rings: conformance.h) */
static const uint32_t vq1[] = { 1 }, vq2[] = { 2 };

/* IOTLB messages counted at the transport, not by the library: the
 * simulator daemon counts what it received; on the kernel every IOTLB
 * message is one write() of 72 bytes to the device, and the kernel's own
 * per-thread I/O accounting counts write() calls and bytes. */
struct tp_count {
	uint64_t sim_writes;
	uint64_t syscw, wchar;
};

static void thread_io(uint64_t *syscw, uint64_t *wchar)
{
	char line[128];
	FILE *fp = fopen("/proc/thread-self/io", "re");

	assert_non_null(fp);
	*syscw = *wchar = UINT64_MAX;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long long x;

		if (sscanf(line, "syscw: %llu", &x) == 1)
			*syscw = x;
		else if (sscanf(line, "wchar: %llu", &x) == 1)
			*wchar = x;
	}
	fclose(fp);
	assert_true(*syscw != UINT64_MAX && *wchar != UINT64_MAX);
}

static void tp_begin(struct fx *f, struct tp_count *c)
{
	struct vdpamap_sim_stats ss;

	memset(c, 0, sizeof(*c));
	if (f->is_sim) {
		assert_int_equal(vdpamap_sim_get_stats(f->path, &ss), 0);
		c->sim_writes = ss.iotlb_writes;
	} else {
		thread_io(&c->syscw, &c->wchar);
	}
}

/* What the transport carried since tp_begin(): *msgs IOTLB messages. */
static void tp_end(struct fx *f, const struct tp_count *c, uint64_t *msgs)
{
	struct vdpamap_sim_stats ss;
	uint64_t syscw, wchar;

	if (f->is_sim) {
		assert_int_equal(vdpamap_sim_get_stats(f->path, &ss), 0);
		*msgs = ss.iotlb_writes - c->sim_writes;
		return;
	}
	thread_io(&syscw, &wchar);
	/* the test log (VDPAMAP_TEST_LOG) writes to stderr too */
	if (getenv("VDPAMAP_TEST_LOG")) {
		*msgs = UINT64_MAX;
		return;
	}
	*msgs = syscw - c->syscw;
	assert_int_equal(wchar - c->wchar, 72 * *msgs);
}

/* A flip or unflip of nr shadow maps sent exactly nr UPDATEs (inv: the
 * INVALIDATEs) in the shadow ASID plus batch markers, and the transport
 * carried exactly that: there is no room left for a single message about
 * guest memory. */
static void flip_msgs_ok(struct fx *f, const struct tp_count *c,
			 const struct vdpamap_flip_info *fi, uint64_t nr,
			 int inv)
{
	uint64_t markers = fi->iotlb_msgs - nr, carried;

	if (fi->path == VDPAMAP_FLIP_PATH_REPLAY) {
		/* every map of every ASID sent again, asked for */
		tp_end(f, c, &carried);
		if (carried != UINT64_MAX)
			assert_int_equal(carried, fi->iotlb_msgs);
		return;
	}
	assert_int_equal(fi->iotlb_updates, inv ? 0 : nr);
	assert_int_equal(fi->iotlb_invalidates, inv ? nr : 0);
	/* all in one ASID: one BATCH_BEGIN/END pair at most */
	assert_true(markers == 0 ||
		    (markers == 2 &&
		     vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_BATCH)));
	tp_end(f, c, &carried);
	if (carried != UINT64_MAX)
		assert_int_equal(carried, fi->iotlb_msgs);
}

/* ASID 0 (guest memory) is exactly what it was, in the mirror and, on the
 * simulator, in the device's own table. */
static void guest_as_equal(const struct snap *a, const struct snap *b)
{
	assert_int_equal(a->count[0], b->count[0]);
	assert_true(a->sum[0] == b->sum[0]);
	assert_int_equal(a->sim_count[0], b->sim_count[0]);
	assert_true(a->sim_sum[0] == b->sim_sum[0]);
}

static uint16_t used_idx(const uint8_t *area, int q)
{
	uint16_t idx;

	memcpy(&idx, area + (size_t)(3 + 3 * q) * VB + 2, 2);
	return idx;
}

/* Loop frames through v, and as a shadow virtqueue would, mark in the log
 * of asid what the device wrote: the rx buffers of the used entries and
 * both used rings.  Returns the pages marked (bit n: page n of the area). */
static void svq_loop_mark(struct fx *f, struct vnet *v, uint32_t asid,
			  uint32_t seq, int mark, uint64_t *want)
{
	uint32_t i;

	for (i = 0; i < 3; i++) {
		uint16_t before = v->used_seen[0], k;
		int r = vnet_loop(v, seq + i, 60 + 500 * i, LOOP_MS);

		if (r < 0)
			fail_msg("loopback frame %u through %s: %s", seq + i,
				 v->iova == GPA + RING_OFF ? "guest rings" :
							     "shadow rings",
				 strerror(-r));
		if (!mark)
			continue;
		for (k = before; k != v->used_seen[0]; k++) {
			uint8_t *e = v->mem + (size_t)3 * VB + 4 +
				     (ptrdiff_t)8 * (k % v->qsize);
			uint32_t id, len;
			uint64_t off;

			memcpy(&id, e, 4);
			memcpy(&len, e + 4, 4);
			off = 7ULL * VB + (uint64_t)id * 2048;
			assert_int_equal(vdpamap_dirty_mark(f->h, asid,
							    v->iova + off, len),
					 0);
			for (; len; len--, off++)
				want[off / VB / 64] |= 1ULL << (off / VB % 64);
		}
		for (k = 0; k < 2; k++) {
			uint64_t at = v->iova + (uint64_t)(3 + 3 * k) * VB;

			assert_int_equal(vdpamap_dirty_mark(f->h, asid, at, VB),
					 0);
			want[0] |= 1ULL << (3 + 3 * k);
		}
	}
}

/* Whether the simulator plays a kernel that freezes a started group's
 * ASID (Linux >= 7.0): the kernel it plays is its profile's, which it
 * says (the default profile's too), whatever the environment asked. */
static int sim_asid_frozen(struct fx *f)
{
	struct vdpamap_sim_limits l;

	if (!f->is_sim)
		return 0;
	assert_int_equal(vdpamap_sim_get_limits(f->path, &l), 0);
	return !strncmp(l.kernel, "linux-7.", 8);
}

/* The path a flip of a started device took is the one the device's
 * answers call for: through a reset where it cannot resume or freezes
 * group ASIDs at DRIVER_OK (the linux-7.3 profile), else in place. */
static void path_ok(struct fx *f, const struct vdpamap_flip_info *fi,
		    const char *what)
{
	static const char *const name[] = { "in place", "reset", "replay" };

	if (!vdpamap_has_feature(f->h, VDPAMAP_F_RESUME) || sim_asid_frozen(f))
		assert_int_not_equal(fi->path, VDPAMAP_FLIP_PATH_IN_PLACE);
	else if (f->is_sim)
		assert_int_equal(fi->path, VDPAMAP_FLIP_PATH_IN_PLACE);
	assert_int_equal(fi->path == VDPAMAP_FLIP_PATH_REPLAY,
			 !vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_PERSIST) &&
				 fi->path != VDPAMAP_FLIP_PATH_IN_PLACE);
	fprintf(stderr,
		"  %s: %s%s%s, %.3f ms (stop %.3f, reset %.3f, "
		"restart %.3f)\n",
		what, name[fi->path % 3],
		(fi->flags & VDPAMAP_FLIP_INFO_BUSY) ? ", after EBUSY" : "",
		(fi->flags & VDPAMAP_FLIP_INFO_DEFERRED) ?
			", DRIVER_OK deferred" :
			"",
		(double)fi->ns / 1e6, (double)fi->stop_ns / 1e6,
		(double)fi->reset_ns / 1e6, (double)fi->restart_ns / 1e6);
}

static uint32_t replay_flag(struct fx *f)
{
	return vdpamap_has_feature(f->h, VDPAMAP_F_IOTLB_PERSIST) ?
		       0 :
		       VDPAMAP_FLIP_REPLAY;
}

static void flip_round(struct fx *f, struct vnet *v, int suspended,
		       uint32_t seq)
{
	struct vdpamap_shadow sh = { .hva = shadow_mem(f), .size = RING_SIZE };
	struct vdpamap_flip_vring vr[2], back[2];
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = vqs01, .nr_vqs = 2,
		     .shadows = &sh, .nr_shadows = 1, .vrings = vr,
		     .nr_vrings = 2);
	VDPAMAP_OPTS(vdpamap_unflip_opts, uo, .vrings = back, .nr_vrings = 2);
	uint64_t want[RING_SIZE / VB / 64] = { 0 };
	uint64_t got[RING_SIZE / VB / 64] = { 0 }, n, len;
	struct vdpamap_flip_info fi, ui;
	struct snap s0, s1;
	struct tp_count c;
	uint16_t guest_used;
	uint32_t asid, q;
	uint8_t *guest = v->mem;
	uint64_t giova = v->iova;
	void *hva;
	int id;

	memcpy(vr, svq_rings, sizeof(vr));
	memset(back, 0, sizeof(back));
	o.flags = uo.flags = replay_flag(f);
	snap_take(f, &s0);
	svq_copy(v, shadow_mem(f));
	if (suspended) {
		/* the SVQ's own sequence: stop the device, read where the
		 * rings are, flip, move the rings, start again */
		assert_int_equal(vdpamap_suspend(f->h), 0);
		for (q = 0; q < 2; q++) {
			uint32_t b;

			assert_int_equal(vdpamap_vring_get_base(f->h, q, &b),
					 0);
			vr[q].flags = VDPAMAP_FLIP_VRING_BASE;
			vr[q].base = b;
		}
		o.flags |= VDPAMAP_FLIP_SUSPENDED;
	}
	tp_begin(f, &c);
	id = vdpamap_flip(f->h, 1, &o, &fi);
	if (id <= 0)
		fail_msg("flip: %s", strerror(-id));
	flip_msgs_ok(f, &c, &fi, 1, 0);
	path_ok(f, &fi, "flip"); /* (its stderr write after the count) */
	assert_int_equal(fi.id, id);
	assert_int_equal(fi.nr_groups, 1);
	assert_int_equal(fi.buffers_moved, 1);
	assert_int_equal(fi.suspended, !suspended);
	snap_take(f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(s1.count[1], s0.count[1] + 1);
	/* the shadow IOVA is a hole of ASID 1 that aliases no guest IOVA */
	assert_true(sh.iova + RING_SIZE <= GPA + WIN_OFF ||
		    sh.iova >= GPA + WIN_OFF + WIN_SIZE);
	assert_int_equal(vdpamap_translate(f->h, 1, sh.iova + 5, &hva, &len),
			 0);
	assert_ptr_equal(hva, shadow_mem(f) + 5);
	assert_int_equal(vdpamap_translate(f->h, 0, sh.iova, &hva, NULL),
			 -ENOENT);
	assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid), 0);
	assert_int_equal(asid, 1);
	mirror_matches_device(f);

	/* the SVQ takes the rings over (the device is idle: nothing posted) */
	svq_adopt(v, shadow_mem(f), sh.iova);
	if (suspended)
		assert_int_equal(vdpamap_resume(f->h), 0);
	guest_used = used_idx(guest, 0);

	/* during: every frame goes through the shadow ASID, and the SVQ's
	 * dirty log sees exactly what the device wrote */
	assert_int_equal(vdpamap_dirty_start(f->h, 1, NULL), 0);
	svq_loop_mark(f, v, 1, seq, 1, want);
	assert_int_equal(used_idx(guest, 0), guest_used);
	assert_true(used_idx(shadow_mem(f), 0) != guest_used);
	if (seq & 1)
		assert_int_equal(vdpamap_dirty_harvest(f->h, 1, sh.iova,
						       RING_SIZE, got,
						       sizeof(got), &n),
				 0);
	else
		assert_int_equal(vdpamap_dirty_harvest_region(f->h, 1,
							      f->region_id,
							      SHADOW_OFF,
							      RING_SIZE, got,
							      sizeof(got), &n),
				 0);
	assert_memory_equal(got, want, sizeof(want));
	assert_true(n > 2);
	assert_int_equal(vdpamap_dirty_stop(f->h, 1), 0);

	/* flip back; the guest rings resume where the shadow ones are */
	if (suspended) {
		assert_int_equal(vdpamap_suspend(f->h), 0);
		for (q = 0; q < 2; q++) {
			back[q].vq = q;
			back[q].flags = VDPAMAP_FLIP_VRING_BASE;
			assert_int_equal(vdpamap_vring_get_base(f->h, q,
								&back[q].base),
					 0);
		}
		uo.flags |= VDPAMAP_FLIP_SUSPENDED;
	} else {
		uo.nr_vrings = 0;
	}
	svq_move(v, guest, giova);
	tp_begin(f, &c);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, &uo, &ui), 0);
	flip_msgs_ok(f, &c, &ui, 1, 1);
	path_ok(f, &ui, "unflip");
	if (suspended)
		assert_int_equal(vdpamap_resume(f->h), 0);
	snap_take(f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(s1.count[1], s0.count[1]);
	assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid), 0);
	assert_int_equal(asid, 0);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL),
			 -ENOENT);
	mirror_matches_device(f);
}

void test_flip_loopback(void **state)
{
	struct fx *f = *state;
	struct vnet v;
	int r;

	/* a shadow ASID, and a started device flipped: suspended and
	 * resumed around it, or (no RESUME, or group ASIDs frozen at
	 * DRIVER_OK) through a reset, replaying every map without PERSIST */
	fx_need(f, VDPAMAP_F_IOTLB_ASID | VDPAMAP_F_SUSPEND);
	fx_need_as(f, 2);
	open_default(f);
	map_window(f, 0, GPA);
	r = vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF, RING_SIZE);
	if (r < 0)
		fail_msg("vnet_start: %s", strerror(-r));
	svq_loop_mark(f, &v, 0, 0, 0, NULL); /* before */
	flip_round(f, &v, 0, 10); /* the library suspends and resumes */
	svq_loop_mark(f, &v, 0, 20, 0, NULL); /* after */
	flip_round(f, &v, 1, 31);	      /* the caller does (its bases) */
	svq_loop_mark(f, &v, 0, 40, 0, NULL);
	vnet_stop(&v);
}

/* 1 if some vq of the device is in group g */
static uint32_t group_has_vq(struct fx *f, uint32_t g)
{
	struct vdpamap_info in;
	uint32_t vq, vg;

	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	for (vq = 0; vq < in.nr_vqs; vq++)
		if (vdpamap_vq_group(f->h, vq, &vg) == 0 && vg == g)
			return 1;
	return 0;
}

/* Guest memory as many entries: the flip's cost does not depend on them. */
void test_flip_zero_guest_msgs(void **state)
{
	struct fx *f = *state;
	struct vdpamap_shadow sh[2] = {
		{ .hva = shadow_mem(f), .size = (long)64 * 1024 },
		{ .hva = shadow_mem(f) + MIB,
		  .size = (long)64 * 1024,
		  .perm = VDPAMAP_PERM_RO },
	};
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .groups = grp1, .nr_groups = 1,
		     .shadows = sh, .nr_shadows = 2);
	struct vdpamap_flip_info fi;
	struct vdpamap_txn *t;
	struct snap s0, s1;
	struct tp_count c;
	uint64_t off;
	int id;

	/* group 1 (the control vq's) into a shadow ASID */
	fx_need(f, VDPAMAP_F_IOTLB_ASID);
	fx_need_as(f, 2);
	fx_need_groups(f, 2);
	open_default(f);
	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	for (off = 0; off < WIN_SIZE; off += (long)64 * 1024)
		assert_int_equal(vdpamap_txn_map(t, 0, GPA + WIN_OFF + off,
						 f->mem + WIN_OFF + off,
						 (long)64 * 1024,
						 VDPAMAP_PERM_RW, NULL),
				 0);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	assert_int_equal(vdpamap_entry_count(f->h, 0), WIN_SIZE / 65536);
	snap_take(f, &s0);
	tp_begin(f, &c);
	id = vdpamap_flip(f->h, 1, &o, &fi);
	assert_true(id > 0);
	flip_msgs_ok(f, &c, &fi, 2, 0);
	/* group 1 holds vdpa_sim's control vq; VDUSE v1's net device
	 * (no control vq) leaves it empty: read the device */
	assert_int_equal(fi.buffers_moved, group_has_vq(f, 1));
	assert_int_equal(fi.suspended, 0); /* not started */
	snap_take(f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(s1.count[1], 2);
	assert_true(sh[0].iova != sh[1].iova);
	mirror_matches_device(f);
	tp_begin(f, &c);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, &fi), 0);
	flip_msgs_ok(f, &c, &fi, 2, 1);
	snap_take(f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(s1.count[1], 0);
	mirror_matches_device(f);
}

/* The flip survives a reset: the binding is re-applied, the shadow maps
 * kept (persist) or resynced, and the device restarted on shadow rings
 * works through the shadow ASID. */
static void flip_reset_case(struct fx *f, int persist)
{
	VDPAMAP_OPTS(vdpamap_open_opts, oo,
		     .want_features = persist ?
					      VDPAMAP_F_KNOWN :
					      VDPAMAP_F_KNOWN &
						      ~VDPAMAP_F_IOTLB_PERSIST);
	struct vdpamap_shadow sh = { .hva = shadow_mem(f), .size = RING_SIZE };
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = vq1, .nr_vqs = 1,
		     .shadows = &sh, .nr_shadows = 1);
	struct vdpamap_reset_info ri;
	struct snap s0, s1;
	struct vnet v;
	uint32_t asid;
	int id;

	assert_int_equal(fx_open(f, &oo), 0);
	map_window(f, 0, GPA);
	loop_ok(f, GPA + RING_OFF);
	assert_int_equal(vdpamap_reset(f->h, NULL), 0);
	snap_take(f, &s0);
	id = vdpamap_flip(f->h, 1, &o, NULL);
	assert_true(id > 0);
	assert_int_equal(vdpamap_reset(f->h, &ri), 0);
	assert_int_equal(ri.groups_rebound, 1);
	assert_int_equal(ri.path, persist ? VDPAMAP_RESET_PERSIST :
					    VDPAMAP_RESET_RESYNC);
	assert_int_equal(vdpamap_get_group_asid(f->h, 0, &asid), 0);
	assert_int_equal(asid, 1);
	mirror_matches_device(f);
	/* a driver restarting after the reset finds the rings in the shadow
	 * ASID: at the guest IOVA they are refused, at the shadow one they
	 * loop */
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 -EFAULT);
	assert_int_equal(vnet_start(&v, f->h, shadow_mem(f), sh.iova,
				    RING_SIZE),
			 0);
	svq_loop_mark(f, &v, 1, 100, 0, NULL);
	/* running on shadow rings that the flip did not set: flipping back
	 * would resume the device on rings ASID 0 does not map; a device
	 * that cannot be resumed is not flipped back while started at all */
	snap_take(f, &s1);
	/* refused before anything is sent, in place or through a reset */
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL),
			 -EFAULT);
	snap_equal(f, &s1);
	vnet_stop(&v);
	assert_int_equal(vdpamap_reset(f->h, NULL), 0);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, NULL, NULL), 0);
	snap_take(f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(s1.count[1], 0);
	assert_int_equal(vdpamap_reset(f->h, &ri), 0);
	assert_int_equal(ri.groups_rebound, 0);
	loop_ok(f, GPA + RING_OFF);
	fx_close(f);
}

void test_flip_reset(void **state)
{
	struct fx *f = *state;

	fx_need(f, VDPAMAP_F_IOTLB_ASID);
	fx_need_as(f, 2);
	flip_reset_case(f, 0);
	/* the resync path ran; the persist path needs the device's
	 * IOTLB_PERSIST */
	fx_need(f, VDPAMAP_F_IOTLB_PERSIST);
	flip_reset_case(f, 1);
}

/* DESC_ASID (no upstream vdpa_sim has it: the simulator configured to
 * offer it, with a third group holding the data vqs' rings): only the
 * descriptor group moves, buffers stay in ASID 0.  The shadow virtqueue
 * relays ring contents between the guest rings and the shadow rings, and
 * buffer addresses need no translation. */
static void relay_rings(uint8_t *to, const uint8_t *from, int used)
{
	uint32_t q;

	for (q = 0; q < 2; q++) {
		uint32_t blk = used ? 3 + 3 * q : 2 + 3 * q;
		uint16_t idx;

		if (!used)
			memcpy(to + (size_t)(1 + 3 * q) * VB,
			       from + (size_t)(1 + 3 * q) * VB, VB);
		/* entries first, then the index (release) */
		memcpy(to + (size_t)blk * VB + 4, from + (size_t)blk * VB + 4,
		       VB - 4);
		idx = __atomic_load_n((const uint16_t *)(from +
							 (size_t)blk * VB + 2),
				      __ATOMIC_ACQUIRE);
		__atomic_store_n((uint16_t *)(to + (size_t)blk * VB + 2), idx,
				 __ATOMIC_RELEASE);
	}
}

static int relay_loop(struct vnet *v, uint8_t *shadow, uint32_t seq,
		      uint32_t len)
{
	uint16_t seen = used_idx(v->mem, 0);
	uint64_t one = 1;
	int r, ms;

	r = vnet_send(v, seq, len);
	if (r < 0)
		return r;
	relay_rings(shadow, v->mem, 0);
	if (write(v->kick[1], &one, 8) != 8 || write(v->kick[0], &one, 8) != 8)
		return -errno;
	for (ms = 0; used_idx(shadow, 0) == seen && ms < LOOP_MS; ms++)
		usleep(1000);
	relay_rings(v->mem, shadow, 1);
	return vnet_recv(v, seq, len, LOOP_MS);
}

void test_flip_desc_asid(void **state)
{
	struct fx f;
	VDPAMAP_OPTS(vdpamap_sim_opts, so,
		     .backend_features = 0x17e | VDPAMAP_F_DESC_ASID,
		     .nr_as = 2, .nr_groups = 3, .nr_vqs = 3);
	struct vdpamap_shadow sh = { .hva = NULL, .size = (uint64_t)8 * VB };
	struct vdpamap_flip_vring vr[2];
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = vqs01, .nr_vqs = 2,
		     .shadows = &sh, .nr_shadows = 1, .vrings = vr,
		     .nr_vrings = 2);
	struct vdpamap_flip_info fi;
	uint32_t asid, g, i;
	struct vnet v;
	struct snap s0, s1;
	int id;

	(void)state;
	fx_need_desc_asid();
	assert_int_equal(fx_setup(&f, &so, MEM_SIZE), 0);
	open_default(&f);
	assert_true(vdpamap_has_feature(f.h, VDPAMAP_F_DESC_ASID));
	assert_int_equal(vdpamap_vq_desc_group(f.h, 0, &g), 0);
	assert_int_equal(g, 2);
	sh.hva = shadow_mem(&f);
	map_window(&f, 0, GPA);
	assert_int_equal(vnet_start(&v, f.h, f.mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(vnet_loop(&v, i, 100, LOOP_MS), 0);
	memcpy(vr, svq_rings, sizeof(vr));
	relay_rings(shadow_mem(&f), v.mem, 0);
	relay_rings(shadow_mem(&f), v.mem, 1);
	snap_take(&f, &s0);
	id = vdpamap_flip(f.h, 1, &o, &fi);
	assert_true(id > 0);
	assert_int_equal(fi.nr_groups, 1);
	assert_int_equal(fi.buffers_moved, 0);
	assert_int_equal(fi.iotlb_updates, 1);
	snap_take(&f, &s1);
	guest_as_equal(&s0, &s1);
	assert_int_equal(vdpamap_get_group_asid(f.h, 2, &asid), 0);
	assert_int_equal(asid, 1);
	assert_int_equal(vdpamap_get_group_asid(f.h, 0, &asid), 0);
	assert_int_equal(asid, 0);
	/* rings through ASID 1, buffers at their guest IOVAs in ASID 0 */
	for (i = 0; i < 3; i++) {
		int r = relay_loop(&v, shadow_mem(&f), 10 + i, 60 + 300 * i);

		if (r < 0)
			fail_msg("relayed frame %u: %s", i, strerror(-r));
	}
	/* without the relay nothing moves: the device reads the shadow
	 * rings, not the guest's */
	assert_int_equal(vnet_loop(&v, 20, 100, 300), -ETIMEDOUT);
	{
		/* the frame comes back on RX after the device took it from TX:
		 * wait for the RX used index (as relay_loop() does), not TX's,
		 * or a slow device (an emulated arm64 guest) writes RX after the
		 * used rings were relayed and the frame never shows */
		uint16_t seen = used_idx(shadow_mem(&f), 0);
		uint64_t one = 1;

		relay_rings(shadow_mem(&f), v.mem, 0);
		assert_int_equal(write(v.kick[1], &one, 8), 8);
		for (i = 0; i < LOOP_MS && used_idx(shadow_mem(&f), 0) == seen;
		     i++)
			usleep(1000);
	}
	relay_rings(v.mem, shadow_mem(&f), 1);
	assert_int_equal(vnet_recv(&v, 20, 100, LOOP_MS), 0);
	assert_int_equal(vdpamap_unflip(f.h, (uint32_t)id, NULL, NULL), 0);
	assert_int_equal(vnet_loop(&v, 30, 100, LOOP_MS), 0);
	/* the whole vq group on request: buffers move too */
	o.flags = VDPAMAP_FLIP_WHOLE_GROUP;
	o.nr_vrings = 0;
	o.vqs = vq2;
	o.nr_vqs = 1;
	id = vdpamap_flip(f.h, 1, &o, &fi);
	assert_true(id > 0);
	assert_int_equal(fi.buffers_moved, 1); /* group 1: the cvq's */
	assert_int_equal(vdpamap_get_group_asid(f.h, 1, &asid), 0);
	assert_int_equal(asid, 1);
	assert_int_equal(vdpamap_unflip(f.h, (uint32_t)id, NULL, NULL), 0);
	vnet_stop(&v);
	mirror_matches_device(&f);
	fx_teardown(&f);
}

/* The restart hook of the reset path: DRIVER_OK is set and only the
 * control vq runs; device-class state a reset may clear is the caller's
 * to replay (the library cannot know it): the MAC, here. */
struct cvq_hook {
	struct vnet *v;
	const uint8_t *mac;
	int calls, r;
};

static int cvq_replay(struct vdpamap *h, void *ctx)
{
	struct cvq_hook *k = ctx;

	(void)h;
	k->calls++;
	k->r = vnet_set_mac(k->v, k->mac, LOOP_MS);
	return k->r;
}

static void mac_is(struct fx *f, const uint8_t *mac, const char *when)
{
	uint8_t got[6];

	assert_int_equal(vdpamap_get_config(f->h, 0, got, 6), 0);
	if (memcmp(got, mac, 6))
		fail_msg("%s: config MAC %02x:%02x:%02x:%02x:%02x:%02x, set "
			 "through the control vq %02x:%02x:%02x:%02x:%02x:%02x",
			 when, got[0], got[1], got[2], got[3], got[4], got[5],
			 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* A flip returned with DRIVER_OK left to the caller (a control vq and
 * no ENABLE_AFTER_DRIVER_OK): start the device, then replay. */
static void cvq_finish(struct fx *f, struct vnet *v,
		       const struct vdpamap_flip_info *fi, const uint8_t *mac)
{
	if (!(fi->flags & VDPAMAP_FLIP_INFO_DEFERRED))
		return;
	assert_int_equal(vdpamap_resume(f->h), 0);
	assert_int_equal(vnet_set_mac(v, mac, LOOP_MS), 0);
}

/* A MAC set through the control vq survives a flip and an unflip, in
 * place or through the reset (Linux >= 7.0: group ASIDs frozen at
 * DRIVER_OK), where the restart hook replays it with only the control
 * vq running; frames addressed to it loop throughout. */
void test_flip_cvq_mac(void **state)
{
	static const uint8_t mac[6] = { 0x02, 0x76, 0x64, 0x6d, 0x00, 0x2a };
	struct fx *f = *state;
	struct vdpamap_shadow sh = { .size = RING_SIZE };
	struct vdpamap_flip_vring vr[2];
	struct vnet v;
	struct cvq_hook k = { .v = &v, .mac = mac };
	VDPAMAP_OPTS(vdpamap_flip_opts, o, .vqs = vqs01, .nr_vqs = 2,
		     .shadows = &sh, .nr_shadows = 1, .vrings = vr,
		     .nr_vrings = 2, .restart_fn = cvq_replay,
		     .restart_ctx = &k);
	VDPAMAP_OPTS(vdpamap_unflip_opts, uo, .restart_fn = cvq_replay,
		     .restart_ctx = &k);
	struct vdpamap_flip_info fi, ui;
	struct vdpamap_info in;
	int r, id;

	fx_need(f, VDPAMAP_F_IOTLB_ASID | VDPAMAP_F_SUSPEND);
	fx_need_as(f, 2);
	open_default(f);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	if ((in.device_features & (1ULL << 17 | 1ULL << 23)) !=
		    (1ULL << 17 | 1ULL << 23) ||
	    in.nr_vqs < 3) {
		fx_teardown(f);
		skip_because("device offers no control vq with "
			     "VIRTIO_NET_F_CTRL_MAC_ADDR (features 0x%llx, "
			     "%u vqs)",
			     (unsigned long long)in.device_features, in.nr_vqs);
	}
	map_window(f, 0, GPA);
	/* the control vq below the vnet area, in ASID 0 (its group stays) */
	r = vnet_start_cvq(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
			   RING_SIZE, f->mem + RING_OFF - VNET_CVQ_MEM,
			   GPA + RING_OFF - VNET_CVQ_MEM);
	if (r < 0)
		fail_msg("vnet_start_cvq: %s", strerror(-r));
	assert_int_equal(vnet_set_mac(&v, mac, LOOP_MS), 0);
	mac_is(f, mac, "set");
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);

	memcpy(vr, svq_rings, sizeof(vr));
	sh.hva = shadow_mem(f);
	o.flags = uo.flags = replay_flag(f);
	svq_copy(&v, shadow_mem(f));
	id = vdpamap_flip(f->h, 1, &o, &fi);
	if (id <= 0)
		fail_msg("flip: %s", strerror(-id));
	path_ok(f, &fi, "flip");
	assert_int_equal(k.r, 0);
	cvq_finish(f, &v, &fi, mac);
	mac_is(f, mac, "after the flip");
	svq_adopt(&v, shadow_mem(f), sh.iova);
	assert_int_equal(vnet_loop(&v, 2, 100, LOOP_MS), 0);

	svq_move(&v, f->mem + RING_OFF, GPA + RING_OFF);
	assert_int_equal(vdpamap_unflip(f->h, (uint32_t)id, &uo, &ui), 0);
	path_ok(f, &ui, "unflip");
	assert_int_equal(k.r, 0);
	cvq_finish(f, &v, &ui, mac);
	mac_is(f, mac, "after the unflip");
	assert_int_equal(vnet_loop(&v, 3, 100, LOOP_MS), 0);
	/* the hook ran exactly where the reset path set DRIVER_OK itself */
	assert_int_equal(k.calls,
			 (fi.flags & VDPAMAP_FLIP_INFO_HOOK ? 1 : 0) +
				 (ui.flags & VDPAMAP_FLIP_INFO_HOOK ? 1 : 0));
	fprintf(stderr,
		"  MAC kept through flip (%s) and unflip (%s); hook "
		"ran %d time(s)\n",
		fi.path == VDPAMAP_FLIP_PATH_IN_PLACE ? "in place" : "reset",
		ui.path == VDPAMAP_FLIP_PATH_IN_PLACE ? "in place" : "reset",
		k.calls);
	vnet_stop(&v);
	mirror_matches_device(f);
}
