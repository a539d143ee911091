// SPDX-License-Identifier: BSD-3-Clause
/*
 * vmm: a small VMM-shaped program on libvdpamap.
 *
 * What a VMM (QEMU, cloud-hypervisor, Firecracker-like) does with a
 * vhost-vdpa net device, in the order it does it, each step timed:
 *
 *   1  boot RAM in a memfd at GPA 0, pre-mapped at open in one batch
 *   2  the guest's virtio-net driver brings the device up (rings and
 *      buffers in guest RAM; the guest driver is played by
 *      examples/vnet.c, a minimal split-ring virtio-net driver)
 *   3  a traffic thread loops frames TX -> RX through the device, and keeps
 *      doing so while the VMM hot-plugs memory:
 *   4    hot-add one DIMM (its own memfd): a transaction of one map
 *   5    hot-add two DIMMs in one transaction
 *   6    hot-remove a DIMM: a transaction of one unmap
 *   7    replace a DIMM by a bigger one at the same GPA: unmap + map in one
 *        transaction, so the device never sees a half-done layout
 *   8    a hot-add that fails half-way (simulator fault injection) leaves
 *        the device exactly as it was (all or nothing)
 *   9  device reset (the guest resets the device): every map stays valid,
 *      with IOTLB_PERSIST or a batched resync; the guest driver restarts
 *      with its rings in hot-added memory, which proves those maps survived
 *  10  SVQ flip (vdpamap_flip): the data vq group moves to ASID 1, where
 *      the VMM's shadow virtqueue rings live (IOVAs the library allocates);
 *      frames loop through the shadow rings; guest RAM in ASID 0 is not
 *      touched
 *  11  flip back (vdpamap_unflip) to ASID 0 and the guest's rings
 *  12  live update by exec: vdpamap_handoff_prepare() (strategy AUTO)
 *      suspends the device and writes its state to a sealed memfd; the VMM
 *      execs /proc/self/exe with its own state (the guest's layout, the
 *      rings) in another memfd; the new image adopts the device with every
 *      map intact (no IOTLB write at all with the mm keeper), finds the
 *      memfds at their new HVAs, re-attaches the guest's running rings
 *      without a reset (vnet_attach) and loops frames; skipped under
 *      valgrind (VDPAMAP_MEMCHECK)
 *  13  close: the kernel drops every map and unpins
 *
 * Usage: vmm [DEV] [--sim va|pa|permap] [--sim-shape NAME] [--ram MiB]
 *            [--dimm MiB] [-v]
 *   DEV    /dev/vhost-vdpa-N or a simulator socket; default
 *          $VDPAMAP_TEST_DEV, else a simulator spawned for the run, playing
 *          shape NAME (excommon.h) if asked
 * Steps the device cannot do (a flip on one address space) are skipped,
 * saying why; a device without SUSPEND is handed over running.
 * Exit: 0 every step passed, 1 a step failed, 2 usage, 77 no device.
 */
/* memfd_create(), MFD_*: meson builds with -D_GNU_SOURCE, a plain cc does not */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include "excommon.h"
#include "vdpamap.h"
#include "vnet.h"

#define MiB		((uint64_t)1 << 20)
#define GiB		((uint64_t)1 << 30)
#define DIMM_GPA	(4 * GiB) /* hot-plug window starts here */
#define DRIVER_AREA	(1 * MiB) /* vnet rings + buffers */
#define LOOP_TIMEOUT_MS 5000
#define MAX_SLOTS	8

/* A piece of guest RAM: what a VMM's memory listener sees. */
struct memslot {
	const char *name;
	uint64_t gpa;
	uint64_t size;
	int fd;
	uint8_t *hva;
	uint32_t region_id;
	int registered; /* vdpamap_region_add() done */
	int mapped;	/* in ASID 0 at gpa */
};

/* The guest's traffic while the VMM works. */
struct traffic {
	struct vnet *v;
	pthread_t th;
	atomic_int stop;
	atomic_ulong frames;
	int err;
	uint32_t seq;
	int running;
};

struct vmm {
	struct ex_dev dev;
	struct vdpamap *h;
	struct vdpamap_info info;
	struct memslot ram;		 /* boot RAM, GPA 0 */
	struct memslot slots[MAX_SLOTS]; /* DIMMs */
	uint64_t ram_size, dimm_size;
	struct vnet guest;
	struct traffic tr;
	uint32_t data_group;
	int failed;
};

static const char *prog = "vmm";

static int fail(struct vmm *m, const char *what, int r)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(-r));
	m->failed = 1;
	return r;
}

/* ---- guest memory: memfd + mmap + register with the library */

static int slot_create(struct vmm *m, struct memslot *s, const char *name,
		       uint64_t gpa, uint64_t size)
{
	struct vdpamap_region rg;
	int r;

	memset(s, 0, sizeof(*s));
	s->name = name;
	s->gpa = gpa;
	s->size = size;
	s->fd = memfd_create(name, MFD_CLOEXEC);
	if (s->fd < 0)
		return -errno;
	if (ftruncate(s->fd, (off_t)size) < 0)
		goto err;
	s->hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->hva == MAP_FAILED) {
		s->hva = NULL;
		goto err;
	}
	if (!m->h)
		return 0; /* boot RAM: registered by vdpamap_open() */
	rg = (struct vdpamap_region){ .hva = s->hva, .len = size, .fd = s->fd };
	r = vdpamap_region_add(m->h, &rg, &s->region_id);
	if (r < 0)
		return r;
	s->registered = 1;
	return 0;
err:
	r = -errno;
	close(s->fd);
	s->fd = -1;
	return r;
}

