// SPDX-License-Identifier: BSD-3-Clause
/*
 * vdpamap map-bench [DEV] --size MiB [--chunk KiB] [--txn MiB] [--no-batch]
 *                   [--sim va|pa|permap] [--no-prefault] [--progress]
 *
 * Time mapping --size MiB of memfd memory into a device in maps of --chunk
 * KiB, committed in transactions of --txn MiB (0: all in one), then
 * unmapping it all; with --no-batch the device is opened without
 * IOTLB_BATCH, so every UPDATE goes on its own (what quadratic batch-style
 * parents punish).  The memory is pre-faulted first (MADV_POPULATE_WRITE,
 * timed on its own) unless --no-prefault.
 *
 * A progress bar goes to stderr when a map phase lasts over a second and
 * stderr is a terminal (not with -j), or always with --progress.  It
 * advances per committed transaction, plus the elapsed time.  stdout gets
 * the table, or with -j one JSON document (tools/vdpamap/schema/map-bench.json),
 * whether it succeeded or not.
 * Exit: 0 ok, 1 the map or unmap failed (the error says why, e.g. the
 * memlock budget in PA mode), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vdpamap.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define KiB	   ((uint64_t)1 << 10)
#define MB_SIM_CAP 2048 /* the kernel's default max_iotlb_entries */
#define MiB	   ((uint64_t)1 << 20)

