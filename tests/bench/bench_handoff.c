// SPDX-License-Identifier: BSD-3-Clause
/*
 * bench_handoff: exec handoff downtime for every strategy this build and
 * the device can do, at several sizes of memfd guest memory, in one run,
 * as ratios to REBUILD (scripts/bench-handoff runs it on the simulator and
 * on the real kernel).
 *
 *   bench_handoff [--dev PATH] [--sim va,pa] [--sizes 64,256,1024]
 *                 [--reps 3]
 *                 [--strategies new-owner,keeper,rebuild,bare-exec,
 *                               held-exec]
 *
 * bench_handoff_static is this program linked -static -no-pie
 * (scripts/bench-handoff --static): the same library, a successor without
 * loader, relocations or randomised image.  Each row also has the
 * library's own share of the downtime and the exec, from its phase timers
 * (vdpamap_handoff_get_phases(); the successor marks its first frame with
 * vdpamap_handoff_first_frame()), and "bare-exec" measures, in the same
 * run, execve() to main() of this same binary with the same populated
 * guest memory and no device: the floor any successor pays; "held-exec"
 * the same with a CLONE_VM child holding the old address space, as the
 * mm keeper does, so that the exec does not tear it down: KEEPER's floor.
 *
 * Device: --dev, else $VDPAMAP_TEST_DEV (tests/harness/vdpamap-vm), else (or with
 * --sim) simulators it spawns, one per flavour given.  A PA-mode size that
 * RLIMIT_MEMLOCK cannot hold is reported as not run.
 *
 * Downtime is what the guest sees: from SUSPEND in the predecessor
 * (vdpamap_handoff_info.suspend_ns, CLOCK_MONOTONIC) to the first frame
 * looped TX -> RX intact through the device in the exec'd successor.  Each
 * run is a real execve(): a child opens the device with the guest memory
 * pre-mapped (PA mode pins it), starts virtio-net with its rings in the
 * last MiB of guest memory, touches every page (a populated address
 * space: exec tears it down), prepares and execs this program, which
 * adopts, attaches to the running rings and loops a frame.  The guest
 * memfd is filled once per size by the driver and inherited, so its cost
 * (12-16 s per GiB under emulation) is paid once.
 *
 * Built against the library with VDPAMAP_NEW_OWNER (the static copy
 * tests/meson.build makes), so NEW_OWNER runs wherever the device offers
 * both bits of the proposal: the simulators it spawns do (0x17e | bit 9
 * | bit 10); no released kernel does.  KEEPER runs on x86-64 and aarch64.
 * Each figure is the median of --reps runs.  Exit 0, 1 on a failed run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "vdpamap.h"
#include "vnet.h"

#define MIB	       (1ULL << 20)
#define AREA	       MIB /* vnet rings + buffers, at the end */
#define MAX_SIZES      8
#define MAX_REPS       16
#define NSTRAT	       5 /* the last two: a bare exec, no handoff */
#define BARE	       3
#define HELD	       4
#define NEW_OWNER_BITS ((1ULL << 9) | (1ULL << 10))
#define SIM_OFFER      (0x17eULL | NEW_OWNER_BITS)

static const uint32_t strategies[NSTRAT] = {
	VDPAMAP_HANDOFF_NEW_OWNER,
	VDPAMAP_HANDOFF_KEEPER,
	VDPAMAP_HANDOFF_REBUILD,
	0,     /* BARE */
	0x100, /* HELD */
};
static const char *const strat_names[NSTRAT] = {
	"new-owner", "keeper", "rebuild", "bare-exec", "held-exec",
};

/* what the successor reports through the result pipe */
struct result {
	uint32_t magic, strategy;
	uint64_t downtime_ns, adopt_ns, prepare_ns, iotlb_writes;
	uint64_t remaps, updates;
	/* the library's own phase timers (vdpamap_handoff_phases) */
	uint64_t library_ns, exec_ns, suspend_ns, pred_ns, parse_ns, map_ns;
	uint64_t takeover_ns, resume_ns, first_ns;
};
#define RESULT_MAGIC 0x48424e44u

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int r)
{
	fprintf(stderr, "bench_handoff[%d]: %s: %s\n", (int)getpid(), what,
		strerror(r < 0 ? -r : r));
	exit(1);
}

