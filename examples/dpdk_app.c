// SPDX-License-Identifier: BSD-3-Clause
/*
 * dpdk_app: a DPDK EAL application that keeps all of DPDK's memory mapped
 * in a vhost-vdpa device with libvdpamap, the way DPDK's own virtio-user
 * vhost-vdpa backend and VFIO do it:
 *
 *   1  before anything else allocates, under the memory hotplug read lock:
 *      register a memory event callback (rte_mem_event_callback_register)
 *      and walk every memory segment (rte_memseg_walk_thread_unsafe),
 *      registering each with the library (fd and offset from
 *      rte_memseg_get_fd_thread_unsafe / _offset_thread_unsafe) and
 *      mapping them all in one transaction at DPDK's IOVA of each segment
 *      (IOVA as VA: --iova-mode=va);
 *   2  the callback maps every page DPDK allocates later (RTE_MEM_EVENT_ALLOC)
 *      and unmaps every page it gives back (RTE_MEM_EVENT_FREE), each event
 *      one transaction;
 *   3  a virtio-net driver (examples/vnet.c) with its rings and buffers
 *      in rte_malloc() memory at rte_mem_virt2iova() addresses checks the
 *      maps with frames looped through the device, before and after a large
 *      allocation is made and freed.
 *
 * Memory modes (DPDK 22.11):
 *  - --no-huge: EAL's legacy mode; all memory is one memfd ("nohuge",
 *    MAP_SHARED, single-file segments), reserved at start and never given
 *    back.  A VA-mode device maps it (it is file-backed and shared).  EAL
 *    refuses memory event callbacks in legacy mode (rte_errno ENOTSUP), so
 *    the walk at start is all there is: contiguous segments are coalesced
 *    into one region and one map.
 *  - hugepages, dynamic mode (--in-memory: memfd_create(MFD_HUGETLB) per
 *    page, no hugetlbfs mount needed): pages come and go with rte_malloc()/
 *    rte_free(); one region and one map per page, since each page has its
 *    own fd and may be freed on its own.
 *
 * Usage: dpdk_app [EAL options] -- [DEV] [--sim va|pa|permap]
 *                 [--sim-shape NAME] [--alloc MiB] [--expect-events] [-v]
 *   NAME: the device shape the spawned simulator plays (excommon.h)
 *   e.g. dpdk_app -l 0 --no-huge -m 64 --no-pci --in-memory --iova-mode=va
 *        --no-telemetry -- --sim va
 *   DEV: /dev/vhost-vdpa-N or a simulator socket (default
 *   $VDPAMAP_TEST_DEV, else a simulator spawned for the run)
 *   --expect-events: fail if DPDK refuses memory event callbacks
 * Exit: 0 ok, 1 failed, 2 usage, 77 no device / EAL cannot start.
 */
/* memfd_create(), MFD_*: meson builds with -D_GNU_SOURCE, a plain cc does not */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_eal_memconfig.h>
#include <rte_errno.h>
#include <rte_version.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include "excommon.h"
#include "vdpamap.h"
#include "vnet.h"

#define MAX_RUNS  4096
#define VNET_AREA (1u << 20)

/* One piece of DPDK memory the device maps: a region and a map. */
struct run {
	uint64_t va, len, iova;
	uint32_t region_id;
};

struct app {
	struct vdpamap *h;
	struct vdpamap_info info;
	int dynamic; /* memory event callback registered */
	struct run runs[MAX_RUNS];
	int nruns;
	/* the callback runs in whichever thread allocates */
	pthread_mutex_t lock;
	unsigned int ev_alloc, ev_free;
	uint64_t ev_bytes_mapped, ev_bytes_unmapped;
	int ev_errors;
};

static const char *prog = "dpdk_app";
static struct app g_app = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* A run being built: segments that follow each other in VA, IOVA and
 * file offset, with the same fd. */
struct pending {
	uint64_t va, len, iova, off;
	int fd;
	int open;
};

struct walk {
	struct app *a;
	int coalesce;
	struct pending cur;
	struct pending *out;
	int nout, max;
	int err;
};

static uint64_t seg_iova(const struct rte_memseg *ms)
{
	return ms->iova == RTE_BAD_IOVA ? (uintptr_t)ms->addr : ms->iova;
}

static void walk_flush(struct walk *w)
{
	if (!w->cur.open)
		return;
	if (w->nout >= w->max) {
		w->err = -ENOSPC;
	} else {
		w->out[w->nout++] = w->cur;
	}
	w->cur.open = 0;
}

