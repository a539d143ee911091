// SPDX-License-Identifier: BSD-3-Clause
/*
 * Options structs of every size, fed to every public entry point that takes
 * one: vdpamap_open_opts (vdpamap_open, vdpamap_adopt_fd,
 * vdpamap_open_by_name), vdpamap_sim_opts (vdpamap_sim_spawn,
 * vdpamap_sim_serve), vdpamap_mgmt_opts (vdpamap_mgmt_open),
 * vdpamap_mgmt_add_opts (vdpamap_mgmt_add_dev), and on a handle
 * vdpamap_flip_opts (vdpamap_flip), vdpamap_unflip_opts (vdpamap_unflip),
 * vdpamap_dirty_opts (vdpamap_dirty_start) and vdpamap_handoff_opts
 * (vdpamap_handoff_prepare).
 *
 * The caller's struct is sz bytes that end at a guard page, so that a read
 * past sz (rounded up to 8) crashes; the few bytes between sz and the guard
 * are non-zero poison, so that a tail check reading past sz reports E2BIG
 * wrongly.  The known part holds values whose verdict the model below
 * knows; a field only partly inside sz is zero (the rule for such a field
 * is not specified).  The bytes past the known size are a tail from a newer
 * header.  Asserted for every call, in this order:
 *   sz < sizeof(size_t)                         -> -EINVAL
 *   a non-zero byte past the known size         -> -E2BIG
 *   a known field this build rejects            -> its errno
 *   else the call went past validation          -> the sentinel below
 * Every entry point gets arguments that make it fail right after
 * validation, without touching a device, and that failure is the sentinel:
 *   vdpamap_open          a path that does not exist        -ENOENT
 *   vdpamap_adopt_fd      /dev/null                         -ENOTTY
 *   vdpamap_open_by_name  a vdpa device that does not exist -ENOENT
 *   vdpamap_sim_spawn     a socket dir that does not exist  -ENOENT
 *   vdpamap_sim_serve     a socket path in a missing dir    -ENOENT
 *   vdpamap_mgmt_open     0 (closed again), or -ENOENT without vdpa
 *   vdpamap_mgmt_add_dev  a handle of another process       -ECHILD
 * (the last is a zeroed struct vdpamap_mgmt, pid 0: white-box, through the
 * internal header, because a real handle needs the vdpa module).
 * The calls on a handle take one of a simulator this program serves in a
 * child of its own (PA mode, nothing mapped, one anonymous region, group
 * 1 flipped to ASID 1 with nothing else), and fail there as follows:
 *   vdpamap_flip          vqs[] and groups[] name vq/group 99   -ENOENT
 *   vdpamap_unflip        nothing: it succeeds, and the flip
 *                         is made again for the next call       0
 *   vdpamap_dirty_start   ASID 0 maps nothing                   -ENOENT
 *   vdpamap_handoff_prepare  the region has no fd               -EINVAL
 *                         (the log tells it from a bad field)
 *
 *   fuzz_opts [seed [iterations]]   plain program: every entry point at
 *       every size 0..sizeof+64 with a zero tail and with one non-zero byte
 *       at each tail position, then `iterations` random inputs
 *   fuzz_opts_lf [libFuzzer flags]  the random part, coverage-guided
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vdpamap.h"
#include "mgmt/mgmt.h"

#define NOWHERE	 "/nonexistent-vdpamap-fuzz"
#define MAX_TAIL 64

#define CHECK(c, ...)                                                      \
	do {                                                               \
		if (!(c)) {                                                \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, \
				#c);                                       \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			abort();                                           \
		}                                                          \
	} while (0)

/* ---- the input */
struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t byte(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint32_t u32(struct input *in)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v = v << 8 | byte(in);
	return v;
}

static uint64_t u64(struct input *in)
{
	return (uint64_t)u32(in) << 32 | u32(in);
}

/* a u32 biased towards the edges the validation cares about */
static uint32_t edgy32(struct input *in)
{
	static const uint32_t e[] = { 0,	   1,	      2,     3,
				      4,	   63,	      64,    65,
				      4096,	   4097,      65535, 65536,
				      0x80000000U, UINT32_MAX };
	uint8_t s = byte(in);

	return s & 1 ? e[(s >> 1) % (sizeof(e) / sizeof(e[0]))] : u32(in);
}

/* ---- the caller's struct, against a guard page */
static uint8_t *guard; /* first byte of the PROT_NONE page */

static void *place(const void *known, size_t known_sz, size_t sz,
		   const uint8_t *tail)
{
	size_t room = sz < sizeof(size_t) ? sizeof(size_t) : sz, i;
	uint8_t *p;

	room = (room + 7) & ~(size_t)7;
	p = guard - room;
	memset(p, 0xa5, room); /* poison after sz */
	memcpy(p, known, sz < known_sz ? sz : known_sz);
	for (i = known_sz; i < sz; i++)
		p[i] = tail[i - known_sz];
	memcpy(p, &sz, sizeof(sz)); /* the sz field is always there */
	return p;
}