static void slot_destroy(struct vmm *m, struct memslot *s)
{
	if (s->registered && m->h)
		vdpamap_region_del(m->h, s->region_id);
	s->registered = 0;
	if (s->hva)
		munmap(s->hva, s->size);
	s->hva = NULL;
	if (s->fd >= 0 && s->size)
		close(s->fd);
	s->fd = -1;
	s->size = 0;
}

/* The memory listener's commit: every add and remove of one hot-plug event
 * in one transaction, all or nothing. */
static int listener_commit(struct vmm *m, struct memslot **add, int nadd,
			   struct memslot **del, int ndel)
{
	struct vdpamap_txn *t;
	int i, r;

	r = vdpamap_txn_begin(m->h, &t);
	if (r < 0)
		return r;
	for (i = 0; i < ndel; i++) {
		r = vdpamap_txn_unmap(t, 0, del[i]->gpa, del[i]->size);
		if (r < 0)
			goto abort;
	}
	for (i = 0; i < nadd; i++) {
		r = vdpamap_txn_map(t, 0, add[i]->gpa, add[i]->hva,
				    add[i]->size, VDPAMAP_PERM_RW, NULL);
		if (r < 0)
			goto abort;
	}
	r = vdpamap_txn_commit(t); /* frees t, also on failure */
	if (r < 0)
		return r;
	for (i = 0; i < ndel; i++)
		del[i]->mapped = 0;
	for (i = 0; i < nadd; i++)
		add[i]->mapped = 1;
	return 0;
abort:
	vdpamap_txn_abort(t);
	return r;
}

/* The device sees slot s at its GPA, byte for byte (the library's mirror
 * says so; with the simulator, its own table too). */
static int check_mapped(struct vmm *m, const struct memslot *s, int want)
{
	void *hva = NULL;
	uint64_t len = 0;
	int r;

	r = vdpamap_translate(m->h, 0, s->gpa, &hva, &len);
	if (!want)
		return r == -ENOENT ? 0 : -EEXIST;
	if (r < 0)
		return r;
	if (hva != s->hva || len != s->size)
		return -EFAULT;
	return 0;
}

/* ---- the traffic thread */

static void *traffic_main(void *arg)
{
	static const uint32_t lens[] = { 60, 128, 590, 1024, 1514 };
	struct traffic *tr = arg;
	unsigned int i = 0;
	int r;

	while (!atomic_load(&tr->stop)) {
		r = vnet_loop(tr->v, ++tr->seq, lens[i++ % 5], LOOP_TIMEOUT_MS);
		if (r < 0) {
			tr->err = r;
			break;
		}
		atomic_fetch_add(&tr->frames, 1);
	}
	return NULL;
}

static int traffic_start(struct traffic *tr, struct vnet *v)
{
	int r;

	tr->v = v;
	tr->err = 0;
	atomic_store(&tr->stop, 0);
	atomic_store(&tr->frames, 0);
	r = pthread_create(&tr->th, NULL, traffic_main, tr);
	if (r)
		return -r;
	tr->running = 1;
	return 0;
}

static int traffic_stop(struct traffic *tr)
{
	if (!tr->running)
		return 0;
	atomic_store(&tr->stop, 1);
	pthread_join(tr->th, NULL);
	tr->running = 0;
	return tr->err;
}

/* After a hot-plug commit: at least n more frames made it through, with
 * none lost, while the new layout was live. */