static void quiet_log(int level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= VDPAMAP_LOG_ERR)
		fprintf(stderr, "bench_handoff[%d]: lib: %s\n", (int)getpid(),
			msg);
}

static int open_retry(const char *dev, struct vdpamap_open_opts *o,
		      struct vdpamap **h)
{
	int r, i;

	for (i = 0; i < 500; i++) {
		r = vdpamap_open(dev, o, h);
		if (r != -EBUSY)
			return r;
		usleep(10000);
	}
	return r;
}

/* A process with the guest memory mapped and populated, as the
 * predecessor's. */
static uint8_t *guest_map(int memfd, uint64_t size)
{
	uint8_t *mem;
	uint64_t i;

	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		die("mmap", -errno);
	/* a populated address space, as a running VMM's */
	if (madvise(mem, size, MADV_POPULATE_WRITE) < 0)
		for (i = 0; i < size / 4096; i++)
			((volatile uint8_t *)mem)[i * 4096] += 0;
	return mem;
}

static int hold_fn(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return 0;
}

/* ---- the bare exec: argv role bare SIZE MEMFD RESFD HOLD.  The same
 * binary, the same populated guest memory, no device: execve() to main()
 * of the new image, what any successor pays before the library runs.
 * HOLD 1: a CLONE_VM child holds the old address space across the exec,
 * as the mm keeper does (the exec then does not tear it down: KEEPER's
 * floor); 0: the exec tears it down (NEW_OWNER's and REBUILD's). */
static void role_bare(char **a)
{
	static char stack[64 << 10] __attribute__((aligned(16)));
	char t0s[24], pids[24], *argv[7];
	long holder = 0;

	guest_map(atoi(a[1]), strtoull(a[0], NULL, 0));
	if (atoi(a[3])) {
		holder = clone(hold_fn, stack + sizeof(stack),
			       CLONE_VM | SIGCHLD, NULL);
		if (holder < 0)
			die("clone", -errno);
	}
	snprintf(pids, sizeof(pids), "%ld", holder);
	snprintf(t0s, sizeof(t0s), "%llu", (unsigned long long)now_ns());
	argv[0] = "bench_handoff";
	argv[1] = "role";
	argv[2] = "bare_end";
	argv[3] = t0s;
	argv[4] = a[2];
	argv[5] = pids;
	argv[6] = NULL;
	execv("/proc/self/exe", argv);
	die("execv", -errno);
}