struct field {
	size_t off, size;
};
#define F(type, f)                                                      \
	{                                                               \
		offsetof(struct type, f), sizeof(((struct type *)0)->f) \
	}

/* A field is seen when it lies wholly inside sz; zero the ones cut by sz,
 * whose meaning no rule gives.  Returns nothing; edits known. */
static void cut(void *known, const struct field *f, size_t n, size_t sz)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (f[i].off < sz && f[i].off + f[i].size > sz)
			memset((uint8_t *)known + f[i].off, 0, f[i].size);
}

static int seen(const struct field *f, size_t sz)
{
	return sz >= f->off + f->size;
}

static int tail_nonzero(const uint8_t *tail, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (tail[i])
			return 1;
	return 0;
}

static int nlog;
static char last_err[512]; /* the last VDPAMAP_LOG_ERR line */
static void count_log(int level, const char *msg, void *ctx)
{
	(void)ctx;
	nlog++;
	if (level == VDPAMAP_LOG_ERR)
		snprintf(last_err, sizeof(last_err), "%s", msg);
}

static int devnull = -1;

/* ---- vdpamap_open_opts */
enum {
	EP_OPEN,
	EP_ADOPT,
	EP_BY_NAME,
	EP_SPAWN,
	EP_SERVE,
	EP_MGMT_OPEN,
	EP_MGMT_ADD,
	EP_FLIP,
	EP_UNFLIP,
	EP_DIRTY,
	EP_PREPARE,
	EP_COUNT
};
static const char *const ep_name[] = {
	"vdpamap_open",
	"vdpamap_adopt_fd",
	"vdpamap_open_by_name",
	"vdpamap_sim_spawn",
	"vdpamap_sim_serve",
	"vdpamap_mgmt_open",
	"vdpamap_mgmt_add_dev",
	"vdpamap_flip",
	"vdpamap_unflip",
	"vdpamap_dirty_start",
	"vdpamap_handoff_prepare",
};

static const struct field open_f[] = {
	F(vdpamap_open_opts, want_features),
	F(vdpamap_open_opts, require_features),
	F(vdpamap_open_opts, log_fn),
	F(vdpamap_open_opts, log_ctx),
	F(vdpamap_open_opts, log_level),
	F(vdpamap_open_opts, flags),
	F(vdpamap_open_opts, mem_mode),
	F(vdpamap_open_opts, nr_regions),
	/* the size of the field, a pointer:
	 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
	F(vdpamap_open_opts, regions),
	F(vdpamap_open_opts, prefault_threads),
	F(vdpamap_open_opts, page_size),
	F(vdpamap_open_opts, connect_timeout_ms),
};
enum {
	O_WANT,
	O_REQ,
	O_LOGFN,
	O_LOGCTX,
	O_LEVEL,
	O_FLAGS,
	O_MODE,
	O_NREG,
	O_REGS,
	O_PREFAULT,
	O_PS,
	O_TIMEOUT /* any value: nothing refuses it */
};

static int open_verdict(const struct vdpamap_open_opts *o, size_t sz)
{
	uint32_t ps = seen(&open_f[O_PS], sz) ? o->page_size : 0;

	if (seen(&open_f[O_NREG], sz) && o->nr_regions &&
	    !(seen(&open_f[O_REGS], sz) && o->regions))
		return -EINVAL;
	if (seen(&open_f[O_MODE], sz) && o->mem_mode > VDPAMAP_MEMMODE_VA)
		return -EINVAL;
	if (seen(&open_f[O_FLAGS], sz) &&
	    (o->flags &
	     ~(VDPAMAP_OPEN_ALLOW_UNALIGNED | VDPAMAP_OPEN_NO_MEMLOCK_CHECK)))
		return -EINVAL;
	if (ps & (ps - 1))
		return -EINVAL;
	return 0;
}

static void open_fill(struct vdpamap_open_opts *o, struct input *in)
{
	static const struct vdpamap_region rg = { .len = 4096, .fd = -1 };

	o->want_features = u64(in);
	o->require_features = 0; /* past validation: SET_OWNER first */
	o->log_fn = byte(in) & 1 ? count_log : NULL;
	o->log_level = (int)edgy32(in);
	o->flags = byte(in) & 1 ? edgy32(in) : 0;
	o->mem_mode = byte(in) & 1 ? edgy32(in) : 0;
	o->nr_regions = byte(in) & 1 ? edgy32(in) : 0;
	o->regions = byte(in) & 1 ? &rg : NULL;
	o->prefault_threads = edgy32(in);
	o->page_size = byte(in) & 1 ? edgy32(in) : 0;
	o->connect_timeout_ms = edgy32(in);
}

