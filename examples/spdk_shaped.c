// SPDX-License-Identifier: BSD-3-Clause
/*
 * spdk_shaped: libvdpamap inside SPDK's memory-map model, without SPDK.
 *
 * SPDK tells every interested module about the memory it may DMA through a
 * "memory map" (include/spdk/env.h): a module allocates one with
 * spdk_mem_map_alloc(default_translation, ops, cb_ctx), and its
 * ops->notify_cb is called with SPDK_MEM_MAP_NOTIFY_REGISTER for every
 * region already registered (at once) and every region registered later
 * (spdk_mem_register(), which SPDK's env also calls for DPDK hugepages as
 * they come and go), and with SPDK_MEM_MAP_NOTIFY_UNREGISTER when a region
 * goes (spdk_mem_unregister(), spdk_mem_map_free()).  The module stores a
 * translation per 2 MiB page (spdk_mem_map_set_translation()) that its I/O
 * path reads back (spdk_mem_map_translate()).  A notify_cb failing a
 * REGISTER fails the registration.
 *
 * The part to copy is vdpa_mem_notify() below: REGISTER = region_add + map
 * + set_translation; UNREGISTER = clear_translation + unmap + region_del.
 * Everything named mem_* is a small stand-in for SPDK's env (lib/env_dpdk/
 * memory.c) with the same contract, so this compiles and runs without
 * SPDK; README "Examples" maps each call to the SPDK function it stands
 * for.  The "I/O path" is examples/vnet.c: a virtio-net driver whose
 * rings and buffers sit in registered memory at the IOVAs the map holds,
 * so every step is checked with frames looped through the device.
 *
 * Usage: spdk_shaped [DEV] [--sim va|pa|permap] [--sim-shape NAME] [-v]
 *   (NAME: the device shape the spawned simulator plays, excommon.h)
 * Exit: 0 ok, 1 failed, 2 usage, 77 no device.
 */
/* memfd_create(), MFD_*: meson builds with -D_GNU_SOURCE, a plain cc does not */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "excommon.h"
#include "vdpamap.h"
#include "vnet.h"

#define VALUE_2MB ((uint64_t)2 << 20) /* SPDK's registration unit */
#define MASK_2MB  (VALUE_2MB - 1)
#define MAX_REGS  16
#define MAX_MAPS  4
#define MAX_TRANS 64

/* ================================================================
 * A stand-in for SPDK's env memory registry (include/spdk/env.h).
 * ================================================================ */

enum mem_map_notify_action { /* enum spdk_mem_map_notify_action */
			     MEM_MAP_NOTIFY_REGISTER, /* SPDK_MEM_MAP_NOTIFY_REGISTER */
			     MEM_MAP_NOTIFY_UNREGISTER, /* SPDK_MEM_MAP_NOTIFY_UNREGISTER */
};

struct mem_map;
typedef int (*mem_map_notify_cb)(void *cb_ctx, struct mem_map *map,
				 enum mem_map_notify_action action, void *vaddr,
				 size_t size);
typedef int (*mem_map_contiguous_translations)(uint64_t a1, uint64_t a2);

struct mem_map_ops { /* struct spdk_mem_map_ops */
	mem_map_notify_cb notify_cb;
	mem_map_contiguous_translations are_contiguous;
};

struct mem_trans {
	uint64_t vaddr, size, translation;
};

struct mem_map { /* struct spdk_mem_map */
	uint64_t default_translation;
	struct mem_map_ops ops;
	void *cb_ctx;
	struct mem_trans t[MAX_TRANS];
	int nt;
};

/* A registration, with the file behind it: SPDK's env gets that from
 * DPDK (rte_mem_virt2memseg() + rte_memseg_get_fd_thread_unsafe() +
 * rte_memseg_get_fd_offset_thread_unsafe()); here the allocator tells. */
struct mem_reg {
	uint64_t vaddr, size;
	int fd;
	uint64_t fd_offset;
};

static struct mem_reg g_regs[MAX_REGS];
static int g_nregs;
static struct mem_map *g_maps[MAX_MAPS];
static int g_nmaps;