/* Add one segment (va, len) to the walk. */
static void walk_add(struct walk *w, const struct rte_memseg *ms)
{
	struct pending p = {
		.va = (uintptr_t)ms->addr,
		.len = ms->len,
		.iova = seg_iova(ms),
		.fd = rte_memseg_get_fd_thread_unsafe(ms),
		.open = 1,
	};
	size_t off = 0;

	if (p.fd >= 0 && rte_memseg_get_fd_offset_thread_unsafe(ms, &off) == 0)
		p.off = off;
	if (p.fd < 0)
		p.fd = -1; /* anonymous (external memory, or no memfd) */
	if (w->coalesce && w->cur.open && p.fd == w->cur.fd &&
	    p.va == w->cur.va + w->cur.len &&
	    p.iova == w->cur.iova + w->cur.len &&
	    (p.fd < 0 || p.off == w->cur.off + w->cur.len)) {
		w->cur.len += p.len;
		return;
	}
	walk_flush(w);
	w->cur = p;
}

static int walk_cb(const struct rte_memseg_list *msl,
		   const struct rte_memseg *ms, void *arg)
{
	walk_add(arg, ms);
	return 0;
}

/* Register and map every pending run in one transaction; all or nothing.
 * Called with the memory hotplug lock held (read for the walk, write in
 * the event callback), so DPDK memory does not change underneath. */
static int map_runs(struct app *a, const struct pending *p, int n)
{
	struct vdpamap_txn *t = NULL;
	int i, r, nreg = 0, base = a->nruns;

	if (a->nruns + n > MAX_RUNS)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		struct vdpamap_region rg = {
			.hva = (void *)(uintptr_t)p[i].va,
			.len = p[i].len,
			.fd = p[i].fd,
			.fd_offset = p[i].off,
		};
		struct run *ru = &a->runs[base + i];

		r = vdpamap_region_add(a->h, &rg, &ru->region_id);
		if (r < 0)
			goto undo;
		nreg++;
		ru->va = p[i].va;
		ru->len = p[i].len;
		ru->iova = p[i].iova;
	}
	r = vdpamap_txn_begin(a->h, &t);
	for (i = 0; r == 0 && i < n; i++)
		r = vdpamap_txn_map(t, 0, p[i].iova, (void *)(uintptr_t)p[i].va,
				    p[i].len, VDPAMAP_PERM_RW, NULL);
	if (r < 0) {
		vdpamap_txn_abort(t);
		goto undo;
	}
	r = vdpamap_txn_commit(t);
	if (r < 0)
		goto undo;
	a->nruns += n;
	return 0;
undo:
	for (i = 0; i < nreg; i++)
		vdpamap_region_del(a->h, a->runs[base + i].region_id);
	return r;
}

/* Unmap and unregister every run inside [va, va+len), in one transaction. */
static int unmap_range(struct app *a, uint64_t va, uint64_t len,
		       uint64_t *bytes)
{
	struct vdpamap_txn *t;
	int i, r, n = 0;

	*bytes = 0;
	r = vdpamap_txn_begin(a->h, &t);
	if (r < 0)
		return r;
	for (i = 0; i < a->nruns; i++) {
		struct run *ru = &a->runs[i];

		if (ru->va < va || ru->va + ru->len > va + len)
			continue;
		r = vdpamap_txn_unmap(t, 0, ru->iova, ru->len);
		if (r < 0) {
			vdpamap_txn_abort(t);
			return r;
		}
		n++;
	}
	if (!n) {
		vdpamap_txn_abort(t);
		return -ENOENT;
	}
	r = vdpamap_txn_commit(t);
	if (r < 0)
		return r;
	for (i = 0; i < a->nruns;) {
		struct run *ru = &a->runs[i];

		if (ru->va < va || ru->va + ru->len > va + len) {
			i++;
			continue;
		}
		vdpamap_region_del(a->h, ru->region_id);
		*bytes += ru->len;
		*ru = a->runs[--a->nruns];
	}
	return 0;
}

/* RTE_MEM_EVENT_ALLOC / _FREE: called by whichever thread allocates or
 * frees, with the memory hotplug lock held for writing: only the
 * *_thread_unsafe memseg functions may be used here. */