static int call_open(int ep, const struct vdpamap_open_opts *o)
{
	struct vdpamap *h = NULL;
	int r;

	switch (ep) {
	case EP_OPEN:
		r = vdpamap_open(NOWHERE "/vhost-vdpa-0", o, &h);
		break;
	case EP_ADOPT:
		r = vdpamap_adopt_fd(devnull, o, &h);
		CHECK(fcntl(devnull, F_GETFD) >= 0,
		      "adopt_fd closed the caller's fd on failure");
		break;
	default:
		r = vdpamap_open_by_name("vdpamap-fuzz-none", o, &h);
		break;
	}
	CHECK(!h, "%s returned a handle", ep_name[ep]);
	return r;
}

/* ---- vdpamap_sim_opts */
static const struct field sim_f[] = {
	F(vdpamap_sim_opts, backend_features),
	F(vdpamap_sim_opts, flags),
	F(vdpamap_sim_opts, nr_as),
	F(vdpamap_sim_opts, nr_groups),
	F(vdpamap_sim_opts, nr_vqs),
	F(vdpamap_sim_opts, iova_first),
	F(vdpamap_sim_opts, iova_last),
	F(vdpamap_sim_opts, dir),
};
enum {
	S_BACKEND,
	S_FLAGS,
	S_NR_AS,
	S_NR_GROUPS,
	S_NR_VQS,
	S_FIRST,
	S_LAST,
	S_DIR
};

static int sim_verdict(const struct vdpamap_sim_opts *o, size_t sz)
{
#define SEEN(i, f, dflt) (seen(&sim_f[i], sz) && o->f ? o->f : (dflt))
	uint32_t flags = SEEN(S_FLAGS, flags, 0);
	uint32_t nr_as = SEEN(S_NR_AS, nr_as, 2);
	uint32_t nr_groups = SEEN(S_NR_GROUPS, nr_groups, 2);
	uint32_t nr_vqs = SEEN(S_NR_VQS, nr_vqs, 3);
	uint64_t first = SEEN(S_FIRST, iova_first, 0);
	uint64_t last = SEEN(S_LAST, iova_last, 0);
#undef SEEN

	if (last && first > last) /* iova_last 0: the whole 64-bit space */
		return -EINVAL;
	if ((flags &
	     ~(VDPAMAP_SIM_PA | VDPAMAP_SIM_PER_MAP | VDPAMAP_SIM_ANY_UID)) ||
	    nr_as > 64 || nr_groups > 64 || nr_vqs > 64 || nr_vqs < 2)
		return -EINVAL;
	return 0;
}

static void sim_fill(struct vdpamap_sim_opts *o, struct input *in)
{
	o->backend_features = u64(in);
	o->flags = byte(in) & 1 ? edgy32(in) : 0;
	o->nr_as = edgy32(in);
	o->nr_groups = edgy32(in);
	o->nr_vqs = edgy32(in);
	o->iova_first = byte(in) & 1 ? u64(in) : 0;
	o->iova_last = byte(in) & 1 ? u64(in) : 0;
	o->dir = byte(in) & 1 ? NOWHERE : NULL;
}

static int call_sim(int ep, const struct vdpamap_sim_opts *o)
{
	char path[108];
	pid_t pid = 0;
	int r;

	if (ep == EP_SERVE)
		return vdpamap_sim_serve(NOWHERE "/sim.sock", o);
	r = vdpamap_sim_spawn(o, path, sizeof(path), &pid);
	CHECK(r < 0 || !pid, "sim_spawn started a daemon");
	if (r == 0)
		vdpamap_sim_stop(path);
	return r;
}

/* ---- vdpamap_mgmt_opts and vdpamap_mgmt_add_opts */
static const struct field mgmt_f[] = {
	F(vdpamap_mgmt_opts, log_fn),
	F(vdpamap_mgmt_opts, log_ctx),
	F(vdpamap_mgmt_opts, log_level),
};

static void mgmt_fill(struct vdpamap_mgmt_opts *o, struct input *in)
{
	o->log_fn = byte(in) & 1 ? count_log : NULL;
	o->log_level = (int)edgy32(in);
}

static const struct field add_f[] = {
	F(vdpamap_mgmt_add_opts, name),
	F(vdpamap_mgmt_add_opts, mgmtdev),
	F(vdpamap_mgmt_add_opts, mac),
	F(vdpamap_mgmt_add_opts, mtu),
	F(vdpamap_mgmt_add_opts, max_vq_pairs),
	F(vdpamap_mgmt_add_opts, device_features),
};
enum { A_NAME, A_MGMTDEV, A_MAC, A_MTU, A_VQP, A_FEAT };

static char long_name[VDPAMAP_MGMT_NAME_MAX + 8];
static const char *const names[] = { "vdpa0", NULL, "", long_name, "a/b" };
static const char *const handles[] = {
	"vdpasim_net", NULL,   "",	long_name,	   "pci/0000:00:04.0",
	"/dev",	       "pci/", "a/b/c", "pci/vdpasim_net",
};