const char *cli_size(unsigned long long bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "B",   "KiB", "MiB", "GiB",
					    "TiB", "PiB", "EiB" };
	unsigned int u = 0;
	double v = (double)bytes;

	while (v >= 1024.0 && u < 6) {
		v /= 1024.0;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%llu B", bytes);
	else if (v == (double)(uint64_t)v)
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void mb_log(int level, const char *msg, void *ctx)
{
	fprintf(stderr, "vdpamap: libvdpamap: %s\n", msg);
}

/* ---- progress bar: a thread redraws every 100 ms from an atomic count */
struct progress {
	const char *what;
	uint64_t total;
	atomic_uint_fast64_t done;
	atomic_int stop;
	int force;   /* --progress: draw from the start */
	int allowed; /* tty (and not -j) or --progress */
	int drawn;
	uint64_t t0;
	pthread_t th;
	int running;
};

static void progress_draw(struct progress *p, int final)
{
	uint64_t done = atomic_load(&p->done);
	double frac = p->total ? (double)done / (double)p->total : 1.0;
	char a[32], b[32];
	int i, w = 30, fill = (int)(frac * w + 0.5);

	fprintf(stderr, "\r%-6s [", p->what);
	for (i = 0; i < w; i++)
		fputc(i < fill ? '#' : '.', stderr);
	fprintf(stderr, "] %s / %s %3.0f%% %.1f s%s", cli_size(done, a, 32),
		cli_size(p->total, b, 32), frac * 100.0,
		(double)(now_ns() - p->t0) / 1e9, final ? "\n" : "");
	fflush(stderr);
	p->drawn = 1;
}

static void *progress_main(void *arg)
{
	struct progress *p = arg;

	while (!atomic_load(&p->stop)) {
		struct timespec ts = { 0, (long)100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		if (atomic_load(&p->stop))
			break;
		/* multi-second maps only, unless forced */
		if (p->force || now_ns() - p->t0 >= 1000000000ULL)
			progress_draw(p, 0);
	}
	return NULL;
}

static void progress_start(struct progress *p, const char *what, uint64_t total)
{
	p->what = what;
	p->total = total;
	atomic_store(&p->done, 0);
	atomic_store(&p->stop, 0);
	p->drawn = 0;
	p->t0 = now_ns();
	p->running = p->allowed &&
		     pthread_create(&p->th, NULL, progress_main, p) == 0;
	if (p->running && p->force)
		progress_draw(p, 0);
}

static void progress_end(struct progress *p)
{
	if (!p->running)
		return;
	atomic_store(&p->stop, 1);
	pthread_join(p->th, NULL);
	p->running = 0;
	if (p->drawn)
		progress_draw(p, 1);
}

/* ---- the benchmark */
struct phase {
	uint64_t ns;
	uint64_t bytes; /* committed */
	uint64_t writes, updates, invalidates, batches;
	uint64_t txns;
	int err;
};

struct bench {
	const char *dev;
	int spawned;
	char simpath[256];
	const char *flavour;
	uint64_t size, chunk, txn_bytes;
	int no_batch, prefault;
	uint64_t maps;
	uint32_t caps_raised; /* the spawned simulator's caps, raised to this */
	uint64_t prefault_ns;
	struct vdpamap_info info;
	int have_info;
	uint64_t pinned_after_map;
	struct phase map, unmap;
	const char *failed_step;
	int err;
};

static void stats_delta(struct vdpamap *h, const struct vdpamap_stats *a,
			struct phase *ph)
{
	struct vdpamap_stats b;

	vdpamap_get_stats(h, &b);
	ph->writes = b.iotlb_writes - a->iotlb_writes;
	ph->updates = b.iotlb_updates - a->iotlb_updates;
	ph->invalidates = b.iotlb_invalidates - a->iotlb_invalidates;
	ph->batches = b.iotlb_batches - a->iotlb_batches;
}

/* Map (or unmap) every chunk, a transaction per txn_bytes. */
static int run_phase(struct bench *b, struct vdpamap *h, uint8_t *mem,
		     uint64_t iova, int unmap, struct progress *pg,
		     struct phase *ph)
{
	uint64_t per_txn = b->txn_bytes ? b->txn_bytes / b->chunk : b->maps;
	struct vdpamap_stats st0;
	struct vdpamap_txn *t = NULL;
	uint64_t i, in_txn = 0, t0;
	int r = 0;

	if (!per_txn)
		per_txn = 1;
	vdpamap_get_stats(h, &st0);
	progress_start(pg, unmap ? "unmap" : "map", b->size);
	t0 = now_ns();
	for (i = 0; i < b->maps; i++) {
		uint64_t off = i * b->chunk;

		if (!t) {
			r = vdpamap_txn_begin(h, &t);
			if (r < 0)
				break;
		}
		r = unmap ? vdpamap_txn_unmap(t, 0, iova + off, b->chunk) :
			    vdpamap_txn_map(t, 0, iova + off, mem + off,
					    b->chunk, VDPAMAP_PERM_RW, NULL);
		if (r < 0)
			break;
		if (++in_txn == per_txn || i + 1 == b->maps) {
			r = vdpamap_txn_commit(t);
			t = NULL;
			if (r < 0)
				break;
			ph->txns++;
			in_txn = 0;
			ph->bytes = (i + 1) * b->chunk;
			atomic_store(&pg->done, ph->bytes);
		}
	}
	vdpamap_txn_abort(t);
	ph->ns = now_ns() - t0;
	progress_end(pg);
	stats_delta(h, &st0, ph);
	ph->err = r < 0 ? -r : 0;
	return r;
}

static int bench_run(struct cli *c, struct bench *b, struct progress *pg)
{
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = mb_log,
		     .log_level = c->verbose > 1 ? VDPAMAP_LOG_DEBUG :
				  c->verbose	 ? VDPAMAP_LOG_INFO :
						   VDPAMAP_LOG_WARN);
	struct vdpamap_region rg;
	struct vdpamap_stats st;
	struct vdpamap *h = NULL;
	uint8_t *mem = MAP_FAILED;
	uint64_t iova = 0, t0;
	int fd = -1, r;

	if (b->no_batch)
		oo.want_features = VDPAMAP_F_KNOWN & ~VDPAMAP_F_IOTLB_BATCH;
	b->failed_step = "open";
	r = vdpamap_open(b->dev, &oo, &h);
	if (r < 0)
		goto out;
	vdpamap_get_info(h, &b->info);
	b->have_info = 1;
	if (!(b->info.caps_flags & VDPAMAP_CAPS_ENFORCED))
		b->caps_raised = 0; /* a profile without caps: none to raise */

	b->failed_step = "memory";
	fd = memfd_create("vdpamap-map-bench", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)b->size) < 0) {
		r = -errno;
		goto out;
	}
	mem = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	if (b->prefault) {
		t0 = now_ns();
		if (madvise(mem, b->size, MADV_POPULATE_WRITE) < 0) {
			uint64_t off;

			/* before Linux 5.14: touch every page */
			for (off = 0; off < b->size; off += 4096)
				mem[off] = 0;
		}
		b->prefault_ns = now_ns() - t0;
	}
	rg = (struct vdpamap_region){ .hva = mem, .len = b->size, .fd = fd };
	b->failed_step = "region";
	r = vdpamap_region_add(h, &rg, NULL);
	if (r < 0)
		goto out;
	b->failed_step = "iova";
	r = vdpamap_iova_find(h, 0, b->size, b->chunk >= 2 * MiB ? 2 * MiB : 0,
			      &iova);
	if (r < 0)
		goto out;

	b->failed_step = "map";
	r = run_phase(b, h, mem, iova, 0, pg, &b->map);
	if (r < 0)
		goto out;
	vdpamap_get_stats(h, &st);
	b->pinned_after_map = st.pinned_bytes;
	b->failed_step = "unmap";
	r = run_phase(b, h, mem, iova, 1, pg, &b->unmap);
	if (r < 0)
		goto out;
	b->failed_step = NULL;