static void mem_event_cb(enum rte_mem_event type, const void *addr, size_t len,
			 void *arg)
{
	struct app *a = arg;
	struct pending p[256];
	uint64_t bytes = 0;
	int r;

	pthread_mutex_lock(&a->lock);
	if (type == RTE_MEM_EVENT_ALLOC) {
		const struct rte_memseg_list *msl =
			rte_mem_virt2memseg_list(addr);
		struct walk w = { .a = a,
				  .coalesce = 0,
				  .out = p,
				  .max = (int)(sizeof(p) / sizeof(p[0])) };
		uint64_t va = (uintptr_t)addr;

		a->ev_alloc++;
		r = msl ? 0 : -ENOENT;
		while (r == 0 && va < (uintptr_t)addr + len) {
			const struct rte_memseg *ms =
				rte_mem_virt2memseg((void *)(uintptr_t)va, msl);

			if (!ms) {
				r = -ENOENT;
				break;
			}
			walk_add(&w, ms);
			va = (uintptr_t)ms->addr + ms->len;
		}
		walk_flush(&w);
		if (r == 0)
			r = w.err;
		if (r == 0)
			r = map_runs(a, p, w.nout);
		if (r == 0)
			a->ev_bytes_mapped += len;
	} else {
		a->ev_free++;
		r = unmap_range(a, (uintptr_t)addr, len, &bytes);
		if (r == 0)
			a->ev_bytes_unmapped += bytes;
	}
	if (r < 0) {
		/* the callback cannot refuse: say so loudly */
		a->ev_errors++;
		fprintf(stderr, "%s: mem event %s [%p, +0x%zx): %s\n", prog,
			type == RTE_MEM_EVENT_ALLOC ? "ALLOC" : "FREE", addr,
			len, strerror(-r));
	} else if (ex_verbose) {
		fprintf(stderr, "%s: mem event %s [%p, +0x%zx) done\n", prog,
			type == RTE_MEM_EVENT_ALLOC ? "ALLOC" : "FREE", addr,
			len);
	}
	pthread_mutex_unlock(&a->lock);
}

/* Step 1: callback + walk, both under the hotplug read lock. */
static int map_dpdk_memory(struct app *a, unsigned int *nsegs)
{
	static struct pending p[MAX_RUNS];
	struct walk w = { .a = a, .out = p, .max = MAX_RUNS };
	int r;

	rte_mcfg_mem_read_lock();
	r = rte_mem_event_callback_register("vdpamap", mem_event_cb, a);
	a->dynamic = r == 0;
	if (r < 0 && rte_errno != ENOTSUP) {
		r = -rte_errno;
		rte_mcfg_mem_read_unlock();
		return r;
	}
	/* legacy memory never goes away: coalesce it */
	w.coalesce = !a->dynamic;
	rte_memseg_walk_thread_unsafe(walk_cb, &w);
	walk_flush(&w);
	*nsegs = (unsigned int)w.nout;
	r = w.err;
	if (r == 0) {
		pthread_mutex_lock(&a->lock);
		r = map_runs(a, p, w.nout);
		pthread_mutex_unlock(&a->lock);
	}
	rte_mcfg_mem_read_unlock();
	return r;
}

/* Every segment DPDK has allocated is mapped at its IOVA, and nothing
 * else is. */
struct verify {
	struct app *a;
	uint64_t bytes;
	int bad;
};

static int verify_cb(const struct rte_memseg_list *msl,
		     const struct rte_memseg *ms, void *arg)
{
	struct verify *v = arg;
	uint64_t iova = 0, len = 0;

	if (vdpamap_reverse(v->a->h, 0, ms->addr, &iova, &len) < 0 ||
	    iova != seg_iova(ms) || len < ms->len) {
		if (!v->bad)
			fprintf(stderr,
				"%s: segment %p (+0x%zx) not mapped "
				"at IOVA 0x%" PRIx64 "\n",
				prog, ms->addr, ms->len, seg_iova(ms));
		v->bad++;
	}
	v->bytes += ms->len;
	return 0;
}

static int verify_all(struct app *a, uint64_t *bytes)
{
	struct verify v = { .a = a };
	uint64_t mapped = 0;
	int i;

	rte_mcfg_mem_read_lock();
	rte_memseg_walk_thread_unsafe(verify_cb, &v);
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->nruns; i++)
		mapped += a->runs[i].len;
	pthread_mutex_unlock(&a->lock);
	rte_mcfg_mem_read_unlock();
	*bytes = v.bytes;
	if (v.bad)
		return -EFAULT;
	if (mapped != v.bytes) {
		fprintf(stderr,
			"%s: %" PRIu64 " bytes mapped, DPDK has %" PRIu64 "\n",
			prog, mapped, v.bytes);
		return -EEXIST;
	}
	return 0;
}