/* check_name() and split_mgmtdev() of src/mgmt.c, as documented */
static int name_verdict(const char *s)
{
	if (!s || !*s)
		return -EINVAL;
	return strlen(s) >= VDPAMAP_MGMT_NAME_MAX ? -ENAMETOOLONG : 0;
}

static int handle_verdict(const char *s)
{
	const char *slash;
	int e = name_verdict(s);

	if (e < 0)
		return e;
	slash = strchr(s, '/');
	if (slash && (slash == s || !slash[1] || strchr(slash + 1, '/')))
		return -EINVAL;
	return 0;
}

static int add_verdict(const struct vdpamap_mgmt_add_opts *o, size_t sz)
{
	const char *name = seen(&add_f[A_NAME], sz) ? o->name : NULL;
	const char *mgmtdev = seen(&add_f[A_MGMTDEV], sz) ? o->mgmtdev : NULL;
	uint32_t mtu = seen(&add_f[A_MTU], sz) ? o->mtu : 0;
	uint32_t vqp = seen(&add_f[A_VQP], sz) ? o->max_vq_pairs : 0;
	int e;

	if ((e = name_verdict(name)) < 0 || (e = handle_verdict(mgmtdev)) < 0)
		return e;
	if (mtu > 65535 || vqp > 65535)
		return -EINVAL;
	return 0;
}

static void add_fill(struct vdpamap_mgmt_add_opts *o, struct input *in)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 9 };

	o->name = names[byte(in) % (sizeof(names) / sizeof(names[0]))];
	o->mgmtdev = handles[byte(in) % (sizeof(handles) / sizeof(handles[0]))];
	o->mac = byte(in) & 1 ? mac : NULL;
	o->mtu = edgy32(in);
	o->max_vq_pairs = edgy32(in);
	o->device_features = u64(in);
}

/* ---- the calls on a handle: a simulator served by a child of ours (it
 * dies with us: PR_SET_PDEATHSIG) */
static char sim_path[108];
static pid_t sim_pid = -1;
static struct vdpamap *hd;
static uint32_t flip_id; /* the active flip unflip undoes */

/* group 1 (the control vq's) to ASID 1, nothing mapped, nothing to
 * re-point: the device is not started */
static void flip_again(void)
{
	static const uint32_t g1 = 1;
	VDPAMAP_OPTS(vdpamap_flip_opts, fo, .groups = &g1, .nr_groups = 1);
	int r = vdpamap_flip(hd, 1, &fo, NULL);

	CHECK(r > 0, "the fixture's flip: %d (%s)", r, last_err);
	flip_id = (uint32_t)r;
}

static void sim_down(void)
{
	hd = vdpamap_close(hd);
	if (sim_pid > 0) {
		kill(sim_pid, SIGKILL);
		waitpid(sim_pid, NULL, 0);
		sim_pid = -1;
	}
	unlink(sim_path);
}

static void sim_up(void)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .flags = VDPAMAP_SIM_PA);
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = count_log,
		     .log_level = VDPAMAP_LOG_DEBUG);
	long ps = sysconf(_SC_PAGESIZE);
	struct vdpamap_region rg = { .len = (uint64_t)ps, .fd = -1 };
	pid_t parent = getpid();
	int r = -1, i;

	snprintf(sim_path, sizeof(sim_path), "/tmp/vdpamap-fuzz-opts-%d",
		 (int)parent);
	unlink(sim_path);
	sim_pid = fork();
	CHECK(sim_pid >= 0, "fork");
	if (!sim_pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		_exit(vdpamap_sim_serve(sim_path, &so) ? 1 : 0);
	}
	atexit(sim_down);
	for (i = 0; i < 1000 && r < 0; i++) {
		r = vdpamap_open(sim_path, &oo, &hd);
		if (r < 0)
			usleep(10000);
	}
	CHECK(r == 0, "open the simulator at %s: %d", sim_path, r);
	/* PA mode: an anonymous region is fine there, and handoff prepare
	 * refuses it after its options */
	rg.hva = mmap(NULL, rg.len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(rg.hva != MAP_FAILED, "mmap");
	r = vdpamap_region_add(hd, &rg, NULL);
	CHECK(r == 0, "region_add: %d (%s)", r, last_err);
	flip_again();
}

/* arrays the pointers of the structs below may point at: as long as any
 * count they come with (at most 8) */
static const uint32_t nowhere_ids[8] = { 99, 99, 99, 99, 99, 99, 99, 99 };
static struct vdpamap_shadow shadows[8];
static const struct vdpamap_flip_vring vrings[8];
static const struct vdpamap_dirty_range ranges[8] = {
	{ 0x10000, 0x1000 }, { 0x20000, 0x1000 }, { 0x30000, 0x1000 },
	{ 0x40000, 0x1000 }, { 0x50000, 0x1000 }, { 0x60000, 0x1000 },
	{ 0x70000, 0x1000 }, { 0x80000, 0x1000 },
};
static const int extra_fds[8] = { 0, 1, 2, 0, 1, 2, 0, 1 };

