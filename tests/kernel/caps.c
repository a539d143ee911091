// SPDX-License-Identifier: BSD-3-Clause
/*
 * The IOTLB entry caps on a real kernel (issue 23), run in the guest by
 * tests/kernel/caps.sh through tests/harness/vdpamap-vm, once per vdpa_sim
 * configuration.  Every check is deterministic: VA mode (one entry per
 * shared file VMA), hugetlb memory, or 4 KiB maps of one page each (one
 * physically contiguous run each); nothing depends on how fragmented a
 * boot happens to be.
 *
 *   caps [--unpriv]
 *
 * --unpriv: make the device node world-accessible, drop to nobody
 * (65534) before opening, and keep /proc/self readable (PR_SET_DUMPABLE):
 * a VMM without CAP_SYS_ADMIN, whose /proc/self/pagemap shows no PFNs.
 *
 * What it checks (the caps read from /sys/module/.../max_iotlb_entries):
 *  - vdpamap_info shows both caps, vdpa_sim as the parent, set_map iff
 *    batch_mapping=1;
 *  - VA: one UPDATE over cap+1 VMAs is refused with -ENOSPC before
 *    anything is sent (stats), one over cap VMAs is accepted;
 *  - PA/permap with huge pages (hugetlb memfd): cap single-page maps fit,
 *    one more is refused with -ENOSPC before sending, root or not;
 *  - PA with 4 KiB memory: cap single-page maps fit, one more is refused
 *    before sending (as root counted from pagemap; unprivileged each
 *    counts as the one entry it makes at least);
 *  - the silent case (vhost_vdpa's cap above vdpa_sim's, set_map): the
 *    smaller cap is the one counted against; unprivileged, open warns,
 *    as root it does not (it can count);
 *  - PA with 4 KiB memory: a 64 MiB map either succeeds or fails with
 *    -ENOSPC, never -EIO (its count is reported).
 * Exit 0 all passed, 1 a failure, 77 no device.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logbuf.h"
#include "tap.h"
#include "vdpamap.h"

#define PAGE  4096ULL
#define HPAGE (2ULL << 20)

/* on the console too: the guest's output is all the host keeps */
static void log_fn(int level, const char *msg, void *ctx)
{
	printf("  lib[%d]: %s\n", level, msg);
	test_log_fn(level, msg, ctx);
}

static long param(const char *mod, const char *name)
{
	char p[128];
	long v = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/sys/module/%s/parameters/%s", mod, name);
	f = fopen(p, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1) {
		char c = 0;

		rewind(f);
		v = fscanf(f, " %c", &c) == 1 && (c == 'Y' || c == '1');
	}
	fclose(f);
	return v;
}

static const char *dev_path(void)
{
	const char *p = getenv("VDPAMAP_TEST_DEV");

	return p ? p : "/dev/vhost-vdpa-0";
}

static struct vdpamap *open_dev(void)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = log_fn,
		     .log_level = VDPAMAP_LOG_INFO);
	struct vdpamap *h = NULL;
	int r;

	test_logbuf[0] = 0;
	r = vdpamap_open(dev_path(), &o, &h);
	if (r < 0) {
		printf("not ok - open %s: %d\n", dev_path(), r);
		exit(r == -ENOENT ? 77 : 1);
	}
	return h;
}

static uint64_t updates(struct vdpamap *h)
{
	struct vdpamap_stats st;

	vdpamap_get_stats(h, &st);
	return st.iotlb_updates;
}

/* n single-page maps of mem (page i at IOVA base + i * 4 KiB) in one
 * transaction. */
static int map_pages(struct vdpamap *h, char *mem, uint64_t n, uint64_t base)
{
	struct vdpamap_txn *t;
	uint64_t i;
	int r;

	r = vdpamap_txn_begin(h, &t);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		r = vdpamap_txn_map(t, 0, base + i * PAGE, mem + i * PAGE, PAGE,
				    VDPAMAP_PERM_RW, NULL);
		if (r < 0) {
			vdpamap_txn_abort(t);
			return r;
		}
	}
	return vdpamap_txn_commit(t);
}

static uint32_t last_region;

static int add_region(struct vdpamap *h, void *hva, uint64_t len, int fd)
{
	struct vdpamap_region rg = { .hva = hva, .len = len, .fd = fd };

	return vdpamap_region_add(h, &rg, &last_region);
}