out:
	b->err = r < 0 ? -r : 0;
	vdpamap_close(h);
	if (mem != MAP_FAILED)
		munmap(mem, b->size);
	if (fd >= 0)
		close(fd);
	return r;
}

static double rate(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes / ((double)ns / 1e9) : 0.0;
}

static void json_phase(struct json *j, const char *key, const struct bench *b,
		       const struct phase *ph)
{
	json_obj_open(j, key);
	json_double(j, "ms", (double)ph->ns / 1e6);
	json_bool(j, "ok", !ph->err);
	json_u64(j, "bytes", ph->bytes);
	json_double(j, "bytes_per_s", rate(ph->bytes, ph->ns));
	json_u64(j, "transactions", ph->txns);
	json_u64(j, "iotlb_writes", ph->writes);
	json_u64(j, "iotlb_updates", ph->updates);
	json_u64(j, "iotlb_invalidates", ph->invalidates);
	json_u64(j, "iotlb_batches", ph->batches);
	json_obj_close(j);
}

static void print_json(struct cli *c, const struct bench *b)
{
	struct json j;
	char buf[32];

	json_init(&j, stdout, c->pretty);
	json_obj_open(&j, NULL);
	json_str(&j, "device", b->dev);
	json_bool(&j, "spawned_sim", b->spawned);
	if (b->have_info) {
		json_str(&j, "transport", b->info.is_sim ? "sim" : "kernel");
		json_str(&j, "mem_mode",
			 b->info.mem_mode == VDPAMAP_MEMMODE_PA ? "PA" : "VA");
		snprintf(buf, sizeof(buf), "0x%" PRIx64, b->info.backend_acked);
		json_str(&j, "backend_acked", buf);
		json_bool(&j, "batch",
			  !!(b->info.backend_acked & VDPAMAP_F_IOTLB_BATCH));
	}
	json_u64(&j, "size_bytes", b->size);
	json_u64(&j, "chunk_bytes", b->chunk);
	json_u64(&j, "txn_bytes", b->txn_bytes ? b->txn_bytes : b->size);
	json_u64(&j, "maps", b->maps);
	if (b->have_info)
		json_u64(&j, "max_iotlb_entries",
			 b->info.caps_flags & VDPAMAP_CAPS_ENFORCED ?
				 b->info.max_iotlb_entries :
				 0);
	json_bool(&j, "caps_raised", !!b->caps_raised);
	json_bool(&j, "prefault", b->prefault);
	json_double(&j, "prefault_ms", (double)b->prefault_ns / 1e6);
	if (b->map.ns)
		json_phase(&j, "map", b, &b->map);
	if (b->unmap.ns)
		json_phase(&j, "unmap", b, &b->unmap);
	json_u64(&j, "pinned_bytes", b->pinned_after_map);
	json_bool(&j, "ok", !b->err);
	if (b->err) {
		json_str(&j, "failed_step", b->failed_step);
		json_str(&j, "error", strerror(b->err));
		json_i64(&j, "errno", b->err);
	}
	json_obj_close(&j);
	json_end(&j);
}

static void print_phase(const char *name, const struct bench *b,
			const struct phase *ph)
{
	char r[32];

	if (ph->err) {
		printf("%-9s %10.3f ms  FAILED after %s in %" PRIu64
		       " transaction%s: %s\n",
		       name, (double)ph->ns / 1e6,
		       cli_size(ph->bytes, r, sizeof(r)), ph->txns,
		       ph->txns == 1 ? "" : "s", strerror(ph->err));
		return;
	}
	printf("%-9s %10.3f ms  %9s/s  %" PRIu64 " transaction%s, %" PRIu64
	       " IOTLB write%s (%" PRIu64 " UPDATE, %" PRIu64
	       " INVALIDATE), %" PRIu64 " batch%s\n",
	       name, (double)ph->ns / 1e6,
	       cli_size((uint64_t)rate(ph->bytes, ph->ns), r, sizeof(r)),
	       ph->txns, ph->txns == 1 ? "" : "s", ph->writes,
	       ph->writes == 1 ? "" : "s", ph->updates, ph->invalidates,
	       ph->batches, ph->batches == 1 ? "" : "es");
}

