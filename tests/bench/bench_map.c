// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_map: what batching and IOTLB_PERSIST buy, measured in one run as
 * ratios against the naive path, on whatever device it is given (the real
 * kernel through scripts/bench-kernel, or a simulator it spawns).
 *
 *   bench_map [--dev PATH] [--sizes 64,256] [--chunk-kib 2048] [--reps 3]
 *
 * For each size S of memfd guest memory (pre-faulted once):
 *  - map S as S/chunk maps in one transaction, with and without BATCH
 *    negotiated (on a batch-style parent un-batched mapping re-pushes the
 *    whole table per message: quadratic);
 *  - map S as one UPDATE, with and without BATCH (in PA mode one UPDATE is
 *    one kernel entry per physically contiguous run);
 *  - reset with IOTLB_PERSIST (nothing re-sent) vs the INVALIDATE+UPDATE
 *    resync the library does without it.
 * Each figure is the median of --reps runs; close() between runs unpins.
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

#define MIB (1ULL << 20)

static const char *dev;

static struct vdpamap *open_dev(uint64_t want, void *mem, uint64_t size,
				int memfd)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .want_features = want);
	struct vdpamap_region rg = { .hva = mem, .len = size, .fd = memfd };
	struct vdpamap *h;
	int r;

	r = vdpamap_open(dev, &o, &h);
	if (r < 0)
		bench_die("open", r);
	bench_print_caps(h);
	r = vdpamap_region_add(h, &rg, NULL);
	if (r < 0)
		bench_die("region_add", r);
	return h;
}

/* map [mem, mem+size) at IOVA 0 as maps of chunk bytes in one txn */
static double map_chunks(struct vdpamap *h, uint8_t *mem, uint64_t size,
			 uint64_t chunk)
{
	struct vdpamap_txn *t;
	double t0 = bench_now_ms();
	uint64_t off;
	int r;

	r = vdpamap_txn_begin(h, &t);
	if (r < 0)
		bench_die("txn_begin", r);
	for (off = 0; off < size; off += chunk) {
		r = vdpamap_txn_map(t, 0, off, mem + off, chunk,
				    VDPAMAP_PERM_RW, NULL);
		if (r < 0)
			bench_die("txn_map", r);
	}
	r = vdpamap_txn_commit(t);
	if (r < 0)
		bench_die("commit", r);
	return bench_now_ms() - t0;
}

struct row {
	uint64_t size_mib;
	double chunk_b, chunk_u, one_b, one_u, persist, resync;
};

static void run_size(uint64_t size, uint64_t chunk, int reps, struct row *out)
{
	double cb[16], cu[16], ob[16], ou[16], rp[16], rs[16];
	uint64_t all = VDPAMAP_F_KNOWN;
	uint64_t nob = all & ~VDPAMAP_F_IOTLB_BATCH;
	uint64_t nop = all & ~VDPAMAP_F_IOTLB_PERSIST;
	struct vdpamap_reset_info ri;
	struct vdpamap *h;
	uint8_t *mem;
	int memfd, i, r;

	memfd = memfd_create("bench-guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)size) < 0)
		bench_die("memfd", -errno);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		bench_die("mmap", -errno);
	if (madvise(mem, size, MADV_POPULATE_WRITE) < 0)
		memset(mem, 0, size);

	for (i = 0; i < reps; i++) {
		h = open_dev(all, mem, size, memfd);
		cb[i] = map_chunks(h, mem, size, chunk);
		vdpamap_close(h);
		h = open_dev(nob, mem, size, memfd);
		cu[i] = map_chunks(h, mem, size, chunk);
		vdpamap_close(h);
		h = open_dev(all, mem, size, memfd);
		ob[i] = map_chunks(h, mem, size, size);
		vdpamap_close(h);
		h = open_dev(nob, mem, size, memfd);
		ou[i] = map_chunks(h, mem, size, size);
		vdpamap_close(h);

		h = open_dev(all, mem, size, memfd);
		map_chunks(h, mem, size, chunk);
		r = vdpamap_reset(h, &ri);
		if (r < 0 || ri.path != VDPAMAP_RESET_PERSIST)
			bench_die("reset (persist)", r < 0 ? r : -EPROTO);
		rp[i] = (double)ri.ns / 1e6;
		vdpamap_close(h);
		h = open_dev(nop, mem, size, memfd);
		map_chunks(h, mem, size, chunk);
		r = vdpamap_reset(h, &ri);
		if (r < 0 || ri.path != VDPAMAP_RESET_RESYNC)
			bench_die("reset (resync)", r < 0 ? r : -EPROTO);
		rs[i] = (double)ri.ns / 1e6;
		vdpamap_close(h);
	}
	out->size_mib = size / MIB;
	out->chunk_b = bench_median(cb, reps);
	out->chunk_u = bench_median(cu, reps);
	out->one_b = bench_median(ob, reps);
	out->one_u = bench_median(ou, reps);
	out->persist = bench_median(rp, reps);
	out->resync = bench_median(rs, reps);
	munmap(mem, size);
	close(memfd);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "sizes", required_argument, NULL, 's' },
		{ "chunk-kib", required_argument, NULL, 'c' },
		{ "reps", required_argument, NULL, 'r' },
		{ 0 },
	};
	char sizes[128] = "64,256", *tok, *save;
	uint64_t chunk = 2 * MIB;
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
			chunk = strtoull(optarg, NULL, 0) * 1024;
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (reps < 1 || reps > 16 || !chunk || (chunk & 4095))
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
	     tok = strtok_r(NULL, ",", &save))
		run_size(strtoull(tok, NULL, 0) * MIB, chunk, reps, &rows[n++]);

	printf("device %s, config %s, chunk %llu KiB, median of %d\n", dev,
	       getenv("VDPAMAP_VM_CONFIG") ?:
		       (bench_sim_path[0] ? "simulator" : "?"),
	       (unsigned long long)(chunk / 1024), reps);
	printf("%8s %12s %12s %7s %12s %12s %7s %10s %10s %7s\n", "MiB",
	       "chunks-batch", "chunks-nobat", "ratio", "one-batch",
	       "one-nobatch", "ratio", "persist", "resync", "ratio");
	for (i = 0; i < n; i++)
		printf("%8llu %10.2fms %10.2fms %6.1fx %10.2fms %10.2fms %6.1fx "
		       "%8.3fms %8.2fms %6.0fx\n",
		       (unsigned long long)rows[i].size_mib, rows[i].chunk_b,
		       rows[i].chunk_u, rows[i].chunk_u / rows[i].chunk_b,
		       rows[i].one_b, rows[i].one_u,
		       rows[i].one_u / rows[i].one_b, rows[i].persist,
		       rows[i].resync,
		       rows[i].resync / (rows[i].persist > 0.001 ?
						 rows[i].persist :
						 0.001));
	if (bench_sim_path[0])
		vdpamap_sim_stop(bench_sim_path);
	return 0;
}
