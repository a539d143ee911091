// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_sim_scale: how the simulator's cost grows with its table, per
 * parent style, through the library (issue 15 item 3: the simulator should
 * cost what the parent it plays costs, not more).
 *
 *   bench_sim_scale [--counts 100,1000,10000,100000] [--reps 5]
 *                   [--pairs 20] [--parents setmap,permap] [--dat FILE]
 *
 * For each parent style a VA-mode simulator is spawned with its IOTLB
 * entry caps raised (BENCH_SIM_CAPS); for each count n, --reps times on a
 * fresh open:
 *  - commit: one transaction of n single-page maps, the commit call alone
 *    (n UPDATEs in one BATCH_BEGIN..END);
 *  - pair: with the n entries mapped, one single-page vdpamap_map() and
 *    vdpamap_unmap() at a free IOVA, the mean of --pairs pairs (a set_map
 *    parent re-reads the whole table twice per pair, as the kernel's does:
 *    O(n) is the parent's cost; a per-map parent should stay flat);
 *  - sweep: vdpamap_unmap() of the n entries (n INVALIDATEs in one batch).
 * Each figure is the median over the reps of wall time (ms); "daemon" is
 * the simulator process's CPU time (utime + stime from /proc/PID/stat) in
 * the same interval, which tells its share from the library's and the
 * socket's; "lib" is this process's CPU time in it (the library's: this
 * program does nothing but call it, and liburcu's callback thread is the
 * library's too).  "B/entry" is the library's heap in steady state: bytes
 * malloc holds for it (mallinfo2 uordblks) after the pairs, less those
 * before the n maps, over n.  The machine may be shared: wall times move, the shape of the
 * curve is what to read.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "vdpamap.h"

#define PAGE  4096ULL
#define IOVA0 0x40000000ULL
#define MAXR  16

static uint8_t *mem;
static int memfd;
static uint64_t mem_pages;
static pid_t sim_pid;

/* the daemon's CPU time so far, ms */
static double sim_cpu_ms(void)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)sim_pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* fields 14 and 15, counted after the ")" that ends comm */
	if (!p || !(p = strrchr(buf, ')')) ||
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		   &st) != 2)
		return 0;
	return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

/* this process's CPU time so far, ms */
static double lib_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

struct sample {
	double wall, cpu, lib;
};

static void start(struct sample *s)
{
	s->cpu = sim_cpu_ms();
	s->lib = lib_cpu_ms();
	s->wall = bench_now_ms();
}

static void stop(struct sample *s)
{
	s->wall = bench_now_ms() - s->wall;
	s->lib = lib_cpu_ms() - s->lib;
	s->cpu = sim_cpu_ms() - s->cpu;
}

static struct sample map_n(struct vdpamap *h, uint64_t n)
{
	struct vdpamap_txn *t;
	struct sample s;
	uint64_t i;
	int r;

	r = vdpamap_txn_begin(h, &t);
	if (r < 0)
		bench_die("txn_begin", r);
	for (i = 0; i < n; i++) {
		r = vdpamap_txn_map(t, 0, IOVA0 + i * PAGE, mem + i * PAGE,
				    PAGE, VDPAMAP_PERM_RW, NULL);
		if (r < 0)
			bench_die("txn_map", r);
	}
	start(&s);
	r = vdpamap_txn_commit(t);
	stop(&s);
	if (r < 0)
		bench_die("commit", r);
	return s;
}

/* pairs single-page map+unmap below the n entries; per pair */
static struct sample pairs(struct vdpamap *h, int np)
{
	struct sample s;
	int i, r;

	start(&s);
	for (i = 0; i < np; i++) {
		r = vdpamap_map(h, 0, IOVA0 - PAGE,
				mem + (mem_pages - 1) * PAGE, PAGE,
				VDPAMAP_PERM_RW);
		if (r < 0)
			bench_die("map (pair)", r);
		r = vdpamap_unmap(h, 0, IOVA0 - PAGE, PAGE);
		if (r < 0)
			bench_die("unmap (pair)", r);
	}
	stop(&s);
	s.wall /= np;
	s.cpu /= np;
	s.lib /= np;
	return s;
}

static struct sample sweep(struct vdpamap *h, uint64_t n)
{
	struct sample s;
	int r;

	start(&s);
	r = vdpamap_unmap(h, 0, IOVA0, n * PAGE);
	stop(&s);
	if (r < 0)
		bench_die("unmap (sweep)", r);
	return s;
}

struct row {
	uint64_t n;
	struct sample commit, pair, sweep;
	double bpe; /* library heap bytes per entry, steady state */
};

static struct sample median(struct sample *v, int reps)
{
	double w[MAXR], c[MAXR], l[MAXR];
	int i;

	for (i = 0; i < reps; i++) {
		w[i] = v[i].wall;
		c[i] = v[i].cpu;
		l[i] = v[i].lib;
	}
	return (struct sample){ bench_median(w, reps), bench_median(c, reps),
				bench_median(l, reps) };
}