/* spdk_mem_map_set_translation() */
static int mem_map_set_translation(struct mem_map *map, uint64_t vaddr,
				   uint64_t size, uint64_t translation)
{
	if ((vaddr | size) & MASK_2MB || !size || map->nt >= MAX_TRANS)
		return -EINVAL;
	map->t[map->nt++] = (struct mem_trans){ vaddr, size, translation };
	return 0;
}

/* spdk_mem_map_clear_translation() */
static int mem_map_clear_translation(struct mem_map *map, uint64_t vaddr,
				     uint64_t size)
{
	int i;

	for (i = 0; i < map->nt; i++) {
		if (map->t[i].vaddr == vaddr && map->t[i].size == size) {
			map->t[i] = map->t[--map->nt];
			return 0;
		}
	}
	return -EINVAL;
}

/* spdk_mem_map_translate(): the translation of vaddr, *size (in: bytes
 * wanted, out: bytes contiguous from vaddr); default_translation when
 * vaddr has none. */
static uint64_t mem_map_translate(const struct mem_map *map, uint64_t vaddr,
				  uint64_t *size)
{
	int i;

	for (i = 0; i < map->nt; i++) {
		const struct mem_trans *t = &map->t[i];

		if (vaddr >= t->vaddr && vaddr - t->vaddr < t->size) {
			if (size && *size > t->size - (vaddr - t->vaddr))
				*size = t->size - (vaddr - t->vaddr);
			return t->translation + (vaddr - t->vaddr);
		}
	}
	if (size)
		*size = 0;
	return map->default_translation;
}

static int notify_all_but(struct mem_map *skip, enum mem_map_notify_action a,
			  const struct mem_reg *rg, int *done)
{
	int i, r;

	for (i = 0, *done = 0; i < g_nmaps; i++, (*done)++) {
		if (g_maps[i] == skip || !g_maps[i]->ops.notify_cb)
			continue;
		r = g_maps[i]->ops.notify_cb(g_maps[i]->cb_ctx, g_maps[i], a,
					     (void *)(uintptr_t)rg->vaddr,
					     rg->size);
		if (r < 0)
			return r;
	}
	return 0;
}

/* spdk_mem_register(): 2 MiB aligned; every map is told, and a map that
 * refuses makes the whole registration fail (the maps told before it get
 * an UNREGISTER). */
static int mem_register(void *vaddr, size_t len, int fd, uint64_t fd_offset)
{
	struct mem_reg rg = { (uintptr_t)vaddr, len, fd, fd_offset };
	int i, r, done;

	if ((rg.vaddr | rg.size) & MASK_2MB || !len)
		return -EINVAL;
	if (g_nregs >= MAX_REGS)
		return -ENOMEM;
	for (i = 0; i < g_nregs; i++)
		if (rg.vaddr < g_regs[i].vaddr + g_regs[i].size &&
		    g_regs[i].vaddr < rg.vaddr + rg.size)
			return -EBUSY;
	g_regs[g_nregs++] = rg;
	r = notify_all_but(NULL, MEM_MAP_NOTIFY_REGISTER, &rg, &done);
	if (r < 0) {
		for (i = 0; i < done; i++)
			g_maps[i]->ops.notify_cb(g_maps[i]->cb_ctx, g_maps[i],
						 MEM_MAP_NOTIFY_UNREGISTER,
						 vaddr, len);
		g_nregs--;
	}
	return r;
}

/* spdk_mem_unregister(): a whole registration. */
static int mem_unregister(void *vaddr, size_t len)
{
	int i, done;

	for (i = 0; i < g_nregs; i++) {
		if (g_regs[i].vaddr != (uintptr_t)vaddr ||
		    g_regs[i].size != len)
			continue;
		/* SPDK goes on with the other maps if one fails */
		notify_all_but(NULL, MEM_MAP_NOTIFY_UNREGISTER, &g_regs[i],
			       &done);
		g_regs[i] = g_regs[--g_nregs];
		return 0;
	}
	return -EINVAL;
}

