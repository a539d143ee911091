// SPDX-License-Identifier: BSD-3-Clause
/*
 * vdpamap demo [DEV]: the library end to end, each step timed and checked
 * with a TX -> RX loopback through the device (tools/vdpamap/vnet.c):
 *
 *   1 guest memory in a memfd          6 reset without it (RESYNC)
 *   2 open with the region pre-mapped  7 data group -> ASID 1
 *   3 virtio-net up, rings in guest    8 and back to ASID 0
 *     memory                           9 exec handoff: the demo execs
 *   4 loopback                           itself, the new image adopts
 *   5 reset with IOTLB_PERSIST           the device and loops a frame
 *                                     10 close
 *
 * Step 9 (--handoff STRATEGY, default auto): vdpamap_handoff_prepare(),
 * the steps so far in a memfd, execv(/proc/self/exe, "demo
 * --handoff-successor FD"); the new image adopts, loops a frame and
 * reports the strategy and the downtime (SUSPEND in the old image to the
 * first good loopback in the new one), then goes on with step 10 and
 * prints the table's end (or the whole JSON document).
 *
 * Without DEV the built-in simulator is spawned; step 6 then spawns a
 * second simulator that does not offer IOTLB_PERSIST (an older kernel), or
 * with --no-persist-sim reopens the same device without negotiating it, as
 * it does for a real device (reopening drops and rebuilds every map).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vdpamap.h"
#include "vnet.h"

#define DEMO_AREA	(1ULL << 20)	/* vnet rings + buffers */
#define DEMO_TIMEOUT_MS	5000
#define DEMO_MAX_STEPS	32
#define DEMO_MAX_KV	8
#define DEMO_NO_HANDOFF	UINT32_MAX	/* --handoff none */

enum { ST_OK, ST_FAIL, ST_SKIP };

struct step {
	int n;				/* 1..9; sub-rows repeat it */
	const char *name;
	uint64_t ns;
	int state;
	const char *path;		/* PERSIST, RESYNC, ... or NULL */
	int err;			/* errno when failed */
	char detail[400];
	struct {
		const char *k;
		uint64_t v;
	} kv[DEMO_MAX_KV];
	int nkv;
};

struct demo {
	struct cli *c;
	const char *dev;		/* the device in use */
	char dev0[256];			/* the device of step 2 */
	char dev1[256];			/* the device of step 6 on, if other */
	int spawned;
	char sim[2][256];		/* spawned simulators */
	pid_t simpid[2];
	int nsims;
	int no_persist_sim;
	uint64_t size;

	int memfd;
	uint8_t *mem;
	uint64_t iova;			/* of mem[0] in ASID 0 (and 1) */
	struct vdpamap *h;
	struct vnet v;
	uint32_t seq;
	uint32_t data_groups[2];	/* groups of vq 0 and vq 1 */
	uint32_t nr_data_groups;

	struct step steps[DEMO_MAX_STEPS];
	int nsteps;
	int failed;
	int last_n;
	uint64_t t_start;