static void print_table(const struct bench *b)
{
	char s1[32], s2[32], s3[32];

	printf("vdpamap map-bench: %s (%s%s)", b->dev,
	       !b->have_info  ? "?" :
	       b->info.is_sim ? "simulator" :
				"kernel vhost-vdpa",
	       b->spawned ? ", spawned" : "");
	if (b->have_info)
		printf(", %s mode, IOTLB_BATCH %s",
		       b->info.mem_mode == VDPAMAP_MEMMODE_PA ? "PA" : "VA",
		       b->info.backend_acked & VDPAMAP_F_IOTLB_BATCH ?
			       "negotiated" :
			       "not negotiated");
	printf("\n");
	printf("%-9s %s in %" PRIu64 " map%s of %s, transactions of %s\n",
	       "size", cli_size(b->size, s1, sizeof(s1)), b->maps,
	       b->maps == 1 ? "" : "s", cli_size(b->chunk, s2, sizeof(s2)),
	       cli_size(b->txn_bytes ? b->txn_bytes : b->size, s3, sizeof(s3)));
	if (b->have_info && (b->info.caps_flags & VDPAMAP_CAPS_ENFORCED))
		printf("%-9s IOTLB entry caps %u per address space%s\n", "caps",
		       b->info.max_iotlb_entries,
		       b->caps_raised ? " (raised for this run's maps: the "
					"simulator's default is 2048, as "
					"Linux 7.3's)" :
					"");
	else if (b->have_info)
		printf("%-9s no IOTLB entry cap enforced\n", "caps");
	if (b->prefault)
		printf("%-9s %10.3f ms  (MADV_POPULATE_WRITE, not part of the "
		       "map)\n",
		       "prefault", (double)b->prefault_ns / 1e6);
	if (b->map.ns)
		print_phase("map", b, &b->map);
	if (b->unmap.ns)
		print_phase("unmap", b, &b->unmap);
	if (b->pinned_after_map)
		printf("%-9s %s\n", "pinned",
		       cli_size(b->pinned_after_map, s1, sizeof(s1)));
	if (b->err)
		printf("map-bench FAILED at %s: %s\n", b->failed_step,
		       strerror(b->err));
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vdpamap [-j] [-v] map-bench [DEV] --size MiB "
		"[--chunk KiB] [--txn MiB]\n"
		"                [--no-batch] [--no-prefault] [--progress] "
		"[--sim va|pa|permap]\n"
		"\n"
		"Time mapping --size MiB of memfd memory in maps of --chunk "
		"KiB (default\n"
		"2048), committed in transactions of --txn MiB (default 256; "
		"0: one\n"
		"transaction), then unmapping it.  --no-batch opens the "
		"device without\n"
		"IOTLB_BATCH.  DEV: /dev/vhost-vdpa-N or a simulator socket; "
		"default: a\n"
		"simulator spawned for the run (--sim flavour, default va), "
		"its IOTLB\n"
		"entry caps (2048) raised to the number of maps when there "
		"are more.\n"
		"Progress on stderr for maps longer than a second when it is "
		"a terminal\n"
		"(not with -j), always with --progress.\n"
		"Exit: 0 ok, 1 failed (the error says why), 2 usage.\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	unsigned long long x;
	char *end;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end || !*s || x > max)
		return -1;
	*v = x;
	return 0;
}