static const struct mem_reg *mem_find(const void *vaddr)
{
	int i;

	for (i = 0; i < g_nregs; i++)
		if ((uintptr_t)vaddr >= g_regs[i].vaddr &&
		    (uintptr_t)vaddr - g_regs[i].vaddr < g_regs[i].size)
			return &g_regs[i];
	return NULL;
}

/* spdk_mem_map_alloc(): every region registered so far is replayed as a
 * REGISTER before it returns; NULL if one was refused (after UNREGISTER of
 * those that were not). */
static struct mem_map *mem_map_alloc(uint64_t default_translation,
				     const struct mem_map_ops *ops,
				     void *cb_ctx)
{
	struct mem_map *map;
	int i, j;

	if (g_nmaps >= MAX_MAPS)
		return NULL;
	map = calloc(1, sizeof(*map));
	if (!map)
		return NULL;
	map->default_translation = default_translation;
	map->ops = *ops;
	map->cb_ctx = cb_ctx;
	for (i = 0; i < g_nregs; i++) {
		if (ops->notify_cb(cb_ctx, map, MEM_MAP_NOTIFY_REGISTER,
				   (void *)(uintptr_t)g_regs[i].vaddr,
				   g_regs[i].size) < 0) {
			for (j = 0; j < i; j++)
				ops->notify_cb(cb_ctx, map,
					       MEM_MAP_NOTIFY_UNREGISTER,
					       (void *)(uintptr_t)g_regs[j]
						       .vaddr,
					       g_regs[j].size);
			free(map);
			return NULL;
		}
	}
	g_maps[g_nmaps++] = map;
	return map;
}

/* spdk_mem_map_free(): UNREGISTER of everything still registered. */
static void mem_map_free(struct mem_map **pmap)
{
	struct mem_map *map = *pmap;
	int i;

	if (!map)
		return;
	for (i = 0; i < g_nregs; i++)
		map->ops.notify_cb(map->cb_ctx, map, MEM_MAP_NOTIFY_UNREGISTER,
				   (void *)(uintptr_t)g_regs[i].vaddr,
				   g_regs[i].size);
	for (i = 0; i < g_nmaps; i++)
		if (g_maps[i] == map)
			g_maps[i] = g_maps[--g_nmaps];
	free(map);
	*pmap = NULL;
}

/* 2 MiB-aligned, memfd-backed buffers, as hugepage memory would be (a
 * VA-mode device maps only shared file-backed memory). */
struct buf {
	uint8_t *p;
	uint64_t size;
	int fd;
};

