// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_sim_scale: how the simulator's cost grows with its table, per
 * parent style, through the library (issue 15 item 3: the simulator should
 * cost what the parent it plays costs, not more).
 *
 *   bench_sim_scale [--counts 100,1000,10000,100000] [--reps 5]
 *                   [--pairs 20] [--parents setmap,permap] [--dat FILE]
 *                   [--evict MIB] [--hold MS] [--sleep MS]
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
 *
 * "call lib" and "call ms" are this process's CPU and the wall time from
 * just before each call of a pair to just after it, summed over the pair:
 * "pair lib" also holds what the loop does between the calls (liburcu's
 * callback thread, and with --evict the handshake with the evicter).
 * --evict MIB is a control for what a set_map parent's O(n) push (the
 * daemon touching its whole table twice a pair) does to this process's
 * caches and TLB: before each call of a pair, a child forked at start
 * writes one byte a cache line of MIB MiB of its own memory, on the CPU
 * this process last ran on, and answers; the call is timed after the
 * answer, so the eviction is in neither call column, only its effect.
 * --hold MS keeps it writing for MS ms at least, as the daemon's push
 * keeps the CPU for 10-30 ms at 10^5: a wait as long as the push's before
 * each call, whose footprint is MIB MiB whatever its length (--evict 1
 * --hold MS: the wait with less than L2 written).  "call main" is the
 * main thread's CPU in the calls (CLOCK_THREAD_CPUTIME_ID), which tells
 * the calling path from liburcu's callback thread.  --sleep MS makes the
 * child sleep MS ms after its writes (with --evict 0: a wait that writes
 * nothing): a wait the CPU spends idle rather than running another
 * process.  "call p50" is the median pair's CPU in the calls
 * (the column before is their mean): a cost every pair pays moves both,
 * a rare long one (an interrupt, the hypervisor taking the CPU) only the
 * mean.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
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

/* the evicter (--evict): its pid, and the pipes to and from it */
static pid_t ev_pid;
static int ev_to = -1, ev_from = -1;
static double ev_hold_ms, ev_sleep_ms;

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
	double cwall, clib, cmain, cmed; /* inside the calls only (pairs) */
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
	s->cwall = s->wall;
	s->clib = s->lib;
	s->cmain = s->lib;
	s->cmed = s->lib;
}

/* this thread's CPU time so far, ms */
static double main_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The evicter's loop: per byte read (the CPU to run on), pin itself
 * there, write one byte a cache line of buf, answer; exit at EOF.  It
 * follows the CPU the bench last ran on so that without taskset too it
 * evicts the caches the next call runs on, as the daemon's push does when
 * the scheduler wakes it next to its caller. */
static void __attribute__((noreturn)) evicter(int in, int out, size_t len)
{
	volatile uint8_t *buf = NULL;
	unsigned char cpu;
	cpu_set_t set;
	size_t i;

	/* 4 KiB pages, as the daemon's heap: the writes also take that many
	 * TLB entries */
	if (len) {
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED)
			_exit(1);
		(void)madvise((void *)buf, len, MADV_NOHUGEPAGE);
		memset((void *)buf, 1, len);
	}
	while (read(in, &cpu, 1) == 1) {
		double t0;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		/* outside the bench's CPU set (taskset) it stays where it is */
		(void)sched_setaffinity(0, sizeof(set), &set);
		t0 = bench_now_ms();
		do {
			for (i = 0; i < len; i += 64)
				buf[i]++;
		} while (bench_now_ms() - t0 < ev_hold_ms);
		if (ev_sleep_ms > 0)
			(void)usleep((useconds_t)(ev_sleep_ms * 1e3));
		if (write(out, &cpu, 1) != 1)
			break;
	}
	_exit(0);
}

static void evict_start(size_t mib)
{
	size_t len = mib << 20;
	int to[2], from[2];

	if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0)
		bench_die("pipe", -errno);
	ev_pid = fork();
	if (ev_pid < 0)
		bench_die("fork", -errno);
	if (!ev_pid) {
		close(to[1]);
		close(from[0]);
		evicter(to[0], from[1], len);
	}
	close(to[0]);
	close(from[1]);
	ev_to = to[1];
	ev_from = from[0];
}

/* one eviction, waited for; nothing without --evict */
static void evict(void)
{
	int cpu = sched_getcpu();
	unsigned char b = cpu < 0 || cpu > 255 ? 0 : (unsigned char)cpu;

	if (ev_to < 0)
		return;
	if (write(ev_to, &b, 1) != 1 || read(ev_from, &b, 1) != 1)
		bench_die("evicter", -EPIPE);
}

