// SPDX-License-Identifier: BSD-3-Clause
/*
 * demo_steps: the demo's steps 1 to 8 and 10 in lifecycle order (demo.h):
 * guest memory, open, net up, loopback, reset with and without
 * IOTLB_PERSIST, the data group to ASID 1 and back, close.  Each returns
 * step_end()'s result: < 0 stops the demo.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "demo.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

/* Free huge pages the host reserved (HugePages_Free) and their size. */
static uint64_t huge_free(uint64_t *ret_size)
{
	unsigned long long v, free_pages = 0, kb = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "HugePages_Free: %llu", &v) == 1)
			free_pages = v;
		else if (sscanf(line, "Hugepagesize: %llu kB", &v) == 1)
			kb = v;
	}
	fclose(f);
	*ret_size = kb * 1024;
	return kb ? free_pages : 0;
}

/* Guest memory on huge pages where the host has enough of them reserved
 * (in PA mode the kernel then makes at most one IOTLB entry per huge
 * page), else on 4 KiB pages; -1 if not. */
static int huge_memfd(struct demo *d, uint64_t *ret_hps, uint64_t *ret_free)
{
	uint64_t hps = 0, n = huge_free(&hps);
	int fd;

	*ret_hps = hps;
	*ret_free = n;
	if (!hps || d->size % hps || n < d->size / hps)
		return -1;
	fd = memfd_create("vdpamap-demo-guest", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd >= 0 && ftruncate(fd, (off_t)d->size) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int step_memory(struct demo *d)
{
	struct step *s = step_new(d, 1, "guest memory");
	uint64_t t0 = now_ns(), hps, hfree;
	void *p;
	int r;

	d->memfd = huge_memfd(d, &hps, &hfree);
	if (d->memfd >= 0) {
		d->huge_page = hps;
		goto mapit;
	}
	d->huge_page = 0;
	d->memfd = memfd_create("vdpamap-demo-guest", MFD_CLOEXEC);
	if (d->memfd < 0) {
		r = -errno;
		goto out;
	}
	if (ftruncate(d->memfd, (off_t)d->size) < 0) {
		r = -errno;
		goto out;
	}
mapit:
	p = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, d->memfd,
		 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	d->mem = p;
	r = 0;
	step_detail(s, "%" PRIu64 " MiB memfd, MAP_SHARED", d->size >> 20);
	if (d->huge_page)
		step_detail(s,
			    ", %" PRIu64 " KiB huge pages (%" PRIu64 " free)",
			    d->huge_page >> 10, hfree);
	else
		step_detail(s, ", 4 KiB pages (%s)",
			    hps && hfree ? "too few huge pages free" :
					   "no huge pages reserved");
	step_kv(s, "bytes", d->size);
	step_kv(s, "huge_page", d->huge_page);
out:
	s->ns = now_ns() - t0;
	return step_end(d, s, r);
}

int step_open(struct demo *d)
{
	struct step *s = step_new(d, 2, "open + pre-map");
	uint64_t t0 = now_ns();
	int r;

	r = demo_open(d, d->dev, 0, s);
	s->ns = now_ns() - t0;
	if (r == 0)
		step_detail(s, "; pre-faulted by 2 threads");
	if (r == -ENOSPC)
		step_detail(s,
			    "the pre-map does not fit the device's IOTLB "
			    "entry cap (the library's message names it): "
			    "raise max_iotlb_entries of vhost_vdpa and of "
			    "the parent's module at module load%s",
			    d->huge_page ?
				    "" :
				    ", or reserve huge pages (hugepages= on the "
				    "kernel command line): the demo uses them");
	return step_end(d, s, r);
}

int step_net_up(struct demo *d)
{
	struct step *s = step_new(d, 3, "virtio-net up");
	uint64_t t0 = now_ns();
	int r;

	r = demo_net_up(d);
	s->ns = now_ns() - t0;
	if (r == 0) {
		step_detail(s,
			    "rx/tx rings and buffers at IOVA 0x%" PRIx64
			    " (last %" PRIu64 " KiB of guest memory), queue "
			    "size %u",
			    d->v.iova, d->v.size >> 10, d->v.qsize);
		step_kv(s, "ring_iova", d->v.iova);
		step_kv(s, "queue_size", d->v.qsize);
	}
	return step_end(d, s, r);
}

int step_loop(struct demo *d)
{
	struct step *s = step_new(d, 4, "loopback");
	uint64_t t0 = now_ns();
	int r;

	r = demo_loop_frames(d, s);
	s->ns = now_ns() - t0;
	return step_end(d, s, r);
}

int step_reset_persist(struct demo *d)
{
	int r;

	r = demo_reset_step(d, 5, "reset (persist)",
			    vdpamap_has_feature(d->h, VDPAMAP_F_IOTLB_PERSIST) ?
				    NULL :
				    "IOTLB_PERSIST not negotiated");
	if (r < 0)
		return r;
	return demo_restart_loop(d, 5, "restart + loopback");
}

/* Step 6's first row: close, then open a device without IOTLB_PERSIST,
 * a second simulator that does not offer it (an older kernel) or the same
 * device without negotiating it.  Fills s, returns what the open did. */
static int reopen_no_persist(struct demo *d, struct step *s)
{
	const uint64_t old_kernel = 0x17eULL & ~VDPAMAP_F_IOTLB_PERSIST;
	uint64_t t0, t1, t2, t3;
	int r;

	t0 = now_ns();
	demo_close_handle(d);
	t1 = now_ns();
	if (!d->spawned || d->no_persist_sim) {
		r = demo_open(d, d->dev,
			      VDPAMAP_F_KNOWN & ~VDPAMAP_F_IOTLB_PERSIST, s);
		t3 = now_ns();
		s->ns = t3 - t0;
		if (r < 0)
			return r;
		step_detail(s,
			    " | reopened without negotiating "
			    "IOTLB_PERSIST: close dropped every map "
			    "(%.3f ms), open rebuilt them (%.3f ms)",
			    ms(t1 - t0), ms(t3 - t1));
		return 0;
	}
	r = demo_spawn_sim(d, old_kernel);
	t2 = now_ns();
	if (r < 0) {
		s->ns = t2 - t0;
		step_detail(s, "spawning a second simulator");
		return r;
	}
	d->dev = d->sim[d->nsims - 1];
	snprintf(d->dev1, sizeof(d->dev1), "%s", d->dev);
	r = demo_open(d, d->dev, 0, s);
	t3 = now_ns();
	s->ns = t3 - t0;
	if (r < 0)
		return r;
	step_detail(s,
		    " | second simulator offering 0x%llx (no "
		    "IOTLB_PERSIST, an older kernel): close %.3f "
		    "ms, spawn %.3f ms, open + pre-map %.3f ms",
		    (unsigned long long)old_kernel, ms(t1 - t0), ms(t2 - t1),
		    ms(t3 - t2));
	/* the first one is no longer needed */
	if (vdpamap_sim_stop(d->sim[0]) == 0)
		d->sim[0][0] = '\0';
	return 0;
}

int step_reset_resync(struct demo *d)
{
	struct step *s;
	int r;

	if (!vdpamap_has_feature(d->h, VDPAMAP_F_IOTLB_PERSIST)) {
		step_skip(d, 6, "reopen without persist",
			  "IOTLB_PERSIST not negotiated: step 5 already took "
			  "the RESYNC path");
	} else {
		s = step_new(d, 6, "reopen without persist");
		r = reopen_no_persist(d, s);
		if (r < 0)
			return step_end(d, s, r);
		if (vdpamap_has_feature(d->h, VDPAMAP_F_IOTLB_PERSIST)) {
			step_detail(s, "; IOTLB_PERSIST still negotiated");
			return step_end(d, s, -EPROTO);
		}
		step_end(d, s, 0);
		r = demo_restart_loop(d, 6, "net up + loopback");
		if (r < 0)
			return r;
	}
	r = demo_reset_step(d, 6, "reset (no persist)", NULL);
	if (r < 0)
		return r;
	return demo_restart_loop(d, 6, "restart + loopback");
}

int step_asid(struct demo *d)
{
	struct vdpamap_stats a, b;
	struct vdpamap_info in;
	struct step *s;
	uint64_t t0;
	int r;

	vdpamap_get_info(d->h, &in);
	if (in.nr_as < 2 || !vdpamap_has_feature(d->h, VDPAMAP_F_IOTLB_ASID) ||
	    !d->nr_data_groups) {
		const char *why =
			in.nr_as < 2 ? "device has a single address space" :
			!d->nr_data_groups ? "vq groups unknown" :
					     "IOTLB_ASID not negotiated";

		step_skip(d, 7, "data group -> ASID 1", why);
		step_skip(d, 8, "data group -> ASID 0", why);
		return 0;
	}

	s = step_new(d, 7, "map guest memory in ASID 1");
	vdpamap_get_stats(d->h, &a);
	t0 = now_ns();
	r = vdpamap_map(d->h, 1, d->iova, d->mem, d->size, VDPAMAP_PERM_RW);
	s->ns = now_ns() - t0;
	vdpamap_get_stats(d->h, &b);
	if (r == 0) {
		step_detail(s,
			    "same %" PRIu64 " MiB at IOVA 0x%" PRIx64
			    " in ASID 1: %" PRIu64 " IOTLB write%s, ASID 0 "
			    "untouched (%" PRIu64 " entr%s)",
			    d->size >> 20, d->iova,
			    b.iotlb_writes - a.iotlb_writes,
			    pl(b.iotlb_writes - a.iotlb_writes),
			    vdpamap_entry_count(d->h, 0),
			    vdpamap_entry_count(d->h, 0) == 1 ? "y" : "ies");
		step_kv(s, "iotlb_writes", b.iotlb_writes - a.iotlb_writes);
	}
	if (step_end(d, s, r) < 0)
		return r;

	r = demo_move_groups(d, 7, "data group -> ASID 1", 1);
	if (r < 0)
		return r;
	r = demo_restart_loop(d, 7, "restart + loop via ASID 1");
	if (r < 0)
		return r;

	r = demo_move_groups(d, 8, "data group -> ASID 0", 0);
	if (r < 0)
		return r;
	r = demo_restart_loop(d, 8, "restart + loop via ASID 0");
	if (r < 0)
		return r;

	s = step_new(d, 8, "unmap ASID 1");
	t0 = now_ns();
	r = vdpamap_unmap(d->h, 1, d->iova, d->size);
	s->ns = now_ns() - t0;
	if (r == 0)
		step_detail(s,
			    "ASID 1 empty again (%" PRIu64 " entries), "
			    "ASID 0 still %" PRIu64,
			    vdpamap_entry_count(d->h, 1),
			    vdpamap_entry_count(d->h, 0));
	return step_end(d, s, r);
}

int step_close(struct demo *d)
{
	struct step *s = step_new(d, 10, "close");
	uint64_t t0 = now_ns(), t1;
	int i, r = 0;

	demo_close_handle(d);
	t1 = now_ns();
	s->ns = t1 - t0;
	step_detail(s, "device closed: every map dropped");
	for (i = 0; i < d->nsims; i++) {
		if (!d->sim[i][0])
			continue;
		r = vdpamap_sim_stop(d->sim[i]);
		if (r < 0) {
			step_detail(s, "; stopping simulator %s", d->sim[i]);
			break;
		}
		d->sim[i][0] = '\0';
		step_detail(s, "; simulator stopped (%.3f ms)",
			    ms(now_ns() - t1));
	}
	return step_end(d, s, r);
}