static void run(const char *dev, uint64_t n, int reps, int np, struct row *row)
{
	struct sample c[MAXR], p[MAXR], s[MAXR];
	double b[MAXR];
	int i, r;

	for (i = 0; i < reps; i++) {
		struct vdpamap_region rg = { .hva = mem,
					     .len = mem_pages * PAGE,
					     .fd = memfd };
		struct vdpamap *h;
		size_t heap;

		r = vdpamap_open(dev, NULL, &h);
		if (r < 0)
			bench_die("open", r);
		bench_print_caps(h);
		r = vdpamap_region_add(h, &rg, NULL);
		if (r < 0)
			bench_die("region_add", r);
		/* the last rep's sweep retired its trees: freed by now */
		usleep(100000);
		heap = mallinfo2().uordblks;
		c[i] = map_n(h, n);
		/* the daemon's own table holds them all */
		r = vdpamap_sim_table(dev, 0, NULL, 0);
		if (r != (int)n)
			bench_die("sim table after the commit",
				  r < 0 ? r : -EPROTO);
		p[i] = pairs(h, np);
		/* what the last commits retired is freed by liburcu's
		 * callback thread after a grace period: let it run */
		usleep(100000);
		b[i] = ((double)mallinfo2().uordblks - (double)heap) /
		       (double)n;
		s[i] = sweep(h, n);
		if (vdpamap_sim_table(dev, 0, NULL, 0) != 0)
			bench_die("sim table after the sweep", -EPROTO);
		vdpamap_close(h);
	}
	row->n = n;
	row->commit = median(c, reps);
	row->pair = median(p, reps);
	row->sweep = median(s, reps);
	row->bpe = bench_median(b, reps);
}

static void spawn(int permap)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so,
		     .flags = permap ? VDPAMAP_SIM_PER_MAP : 0,
		     .max_iotlb_entries = BENCH_SIM_CAPS);
	int r = vdpamap_sim_spawn(&so, bench_sim_path, sizeof(bench_sim_path),
				  &sim_pid);

	if (r < 0)
		bench_die("sim_spawn", r);
}

static void report(FILE *dat, const char *parent, const struct row *rows,
		   int nr, int reps, int np)
{
	int i;

	printf("simulator, VA mode, %s parent: median of %d (pair: mean of %d "
	       "pairs); wall ms (daemon CPU ms); pair lib: this process's "
	       "CPU us a pair; B/entry: library heap\n",
	       parent, reps, np);
	printf("%8s | %20s | %20s | %8s | %20s | %7s\n", "entries",
	       "commit n maps", "map+unmap 1 page", "pair lib",
	       "sweep n unmaps", "B/entry");
	for (i = 0; i < nr; i++)
		printf("%8llu | %9.2f (%8.2f) | %9.3f (%8.3f) | %8.1f | %9.2f "
		       "(%8.2f) | %7.1f\n",
		       (unsigned long long)rows[i].n, rows[i].commit.wall,
		       rows[i].commit.cpu, rows[i].pair.wall, rows[i].pair.cpu,
		       rows[i].pair.lib * 1e3, rows[i].sweep.wall,
		       rows[i].sweep.cpu, rows[i].bpe);
	if (!dat)
		return;
	fprintf(dat,
		"# %s: n commit_ms commit_cpu pair_ms pair_cpu "
		"sweep_ms sweep_cpu pair_lib_ms bytes_per_entry\n",
		parent);
	for (i = 0; i < nr; i++)
		fprintf(dat, "%llu %.3f %.3f %.4f %.4f %.3f %.3f %.4f %.1f\n",
			(unsigned long long)rows[i].n, rows[i].commit.wall,
			rows[i].commit.cpu, rows[i].pair.wall, rows[i].pair.cpu,
			rows[i].sweep.wall, rows[i].sweep.cpu, rows[i].pair.lib,
			rows[i].bpe);
	fprintf(dat, "\n\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "counts", required_argument, NULL, 'c' },
		{ "reps", required_argument, NULL, 'r' },
		{ "pairs", required_argument, NULL, 'p' },
		{ "parents", required_argument, NULL, 'P' },
		{ "dat", required_argument, NULL, 'o' },
		{ 0 },
	};
	char counts[128] = "100,1000,10000,100000",
	     parents[64] = "setmap,permap";
	char *tok, *save, *ptok, *psave;
	const char *datp = NULL;
	uint64_t cnt[8], max = 0;
	struct row rows[8];
	int reps = 5, np = 20, nc = 0, c, i;
	FILE *dat = NULL;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			snprintf(counts, sizeof(counts), "%s", optarg);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'p':
			np = atoi(optarg);
			break;
		case 'P':
			snprintf(parents, sizeof(parents), "%s", optarg);
			break;
		case 'o':
			datp = optarg;
			break;
		default:
			return 2;
		}
	}
	if (reps < 1 || reps > MAXR || np < 1)
		return 2;
	for (tok = strtok_r(counts, ",", &save); tok && nc < 8;
	     tok = strtok_r(NULL, ",", &save)) {
		cnt[nc] = strtoull(tok, NULL, 0);
		if (!cnt[nc])
			return 2;
		if (cnt[nc] > max)
			max = cnt[nc];
		nc++;
	}
	/* the n pages, and one more for the pairs; sparse: VA mode never
	 * touches guest memory to map it */
	mem_pages = max + 1;
	memfd = memfd_create("bench-guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)(mem_pages * PAGE)) < 0)
		bench_die("memfd", -errno);
	mem = mmap(NULL, mem_pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		   memfd, 0);
	if (mem == MAP_FAILED)
		bench_die("mmap", -errno);
	if (datp && !(dat = fopen(datp, "w")))
		bench_die(datp, -errno);

	for (ptok = strtok_r(parents, ",", &psave); ptok;
	     ptok = strtok_r(NULL, ",", &psave)) {
		int permap = !strcmp(ptok, "permap");

		if (!permap && strcmp(ptok, "setmap"))
			return 2;
		spawn(permap);
		for (i = 0; i < nc; i++)
			run(bench_sim_path, cnt[i], reps, np, &rows[i]);
		vdpamap_sim_stop(bench_sim_path);
		bench_sim_path[0] = 0;
		report(dat, permap ? "per-map (.dma_map)" : "set_map", rows, nc,
		       reps, np);
	}
	if (dat)
		fclose(dat);
	munmap(mem, mem_pages * PAGE);
	close(memfd);
	return 0;
}