/* VA: n + 1 VMAs of one page each that cannot merge (every other page
 * MADV_DONTDUMP: neighbours differ in flags, while the file offsets stay
 * those of one mapping at offset 0, as region_add checks), as one
 * region. */
static void check_va(struct vdpamap *h, uint64_t cap)
{
	uint64_t n = cap + 1, i, before;
	int fd = memfd_create("caps-va", MFD_CLOEXEC), r;
	char *base;

	if (fd < 0 || ftruncate(fd, (off_t)(n * PAGE)) < 0) {
		CHECK(0, "va: memfd of %llu pages", (unsigned long long)n);
		return;
	}
	base = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(base != MAP_FAILED, "va: mmap");
	for (i = 1; i < n; i += 2)
		if (madvise(base + i * PAGE, PAGE, MADV_DONTDUMP) < 0)
			break;
	CHECK(i >= n, "va: %llu unmergeable VMAs", (unsigned long long)n);
	r = add_region(h, base, n * PAGE, fd);
	CHECK(r == 0, "va: region: %d", r);
	before = updates(h);
	r = vdpamap_map(h, 0, 0x100000, base, n * PAGE, VDPAMAP_PERM_RW);
	CHECK(r == -ENOSPC,
	      "va: one UPDATE over %llu VMAs (cap %llu): %d "
	      "(want -ENOSPC)",
	      (unsigned long long)n, (unsigned long long)cap, r);
	CHECK(updates(h) == before, "va: nothing sent (%llu UPDATEs)",
	      (unsigned long long)(updates(h) - before));
	CHECK(strstr(test_logbuf, "raise max_iotlb_entries") != NULL,
	      "va: the log names the remedies");
	r = vdpamap_map(h, 0, 0x100000, base, (n - 1) * PAGE, VDPAMAP_PERM_RW);
	CHECK(r == 0, "va: one UPDATE over %llu VMAs: %d",
	      (unsigned long long)(n - 1), r);
	if (r == 0)
		vdpamap_unmap(h, 0, 0x100000, (n - 1) * PAGE);
}

/* n single-page maps fit, n + 1 do not (memory of one page per run). */
static void check_pages(struct vdpamap *h, const char *what, char *mem,
			uint64_t len, int fd, uint64_t fit)
{
	uint64_t before;
	int r;

	r = add_region(h, mem, len, fd);
	CHECK(r == 0, "%s: region: %d", what, r);
	before = updates(h);
	r = map_pages(h, mem, fit + 1, 0x100000);
	CHECK(r == -ENOSPC, "%s: %llu single-page maps: %d (want -ENOSPC)",
	      what, (unsigned long long)(fit + 1), r);
	CHECK(updates(h) == before,
	      "%s: refused before sending (%llu "
	      "UPDATEs)",
	      what, (unsigned long long)(updates(h) - before));
	if (!fit)
		return;
	r = map_pages(h, mem, fit, 0x100000);
	CHECK(r == 0, "%s: %llu single-page maps: %d", what,
	      (unsigned long long)fit, r);
	CHECK(vdpamap_entry_count(h, 0) == (r ? 0 : fit),
	      "%s: mirror holds %llu", what,
	      (unsigned long long)vdpamap_entry_count(h, 0));
	if (r == 0)
		vdpamap_unmap(h, 0, 0x100000, fit * PAGE);
	vdpamap_region_del(h, last_region);
}

static void check_huge(struct vdpamap *h, uint64_t cap)
{
	uint64_t need = cap + 1, len = (need * PAGE + HPAGE - 1) & ~(HPAGE - 1);
	int fd = memfd_create("caps-huge", MFD_CLOEXEC | MFD_HUGETLB);
	char *mem;

	if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
		printf("# no huge pages (memfd MFD_HUGETLB: %d): skipped\n",
		       errno);
		return;
	}
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		   fd, 0);
	if (mem == MAP_FAILED) {
		printf("# huge pages: mmap %llu MiB: %d: skipped\n",
		       (unsigned long long)(len >> 20), errno);
		return;
	}
	check_pages(h, "pa hugetlb", mem, len, fd, cap);
	munmap(mem, len);
	close(fd);
}

