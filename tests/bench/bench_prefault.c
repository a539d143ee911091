// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_prefault: parallel pre-fault at open (vdpamap_open_opts.
 * prefault_threads) against none, in one run.  For each thread count, a
 * fresh memfd of --size MiB (no page faulted yet) is opened as one region
 * pre-mapped at open, and then every page is touched once, as a guest
 * starting would.  Reported: the open (pre-fault + pre-map), the touch,
 * and their sum, with the sum's ratio to no pre-fault.  On a PA-mode
 * device the pre-map pins and so faults every page itself, serially under
 * the device lock: there the pre-fault moves that work to threads.  On a
 * VA-mode device nothing is faulted at open: without pre-fault the guest
 * pays every fault at first touch.
 *
 *   bench_prefault [--dev PATH] [--size MiB] [--threads 0,1,2,4] [--reps 3]
 *                  [--dat FILE]
 * Without --dev (or VDPAMAP_TEST_DEV) it spawns a simulator
 * (BENCH_SIM_PA=1: PA mode).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "vdpamap.h"

#define MIB (1ULL << 20)

static const char *dev;

/* one open + touch of size bytes with t pre-fault threads */
static void once(uint64_t size, uint32_t t, double *open_ms, double *touch_ms,
		 uint32_t *mode)
{
	struct vdpamap_region rg = { .len = size, .iova = 0x100000000ULL };
	VDPAMAP_OPTS(vdpamap_open_opts, o, .regions = &rg, .nr_regions = 1,
		     .prefault_threads = t);
	struct vdpamap_info in;
	struct vdpamap *h;
	volatile uint8_t *p;
	uint8_t *mem;
	double t0;
	uint64_t off;
	int fd, e;

	fd = memfd_create("bench-guest", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		bench_die("memfd", -errno);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		bench_die("mmap", -errno);
	rg.hva = mem;
	rg.fd = fd;
	t0 = bench_now_ms();
	e = vdpamap_open(dev, &o, &h);
	if (e < 0)
		bench_die("open", e);
	*open_ms = bench_now_ms() - t0;
	if (bench_sim_path[0]) /* (kernel runs: stdout is the .dat) */
		bench_print_caps(h);
	t0 = bench_now_ms();
	for (p = mem, off = 0; off < size; off += 4096)
		p[off] = 1;
	*touch_ms = bench_now_ms() - t0;
	if (vdpamap_get_info(h, &in) == 0)
		*mode = in.mem_mode;
	vdpamap_close(h);
	munmap(mem, size);
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "size", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "reps", required_argument, NULL, 'r' },
		{ "dat", required_argument, NULL, 'o' },
		{ 0 },
	};
	char threads[64] = "0,1,2,4", *tok, *save;
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	double op[16], to[16], res[8][3];
	uint32_t th[8], mode = 0;
	uint64_t size = 256 * MIB;
	const char *dat = NULL;
	int reps = 3, n = 0, c, i, k;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			dev = optarg;
			break;
		case 's':
			size = strtoull(optarg, NULL, 0) * MIB;
			break;
		case 't':
			snprintf(threads, sizeof(threads), "%s", optarg);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'o':
			dat = optarg;
			break;
		default:
			return 2;
		}
	}
	if (reps < 1 || reps > 16 || !size)
		return 2;
	setrlimit(RLIMIT_MEMLOCK, &rl);
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
	for (tok = strtok_r(threads, ",", &save); tok && n < 8;
	     tok = strtok_r(NULL, ",", &save)) {
		th[n] = (uint32_t)strtoul(tok, NULL, 0);
		for (k = 0; k < reps; k++)
			once(size, th[n], &op[k], &to[k], &mode);
		res[n][0] = bench_median(op, reps);
		res[n][1] = bench_median(to, reps);
		for (k = 0; k < reps; k++)
			op[k] += to[k];
		res[n][2] = bench_median(op, reps);
		n++;
	}
	printf("pre-fault at open, %llu MiB of memfd memory on %s (%s, %s), "
	       "%ld CPUs, median of %d\n",
	       (unsigned long long)(size / MIB),
	       bench_sim_path[0] ? "the simulator" : dev,
	       mode == VDPAMAP_MEMMODE_PA ? "PA mode: pins" : "VA mode",
	       getenv("VDPAMAP_VM_CONFIG") ?: "host",
	       sysconf(_SC_NPROCESSORS_ONLN), reps);
	printf("%8s | %10s %10s %10s | %s\n", "threads", "open", "touch",
	       "total", "total vs none");
	for (i = 0; i < n; i++)
		printf("%8u | %8.1fms %8.1fms %8.1fms | %.2fx\n", th[i],
		       res[i][0], res[i][1], res[i][2], res[0][2] / res[i][2]);
	if (dat) {
		/* "-": on stdout, "@dat "-prefixed (as bench_throughput) */
		int out = !strcmp(dat, "-");
		FILE *f = out ? stdout : fopen(dat, "w");
		const char *pfx = out ? "@dat prefault " : "";

		if (!f)
			bench_die(dat, -errno);
		fprintf(f, "%s# threads open_ms touch_ms total_ms\n", pfx);
		for (i = 0; i < n; i++)
			fprintf(f, "%s%u %.2f %.2f %.2f\n", pfx, th[i],
				res[i][0], res[i][1], res[i][2]);
		if (!out)
			fclose(f);
	}
	if (bench_sim_path[0])
		vdpamap_sim_stop(bench_sim_path);
	return 0;
}