	uint32_t handoff;		/* VDPAMAP_HANDOFF_* or DEMO_NO_HANDOFF */
	char devbuf[256];		/* dev, in the exec'd image */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double ms(uint64_t ns)
{
	return (double)((ns + 500) / 1000) / 1000.0;
}

static void demo_log(int level, const char *msg, void *ctx)
{
	fprintf(stderr, "vdpamap: libvdpamap: %s\n", msg);
}

static int log_level(const struct demo *d)
{
	return d->c->verbose > 1 ? VDPAMAP_LOG_DEBUG :
	       d->c->verbose ? VDPAMAP_LOG_INFO : VDPAMAP_LOG_WARN;
}

static const char *pl(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static const char *reset_path(uint32_t p)
{
	return p == VDPAMAP_RESET_PERSIST ? "PERSIST" :
	       p == VDPAMAP_RESET_RESYNC ? "RESYNC" : "?";
}

/* ---- step records */

static struct step *step_new(struct demo *d, int n, const char *name)
{
	struct step *s;

	if (d->nsteps >= DEMO_MAX_STEPS)
		abort();
	s = &d->steps[d->nsteps++];
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->name = name;
	return s;
}

static void kv(struct step *s, const char *k, uint64_t v)
{
	if (s->nkv < DEMO_MAX_KV) {
		s->kv[s->nkv].k = k;
		s->kv[s->nkv].v = v;
		s->nkv++;
	}
}

static void detail(struct step *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void detail(struct step *s, const char *fmt, ...)
{
	size_t off = strlen(s->detail);
	va_list ap;

	if (off >= sizeof(s->detail) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(s->detail + off, sizeof(s->detail) - off, fmt, ap);
	va_end(ap);
}

static void print_header(struct demo *d)
{
	printf("vdpamap demo: %s %s%s, %" PRIu64 " MiB guest memory\n",
	       d->spawned ? "built-in simulator" : "device", d->dev,
	       d->spawned ? " (spawned)" : "", d->size >> 20);
	printf("%-2s %-26s %10s  %-8s %s\n", "#", "step", "ms", "result",
	       "detail");
}

static void print_row(struct demo *d, const struct step *s)
{
	char num[8] = "";
	const char *res;

	if (s->n != d->last_n)
		snprintf(num, sizeof(num), "%d", s->n);
	d->last_n = s->n;
	res = s->state == ST_FAIL ? "FAIL" :
	      s->state == ST_SKIP ? "skip" : s->path ? s->path : "ok";
	printf("%-2s %-26s %10.3f  %-8s %s\n", num, s->name, ms(s->ns), res,
	       s->detail);
	fflush(stdout);
}

/* Close a step: r < 0 fails it (and the demo). */
static int step_end(struct demo *d, struct step *s, int r)
{
	if (r < 0) {
		s->state = ST_FAIL;
		s->err = -r;
		detail(s, "%s%s", s->detail[0] ? ": " : "", strerror(-r));
		if (d->h && vdpamap_poison_reason(d->h))
			detail(s, " (handle poisoned: %s)",
			       vdpamap_poison_reason(d->h));
		d->failed = 1;
		fprintf(stderr, "vdpamap demo: step %d %s failed: %s\n", s->n,
			s->name, strerror(-r));
	}
	if (!d->c->json)
		print_row(d, s);
	return r;
}

static void step_skip(struct demo *d, int n, const char *name,
		      const char *why)
{
	struct step *s = step_new(d, n, name);

	s->state = ST_SKIP;
	detail(s, "%s", why);
	step_end(d, s, 0);
}

/* ---- pieces */

static int loop_frames(struct demo *d, struct step *s)
{
	static const uint32_t lens[] = { 60, 590, 1514 };
	struct vdpamap_info in;
	unsigned int i;
	int r;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint32_t seq = ++d->seq;

		r = vnet_loop(&d->v, seq, lens[i], DEMO_TIMEOUT_MS);
		if (r < 0) {
			detail(s, "frame %u (%u B) %s", seq, lens[i],
			       r == -ETIMEDOUT ? "never came back on RX" :
			       r == -EBADMSG ? "came back corrupted" :
					       "could not be sent");
			return r;
		}
	}
	detail(s, "3 frames (60, 590, 1514 B) looped TX->RX intact");
	kv(s, "frames", 3);
	if (vdpamap_get_info(d->h, &in) == 0 && in.is_sim && d->nsims) {
		struct vdpamap_sim_stats st;

		if (vdpamap_sim_get_stats(d->sim[d->nsims - 1], &st) == 0) {
			detail(s, " (simulator: %" PRIu64 " tx, %" PRIu64
			       " rx frames)", st.tx_frames, st.rx_frames);
		}
	}
	return 0;
}

static int net_up(struct demo *d)
{
	uint64_t area = d->size < DEMO_AREA ? d->size : DEMO_AREA;
	uint64_t off = d->size - area;

	return vnet_start(&d->v, d->h, d->mem + off, d->iova + off, area);
}

static int do_open(struct demo *d, const char *path, uint64_t want,
		   struct step *s)
{
	struct vdpamap_region reg = {
		.hva = d->mem,
		.len = d->size,
		.fd = d->memfd,
		.fd_offset = 0,
		.perm = VDPAMAP_PERM_RW,
		.iova = VDPAMAP_IOVA_ANY,
	};
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .want_features = want,
		     .log_fn = demo_log, .log_level = log_level(d),
		     .regions = &reg, .nr_regions = 1, .prefault_threads = 2);
	struct vdpamap_stats st;
	struct vdpamap_info in;
	uint64_t entries;
	uint32_t i;
	int r;

	r = vdpamap_open(path, &oo, &d->h);
	if (r < 0)
		return r;
	r = vdpamap_reverse(d->h, 0, d->mem, &d->iova, NULL);
	if (r < 0) {
		detail(s, "guest memory not found in ASID 0 after the pre-map");
		return r;
	}
	vdpamap_get_stats(d->h, &st);
	vdpamap_get_info(d->h, &in);
	entries = vdpamap_entry_count(d->h, 0);
	detail(s, "%" PRIu64 " MiB at IOVA 0x%" PRIx64 " -> %" PRIu64
	       " entr%s in ASID 0; since open %" PRIu64 " IOTLB write%s (%"
	       PRIu64 " UPDATE, %" PRIu64 " INVALIDATE), %" PRIu64
	       " batch%s%s; %s mode; backend 0x%" PRIx64, d->size >> 20,
	       d->iova, entries, entries == 1 ? "y" : "ies", st.iotlb_writes,
	       pl(st.iotlb_writes), st.iotlb_updates, st.iotlb_invalidates,
	       st.iotlb_batches, st.iotlb_batches == 1 ? "" : "es",
	       !st.iotlb_batches && entries == 1 &&
			       vdpamap_has_feature(d->h, VDPAMAP_F_IOTLB_BATCH) ?
		       " (a lone UPDATE needs none)" : "",
	       in.mem_mode == VDPAMAP_MEMMODE_PA ? "PA" : "VA",
	       in.backend_acked);
	s->path = "PRE-MAP";
	kv(s, "entries", entries);
	kv(s, "iotlb_writes", st.iotlb_writes);
	kv(s, "iotlb_updates", st.iotlb_updates);
	kv(s, "iotlb_batches", st.iotlb_batches);
	kv(s, "backend_acked", in.backend_acked);

	d->nr_data_groups = 0;
	for (i = 0; i < 2 && i < in.nr_vqs; i++) {
		uint32_t g;

		if (vdpamap_vq_group(d->h, i, &g) < 0)
			continue;
		if (d->nr_data_groups && d->data_groups[0] == g)
			continue;
		d->data_groups[d->nr_data_groups++] = g;
	}
	return 0;
}

/* A step of its own: restart the net device and loop frames. */
static int restart_loop(struct demo *d, int n, const char *name)
{
	struct step *s = step_new(d, n, name);
	uint64_t t0 = now_ns();
	int r;

	r = net_up(d);
	if (r < 0) {
		s->ns = now_ns() - t0;
		detail(s, "vnet_start");
		return step_end(d, s, r);
	}
	detail(s, "net restarted (rings re-initialised); ");
	r = loop_frames(d, s);
	s->ns = now_ns() - t0;
	return step_end(d, s, r);
}

static int reset_step(struct demo *d, int n, const char *name,
		      const char *note)
{
	struct step *s = step_new(d, n, name);
	struct vdpamap_reset_info ri = { 0 };
	uint64_t t0 = now_ns();
	int r;

	vnet_stop(&d->v);
	r = vdpamap_reset(d->h, &ri);
	s->ns = now_ns() - t0;
	if (r < 0)
		return step_end(d, s, r);
	s->path = reset_path(ri.path);
	detail(s, "%" PRIu64 " IOTLB msg%s, %" PRIu64 " entr%s kept valid, "
	       "%u group binding%s re-applied (library: %.3f ms)",
	       ri.iotlb_msgs, pl(ri.iotlb_msgs), ri.entries,
	       ri.entries == 1 ? "y" : "ies", ri.groups_rebound,
	       pl(ri.groups_rebound), ms(ri.ns));
	if (ri.path == VDPAMAP_RESET_RESYNC)
		detail(s, "; INVALIDATE+UPDATE of every entry");
	if (note)
		detail(s, "; %s", note);
	kv(s, "iotlb_msgs", ri.iotlb_msgs);
	kv(s, "entries", ri.entries);
	kv(s, "groups_rebound", ri.groups_rebound);
	return step_end(d, s, 0);
}

/* Reset, then bind every data group to asid (before DRIVER_OK: the only
 * time upstream kernels take SET_GROUP_ASID for sure). */
static int move_groups(struct demo *d, int n, const char *name,
		       uint32_t asid)
{
	struct step *s = step_new(d, n, name);
	struct vdpamap_reset_info ri = { 0 };
	uint64_t t0 = now_ns();
	uint32_t i, a;
	int r;

	vnet_stop(&d->v);
	r = vdpamap_reset(d->h, &ri);
	if (r < 0) {
		s->ns = now_ns() - t0;
		detail(s, "reset");
		return step_end(d, s, r);
	}
	for (i = 0; i < d->nr_data_groups; i++) {
		r = vdpamap_set_group_asid(d->h, d->data_groups[i], asid);
		if (r < 0) {
			s->ns = now_ns() - t0;
			detail(s, "SET_GROUP_ASID group %u -> ASID %u",
			       d->data_groups[i], asid);
			return step_end(d, s, r);
		}
	}
	s->ns = now_ns() - t0;
	detail(s, "reset (%s, %" PRIu64 " IOTLB msg%s), then SET_GROUP_ASID:",
	       reset_path(ri.path), ri.iotlb_msgs, pl(ri.iotlb_msgs));
	for (i = 0; i < d->nr_data_groups; i++) {
		r = vdpamap_get_group_asid(d->h, d->data_groups[i], &a);
		if (r < 0)
			return step_end(d, s, r);
		if (a != asid) {
			detail(s, " group %u is in ASID %u", d->data_groups[i],
			       a);
			return step_end(d, s, -EIO);
		}
		detail(s, " group %u (rx/tx) now in ASID %u",
		       d->data_groups[i], a);
	}
	s->path = reset_path(ri.path);
	kv(s, "asid", asid);
	kv(s, "iotlb_msgs", ri.iotlb_msgs);
	return step_end(d, s, 0);
}

static int close_handle(struct demo *d)
{
	vnet_stop(&d->v);
	d->h = vdpamap_close(d->h);
	return 0;
}

static int spawn_sim(struct demo *d, uint64_t backend)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .backend_features = backend);
	int r;

