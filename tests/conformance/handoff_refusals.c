// SPDX-License-Identifier: BSD-3-Clause
/*
 * Exec handoff, the refusals: what prepare and the queries refuse, what
 * adopt and reattach refuse without a description, and every call refused
 * while a handoff is prepared.  (handoff.c, a binary of its own, does the
 * real handoffs across execve().)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dirent.h>
#include <fcntl.h>

#include "conformance.h"

/* ---- exec handoff: what prepare and the queries refuse, and adopt's and
 * reattach's refusals that need no description (tests/conformance/handoff.c
 * forges corrupt ones).  Nothing changed also means: the same fds open with
 * the same FD_CLOEXEC, no handoff state created (get_info still -ENOENT),
 * out-parameters untouched, and the device still loops frames. */
struct fdset {
	int n;
	int fd[128], fl[128];
};

static void fds_take(struct fdset *s)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	assert_non_null(d);
	s->n = 0;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		assert_true(s->n < 128);
		s->fd[s->n] = fd;
		s->fl[s->n++] = fcntl(fd, F_GETFD);
	}
	closedir(d);
}

/* the function behind the macro fds_equal() (STYLE.md: helpers in threes):
 * NOLINTNEXTLINE(bugprone-reserved-identifier) */
static void _fds_equal(const struct fdset *a, int line)
{
	struct fdset b;
	int i, k;

	fds_take(&b);
	/* fail_msg() does not return: no b.fl[b.n] is read.
	 * NOLINTBEGIN(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	for (i = 0; i < a->n; i++) {
		for (k = 0; k < b.n && b.fd[k] != a->fd[i]; k++)
			;
		if (k == b.n)
			fail_msg("line %d: fd %d closed", line, a->fd[i]);
		if (b.fl[k] != a->fl[i])
			fail_msg("line %d: fd %d flags %d, were %d", line,
				 a->fd[i], b.fl[k], a->fl[i]);
	}
	/* NOLINTEND(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	if (b.n != a->n)
		fail_msg("line %d: %d fds open, were %d", line, b.n, a->n);
}
#define fds_equal(a) _fds_equal(a, __LINE__)

/* a call on the handle: as expect_nochange, and the fd table is as it was */
#define ho_err(f, e, want, call)                   \
	do {                                       \
		struct fdset fs_;                  \
		fds_take(&fs_);                    \
		expect_nochange(f, e, want, call); \
		fds_equal(&fs_);                   \
	} while (0)

/* a call that makes a handle (adopt, reattach): -e, *ret untouched, the
 * fd table as it was */
#define nohandle_err(e, call)                                            \
	do {                                                             \
		struct fdset fs_;                                        \
		int r_;                                                  \
		fds_take(&fs_);                                          \
		ret = (struct vdpamap *)&ret;                            \
		r_ = (call);                                             \
		if (r_ != -(e))                                          \
			fail_msg("line %d: %s: got %d (%s), want -%d",   \
				 __LINE__, #call, r_, strerror(-r_), e); \
		assert_ptr_equal(ret, &ret);                             \
		fds_equal(&fs_);                                         \
	} while (0)

/* The keeper is a clone(CLONE_VM) without CLONE_THREAD, which valgrind
 * cannot run (it exits the whole test): under memcheck prepare REBUILD. */
static uint32_t ho_strategy(void)
{
	return getenv("VDPAMAP_MEMCHECK") ? VDPAMAP_HANDOFF_REBUILD :
					    VDPAMAP_HANDOFF_KEEPER;
}

void test_handoff_bad_input(void **state)
{
	struct fx *f = *state;
	const int extra[33] = { 0 }, one[1] = { 999 };
	VDPAMAP_OPTS(vdpamap_handoff_opts, ok, .strategy = ho_strategy(),
		     .reattach_grace_ms = 1000);
	VDPAMAP_OPTS(vdpamap_open_opts, oo);
	struct {
		struct vdpamap_handoff_opts o;
		uint64_t tail;
	} big;
	struct {
		struct vdpamap_open_opts o;
		uint64_t tail;
	} obig;
	struct vdpamap_handoff_opts o;
	struct vdpamap_handoff_info hi;
	struct vdpamap_region rg;
	struct vdpamap_vring vring;
	struct vdpamap_info in;
	struct vdpamap *ret;
	struct vnet v;
	uint32_t id;
	void *anon;
	int sfd = -1, p[2], mfd;

	assert_true(fcntl(999, F_GETFD) < 0);
	open_default(f);
	map_window(f, 0, GPA);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 0);
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);

	/* queries */
	ho_err(f, EINVAL, "", vdpamap_handoff_get_info(f->h, NULL));
	ho_err(f, ENOENT, "", vdpamap_handoff_get_info(f->h, &hi));
	ho_err(f, EINVAL, "", vdpamap_region_get(f->h, f->region_id, NULL));
	ho_err(f, ENOENT, "", vdpamap_region_get(f->h, 9999, &rg));
	ho_err(f, EINVAL, "", vdpamap_region_ids(f->h, NULL, 1));
	ho_err(f, EINVAL, "", vdpamap_vring_get(f->h, 0, NULL));
	ho_err(f, EINVAL, "out of range",
	       vdpamap_vring_get(f->h, in.nr_vqs, &vring));
	if (in.nr_vqs > 2) /* the control vq, which vnet leaves */
		ho_err(f, ENOENT, "", vdpamap_vring_get(f->h, 2, &vring));
	/* prepare */
	ho_err(f, EINVAL, "", vdpamap_handoff_prepare(f->h, &ok, NULL));
	o = ok;
	o.sz = 4;
	ho_err(f, EINVAL, "handoff: opts: size 4: too small",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	memset(&big, 0, sizeof(big));
	big.o = ok;
	big.o.sz = sizeof(big);
	big.tail = 1;
	ho_err(f, E2BIG, "handoff: opts: size ",
	       vdpamap_handoff_prepare(f->h, &big.o, &sfd));
	o = ok;
	o.strategy = 4;
	ho_err(f, EINVAL, "handoff: opts: strategy 4",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	o = ok;
	o.flags = 1;
	ho_err(f, EINVAL, "flags 0x1", vdpamap_handoff_prepare(f->h, &o, &sfd));
	o = ok;
	o.extra_fds = extra;
	o.nr_extra_fds = 33;
	ho_err(f, EINVAL, "33 extra fds (at most 32",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	o.extra_fds = NULL;
	o.nr_extra_fds = 1;
	ho_err(f, EINVAL, "1 extra fds (at most 32",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	o.extra_fds = one;
	ho_err(f, EINVAL, "handoff: extra fd 999 is not open",
	       vdpamap_handoff_prepare(f->h, &o, &sfd));
	o = ok;
	o.strategy = VDPAMAP_HANDOFF_NEW_OWNER; /* the device does not
						   offer it */
	ho_err(f, EOPNOTSUPP,
	       "handoff: NEW_OWNER: ", vdpamap_handoff_prepare(f->h, &o, &sfd));
	/* anonymous but shared: a VA-mode device reaches it (private
	 * memory is refused there at region_add already) */
	anon = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(anon != MAP_FAILED);
	rg = (struct vdpamap_region){ .hva = anon, .len = 65536, .fd = -1 };
	assert_int_equal(vdpamap_region_add(f->h, &rg, &id), 0);
	ho_err(f, EINVAL, "has no fd: guest memory must be fd-backed (memfd)",
	       vdpamap_handoff_prepare(f->h, &ok, &sfd));
	assert_int_equal(vdpamap_region_del(f->h, id), 0);
	munmap(anon, 65536);
	assert_int_equal(sfd, -1);
	/* prepared already; cancel of nothing; rebuild without a dead
	 * keeper */
	ho_err(f, EALREADY, "", vdpamap_handoff_cancel(f->h));
	ho_err(f, EALREADY, "", vdpamap_handoff_rebuild(f->h));
	assert_int_equal(vdpamap_handoff_prepare(f->h, &ok, &sfd), 0);
	{
		struct fdset fs;
		unsigned n = test_nr_err;
		int sfd2 = -1;

		fds_take(&fs);
		assert_int_equal(vdpamap_handoff_prepare(f->h, &ok, &sfd2),
				 -EALREADY);
		log_expect(n, "handoff: prepared already (cancel first)");
		assert_int_equal(sfd2, -1);
		fds_equal(&fs);
	}
	assert_int_equal(vdpamap_handoff_cancel(f->h), 0);
	assert_true(fcntl(sfd, F_GETFD) < 0);
	ho_err(f, ENOENT, "", vdpamap_handoff_get_info(f->h, &hi));

	/* adopt and reattach: no description to parse */
	nohandle_err(EINVAL, vdpamap_handoff_adopt(-1, NULL, NULL));
	oo.sz = 4;
	nohandle_err(EINVAL, vdpamap_handoff_adopt(-1, &oo, &ret));
	memset(&obig, 0, sizeof(obig));
	obig.o.sz = sizeof(obig);
	obig.tail = 1;
	nohandle_err(E2BIG, vdpamap_handoff_adopt(-1, &obig.o, &ret));
	unsetenv(VDPAMAP_HANDOFF_ENV);
	nohandle_err(EBADF, vdpamap_handoff_adopt(-1, NULL, &ret));
	setenv(VDPAMAP_HANDOFF_ENV, "3x", 1);
	nohandle_err(EBADF, vdpamap_handoff_adopt(-1, NULL, &ret));
	setenv(VDPAMAP_HANDOFF_ENV, "-4", 1);
	nohandle_err(EBADF, vdpamap_handoff_adopt(-1, NULL, &ret));
	setenv(VDPAMAP_HANDOFF_ENV, "999", 1);
	nohandle_err(EBADF, vdpamap_handoff_adopt(-1, NULL, &ret));
	unsetenv(VDPAMAP_HANDOFF_ENV);
	nohandle_err(EBADF, vdpamap_handoff_adopt(999, NULL, &ret));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	nohandle_err(EPERM, vdpamap_handoff_adopt(p[0], NULL, &ret));
	close(p[0]);
	close(p[1]);
	mfd = memfd_create("state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(mfd >= 0);
	assert_int_equal(write(mfd, "vdpamap!", 8), 8);
	nohandle_err(EPERM, vdpamap_handoff_adopt(mfd, NULL, &ret));
	assert_int_equal(fcntl(mfd, F_ADD_SEALS,
			       F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW),
			 0);
	nohandle_err(EMSGSIZE, vdpamap_handoff_adopt(mfd, NULL, &ret));
	close(mfd);
	nohandle_err(EINVAL, vdpamap_handoff_reattach(0, NULL, &ret));
	nohandle_err(EINVAL, vdpamap_handoff_reattach(getpid(), NULL, NULL));
	/* the first interface has no credential to give */
	nohandle_err(ENOKEY, vdpamap_handoff_reattach(getpid(), NULL, &ret));
	{
		VDPAMAP_OPTS(vdpamap_reattach_opts, ro, .keeper_pid = getpid(),
			     .keeper_sock_tag = 1);

		nohandle_err(EINVAL, vdpamap_handoff_reattach_with(NULL, &ret));
		nohandle_err(EINVAL, vdpamap_handoff_reattach_with(&ro, NULL));
		nohandle_err(ENOKEY, vdpamap_handoff_reattach_with(&ro, &ret));
		ro.keeper_cred[3] = 1;
		ro.flags = 1;
		nohandle_err(EINVAL, vdpamap_handoff_reattach_with(&ro, &ret));
		ro.flags = 0;
		ro.keeper_sock_tag = 0;
		nohandle_err(EINVAL, vdpamap_handoff_reattach_with(&ro, &ret));
		ro.keeper_sock_tag = 0x5eed; /* nobody listens there */
		nohandle_err(ECONNREFUSED,
			     vdpamap_handoff_reattach_with(&ro, &ret));
	}
	/* the device was never left suspended */
	assert_int_equal(vnet_loop(&v, 2, 100, LOOP_MS), 0);
	vnet_stop(&v);
	mirror_matches_device(f);
}

/* Between vdpamap_handoff_prepare() and vdpamap_handoff_cancel() the
 * handle refuses every call that would change the device, the mirror or
 * what the prepared description says: -EBUSY, the call named in the log,
 * nothing changed (fds and their CLOEXEC included).  Queries, the dirty log
 * (library-only, not in the description) and close keep working; after the
 * cancel every refused call works again. */
#define BUSY(what) what " refused: a handoff is prepared (state fd "
void test_handoff_busy(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_handoff_opts, ho, .strategy = ho_strategy(),
		     .reattach_grace_ms = 1000);
	struct vdpamap_shadow sh = { .hva = shadow_mem(f), .size = RING_SIZE };
	const uint32_t vq0[] = { 0 };
	VDPAMAP_OPTS(vdpamap_flip_opts, fo, .vqs = vq0, .nr_vqs = 1,
		     .shadows = &sh, .nr_shadows = 1);
	VDPAMAP_OPTS(vdpamap_flip_opts, g1, .groups = grp1, .nr_groups = 1);
	struct vdpamap_region rg2, rg3, out;
	struct vdpamap_handoff_info hi;
	struct vdpamap_txn *t = NULL;
	struct vdpamap_vring vr, vr2;
	struct vdpamap_stats st;
	struct vdpamap_info in;
	uint64_t feat, iova = 0;
	uint32_t id2, id3 = 0, g, asid, base, ids[4];
	uint8_t cfg[8], status;
	void *hva, *m2;
	struct vnet v;
	int sfd = -1, sfd2 = -1, flip_id, mfd;

	/* a flip of group 1 to undo, into ASID 1 */
	fx_need(f, VDPAMAP_F_IOTLB_ASID);
	fx_need_as(f, 2);
	fx_need_groups(f, 2);
	/* a second memfd: 1 MiB registered before the prepare, 1 MiB to
	 * register during it */
	mfd = memfd_create("more", MFD_CLOEXEC);
	assert_true(mfd >= 0);
	assert_int_equal(ftruncate(mfd, 2 * MIB), 0);
	m2 = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	assert_true(m2 != MAP_FAILED);
	rg2 = (struct vdpamap_region){ .hva = m2, .len = MIB, .fd = mfd };
	rg3 = (struct vdpamap_region){ .hva = (uint8_t *)m2 + MIB,
				       .len = MIB,
				       .fd = mfd,
				       .fd_offset = MIB };

	open_default(f);
	map_window(f, 0, GPA);
	assert_int_equal(vdpamap_region_add(f->h, &rg2, &id2), 0);
	/* a flip to undo (group 1: the control vq's, which vnet leaves) */
	flip_id = vdpamap_flip(f->h, 1, &g1, NULL);
	assert_true(flip_id > 0);
	assert_int_equal(vnet_start(&v, f->h, f->mem + RING_OFF, GPA + RING_OFF,
				    RING_SIZE),
			 0);
	assert_int_equal(vnet_loop(&v, 1, 100, LOOP_MS), 0);
	assert_int_equal(vdpamap_vring_get(f->h, 0, &vr), 0);
	assert_int_equal(vdpamap_get_features(f->h, &feat), 0);
	assert_int_equal(vdpamap_get_config(f->h, 0, cfg, sizeof(cfg)), 0);
	assert_int_equal(vdpamap_get_status(f->h, &status), 0);
	assert_int_equal(vdpamap_handoff_prepare(f->h, &ho, &sfd), 0);

	/* maps, unmaps, transactions */
	ho_err(f, EBUSY,
	       BUSY("maps, unmaps and transactions "
		    "(vdpamap_txn_begin)"),
	       vdpamap_map(f->h, 0, GPA + 16 * MIB, f->mem, MIB,
			   VDPAMAP_PERM_RW));
	ho_err(f, EBUSY,
	       BUSY("maps, unmaps and transactions "
		    "(vdpamap_txn_begin)"),
	       vdpamap_unmap(f->h, 0, GPA + WIN_OFF, WIN_SIZE));
	ho_err(f, EBUSY,
	       BUSY("maps, unmaps and transactions "
		    "(vdpamap_txn_begin)"),
	       vdpamap_map_alloc(f->h, 0, f->mem, MIB, VDPAMAP_PERM_RW, 0,
				 &iova));
	assert_int_equal(iova, 0);
	ho_err(f, EBUSY,
	       BUSY("maps, unmaps and transactions "
		    "(vdpamap_txn_begin)"),
	       vdpamap_txn_begin(f->h, &t));
	assert_null(t);
	/* regions */
	ho_err(f, EBUSY, BUSY("vdpamap_region_add"),
	       vdpamap_region_add(f->h, &rg3, &id3));
	assert_int_equal(id3, 0);
	ho_err(f, EBUSY, BUSY("vdpamap_region_del"),
	       vdpamap_region_del(f->h, id2));
	/* flips */
	ho_err(f, EBUSY, BUSY("vdpamap_flip"),
	       vdpamap_flip(f->h, 1, &fo, NULL));
	assert_int_equal(sh.iova, 0);
	ho_err(f, EBUSY, BUSY("vdpamap_unflip"),
	       vdpamap_unflip(f->h, (uint32_t)flip_id, NULL, NULL));
	/* the device */
	ho_err(f, EBUSY, BUSY("vdpamap_reset"), vdpamap_reset(f->h, NULL));
	ho_err(f, EBUSY, BUSY("vdpamap_reset"), vdpamap_set_status(f->h, 0));
	ho_err(f, EBUSY, BUSY("vdpamap_set_status"),
	       vdpamap_set_status(f->h, status));
	ho_err(f, EBUSY, BUSY("vdpamap_set_features"),
	       vdpamap_set_features(f->h, feat));
	ho_err(f, EBUSY, BUSY("vdpamap_set_config"),
	       vdpamap_set_config(f->h, 0, cfg, sizeof(cfg)));
	ho_err(f, EBUSY, BUSY("vdpamap_set_group_asid"),
	       vdpamap_set_group_asid(f->h, 0, 0));
	ho_err(f, EBUSY, BUSY("vdpamap_vring_set"),
	       vdpamap_vring_set(f->h, 0, &vr));
	ho_err(f, EBUSY, BUSY("vdpamap_vring_enable"),
	       vdpamap_vring_enable(f->h, 0, 1));
	ho_err(f, EBUSY, BUSY("vdpamap_suspend"), vdpamap_suspend(f->h));
	ho_err(f, EBUSY, BUSY("vdpamap_resume"), vdpamap_resume(f->h));
	ho_err(f, EBUSY, BUSY("vdpamap_handoff_rebuild"),
	       vdpamap_handoff_rebuild(f->h));
	ho_err(f, EALREADY, "handoff: prepared already",
	       vdpamap_handoff_prepare(f->h, &ho, &sfd2));
	assert_int_equal(sfd2, -1);

	/* queries work */
	assert_int_equal(vdpamap_get_info(f->h, &in), 0);
	assert_int_equal(vdpamap_get_status(f->h, &status), 0);
	assert_true(status & 4); /* DRIVER_OK: kept, suspended */
	assert_int_equal(vdpamap_get_features(f->h, &feat), 0);
	assert_int_equal(vdpamap_get_config(f->h, 0, cfg, sizeof(cfg)), 0);
	assert_int_equal(vdpamap_vq_group(f->h, 0, &g), 0);
	assert_int_equal(vdpamap_get_group_asid(f->h, 1, &asid), 0);
	assert_int_equal(asid, 1);
	assert_int_equal(vdpamap_vring_get(f->h, 0, &vr2), 0);
	assert_int_equal(vdpamap_vring_get_base(f->h, 0, &base), 0);
	assert_int_equal(vdpamap_translate(f->h, 0, GPA + RING_OFF, &hva, NULL),
			 0);
	assert_ptr_equal(hva, f->mem + RING_OFF);
	assert_int_equal(vdpamap_entry_count(f->h, 0), 1);
	assert_int_equal(vdpamap_iova_find(f->h, 0, MIB, 0, &iova), 0);
	assert_int_equal(vdpamap_get_stats(f->h, &st), 0);
	assert_int_equal(vdpamap_handoff_get_info(f->h, &hi), 0);
	assert_int_equal(hi.strategy, ho_strategy());
	assert_int_equal(vdpamap_region_get(f->h, id2, &out), 0);
	assert_int_equal(vdpamap_region_ids(f->h, ids, 4), 2);
	/* so does the dirty log: library-only, not in the description */
	assert_int_equal(vdpamap_dirty_start(f->h, 0, NULL), 0);
	assert_int_equal(vdpamap_dirty_stop(f->h, 0), 0);

	/* cancel: every refused call works again */
	assert_int_equal(vdpamap_handoff_cancel(f->h), 0);
	assert_true(fcntl(sfd, F_GETFD) < 0);
	assert_int_equal(vnet_loop(&v, 2, 100, LOOP_MS), 0);
	map_ok(f, 0, GPA + 16 * MIB, 0, MIB);
	unmap_ok(f, 0, GPA + 16 * MIB, MIB);
	assert_int_equal(vdpamap_txn_begin(f->h, &t), 0);
	assert_int_equal(vdpamap_txn_commit(t), 0);
	assert_int_equal(vdpamap_region_add(f->h, &rg3, &id3), 0);
	assert_int_equal(vdpamap_region_del(f->h, id3), 0);
	assert_int_equal(vdpamap_region_del(f->h, id2), 0);
	{
		/* a started device without RESUME goes through a reset; without
		 * IOTLB_PERSIST too (6.1) that reset must replay the maps */
		VDPAMAP_OPTS(vdpamap_unflip_opts, uo,
			     .flags = vdpamap_has_feature(
					      f->h, VDPAMAP_F_IOTLB_PERSIST) ?
					      0 :
					      VDPAMAP_FLIP_REPLAY);

		assert_int_equal(vdpamap_unflip(f->h, (uint32_t)flip_id, &uo,
						NULL),
				 0);
	}
	/* a started device with frozen group ASIDs (Linux >= 7.0) answers
	 * EBUSY even for the ASID the group has: the reset path, asked for,
	 * with a replay of the maps where the device lacks IOTLB_PERSIST
	 * (VDUSE v1 on 7.3) */
	{
		VDPAMAP_OPTS(vdpamap_group_asid_opts, go,
			     .flags = VDPAMAP_GROUP_ASID_RESET |
				      (vdpamap_has_feature(
					       f->h, VDPAMAP_F_IOTLB_PERSIST) ?
					       0 :
					       VDPAMAP_GROUP_ASID_REPLAY));

		assert_int_equal(vdpamap_set_group_asid_opts(f->h, 1, 0, &go),
				 0);
	}
	/* a suspend only where it can be undone (6.1: SUSPEND, no RESUME) */
	if (!vdpamap_has_feature(f->h, VDPAMAP_F_SUSPEND) ||
	    vdpamap_has_feature(f->h, VDPAMAP_F_RESUME)) {
		assert_int_equal(vdpamap_suspend(f->h), 0);
		assert_int_equal(vdpamap_resume(f->h), 0);
	}
	assert_int_equal(vnet_loop(&v, 3, 100, LOOP_MS), 0);
	vnet_stop(&v);
	mirror_matches_device(f);
	assert_int_equal(vdpamap_reset(f->h, NULL), 0);
	loop_ok(f, GPA + RING_OFF);
	munmap(m2, 2 * MIB);
	close(mfd);
}

/* A region's fd must be the file mapped at its hva, at its fd_offset: a
 * successor maps that fd and would otherwise use other memory than the
 * device.  region_add checks it, and prepare again: closed since, or
 * closed and the number reused for another file. */
void test_region_fd(void **state)
{
	struct fx *f = *state;
	VDPAMAP_OPTS(vdpamap_handoff_opts, ok, .strategy = ho_strategy());
	struct vdpamap_region rg;
	int a, b, sfd = -1;
	uint32_t id;
	uint8_t *m;

	open_default(f);
	a = memfd_create("region-fd-a", MFD_CLOEXEC);
	b = memfd_create("region-fd-b", MFD_CLOEXEC);
	assert_true(a >= 0 && b >= 0);
	assert_int_equal(ftruncate(a, 2 * MIB), 0);
	assert_int_equal(ftruncate(b, 2 * MIB), 0);
	m = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_SHARED, a, MIB);
	assert_true(m != MAP_FAILED);
	rg = (struct vdpamap_region){
		.hva = m, .len = MIB, .fd = b, .fd_offset = MIB
	};
	ho_err(f, EBADF, "is not the file mapped at",
	       vdpamap_region_add(f->h, &rg, &id));
	rg.fd = a;
	rg.fd_offset = 0;
	ho_err(f, EINVAL, "but not at fd_offset 0x0",
	       vdpamap_region_add(f->h, &rg, &id));
	rg.fd_offset = MIB;
	assert_int_equal(vdpamap_region_add(f->h, &rg, &id), 0);

	/* closed, and its number reused for another file */
	assert_int_equal(close(a), 0);
	assert_int_equal(dup2(b, a), a);
	ho_err(f, EBADF, "is not the file mapped at",
	       vdpamap_handoff_prepare(f->h, &ok, &sfd));
	/* closed */
	assert_int_equal(close(a), 0);
	ho_err(f, EBADF, "is not open",
	       vdpamap_handoff_prepare(f->h, &ok, &sfd));
	assert_int_equal(sfd, -1);
	assert_int_equal(vdpamap_region_del(f->h, id), 0);
	munmap(m, MIB);
	close(b);
}