static void evict_stop(void)
{
	if (ev_to < 0)
		return;
	close(ev_to);
	close(ev_from);
	waitpid(ev_pid, NULL, 0);
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
	double cwall = 0, clib = 0, cmain = 0, w, l, m, *pl;
	struct sample s;
	int i, r;

	pl = calloc((size_t)np, sizeof(*pl));
	if (!pl)
		bench_die("calloc", -ENOMEM);
	start(&s);
	for (i = 0; i < np; i++) {
		evict();
		m = main_cpu_ms();
		l = lib_cpu_ms();
		w = bench_now_ms();
		r = vdpamap_map(h, 0, IOVA0 - PAGE,
				mem + (mem_pages - 1) * PAGE, PAGE,
				VDPAMAP_PERM_RW);
		cwall += bench_now_ms() - w;
		pl[i] = lib_cpu_ms() - l;
		cmain += main_cpu_ms() - m;
		if (r < 0)
			bench_die("map (pair)", r);
		evict();
		m = main_cpu_ms();
		l = lib_cpu_ms();
		w = bench_now_ms();
		r = vdpamap_unmap(h, 0, IOVA0 - PAGE, PAGE);
		cwall += bench_now_ms() - w;
		pl[i] += lib_cpu_ms() - l;
		cmain += main_cpu_ms() - m;
		clib += pl[i];
		if (r < 0)
			bench_die("unmap (pair)", r);
	}
	stop(&s);
	s.wall /= np;
	s.cpu /= np;
	s.lib /= np;
	s.cwall = cwall / np;
	s.clib = clib / np;
	s.cmain = cmain / np;
	s.cmed = bench_median(pl, np);
	free(pl);
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
	double w[MAXR], c[MAXR], l[MAXR], cw[MAXR], cl[MAXR], cm[MAXR];
	double cd[MAXR];
	int i;

	for (i = 0; i < reps; i++) {
		w[i] = v[i].wall;
		c[i] = v[i].cpu;
		l[i] = v[i].lib;
		cw[i] = v[i].cwall;
		cl[i] = v[i].clib;
		cm[i] = v[i].cmain;
		cd[i] = v[i].cmed;
	}
	return (struct sample){ bench_median(w, reps),	bench_median(c, reps),
				bench_median(l, reps),	bench_median(cw, reps),
				bench_median(cl, reps), bench_median(cm, reps),
				bench_median(cd, reps) };
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
		   int nr, int reps, int np, size_t evict_mib)
{
	int i;

	printf("simulator, VA mode, %s parent: median of %d (pair: mean of %d "
	       "pairs); wall ms (daemon CPU ms); pair lib: this process's "
	       "CPU us a pair; call lib, call p50 (the median pair), call main "
	       "(its main thread), call ms: inside the two calls only; "
	       "B/entry: library heap; "
	       "eviction %zu MiB a call, held %.0f ms, then %.0f ms asleep\n",
	       parent, reps, np, evict_mib, ev_hold_ms, ev_sleep_ms);
	printf("%8s | %20s | %20s | %8s | %8s | %8s | %9s | %8s | %20s | %7s\n",
	       "entries", "commit n maps", "map+unmap 1 page", "pair lib",
	       "call lib", "call p50", "call main", "call ms", "sweep n unmaps",
	       "B/entry");
	for (i = 0; i < nr; i++)
		printf("%8llu | %9.2f (%8.2f) | %9.3f (%8.3f) | %8.1f | %8.1f "
		       "| %8.1f | %9.1f | %8.3f | %9.2f (%8.2f) | %7.1f\n",
		       (unsigned long long)rows[i].n, rows[i].commit.wall,
		       rows[i].commit.cpu, rows[i].pair.wall, rows[i].pair.cpu,
		       rows[i].pair.lib * 1e3, rows[i].pair.clib * 1e3,
		       rows[i].pair.cmed * 1e3, rows[i].pair.cmain * 1e3,
		       rows[i].pair.cwall, rows[i].sweep.wall,
		       rows[i].sweep.cpu, rows[i].bpe);
	if (!dat)
		return;
	fprintf(dat,
		"# %s: n commit_ms commit_cpu pair_ms pair_cpu "
		"sweep_ms sweep_cpu pair_lib_ms bytes_per_entry call_lib_ms "
		"call_ms call_main_ms call_p50_ms (eviction %zu MiB, held %.0f ms, "
		"then %.0f ms asleep)\n",
		parent, evict_mib, ev_hold_ms, ev_sleep_ms);
	for (i = 0; i < nr; i++)
		fprintf(dat,
			"%llu %.3f %.3f %.4f %.4f %.3f %.3f %.4f %.1f %.4f "
			"%.4f %.4f %.4f\n",
			(unsigned long long)rows[i].n, rows[i].commit.wall,
			rows[i].commit.cpu, rows[i].pair.wall, rows[i].pair.cpu,
			rows[i].sweep.wall, rows[i].sweep.cpu, rows[i].pair.lib,
			rows[i].bpe, rows[i].pair.clib, rows[i].pair.cwall,
			rows[i].pair.cmain, rows[i].pair.cmed);
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
		{ "evict", required_argument, NULL, 'e' },
		{ "hold", required_argument, NULL, 'H' },
		{ "sleep", required_argument, NULL, 'S' },
		{ 0 },
	};
	char counts[128] = "100,1000,10000,100000",
	     parents[64] = "setmap,permap";
	char *tok, *save, *ptok, *psave;
	const char *datp = NULL;
	uint64_t cnt[8], max = 0;
	struct row rows[8];
	int reps = 5, np = 20, nc = 0, c, i;
	size_t evict_mib = 0;
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
		case 'e':
			evict_mib = strtoul(optarg, NULL, 0);
			break;
		case 'H':
			ev_hold_ms = atof(optarg);
			break;
		case 'S':
			ev_sleep_ms = atof(optarg);
			break;
		default:
			return 2;
		}
	}
	if (reps < 1 || reps > MAXR || np < 1 || evict_mib > 4096 ||
	    ev_hold_ms < 0 || (ev_hold_ms > 0 && !evict_mib) || ev_sleep_ms < 0)
		return 2;
	/* forked first: the child holds nothing of the bench's */
	if (evict_mib || ev_sleep_ms > 0)
		evict_start(evict_mib);
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
		       reps, np, evict_mib);
	}
	evict_stop();
	if (dat)
		fclose(dat);
	munmap(mem, mem_pages * PAGE);
	close(memfd);
	return 0;
}