	if (d->nsims >= 2)
		return -EINVAL;
	r = vdpamap_sim_spawn(&so, d->sim[d->nsims], sizeof(d->sim[0]),
			      &d->simpid[d->nsims]);
	if (r < 0)
		return r;
	d->nsims++;
	return 0;
}

/* ---- the steps */

static int step_memory(struct demo *d)
{
	struct step *s = step_new(d, 1, "guest memory");
	uint64_t t0 = now_ns();
	void *p;
	int r;

	d->memfd = memfd_create("vdpamap-demo-guest", MFD_CLOEXEC);
	if (d->memfd < 0) {
		r = -errno;
		goto out;
	}
	if (ftruncate(d->memfd, (off_t)d->size) < 0) {
		r = -errno;
		goto out;
	}
	p = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, d->memfd,
		 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	d->mem = p;
	r = 0;
	detail(s, "%" PRIu64 " MiB memfd, MAP_SHARED", d->size >> 20);
	kv(s, "bytes", d->size);
out:
	s->ns = now_ns() - t0;
	return step_end(d, s, r);
}

static int step_open(struct demo *d)
{
	struct step *s = step_new(d, 2, "open + pre-map");
	uint64_t t0 = now_ns();
	int r;

	r = do_open(d, d->dev, 0, s);
	s->ns = now_ns() - t0;
	if (r == 0)
		detail(s, "; pre-faulted by 2 threads");
	return step_end(d, s, r);
}

