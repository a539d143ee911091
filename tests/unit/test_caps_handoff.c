// SPDX-License-Identifier: BSD-3-Clause
/*
 * The IOTLB entry caps across a KEEPER handoff, on the simulator
 * (docs/iotlb-caps.md, docs/handoff.md): entries the predecessor left
 * uncounted far below the cap (described with nents 0) are counted by
 * the successor once a commit may reach the cap, so a map that would
 * pass it is refused with -ENOSPC before anything is sent, as it would
 * have been without the handoff (test_caps.c's uncounted case).
 *
 * The test forks and execs this program as "pred", which maps, prepares a
 * KEEPER handoff and execs it again as "succ"; the successor adopts and
 * checks.  Under memcheck (meson test --setup valgrind, which traces no
 * exec) the predecessor runs natively, as valgrind refuses the keeper's
 * clone(CLONE_VM), and the successor, where adopt runs, under valgrind
 * with memcheck.sh's options: its exit status says.
 * On the simulator a map counts one entry per VMA, in PA mode too, where
 * it stands for a run of physically contiguous pages.
 *
 * The device reads memory through the keeper's address space (the
 * predecessor's), not the successor's: the "whole" cases map the region
 * in the successor as one VMA while the old address space keeps the
 * predecessor's nine, and the counts must still be the kernel's (nine).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "logbuf.h"
#include "vdpamap.h"

#define PAGE  4096ULL
#define NPAGE 9 /* a cap of 8 and one page more */
#define IOVA  0x100000ULL

/* in the forked predecessor and the successor, outside cmocka */
#define CHECK(c, ...) CHECK_OR(_exit(1), c, __VA_ARGS__)

/* this program: /proc/self/exe is valgrind's launcher under memcheck,
 * while readlink() of it says the client's */
static char self[4096];

/* Every other page MADV_DONTDUMP: neighbours differ in flags and never
 * merge, so each page of mem is its own VMA (test_caps.c's fx_mem). */
static void split(char *mem)
{
	int i;

	for (i = 1; i < NPAGE; i += 2)
		CHECK(madvise(mem + i * PAGE, PAGE, MADV_DONTDUMP) == 0,
		      "madvise: %s", strerror(errno));
}

static uint64_t writes(struct vdpamap *h)
{
	struct vdpamap_stats st;

	CHECK(vdpamap_get_stats(h, &st) == 0, "stats");
	return st.iotlb_writes;
}

/* The successor: this program, under memcheck if the test is; mode
 * "split" or "whole", how it maps the region (successor()). */
static void exec_succ(const char *mode)
{
	const char *supp = getenv("VDPAMAP_VG_SUPP");
	char sarg[4200];

	if (!getenv("VDPAMAP_MEMCHECK")) {
		execl(self, "test_caps_handoff", "succ", mode, (char *)NULL);
		CHECK(0, "execl %s: %s", self, strerror(errno));
	}
	CHECK(supp, "VDPAMAP_VG_SUPP: not set");
	snprintf(sarg, sizeof(sarg), "--suppressions=%s", supp);
	execlp("valgrind", "valgrind", "-q", "--tool=memcheck",
	       "--leak-check=full", "--show-leak-kinds=definite,possible",
	       "--errors-for-leak-kinds=definite,possible",
	       "--error-exitcode=3", sarg, self, "succ", mode, (char *)NULL);
	CHECK(0, "execlp valgrind: %s", strerror(errno));
}

/* Four maps of two pages, two VMAs each, fill the cap of 8: each
 * commit's bound (a page an entry) cannot pass it, so none is counted.
 * Then a KEEPER handoff to this program as "succ". */
static void predecessor(const char *path, const char *mode)
{
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = test_log_fn,
		     .log_level = VDPAMAP_LOG_INFO);
	VDPAMAP_OPTS(vdpamap_handoff_opts, ho,
		     .strategy = VDPAMAP_HANDOFF_KEEPER,
		     .reattach_grace_ms = 1000);
	struct vdpamap_region rg;
	struct vdpamap *h;
	char *mem, fdstr[16];
	uint32_t id;
	int fd, sfd, r, i;

	CHECK(vdpamap_open(path, &oo, &h) == 0, "open %s", path);
	fd = memfd_create("caps", 0); /* passed on: no CLOEXEC to clear */
	CHECK(fd >= 0 && ftruncate(fd, (off_t)(NPAGE * PAGE)) == 0, "memfd");
	mem = mmap(NULL, NPAGE * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	CHECK(mem != MAP_FAILED, "mmap");
	split(mem);
	rg = (struct vdpamap_region){ .hva = mem,
				      .len = NPAGE * PAGE,
				      .fd = fd };
	CHECK(vdpamap_region_add(h, &rg, &id) == 0, "region_add");
	for (i = 0; i < 8; i += 2) {
		r = vdpamap_map(h, 0, IOVA + i * PAGE, mem + i * PAGE, 2 * PAGE,
				VDPAMAP_PERM_RW);
		CHECK(r == 0, "map %d: %d", i, r);
	}
	/* nothing counted: no commit logged a count */
	CHECK(!strstr(test_logbuf, "IOTLB entries"), "counted: %s",
	      test_logbuf);
	r = vdpamap_handoff_prepare(h, &ho, &sfd);
	if (r == -EOPNOTSUPP) {
		fprintf(stderr, "no KEEPER handoff on this architecture\n");
		_exit(77);
	}
	CHECK(r == 0, "prepare: %d", r);
	snprintf(fdstr, sizeof(fdstr), "%d", sfd);
	setenv(VDPAMAP_HANDOFF_ENV, fdstr, 1);
	exec_succ(mode);
}