static int restart_nop(struct vdpamap *h, void *ctx)
{
	(void)h;
	(void)ctx;
	return 0;
}

/* a count of 0..8, sometimes past what the device has */
static uint32_t count(struct input *in)
{
	return byte(in) % 9;
}

/* ---- vdpamap_flip_opts */
static const struct field flip_f[] = {
	/* the size of the field, a pointer:
	 * NOLINTBEGIN(bugprone-sizeof-expression) */
	F(vdpamap_flip_opts, vqs),	   F(vdpamap_flip_opts, nr_vqs),
	F(vdpamap_flip_opts, nr_groups),   F(vdpamap_flip_opts, groups),
	F(vdpamap_flip_opts, shadows),	   F(vdpamap_flip_opts, nr_shadows),
	F(vdpamap_flip_opts, nr_vrings),   F(vdpamap_flip_opts, vrings),
	F(vdpamap_flip_opts, flags),	   F(vdpamap_flip_opts, restart_fn),
	F(vdpamap_flip_opts, restart_ctx),
	/* NOLINTEND(bugprone-sizeof-expression) */
};
enum {
	FL_VQS,
	FL_NVQS,
	FL_NGROUPS,
	FL_GROUPS,
	FL_SHADOWS,
	FL_NSHADOWS,
	FL_NVRINGS,
	FL_VRINGS,
	FL_FLAGS
};

static int flip_verdict(const struct vdpamap_flip_opts *o, size_t sz)
{
#define SEEN(i, f) (seen(&flip_f[i], sz) ? o->f : 0)
	const uint32_t known = VDPAMAP_FLIP_WHOLE_GROUP |
			       VDPAMAP_FLIP_SUSPENDED | VDPAMAP_FLIP_REPLAY;
	uint32_t nvqs = SEEN(FL_NVQS, nr_vqs), ng = SEEN(FL_NGROUPS, nr_groups);
	uint32_t ns = SEEN(FL_NSHADOWS, nr_shadows);
	uint32_t nv = SEEN(FL_NVRINGS, nr_vrings);

	if ((SEEN(FL_FLAGS, flags) & ~known) || (!nvqs && !ng) ||
	    (nvqs && !SEEN(FL_VQS, vqs)) || (ng && !SEEN(FL_GROUPS, groups)) ||
	    (ns && !SEEN(FL_SHADOWS, shadows)) ||
	    (nv && !SEEN(FL_VRINGS, vrings)) || nv > 3 /* the sim's vqs */)
		return -EINVAL;
#undef SEEN
	return -ENOENT; /* vq or group 99 */
}

static void flip_fill(struct vdpamap_flip_opts *o, struct input *in)
{
	static const uint32_t flag[] = { 0, VDPAMAP_FLIP_WHOLE_GROUP,
					 VDPAMAP_FLIP_SUSPENDED,
					 VDPAMAP_FLIP_REPLAY, 1U << 7 };

	o->vqs = byte(in) & 1 ? nowhere_ids : NULL;
	o->nr_vqs = count(in);
	o->nr_groups = count(in);
	o->groups = byte(in) & 1 ? nowhere_ids : NULL;
	o->shadows = byte(in) & 1 ? shadows : NULL;
	o->nr_shadows = count(in);
	o->nr_vrings = count(in);
	o->vrings = byte(in) & 1 ? vrings : NULL;
	o->flags = flag[byte(in) % (sizeof(flag) / sizeof(flag[0]))];
	o->restart_fn = byte(in) & 1 ? restart_nop : NULL;
	o->restart_ctx = byte(in) & 1 ? &nlog : NULL;
}

/* ---- vdpamap_unflip_opts */
static const struct field unflip_f[] = {
	F(vdpamap_unflip_opts, flags), F(vdpamap_unflip_opts, nr_vrings),
	/* the size of the field, a pointer:
	 * NOLINTBEGIN(bugprone-sizeof-expression) */
	F(vdpamap_unflip_opts, vrings), F(vdpamap_unflip_opts, restart_fn),
	F(vdpamap_unflip_opts, restart_ctx),
	/* NOLINTEND(bugprone-sizeof-expression) */
};
enum { UF_FLAGS, UF_NVRINGS, UF_VRINGS };

static int unflip_verdict(const struct vdpamap_unflip_opts *o, size_t sz)
{
	uint32_t flags = seen(&unflip_f[UF_FLAGS], sz) ? o->flags : 0;
	uint32_t nv = seen(&unflip_f[UF_NVRINGS], sz) ? o->nr_vrings : 0;

	/* a vring listed is one the flip did not re-point: it re-pointed
	 * none */
	if ((flags & ~(VDPAMAP_FLIP_SUSPENDED | VDPAMAP_FLIP_REPLAY)) || nv)
		return -EINVAL;
	return 0;
}