static int step_net_up(struct demo *d)
{
	struct step *s = step_new(d, 3, "virtio-net up");
	uint64_t t0 = now_ns();
	int r;

	r = net_up(d);
	s->ns = now_ns() - t0;
	if (r == 0) {
		detail(s, "rx/tx rings and buffers at IOVA 0x%" PRIx64
		       " (last %" PRIu64 " KiB of guest memory), queue size %u",
		       d->v.iova, d->v.size >> 10, d->v.qsize);
		kv(s, "ring_iova", d->v.iova);
		kv(s, "queue_size", d->v.qsize);
	}
	return step_end(d, s, r);
}

static int step_loop(struct demo *d)
{
	struct step *s = step_new(d, 4, "loopback");
	uint64_t t0 = now_ns();
	int r;

	r = loop_frames(d, s);
	s->ns = now_ns() - t0;
	return step_end(d, s, r);
}

static int step_reset_persist(struct demo *d)
{
	int r;

	r = reset_step(d, 5, "reset (persist)",
		       vdpamap_has_feature(d->h, VDPAMAP_F_IOTLB_PERSIST) ?
			       NULL : "IOTLB_PERSIST not negotiated");
	if (r < 0)
		return r;
	return restart_loop(d, 5, "restart + loopback");
}

static int step_reset_resync(struct demo *d)
{
	struct step *s;
	uint64_t t0, t1, t2, t3;
	int r;

	if (!vdpamap_has_feature(d->h, VDPAMAP_F_IOTLB_PERSIST)) {
		step_skip(d, 6, "reopen without persist",
			  "IOTLB_PERSIST not negotiated: step 5 already took "
			  "the RESYNC path");
	} else {
		s = step_new(d, 6, "reopen without persist");
		t0 = now_ns();
		close_handle(d);
		t1 = now_ns();
		if (d->spawned && !d->no_persist_sim) {
			r = spawn_sim(d, 0x17eULL & ~VDPAMAP_F_IOTLB_PERSIST);
			t2 = now_ns();
			if (r < 0) {
				s->ns = t2 - t0;
				detail(s, "spawning a second simulator");
				return step_end(d, s, r);
			}
			d->dev = d->sim[d->nsims - 1];
			snprintf(d->dev1, sizeof(d->dev1), "%s", d->dev);
			r = do_open(d, d->dev, 0, s);
			t3 = now_ns();
			s->ns = t3 - t0;
			if (r < 0)
				return step_end(d, s, r);
			detail(s, " | second simulator offering 0x%llx (no "
			       "IOTLB_PERSIST, an older kernel): close %.3f "
			       "ms, spawn %.3f ms, open + pre-map %.3f ms",
			       0x17eULL & ~VDPAMAP_F_IOTLB_PERSIST,
			       ms(t1 - t0), ms(t2 - t1), ms(t3 - t2));
			/* the first one is no longer needed */
			if (vdpamap_sim_stop(d->sim[0]) == 0)
				d->sim[0][0] = '\0';
		} else {
			r = do_open(d, d->dev,
				    VDPAMAP_F_KNOWN & ~VDPAMAP_F_IOTLB_PERSIST,
				    s);
			t3 = now_ns();
			s->ns = t3 - t0;
			if (r < 0)
				return step_end(d, s, r);
			detail(s, " | reopened without negotiating "
			       "IOTLB_PERSIST: close dropped every map "
			       "(%.3f ms), open rebuilt them (%.3f ms)",
			       ms(t1 - t0), ms(t3 - t1));
		}
		if (vdpamap_has_feature(d->h, VDPAMAP_F_IOTLB_PERSIST)) {
			detail(s, "; IOTLB_PERSIST still negotiated");
			return step_end(d, s, -EPROTO);
		}
		step_end(d, s, 0);
		r = restart_loop(d, 6, "net up + loopback");
		if (r < 0)
			return r;
	}
	r = reset_step(d, 6, "reset (no persist)", NULL);
	if (r < 0)
		return r;
	return restart_loop(d, 6, "restart + loopback");
}