static int traffic_flows(struct vmm *m, unsigned long n)
{
	unsigned long f0 = atomic_load(&m->tr.frames);
	uint64_t deadline = ex_now_ns() + 10ULL * 1000000000ULL;

	while (atomic_load(&m->tr.frames) < f0 + n) {
		if (m->tr.err)
			return m->tr.err;
		if (!m->tr.running || ex_now_ns() > deadline)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

static int loop_some(struct vnet *v, uint32_t *seq, int n)
{
	int i, r;

	for (i = 0; i < n; i++) {
		r = vnet_loop(v, ++*seq, 60 + 400 * (uint32_t)i,
			      LOOP_TIMEOUT_MS);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- the steps */

static int boot(struct vmm *m)
{
	uint64_t t0 = ex_now_ns();
	struct vdpamap_stats st;
	struct vdpamap_region rg;
	int r;

	/* DRAM: a memfd, so that a VA-mode device (VDUSE, vdpa_sim use_va)
	 * can map it (it ignores anonymous private memory) and a successor
	 * process can inherit it */
	m->h = NULL;
	r = slot_create(m, &m->ram, "vmm-ram", 0, m->ram_size);
	if (r < 0)
		return fail(m, "boot RAM", r);
	rg = (struct vdpamap_region){
		.hva = m->ram.hva,
		.len = m->ram.size,
		.fd = m->ram.fd,
		.perm = VDPAMAP_PERM_RW,
		.iova = m->ram.gpa,
	};
	{
		VDPAMAP_OPTS(vdpamap_open_opts, oo, .regions = &rg,
			     .nr_regions = 1, .prefault_threads = 2,
			     .log_fn = ex_log, .log_ctx = (void *)prog,
			     .log_level = ex_log_level());

		r = vdpamap_open(m->dev.path, &oo, &m->h);
	}
	if (r < 0)
		return fail(m, "open + pre-map", r);
	m->ram.mapped = 1;
	vdpamap_get_info(m->h, &m->info);
	vdpamap_get_stats(m->h, &st);
	ex_step("1 boot: open + pre-map RAM", ex_now_ns() - t0,
		"%" PRIu64 " MiB at GPA 0: %" PRIu64 " IOTLB writes, %s mode, "
		"backend 0x%" PRIx64,
		m->ram_size / MiB, st.iotlb_writes,
		m->info.mem_mode == VDPAMAP_MEMMODE_PA ? "PA" : "VA",
		m->info.backend_acked);
	r = vdpamap_vq_group(m->h, 0, &m->data_group);
	if (r < 0)
		return fail(m, "vq group of rx", r);
	return 0;
}

static int guest_up(struct vmm *m, const struct memslot *s, const char *step)
{
	uint64_t t0 = ex_now_ns();
	uint64_t off = s->size - DRIVER_AREA;
	uint32_t seq = 1000;
	int r;

	r = vnet_start(&m->guest, m->h, s->hva + off, s->gpa + off,
		       DRIVER_AREA);
	if (r < 0)
		return fail(m, "guest virtio-net driver start", r);
	r = loop_some(&m->guest, &seq, 3);
	if (r < 0)
		return fail(m, "loopback through guest rings", r);
	ex_step(step, ex_now_ns() - t0,
		"rings at GPA 0x%" PRIx64 " (%s), 3 frames looped",
		s->gpa + off, s->name);
	return 0;
}

static int hot_add_one(struct vmm *m)
{
	struct memslot *d0 = &m->slots[0];
	uint64_t t0 = ex_now_ns(), t1;
	int r;

	r = slot_create(m, d0, "vmm-dimm0", DIMM_GPA, m->dimm_size);
	if (r < 0)
		return fail(m, "dimm0", r);
	r = listener_commit(m, &d0, 1, NULL, 0);
	t1 = ex_now_ns();
	if (r < 0)
		return fail(m, "hot-add dimm0", r);
	r = check_mapped(m, d0, 1);
	if (r == 0)
		r = traffic_flows(m, 3);
	if (r < 0)
		return fail(m, "traffic after hot-add dimm0", r);
	ex_step("4 hot-add dimm0", t1 - t0,
		"%" PRIu64 " MiB at GPA 0x%" PRIx64 "; traffic flowing (%lu "
		"frames so far)",
		d0->size / MiB, d0->gpa, atomic_load(&m->tr.frames));
	return 0;
}

static int hot_add_two(struct vmm *m)
{
	struct memslot *add[2] = { &m->slots[1], &m->slots[2] };
	struct vdpamap_stats a, b;
	uint64_t t0 = ex_now_ns(), t1;
	int r;

	r = slot_create(m, add[0], "vmm-dimm1", DIMM_GPA + 1 * GiB,
			m->dimm_size);
	if (r == 0)
		r = slot_create(m, add[1], "vmm-dimm2", DIMM_GPA + 2 * GiB,
				m->dimm_size);
	if (r < 0)
		return fail(m, "dimm1/dimm2", r);
	vdpamap_get_stats(m->h, &a);
	r = listener_commit(m, add, 2, NULL, 0);
	t1 = ex_now_ns();
	vdpamap_get_stats(m->h, &b);
	if (r < 0)
		return fail(m, "hot-add dimm1 + dimm2", r);
	r = check_mapped(m, add[0], 1);
	if (r == 0)
		r = check_mapped(m, add[1], 1);
	if (r == 0)
		r = traffic_flows(m, 3);
	if (r < 0)
		return fail(m, "traffic after hot-add dimm1 + dimm2", r);
	ex_step("5 hot-add dimm1 + dimm2, one txn", t1 - t0,
		"%" PRIu64 " IOTLB writes, %" PRIu64
		" batch%s; traffic flowing",
		b.iotlb_writes - a.iotlb_writes,
		b.iotlb_batches - a.iotlb_batches,
		b.iotlb_batches - a.iotlb_batches == 1 ? "" : "es");
	return 0;
}

static int hot_remove(struct vmm *m)
{
	struct memslot *d0 = &m->slots[0];
	uint64_t t0 = ex_now_ns(), t1;
	int r;

	r = listener_commit(m, NULL, 0, &d0, 1);
	t1 = ex_now_ns();
	if (r < 0)
		return fail(m, "hot-remove dimm0", r);
	r = check_mapped(m, d0, 0);
	if (r == 0)
		r = traffic_flows(m, 3);
	if (r < 0)
		return fail(m, "traffic after hot-remove dimm0", r);
	slot_destroy(m, d0); /* region_del, munmap, close */
	ex_step("6 hot-remove dimm0", t1 - t0,
		"unmapped, region deleted, memfd closed; traffic flowing");
	return 0;
}

static int replace(struct vmm *m)
{
	struct memslot *old = &m->slots[1], *nw = &m->slots[3];
	uint64_t t0, t1;
	int r;

	r = slot_create(m, nw, "vmm-dimm3", old->gpa, 2 * m->dimm_size);
	if (r < 0)
		return fail(m, "dimm3", r);
	t0 = ex_now_ns();
	r = listener_commit(m, &nw, 1, &old, 1);
	t1 = ex_now_ns();
	if (r < 0)
		return fail(m, "replace dimm1 by dimm3", r);
	r = check_mapped(m, nw, 1);
	if (r == 0)
		r = traffic_flows(m, 3);
	if (r < 0)
		return fail(m, "traffic after replace", r);
	slot_destroy(m, old);
	ex_step("7 replace dimm1 by dimm3, one txn", t1 - t0,
		"unmap %" PRIu64 " MiB + map %" PRIu64 " MiB at GPA 0x%" PRIx64
		" as one transaction",
		m->dimm_size / MiB, nw->size / MiB, nw->gpa);
	return 0;
}

/* The simulator can fail the nth IOTLB write: the second map of a
 * two-map hot-add fails, the first is rolled back, nothing changed. */
static int hot_add_fails(struct vmm *m)
{
	struct memslot *add[2] = { &m->slots[4], &m->slots[5] };
	uint64_t n0 = vdpamap_entry_count(m->h, 0), t0, t1;
	int r, want_writes;

	if (!m->info.is_sim) {
		ex_step("8 failing hot-add rolls back", 0,
			"skipped: fault injection needs the simulator");
		return 0;
	}
	r = slot_create(m, add[0], "vmm-dimm4", DIMM_GPA + 4 * GiB,
			m->dimm_size);
	if (r == 0)
		r = slot_create(m, add[1], "vmm-dimm5", DIMM_GPA + 5 * GiB,
				m->dimm_size);
	if (r < 0)
		return fail(m, "dimm4/dimm5", r);
	/* with BATCH: BEGIN, UPDATE, UPDATE, END: fail the second UPDATE */
	want_writes = vdpamap_has_feature(m->h, VDPAMAP_F_IOTLB_BATCH) ? 3 : 2;
	r = vdpamap_sim_fail_nth(m->dev.path, VDPAMAP_SIM_FAIL_MSG,
				 (uint32_t)want_writes);
	if (r < 0)
		return fail(m, "arm fault injection", r);
	t0 = ex_now_ns();
	r = listener_commit(m, add, 2, NULL, 0);
	t1 = ex_now_ns();
	vdpamap_sim_fail_nth(m->dev.path, VDPAMAP_SIM_FAIL_MSG, 0);
	if (r != -EIO) {
		fprintf(stderr,
			"%s: failing hot-add returned %d (%s), want "
			"-EIO\n",
			prog, r, strerror(-r));
		m->failed = 1;
		return r < 0 ? r : -EPROTO;
	}
	if (vdpamap_entry_count(m->h, 0) != n0 || add[0]->mapped ||
	    check_mapped(m, add[0], 0) || check_mapped(m, add[1], 0))
		return fail(m, "mirror changed by a failed transaction",
			    -EPROTO);
	r = traffic_flows(m, 3);
	if (r < 0)
		return fail(m, "traffic after the failed hot-add", r);
	if (vdpamap_poison_reason(m->h))
		return fail(m, vdpamap_poison_reason(m->h), -ENOTRECOVERABLE);
	slot_destroy(m, add[0]);
	slot_destroy(m, add[1]);
	ex_step("8 failing hot-add rolls back", t1 - t0,
		"IOTLB write %d failed -> -EIO, dimm4 rolled back, %" PRIu64
		" entries as before; traffic flowing",
		want_writes, n0);
	return 0;
}

static int reset_device(struct vmm *m)
{
	struct vdpamap_reset_info ri;
	uint64_t t0;
	int r;

	vnet_stop(&m->guest);
	t0 = ex_now_ns();
	r = vdpamap_reset(m->h, &ri);
	if (r < 0)
		return fail(m, "device reset", r);
	ex_step("9 device reset", ex_now_ns() - t0,
		"path %s: %" PRIu64 " IOTLB msgs, %" PRIu64 " entries kept "
		"valid, %u group bindings re-applied",
		ri.path == VDPAMAP_RESET_PERSIST ? "PERSIST" : "RESYNC",
		ri.iotlb_msgs, ri.entries, ri.groups_rebound);
	/* the guest driver comes back with its rings in hot-added memory:
	 * the device reaches dimm2 through a map made before the reset */
	return guest_up(m, &m->slots[2], "9 guest restarts in dimm2");
}

/* ---- SVQ flip: the VMM interposes a shadow virtqueue (for migration, or
 * to filter the control vq): the device's data group moves to ASID 1,
 * which holds only the shadow rings and their bounce buffers, in the VMM's
 * own memory at IOVAs the library allocates (free in ASID 1 and in ASID 0,
 * so shadow and guest addresses never alias).  Guest RAM stays mapped in
 * ASID 0: vdpamap_flip() sends not one message for it.
 *
 * The shadow virtqueue here is the same little driver, started on the
 * shadow rings.  The device is reset first (the guest driver stopped), so
 * the flip needs no SUSPEND and the rings are set up after it; a VMM
 * flipping a running device passes opts.vrings and lets the flip suspend,
 * re-point and resume. */
struct shadow {
	struct memslot mem;
	struct vdpamap_shadow area;
	int id; /* of the flip */
	struct vnet svq;
};

static int svq_flip(struct vmm *m, struct shadow *sh)
{
	struct vdpamap_flip_info fi;
	uint64_t t0, n0;
	uint32_t seq = 5000, a;
	int r;

	if (m->info.nr_as < 2 ||
	    !vdpamap_has_feature(m->h, VDPAMAP_F_IOTLB_ASID)) {
		ex_step("10 SVQ flip", 0, "skipped: %s",
			m->info.nr_as < 2 ? "one address space" :
					    "IOTLB_ASID not negotiated");
		return 1;
	}
	r = slot_create(m, &sh->mem, "vmm-svq", 0, DRIVER_AREA);
	if (r < 0)
		return fail(m, "shadow vq memory", r);
	n0 = vdpamap_entry_count(m->h, 0);
	t0 = ex_now_ns();
	vnet_stop(&m->guest);
	r = vdpamap_reset(m->h, NULL);
	if (r < 0)
		return fail(m, "reset before the flip", r);
	sh->area = (struct vdpamap_shadow){ .hva = sh->mem.hva,
					    .size = sh->mem.size,
					    .perm = VDPAMAP_PERM_RW };
	{
		VDPAMAP_OPTS(vdpamap_flip_opts, fo, .groups = &m->data_group,
			     .nr_groups = 1, .shadows = &sh->area,
			     .nr_shadows = 1);

		r = vdpamap_flip(m->h, 1, &fo, &fi);
	}
	if (r < 0)
		return fail(m, "vdpamap_flip (data group -> ASID 1)", r);
	sh->id = r;
	r = vnet_start(&sh->svq, m->h, sh->mem.hva, sh->area.iova,
		       sh->mem.size);
	if (r < 0)
		return fail(m, "shadow virtqueue start", r);
	r = loop_some(&sh->svq, &seq, 3);
	if (r < 0)
		return fail(m, "loopback through the shadow rings", r);
	r = vdpamap_get_group_asid(m->h, m->data_group, &a);
	if (r < 0 || a != 1 || vdpamap_entry_count(m->h, 0) != n0)
		return fail(m, "state after flip", r < 0 ? r : -EPROTO);
	ex_step("10 SVQ flip: data group -> ASID 1", ex_now_ns() - t0,
		"vdpamap_flip: %" PRIu64 " IOTLB msgs, %u group; shadow rings "
		"at IOVA 0x%" PRIx64 " of ASID 1, 3 frames looped through them;"
		" ASID 0 untouched (%" PRIu64 " entries)",
		fi.iotlb_msgs, fi.nr_groups, sh->area.iova, n0);
	return 0;
}

static int svq_unflip(struct vmm *m, struct shadow *sh)
{
	struct vdpamap_flip_info fi;
	uint64_t t0 = ex_now_ns();
	int r;

	vnet_stop(&sh->svq);
	r = vdpamap_reset(m->h, NULL);
	if (r == 0)
		r = vdpamap_unflip(m->h, (uint32_t)sh->id, NULL, &fi);
	if (r < 0)
		return fail(m, "vdpamap_unflip", r);
	sh->id = 0;
	slot_destroy(m, &sh->mem);
	/* vdpamap_reset() returns 0 or -errno: vdpamap_unflip() filled fi:
	 * NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage) */
	ex_step("11 SVQ flip back: ASID 0", ex_now_ns() - t0,
		"vdpamap_unflip: %" PRIu64 " IOTLB msgs; ASID 1 empty (%" PRIu64
		" entries)",
		fi.iotlb_msgs, vdpamap_entry_count(m->h, 1));
	return guest_up(m, &m->slots[2], "11 guest rings again");
}

/* ---- live update by exec: the VMM upgrades itself in place.  The device
 * is suspended (DRIVER_OK kept) and its state written to a sealed memfd by
 * vdpamap_handoff_prepare() (strategy AUTO: NEW_OWNER where built and
 * offered, else the mm keeper on x86-64/aarch64, else REBUILD); the VMM's
 * own state (the guest's layout: which memfd is RAM or which DIMM at which
 * GPA, its region id, where the guest's rings are, their eventfds) crosses
 * the exec in a second memfd, passed with extra_fds and named by the
 * hidden --handoff-successor FD.  The exec'd image adopts the device
 * (every map and binding intact), finds the new HVAs of the guest's
 * memfds, re-attaches the guest driver's view of its running rings without
 * a reset and loops frames through them. */

#define WIRE_MAGIC 0x31574d4d56ULL /* "VMMW1" */

struct wire_slot {
	char name[16];
	uint64_t gpa, size;
	uint32_t region_id;
	int32_t used, registered, mapped;
};

struct wire {
	uint64_t magic;
	uint64_t len; /* sizeof(struct wire) */
	char dev[256];
	int32_t spawned, pa, pid, verbose;
	uint64_t ram_size, dimm_size, t0;
	uint32_t data_group, strategy;
	int32_t kick[2], call[2];      /* the guest driver's eventfds */
	uint64_t ring_iova, ring_size; /* the guest driver's area */
	struct wire_slot ram;
	struct wire_slot slots[MAX_SLOTS];
};

/* the successor's slot names point into it */
static struct wire succ_wire;

static const char *strategy_name(uint32_t s)
{
	return s == VDPAMAP_HANDOFF_NEW_OWNER ? "NEW_OWNER" :
	       s == VDPAMAP_HANDOFF_KEEPER    ? "KEEPER" :
	       s == VDPAMAP_HANDOFF_REBUILD   ? "REBUILD" :
						"?";
}

static int wire_slot_fill(struct vmm *m, const struct memslot *s,
			  struct wire_slot *ws, int is_ram)
{
	uint32_t ids[MAX_SLOTS + 2];
	struct vdpamap_region rg;
	int i, n;

	if (!s->size)
		return 0;
	ws->used = 1;
	snprintf(ws->name, sizeof(ws->name), "%s", s->name);
	ws->gpa = s->gpa;
	ws->size = s->size;
	ws->registered = s->registered;
	ws->mapped = s->mapped;
	ws->region_id = s->region_id;
	if (!is_ram)
		return s->registered ? 0 : -EINVAL;
	/* boot RAM was registered by vdpamap_open(): find its id */
	n = vdpamap_region_ids(m->h, ids, MAX_SLOTS + 2);
	for (i = 0; i < n && i < MAX_SLOTS + 2; i++)
		if (vdpamap_region_get(m->h, ids[i], &rg) == 0 &&
		    rg.hva == s->hva) {
			ws->region_id = ids[i];
			return 0;
		}
	return -ENOENT;
}

static int wire_fill(struct vmm *m, struct wire *w)
{
	int i, r;

	memset(w, 0, sizeof(*w));
	w->magic = WIRE_MAGIC;
	w->len = sizeof(*w);
	snprintf(w->dev, sizeof(w->dev), "%s", m->dev.path);
	w->spawned = m->dev.spawned;
	w->pa = m->dev.pa;
	w->pid = (int32_t)m->dev.pid;
	w->verbose = ex_verbose;
	w->ram_size = m->ram_size;
	w->dimm_size = m->dimm_size;
	w->data_group = m->data_group;
	for (i = 0; i < 2; i++) {
		w->kick[i] = m->guest.kick[i];
		w->call[i] = m->guest.call[i];
	}
	w->ring_iova = m->guest.iova;
	w->ring_size = m->guest.size;
	r = wire_slot_fill(m, &m->ram, &w->ram, 1);
	for (i = 0; r == 0 && i < MAX_SLOTS; i++)
		r = wire_slot_fill(m, &m->slots[i], &w->slots[i], 0);
	return r;
}

static int live_update(struct vmm *m, uint64_t t_start)
{
	VDPAMAP_OPTS(vdpamap_handoff_opts, ho,
		     .strategy = VDPAMAP_HANDOFF_AUTO);
	struct vdpamap_handoff_info hi;
	char num[16], *argv[4];
	int wfd, sfd = -1, r;

	if (getenv("VDPAMAP_MEMCHECK")) {
		/* meson test --setup valgrind: /proc/self/exe is valgrind's
		 * launcher, and it refuses the keeper's clone(CLONE_VM) */
		ex_step("12 live update by exec", 0,
			"skipped: not under "
			"memcheck (VDPAMAP_MEMCHECK): valgrind can neither "
			"re-exec this program nor run the mm keeper");
		return 0;
	}
	if (!m->guest.started)
		return fail(m, "live update: the guest driver is not up",
			    -EINVAL);
	r = wire_fill(m, &succ_wire);
	if (r < 0)
		return fail(m, "live update: the guest's layout", r);
	succ_wire.t0 = t_start;
	wfd = memfd_create("vmm-handoff", MFD_CLOEXEC);
	if (wfd < 0)
		return fail(m, "live update: memfd", -errno);
	if (pwrite(wfd, &succ_wire, sizeof(succ_wire), 0) !=
	    (ssize_t)sizeof(succ_wire)) {
		r = -errno;
		close(wfd);
		return fail(m, "live update: saving the VMM's state",
			    r ? r : -EIO);
	}
	ho.extra_fds = &wfd;
	ho.nr_extra_fds = 1;
	r = vdpamap_handoff_prepare(m->h, &ho, &sfd); /* suspends */
	if (r < 0) {
		close(wfd);
		return fail(m, "vdpamap_handoff_prepare (auto)", r);
	}
	if (vdpamap_handoff_get_info(m->h, &hi) == 0 && ex_verbose)
		printf("vmm: handoff prepared, strategy %s (%.3f ms), exec\n",
		       strategy_name(hi.strategy), ex_ms(hi.prepare_ns));
	snprintf(num, sizeof(num), "%d", sfd);
	setenv(VDPAMAP_HANDOFF_ENV, num, 1);
	snprintf(num, sizeof(num), "%d", wfd);
	argv[0] = (char *)prog;
	argv[1] = "--handoff-successor";
	argv[2] = num;
	argv[3] = NULL;
	fflush(NULL);
	execv("/proc/self/exe", argv);
	r = -errno;
	unsetenv(VDPAMAP_HANDOFF_ENV);
	vdpamap_handoff_cancel(m->h); /* resume: the VMM carries on */
	close(wfd);
	return fail(m, "execv /proc/self/exe (handoff cancelled)", r);
}

/* The exec'd image: take the VMM's state back from the memfd wfd. */
static int wire_take(struct vmm *m, int wfd)
{
	struct wire *w = &succ_wire;
	int i;

	if (pread(wfd, w, sizeof(*w), 0) != (ssize_t)sizeof(*w) ||
	    w->magic != WIRE_MAGIC || w->len != sizeof(*w) || !w->ram.used ||
	    !w->dev[0] || w->dev[sizeof(w->dev) - 1])
		return -EBADMSG;
	close(wfd);
	memset(&m->dev, 0, sizeof(m->dev));
	_Static_assert(sizeof(w->dev) == sizeof(m->dev.path), "dev path");
	memcpy(m->dev.path, w->dev, sizeof(m->dev.path)); /* NUL-ended */
	m->dev.spawned = w->spawned;
	m->dev.pa = w->pa;
	m->dev.pid = (pid_t)w->pid;
	ex_verbose = w->verbose;
	m->ram_size = w->ram_size;
	m->dimm_size = w->dimm_size;
	m->data_group = w->data_group;
	for (i = -1; i < MAX_SLOTS; i++) {
		struct wire_slot *ws = i < 0 ? &w->ram : &w->slots[i];
		struct memslot *s = i < 0 ? &m->ram : &m->slots[i];

		if (!ws->used)
			continue;
		ws->name[sizeof(ws->name) - 1] = '\0';
		s->name = ws->name;
		s->gpa = ws->gpa;
		s->size = ws->size;
		s->region_id = ws->region_id;
		s->registered = ws->registered;
		s->mapped = ws->mapped;
		/* hva and fd: from the adopted handle */
	}
	return 0;
}

/* Adopt, find the guest's memory at its new HVAs, re-attach the guest
 * driver's view of its running rings, loop frames.  The row's time is the
 * downtime: SUSPEND in the old image to the last good frame in this one. */
static int live_update_adopted(struct vmm *m, int wfd)
{
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .prefault_threads = 2,
		     .log_fn = ex_log, .log_ctx = (void *)prog,
		     .log_level = ex_log_level());
	const struct wire *w = &succ_wire;
	struct vdpamap_handoff_info hi;
	struct vdpamap_region rg;
	struct vdpamap_stats st;
	struct memslot *ring = NULL;
	uint64_t entries;
	uint32_t seq = 7000;
	int i, n, nslots = 0, r;

	r = wire_take(m, wfd);
	if (r < 0)
		return fail(m, "--handoff-successor: no VMM state there", r);
	r = vdpamap_handoff_adopt(-1, &oo, &m->h);
	if (r < 0)
		return fail(m, "vdpamap_handoff_adopt in the new image", r);
	unsetenv(VDPAMAP_HANDOFF_ENV);
	vdpamap_get_info(m->h, &m->info);
	r = vdpamap_handoff_get_info(m->h, &hi);
	if (r < 0)
		return fail(m, "vdpamap_handoff_get_info", r);
	/* the guest's memory: same memfds, same ids, new HVAs */
	for (i = -1; i < MAX_SLOTS; i++) {
		struct memslot *s = i < 0 ? &m->ram : &m->slots[i];

		if (!s->size)
			continue;
		nslots++;
		r = vdpamap_region_get(m->h, s->region_id, &rg);
		if (r == 0 && rg.len != s->size)
			r = -EINVAL;
		if (r < 0) {
			fprintf(stderr, "%s: %s (region %u) after adopt\n",
				prog, s->name, s->region_id);
			return fail(m, "vdpamap_region_get", r);
		}
		s->hva = rg.hva;
		s->fd = rg.fd;
		r = check_mapped(m, s, s->mapped);
		if (r < 0) {
			fprintf(stderr, "%s: %s at GPA 0x%" PRIx64 "\n", prog,
				s->name, s->gpa);
			return fail(m, "mirror after adopt", r);
		}
		if (w->ring_iova >= s->gpa &&
		    w->ring_iova + w->ring_size <= s->gpa + s->size)
			ring = s;
	}
	n = vdpamap_region_ids(m->h, NULL, 0);
	if (n != nslots)
		return fail(m, "regions after adopt", -EPROTO);
	if (!ring)
		return fail(m, "the guest's rings are in no slot", -ENOENT);
	r = vnet_attach(&m->guest, m->h, ring->hva + (w->ring_iova - ring->gpa),
			w->ring_iova, w->ring_size, w->kick, w->call);
	if (r < 0)
		return fail(m, "vnet_attach (guest rings, no reset)", r);
	r = loop_some(&m->guest, &seq, 3);
	if (r < 0)
		return fail(m, "loopback after the live update", r);
	vdpamap_get_stats(m->h, &st);
	entries = vdpamap_entry_count(m->h, 0) + vdpamap_entry_count(m->h, 1);
	/* KEEPER: the successor writes nothing; NEW_OWNER: REMAPs only */
	if ((hi.strategy == VDPAMAP_HANDOFF_KEEPER &&
	     (hi.adopt_iotlb_writes || st.iotlb_writes)) ||
	    (hi.strategy == VDPAMAP_HANDOFF_NEW_OWNER &&
	     (st.iotlb_updates || st.iotlb_invalidates || !st.iotlb_remaps))) {
		fprintf(stderr,
			"%s: %s adopt sent %" PRIu64 " IOTLB writes "
			"(%" PRIu64 " UPDATE, %" PRIu64 " INVALIDATE, %" PRIu64
			" REMAP)\n",
			prog, strategy_name(hi.strategy), hi.adopt_iotlb_writes,
			st.iotlb_updates, st.iotlb_invalidates,
			st.iotlb_remaps);
		return fail(m, "IOTLB writes in the successor", -EPROTO);
	}
	if (vdpamap_poison_reason(m->h))
		return fail(m, vdpamap_poison_reason(m->h), -ENOTRECOVERABLE);
	ex_step("12 live update by exec", ex_now_ns() - hi.suspend_ns,
		"strategy %s, downtime from %s to the 3rd frame (prepare "
		"%.3f ms, adopt %.3f ms); %" PRIu64 " IOTLB write%s in adopt "
		"(%" PRIu64 " REMAP), %" PRIu64 " entries kept; %d memfds at "
		"new HVAs; guest rings in %s re-attached without reset, 3 "
		"frames looped%s",
		strategy_name(hi.strategy),
		vdpamap_has_feature(m->h, VDPAMAP_F_SUSPEND) ?
			"SUSPEND" :
			"prepare (no SUSPEND: handed over running)",
		ex_ms(hi.prepare_ns), ex_ms(hi.adopt_ns), hi.adopt_iotlb_writes,
		hi.adopt_iotlb_writes == 1 ? "" : "s", st.iotlb_remaps, entries,
		nslots, ring->name,
		hi.keeper_alive ? "; an mm keeper holds the old address space" :
				  "");
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vmm [DEV] [--sim va|pa|permap] [--sim-shape NAME] "
		"[--ram MiB] [--dimm MiB] [-v]\n"
		"  DEV   /dev/vhost-vdpa-N or a simulator socket (default: "
		"$VDPAMAP_TEST_DEV,\n"
		"        else a simulator spawned for the run, flavour --sim, "
		"default va)\n"
		"Exit: 0 ok, 1 a step failed, 2 usage, 77 no device.\n");
}

static int parse_mib(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end || !x || x > 65536)
		return -1;
	*v = x * MiB;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "sim", required_argument, NULL, 's' },
		{ "sim-shape", required_argument, NULL, 'H' },
		{ "ram", required_argument, NULL, 'r' },
		{ "dimm", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		/* hidden: this image is step 12's new one */
		{ "handoff-successor", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *flavour = "va", *devarg = NULL;
	struct shadow sh;
	struct vmm *m;
	uint64_t t0;
	uint32_t dummy;
	int o, r, i, rc, sizes_given = 0, succ_fd = -1;

	m = calloc(1, sizeof(*m));
	if (!m)
		return EX_FAIL;
	m->ram_size = 64 * MiB;
	m->dimm_size = 16 * MiB;
	/* a usage error or no device returns from main() before anything
	 * runs: the exit frees m.  NOLINTBEGIN(clang-analyzer-unix.Malloc) */
	while ((o = getopt_long(argc, argv, "s:r:d:vh", lopts, NULL)) != -1) {
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
		case 'r':
			sizes_given = 1;
			if (parse_mib(optarg, &m->ram_size) < 0 ||
			    m->ram_size < 2 * DRIVER_AREA) {
				usage(stderr);
				return EX_USAGE;
			}
			break;
		case 'd':
			sizes_given = 1;
			if (parse_mib(optarg, &m->dimm_size) < 0) {
				usage(stderr);
				return EX_USAGE;
			}
			break;
		case 'v':
			ex_verbose++;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'S':
			succ_fd = atoi(optarg);
			break;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc)
		devarg = argv[optind++];
	if (optind < argc) {
		usage(stderr);
		return EX_USAGE;
	}
	m->ram.fd = -1;
	for (i = 0; i < MAX_SLOTS; i++)
		m->slots[i].fd = -1;
	memset(&sh, 0, sizeof(sh));
	sh.mem.fd = -1;
	if (succ_fd >= 0) {
		/* exec'd by step 12 of the VMM that ran steps 1 to 11 */
		t0 = ex_now_ns();
		live_update_adopted(m, succ_fd); /* a failure sets m->failed */
		if (succ_wire.t0)
			t0 = succ_wire.t0;
		goto finish;
	}

	/* before any thread: spawning a simulator forks */
	r = ex_dev_get(&m->dev, devarg, flavour);
	if (r < 0) {
		fprintf(stderr, "%s: no device: %s\n", prog, strerror(-r));
		return EX_SKIP;
	}
	/* NOLINTEND(clang-analyzer-unix.Malloc) */
	if (m->dev.pa) {
		/* RAM, up to four DIMMs (one of them double) and the shadow
		 * area are pinned at once: PA mode charges RLIMIT_MEMLOCK,
		 * which root cannot raise past the hard limit (8 MiB in a
		 * default container): shrink the guest to fit rather than
		 * fail */
		uint64_t need = m->ram_size + 5 * m->dimm_size + 2 * MiB;

		if (ex_memlock_at_least(need) < 0 && !sizes_given) {
			m->ram_size = 2 * MiB;
			m->dimm_size = 1 * MiB;
			printf("vmm: RLIMIT_MEMLOCK cannot reach %" PRIu64
			       " MiB (PA mode pins): guest shrunk to fit\n",
			       need / MiB);
		}
	}
	printf("vmm: %s (%s), %" PRIu64 " MiB RAM, %" PRIu64 " MiB DIMMs\n",
	       m->dev.path,
	       m->dev.spawned ? "simulator spawned for the run" : "device",
	       m->ram_size / MiB, m->dimm_size / MiB);
	t0 = ex_now_ns();

	r = boot(m);
	if (r == 0)
		r = guest_up(m, &m->ram, "2 guest driver up");
	if (r == 0) {
		r = traffic_start(&m->tr, &m->guest);
		if (r < 0)
			fail(m, "traffic thread", r);
		else
			ex_step("3 traffic thread started", 0,
				"frames loop TX->RX during steps 4-8");
	}
	if (r == 0)
		r = hot_add_one(m);
	if (r == 0)
		r = hot_add_two(m);
	if (r == 0)
		r = hot_remove(m);
	if (r == 0)
		r = replace(m);
	if (r == 0)
		r = hot_add_fails(m);
	if (m->tr.running) {
		unsigned long frames = atomic_load(&m->tr.frames);
		int e = traffic_stop(&m->tr);

		if (e < 0 && r == 0)
			r = fail(m, "traffic during hot-plug", e);
		else if (r == 0)
			ex_step("  traffic thread stopped", 0,
				"%lu frames looped intact during hot-plug",
				frames);
	}
	if (r == 0)
		r = reset_device(m);
	if (r == 0) {
		r = svq_flip(m, &sh);
		if (r == 0)
			r = svq_unflip(m, &sh);
		else if (r == 1)
			r = 0;
	}
	if (r == 0)
		live_update(m, t0); /* returns only if not exec'd */

finish:
	traffic_stop(&m->tr);
	vnet_stop(&m->guest);
	vnet_stop(&sh.svq);
	if (m->h && m->info.is_sim && !m->failed) {
		struct vdpamap_sim_stats st;

		if (vdpamap_sim_get_stats(m->dev.path, &st) == 0 &&
		    st.dma_errors) {
			fprintf(stderr,
				"%s: the simulator saw %" PRIu64
				" DMA accesses that did not translate\n",
				prog, st.dma_errors);
			m->failed = 1;
		}
	}
	m->h = vdpamap_close(m->h);
	if (!m->failed)
		ex_step("13 close", 0, "every map dropped by the device");
	slot_destroy(m, &sh.mem);
	for (i = 0; i < MAX_SLOTS; i++)
		if (m->slots[i].size)
			slot_destroy(m, &m->slots[i]);
	slot_destroy(m, &m->ram);
	ex_dev_put(&m->dev);
	printf("vmm: %s (%.3f ms)\n", m->failed ? "FAILED" : "ok",
	       ex_ms(ex_now_ns() - t0));
	rc = m->failed ? EX_FAIL : EX_OK;
	free(m);
	return rc;
}