static int buf_alloc(struct buf *b, const char *name, uint64_t size)
{
	uint8_t *res, *p;
	int e;

	b->size = size;
	b->fd = memfd_create(name, MFD_CLOEXEC);
	if (b->fd < 0)
		return -errno;
	if (ftruncate(b->fd, (off_t)size) < 0)
		goto err;
	res = mmap(NULL, size + VALUE_2MB, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		goto err;
	p = (uint8_t *)(((uintptr_t)res + MASK_2MB) & ~(uintptr_t)MASK_2MB);
	if (p > res)
		munmap(res, (size_t)(p - res));
	munmap(p + size, (size_t)(res + size + VALUE_2MB - (p + size)));
	b->p = mmap(p, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		    b->fd, 0);
	if (b->p == MAP_FAILED) {
		b->p = NULL;
		goto err;
	}
	return 0;
err:
	e = -errno;
	close(b->fd);
	b->fd = -1;
	return e;
}

static void buf_free(struct buf *b)
{
	if (b->p)
		munmap(b->p, b->size);
	if (b->fd >= 0)
		close(b->fd);
	b->p = NULL;
	b->fd = -1;
}

/* ================================================================
 * The integration: a vDPA "bdev" module's memory map.
 * ================================================================ */

struct vdpa_mod {
	struct vdpamap *h;
	struct vdpamap_info info;
	uint32_t region_ids[MAX_REGS];
	uint64_t region_vaddr[MAX_REGS];
	int nregions;
	unsigned int registers, unregisters;
};

/* IOVA = VA, as SPDK's vtophys has it in IOVA-as-VA mode, when the device
 * can address it; else a free IOVA of the device's range. */
static int vdpa_map_one(struct vdpa_mod *mod, void *vaddr, size_t size,
			uint64_t *iova)
{
	uint64_t va = (uintptr_t)vaddr;

	if (va >= mod->info.iova_first &&
	    va + size - 1 <= mod->info.iova_last) {
		*iova = va;
		return vdpamap_map(mod->h, 0, va, vaddr, size, VDPAMAP_PERM_RW);
	}
	return vdpamap_map_alloc(mod->h, 0, vaddr, size, VDPAMAP_PERM_RW,
				 VALUE_2MB, iova);
}

/* spdk_mem_map_ops.notify_cb */
static int vdpa_mem_notify(void *cb_ctx, struct mem_map *map,
			   enum mem_map_notify_action action, void *vaddr,
			   size_t size)
{
	struct vdpa_mod *mod = cb_ctx;
	const struct mem_reg *mr;
	uint64_t iova, len;
	uint32_t id;
	int i, r;

	switch (action) {
	case MEM_MAP_NOTIFY_REGISTER: {
		struct vdpamap_region rg = { .hva = vaddr,
					     .len = size,
					     .fd = -1 };

		mr = mem_find(vaddr);
		if (mr && mr->fd >= 0) {
			rg.fd = mr->fd;
			rg.fd_offset =
				mr->fd_offset + ((uintptr_t)vaddr - mr->vaddr);
		}
		if (mod->nregions >= MAX_REGS)
			return -ENOMEM;
		r = vdpamap_region_add(mod->h, &rg, &id);
		if (r < 0)
			return r;
		r = vdpa_map_one(mod, vaddr, size, &iova);
		if (r == 0)
			r = mem_map_set_translation(map, (uintptr_t)vaddr, size,
						    iova);
		if (r < 0) {
			if (vdpamap_reverse(mod->h, 0, vaddr, &iova, NULL) == 0)
				vdpamap_unmap(mod->h, 0, iova, size);
			vdpamap_region_del(mod->h, id);
			return r;
		}
		mod->region_ids[mod->nregions] = id;
		mod->region_vaddr[mod->nregions++] = (uintptr_t)vaddr;
		mod->registers++;
		return 0;
	}
	case MEM_MAP_NOTIFY_UNREGISTER:
		len = size;
		iova = mem_map_translate(map, (uintptr_t)vaddr, &len);
		if (len < size)
			return -ENOENT; /* never registered with us */
		r = vdpamap_unmap(mod->h, 0, iova, size);
		if (r < 0)
			return r;
		mem_map_clear_translation(map, (uintptr_t)vaddr, size);
		for (i = 0; i < mod->nregions; i++) {
			if (mod->region_vaddr[i] != (uintptr_t)vaddr)
				continue;
			vdpamap_region_del(mod->h, mod->region_ids[i]);
			mod->nregions--;
			mod->region_ids[i] = mod->region_ids[mod->nregions];
			mod->region_vaddr[i] = mod->region_vaddr[mod->nregions];
			break;
		}
		mod->unregisters++;
		return 0;
	}
	return -EINVAL;
}

/* spdk_mem_map_ops.are_contiguous: IOVAs that follow each other */
static int vdpa_are_contiguous(uint64_t a1, uint64_t a2)
{
	return a2 == a1 + VALUE_2MB;
}

static const struct mem_map_ops vdpa_map_ops = {
	.notify_cb = vdpa_mem_notify,
	.are_contiguous = vdpa_are_contiguous,
};

/* ================================================================
 * The application.
 * ================================================================ */

static const char *prog = "spdk_shaped";
static int failed;

static int check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(-r));
		failed = 1;
	}
	return r;
}

/* The I/O path: rings and buffers in b, device addresses from the map. */
static int io_in(struct vdpa_mod *mod, struct mem_map *map, struct vnet *v,
		 struct buf *b, uint32_t *seq)
{
	uint64_t len = b->size, iova;
	int i, r;