static int step_asid(struct demo *d)
{
	struct vdpamap_stats a, b;
	struct vdpamap_info in;
	struct step *s;
	uint64_t t0;
	int r;

	vdpamap_get_info(d->h, &in);
	if (in.nr_as < 2 || !vdpamap_has_feature(d->h, VDPAMAP_F_IOTLB_ASID) ||
	    !d->nr_data_groups) {
		const char *why = in.nr_as < 2 ?
					  "device has a single address space" :
				  !d->nr_data_groups ?
					  "vq groups unknown" :
					  "IOTLB_ASID not negotiated";

		step_skip(d, 7, "data group -> ASID 1", why);
		step_skip(d, 8, "data group -> ASID 0", why);
		return 0;
	}

	s = step_new(d, 7, "map guest memory in ASID 1");
	vdpamap_get_stats(d->h, &a);
	t0 = now_ns();
	r = vdpamap_map(d->h, 1, d->iova, d->mem, d->size, VDPAMAP_PERM_RW);
	s->ns = now_ns() - t0;
	vdpamap_get_stats(d->h, &b);
	if (r == 0) {
		detail(s, "same %" PRIu64 " MiB at IOVA 0x%" PRIx64
		       " in ASID 1: %" PRIu64 " IOTLB write%s, ASID 0 "
		       "untouched (%" PRIu64 " entr%s)", d->size >> 20,
		       d->iova, b.iotlb_writes - a.iotlb_writes,
		       pl(b.iotlb_writes - a.iotlb_writes),
		       vdpamap_entry_count(d->h, 0),
		       vdpamap_entry_count(d->h, 0) == 1 ? "y" : "ies");
		kv(s, "iotlb_writes", b.iotlb_writes - a.iotlb_writes);
	}
	if (step_end(d, s, r) < 0)
		return r;

	r = move_groups(d, 7, "data group -> ASID 1", 1);
	if (r < 0)
		return r;
	r = restart_loop(d, 7, "restart + loop via ASID 1");
	if (r < 0)
		return r;

	r = move_groups(d, 8, "data group -> ASID 0", 0);
	if (r < 0)
		return r;
	r = restart_loop(d, 8, "restart + loop via ASID 0");
	if (r < 0)
		return r;

	s = step_new(d, 8, "unmap ASID 1");
	t0 = now_ns();
	r = vdpamap_unmap(d->h, 1, d->iova, d->size);
	s->ns = now_ns() - t0;
	if (r == 0)
		detail(s, "ASID 1 empty again (%" PRIu64 " entries), ASID 0 "
		       "still %" PRIu64, vdpamap_entry_count(d->h, 1),
		       vdpamap_entry_count(d->h, 0));
	return step_end(d, s, r);
}

static int step_close(struct demo *d)
{
	struct step *s = step_new(d, 10, "close");
	uint64_t t0 = now_ns(), t1;
	int i, r = 0;

	close_handle(d);
	t1 = now_ns();
	s->ns = t1 - t0;
	detail(s, "device closed: every map dropped");
	for (i = 0; i < d->nsims; i++) {
		if (!d->sim[i][0])
			continue;
		r = vdpamap_sim_stop(d->sim[i]);
		if (r < 0) {
			detail(s, "; stopping simulator %s", d->sim[i]);
			break;
		}
		d->sim[i][0] = '\0';
		detail(s, "; simulator stopped (%.3f ms)", ms(now_ns() - t1));
	}
	return step_end(d, s, r);
}

/* ---- step 9: exec handoff.  The demo's own state (the steps so far,
 * the simulators, the ring eventfds) crosses the exec in a memfd. */

#define WIRE_MAGIC	0x3146574f4d4544ULL	/* "DEMOWF1" */

struct wire_step {
	int32_t n, state, err, nkv, has_path, pad;
	uint64_t ns;
	char name[48], path[24], detail[400];
	struct {
		char k[32];
		uint64_t v;
	} kv[DEMO_MAX_KV];
};

struct wire {
	uint64_t magic;
	uint64_t len;			/* sizeof(struct wire) */
	int32_t json, pretty, verbose, spawned;
	int32_t nsims, no_persist_sim, failed, last_n;
	int32_t nsteps, kick[2], call[2];
	uint32_t seq, nr_data_groups, data_groups[2];
	uint64_t size, iova, t_start;
	pid_t simpid[2];
	char dev[256], dev0[256], dev1[256], sim[2][256];
	struct wire_step steps[DEMO_MAX_STEPS];
};

static void wire_fill(const struct demo *d, struct wire *w)
{
	int i, k;

	memset(w, 0, sizeof(*w));
	w->magic = WIRE_MAGIC;
	w->len = sizeof(*w);
	w->json = d->c->json;
	w->pretty = d->c->pretty;
	w->verbose = d->c->verbose;
	w->spawned = d->spawned;
	w->nsims = d->nsims;
	w->no_persist_sim = d->no_persist_sim;
	w->failed = d->failed;
	w->last_n = d->last_n;
	w->nsteps = d->nsteps;
	for (i = 0; i < 2; i++) {
		w->kick[i] = d->v.kick[i];
		w->call[i] = d->v.call[i];
		w->simpid[i] = d->simpid[i];
		snprintf(w->sim[i], sizeof(w->sim[i]), "%s", d->sim[i]);
	}
	w->seq = d->seq;
	w->nr_data_groups = d->nr_data_groups;
	memcpy(w->data_groups, d->data_groups, sizeof(w->data_groups));
	w->size = d->size;
	w->iova = d->iova;
	w->t_start = d->t_start;
	snprintf(w->dev, sizeof(w->dev), "%s", d->dev);
	snprintf(w->dev0, sizeof(w->dev0), "%s", d->dev0);
	snprintf(w->dev1, sizeof(w->dev1), "%s", d->dev1);
	for (i = 0; i < d->nsteps; i++) {
		const struct step *s = &d->steps[i];
		struct wire_step *ws = &w->steps[i];

		ws->n = s->n;
		ws->state = s->state;
		ws->err = s->err;
		ws->ns = s->ns;
		ws->has_path = !!s->path;
		snprintf(ws->name, sizeof(ws->name), "%s", s->name);
		snprintf(ws->path, sizeof(ws->path), "%s",
			 s->path ? s->path : "");
		snprintf(ws->detail, sizeof(ws->detail), "%s", s->detail);
		ws->nkv = s->nkv;
		for (k = 0; k < s->nkv; k++) {
			snprintf(ws->kv[k].k, sizeof(ws->kv[k].k), "%s",
				 s->kv[k].k);
			ws->kv[k].v = s->kv[k].v;
		}
	}
}

/* The exec'd image: take the demo back from w (which must outlive d: the
 * step names point into it). */