static int io_check(struct app *a, struct vnet *v, void *mem, uint32_t *seq)
{
	rte_iova_t iova = rte_mem_virt2iova(mem);
	int i, r;

	if (iova == RTE_BAD_IOVA)
		iova = (uintptr_t)mem;
	vnet_stop(v);
	r = vnet_start(v, a->h, mem, iova, VNET_AREA);
	for (i = 0; r == 0 && i < 3; i++)
		r = vnet_loop(v, ++*seq, 60 + 700 * (uint32_t)i, 5000);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [EAL options] -- [DEV] [--sim va|pa|permap] "
		"[--sim-shape NAME] [--alloc MiB] [--expect-events] [-v]\n",
		prog);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "sim", required_argument, NULL, 's' },
		{ "sim-shape", required_argument, NULL, 'H' },
		{ "alloc", required_argument, NULL, 'a' },
		{ "expect-events", no_argument, NULL, 'e' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *flavour = "va", *devarg = NULL;
	struct app *a = &g_app;
	struct ex_dev dev;
	struct vnet v = { 0 };
	uint64_t t0, bytes, alloc = 16ULL << 20, n0, n1;
	unsigned int nsegs = 0;
	int i, o, r, expect_events = 0, failed = 0, sep = -1, app_argc;
	char **app_argv;
	uint32_t seq = 0, dummy;
	void *io = NULL, *big = NULL;

	/* the application's options follow "--"; EAL takes the rest */
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			sep = i;
			break;
		}
	app_argc = sep < 0 ? 1 : argc - sep;
	app_argv = sep < 0 ? argv : argv + sep; /* argv[sep] = "--" */
	while ((o = getopt_long(app_argc, app_argv, "s:a:evh", lopts, NULL)) !=
	       -1) {
		switch (o) {
		case 's':
			if (ex_flavour_flags(optarg, &dummy) < 0) {
				usage(stderr);
				return EX_USAGE;
			}
			flavour = optarg;
			break;
		case 'H':
			if (ex_sim_shape(optarg) < 0) {
				usage(stderr);
				return EX_USAGE;
			}
			break;
		case 'a':
			alloc = strtoull(optarg, NULL, 0) << 20;
			if (!alloc || alloc > (1ULL << 34)) {
				usage(stderr);
				return EX_USAGE;
			}
			break;
		case 'e':
			expect_events = 1;
			break;
		case 'v':
			ex_verbose++;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < app_argc)
		devarg = app_argv[optind++];
	if (optind < app_argc) {
		usage(stderr);
		return EX_USAGE;
	}
	optind = 1; /* EAL parses with getopt too */

	/* the simulator is forked before EAL starts its threads */
	r = ex_dev_get(&dev, devarg, flavour);
	if (r < 0) {
		fprintf(stderr, "%s: no device: %s\n", prog, strerror(-r));
		return EX_SKIP;
	}
	if (dev.pa)
		ex_memlock_at_least(1ULL << 30);

	r = rte_eal_init(sep < 0 ? argc : sep, argv);
	if (r < 0) {
		int e = rte_errno;

		fprintf(stderr, "%s: rte_eal_init: %s\n", prog,
			rte_strerror(e));
		ex_dev_put(&dev);
		/* no hugepages, no permission: not possible here */
		return e == ENOMEM || e == EACCES || e == ENOTSUP ||
				       e == ENODEV ?
			       EX_SKIP :
			       EX_FAIL;
	}
	printf("%s: %s (%s), %s, IOVA as %s\n", prog, dev.path,
	       dev.spawned ? "simulator spawned for the run" : "device",
	       rte_version(), rte_eal_iova_mode() == RTE_IOVA_VA ? "VA" : "PA");

	{
		VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = ex_log,
			     .log_ctx = (void *)prog,
			     .log_level = ex_log_level());

		r = vdpamap_open(dev.path, &oo, &a->h);
	}
	if (r < 0) {
		fprintf(stderr, "%s: open %s: %s\n", prog, dev.path,
			strerror(-r));
		failed = 1;
		goto out;
	}
	vdpamap_get_info(a->h, &a->info);

	/* 1 */
	t0 = ex_now_ns();
	r = map_dpdk_memory(a, &nsegs);
	if (r == 0)
		r = verify_all(a, &bytes);
	if (r < 0) {
		fprintf(stderr, "%s: mapping DPDK memory: %s\n", prog,
			strerror(-r));
		failed = 1;
		goto out;
	}
	/* map_dpdk_memory() returns 0 or -errno: verify_all() set bytes:
	 * NOLINTBEGIN(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	ex_step("1 walk + map DPDK memory", ex_now_ns() - t0,
		"%u run%s, %" PRIu64 " MiB, one transaction; memory events: %s",
		nsegs, nsegs == 1 ? "" : "s", bytes >> 20,
		a->dynamic ? "followed" :
			     "refused by EAL (legacy memory: static)");
	/* NOLINTEND(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	if (expect_events && !a->dynamic) {
		fprintf(stderr,
			"%s: --expect-events, but EAL refused the "
			"memory event callback (legacy memory mode)\n",
			prog);
		failed = 1;
		goto out;
	}

	/* 3: I/O in rte_malloc() memory */
	t0 = ex_now_ns();
	io = rte_malloc("vdpamap-vnet", VNET_AREA, 4096);
	r = io ? io_check(a, &v, io, &seq) : -ENOMEM;
	if (r < 0) {
		fprintf(stderr, "%s: I/O in rte_malloc memory: %s\n", prog,
			strerror(-r));
		failed = 1;
		goto out;
	}
	ex_step("2 I/O in rte_malloc() memory", ex_now_ns() - t0,
		"rings at IOVA 0x%" PRIx64 ", 3 frames looped",
		(uint64_t)rte_mem_virt2iova(io));

	/* 2: a large allocation comes and goes */
	n0 = vdpamap_entry_count(a->h, 0);
	t0 = ex_now_ns();
	big = rte_malloc("vdpamap-big", alloc, 2 << 20);
	if (!big) {
		fprintf(stderr, "%s: rte_malloc(%" PRIu64 " MiB) failed\n",
			prog, alloc >> 20);
		failed = 1;
		goto out;
	}
	n1 = vdpamap_entry_count(a->h, 0);
	r = verify_all(a, &bytes);
	if (r == 0)
		r = io_check(a, &v, (uint8_t *)big + alloc - VNET_AREA, &seq);
	if (r < 0 || a->ev_errors) {
		fprintf(stderr, "%s: after rte_malloc: %s\n", prog,
			strerror(r < 0 ? -r : EIO));
		failed = 1;
		goto out;
	}
	ex_step("3 rte_malloc() large", ex_now_ns() - t0,
		"%" PRIu64 " MiB: %u ALLOC event%s, entries %" PRIu64
		" -> %" PRIu64 "; 3 frames looped in it",
		alloc >> 20, a->ev_alloc, a->ev_alloc == 1 ? "" : "s", n0, n1);
	if (a->dynamic && !a->ev_alloc) {
		fprintf(stderr,
			"%s: no ALLOC event for a %" PRIu64 " MiB "
			"rte_malloc\n",
			prog, alloc >> 20);
		failed = 1;
		goto out;
	}

	/* the device stops using it before it goes */
	vnet_stop(&v);
	r = vdpamap_reset(a->h, NULL);
	if (r < 0) {
		failed = 1;
		goto out;
	}
	t0 = ex_now_ns();
	rte_free(big);
	big = NULL;
	r = verify_all(a, &bytes);
	if (r == 0)
		r = io_check(a, &v, io, &seq);
	if (r < 0 || a->ev_errors) {
		fprintf(stderr, "%s: after rte_free: %s\n", prog,
			strerror(r < 0 ? -r : EIO));
		failed = 1;
		goto out;
	}
	ex_step("4 rte_free() large", ex_now_ns() - t0,
		"%u FREE event%s (%" PRIu64 " MiB unmapped), %" PRIu64
		" entries; DPDK holds %" PRIu64 " MiB, all mapped; I/O ok",
		a->ev_free, a->ev_free == 1 ? "" : "s",
		a->ev_bytes_unmapped >> 20, vdpamap_entry_count(a->h, 0),
		bytes >> 20);
	if (a->dynamic && !a->ev_free) {
		fprintf(stderr, "%s: rte_free gave no page back\n", prog);
		failed = 1;
	}
out:
	vnet_stop(&v);
	if (a->dynamic)
		rte_mem_event_callback_unregister("vdpamap", a);
	if (a->h && a->info.is_sim && !failed) {
		struct vdpamap_sim_stats st;

		if (vdpamap_sim_get_stats(dev.path, &st) == 0 &&
		    st.dma_errors) {
			fprintf(stderr,
				"%s: %" PRIu64 " untranslated DMA "
				"accesses\n",
				prog, st.dma_errors);
			failed = 1;
		}
	}
	a->h = vdpamap_close(a->h);
	rte_free(big);
	rte_free(io);
	rte_eal_cleanup();
	ex_dev_put(&dev);
	printf("%s: %s\n", prog, failed ? "FAILED" : "ok");
	return failed ? EX_FAIL : EX_OK;
}
