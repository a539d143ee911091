// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_flip: what the SVQ ASID flip buys, measured in one run as ratios
 * against the naive switch, and how fast the dirty log is harvested, on
 * whatever device it is given (the real kernel through scripts/bench-flip,
 * or a simulator it spawns).
 *
 *   bench_flip [--dev PATH] [--sizes 64,256,1024] [--chunk-mib 64]
 *              [--reps 3]
 *
 * For each size S of memfd guest memory (pre-faulted, mapped in ASID 0 at
 * GPA as S/chunk maps), with a vnet driver running on it:
 *  - flip:  vdpamap_flip() of the data vq group to ASID 1 with a 1 MiB
 *    shadow area (separate memory) and both data rings re-pointed at it:
 *    suspend, one UPDATE batch, SET_GROUP_ASID, rings, resume;
 *  - naive: what a VMM without the flip does (QEMU's SVQ switch): suspend,
 *    unmap all guest memory, map it again plus the shadow area, re-point
 *    the rings, resume;
 *  and both ways back.  After every switch a frame is looped through the
 *  rings now in use (the shadow rings: the device used the shadow maps).
 *  - harvest: the dirty log of ASID 0 over S, get-and-clear of the whole
 *    range: clean, fully dirty, and in ring mode with 1024 sparse pages,
 *    in GiB of guest memory scanned per second.
 * Each figure is the median of --reps runs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "vdpamap.h"
#include "vnet.h"

#define MIB	  (1ULL << 20)
#define GPA	  0x40000000ULL
#define RING_OFF  (4 * MIB) /* the vnet area in guest memory */
#define RING_SIZE MIB
#define VB	  4096u /* vnet.c's layout block */

static const char *dev;

static void *memfd_mem(uint64_t size, int *ret_fd)
{
	int fd = memfd_create("bench-flip", MFD_CLOEXEC);
	void *p;

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		bench_die("memfd", -errno);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		bench_die("mmap", -errno);
	if (madvise(p, size, MADV_POPULATE_WRITE) < 0)
		memset(p, 0, size);
	*ret_fd = fd;
	return p;
}

/* ---- the shadow virtqueue of the benchmark: move the driver's area
 * (rings and buffers) and translate its descriptors */
/* copy while the device is idle (consistent indexes: a device resumed on
 * the copy finds nothing to do), adopt once the IOVA is known */
static void svq_copy(struct vnet *v, uint8_t *to_mem)
{
	memcpy(to_mem, v->mem, RING_SIZE);
}

static void svq_adopt(struct vnet *v, uint8_t *to_mem, uint64_t to_iova)
{
	uint32_t q, i;

	for (q = 0; q < 2; q++) {
		for (i = 0; i < v->qsize; i++) {
			uint8_t *p = to_mem + (size_t)(1 + 3 * q) * VB +
				     (size_t)16 * i;
			uint64_t a;

			memcpy(&a, p, 8);
			if (a >= v->iova && a - v->iova < RING_SIZE) {
				a = a - v->iova + to_iova;
				memcpy(p, &a, 8);
			}
		}
	}
	v->mem = to_mem;
	v->iova = to_iova;
}

static void svq_move(struct vnet *v, uint8_t *to_mem, uint64_t to_iova)
{
	svq_copy(v, to_mem);
	svq_adopt(v, to_mem, to_iova);
}

static void loop1(struct vnet *v, uint32_t seq, const char *where)
{
	int r = vnet_loop(v, seq, 200, 5000);

	if (r < 0) {
		fprintf(stderr, "bench_flip: loopback through %s: %s\n", where,
			strerror(-r));
		exit(1);
	}
}

static const struct vdpamap_flip_vring rings[2] = {
	{ .vq = 0,
	  .desc = (uint64_t)1 * VB,
	  .avail = (uint64_t)2 * VB,
	  .used = (uint64_t)3 * VB },
	{ .vq = 1,
	  .desc = (uint64_t)4 * VB,
	  .avail = (uint64_t)5 * VB,
	  .used = (uint64_t)6 * VB },
};

/* Naive: remap everything, rings to [iova + rings offsets]. */
static double naive(struct vdpamap *h, struct vnet *v, uint8_t *guest,
		    uint64_t size, uint64_t chunk, uint8_t *shadow,
		    uint64_t *shadow_iova, int on)
{
	struct vdpamap_txn *t;
	double t0 = bench_now_ms();
	uint64_t off, ring_iova;
	uint32_t q;
	int r;

	r = vdpamap_suspend(h);
	if (r < 0)
		bench_die("suspend", r);
	r = vdpamap_txn_begin(h, &t);
	if (r < 0)
		bench_die("txn_begin", r);
	for (off = 0; off < size && !r; off += chunk)
		r = vdpamap_txn_unmap(t, 0, GPA + off, chunk);
	if (!on && !r)
		r = vdpamap_txn_unmap(t, 0, *shadow_iova, RING_SIZE);
	for (off = 0; off < size && !r; off += chunk)
		r = vdpamap_txn_map(t, 0, GPA + off, guest + off, chunk,
				    VDPAMAP_PERM_RW, NULL);
	if (on && !r)
		r = vdpamap_txn_map(t, 0, VDPAMAP_IOVA_ANY, shadow, RING_SIZE,
				    VDPAMAP_PERM_RW, shadow_iova);
	if (r < 0)
		bench_die("txn", r);
	r = vdpamap_txn_commit(t);
	if (r < 0)
		bench_die("commit", r);
	ring_iova = on ? *shadow_iova : GPA + RING_OFF;
	for (q = 0; q < 2; q++) {
		struct vdpamap_vring vr = {
			.num = v->qsize,
			.desc = ring_iova + rings[q].desc,
			.avail = ring_iova + rings[q].avail,
			.used = ring_iova + rings[q].used,
			.kick_fd = v->kick[q],
			.call_fd = v->call[q],
		};

		if ((r = vdpamap_vring_get_base(h, q, &vr.base)) < 0 ||
		    (r = vdpamap_vring_enable(h, q, 0)) < 0 ||
		    (r = vdpamap_vring_set(h, q, &vr)) < 0 ||
		    (r = vdpamap_vring_enable(h, q, 1)) < 0)
			bench_die("re-point rings", r);
	}
	r = vdpamap_resume(h);
	if (r < 0)
		bench_die("resume", r);
	return bench_now_ms() - t0;
}

struct row {
	uint64_t size_mib, entries;
	double flip, unflip, naive_on, naive_off;
	uint64_t flip_msgs, naive_msgs;
	uint32_t path;		     /* VDPAMAP_FLIP_PATH_* of the last flip */
	double stop, reset, restart; /* the flip's phases (0 in place) */
	double h_clean, h_dirty, h_ring; /* GiB/s */
};

static uint64_t writes(struct vdpamap *h)
{
	struct vdpamap_stats st;

	vdpamap_get_stats(h, &st);
	return st.iotlb_writes;
}

/* GiB of guest memory per second, get-and-clear of [GPA, GPA + size) */
static double harvest_rate(struct vdpamap *h, uint64_t size, uint64_t *bm,
			   int fill, int sparse)
{
	uint64_t pages = size / 4096, n, k = 0, j;
	double t0, t = 0, t1;
	uint32_t seed = 1;
	int r;

	do {
		if (fill) {
			r = vdpamap_dirty_mark(h, 0, GPA, size);
			if (r < 0)
				bench_die("mark", r);
		}
		for (j = 0; j < (uint64_t)sparse; j++) {
			seed = seed * 1103515245u + 12345u;
			r = vdpamap_dirty_mark(h, 0,
					       GPA + (seed % pages) * 4096, 1);
			if (r < 0)
				bench_die("mark", r);
		}
		t0 = bench_now_ms();
		r = vdpamap_dirty_harvest(h, 0, GPA, size, bm,
					  (pages + 63) / 64 * 8, &n);
		t1 = bench_now_ms();
		if (r < 0)
			bench_die("harvest", r);
		if ((fill && n != pages) || (!fill && !sparse && n))
			bench_die("harvest count", -EPROTO);
		memset(bm, 0, (pages + 63) / 64 * 8);
		t += t1 - t0;
		k++;
	} while (t < 100 && k < 100000);
	return (double)size * (double)k / (1 << 30) / (t / 1e3);
}

static void run_size(uint64_t size, uint64_t chunk, int reps, struct row *out)
{
	double fl[16], ufl[16], non[16], noff[16], hc[16], hd[16], hr[16];
	double pst[16], prs[16], prt[16];
	VDPAMAP_OPTS(vdpamap_open_opts, oo);
	struct vdpamap_region rg[2];
	uint8_t *guest, *shadow;
	uint64_t *bm, off, sh_iova = 0, w0;
	int gfd, sfd, i, r;

	if (chunk > size)
		chunk = size;
	guest = memfd_mem(size, &gfd);
	shadow = memfd_mem(2 * MIB, &sfd);
	bm = calloc((size / 4096 + 63) / 64, 8);
	if (!bm)
		bench_die("calloc", -ENOMEM);
	rg[0] = (struct vdpamap_region){ .hva = guest, .len = size, .fd = gfd };
	rg[1] = (struct vdpamap_region){ .hva = shadow,
					 .len = 2 * MIB,
					 .fd = sfd };
	for (i = 0; i < reps; i++) {
		struct vdpamap_shadow sh = { .hva = shadow, .size = RING_SIZE };
		static const uint32_t vqs[] = { 0, 1 };
		VDPAMAP_OPTS(vdpamap_flip_opts, fo, .vqs = vqs, .nr_vqs = 2,
			     .shadows = &sh, .nr_shadows = 1, .vrings = rings,
			     .nr_vrings = 2);
		VDPAMAP_OPTS(vdpamap_dirty_opts, dring,
			     .flags = VDPAMAP_DIRTY_RING);
		struct vdpamap_flip_info fi;
		struct vdpamap_txn *t;
		struct vdpamap *h;
		struct vnet v;
		double t0;
		int id;

		r = vdpamap_open(dev, &oo, &h);
		if (r < 0)
			bench_die("open", r);
		bench_print_caps(h);
		if ((r = vdpamap_region_add(h, &rg[0], NULL)) < 0 ||
		    (r = vdpamap_region_add(h, &rg[1], NULL)) < 0 ||
		    (r = vdpamap_txn_begin(h, &t)) < 0)
			bench_die("setup", r);
		for (off = 0; off < size && r == 0; off += chunk)
			r = vdpamap_txn_map(t, 0, GPA + off, guest + off, chunk,
					    VDPAMAP_PERM_RW, NULL);
		if (r < 0 || (r = vdpamap_txn_commit(t)) < 0)
			bench_die("map guest memory", r);
		r = vnet_start(&v, h, guest + RING_OFF, GPA + RING_OFF,
			       RING_SIZE);
		if (r < 0)
			bench_die("vnet_start", r);
		loop1(&v, 1, "guest rings");

		/* flip and back */
		svq_copy(&v, shadow);
		t0 = bench_now_ms();
		id = vdpamap_flip(h, 1, &fo, &fi);
		fl[i] = bench_now_ms() - t0;
		if (id <= 0)
			bench_die("flip", id);
		out->flip_msgs = fi.iotlb_msgs;
		out->path = fi.path;
		pst[i] = (double)fi.stop_ns / 1e6;
		prs[i] = (double)fi.reset_ns / 1e6;
		prt[i] = (double)fi.restart_ns / 1e6;
		svq_adopt(&v, shadow, sh.iova);
		loop1(&v, 2, "shadow rings, shadow ASID");
		svq_move(&v, guest + RING_OFF, GPA + RING_OFF);
		t0 = bench_now_ms();
		r = vdpamap_unflip(h, (uint32_t)id, NULL, NULL);
		ufl[i] = bench_now_ms() - t0;
		if (r < 0)
			bench_die("unflip", r);
		loop1(&v, 3, "guest rings after the flip");

		/* naive and back */
		w0 = writes(h);
		svq_copy(&v, shadow);
		non[i] = naive(h, &v, guest, size, chunk, shadow, &sh_iova, 1);
		out->naive_msgs = writes(h) - w0;
		svq_adopt(&v, shadow, sh_iova);
		loop1(&v, 4, "shadow rings, naive remap");
		svq_move(&v, guest + RING_OFF, GPA + RING_OFF);
		noff[i] = naive(h, &v, guest, size, chunk, shadow, &sh_iova, 0);
		loop1(&v, 5, "guest rings after the naive remap");
		vnet_stop(&v);

		/* harvest */
		if ((r = vdpamap_dirty_start(h, 0, NULL)) < 0)
			bench_die("dirty_start", r);
		hc[i] = harvest_rate(h, size, bm, 0, 0);
		hd[i] = harvest_rate(h, size, bm, 1, 0);
		if ((r = vdpamap_dirty_stop(h, 0)) < 0 ||
		    (r = vdpamap_dirty_start(h, 0, &dring)) < 0)
			bench_die("dirty restart", r);
		hr[i] = harvest_rate(h, size, bm, 0, 1024);
		out->entries = vdpamap_entry_count(h, 0);
		vdpamap_close(h);
	}
	out->size_mib = size / MIB;
	out->flip = bench_median(fl, reps);
	out->unflip = bench_median(ufl, reps);
	out->naive_on = bench_median(non, reps);
	out->naive_off = bench_median(noff, reps);
	out->stop = bench_median(pst, reps);
	out->reset = bench_median(prs, reps);
	out->restart = bench_median(prt, reps);
	out->h_clean = bench_median(hc, reps);
	out->h_dirty = bench_median(hd, reps);
	out->h_ring = bench_median(hr, reps);
	free(bm);
	munmap(guest, size);
	munmap(shadow, 2 * MIB);
	close(gfd);
	close(sfd);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "sizes", required_argument, NULL, 's' },
		{ "chunk-mib", required_argument, NULL, 'c' },
		{ "reps", required_argument, NULL, 'r' },
		{ 0 },
	};
	char sizes[128] = "64,256,1024", *tok, *save;
	uint64_t chunk = 64 * MIB;
	struct row rows[8];
	int reps = 3, n = 0, c, i;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			dev = optarg;
			break;
		case 's':
			snprintf(sizes, sizeof(sizes), "%s", optarg);
			break;
		case 'c':
			chunk = strtoull(optarg, NULL, 0) * MIB;
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (reps < 1 || reps > 16 || !chunk)
		return 2;
	if (!dev)
		dev = getenv("VDPAMAP_TEST_DEV");
	if (!dev) {
		VDPAMAP_OPTS(vdpamap_sim_opts, so,
			     .flags = getenv("BENCH_SIM_PA") ? VDPAMAP_SIM_PA :
							       0,
			     .max_iotlb_entries = BENCH_SIM_CAPS);
		int r = vdpamap_sim_spawn(&so, bench_sim_path,
					  sizeof(bench_sim_path), &pid);

		if (r < 0)
			bench_die("sim_spawn", r);
		dev = bench_sim_path;
	}
	for (tok = strtok_r(sizes, ",", &save); tok && n < 8;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t s = strtoull(tok, NULL, 0) * MIB;

		if (s < 8 * MIB)
			return 2;
		run_size(s, chunk, reps, &rows[n++]);
	}

	printf("device %s, config %s, guest memory in %llu MiB maps, median "
	       "of %d\n",
	       dev,
	       getenv("VDPAMAP_VM_CONFIG") ?:
		       (bench_sim_path[0] ? "simulator" : "?"),
	       (unsigned long long)(chunk / MIB), reps);
	printf("%6s %4s %10s %10s %8s %5s %10s %10s %8s %9s %9s %9s\n", "MiB",
	       "maps", "flip", "naive", "ratio", "msgs", "unflip", "naive",
	       "ratio", "harvest", "h-dirty", "h-ring");
	for (i = 0; i < n; i++)
		printf("%6llu %4llu %8.2fms %8.2fms %7.1fx %2llu/%-2llu %8.2fms "
		       "%8.2fms %7.1fx %5.0fGiB/s %5.1fGiB/s %5.1fGiB/s\n",
		       (unsigned long long)rows[i].size_mib,
		       (unsigned long long)rows[i].entries, rows[i].flip,
		       rows[i].naive_on, rows[i].naive_on / rows[i].flip,
		       (unsigned long long)rows[i].flip_msgs,
		       (unsigned long long)rows[i].naive_msgs, rows[i].unflip,
		       rows[i].naive_off, rows[i].naive_off / rows[i].unflip,
		       rows[i].h_clean, rows[i].h_dirty, rows[i].h_ring);
	for (i = 0; i < n; i++)
		if (rows[i].path != VDPAMAP_FLIP_PATH_IN_PLACE)
			printf("%6llu MiB: flip %s: stop %.2fms, reset %.2fms, "
			       "restart %.2fms\n",
			       (unsigned long long)rows[i].size_mib,
			       rows[i].path == VDPAMAP_FLIP_PATH_RESET ?
				       "through the reset (PERSIST)" :
				       "through the reset, maps replayed",
			       rows[i].stop, rows[i].reset, rows[i].restart);
		else
			printf("%6llu MiB: flip in place\n",
			       (unsigned long long)rows[i].size_mib);
	if (n > 1)
		printf("flip at %llu MiB / flip at %llu MiB: %.2f\n",
		       (unsigned long long)rows[n - 1].size_mib,
		       (unsigned long long)rows[0].size_mib,
		       rows[n - 1].flip / rows[0].flip);
	if (bench_sim_path[0])
		vdpamap_sim_stop(bench_sim_path);
	return 0;
}