static int wire_take(struct demo *d, const struct wire *w)
{
	int i, k;

	if (w->magic != WIRE_MAGIC || w->len != sizeof(*w) ||
	    w->nsteps < 0 || w->nsteps >= DEMO_MAX_STEPS || w->nsims < 0 ||
	    w->nsims > 2 || w->nr_data_groups > 2)
		return -EBADMSG;
	d->c->json = w->json;
	d->c->pretty = w->pretty;
	d->c->verbose = w->verbose;
	d->spawned = w->spawned;
	d->nsims = w->nsims;
	d->no_persist_sim = w->no_persist_sim;
	d->failed = w->failed;
	d->last_n = w->last_n;
	d->nsteps = w->nsteps;
	for (i = 0; i < 2; i++) {
		d->simpid[i] = w->simpid[i];
		snprintf(d->sim[i], sizeof(d->sim[i]), "%s", w->sim[i]);
	}
	d->seq = w->seq;
	d->nr_data_groups = w->nr_data_groups;
	memcpy(d->data_groups, w->data_groups, sizeof(d->data_groups));
	d->size = w->size;
	d->iova = w->iova;
	d->t_start = w->t_start;
	snprintf(d->devbuf, sizeof(d->devbuf), "%s", w->dev);
	d->dev = d->devbuf;
	snprintf(d->dev0, sizeof(d->dev0), "%s", w->dev0);
	snprintf(d->dev1, sizeof(d->dev1), "%s", w->dev1);
	for (i = 0; i < w->nsteps; i++) {
		const struct wire_step *ws = &w->steps[i];
		struct step *s = &d->steps[i];

		memset(s, 0, sizeof(*s));
		s->n = ws->n;
		s->state = ws->state;
		s->err = ws->err;
		s->ns = ws->ns;
		s->name = ws->name;
		s->path = ws->has_path ? ws->path : NULL;
		snprintf(s->detail, sizeof(s->detail), "%s", ws->detail);
		s->nkv = ws->nkv < 0 || ws->nkv > DEMO_MAX_KV ? 0 : ws->nkv;
		for (k = 0; k < s->nkv; k++) {
			s->kv[k].k = ws->kv[k].k;
			s->kv[k].v = ws->kv[k].v;
		}
	}
	return 0;
}

static const char *strategy_path(uint32_t s)
{
	return s == VDPAMAP_HANDOFF_NEW_OWNER ? "NEW_OWNER" :
	       s == VDPAMAP_HANDOFF_KEEPER ? "KEEPER" :
	       s == VDPAMAP_HANDOFF_REBUILD ? "REBUILD" : "?";
}

/* The old image: prepare, save the demo, exec.  Returns only if the exec
 * (or what precedes it) failed: the step fails and the handoff is
 * cancelled, so that step 10 can still close the device. */