/* One option into b: -1 to go on, else the exit code. */
static int mb_option(struct cli *c, int o, struct bench *b, uint64_t *size_mib,
		     int *force_progress)
{
	uint64_t v;

	switch (o) {
	case 's':
		if (parse_u64(optarg, 1ULL << 24, size_mib) < 0 || !*size_mib) {
			fprintf(stderr,
				"vdpamap map-bench: bad --size "
				"'%s' (MiB, 1..16777216)\n",
				optarg);
			return CLI_EXIT_USAGE;
		}
		break;
	case 'c':
		if (parse_u64(optarg, 1ULL << 30, &v) < 0 || v < 4 ||
		    (v & (v - 1))) {
			fprintf(stderr,
				"vdpamap map-bench: bad --chunk "
				"'%s' (KiB, a power of two >= 4)\n",
				optarg);
			return CLI_EXIT_USAGE;
		}
		b->chunk = v * KiB;
		break;
	case 't':
		if (parse_u64(optarg, 1ULL << 24, &v) < 0) {
			fprintf(stderr,
				"vdpamap map-bench: bad --txn "
				"'%s' (MiB, 0: one transaction)\n",
				optarg);
			return CLI_EXIT_USAGE;
		}
		b->txn_bytes = v * MiB;
		break;
	case 'B':
		b->no_batch = 1;
		break;
	case 'F':
		b->prefault = 0;
		break;
	case 'P':
		*force_progress = 1;
		break;
	case 'S':
		if (strcmp(optarg, "va") && strcmp(optarg, "pa") &&
		    strcmp(optarg, "permap")) {
			fprintf(stderr,
				"vdpamap map-bench: bad --sim "
				"'%s' (va, pa or permap)\n",
				optarg);
			return CLI_EXIT_USAGE;
		}
		b->flavour = optarg;
		break;
	case 'j':
	case 'p':
	case 'v':
		cli_output_opt(c, o);
		break;
	case 'h':
		usage(stdout);
		return CLI_EXIT_OK;
	default:
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

/* The command line into b and pg: -1 to go on, else the exit code. */
static int mb_parse(struct cli *c, struct bench *b, struct progress *pg)
{
	static const struct option lopts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "txn", required_argument, NULL, 't' },
		{ "no-batch", no_argument, NULL, 'B' },
		{ "no-prefault", no_argument, NULL, 'F' },
		{ "progress", no_argument, NULL, 'P' },
		{ "sim", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size_mib = 0;
	int o, rc, force_progress = 0;

	while ((o = getopt_long(c->argc, c->argv, "s:c:t:jpvh", lopts, NULL)) !=
	       -1) {
		rc = mb_option(c, o, b, &size_mib, &force_progress);
		if (rc >= 0)
			return rc;
	}
	if (optind < c->argc)
		b->dev = c->argv[optind++];
	if (optind < c->argc || !size_mib) {
		if (!size_mib)
			fprintf(stderr, "vdpamap map-bench: --size is "
					"required\n");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	b->size = size_mib * MiB;
	if (b->chunk > b->size) {
		fprintf(stderr, "vdpamap map-bench: --chunk is larger than "
				"--size\n");
		return CLI_EXIT_USAGE;
	}
	if (b->size % b->chunk) {
		fprintf(stderr, "vdpamap map-bench: --size is not a multiple "
				"of --chunk\n");
		return CLI_EXIT_USAGE;
	}
	if (b->txn_bytes && b->txn_bytes < b->chunk)
		b->txn_bytes = b->chunk;
	b->maps = b->size / b->chunk;
	pg->force = force_progress;
	pg->allowed = force_progress || (!c->json && isatty(STDERR_FILENO));
	return -1;
}

/* A simulator of --sim's flavour for the run.  Its default profile
 * enforces the kernel's IOTLB entry caps (2048 per address space): a run
 * of more maps raises them, as the kernel benchmarks raise the module
 * parameters at load, and says so. */
static int mb_spawn(struct bench *b)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so);
	pid_t pid = 0;
	int r;

	if (!strcmp(b->flavour, "pa"))
		so.flags = VDPAMAP_SIM_PA;
	else if (!strcmp(b->flavour, "permap"))
		so.flags = VDPAMAP_SIM_PA | VDPAMAP_SIM_PER_MAP;
	if (b->maps > MB_SIM_CAP) {
		b->caps_raised = b->maps > UINT32_MAX ? UINT32_MAX :
							(uint32_t)b->maps;
		so.max_iotlb_entries = b->caps_raised;
	}
	r = vdpamap_sim_spawn(&so, b->simpath, sizeof(b->simpath), &pid);
	if (r < 0) {
		fprintf(stderr,
			"vdpamap map-bench: spawning a "
			"simulator: %s\n",
			strerror(-r));
		return r;
	}
	b->dev = b->simpath;
	b->spawned = 1;
	return 0;
}

int cmd_mapbench(struct cli *c)
{
	struct bench b = { .chunk = 2 * MiB,
			   .txn_bytes = 256 * MiB,
			   .prefault = 1,
			   .flavour = "va" };
	struct progress pg = { 0 };
	int r;

	r = mb_parse(c, &b, &pg);
	if (r >= 0)
		return r;
	if (!b.dev && mb_spawn(&b) < 0)
		return CLI_EXIT_FAIL;
	r = bench_run(c, &b, &pg);
	if (r < 0)
		fprintf(stderr, "vdpamap map-bench: %s: %s%s\n", b.failed_step,
			strerror(-r),
			r == -ENOMEM && b.have_info &&
					b.info.mem_mode == VDPAMAP_MEMMODE_PA ?
				" (PA mode pins: RLIMIT_MEMLOCK too low? "
				"see -v)" :
				"");
	if (c->json)
		print_json(c, &b);
	else
		print_table(&b);
	if (b.spawned)
		vdpamap_sim_stop(b.simpath);
	return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