/* 4 KiB memory, PA: a 64 MiB map fits or is refused with -ENOSPC. */
static void check_4k_big(struct vdpamap *h)
{
	uint64_t len = 64ULL << 20, before;
	int fd = memfd_create("caps-4k", MFD_CLOEXEC), r;
	char *mem;

	if (fd < 0 || ftruncate(fd, (off_t)len) < 0)
		return;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	r = add_region(h, mem, len, fd);
	before = updates(h);
	r = r ? r : vdpamap_map(h, 0, 0x40000000, mem, len, VDPAMAP_PERM_RW);
	CHECK(r == 0 || r == -ENOSPC,
	      "pa 4k: 64 MiB in one map: %d "
	      "(0 or -ENOSPC, never -EIO); %s, %llu UPDATE(s) sent",
	      r,
	      r == -ENOSPC && updates(h) == before ? "refused before sending" :
						     "sent",
	      (unsigned long long)(updates(h) - before));
	if (r == 0)
		vdpamap_unmap(h, 0, 0x40000000, len);
}

static void drop_privileges(void)
{
	if (chmod(dev_path(), 0666) < 0 || setgid(65534) < 0 ||
	    setuid(65534) < 0) {
		printf("not ok - drop to nobody: %d\n", errno);
		exit(1);
	}
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

int main(int argc, char **argv)
{
	bool unpriv = argc > 1 && !strcmp(argv[1], "--unpriv");
	long vcap = param("vhost_vdpa", "max_iotlb_entries");
	long pcap = param("vdpa_sim", "max_iotlb_entries");
	long batch = param("vdpa_sim", "batch_mapping");
	struct vdpamap_info in;
	struct vdpamap *h;
	uint64_t cap;
	bool silent;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access(dev_path(), F_OK) < 0) {
		printf("# %s: none: skipped\n", dev_path());
		return 77;
	}
	if (vcap < 0) {
		printf("# vhost_vdpa has no max_iotlb_entries (no caps on this "
		       "kernel): skipped\n");
		return 77;
	}
	if (unpriv)
		drop_privileges();
	printf("# uid %d, vhost_vdpa cap %ld, vdpa_sim cap %ld, "
	       "batch_mapping %ld, config %s\n",
	       (int)getuid(), vcap, pcap, batch,
	       getenv("VDPAMAP_VM_CONFIG") ?: "?");
	h = open_dev();
	vdpamap_get_info(h, &in);
	CHECK((in.caps_flags & VDPAMAP_CAPS_ENFORCED) &&
		      in.max_iotlb_entries == (uint32_t)vcap,
	      "info: vhost_vdpa cap %u (flags 0x%x)", in.max_iotlb_entries,
	      in.caps_flags);
	CHECK(!strcmp(in.parent, "vdpa_sim") &&
		      (in.caps_flags & VDPAMAP_CAPS_PARENT_KNOWN) &&
		      in.parent_max_iotlb_entries == (uint32_t)pcap,
	      "info: parent '%s' cap %u", in.parent,
	      in.parent_max_iotlb_entries);
	CHECK(!!(in.caps_flags & VDPAMAP_CAPS_SET_MAP) == (batch != 0),
	      "info: set_map %d (batch_mapping %ld)",
	      !!(in.caps_flags & VDPAMAP_CAPS_SET_MAP), batch);
	cap = (uint64_t)(vcap < pcap ? vcap : pcap);
	silent = pcap < vcap && batch && in.mem_mode == VDPAMAP_MEMMODE_PA;
	if (silent)
		CHECK(unpriv == (strstr(test_logbuf,
					"accepted and then lost") != NULL),
		      "silent case: open %s",
		      unpriv ? "warned" : "did not warn (root)");
	if (in.mem_mode == VDPAMAP_MEMMODE_VA) {
		check_va(h, cap);
	} else {
		check_huge(h, cap);
		{
			/* 4 KiB single pages: one run each (counted from
			 * pagemap as root, a lower bound of 1 each without) */
			uint64_t len = (cap + 1) * PAGE;
			int fd = memfd_create("caps-pages", MFD_CLOEXEC);
			char *mem;

			if (fd >= 0 && ftruncate(fd, (off_t)len) == 0 &&
			    (mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_SHARED, fd, 0)) != MAP_FAILED)
				check_pages(h,
					    silent ? "silent case 4k" : "pa 4k",
					    mem, len, fd, cap);
		}
		vdpamap_close(h);
		h = open_dev();
		check_4k_big(h);
	}
	vdpamap_close(h);
	printf("# %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