static int step_handoff(struct demo *d)
{
	VDPAMAP_OPTS(vdpamap_handoff_opts, ho, .strategy = d->handoff);
	struct wire *w;
	struct step *s;
	char num[16], *argv[5];
	uint64_t t0;
	int wfd, sfd = -1, r;

	if (d->handoff == DEMO_NO_HANDOFF) {
		step_skip(d, 9, "exec handoff", "--handoff none");
		return 0;
	}
	if (getenv("VDPAMAP_MEMCHECK")) {
		/* meson test --setup valgrind: /proc/self/exe is valgrind's
		 * launcher, and it refuses the keeper's clone(CLONE_VM) */
		step_skip(d, 9, "exec handoff", "not under memcheck "
			  "(VDPAMAP_MEMCHECK): valgrind can neither re-exec "
			  "this program nor run the mm keeper");
		return 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	wire_fill(d, w);
	s = step_new(d, 9, "exec handoff");
	t0 = now_ns();
	wfd = memfd_create("vdpamap-demo-steps", MFD_CLOEXEC);
	if (wfd < 0 || pwrite(wfd, w, sizeof(*w), 0) != (ssize_t)sizeof(*w)) {
		r = -errno;
		free(w);
		if (wfd >= 0)
			close(wfd);
		s->ns = now_ns() - t0;
		detail(s, "saving the demo's state");
		return step_end(d, s, r);
	}
	free(w);
	ho.extra_fds = &wfd;
	ho.nr_extra_fds = 1;
	r = vdpamap_handoff_prepare(d->h, &ho, &sfd);
	if (r < 0) {
		close(wfd);
		s->ns = now_ns() - t0;
		detail(s, "vdpamap_handoff_prepare (%s)",
		       d->handoff == VDPAMAP_HANDOFF_AUTO ? "auto" :
		       strategy_path(d->handoff));
		return step_end(d, s, r);
	}
	snprintf(num, sizeof(num), "%d", sfd);
	setenv(VDPAMAP_HANDOFF_ENV, num, 1);
	snprintf(num, sizeof(num), "%d", wfd);
	argv[0] = "vdpamap";
	argv[1] = "demo";
	argv[2] = "--handoff-successor";
	argv[3] = num;
	argv[4] = NULL;
	fflush(NULL);
	execv("/proc/self/exe", argv);
	r = -errno;
	unsetenv(VDPAMAP_HANDOFF_ENV);
	vdpamap_handoff_cancel(d->h);
	close(wfd);
	s->ns = now_ns() - t0;
	detail(s, "execv /proc/self/exe (handoff cancelled)");
	return step_end(d, s, r);
}

/* The new image, right after the exec: adopt, attach to the running net
 * device, loop a frame.  The row's time is the downtime. */
static int step_adopted(struct demo *d, const struct wire *w)
{
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = demo_log,
		     .log_level = log_level(d), .prefault_threads = 2);
	struct step *s = step_new(d, 9, "exec handoff");
	struct vdpamap_handoff_info hi;
	struct vdpamap_region rg;
	struct vdpamap_stats st;
	uint64_t area, off, t1;
	uint32_t id;
	int r;

	r = vdpamap_handoff_adopt(-1, &oo, &d->h);
	if (r < 0) {
		detail(s, "vdpamap_handoff_adopt in the new image");
		return step_end(d, s, r);
	}
	if ((r = vdpamap_handoff_get_info(d->h, &hi)) < 0 ||
	    (r = vdpamap_region_ids(d->h, &id, 1)) < 0 ||
	    (r = vdpamap_region_get(d->h, id, &rg)) < 0) {
		detail(s, "handoff info / region");
		return step_end(d, s, r);
	}
	d->mem = rg.hva;
	d->memfd = rg.fd;
	area = d->size < DEMO_AREA ? d->size : DEMO_AREA;
	off = d->size - area;
	r = vnet_attach(&d->v, d->h, d->mem + off, d->iova + off, area,
			w->kick, w->call);
	if (r < 0) {
		s->ns = now_ns() - hi.suspend_ns;
		detail(s, "vnet_attach");
		return step_end(d, s, r);
	}
	r = vnet_loop(&d->v, ++d->seq, 590, DEMO_TIMEOUT_MS);
	t1 = now_ns();
	s->ns = t1 - hi.suspend_ns;
	s->path = strategy_path(hi.strategy);
	if (r < 0) {
		detail(s, "the first frame after the handoff %s",
		       r == -ETIMEDOUT ? "never came back on RX" :
					 "came back corrupted");
		return step_end(d, s, r);
	}
	vdpamap_get_stats(d->h, &st);
	detail(s, "execv of this program, strategy %s: downtime %.3f ms "
	       "from SUSPEND in the old image (prepare %.3f ms) to the first "
	       "good loopback in the new one (adopt %.3f ms); %" PRIu64
	       " IOTLB write%s (%" PRIu64 " UPDATE, %" PRIu64 " REMAP)%s",
	       s->path, ms(s->ns), ms(hi.prepare_ns), ms(hi.adopt_ns),
	       st.iotlb_writes, pl(st.iotlb_writes), st.iotlb_updates,
	       st.iotlb_remaps,
	       hi.keeper_alive ? "; an mm keeper holds the old address space" :
				 "");
	kv(s, "downtime_us", (s->ns + 500) / 1000);
	kv(s, "prepare_us", (hi.prepare_ns + 500) / 1000);
	kv(s, "adopt_us", (hi.adopt_ns + 500) / 1000);
	kv(s, "iotlb_writes", st.iotlb_writes);
	kv(s, "iotlb_remaps", st.iotlb_remaps);
	kv(s, "frames", 1);
	return step_end(d, s, 0);
}

/* ---- output */

