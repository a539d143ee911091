// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_commit_cost: where a small commit's time goes on a kernel device,
 * in microseconds, medians of 64 after one untimed run each:
 *  - the syscalls a commit may make besides its writes: getpid() (every
 *    entry check), getrlimit() (PA mode's memlock pre-check),
 *    PROCMAP_QUERY (the memory check, and counting in VA mode), mincore()
 *    (the memory check before Linux 6.11), pagemap (counting in PA mode);
 *  - one write() of a BATCH_BEGIN and BATCH_END pair, and a raw
 *    single-page map (BATCH_BEGIN, UPDATE, BATCH_END) and unmap (a lone
 *    INVALIDATE), the messages the library sends for them;
 *  - vdpamap_map() and vdpamap_unmap() of the same page on one handle.
 * What the library adds is the difference of the last two; bench_throughput
 * gives the ratio per transaction size.
 *
 *   bench_commit_cost [--dev PATH]   (or VDPAMAP_TEST_DEV; exit 77 without
 *                                     a kernel device)
 *                     [--loop N]     only N library map+unmap pairs and
 *                                    their mean: a steady loop for a
 *                                    profiler (perf record in the guest,
 *                                    docs/benchmarks.md); with --loop,
 *                                    --dev may be a simulator's path
 *                                    (vdpamap sim start), for callgrind
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/vhost.h>

#include "benchutil.h"
#include "vdpamap.h"
#include "uapi/procmap.h"

#define PAGE  4096ULL
#define PAGES 4096ULL
#define IOVA0 0x40000000ULL
#define REPS  64

static uint8_t *mem;

/* the median of REPS runs of STMT after one untimed, in microseconds */
#define TIME_US(stmt)                                  \
	({                                             \
		double v_[REPS], t0_;                  \
		int i_;                                \
		stmt;                                  \
		for (i_ = 0; i_ < REPS; i_++) {        \
			t0_ = bench_now_ms();          \
			stmt;                          \
			v_[i_] = bench_now_ms() - t0_; \
		}                                      \
		bench_median(v_, REPS) * 1e3;          \
	})

static void msg(int fd, uint8_t type, uint64_t iova, uint64_t size,
		const void *ua)
{
	struct vhost_msg_v2 m;

	memset(&m, 0, sizeof(m));
	m.type = VHOST_IOTLB_MSG_V2;
	m.iotlb.type = type;
	m.iotlb.iova = iova;
	m.iotlb.size = size;
	m.iotlb.uaddr = (uintptr_t)ua;
	m.iotlb.perm = ua ? VHOST_ACCESS_RW : 0;
	if (write(fd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		bench_die("raw write", -errno);
}

static void raw_map1(int fd)
{
	msg(fd, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL);
	msg(fd, VHOST_IOTLB_UPDATE, IOVA0, PAGE, mem);
	msg(fd, VHOST_IOTLB_BATCH_END, 0, 0, NULL);
}

static void syscalls(void)
{
	unsigned char vec[PAGES];
	struct rlimit rl;
	uint64_t w[512];
	off_t pm = (off_t)((uintptr_t)mem / PAGE * 8);
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

	printf("%-40s %8.2f us\n", "getpid()", TIME_US(getpid()));
	printf("%-40s %8.2f us\n", "getrlimit(RLIMIT_MEMLOCK)",
	       TIME_US(getrlimit(RLIMIT_MEMLOCK, &rl)));
	printf("%-40s %8.2f us\n", "PROCMAP_QUERY (memfd VMA)", TIME_US(({
		       struct procmap_query q = {
			       .size = sizeof(q),
			       .query_flags =
				       PROCMAP_QUERY_COVERING_OR_NEXT_VMA,
			       .query_addr = (uintptr_t)mem,
		       };
		       ioctl(fd, PROCMAP_QUERY, &q);
	       })));
	close(fd);
	printf("%-40s %8.2f us\n", "mincore() 1 page",
	       TIME_US(mincore(mem, PAGE, vec)));
	printf("%-40s %8.2f us\n", "mincore() 4096 pages",
	       TIME_US(mincore(mem, PAGES * PAGE, vec)));
	printf("%-40s %8.2f us\n", "open+pread 8 B+close /proc/self/pagemap",
	       TIME_US(({
		       int pfd =
			       open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		       if (pread(pfd, w, 8, pm) < 0)
			       bench_die("pread", -errno);
		       close(pfd);
	       })));
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	printf("%-40s %8.2f us\n", "pread 4 KiB of pagemap (512 pages)",
	       TIME_US(pread(fd, w, sizeof(w), pm)));
	close(fd);
}

/* map and unmap of one page, REPS pairs after one untimed: medians */
static void pair_print(const char *who, double *m, double *u)
{
	printf("%-40s %8.2f us\n", who, bench_median(m, REPS) * 1e3);
	printf("%-40s %8.2f us\n", "  unmap 1 page",
	       bench_median(u, REPS) * 1e3);
}

static void raw(const char *dev)
{
	uint64_t f = (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2) |
		     (1ULL << VHOST_BACKEND_F_IOTLB_BATCH);
	double m[REPS], u[REPS], t0;
	int fd = open(dev, O_RDWR | O_CLOEXEC), i;

	if (fd < 0 || ioctl(fd, VHOST_SET_OWNER, 0) < 0 ||
	    ioctl(fd, VHOST_SET_BACKEND_FEATURES, &f) < 0)
		bench_die("raw open", -errno);
	printf("%-40s %8.2f us\n", "raw: BATCH_BEGIN+BATCH_END (2 writes)",
	       TIME_US((msg(fd, VHOST_IOTLB_BATCH_BEGIN, 0, 0, NULL),
			msg(fd, VHOST_IOTLB_BATCH_END, 0, 0, NULL))));
	for (i = -1; i < REPS; i++) {
		t0 = bench_now_ms();
		raw_map1(fd);
		if (i >= 0)
			m[i] = bench_now_ms() - t0;
		t0 = bench_now_ms();
		msg(fd, VHOST_IOTLB_INVALIDATE, IOVA0, PAGE, NULL);
		if (i >= 0)
			u[i] = bench_now_ms() - t0;
	}
	pair_print("raw: map 1 page (3 writes)", m, u);
	close(fd);
}

static void lib(const char *dev, int memfd)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o,
		     .require_features = VDPAMAP_F_IOTLB_MSG_V2 |
					 VDPAMAP_F_IOTLB_BATCH);
	struct vdpamap_region rg = { .hva = mem,
				     .len = PAGES * PAGE,
				     .fd = memfd };
	double m[REPS], u[REPS], t0;
	struct vdpamap *h;
	int i, e;

	e = vdpamap_open(dev, &o, &h);
	if (e < 0 || (e = vdpamap_region_add(h, &rg, NULL)) < 0)
		bench_die("open", e);
	for (i = -1; i < REPS; i++) {
		t0 = bench_now_ms();
		e = vdpamap_map(h, 0, IOVA0, mem, PAGE, VDPAMAP_PERM_RW);
		if (e < 0)
			bench_die("map", e);
		if (i >= 0)
			m[i] = bench_now_ms() - t0;
		t0 = bench_now_ms();
		e = vdpamap_unmap(h, 0, IOVA0, PAGE);
		if (e < 0)
			bench_die("unmap", e);
		if (i >= 0)
			u[i] = bench_now_ms() - t0;
	}
	pair_print("library: vdpamap_map() 1 page", m, u);
	vdpamap_close(h);
}

static void lib_loop(const char *dev, int memfd, long n)
{
	struct vdpamap_region rg = { .hva = mem,
				     .len = PAGES * PAGE,
				     .fd = memfd };
	struct vdpamap *h;
	double t0;
	long i;
	int e;

	e = vdpamap_open(dev, NULL, &h);
	if (e < 0 || (e = vdpamap_region_add(h, &rg, NULL)) < 0)
		bench_die("open", e);
	t0 = bench_now_ms();
	for (i = 0; i < n; i++) {
		e = vdpamap_map(h, 0, IOVA0, mem, PAGE, VDPAMAP_PERM_RW);
		if (e < 0 || (e = vdpamap_unmap(h, 0, IOVA0, PAGE)) < 0)
			bench_die("map+unmap", e);
	}
	printf("%-40s %8.2f us\n", "library: map+unmap pair, mean",
	       (bench_now_ms() - t0) * 1e3 / (double)n);
	vdpamap_close(h);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "loop", required_argument, NULL, 'l' },
		{ 0 },
	};
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	const char *dev = getenv("VDPAMAP_TEST_DEV");
	struct stat st;
	long loop = 0;
	int c, memfd;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 'd')
			dev = optarg;
		else if (c == 'l' && (loop = strtol(optarg, NULL, 10)) > 0)
			continue;
		else
			return 2;
	}
	/* --loop runs on a simulator too (a socket): the library's own
	 * instructions per pair, natively, e.g. under callgrind */
	if (!dev || stat(dev, &st) < 0 ||
	    !(S_ISCHR(st.st_mode) || (loop && S_ISSOCK(st.st_mode)))) {
		fprintf(stderr, "bench_commit_cost: needs a kernel device "
				"(--dev or VDPAMAP_TEST_DEV; with --loop, a "
				"simulator's path will do)\n");
		return 77;
	}
	setrlimit(RLIMIT_MEMLOCK, &rl); /* PA mode charges it, even root */
	memfd = memfd_create("bench-guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)(PAGES * PAGE)) < 0)
		bench_die("memfd", -errno);
	mem = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   memfd, 0);
	if (mem == MAP_FAILED)
		bench_die("mmap", -errno);
	memset(mem, 1, PAGES * PAGE);
	if (loop) {
		lib_loop(dev, memfd, loop);
		goto out;
	}
	printf("commit costs on %s (config %s), median of %d, us\n", dev,
	       getenv("VDPAMAP_VM_CONFIG") ?: "?", REPS);
	syscalls();
	raw(dev);
	lib(dev, memfd);
out:
	munmap(mem, PAGES * PAGE);
	close(memfd);
	return 0;
}