	iova = mem_map_translate(map, (uintptr_t)b->p, &len);
	if (len < b->size)
		return -ENOENT;
	vnet_stop(v);
	r = vnet_start(v, mod->h, b->p, iova, b->size);
	for (i = 0; r == 0 && i < 3; i++)
		r = vnet_loop(v, ++*seq, 60 + 700 * (uint32_t)i, 5000);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "sim", required_argument, NULL, 's' },
		{ "sim-shape", required_argument, NULL, 'H' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct buf a = { .fd = -1 }, b = { .fd = -1 }, c = { .fd = -1 };
	const char *flavour = "va", *devarg = NULL;
	struct vdpa_mod mod = { 0 };
	struct mem_map *map = NULL;
	struct vnet v = { 0 };
	struct ex_dev dev;
	uint64_t t0, len, iova;
	uint32_t seq = 0, dummy;
	void *hva;
	int o, r;

	while ((o = getopt_long(argc, argv, "s:vh", lopts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (ex_flavour_flags(optarg, &dummy) < 0)
				goto usage;
			flavour = optarg;
			break;
		case 'H':
			if (ex_sim_shape(optarg) < 0)
				goto usage;
			break;
		case 'v':
			ex_verbose++;
			break;
		case 'h':
			printf("Usage: %s [DEV] [--sim va|pa|permap] "
			       "[--sim-shape NAME] [-v]\n",
			       prog);
			return EX_OK;
		default:
			goto usage;
		}
	}
	if (optind < argc)
		devarg = argv[optind++];
	if (optind < argc)
		goto usage;
	r = ex_dev_get(&dev, devarg, flavour);
	if (r < 0) {
		fprintf(stderr, "%s: no device: %s\n", prog, strerror(-r));
		return EX_SKIP;
	}
	if (dev.pa) /* at most 6 MiB pinned at once: fits 8 MiB */
		ex_memlock_at_least(8ULL << 20);
	printf("%s: %s (%s)\n", prog, dev.path,
	       dev.spawned ? "simulator spawned for the run" : "device");

	{
		VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = ex_log,
			     .log_ctx = (void *)prog,
			     .log_level = ex_log_level());

		r = vdpamap_open(dev.path, &oo, &mod.h);
	}
	if (check(r, "open") < 0)
		goto out;
	vdpamap_get_info(mod.h, &mod.info);

	/* 1. env init: memory registered before the module exists */
	t0 = ex_now_ns();
	r = buf_alloc(&a, "spdk-a", VALUE_2MB);
	if (r == 0)
		r = mem_register(a.p, a.size, a.fd, 0);
	if (check(r, "register A") < 0)
		goto out;
	ex_step("1 spdk_mem_register(A) at init", ex_now_ns() - t0,
		"2 MiB, no map allocated yet: nothing sent");

	/* 2. the module allocates its map: A is replayed as REGISTER */
	t0 = ex_now_ns();
	map = mem_map_alloc(0, &vdpa_map_ops, &mod);
	if (!map) {
		check(-EIO, "mem_map_alloc (replay of A refused)");
		goto out;
	}
	len = a.size;
	iova = mem_map_translate(map, (uintptr_t)a.p, &len);
	ex_step("2 spdk_mem_map_alloc()", ex_now_ns() - t0,
		"replayed REGISTER(A): IOVA 0x%" PRIx64 " (%s), %" PRIu64
		" entr%s in ASID 0",
		iova, iova == (uintptr_t)a.p ? "= VA" : "allocated",
		vdpamap_entry_count(mod.h, 0),
		vdpamap_entry_count(mod.h, 0) == 1 ? "y" : "ies");
	if (mod.registers != 1 || len != a.size) {
		check(-EPROTO, "replay did not map A");
		goto out;
	}

	/* 3. I/O through A */
	t0 = ex_now_ns();
	r = io_in(&mod, map, &v, &a, &seq);
	if (check(r, "I/O in A") < 0)
		goto out;
	ex_step("3 I/O in A", ex_now_ns() - t0,
		"rings + buffers at the map's IOVAs, 3 frames looped");

	/* 4. a registration at run time */
	t0 = ex_now_ns();
	r = buf_alloc(&b, "spdk-b", 2 * VALUE_2MB);
	if (r == 0)
		r = mem_register(b.p, b.size, b.fd, 0);
	if (check(r, "register B") < 0)
		goto out;
	ex_step("4 spdk_mem_register(B)", ex_now_ns() - t0,
		"REGISTER(B) -> region + map, %" PRIu64 " entries",
		vdpamap_entry_count(mod.h, 0));
	t0 = ex_now_ns();
	r = io_in(&mod, map, &v, &b, &seq);
	if (check(r, "I/O in B") < 0)
		goto out;
	ex_step("  I/O in B", ex_now_ns() - t0, "3 frames looped");

	/* 5. unregister A while B carries the I/O */
	t0 = ex_now_ns();
	r = mem_unregister(a.p, a.size);
	if (check(r, "unregister A") < 0)
		goto out;
	if (vdpamap_reverse(mod.h, 0, a.p, &iova, NULL) != -ENOENT ||
	    mem_map_translate(map, (uintptr_t)a.p, NULL) != 0) {
		check(-EPROTO, "A still mapped after UNREGISTER");
		goto out;
	}
	r = vnet_loop(&v, ++seq, 1514, 5000);
	if (check(r, "I/O in B after unregistering A") < 0)
		goto out;
	ex_step("5 spdk_mem_unregister(A)", ex_now_ns() - t0,
		"UNREGISTER(A) -> unmap + region_del; I/O in B unaffected");
	buf_free(&a);

	/* 6. a registration the device refuses fails as a whole */
	if (mod.info.is_sim) {
		uint64_t n0 = vdpamap_entry_count(mod.h, 0);

		t0 = ex_now_ns();
		r = buf_alloc(&c, "spdk-c", VALUE_2MB);
		if (check(r, "buffer C") < 0)
			goto out;
		check(vdpamap_sim_fail_nth(dev.path, VDPAMAP_SIM_FAIL_MSG, 1),
		      "fault injection");
		r = mem_register(c.p, c.size, c.fd, 0);
		vdpamap_sim_fail_nth(dev.path, VDPAMAP_SIM_FAIL_MSG, 0);
		if (r >= 0 || mem_find(c.p) ||
		    vdpamap_entry_count(mod.h, 0) != n0 || mod.nregions != 1) {
			check(-EPROTO, "a refused registration left a trace");
			goto out;
		}
		ex_step("6 refused spdk_mem_register(C)", ex_now_ns() - t0,
			"device refused the map -> %s; nothing registered, "
			"nothing mapped",
			strerror(-r));
		buf_free(&c);
	} else {
		ex_step("6 refused spdk_mem_register(C)", 0,
			"skipped: fault injection needs the simulator");
	}

	/* 7. the module goes: its map is freed, everything unregistered */
	vnet_stop(&v);
	r = vdpamap_reset(mod.h, NULL); /* stop DMA first, maps kept */
	if (check(r, "reset") < 0)
		goto out;
	t0 = ex_now_ns();
	mem_map_free(&map);
	ex_step("7 spdk_mem_map_free()", ex_now_ns() - t0,
		"UNREGISTER(B): %" PRIu64 " entries left, %u REGISTER / %u "
		"UNREGISTER seen",
		vdpamap_entry_count(mod.h, 0), mod.registers, mod.unregisters);
	if (vdpamap_entry_count(mod.h, 0) || mod.nregions ||
	    vdpamap_translate(mod.h, 0, (uintptr_t)b.p, &hva, NULL) != -ENOENT)
		check(-EPROTO, "maps left after spdk_mem_map_free()");
	mem_unregister(b.p, b.size);
out:
	vnet_stop(&v);
	mem_map_free(&map);
	if (mod.h && mod.info.is_sim && !failed) {
		struct vdpamap_sim_stats st;

		if (vdpamap_sim_get_stats(dev.path, &st) == 0 && st.dma_errors)
			check(-EFAULT, "simulator saw untranslated DMA");
	}
	vdpamap_close(mod.h);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	ex_dev_put(&dev);
	printf("%s: %s\n", prog, failed ? "FAILED" : "ok");
	return failed ? EX_FAIL : EX_OK;
usage:
	fprintf(stderr,
		"Usage: %s [DEV] [--sim va|pa|permap] "
		"[--sim-shape NAME] [-v]\n",
		prog);
	return EX_USAGE;
}