static void print_json(struct demo *d, uint64_t total)
{
	struct json j;
	int i, k;

	json_init(&j, stdout, d->c->pretty);
	json_obj_open(&j, NULL);
	json_str(&j, "device", d->dev0);
	if (d->dev1[0])
		json_str(&j, "device_no_persist", d->dev1);
	json_bool(&j, "spawned_sim", d->spawned);
	json_u64(&j, "size_mib", d->size >> 20);
	json_arr_open(&j, "steps");
	for (i = 0; i < d->nsteps; i++) {
		const struct step *s = &d->steps[i];

		json_obj_open(&j, NULL);
		json_u64(&j, "n", (unsigned long long)s->n);
		json_str(&j, "step", s->name);
		json_double(&j, "ms", ms(s->ns));
		json_bool(&j, "ok", s->state != ST_FAIL);
		if (s->state == ST_SKIP)
			json_bool(&j, "skipped", 1);
		json_str(&j, "path", s->path);
		json_str(&j, "detail", s->detail);
		if (s->state == ST_FAIL) {
			json_str(&j, "error", strerror(s->err));
			json_i64(&j, "errno", s->err);
		}
		for (k = 0; k < s->nkv; k++)
			json_u64(&j, s->kv[k].k, s->kv[k].v);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_double(&j, "total_ms", ms(total));
	json_bool(&j, "ok", !d->failed);
	json_obj_close(&j);
	json_end(&j);
}

static void demo_usage(FILE *f)
{
	fprintf(f,
		"Usage: vdpamap [-j] [-p] [-v] demo [DEV] [--size MiB] "
		"[--no-persist-sim]\n"
		"                                   [--handoff STRATEGY]\n"
		"\n"
		"Run the library end to end and time every step: guest memory "
		"in a memfd,\n"
		"open with it pre-mapped, virtio-net up with its rings in "
		"guest memory,\n"
		"TX->RX loopback, reset with and without IOTLB_PERSIST, the "
		"data group\n"
		"moved to ASID 1 and back, an exec handoff of the device to a "
		"new image\n"
		"of this program (live update), close.  Every step after the "
		"net is up\n"
		"is checked with a loopback.\n"
		"\n"
		"  DEV                 /dev/vhost-vdpa-N or a simulator socket "
		"(default:\n"
		"                      spawn the built-in simulator)\n"
		"  -s, --size MiB      guest memory (default 64)\n"
		"  --no-persist-sim    for the no-persist reset, reopen the "
		"same simulator\n"
		"                      without negotiating IOTLB_PERSIST "
		"instead of\n"
		"                      spawning a second one that does not "
		"offer it\n"
		"  --handoff STRATEGY  exec handoff strategy: auto (default), "
		"new-owner,\n"
		"                      keeper, rebuild, or none (skip the "
		"step)\n"
		"\n"
		"Exit status 0 only if every step succeeded.\n");
}

int cmd_demo(struct cli *c)
{
	static const struct option lopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "no-persist-sim", no_argument, NULL, 'N' },
		{ "handoff", required_argument, NULL, 'H' },
		{ "handoff-successor", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct demo *d;
	unsigned long long mib = 64;
	uint32_t handoff = VDPAMAP_HANDOFF_AUTO;
	struct wire *w = NULL;
	uint64_t total;
	char *end;
	int o, i, r, rc, no_persist_sim = 0, wfd = -1;

	while ((o = getopt_long(c->argc, c->argv, "s:jpvh", lopts, NULL)) !=
	       -1) {
		switch (o) {
		case 's':
			errno = 0;
			mib = strtoull(optarg, &end, 0);
			if (errno || *end || !mib || mib > (1ULL << 20)) {
				fprintf(stderr, "vdpamap demo: bad --size '%s' "
					"(MiB, 1..1048576)\n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'N':
			no_persist_sim = 1;
			break;
		case 'H':
			if (!strcmp(optarg, "auto")) {
				handoff = VDPAMAP_HANDOFF_AUTO;
			} else if (!strcmp(optarg, "new-owner")) {
				handoff = VDPAMAP_HANDOFF_NEW_OWNER;
			} else if (!strcmp(optarg, "keeper")) {
				handoff = VDPAMAP_HANDOFF_KEEPER;
			} else if (!strcmp(optarg, "rebuild")) {
				handoff = VDPAMAP_HANDOFF_REBUILD;
			} else if (!strcmp(optarg, "none")) {
				handoff = DEMO_NO_HANDOFF;
			} else {
				fprintf(stderr, "vdpamap demo: bad --handoff "
					"'%s' (auto, new-owner, keeper, "
					"rebuild, none)\n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'S':	/* hidden: this image is step 9's new one */
			wfd = atoi(optarg);
			break;
		case 'j':
			c->json = 1;
			break;
		case 'p':
			c->json = c->pretty = 1;
			break;
		case 'v':
			c->verbose++;
			break;
		case 'h':
			demo_usage(stdout);
			return CLI_EXIT_OK;
		default:
			demo_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return CLI_EXIT_FAIL;
	d->c = c;
	d->memfd = -1;
	d->size = (uint64_t)mib << 20;
	d->no_persist_sim = no_persist_sim;
	d->handoff = handoff;
	if (wfd >= 0) {
		/* exec'd by step 9 of the demo that ran steps 1 to 8 */
		w = malloc(sizeof(*w));
		if (!w || pread(wfd, w, sizeof(*w), 0) != (ssize_t)sizeof(*w) ||
		    wire_take(d, w) < 0) {
			fprintf(stderr, "vdpamap demo: --handoff-successor %d: "
				"no demo state there\n", wfd);
			free(w);
			free(d);
			return CLI_EXIT_FAIL;
		}
		close(wfd);
		r = step_adopted(d, w);
		if (!r)
			r = step_close(d);
		goto done;
	}
	if (optind < c->argc)
		d->dev = c->argv[optind++];
	if (optind < c->argc) {
		demo_usage(stderr);
		free(d);
		return CLI_EXIT_USAGE;
	}

	d->t_start = now_ns();
	if (!d->dev) {
		r = spawn_sim(d, 0);
		if (r < 0) {
			fprintf(stderr, "vdpamap demo: spawning the simulator: "
				"%s\n", strerror(-r));
			free(d);
			return CLI_EXIT_FAIL;
		}
		d->dev = d->sim[0];
		d->spawned = 1;
	}
	snprintf(d->dev0, sizeof(d->dev0), "%s", d->dev);
	if (!c->json)
		print_header(d);

	r = step_memory(d);
	if (!r)
		r = step_open(d);
	if (!r)
		r = step_net_up(d);
	if (!r)
		r = step_loop(d);
	if (!r)
		r = step_reset_persist(d);
	if (!r)
		r = step_reset_resync(d);
	if (!r)
		r = step_asid(d);
	if (!r)
		r = step_handoff(d);	/* returns only if it failed */
	if (!r)
		r = step_close(d);
done:
	(void)r;
	total = now_ns() - d->t_start;

	/* whatever is left after a failure */
	close_handle(d);
	for (i = 0; i < d->nsims; i++)
		if (d->sim[i][0])
			vdpamap_sim_stop(d->sim[i]);
	if (d->mem)
		munmap(d->mem, d->size);
	if (d->memfd >= 0)
		close(d->memfd);

	if (c->json) {
		print_json(d, total);
	} else if (d->failed) {
		printf("demo FAILED (%.3f ms)\n", ms(total));
	} else {
		printf("demo ok: every step succeeded (%.3f ms)\n", ms(total));
	}
	rc = d->failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	free(d);
	free(w);
	return rc;
}