static void unflip_fill(struct vdpamap_unflip_opts *o, struct input *in)
{
	static const uint32_t flag[] = { 0, VDPAMAP_FLIP_SUSPENDED,
					 VDPAMAP_FLIP_REPLAY,
					 VDPAMAP_FLIP_WHOLE_GROUP, 1U << 9 };

	o->flags = flag[byte(in) % (sizeof(flag) / sizeof(flag[0]))];
	o->nr_vrings = count(in);
	o->vrings = byte(in) & 1 ? vrings : NULL;
	o->restart_fn = byte(in) & 1 ? restart_nop : NULL;
	o->restart_ctx = byte(in) & 1 ? &nlog : NULL;
}

/* ---- vdpamap_dirty_opts */
static const struct field dirty_f[] = {
	F(vdpamap_dirty_opts, flags),
	F(vdpamap_dirty_opts, ring_entries),
	F(vdpamap_dirty_opts, page_size),
	/* the size of the field, a pointer:
	 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
	F(vdpamap_dirty_opts, ranges),
	F(vdpamap_dirty_opts, nr_ranges),
};
enum { D_FLAGS, D_RING, D_PS, D_RANGES, D_NRANGES };

static int dirty_verdict(const struct vdpamap_dirty_opts *o, size_t sz)
{
	uint32_t flags = seen(&dirty_f[D_FLAGS], sz) ? o->flags : 0;
	uint32_t ring = seen(&dirty_f[D_RING], sz) ? o->ring_entries : 0;
	uint64_t ps = seen(&dirty_f[D_PS], sz) ? o->page_size : 0;
	int rg = seen(&dirty_f[D_RANGES], sz) && o->ranges;
	uint32_t nr = seen(&dirty_f[D_NRANGES], sz) ? o->nr_ranges : 0;

	if (!ps)
		ps = (uint64_t)sysconf(_SC_PAGESIZE);
	if (!ring)
		ring = 4096;
	if ((flags & ~VDPAMAP_DIRTY_RING) || ps < 512 || (ps & (ps - 1)) ||
	    ring < 16 || ring > (1U << 24) || (ring & (ring - 1)) || !nr != !rg)
		return -EINVAL;
	return -ENOENT; /* nothing mapped */
}

static void dirty_fill(struct vdpamap_dirty_opts *o, struct input *in)
{
	o->flags = byte(in) & 1 ? edgy32(in) & 3 : 0;
	o->ring_entries = byte(in) & 1 ? edgy32(in) : 0;
	o->page_size = byte(in) & 1 ? edgy32(in) : 0;
	o->ranges = byte(in) & 1 ? ranges : NULL;
	o->nr_ranges = count(in);
}