/* The successor maps the same memfd at a new HVA, one VMA.  "split":
 * split as the predecessor's was, it shows the same runs to a count (in
 * PA mode on a kernel, pagemap would show the same pages through the
 * shared memfd).  "whole": left one VMA, while the device still sees the
 * predecessor's nine in the keeper's address space; counted here, the
 * four entries would be four and the page a fifth, sent, refused by the
 * device and taken for another fault (-EIO). */
static int successor(const char *mode)
{
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = test_log_fn,
		     .log_level = VDPAMAP_LOG_INFO);
	struct vdpamap_region rg;
	struct vdpamap *h;
	uint32_t id;
	uint64_t w;
	char *mem;
	int r;

	r = vdpamap_handoff_adopt(-1, &oo, &h);
	CHECK(r == 0, "adopt: %d", r);
	CHECK(vdpamap_region_ids(h, &id, 1) == 1, "one region");
	CHECK(vdpamap_region_get(h, id, &rg) == 0, "region_get");
	CHECK(rg.len == NPAGE * PAGE, "region of %zu bytes", (size_t)rg.len);
	mem = rg.hva;
	if (!strcmp(mode, "split"))
		split(mem);
	/* 8 entries made, one more page is 9: refused, nothing sent */
	w = writes(h);
	test_logbuf[0] = 0;
	r = vdpamap_map(h, 0, IOVA + 8 * PAGE, mem + 8 * PAGE, PAGE,
			VDPAMAP_PERM_RW);
	CHECK(r == -ENOSPC, "map past the cap: %d", r);
	CHECK(writes(h) == w, "%llu IOTLB writes sent, want none",
	      (unsigned long long)(writes(h) - w));
	CHECK(strstr(test_logbuf, "asid 0: 9 IOTLB entries exceed"), "log: %s",
	      test_logbuf);
	/* and counted exactly: two entries out, the page fits */
	CHECK(vdpamap_unmap(h, 0, IOVA, 2 * PAGE) == 0, "unmap");
	r = vdpamap_map(h, 0, IOVA + 8 * PAGE, mem + 8 * PAGE, PAGE,
			VDPAMAP_PERM_RW);
	CHECK(r == 0, "map after the unmap: %d", r);
	vdpamap_close(h);
	return 0;
}

static void handoff_at(uint32_t sim_flags, const char *mode)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .profile = "linux-6.12",
		     .flags = sim_flags, .max_iotlb_entries = 8);
	char path[256];
	pid_t sim, pid;
	int st;

	assert_int_equal(vdpamap_sim_spawn(&so, path, sizeof(path), &sim), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		execl(self, "test_caps_handoff", "pred", path, mode,
		      (char *)NULL);
		_exit(126);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	vdpamap_sim_stop(path);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_caps_handoff_uncounted_va(void **state)
{
	(void)state;
	handoff_at(0, "split");
}

static void test_caps_handoff_uncounted_pa(void **state)
{
	(void)state;
	handoff_at(VDPAMAP_SIM_PA, "split");
}

static void test_caps_handoff_keeper_vmas_va(void **state)
{
	(void)state;
	handoff_at(0, "whole");
}

static void test_caps_handoff_keeper_vmas_pa(void **state)
{
	(void)state;
	handoff_at(VDPAMAP_SIM_PA, "whole");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_handoff_uncounted_va),
		cmocka_unit_test(test_caps_handoff_uncounted_pa),
		cmocka_unit_test(test_caps_handoff_keeper_vmas_va),
		cmocka_unit_test(test_caps_handoff_keeper_vmas_pa),
	};

	ssize_t n;

	if (argc > 2 && !strcmp(argv[1], "succ"))
		return successor(argv[2]);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || n >= (ssize_t)sizeof(self) - 1)
		return 99;
	self[n] = 0;
	if (argc > 3 && !strcmp(argv[1], "pred")) {
		predecessor(argv[2], argv[3]);
		return 1; /* not reached: it execs the successor */
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