/* argv role bare_end T0 RESFD HOLDER: main() reached */
static void role_bare_end(char **a)
{
	uint64_t t1 = now_ns();
	pid_t holder = (pid_t)atoi(a[2]);
	struct result res = { .magic = RESULT_MAGIC,
			      .strategy = holder ? 0x100 : 0 };
	int resfd = atoi(a[1]);

	if (holder > 0) { /* our child: the exec kept it */
		kill(holder, SIGKILL);
		waitpid(holder, NULL, 0);
	}

	res.downtime_ns = res.exec_ns = t1 - strtoull(a[0], NULL, 0);
	if (write(resfd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		die("result", -errno);
	exit(0);
}

/* ---- the predecessor: argv role pred DEV SIZE STRATEGY MEMFD RESFD */
static void role_pred(char **a)
{
	const char *dev = a[0];
	uint64_t size = strtoull(a[1], NULL, 0);
	uint32_t strategy = (uint32_t)atoi(a[2]);
	int memfd = atoi(a[3]), resfd = atoi(a[4]), sfd, r, i;
	VDPAMAP_OPTS(vdpamap_handoff_opts, ho, .strategy = strategy,
		     .extra_fds = &resfd, .nr_extra_fds = 1);
	struct vdpamap_region rg;
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = quiet_log,
		     .log_level = VDPAMAP_LOG_WARN, .prefault_threads = 4);
	char num[7][24], *argv[10];
	struct vdpamap *h;
	struct vnet v;
	uint8_t *mem;

	mem = guest_map(memfd, size);
	rg = (struct vdpamap_region){
		.hva = mem, .len = size, .fd = memfd, .iova = 0
	};
	o.regions = &rg;
	o.nr_regions = 1;
	r = open_retry(dev, &o, &h);
	if (r < 0)
		die("open", r);
	r = vnet_start(&v, h, mem + size - AREA, size - AREA, AREA);
	if (r < 0)
		die("vnet_start", r);
	for (i = 0; i < 3; i++) {
		r = vnet_loop(&v, (uint32_t)i + 1, 590, 10000);
		if (r < 0)
			die("loop before the handoff", r);
	}
	r = vdpamap_handoff_prepare(h, &ho, &sfd);
	if (r < 0)
		die("prepare", r);
	snprintf(num[0], 24, "%d", sfd);
	setenv(VDPAMAP_HANDOFF_ENV, num[0], 1);
	snprintf(num[1], 24, "%llu", (unsigned long long)size);
	snprintf(num[2], 24, "%d", resfd);
	for (i = 0; i < 2; i++) {
		snprintf(num[3 + i], 24, "%d", v.kick[i]);
		snprintf(num[5 + i], 24, "%d", v.call[i]);
	}
	argv[0] = "bench_handoff";
	argv[1] = "role";
	argv[2] = "succ";
	for (i = 0; i < 6; i++)
		argv[3 + i] = num[1 + i];
	argv[9] = NULL;
	execv("/proc/self/exe", argv);
	die("execv", -errno);
}

/* ---- the successor: argv role succ SIZE RESFD KICK0 KICK1 CALL0 CALL1 */
static void role_succ(char **a)
{
	uint64_t size = strtoull(a[0], NULL, 0);
	int resfd = atoi(a[1]);
	int kick[2] = { atoi(a[2]), atoi(a[3]) };
	int call[2] = { atoi(a[4]), atoi(a[5]) };
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = quiet_log,
		     .log_level = VDPAMAP_LOG_WARN, .prefault_threads = 4);
	VDPAMAP_OPTS(vdpamap_handoff_phases, ph);
	struct vdpamap_handoff_info hi;
	struct vdpamap_region rg;
	struct vdpamap_stats st;
	struct result res;
	struct vdpamap *h;
	struct vnet v;
	uint32_t id;
	int r;

	r = vdpamap_handoff_adopt(-1, &o, &h);
	if (r < 0)
		die("adopt", r);
	/* not get_info yet: it would start the keeper's trim, which waits
	 * for the first frame */
	if ((r = vdpamap_region_ids(h, &id, 1)) < 0 ||
	    (r = vdpamap_region_get(h, id, &rg)) < 0)
		die("region", r);
	r = vnet_attach(&v, h, (uint8_t *)rg.hva + size - AREA, size - AREA,
			AREA, kick, call);
	if (r < 0)
		die("vnet_attach", r);
	r = vnet_loop(&v, 100, 590, 10000);
	if (r < 0)
		die("first loop after the handoff", r);
	/* the end of the downtime, for the library's phase timers */
	if ((r = vdpamap_handoff_first_frame(h)) < 0 ||
	    (r = vdpamap_handoff_get_phases(h, &ph)) < 0 ||
	    (r = vdpamap_handoff_get_info(h, &hi)) < 0)
		die("handoff info", r);
	vdpamap_get_stats(h, &st);
	res = (struct result){
		.magic = RESULT_MAGIC,
		.strategy = hi.strategy,
		/* from SUSPEND's start (the library's partition of it);
		 * from hi.suspend_ns it would leave SUSPEND's own cost out */
		.downtime_ns = ph.downtime_ns,
		.adopt_ns = hi.adopt_ns,
		.prepare_ns = hi.prepare_ns,
		.iotlb_writes = st.iotlb_writes,
		.remaps = st.iotlb_remaps,
		.updates = st.iotlb_updates,
		.library_ns = ph.library_ns,
		.exec_ns = ph.exec_ns,
		.suspend_ns = ph.suspend_ns,
		.pred_ns = ph.predecessor_ns,
		.parse_ns = ph.parse_ns,
		.map_ns = ph.map_ns,
		.takeover_ns = ph.takeover_ns,
		.resume_ns = ph.resume_ns,
		.first_ns = ph.first_frame_ns,
	};
	if (write(resfd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		die("result", -errno);
	close(resfd);
	vnet_stop(&v);
	vdpamap_close(h);
	munmap(rg.hva, rg.len);
	exit(0);
}

/* ---- the driver */
static int run_one(const char *dev, uint64_t size, uint32_t strategy, int memfd,
		   struct result *out)
{
	char a[5][24];
	int p[2], st;
	ssize_t n;
	pid_t pid;

	if (pipe(p) < 0) /* the write end crosses both execs */
		die("pipe", -errno);
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	snprintf(a[0], 24, "%llu", (unsigned long long)size);
	snprintf(a[1], 24, "%u", strategy);
	snprintf(a[2], 24, "%d", memfd);
	snprintf(a[3], 24, "%d", p[1]);
	pid = fork();
	if (pid < 0)
		die("fork", -errno);
	if (pid == 0 &&
	    (strategy == strategies[BARE] || strategy == strategies[HELD]))
		execl("/proc/self/exe", "bench_handoff", "role", "bare", a[0],
		      a[2], a[3], strategy == strategies[HELD] ? "1" : "0",
		      (char *)NULL);
	if (pid == 0) {
		execl("/proc/self/exe", "bench_handoff", "role", "pred", dev,
		      a[0], a[1], a[2], a[3], (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	n = read(p[0], out, sizeof(*out));
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*out) || out->magic != RESULT_MAGIC ||
	    !WIFEXITED(st) || WEXITSTATUS(st))
		return -EIO;
	if (out->strategy != strategy)
		return -EPROTO;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

struct cell {
	int ran;
	uint64_t downtime, adopt, prepare, writes, remaps, updates;
	uint64_t library, exec, takeover;
};

/* Which strategies this build and dev can do; why not in why[].
 * Returns the device's memory mode. */
static uint32_t available(const char *dev, int *avail, char why[NSTRAT][96])
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = quiet_log);
	struct vdpamap_info in;
	struct vdpamap *h;
	int r;

	r = open_retry(dev, &o, &h);
	if (r < 0)
		die("open (probe)", r);
	vdpamap_get_info(h, &in);
	bench_print_caps(h);
	vdpamap_close(h);
	avail[0] = (in.backend_offered & NEW_OWNER_BITS) == NEW_OWNER_BITS;
	if (!avail[0])
		snprintf(why[0], 96,
			 "device offers 0x%llx: no NEW_OWNER + "
			 "IOTLB_REMAP (bits 9, 10)",
			 (unsigned long long)in.backend_offered);
#if defined(__x86_64__) || defined(__aarch64__)
	avail[1] = 1;
#else
	avail[1] = 0;
	snprintf(why[1], 96, "no mm keeper on this architecture");
#endif
	avail[2] = 1;
	avail[BARE] = avail[HELD] = 1;
	return in.mem_mode;
}

/* PA mode pins the guest memory: RLIMIT_MEMLOCK must hold it (plus the
 * rings' own maps).  0 if it does, else the limit in bytes. */
static uint64_t memlock_short(uint32_t mem_mode, uint64_t size)
{
	struct rlimit rl;

	if (mem_mode != VDPAMAP_MEMMODE_PA ||
	    getrlimit(RLIMIT_MEMLOCK, &rl) < 0 ||
	    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= size + MIB)
		return 0;
	return rl.rlim_cur;
}

static int bench_dev(const char *dev, const char *label, uint64_t *sizes,
		     int nsizes, int reps, const int *want)
{
	static struct cell cells[MAX_SIZES][NSTRAT];
	char why[NSTRAT][96] = { "", "", "", "", "" };
	int avail[NSTRAT], si, k, i, r, bad = 0;
	uint32_t mode;

	mode = available(dev, avail, why);
	memset(cells, 0, sizeof(cells));
	for (si = 0; si < nsizes; si++) {
		uint64_t size = sizes[si], t0 = now_ns();
		uint64_t lim = memlock_short(mode, size);
		int memfd;
		uint8_t *mem;

		if (lim) {
			printf("%s: %llu MiB not run: PA mode pins it, "
			       "RLIMIT_MEMLOCK is %llu KiB (and cannot be "
			       "raised here)\n",
			       label, (unsigned long long)(size / MIB),
			       (unsigned long long)(lim >> 10));
			continue;
		}
		memfd = memfd_create("bench-handoff-guest", 0);
		if (memfd < 0 || ftruncate(memfd, (off_t)size) < 0)
			die("memfd", -errno);
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   memfd, 0);
		if (mem == MAP_FAILED)
			die("mmap", -errno);
		if (madvise(mem, size, MADV_POPULATE_WRITE) < 0)
			memset(mem, 0, size);
		munmap(mem, size);
		fprintf(stderr,
			"bench_handoff: %s: %llu MiB filled in %.1f s\n", label,
			(unsigned long long)(size / MIB),
			(double)(now_ns() - t0) / 1e9);
		for (k = 0; k < NSTRAT; k++) {
			uint64_t dt[MAX_REPS], ad[MAX_REPS], pr[MAX_REPS];
			uint64_t li[MAX_REPS], ex[MAX_REPS], tk[MAX_REPS];
			struct result res;

			if (!avail[k] || !want[k])
				continue;
			for (i = 0; i < reps; i++) {
				r = run_one(dev, size, strategies[k], memfd,
					    &res);
				if (r < 0) {
					fprintf(stderr,
						"bench_handoff: %s: "
						"%s at %llu MiB failed (%s)\n",
						label, strat_names[k],
						(unsigned long long)(size /
								     MIB),
						strerror(-r));
					bad = 1;
					break;
				}
				dt[i] = res.downtime_ns;
				ad[i] = res.adopt_ns;
				pr[i] = res.prepare_ns;
				li[i] = res.library_ns;
				ex[i] = res.exec_ns;
				tk[i] = res.takeover_ns;
				fprintf(stderr,
					"bench_handoff: %s: %4llu MiB "
					"%-9s run %d: %.2f ms (library %.3f, "
					"exec %.3f: suspend %.3f pred %.3f "
					"parse %.3f map %.3f takeover %.3f "
					"resume %.3f first frame %.3f)\n",
					label, (unsigned long long)(size / MIB),
					strat_names[k], i + 1,
					(double)res.downtime_ns / 1e6,
					(double)res.library_ns / 1e6,
					(double)res.exec_ns / 1e6,
					(double)res.suspend_ns / 1e6,
					(double)res.pred_ns / 1e6,
					(double)res.parse_ns / 1e6,
					(double)res.map_ns / 1e6,
					(double)res.takeover_ns / 1e6,
					(double)res.resume_ns / 1e6,
					(double)res.first_ns / 1e6);
			}
			if (i < reps)
				continue;
			cells[si][k] = (struct cell){
				.ran = 1,
				.downtime = median(dt, reps),
				.adopt = median(ad, reps),
				.prepare = median(pr, reps),
				.library = median(li, reps),
				.exec = median(ex, reps),
				.takeover = median(tk, reps),
				.writes = res.iotlb_writes,
				.remaps = res.remaps,
				.updates = res.updates,
			};
		}
		close(memfd);
	}

	printf("\n%s: device %s, memfd guest memory, median of %d\n", label,
	       dev, reps);
	printf("downtime: SUSPEND's start in the predecessor -> first good "
	       "loopback in the exec'd successor\n");
	for (k = 0; k < NSTRAT; k++)
		if (!avail[k] && want[k])
			printf("%s: not run (%s)\n", strat_names[k], why[k]);
	printf("library: the library's own share by its phase timers (suspend, "
	       "the rest of prepare, adopt); exec: prepare's last step to "
	       "adopt's entry; bare-exec: execve() to main() of this binary "
	       "with the same guest memory mapped, no device; held-exec: the "
	       "same, the old address space held by a CLONE_VM child as the "
	       "keeper holds it\n");
	printf("%6s  %-9s %12s %11s %10s %10s %10s %8s %8s %8s %11s\n", "MiB",
	       "strategy", "downtime", "library", "exec", "adopt", "prepare",
	       "writes", "UPDATE", "REMAP", "vs rebuild");
	for (si = 0; si < nsizes; si++) {
		const struct cell *rb = &cells[si][2];

		for (k = 0; k < NSTRAT; k++) {
			const struct cell *c = &cells[si][k];

			if (!c->ran)
				continue;
			printf("%6llu  %-9s %10.2fms %9.3fms %8.2fms %8.3fms "
			       "%8.3fms %8llu %8llu %8llu",
			       (unsigned long long)(sizes[si] / MIB),
			       strat_names[k], (double)c->downtime / 1e6,
			       (double)c->library / 1e6, (double)c->exec / 1e6,
			       (double)c->adopt / 1e6, (double)c->prepare / 1e6,
			       (unsigned long long)c->writes,
			       (unsigned long long)c->updates,
			       (unsigned long long)c->remaps);
			if (rb->ran && c->downtime)
				printf(" %9.1fx\n",
				       (double)rb->downtime /
					       (double)c->downtime);
			else
				printf(" %10s\n", "-");
		}
	}
	fflush(stdout);
	return bad;
}

static void raise_memlock(void)
{
	struct rlimit rl;

	/* PA mode charges every pinned page (the simulator does too) */
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0 ||
		    rl.rlim_cur != RLIM_INFINITY) {
			rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
			setrlimit(RLIMIT_MEMLOCK, &rl); /* root may */
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "sim", required_argument, NULL, 'S' },
		{ "sizes", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "strategies", required_argument, NULL, 't' },
		{ 0 },
	};
	char sizes_s[128] = "64,256,1024", sims[64] = "va,pa";
	char strat_s[64] = "new-owner,keeper,rebuild,bare-exec,held-exec";
	char *tok, *save;
	uint64_t sizes[MAX_SIZES];
	int want[NSTRAT] = { 0 };
	int reps = 3, nsizes = 0, c, k, bad = 0, sim_given = 0;
	const char *dev = NULL;

	if (argc >= 3 && !strcmp(argv[1], "role")) {
		if (!strcmp(argv[2], "pred") && argc == 8)
			role_pred(argv + 3);
		if (!strcmp(argv[2], "succ") && argc == 9)
			role_succ(argv + 3);
		if (!strcmp(argv[2], "bare") && argc == 7)
			role_bare(argv + 3);
		if (!strcmp(argv[2], "bare_end") && argc == 6)
			role_bare_end(argv + 3);
		return 2;
	}
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			dev = optarg;
			break;
		case 'S':
			snprintf(sims, sizeof(sims), "%s", optarg);
			sim_given = 1;
			break;
		case 's':
			snprintf(sizes_s, sizeof(sizes_s), "%s", optarg);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 't':
			snprintf(strat_s, sizeof(strat_s), "%s", optarg);
			break;
		default:
			fprintf(stderr, "usage: bench_handoff [--dev PATH] "
					"[--sim va,pa] [--sizes 64,256,1024] "
					"[--reps 3] [--strategies "
					"new-owner,keeper,rebuild,bare-exec,"
					"held-exec]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > MAX_REPS)
		return 2;
	for (tok = strtok_r(sizes_s, ",", &save); tok && nsizes < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		sizes[nsizes] = strtoull(tok, NULL, 0) * MIB;
		if (sizes[nsizes] < 2 * AREA)
			return 2;
		nsizes++;
	}
	for (tok = strtok_r(strat_s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (k = 0; k < NSTRAT && strcmp(tok, strat_names[k]); k++)
			;
		if (k == NSTRAT)
			return 2;
		want[k] = 1;
	}
	raise_memlock();
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* tests/harness/vdpamap-vm sets VDPAMAP_TEST_DEV; --sim wins over it */
	if (!dev && !sim_given)
		dev = getenv("VDPAMAP_TEST_DEV");
	if (dev) {
		char label[64];

		snprintf(label, sizeof(label), "kernel %s",
			 getenv("VDPAMAP_VM_CONFIG") ?: "?");
		return bench_dev(dev, label, sizes, nsizes, reps, want);
	}
	for (tok = strtok_r(sims, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		VDPAMAP_OPTS(vdpamap_sim_opts, so,
			     .backend_features = SIM_OFFER,
			     .max_iotlb_entries = BENCH_SIM_CAPS);
		char path[108], label[64];
		pid_t pid;
		int r;

		if (!strcmp(tok, "pa"))
			so.flags = VDPAMAP_SIM_PA;
		else if (strcmp(tok, "va"))
			return 2;
		r = vdpamap_sim_spawn(&so, path, sizeof(path), &pid);
		if (r < 0)
			die("sim_spawn", r);
		snprintf(label, sizeof(label), "simulator %s (offer 0x%llx)",
			 tok, (unsigned long long)SIM_OFFER);
		bad |= bench_dev(path, label, sizes, nsizes, reps, want);
		vdpamap_sim_stop(path);
	}
	return bad;
}