/* ---- vdpamap_handoff_opts */
static const struct field ho_f[] = {
	F(vdpamap_handoff_opts, strategy),
	F(vdpamap_handoff_opts, flags),
	/* the size of the field, a pointer:
	 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
	F(vdpamap_handoff_opts, extra_fds),
	F(vdpamap_handoff_opts, nr_extra_fds),
	F(vdpamap_handoff_opts, reattach_grace_ms),
};
enum { H_STRATEGY, H_FLAGS, H_EXTRA, H_NEXTRA };

/* Both refusals are -EINVAL: the log tells a bad field ("handoff:
 * opts: ...") from the fixture's region without fd.  *why: what the last
 * error line must contain. */
static int ho_verdict(const struct vdpamap_handoff_opts *o, size_t sz,
		      const char **why)
{
	uint32_t strategy = seen(&ho_f[H_STRATEGY], sz) ? o->strategy : 0;
	uint32_t flags = seen(&ho_f[H_FLAGS], sz) ? o->flags : 0;
	int extra = seen(&ho_f[H_EXTRA], sz) && o->extra_fds;
	uint32_t n = seen(&ho_f[H_NEXTRA], sz) ? o->nr_extra_fds : 0;

	*why = "handoff: opts: ";
	if (strategy > VDPAMAP_HANDOFF_REBUILD || flags || n > 32 ||
	    (n && !extra))
		return -EINVAL;
	*why = "has no fd";
	return -EINVAL;
}

static void ho_fill(struct vdpamap_handoff_opts *o, struct input *in)
{
	o->strategy = byte(in) % 6;
	o->flags = byte(in) & 1 ? edgy32(in) : 0;
	o->extra_fds = byte(in) & 1 ? extra_fds : NULL;
	o->nr_extra_fds = byte(in) & 1 ? edgy32(in) : count(in);
	o->reattach_grace_ms = edgy32(in);
}

/* The call on the fixture's handle; *why as ho_verdict's. */
static int call_handle(int ep, const void *p)
{
	int r, fd = -1;

	last_err[0] = '\0';
	switch (ep) {
	case EP_FLIP:
		r = vdpamap_flip(hd, 1, p, NULL);
		CHECK(r <= 0, "flip succeeded (%d)", r);
		break;
	case EP_UNFLIP:
		r = vdpamap_unflip(hd, flip_id, p, NULL);
		if (r == 0)
			flip_again();
		break;
	case EP_DIRTY:
		r = vdpamap_dirty_start(hd, 0, p);
		CHECK(r < 0, "dirty_start succeeded");
		break;
	default:
		r = vdpamap_handoff_prepare(hd, p, &fd);
		CHECK(r < 0 && fd == -1, "prepare succeeded (%d)", r);
		break;
	}
	return r;
}

/* ---- one case */
static size_t known_size(int ep)
{
	switch (ep) {
	case EP_OPEN:
	case EP_ADOPT:
	case EP_BY_NAME:
		return sizeof(struct vdpamap_open_opts);
	case EP_SPAWN:
	case EP_SERVE:
		return sizeof(struct vdpamap_sim_opts);
	case EP_MGMT_OPEN:
		return sizeof(struct vdpamap_mgmt_opts);
	case EP_MGMT_ADD:
		return sizeof(struct vdpamap_mgmt_add_opts);
	case EP_FLIP:
		return sizeof(struct vdpamap_flip_opts);
	case EP_UNFLIP:
		return sizeof(struct vdpamap_unflip_opts);
	case EP_DIRTY:
		return sizeof(struct vdpamap_dirty_opts);
	default:
		return sizeof(struct vdpamap_handoff_opts);
	}
}

/* Run entry point ep with a struct of sz bytes: the known part from
 * known (valid values unless fill was given input), tail[0..sz-known). */
static void one(int ep, size_t sz, const uint8_t *tail, struct input *fill)
{
	union {
		struct vdpamap_open_opts o;
		struct vdpamap_sim_opts s;
		struct vdpamap_mgmt_opts m;
		struct vdpamap_mgmt_add_opts a;
		struct vdpamap_flip_opts fl;
		struct vdpamap_unflip_opts uf;
		struct vdpamap_dirty_opts d;
		struct vdpamap_handoff_opts ho;
	} k;
	size_t ksz = known_size(ep);
	int want, got, verdict = 0;
	const char *why = NULL;
	void *p;

	memset(&k, 0, sizeof(k));
	switch (ep) {
	case EP_OPEN:
	case EP_ADOPT:
	case EP_BY_NAME:
		if (fill)
			open_fill(&k.o, fill);
		cut(&k, open_f, sizeof(open_f) / sizeof(open_f[0]), sz);
		/* by name: the struct's size and tail are checked first, its
		 * fields by vdpamap_open() after the name was looked up (as
		 * documented) */
		verdict = ep == EP_BY_NAME ? 0 : open_verdict(&k.o, sz);
		break;
	case EP_SPAWN:
	case EP_SERVE:
		if (fill)
			sim_fill(&k.s, fill);
		cut(&k, sim_f, sizeof(sim_f) / sizeof(sim_f[0]), sz);
		verdict = sim_verdict(&k.s, sz);
		break;
	case EP_MGMT_OPEN:
		if (fill)
			mgmt_fill(&k.m, fill);
		cut(&k, mgmt_f, sizeof(mgmt_f) / sizeof(mgmt_f[0]), sz);
		break;
	case EP_MGMT_ADD:
		k.a.name = "vdpa0";
		k.a.mgmtdev = "vdpasim_net";
		if (fill)
			add_fill(&k.a, fill);
		cut(&k, add_f, sizeof(add_f) / sizeof(add_f[0]), sz);
		verdict = add_verdict(&k.a, sz);
		break;
	case EP_FLIP:
		if (fill)
			flip_fill(&k.fl, fill);
		cut(&k, flip_f, sizeof(flip_f) / sizeof(flip_f[0]), sz);
		verdict = flip_verdict(&k.fl, sz);
		break;
	case EP_UNFLIP:
		if (fill)
			unflip_fill(&k.uf, fill);
		cut(&k, unflip_f, sizeof(unflip_f) / sizeof(unflip_f[0]), sz);
		verdict = unflip_verdict(&k.uf, sz);
		break;
	case EP_DIRTY:
		if (fill)
			dirty_fill(&k.d, fill);
		cut(&k, dirty_f, sizeof(dirty_f) / sizeof(dirty_f[0]), sz);
		verdict = dirty_verdict(&k.d, sz);
		break;
	default:
		if (fill)
			ho_fill(&k.ho, fill);
		cut(&k, ho_f, sizeof(ho_f) / sizeof(ho_f[0]), sz);
		verdict = ho_verdict(&k.ho, sz, &why);
		break;
	}
	if (ep >= EP_FLIP &&
	    (sz < sizeof(size_t) || (sz > ksz && tail_nonzero(tail, sz - ksz))))
		why = "opts: size"; /* logged under the handle */
	if (sz < sizeof(size_t))
		want = -EINVAL;
	else if (sz > ksz && tail_nonzero(tail, sz - ksz))
		want = -E2BIG;
	else
		want = verdict;

	p = place(&k, ksz, sz, tail);
	switch (ep) {
	case EP_OPEN:
	case EP_ADOPT:
	case EP_BY_NAME:
		got = call_open(ep, p);
		if (!want)
			want = ep == EP_ADOPT ? -ENOTTY : -ENOENT;
		break;
	case EP_SPAWN:
	case EP_SERVE:
		got = call_sim(ep, p);
		if (!want)
			want = -ENOENT;
		break;
	case EP_MGMT_OPEN: {
		struct vdpamap_mgmt *m = NULL;

		got = vdpamap_mgmt_open(p, &m);
		if (got == 0)
			vdpamap_mgmt_close(m);
		else
			CHECK(!m, "mgmt_open returned a handle with %d", got);
		if (!want && got == -ENOENT)
			want = -ENOENT; /* no vdpa module here */
		break;
	}
	case EP_FLIP:
	case EP_UNFLIP:
	case EP_DIRTY:
	case EP_PREPARE:
		got = call_handle(ep, p);
		/* 0: nothing said but the verdict */
		break;
	default: {
		struct vdpamap_mgmt fake;

		memset(&fake, 0, sizeof(fake)); /* pid 0: not ours */
		fake.log_fn = count_log;
		fake.log_level = VDPAMAP_LOG_DEBUG;
		got = vdpamap_mgmt_add_dev(&fake, p);
		if (!want)
			want = -ECHILD;
		break;
	}
	}
	CHECK(got == want, "%s, sz %zu of %zu: got %d (%s), want %d (%s)",
	      ep_name[ep], sz, ksz, got, strerror(-got), want, strerror(-want));
	CHECK(!why || strstr(last_err, why),
	      "%s, sz %zu of %zu: logged \"%s\", not \"%s\"", ep_name[ep], sz,
	      ksz, last_err, why);
}

static void init(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	uint8_t *m;

	if (guard)
		return;
	m = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED, "mmap");
	CHECK(mprotect(m + ps, ps, PROT_NONE) == 0, "mprotect");
	guard = m + ps;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(devnull >= 0, "open /dev/null");
	memset(long_name, 'n', sizeof(long_name) - 1);
	sim_up();
	/* vdpamap_sim_spawn's socket dir when opts.dir is not seen */
	setenv("TMPDIR", NOWHERE, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* byte 0: entry point; byte 1: sz; then the known fields; the rest: the
 * tail (zero-padded) */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { .p = data, .left = size }, fill;
	uint8_t tail[MAX_TAIL];
	size_t sz, ksz, skip;
	int ep;

	init();
	ep = byte(&in) % EP_COUNT;
	ksz = known_size(ep);
	sz = byte(&in) % (ksz + MAX_TAIL + 1);
	/* the known fields take their bytes from the next 64, the tail from
	 * the rest */
	fill = in;
	skip = in.left < 64 ? in.left : 64;
	fill.left = skip;
	in.p += skip;
	in.left -= skip;
	memset(tail, 0, sizeof(tail));
	memcpy(tail, in.p, in.left < MAX_TAIL ? in.left : MAX_TAIL);
	one(ep, sz, tail, &fill);
	return 0;
}

#ifndef LIBFUZZER
static uint64_t rng;

static uint64_t rnd(void) /* splitmix64 */
{
	uint64_t x = (rng += UINT64_C(0x9e3779b97f4a7c15));

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
	long iters = argc > 2 ? strtol(argv[2], NULL, 0) : 2000, k, calls = 0;
	uint8_t tail[MAX_TAIL], buf[256];
	int ep;

	init();
	rng = seed;
	/* every size, a zero tail and one non-zero byte at each position */
	for (ep = 0; ep < EP_COUNT; ep++) {
		size_t ksz = known_size(ep), sz, i;

		for (sz = 0; sz <= ksz + MAX_TAIL; sz++) {
			memset(tail, 0, sizeof(tail));
			one(ep, sz, tail, NULL);
			calls++;
			for (i = ksz; i < sz; i++) {
				tail[i - ksz] = (uint8_t)(rnd() % 255 + 1);
				one(ep, sz, tail, NULL);
				tail[i - ksz] = 0;
				calls++;
			}
		}
	}
	/* random known fields, sizes and tails (half of the tails zero) */
	for (k = 0; k < iters; k++) {
		size_t n = rnd() % sizeof(buf), i;
		int zero_tail = (int)(rnd() % 2);

		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)rnd();
		if (zero_tail)
			for (i = 2 + 64; i < n; i++)
				buf[i] = 0;
		LLVMFuzzerTestOneInput(buf, n);
		calls += 2;
	}
	printf("fuzz_opts: seed %ju: %ld calls at sizes 0..sizeof+%d of %d "
	       "entry points, all as the model says\n",
	       (uintmax_t)seed, calls, MAX_TAIL, EP_COUNT);
	return 0;
}
#endif
