// SPDX-License-Identifier: BSD-3-Clause
/*
 * Exec handoff, end to end, with real execve(): this program re-executes
 * itself (/proc/self/exe role ...) to play the predecessor and successors.
 * Backends: the simulator (a daemon per case, VA and PA flavours, or the
 * one in VDPAMAP_TEST_SIM) or the kernel device in VDPAMAP_TEST_DEV.
 *
 * Cases: NEW_OWNER (AUTO), NEW_OWNER twice, KEEPER then NEW_OWNER (AUTO),
 * keeper (AUTO where that is the keeper), keeper + second exec, rebuild,
 * cancel, corrupt descriptions, keeper killed then rebuild, successor
 * killed then re-attach (a same-uid intruder without the credential first
 * gets nothing), predecessor killed in the middle of preparing, a
 * squatted keeper socket name (prepare -EADDRINUSE), a fake keeper
 * (reattach -EPERM before the credential leaves; as root also one of
 * another uid).
 * Each checks the loopback data path after the handoff, IOTLB writes in
 * the successor (0 for the keeper; for NEW_OWNER no UPDATE, no INVALIDATE
 * and one REMAP per entry) and the fds the successor inherited.
 *
 * The NEW_OWNER cases need a library built with VDPAMAP_NEW_OWNER (this
 * file compiled with HANDOFF_NEW_OWNER links one: handoff_newowner) and a
 * device offering both bits of the proposal (a simulator spawned with the
 * offer in VDPAMAP_TEST_SIM_BACKEND); otherwise they skip, saying why.
 * Output ends with "N passed, N failed, N skipped"; exit 0, 1, or 77 (all
 * skipped; handoff_newowner, built with HANDOFF_NEW_OWNER_ONLY: the device
 * cannot do NEW_OWNER at all).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <grp.h>
#include <poll.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "shape.h"
#include "vdpamap.h"
#include "vnet.h"
#include "handoff/handoff.h" /* src/: the description's layout, to forge one */

#define MEM_SIZE     (4u << 20)
#define RACE_READERS 2 /* rebuild_race */
#define FAIL(...)                                                             \
	do {                                                                  \
		fprintf(stderr, "[%d] FAIL %s:%d: ", (int)getpid(), __func__, \
			__LINE__);                                            \
		fprintf(stderr, __VA_ARGS__);                                 \
		fprintf(stderr, "\n");                                        \
		exit(1);                                                      \
	} while (0)
#define CHECK(c, ...) CHECK_OR(exit(1), c, __VA_ARGS__)

#ifdef HANDOFF_NEW_OWNER
#define NEW_OWNER_BUILT 1
#else
#define NEW_OWNER_BUILT 0
#endif
/* handoff_newowner: exists for NEW_OWNER; skips whole without it */
#ifdef HANDOFF_NEW_OWNER_ONLY
#define NEW_OWNER_ONLY 1
#else
#define NEW_OWNER_ONLY 0
#endif
/* the proposal's backend bits: NEW_OWNER 9, IOTLB_REMAP 10 */
#define NEW_OWNER_BITS ((1ULL << 9) | (1ULL << 10))

static int is_newowner_case(const char *cs)
{
	return !strncmp(cs, "newowner", 8) || !strcmp(cs, "keeper_newowner");
}

static const char *strategy_name(uint32_t s)
{
	return s == VDPAMAP_HANDOFF_NEW_OWNER ? "new-owner" :
	       s == VDPAMAP_HANDOFF_KEEPER    ? "keeper" :
	       s == VDPAMAP_HANDOFF_REBUILD   ? "rebuild" :
						"?";
}

/* The library's random bytes, known when HO_FIXED_RANDOM holds a 64-bit
 * hex value (case squat: the keeper's socket tag must be known to squat
 * it): its 8 bytes repeated, so any aligned 8 bytes read back as that
 * value.  The value is drawn per run: a fixed one made two runs at once
 * (another build directory, another user) squat each other.  This
 * definition interposes libc's for the library. */
ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	const char *fixed = getenv("HO_FIXED_RANDOM");

	if (fixed) {
		uint64_t v = strtoull(fixed, NULL, 16);
		size_t i;

		for (i = 0; i < len; i++)
			((uint8_t *)buf)[i] = ((const uint8_t *)&v)[i % 8];
		return (ssize_t)len;
	}
	return syscall(SYS_getrandom, buf, len, flags);
}

static char last_err[512]; /* the library's last ERR line */
static char all_err[4096]; /* every ERR line, as far as they fit */
/* the last "asid 0: N IOTLB entries after this commit (cap C)" (INFO,
 * said where the caps are enforced) */
static char last_count[256];

static void tlog(int level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= VDPAMAP_LOG_ERR) {
		size_t n = strlen(all_err);

		snprintf(last_err, sizeof(last_err), "%s", msg);
		snprintf(all_err + n, sizeof(all_err) - n, "%s\n", msg);
	}
	if (!strncmp(msg, "asid 0: ", 8) &&
	    strstr(msg, "IOTLB entries after this commit"))
		snprintf(last_count, sizeof(last_count), "%s", msg + 8);
	if (level > VDPAMAP_LOG_WARN)
		return;
	if (getenv("VDPAMAP_TEST_LOG") ||
	    (level <= VDPAMAP_LOG_ERR && !strstr(msg, ": -16")))
		fprintf(stderr, "[%d] lib(%d): %s\n", (int)getpid(), level,
			msg);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const char *dev_path(void)
{
	const char *p = getenv("HO_PATH");

	if (!p)
		FAIL("HO_PATH not set");
	return p;
}

static int open_retry(struct vdpamap_open_opts *o, struct vdpamap **h)
{
	int r, i;

	for (i = 0; i < 500; i++) {
		r = vdpamap_open(dev_path(), o, h);
		if (r != -EBUSY)
			return r;
		usleep(10000);
	}
	return r;
}

static void loop_n(struct vnet *v, uint32_t seq, int n)
{
	int i, r;

	for (i = 0; i < n; i++) {
		r = vnet_loop(v, seq + (uint32_t)i, 200, 5000);
		CHECK(r == 0, "loop seq %u: %d", seq + i, r);
	}
}

static int fd_cloexec(int fd)
{
	int f = fcntl(fd, F_GETFD);

	return f < 0 ? -1 : !!(f & FD_CLOEXEC);
}

/* The fds open in this process, excluding the directory stream's own. */
static int list_fds(int *out, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (n < max)
			out[n] = fd;
		n++;
	}
	closedir(d);
	return n;
}

static int in_set(int fd, const int *set, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (set[i] == fd)
			return 1;
	return 0;
}

/* ---- the keeper's trim */
#define HEAP_SIZE (16u << 20) /* the predecessor's "VMM heap" */

/* Resident KiB of a process (its address space), 0 if unknown. */
static uint64_t rss_kb(pid_t pid)
{
	unsigned long long size = 0, res = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
}

/* After adopt (get_info waited for the trim): every mapping left in the
 * keeper is its area (anonymous, <= 512 KiB), its code (this library's
 * file, executable, a few pages), guest memory (memfd, shared) or
 * [vsyscall]; its RSS is below the predecessor's (HO_KRSS) by the heap. */
static void check_trim(struct vdpamap *h)
{
	struct vdpamap_handoff_info info, *hi = &info;
	struct timespec ts = { 0, 5000000 };
	char path[64], line[512], self[256] = "", *fn;
	/* a function the tests' errno wrapper does not route (it returns
	 * no errno: tests/meson.build), so that its address is the
	 * library's own, not the wrapper's in this program */
	unsigned long long s, e, lo = (uintptr_t)&vdpamap_close;
	int area = 0, code = 0, guest = 0, n = 0;
	/* getenv() is tested non-NULL before strtoull() reads it:
	 * NOLINTBEGIN(clang-analyzer-core.NonNullParamChecker) */
	uint64_t before = getenv("HO_KRSS") ?
				  strtoull(getenv("HO_KRSS"), NULL, 0) :
				  0,
		 after;
	/* NOLINTEND(clang-analyzer-core.NonNullParamChecker) */
	long ps = sysconf(_SC_PAGESIZE);
	char perm[8];
	FILE *f;
	int i;

	/* the keeper trims after its reply: info has it when it is done */
	for (i = 0; i < 2000; i++) {
		CHECK(vdpamap_handoff_get_info(h, hi) == 0, "info");
		if (hi->keeper_vmas_kept)
			break;
		nanosleep(&ts, NULL);
	}

	CHECK(hi->keeper_trimmed_bytes >= HEAP_SIZE && hi->keeper_vmas_kept &&
		      hi->keeper_vmas_kept <= 8 &&
		      hi->keeper_vmas_kept < hi->keeper_vmas_before,
	      "trim: %llu bytes, %u -> %u VMAs",
	      (unsigned long long)hi->keeper_trimmed_bytes,
	      hi->keeper_vmas_before, hi->keeper_vmas_kept);
	/* the file our own copy of the library code lives in */
	f = fopen("/proc/self/maps", "r");
	CHECK(f, "maps");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx-%llx", &s, &e) == 2 && s <= lo &&
		    lo < e && (fn = strchr(line, '/'))) {
			snprintf(self, sizeof(self), "%s", fn);
			break;
		}
	fclose(f);
	CHECK(self[0], "no file holds vdpamap_close");
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)hi->keeper_pid);
	f = fopen(path, "r");
	CHECK(f, "%s", path);
	while (fgets(line, sizeof(line), f)) {
		fn = strchr(line, '/');
		CHECK(sscanf(line, "%llx-%llx %7s", &s, &e, perm) == 3,
		      "maps line %s", line);
		n++;
		if (getenv("VDPAMAP_TEST_LOG"))
			fprintf(stderr, "[%d] keeper kept %s", (int)getpid(),
				line);
		if (fn && !strncmp(fn, "/memfd:", 7) && perm[3] == 's')
			guest++;
		else if (!fn && !strchr(line, '[') && e - s <= 512 << 10 &&
			 !strcmp(perm, "rw-p"))
			area++;
		else if (fn && !strcmp(fn, self) && perm[2] == 'x' &&
			 e - s <= (unsigned long long)(ps > 16384 ? 3 * ps :
								    65536))
			code++;
		else if (strstr(line, "[vsyscall]"))
			;
		else
			FAIL("keeper %d kept %s", hi->keeper_pid, line);
	}
	fclose(f);
	CHECK(area == 1 && code == 1 && guest >= 1 &&
		      n == (int)hi->keeper_vmas_kept,
	      "kept: %d area, %d code, %d guest; %d VMAs, info says %u", area,
	      code, guest, n, hi->keeper_vmas_kept);
	after = rss_kb(hi->keeper_pid);
	CHECK(!before || after + (HEAP_SIZE >> 10) / 2 < before,
	      "keeper RSS %llu KiB, before the trim %llu KiB",
	      (unsigned long long)after, (unsigned long long)before);
	printf("trim: %llu KiB unmapped, %u -> %u VMAs, RSS %llu -> %llu "
	       "KiB\n",
	       (unsigned long long)(hi->keeper_trimmed_bytes >> 10),
	       hi->keeper_vmas_before, hi->keeper_vmas_kept,
	       (unsigned long long)before, (unsigned long long)after);
	fflush(stdout); /* before an exec or a SIGKILL */
}

/* ---- predecessor */
struct pred {
	struct vdpamap *h;
	int memfd;
	uint8_t *mem;
	struct vnet v;
	int no_base; /* the parent refuses GET_VRING_BASE (vp_vdpa) */
};

/* Whether the device refuses to say where a ring is (vp_vdpa: the virtio
 * PCI interface has no way to read it), asked of the device itself. */
static int refuses_vring_base(struct vdpamap *h)
{
	uint32_t base;

	return vdpamap_vring_get_base(h, 0, &base) == -EOPNOTSUPP;
}

/* A strategy that needs the rings' positions, on a parent that refuses
 * GET_VRING_BASE: refused, -EOPNOTSUPP, and the log names both. */
static void expect_no_base_refusal(int r, const char *strategy)
{
	CHECK(r == -EOPNOTSUPP,
	      "prepare %s on a parent without "
	      "GET_VRING_BASE: %d, want -EOPNOTSUPP",
	      strategy, r);
	CHECK(strstr(last_err, "GET_VRING_BASE") && strstr(last_err, strategy),
	      "the refusal names GET_VRING_BASE and %s: \"%s\"", strategy,
	      last_err);
}

static void pred_start(struct pred *p)
{
	struct vdpamap_region rg;
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = tlog,
		     .log_level = VDPAMAP_LOG_INFO);
	int r;

	p->memfd = memfd_create("guest", MFD_CLOEXEC);
	CHECK(p->memfd >= 0, "memfd");
	CHECK(ftruncate(p->memfd, MEM_SIZE) == 0, "ftruncate");
	p->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      p->memfd, 0);
	CHECK(p->mem != MAP_FAILED, "mmap");
	rg = (struct vdpamap_region){
		.hva = p->mem, .len = MEM_SIZE, .fd = p->memfd, .iova = 0
	};
	o.regions = &rg;
	o.nr_regions = 1;
	r = open_retry(&o, &p->h);
	CHECK(r == 0, "open %s: %d", dev_path(), r);
	r = vnet_start(&p->v, p->h, p->mem, 0, MEM_SIZE);
	CHECK(r == 0, "vnet_start: %d", r);
	loop_n(&p->v, 1, 3);
	p->no_base = refuses_vring_base(p->h);
}

static void exec_succ(const char *role, const char *cs, int sfd,
		      const struct vnet *v)
{
	char a[6][16];
	char *argv[12];
	int i;

	snprintf(a[0], 16, "%d", sfd);
	snprintf(a[1], 16, "%d", v->kick[0]);
	snprintf(a[2], 16, "%d", v->kick[1]);
	snprintf(a[3], 16, "%d", v->call[0]);
	snprintf(a[4], 16, "%d", v->call[1]);
	argv[0] = "handoff";
	argv[1] = "role";
	argv[2] = (char *)role;
	argv[3] = (char *)cs;
	for (i = 0; i < 5; i++)
		argv[4 + i] = a[i];
	argv[9] = NULL;
	setenv(VDPAMAP_HANDOFF_ENV, a[0], 1);
	execv("/proc/self/exe", argv);
	FAIL("execv: %s", strerror(errno));
}

static void clear_kick_call_cloexec(struct vnet *v)
{
	(void)v; /* the library clears them (vring kick/call) */
}

static int prepare(struct pred *p, uint32_t strategy, int *sfd)
{
	VDPAMAP_OPTS(vdpamap_handoff_opts, ho, .strategy = strategy,
		     .reattach_grace_ms = 3000);

	return vdpamap_handoff_prepare(p->h, &ho, sfd);
}

static int sealed_copy(const void *buf, size_t len, int seal)
{
	int fd = memfd_create("bad-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	CHECK(fd >= 0, "memfd");
	CHECK(write(fd, buf, len) == (ssize_t)len, "write");
	if (seal)
		CHECK(fcntl(fd, F_ADD_SEALS,
			    F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) == 0,
		      "seal");
	return fd;
}

/* CRC-32 as the library's, to forge well-checksummed bad descriptions */
static uint32_t crc32_(const uint8_t *p, size_t n)
{
	uint32_t c = ~0u;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return ~c;
}

static void reseal(uint8_t *b, size_t len)
{
	uint32_t c = crc32_(b + 16, len - 16);

	memcpy(b + 12, &c, 4);
}

/* the last error line adopt logged (it has no handle: opts' log_fn) */
static char adopt_err[512];

static void adopt_log(int level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= VDPAMAP_LOG_ERR)
		snprintf(adopt_err, sizeof(adopt_err), "%s", msg);
	if (getenv("VDPAMAP_TEST_LOG"))
		fprintf(stderr, "[%d] lib(%d): %s\n", (int)getpid(), level,
			msg);
}

/* adopt of buf must fail with -err, log a line containing want (NULL: not
 * checked) and change nothing */
static void expect_adopt_says(const void *buf, size_t len, int seal, int err,
			      const char *what, const char *want)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = adopt_log);
	struct vdpamap *h = (struct vdpamap *)0x1;
	int fd = sealed_copy(buf, len, seal), r, nb, na, fb[256], fa[256];

	adopt_err[0] = 0;
	nb = list_fds(fb, 256);
	r = vdpamap_handoff_adopt(fd, &o, &h);
	na = list_fds(fa, 256);
	CHECK(r == -err, "%s: adopt gave %d, want %d", what, r, -err);
	CHECK(!want || strstr(adopt_err, want),
	      "%s: adopt logged \"%s\", want \"%s\"", what, adopt_err, want);
	CHECK(h == (struct vdpamap *)0x1, "%s: out-param touched", what);
	CHECK(fcntl(fd, F_GETFD) >= 0, "%s: state fd closed", what);
	/* no fd closed, none left open (nothing mapped: no region fd dup) */
	CHECK(nb == na && nb <= 256 &&
		      !memcmp(fb, fa, (size_t)nb * sizeof(int)),
	      "%s: fds %d before, %d after", what, nb, na);
	close(fd);
}

static void expect_adopt(const void *buf, size_t len, int seal, int err,
			 const char *what)
{
	expect_adopt_says(buf, len, seal, err, what, NULL);
}

/* A field of the description (header at off, or regions[0] at off past
 * the header) set to v, re-checksummed: adopt refuses it as err, logging
 * want. */
static void forged_adopt(const uint8_t *b, uint8_t *c, size_t len, size_t off,
			 int32_t v, int err, const char *what, const char *want)
{
	memcpy(c, b, len);
	memcpy(c + off, &v, sizeof(v));
	reseal(c, len);
	expect_adopt_says(c, len, 1, err, what, want);
}
#define HDR_OFF(f) offsetof(struct vdm_ho_hdr, f)
#define REG0_OFF(f) \
	(sizeof(struct vdm_ho_hdr) + offsetof(struct vdm_ho_region, f))

static int new_owner_possible(struct vdpamap *h, char *why, size_t len);
static void case_squat(struct pred *p);

static void case_corrupt(struct pred *p)
{
	char vwant[64];
	struct stat st;
	uint8_t *b, *c;
	size_t len, i;
	int sfd, r, devfd = vdpamap_fd(p->h);

	r = prepare(p, VDPAMAP_HANDOFF_KEEPER, &sfd);
	CHECK(r == 0, "prepare: %d", r);
	CHECK(fstat(sfd, &st) == 0, "fstat");
	len = (size_t)st.st_size;
	b = malloc(len);
	c = malloc(len);
	CHECK(pread(sfd, b, len, 0) == (ssize_t)len, "pread");

	expect_adopt(b, len, 0, EPERM, "unsealed");
	for (i = 0; i < len; i += 37)
		expect_adopt(b, i, 1, EMSGSIZE, "truncated");
	/* a flipped bit anywhere: the checksum catches it */
	for (i = 24; i < len; i += 13) {
		memcpy(c, b, len);
		c[i] ^= 0x10;
		expect_adopt(c, len, 1, EBADMSG, "bit flip");
	}
	memcpy(c, b, len);
	c[len - 1] ^= 0x10;
	expect_adopt_says(c, len, 1, EBADMSG, "bit flip",
			  "crc: checksum mismatch");
	expect_adopt_says(b, len - 8, 1, EMSGSIZE, "truncated",
			  "total: not the length read");
	memcpy(c, b, len);
	c[0] ^= 1;
	expect_adopt_says(c, len, 1, EBADMSG, "magic", "magic: ");
	memcpy(c, b, len);
	c[8] = 99; /* version: the log names the one adopt wants */
	reseal(c, len);
	snprintf(vwant, sizeof(vwant), "version: not this library's (%u)",
		 (unsigned int)b[8]);
	expect_adopt_says(c, len, 1, EPROTONOSUPPORT, "version", vwant);
	/* the log names the field: a few of every class behind the CRC
	 * (tests/unit/test_handoff_state.c has them all) */
	forged_adopt(b, c, len, HDR_OFF(nr_as), 0, ERANGE, "nr_as",
		     "refused (-34): nr_as: 0");
	forged_adopt(b, c, len, HDR_OFF(pred_pid), 0, EINVAL, "pred_pid",
		     "refused (-22): pred_pid: not positive");
	forged_adopt(b, c, len, REG0_OFF(fd), -1, EINVAL, "region fd",
		     "refused (-22): regions[0].fd: negative");
	forged_adopt(b, c, len, REG0_OFF(id), 0, EINVAL, "region id",
		     "regions[0].id: 0 or not below next_region_id");
	memcpy(c, b, len);
	c[40] ^= 1; /* dev_ino */
	reseal(c, len);
	expect_adopt_says(c, len, 1, ENODEV, "wrong device",
			  "is not the device the description names");
	/* valid descriptions adopt refuses: the keeper socket or a region's
	 * fd fails its fstat() check (not open; open but not a socket, or
	 * another inode than the memfd's) */
	forged_adopt(b, c, len, HDR_OFF(keeper_sock), 1000, EBADF,
		     "keeper_sock not open",
		     "keeper_sock 1000 is not an open socket");
	forged_adopt(b, c, len, HDR_OFF(keeper_sock), p->memfd, EBADF,
		     "keeper_sock a memfd", "is not an open socket");
	forged_adopt(b, c, len, REG0_OFF(fd), 1000, EBADF, "region fd not open",
		     "regions[0].fd 1000 is not open, or not the file");
	forged_adopt(b, c, len, REG0_OFF(fd), devfd, EBADF,
		     "region fd another file", "regions[0].fd");
	/* a NEW_OWNER description in a build without NEW_OWNER (with it,
	 * adopt would go on to take the device over) */
	if (!NEW_OWNER_BUILT)
		forged_adopt(b, c, len, HDR_OFF(strategy),
			     VDPAMAP_HANDOFF_NEW_OWNER, EOPNOTSUPP,
			     "NEW_OWNER not built",
			     "strategy NEW_OWNER: not in this build");
	r = vdpamap_handoff_adopt(-1, NULL, &(struct vdpamap *){ NULL });
	CHECK(r == 0 || r == -EBADF || r < 0, "env adopt");
	{
		struct vdpamap *h2 = NULL;

		r = vdpamap_handoff_adopt(1000, NULL, &h2);
		CHECK(r == -EBADF, "closed fd: %d", r);
	}
	free(b);
	free(c);
	/* nothing changed: cancel, and the device carries on */
	r = vdpamap_handoff_cancel(p->h);
	CHECK(r == 0, "cancel: %d", r);
	CHECK(fd_cloexec(devfd) == 1, "dev fd CLOEXEC not restored");
	loop_n(&p->v, 20, 3);
}

static void case_cancel(struct pred *p)
{
	struct vdpamap_handoff_info hi;
	int sfd, r, devfd = vdpamap_fd(p->h);
	pid_t kp;

	r = prepare(p, VDPAMAP_HANDOFF_KEEPER, &sfd);
	CHECK(r == 0, "prepare: %d", r);
	CHECK(fd_cloexec(devfd) == 0, "dev fd still CLOEXEC");
	CHECK(fd_cloexec(sfd) == 0, "state fd CLOEXEC");
	CHECK(fd_cloexec(p->memfd) == 0, "memfd CLOEXEC");
	CHECK(fd_cloexec(p->v.kick[0]) == 0, "kick CLOEXEC");
	r = vdpamap_handoff_prepare(p->h, NULL, &sfd);
	CHECK(r == -EALREADY, "second prepare: %d", r);
	r = vdpamap_handoff_get_info(p->h, &hi);
	CHECK(r == 0 && hi.strategy == VDPAMAP_HANDOFF_KEEPER &&
		      hi.keeper_alive && hi.keeper_pid > 0,
	      "info %d", r);
	kp = hi.keeper_pid;
	r = vdpamap_handoff_cancel(p->h);
	CHECK(r == 0, "cancel: %d", r);
	CHECK(fd_cloexec(devfd) == 1 && fd_cloexec(p->memfd) == 1 &&
		      fd_cloexec(p->v.kick[0]) == 1,
	      "CLOEXEC not restored");
	CHECK(fcntl(sfd, F_GETFD) < 0, "state fd left open");
	CHECK(kill(kp, 0) < 0, "keeper %d still alive after cancel", kp);
	r = vdpamap_handoff_cancel(p->h);
	CHECK(r == -EALREADY, "second cancel: %d", r);
	loop_n(&p->v, 30, 3);
	r = prepare(p, VDPAMAP_HANDOFF_REBUILD, &sfd);
	if (p->no_base) {
		expect_no_base_refusal(r, "rebuild");
		CHECK(fd_cloexec(devfd) == 1, "refused, fds changed");
	} else {
		CHECK(r == 0, "prepare rebuild: %d", r);
		CHECK(fd_cloexec(devfd) == 1, "rebuild passes the dev fd");
		r = vdpamap_handoff_cancel(p->h);
		CHECK(r == 0, "cancel: %d", r);
	}
	loop_n(&p->v, 40, 3);
	/* NEW_OWNER: the dev fd passes, no keeper; or it is refused */
	{
		char why[256];
		int no = new_owner_possible(p->h, why, sizeof(why));

		r = prepare(p, VDPAMAP_HANDOFF_NEW_OWNER, &sfd);
		CHECK(r == (no ? 0 : -EOPNOTSUPP), "prepare NEW_OWNER: %d", r);
		if (no) {
			r = vdpamap_handoff_get_info(p->h, &hi);
			CHECK(r == 0 && !hi.keeper_alive && !hi.keeper_pid &&
				      hi.strategy == VDPAMAP_HANDOFF_NEW_OWNER,
			      "info %d", r);
			CHECK(fd_cloexec(devfd) == 0 && fd_cloexec(sfd) == 0,
			      "NEW_OWNER keeps the dev fd CLOEXEC");
			r = vdpamap_handoff_cancel(p->h);
			CHECK(r == 0, "cancel: %d", r);
			CHECK(fd_cloexec(devfd) == 1, "CLOEXEC not restored");
		} else {
			CHECK(fd_cloexec(devfd) == 1, "refused, fds changed");
		}
		loop_n(&p->v, 45, 2);
	}
	/* anonymous regions cannot be handed off */
	{
		/* shared: a VA-mode device refuses private memory at
		 * region_add already */
		void *anon = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		struct vdpamap_region rg = { .hva = anon,
					     .len = 65536,
					     .fd = -1 };
		uint32_t id;

		CHECK(vdpamap_region_add(p->h, &rg, &id) == 0, "region add");
		r = prepare(p, VDPAMAP_HANDOFF_AUTO, &sfd);
		CHECK(r == -EINVAL, "anonymous region: %d", r);
		CHECK(fd_cloexec(devfd) == 1, "failed prepare changed fds");
		CHECK(vdpamap_region_del(p->h, id) == 0, "region del");
	}
	loop_n(&p->v, 50, 2);
}

/* Whether this build and this device can do NEW_OWNER; why not in why. */
static int new_owner_possible(struct vdpamap *h, char *why, size_t len)
{
	struct vdpamap_info in;

	if (!NEW_OWNER_BUILT) {
		snprintf(why, len,
			 "library built without -Dnew_owner (the "
			 "handoff-sim-newowner test runs them)");
		return 0;
	}
	CHECK(vdpamap_get_info(h, &in) == 0, "info");
	if ((in.backend_offered & NEW_OWNER_BITS) != NEW_OWNER_BITS) {
		snprintf(why, len,
			 "the device offers backend features 0x%llx, "
			 "not NEW_OWNER (bit 9) + IOTLB_REMAP (bit 10): no "
			 "released kernel has the \"vdpa live update\" "
			 "proposal",
			 (unsigned long long)in.backend_offered);
		return 0;
	}
	return 1;
}

/* What the successor must find again after adopt (check_caps): the
 * IOTLB entry caps as the predecessor read them, and its own count of
 * ASID 0's entries ("[at least ]N"), if the caps are enforced. */
static void pred_caps_env(struct vdpamap *h)
{
	struct vdpamap_info in;
	char b[96];
	size_t l;

	CHECK(vdpamap_get_info(h, &in) == 0, "info");
	snprintf(b, sizeof(b), "%u:%u:%u", in.max_iotlb_entries,
		 in.parent_max_iotlb_entries,
		 in.caps_flags & ~VDPAMAP_CAPS_COUNT_UNKNOWN);
	setenv("HO_CAPS", b, 1);
	if (!(in.caps_flags & VDPAMAP_CAPS_ENFORCED) || !last_count[0])
		return;
	CHECK(sscanf(last_count, "%95[^I]", b) == 1, "count: %s", last_count);
	for (l = strlen(b); l && b[l - 1] == ' ';)
		b[--l] = 0;
	setenv("HO_COUNT", b, 1);
}

/* After adopt the handle knows the caps as the predecessor did, and
 * each adopted entry's count: one more page mapped in ASID 0 makes the
 * predecessor's count plus one, exact where it was exact (a successor
 * that counted adopted entries as unknown would say "at least"). */
static void check_caps(struct vdpamap *h, const struct vdpamap_region *rg)
{
	const char *want = getenv("HO_CAPS"), *cnt = getenv("HO_COUNT");
	unsigned long long n;
	struct vdpamap_info in;
	char got[96], exp[96];
	const char *num;
	int r;

	CHECK(want && vdpamap_get_info(h, &in) == 0, "HO_CAPS, info");
	snprintf(got, sizeof(got), "%u:%u:%u", in.max_iotlb_entries,
		 in.parent_max_iotlb_entries,
		 in.caps_flags & ~VDPAMAP_CAPS_COUNT_UNKNOWN);
	CHECK(!strcmp(got, want), "caps after adopt %s, predecessor %s", got,
	      want);
	if (!cnt) {
		/* the library counts nothing while every entry's bound fits
		 * the cap: this test's few maps never come near it.
		 * caps-handoff (tests/unit) counts across a handoff near a
		 * lowered cap */
		printf("  caps %s; ASID 0's count not checked: the "
		       "predecessor counted nothing (%s)\n",
		       got,
		       in.caps_flags & VDPAMAP_CAPS_ENFORCED ?
			       "far below the cap" :
			       "caps not enforced");
		return;
	}
	num = strncmp(cnt, "at least ", 9) ? cnt : cnt + 9;
	n = strtoull(num, NULL, 10);
	snprintf(exp, sizeof(exp), "%.*s%llu IOTLB entries", (int)(num - cnt),
		 cnt, n + 1);
	last_count[0] = 0;
	r = vdpamap_map(h, 0, 512 << 20, rg->hva, 4096, VDPAMAP_PERM_RW);
	CHECK(r == 0, "map one page: %d", r);
	CHECK(!strncmp(last_count, exp, strlen(exp)),
	      "after adopt: \"%s\", want \"%s...\"", last_count, exp);
	r = vdpamap_unmap(h, 0, 512 << 20, 4096);
	CHECK(r == 0, "unmap: %d", r);
	printf("  caps %s; ASID 0: %s entries before the exec, %s after one "
	       "more map\n",
	       got, cnt, exp);
}

static int nr_threads(void)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");
	int n = 0;

	CHECK(dir, "/proc/self/task");
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

static int nr_maps(pid_t pid)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	CHECK(f, "%s", path);
	while (fgets(line, sizeof(line), f))
		n += strchr(line, '\n') != NULL;
	fclose(f);
	return n;
}

/* The keeper's trim is off the downtime: after adopt it waits for the
 * first frame (or get_info), so the old image's mappings (this program,
 * libc, the loader, the heap, ...) are all still there a while later. */
static void check_trim_waits(pid_t kp)
{
	struct timespec ts = { 0, 100000000 };
	int n;

	nanosleep(&ts, NULL);
	n = nr_maps(kp);
	CHECK(n > 8, "keeper %d trimmed before the first frame: %d mappings",
	      (int)kp, n);
}

/* The predecessor knows its own two phases, nothing of the successor's;
 * a phases struct too small for any field is refused. */
static void check_phases_pred(struct vdpamap *h)
{
	VDPAMAP_OPTS(vdpamap_handoff_phases, ph);
	struct vdpamap_handoff_phases before;
	int r;

	r = vdpamap_handoff_get_phases(h, &ph);
	CHECK(r == 0, "phases: %d", r);
	CHECK(ph.predecessor_ns > 0 && !ph.exec_ns && !ph.adopt_ns &&
		      !ph.downtime_ns &&
		      ph.library_ns == ph.suspend_ns + ph.predecessor_ns,
	      "predecessor's phases: suspend %llu, rest %llu, exec %llu, "
	      "adopt %llu",
	      (unsigned long long)ph.suspend_ns,
	      (unsigned long long)ph.predecessor_ns,
	      (unsigned long long)ph.exec_ns, (unsigned long long)ph.adopt_ns);
	ph.sz = sizeof(size_t) + 4;
	before = ph;
	r = vdpamap_handoff_get_phases(h, &ph);
	CHECK(r == -EINVAL && !memcmp(&ph, &before, sizeof(ph)),
	      "phases of sz %zu: %d", before.sz, r);
	CHECK(vdpamap_handoff_first_frame(h) == -ENOENT,
	      "a predecessor's first frame");
	CHECK(vdpamap_handoff_get_phases(h, NULL) == -EINVAL, "phases NULL");
}

/* After the first frame: the phases partition the downtime, the exec is
 * known, a second mark is refused; a struct of an older caller (one
 * field) gets that field alone. */
static void check_phases_succ(struct vdpamap *h, const char *cs, int threads0)
{
	struct {
		struct vdpamap_handoff_phases p;
		uint64_t more[2];
	} big = { .p.sz = sizeof(big), .more = { 7, 7 } };
	struct vdpamap_handoff_phases *ph = &big.p;
	struct {
		size_t sz;
		uint64_t suspend_ns, guard;
	} small = { .sz = sizeof(size_t) + 8, .guard = 7 };
	int r;

	CHECK(vdpamap_handoff_get_phases(h, ph) == 0, "phases");
	CHECK(!ph->downtime_ns && !ph->first_frame_ns,
	      "a downtime before the mark");
	r = vdpamap_handoff_first_frame(h);
	CHECK(r == 0, "first frame: %d", r);
	CHECK(nr_threads() > threads0,
	      "no call_rcu thread after the first frame");
	CHECK(vdpamap_handoff_first_frame(h) == -EALREADY, "second mark");
	CHECK(vdpamap_handoff_get_phases(h, ph) == 0, "phases");
	CHECK(big.p.sz == sizeof(big) && !big.more[0] && !big.more[1],
	      "a larger struct's tail not zeroed");
	CHECK(ph->exec_ns > 0 && ph->adopt_ns > 0 && ph->first_frame_ns > 0,
	      "phases: exec %llu, adopt %llu, first frame %llu",
	      (unsigned long long)ph->exec_ns, (unsigned long long)ph->adopt_ns,
	      (unsigned long long)ph->first_frame_ns);
	CHECK(ph->parse_ns + ph->map_ns + ph->takeover_ns + ph->resume_ns <=
		      ph->adopt_ns,
	      "adopt %llu below its parts %llu + %llu + %llu + %llu",
	      (unsigned long long)ph->adopt_ns,
	      (unsigned long long)ph->parse_ns, (unsigned long long)ph->map_ns,
	      (unsigned long long)ph->takeover_ns,
	      (unsigned long long)ph->resume_ns);
	CHECK(ph->library_ns == ph->suspend_ns + ph->predecessor_ns +
					ph->adopt_ns &&
		      ph->downtime_ns ==
			      ph->library_ns + ph->exec_ns + ph->first_frame_ns,
	      "downtime %llu is not library %llu + exec %llu + first frame "
	      "%llu",
	      (unsigned long long)ph->downtime_ns,
	      (unsigned long long)ph->library_ns,
	      (unsigned long long)ph->exec_ns,
	      (unsigned long long)ph->first_frame_ns);
	CHECK(vdpamap_handoff_get_phases(h, (void *)&small) == 0 &&
		      small.guard == 7 && small.suspend_ns == ph->suspend_ns,
	      "a one-field struct");
	printf("[%s] phases (us): suspend %llu, predecessor %llu, exec %llu, "
	       "adopt %llu (parse %llu, map %llu, takeover %llu, resume %llu), "
	       "first frame %llu; library %llu of %llu\n",
	       cs, (unsigned long long)(ph->suspend_ns / 1000),
	       (unsigned long long)(ph->predecessor_ns / 1000),
	       (unsigned long long)(ph->exec_ns / 1000),
	       (unsigned long long)(ph->adopt_ns / 1000),
	       (unsigned long long)(ph->parse_ns / 1000),
	       (unsigned long long)(ph->map_ns / 1000),
	       (unsigned long long)(ph->takeover_ns / 1000),
	       (unsigned long long)(ph->resume_ns / 1000),
	       (unsigned long long)(ph->first_frame_ns / 1000),
	       (unsigned long long)(ph->library_ns / 1000),
	       (unsigned long long)(ph->downtime_ns / 1000));
}

static void role_pred(const char *cs)
{
	struct pred p;
	uint32_t strat = VDPAMAP_HANDOFF_KEEPER;
	char why[256];
	int sfd, r, no;

	alarm(120);
	pred_start(&p);
	clear_kick_call_cloexec(&p.v);
	no = new_owner_possible(p.h, why, sizeof(why));
	if (is_newowner_case(cs) && !no) {
		printf("skip %s: %s\n", cs, why);
		vnet_stop(&p.v);
		vdpamap_close(p.h);
		exit(77);
	}
	if (is_newowner_case(cs)) {
		/* more entries for the REMAPs: three in ASID 0 (a batch
		 * where BATCH is negotiated), one in ASID 1 */
		r = vdpamap_map(p.h, 0, 256 << 20, p.mem, 64 << 10,
				VDPAMAP_PERM_RO);
		CHECK(r == 0, "map: %d", r);
		r = vdpamap_map(p.h, 0, (256 << 20) + (64 << 10),
				p.mem + (64 << 10), 64 << 10, VDPAMAP_PERM_RW);
		CHECK(r == 0, "map: %d", r);
		if (vdpamap_has_feature(p.h, VDPAMAP_F_IOTLB_ASID)) {
			r = vdpamap_map(p.h, 1, 0, p.mem, 1 << 20,
					VDPAMAP_PERM_RW);
			CHECK(r == 0, "map asid 1: %d", r);
		}
	}
	if (!strcmp(cs, "squat")) {
		case_squat(&p);
		vnet_stop(&p.v);
		vdpamap_close(p.h);
		exit(0);
	}
	if (!strcmp(cs, "corrupt")) {
		case_corrupt(&p);
		vdpamap_close(p.h);
		exit(0);
	}
	if (!strcmp(cs, "cancel")) {
		case_cancel(&p);
		vdpamap_close(p.h);
		exit(0);
	}
	/* AUTO: NEW_OWNER where this build and the device can, else the
	 * keeper */
	if (!strcmp(cs, "keeper") && !no)
		strat = VDPAMAP_HANDOFF_AUTO;
	if (!strcmp(cs, "newowner") || !strcmp(cs, "newowner2"))
		strat = VDPAMAP_HANDOFF_AUTO;
	if (!strcmp(cs, "rebuild"))
		strat = VDPAMAP_HANDOFF_REBUILD;
	if (strat == VDPAMAP_HANDOFF_KEEPER || !strcmp(cs, "keeper")) {
		/* what a VMM has besides guest memory: the keeper's trim
		 * must drop it */
		void *heap = mmap(NULL, HEAP_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		CHECK(heap != MAP_FAILED, "heap");
		memset(heap, 0x5a, HEAP_SIZE);
	}
	r = prepare(&p, strat, &sfd);
	if (strat == VDPAMAP_HANDOFF_REBUILD && p.no_base) {
		/* refused before anything stopped: the device runs on */
		expect_no_base_refusal(r, "rebuild");
		loop_n(&p.v, 5, 3);
		printf("skip %s: the parent refuses GET_VRING_BASE, so a "
		       "REBUILD successor could not set the rings where they "
		       "stopped (the refusal was checked)\n",
		       cs);
		vnet_stop(&p.v);
		vdpamap_close(p.h);
		exit(77);
	}
	CHECK(r == 0, "prepare: %d", r);
	if (strat == VDPAMAP_HANDOFF_KEEPER || !strcmp(cs, "keeper")) {
		struct vdpamap_handoff_info hi;
		char kb[24];

		/* the keeper's RSS is ours (one address space) until the
		 * successor's adopt has it trimmed */
		vdpamap_handoff_get_info(p.h, &hi);
		CHECK(hi.strategy == VDPAMAP_HANDOFF_KEEPER &&
			      hi.keeper_trimmed_bytes == 0,
		      "trimmed before exec");
		snprintf(kb, sizeof(kb), "%llu",
			 (unsigned long long)rss_kb(hi.keeper_pid));
		setenv("HO_KRSS", kb, 1);
		snprintf(kb, sizeof(kb), "%d", hi.keeper_pid);
		setenv("HO_KPID", kb, 1);
	}
	{
		struct vdpamap_handoff_info hi;
		uint32_t want = !strncmp(cs, "newowner", 8) ?
					VDPAMAP_HANDOFF_NEW_OWNER :
				!strcmp(cs, "rebuild") ?
					VDPAMAP_HANDOFF_REBUILD :
					VDPAMAP_HANDOFF_KEEPER;

		r = vdpamap_handoff_get_info(p.h, &hi);
		CHECK(r == 0 && hi.strategy == want, "prepared %s, want %s",
		      strategy_name(hi.strategy), strategy_name(want));
	}
	/* a NEW_OWNER handoff passes nothing but the device fd: no keeper */
	if (!strncmp(cs, "newowner", 8)) {
		struct vdpamap_handoff_info hi;

		vdpamap_handoff_get_info(p.h, &hi);
		CHECK(!hi.keeper_alive && !hi.keeper_pid, "a keeper %d",
		      hi.keeper_pid);
	}
	if (!strcmp(cs, "pred_kill")) {
		struct vdpamap_handoff_info hi;
		FILE *f = fopen(getenv("HO_PIDFILE"), "w");

		vdpamap_handoff_get_info(p.h, &hi);
		fprintf(f, "%d\n", hi.keeper_pid);
		fclose(f);
		raise(SIGKILL);
	}
	check_phases_pred(p.h);
	pred_caps_env(p.h);
	exec_succ("succ", cs, sfd, &p.v);
}

/* ---- successors */
static uint32_t expected_strategy(const char *role, const char *cs)
{
	if (!strcmp(cs, "rebuild"))
		return VDPAMAP_HANDOFF_REBUILD;
	if (!strncmp(cs, "newowner", 8))
		return VDPAMAP_HANDOFF_NEW_OWNER;
	if (!strcmp(cs, "keeper_newowner") && !strcmp(role, "succ2"))
		return VDPAMAP_HANDOFF_NEW_OWNER;
	return VDPAMAP_HANDOFF_KEEPER;
}

/* NEW_OWNER just adopted: no UPDATE or INVALIDATE, exactly one REMAP per
 * mirror entry (refused: one INVALIDATE + UPDATE instead, refused REMAPs
 * being the first `refused`), and (simulator) every entry of the device's
 * own table points at this image's mapping of the memory. */
static void check_new_owner(struct vdpamap *h, uint64_t refused)
{
	struct vdpamap_sim_entry se[64];
	struct vdpamap_stats st;
	struct vdpamap_info in;
	uint64_t ents = 0;
	uint32_t a;
	int n, k;

	CHECK(vdpamap_get_stats(h, &st) == 0, "stats");
	CHECK(vdpamap_get_info(h, &in) == 0, "info");
	for (a = 0; a < in.nr_as; a++)
		ents += vdpamap_entry_count(h, a);
	CHECK(ents > 0, "no entries");
	CHECK(st.iotlb_updates == refused && st.iotlb_invalidates == refused,
	      "NEW_OWNER: %llu UPDATE, %llu INVALIDATE",
	      (unsigned long long)st.iotlb_updates,
	      (unsigned long long)st.iotlb_invalidates);
	CHECK(st.iotlb_remaps == ents - refused,
	      "NEW_OWNER: %llu REMAPs for "
	      "%llu entries",
	      (unsigned long long)st.iotlb_remaps, (unsigned long long)ents);
	/* ASID 0 has several entries: one batch where BATCH is negotiated.
	 * A refused REMAP is a write too, then INVALIDATE + UPDATE */
	CHECK(vdpamap_entry_count(h, 0) > 1, "ASID 0: one entry");
	if (vdpamap_has_feature(h, VDPAMAP_F_IOTLB_BATCH))
		CHECK(st.iotlb_batches >= 1 &&
			      st.iotlb_writes == st.iotlb_remaps + 3 * refused +
							 2 * st.iotlb_batches,
		      "REMAPs not batched: %llu writes, %llu batches",
		      (unsigned long long)st.iotlb_writes,
		      (unsigned long long)st.iotlb_batches);
	else
		CHECK(st.iotlb_writes == st.iotlb_remaps + 3 * refused,
		      "%llu writes", (unsigned long long)st.iotlb_writes);
	printf("  new-owner: %llu REMAP%s for %llu entr%s, %llu IOTLB "
	       "writes in all, %llu UPDATE, %llu INVALIDATE\n",
	       (unsigned long long)st.iotlb_remaps,
	       st.iotlb_remaps == 1 ? "" : "s", (unsigned long long)ents,
	       ents == 1 ? "y" : "ies", (unsigned long long)st.iotlb_writes,
	       (unsigned long long)st.iotlb_updates,
	       (unsigned long long)st.iotlb_invalidates);
	if (getenv("VDPAMAP_TEST_DEV"))
		return;
	for (a = 0; a < in.nr_as; a++) {
		n = vdpamap_sim_table(dev_path(), a, se, 64);
		CHECK(n >= 0 && n <= 64, "sim table: %d", n);
		for (k = 0; k < n; k++) {
			void *hva = NULL;
			uint64_t len = 0;
			int r = vdpamap_translate(h, a, se[k].iova, &hva, &len);

			CHECK(r == 0 && (uintptr_t)hva == se[k].uaddr,
			      "asid %u iova 0x%llx: device uaddr 0x%llx, "
			      "mirror %p (%d)",
			      a, (unsigned long long)se[k].iova,
			      (unsigned long long)se[k].uaddr, hva, r);
		}
	}
}

/* rebuild_race: lock-free readers (lookups, dirty marks) running while
 * vdpamap_handoff_rebuild() swaps the handle's insides: the old snapshots
 * and dirty logs must outlive every reader that may hold them (built with
 * -fsanitize=thread or address, a reader touching freed memory fails). */
struct race {
	struct vdpamap *h;
	void *hva;
	volatile int stop;
	uint64_t lookups, marks;
};

static void *race_reader(void *arg)
{
	struct race *rc = arg;
	uint64_t off = 0;

	while (!__atomic_load_n(&rc->stop, __ATOMIC_ACQUIRE)) {
		void *hva;
		uint64_t iova;

		off = (off + 4096) % MEM_SIZE;
		if (vdpamap_translate(rc->h, 0, off, &hva, NULL) == 0 &&
		    vdpamap_reverse(rc->h, 0, hva, &iova, NULL) == 0)
			rc->lookups++;
		if (vdpamap_dirty_mark(rc->h, 0, off, 4096) == 0)
			rc->marks++;
	}
	return NULL;
}

static void race_start(struct race *rc, pthread_t *t, int n)
{
	int i;

	for (i = 0; i < n; i++)
		CHECK(pthread_create(&t[i], NULL, race_reader, &rc[i]) == 0,
		      "reader thread");
}

static void race_stop(struct race *rc, pthread_t *t, int n)
{
	int i;

	for (i = 0; i < n; i++)
		__atomic_store_n(&rc[i].stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		CHECK(rc[i].lookups > 0, "reader %d: no lookup succeeded", i);
	}
}

static void role_succ(const char *role, const char *cs, char **a)
{
	int sfd = atoi(a[0]);
	int kick[2] = { atoi(a[1]), atoi(a[2]) };
	int call[2] = { atoi(a[3]), atoi(a[4]) };
	int fds[64], nfd, expect[16], ne = 0, i, r, extra, refused;
	uint32_t want = expected_strategy(role, cs);
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = tlog,
		     .log_level = VDPAMAP_LOG_INFO);
	struct vdpamap_handoff_info hi;
	struct vdpamap_region rg;
	struct vdpamap_stats st;
	struct vdpamap *h = NULL;
	uint32_t ids[4];
	struct vnet v;
	int threads0;
	uint64_t t;

	/* what an exec'd successor may hold: stdio, the state, the guest
	 * memfd, the four eventfds, and with the keeper the device fd and
	 * the keeper socket; with NEW_OWNER the device fd (and the socket
	 * of a keeper the predecessor had, for the successor to dismiss) */
	extra = want == VDPAMAP_HANDOFF_KEEPER	? 2 :
		want == VDPAMAP_HANDOFF_REBUILD ? 0 :
		!strcmp(cs, "keeper_newowner")	? 2 :
						  1;
	nfd = list_fds(fds, 64);
	expect[ne++] = 0;
	expect[ne++] = 1;
	expect[ne++] = 2;
	expect[ne++] = sfd;
	for (i = 0; i < 2; i++) {
		expect[ne++] = kick[i];
		expect[ne++] = call[i];
	}
	if (nfd != ne + 1 + extra)
		for (i = 0; i < nfd && i < 64; i++) {
			char l[64], tgt[128] = "";

			snprintf(l, sizeof(l), "/proc/self/fd/%d", fds[i]);
			if (readlink(l, tgt, sizeof(tgt) - 1) < 0)
				tgt[0] = 0;
			fprintf(stderr, "  fd %d -> %s\n", fds[i], tgt);
		}
	CHECK(nfd == ne + 1 + extra, "%d fds inherited, want %d", nfd,
	      ne + 1 + extra);
	for (i = 0; i < ne; i++)
		CHECK(in_set(expect[i], fds, nfd), "fd %d not inherited",
		      expect[i]);

	/* newowner2, second successor (simulator): the device refuses the
	 * first REMAP (the IOTLB write after BATCH_BEGIN): re-created */
	refused = !getenv("VDPAMAP_TEST_DEV") && !strcmp(cs, "newowner2") &&
		  !strcmp(role, "succ2");
	if (refused) {
		r = vdpamap_sim_fail_nth(dev_path(), VDPAMAP_SIM_FAIL_MSG, 2);
		CHECK(r == 0, "fail_nth: %d", r);
	}
	/* newowner on a PA simulator: NEW_OWNER over RLIMIT_MEMLOCK is
	 * -ENOMEM and changes nothing; with the limit back it works */
	if (!strcmp(cs, "newowner") && !getenv("VDPAMAP_TEST_DEV") &&
	    getenv("HO_FLAVOUR") && !strcmp(getenv("HO_FLAVOUR"), "pa")) {
		struct rlimit old, low;

		CHECK(getrlimit(RLIMIT_MEMLOCK, &old) == 0, "getrlimit");
		low = (struct rlimit){ .rlim_cur = 1 << 20,
				       .rlim_max = old.rlim_max };
		CHECK(setrlimit(RLIMIT_MEMLOCK, &low) == 0, "setrlimit");
		r = vdpamap_handoff_adopt(-1, &o, &h);
		CHECK(r == -ENOMEM, "adopt over RLIMIT_MEMLOCK: %d", r);
		CHECK(fcntl(sfd, F_GETFD) >= 0 && fd_cloexec(kick[0]) == 0,
		      "a failed adopt changed the fds");
		CHECK(setrlimit(RLIMIT_MEMLOCK, &old) == 0, "setrlimit");
	}
	threads0 = nr_threads(); /* a sanitizer's own, if any */
	r = vdpamap_handoff_adopt(!strcmp(cs, "keeper") ||
						  !strcmp(cs, "newowner") ?
					  -1 :
					  sfd,
				  &o, &h);
	CHECK(r == 0, "adopt: %d", r);
	CHECK(fcntl(sfd, F_GETFD) < 0, "state fd not closed by adopt");
	CHECK(vdpamap_poison_reason(h) == NULL, "poisoned: %s",
	      vdpamap_poison_reason(h));
	if (want == VDPAMAP_HANDOFF_KEEPER && !strcmp(role, "succ") &&
	    getenv("HO_KPID"))
		check_trim_waits((pid_t)atoi(getenv("HO_KPID")));
	/* no thread started inside the downtime (liburcu's call_rcu
	 * thread waits for the first frame); REBUILD opens anew */
	if (want != VDPAMAP_HANDOFF_REBUILD)
		CHECK(nr_threads() == threads0,
		      "%d threads after adopt, %d before", nr_threads(),
		      threads0);
	r = vdpamap_handoff_get_info(h, &hi);
	CHECK(r == 0, "info: %d", r);
	CHECK(hi.strategy == want, "strategy %s, want %s",
	      strategy_name(hi.strategy), strategy_name(want));
	if (want == VDPAMAP_HANDOFF_NEW_OWNER) {
		check_new_owner(h, (uint64_t)refused);
		CHECK(!hi.keeper_alive && !hi.keeper_pid, "keeper %d",
		      hi.keeper_pid);
		if (getenv("HO_OLD_KEEPER")) {
			/* the predecessor's keeper was told to go, reaped */
			pid_t kp = (pid_t)atoi(getenv("HO_OLD_KEEPER"));

			CHECK(kp > 0 && kill(kp, 0) < 0 && errno == ESRCH,
			      "old keeper %d still there", (int)kp);
		}
	}
	CHECK(vdpamap_region_ids(h, ids, 4) == 1, "regions");
	r = vdpamap_region_get(h, ids[0], &rg);
	CHECK(r == 0 && rg.len == MEM_SIZE, "region_get %d", r);
	CHECK(vdpamap_region_get(h, 999, &rg) == -ENOENT, "region 999");
	r = vnet_attach(&v, h, rg.hva, 0, MEM_SIZE, kick, call);
	CHECK(r == 0, "vnet_attach: %d", r);
	loop_n(&v, 100, 1);
	t = now_ns();
	printf("[%s%s] %s: downtime %.2f ms (adopt %.2f ms)\n", cs,
	       strcmp(role, "succ") ? " second" : "", strategy_name(want),
	       (double)(t - hi.suspend_ns) / 1e6, (double)hi.adopt_ns / 1e6);
	check_phases_succ(h, cs, threads0);
	loop_n(&v, 101, 3);
	if (want == VDPAMAP_HANDOFF_KEEPER && hi.keeper_alive) {
		check_trim(h); /* and the data path still runs */
		loop_n(&v, 104, 2);
	}
	r = vdpamap_get_stats(h, &st);
	CHECK(r == 0, "stats");
	if (want == VDPAMAP_HANDOFF_KEEPER)
		CHECK(st.iotlb_writes == 0, "keeper: %llu IOTLB writes",
		      (unsigned long long)st.iotlb_writes);
	else if (want == VDPAMAP_HANDOFF_REBUILD)
		CHECK(st.iotlb_writes > 0 && st.iotlb_remaps == 0,
		      "rebuild: %llu writes, %llu REMAPs",
		      (unsigned long long)st.iotlb_writes,
		      (unsigned long long)st.iotlb_remaps);
	CHECK(fd_cloexec(kick[0]) == 1 && fd_cloexec(rg.fd) == 1,
	      "inherited fds not CLOEXEC again");
	if (!strcmp(role, "succ"))
		check_caps(h, &rg);

	if ((!strcmp(cs, "keeper2") || !strcmp(cs, "newowner2") ||
	     !strcmp(cs, "keeper_newowner")) &&
	    !strcmp(role, "succ")) {
		/* keeper2: the same keeper again; newowner2: NEW_OWNER
		 * again; keeper_newowner: AUTO picks NEW_OWNER and the next
		 * image dismisses the keeper */
		VDPAMAP_OPTS(vdpamap_handoff_opts, ho,
			     .strategy = !strcmp(cs, "keeper2") ?
						 VDPAMAP_HANDOFF_KEEPER :
						 VDPAMAP_HANDOFF_AUTO);
		struct vdpamap_handoff_info h2;

		r = vdpamap_handoff_prepare(h, &ho, &sfd);
		CHECK(r == 0, "second prepare: %d", r);
		vdpamap_handoff_get_info(h, &h2);
		CHECK(h2.strategy == expected_strategy("succ2", cs),
		      "second prepare chose %s", strategy_name(h2.strategy));
		if (!strcmp(cs, "keeper2"))
			CHECK(h2.keeper_pid == hi.keeper_pid, "a new keeper");
		if (!strcmp(cs, "keeper_newowner")) {
			char kp[16];

			snprintf(kp, sizeof(kp), "%d", hi.keeper_pid);
			setenv("HO_OLD_KEEPER", kp, 1);
		}
		{
			struct vnet vv = v;

			exec_succ("succ2", cs, sfd, &vv);
		}
	}
	if (!strcmp(cs, "keeper") || !strcmp(cs, "keeper2") ||
	    is_newowner_case(cs)) {
		/* a new region goes to the keeper by memfd (NEW_OWNER: we
		 * own the device now); maps work */
		int mfd = memfd_create("more", MFD_CLOEXEC);
		void *m;
		uint32_t id;

		CHECK(mfd >= 0 && ftruncate(mfd, 1 << 20) == 0, "memfd");
		m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
			 0);
		CHECK(m != MAP_FAILED, "mmap");
		rg = (struct vdpamap_region){ .hva = m,
					      .len = 1 << 20,
					      .fd = mfd };
		r = vdpamap_region_add(h, &rg, &id);
		CHECK(r == 0, "region add via keeper: %d", r);
		r = vdpamap_map(h, 0, 64 << 20, m, 1 << 20, VDPAMAP_PERM_RW);
		CHECK(r == 0, "map via keeper: %d", r);
		r = vdpamap_unmap(h, 0, 64 << 20, 1 << 20);
		CHECK(r == 0, "unmap via keeper: %d", r);
		CHECK(vdpamap_region_del(h, id) == 0, "region del");
		loop_n(&v, 110, 2);
	}
	if (!strcmp(cs, "keeper_kill") || !strcmp(cs, "rebuild_race")) {
		int pfd = (int)syscall(SYS_pidfd_open, hi.keeper_pid, 0);
		int race = !strcmp(cs, "rebuild_race");
		struct race rc[RACE_READERS];
		pthread_t rt[RACE_READERS];
		int no_base = refuses_vring_base(h); /* through the keeper */
		uint32_t base;

		if (race) {
			r = vdpamap_dirty_start(h, 0, NULL);
			CHECK(r == 0, "dirty start: %d", r);
			for (i = 0; i < RACE_READERS; i++)
				rc[i] = (struct race){ .h = h, .hva = rg.hva };
			race_start(rc, rt, RACE_READERS);
		}
		CHECK(kill(hi.keeper_pid, SIGKILL) == 0, "kill keeper");
		if (pfd >= 0) {
			struct timespec ts = { 0, 20000000 };

			for (i = 0; i < 200 && kill(hi.keeper_pid, 0) == 0; i++)
				nanosleep(&ts, NULL);
		}
		r = vdpamap_vring_get_base(h, 0, &base);
		CHECK(r == -EOWNERDEAD || r == -ENOTRECOVERABLE,
		      "after keeper death: %d", r);
		CHECK(vdpamap_poison_reason(h) != NULL, "no poison reason");
		r = vdpamap_handoff_get_info(h, &hi);
		CHECK(r == 0 && !hi.keeper_alive, "keeper_alive");
		r = vdpamap_map(h, 0, 64 << 20, rg.hva, 4096, VDPAMAP_PERM_RW);
		CHECK(r == -ENOTRECOVERABLE, "map on poisoned: %d", r);
		r = vdpamap_handoff_rebuild(h);
		if (no_base) {
			/* the rings ran on: a parent that cannot place a
			 * ring anywhere but at 0 (vp_vdpa) cannot continue
			 * them, and the library says so */
			CHECK(r == -EOPNOTSUPP,
			      "rebuild on a parent without ring positions: "
			      "%d, want -EOPNOTSUPP",
			      r);
			CHECK(strstr(all_err, "SET_VRING_BASE") != NULL,
			      "the refusal names SET_VRING_BASE: \"%s\"",
			      all_err);
			if (race)
				race_stop(rc, rt, RACE_READERS);
			printf("skip %s: the parent cannot set a ring's "
			       "position (SET_VRING_BASE), so no rebuild "
			       "continues its rings (the refusal was "
			       "checked)\n",
			       cs);
			exit(77);
		}
		CHECK(r == 0, "rebuild: %d", r);
		if (race) {
			struct timespec ts = { 0, 50000000 };

			nanosleep(&ts, NULL); /* readers on the new state */
			race_stop(rc, rt, RACE_READERS);
		}
		CHECK(vdpamap_poison_reason(h) == NULL, "still poisoned");
		CHECK(vdpamap_handoff_rebuild(h) == -EALREADY, "rebuild twice");
		loop_n(&v, 120, 3);
		if (pfd >= 0)
			close(pfd);
	}
	if (!strcmp(cs, "succ_kill")) {
		/* what a management layer persists for a re-attach */
		FILE *f = fopen(getenv("HO_PIDFILE"), "w");

		fprintf(f, "%d %016llx ", hi.keeper_pid,
			(unsigned long long)hi.keeper_sock_tag);
		for (i = 0; i < VDPAMAP_HANDOFF_CRED_LEN; i++)
			fprintf(f, "%02x", hi.keeper_cred[i]);
		fprintf(f, "\n");
		fclose(f);
		raise(SIGKILL);
	}
	vnet_stop(&v);
	vdpamap_close(h);
	exit(0);
}

/* Connect to the keeper's socket of tag as a process without the
 * credential would, send ATTACH with len credential bytes cred; returns
 * the reply's ret, and how many fds came with it in *nfd. */
static int raw_attach(uint64_t tag, const uint8_t *cred, uint32_t len, int *nfd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct {
		struct vdm_kp_msg m;
		uint8_t cred[VDM_KP_CRED_LEN];
	} q = {
		.m = { .magic = VDM_KP_MAGIC, .op = VDM_KP_ATTACH, .len = len }
	};
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE(32 * sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = &q.m, .iov_len = sizeof(q.m) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	struct cmsghdr *ch;
	int c, n, k;

	*nfd = 0;
	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
		     "vdpamap-keeper-%016llx", (unsigned long long)tag);
	c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	CHECK(c >= 0, "socket");
	CHECK(connect(c, (struct sockaddr *)&sa,
		      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				  n)) == 0,
	      "connect to the keeper: %s", strerror(errno));
	if (len)
		memcpy(q.cred, cred, len);
	CHECK(send(c, &q, sizeof(q.m) + len, MSG_NOSIGNAL) ==
		      (ssize_t)(sizeof(q.m) + len),
	      "send");
	memset(&cm, 0, sizeof(cm));
	n = (int)recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	for (ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch))
		if (ch->cmsg_type == SCM_RIGHTS) {
			int cnt = (int)((ch->cmsg_len - CMSG_LEN(0)) /
					sizeof(int));

			for (k = 0; k < cnt; k++)
				close(((int *)CMSG_DATA(ch))[k]);
			*nfd += cnt;
		}
	close(c);
	return n == (int)sizeof(q.m) ? q.m.ret : n < 0 ? -errno : -EPROTO;
}

/* A process of the same uid without the credential asks a waiting
 * keeper: nothing (no fd), however it asks, and the keeper goes on
 * waiting. */
static void intruder(pid_t kp, uint64_t tag, const uint8_t *cred)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = tlog,
		     .log_level = VDPAMAP_LOG_WARN);
	VDPAMAP_OPTS(vdpamap_reattach_opts, ro, .open = &o, .keeper_pid = kp,
		     .keeper_sock_tag = tag);
	uint8_t wrong[VDM_KP_CRED_LEN];
	struct vdpamap *h = NULL;
	int nfd, r;

	r = raw_attach(tag, NULL, 0, &nfd);
	CHECK(r == -ENOKEY && nfd == 0, "no credential: %d, %d fds", r, nfd);
	memcpy(wrong, cred, sizeof(wrong));
	wrong[VDM_KP_CRED_LEN - 1] ^= 1; /* right but for one bit */
	r = raw_attach(tag, wrong, sizeof(wrong), &nfd);
	CHECK(r == -EACCES && nfd == 0, "wrong credential: %d, %d fds", r, nfd);
	memcpy(ro.keeper_cred, wrong, sizeof(wrong));
	r = vdpamap_handoff_reattach_with(&ro, &h);
	CHECK(r == -EACCES && !h, "reattach, wrong credential: %d", r);
	CHECK(strstr(last_err, "refused the credential"), "log: %s", last_err);
	/* the first interface cannot give one */
	r = vdpamap_handoff_reattach(kp, &o, &h);
	CHECK(r == -ENOKEY && !h, "reattach without credential: %d", r);
	CHECK(strstr(last_err, "vdpamap_handoff_reattach_with"), "log: %s",
	      last_err);
	exit(0);
}

/* A new process takes over from a dead successor, after an intruder. */
static void role_reattach(void)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = tlog,
		     .log_level = VDPAMAP_LOG_WARN);
	VDPAMAP_OPTS(vdpamap_reattach_opts, ro, .open = &o);
	struct vdpamap_handoff_info hi;
	struct vdpamap_region rg;
	struct vdpamap_stats st;
	struct vdpamap *h = NULL;
	unsigned long long tag = 0;
	char hex[2 * VDPAMAP_HANDOFF_CRED_LEN + 1];
	uint32_t ids[4];
	uint8_t s = 0;
	pid_t ip;
	FILE *f;
	int kp = 0, r, i, ist;

	alarm(60);
	f = fopen(getenv("HO_PIDFILE"), "r");
	CHECK(f && fscanf(f, "%d %llx %32s", &kp, &tag, hex) == 3, "pid file");
	fclose(f);
	for (i = 0; i < VDPAMAP_HANDOFF_CRED_LEN; i++)
		CHECK(sscanf(hex + (ptrdiff_t)2 * i, "%2hhx",
			     &ro.keeper_cred[i]) == 1,
		      "credential");
	ro.keeper_pid = kp;
	ro.keeper_sock_tag = tag;
	/* another process of this uid, without the credential */
	ip = fork();
	CHECK(ip >= 0, "fork");
	if (ip == 0)
		intruder(kp, tag, ro.keeper_cred);
	CHECK(waitpid(ip, &ist, 0) == ip && WIFEXITED(ist) &&
		      WEXITSTATUS(ist) == 0,
	      "intruder 0x%x", ist);
	CHECK(kill(kp, 0) == 0, "the keeper stopped waiting");
	last_err[0] = 0;
	r = vdpamap_handoff_reattach_with(&ro, &h);
	CHECK(r == 0, "reattach %d: %d", kp, r);
	/* the keeper cannot log: the rightful re-attach says what it
	 * refused */
	CHECK(strstr(last_err, "refused 3 re-attach attempt(s)"), "log: %s",
	      last_err);
	r = vdpamap_handoff_get_info(h, &hi);
	CHECK(r == 0 && hi.keeper_alive && hi.keeper_pid == kp, "info");
	CHECK(!memcmp(hi.keeper_cred, ro.keeper_cred, sizeof(ro.keeper_cred)) &&
		      hi.keeper_sock_tag == tag,
	      "info: credential, tag");
	unsetenv("HO_KRSS"); /* this process never saw the untrimmed one */
	check_trim(h);
	CHECK(vdpamap_get_status(h, &s) == 0 && (s & 4), "status 0x%x", s);
	CHECK(vdpamap_entry_count(h, 0) >= 1, "mirror empty");
	CHECK(vdpamap_region_ids(h, ids, 4) == 1, "regions");
	CHECK(vdpamap_region_get(h, ids[0], &rg) == 0, "region");
	r = vdpamap_map(h, 0, 64 << 20, rg.hva, 1 << 20, VDPAMAP_PERM_RW);
	CHECK(r == 0, "map after reattach: %d", r);
	CHECK(vdpamap_get_stats(h, &st) == 0 && st.iotlb_writes > 0, "stats");
	vdpamap_close(h);
	exit(0);
}

/* A server bound to a keeper's name (of uid; the keeper's gone, or never
 * was): it reports on report how many bytes a client sent it. */
static pid_t fake_server(uint64_t tag, uid_t uid, int report)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int rp[2], n;
	pid_t pid;
	char x;

	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
		     "vdpamap-keeper-%016llx", (unsigned long long)tag);
	CHECK(pipe(rp) == 0, "pipe");
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct pollfd pf;
		char buf[256];
		int s, c, got = 0;

		alarm(20); /* never outlive a failed test by much */
		if (uid != getuid() && (setgroups(0, NULL) < 0 ||
					setgid(uid) < 0 || setuid(uid) < 0))
			_exit(3);
		s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		if (s < 0 ||
		    bind(s, (struct sockaddr *)&sa,
			 (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				     1 + n)) < 0 ||
		    listen(s, 4) < 0)
			_exit(4);
		if (write(rp[1], "r", 1) != 1)
			_exit(5);
		c = accept(s, NULL, NULL);
		pf = (struct pollfd){ .fd = c, .events = POLLIN };
		if (c >= 0 && poll(&pf, 1, 3000) == 1) {
			ssize_t k = recv(c, buf, sizeof(buf), MSG_DONTWAIT);

			got = k > 0 ? (int)k : 0;
		}
		if (write(report, &got, sizeof(got)) != sizeof(got))
			_exit(6);
		_exit(0);
	}
	close(rp[1]);
	CHECK(read(rp[0], &x, 1) == 1, "fake server not ready");
	close(rp[0]);
	return pid;
}

/* reattach to a fake keeper: -EPERM, and not a byte of the credential
 * reached it. */
static void expect_fake_refused(uid_t uid, int pid_is_fake)
{
	VDPAMAP_OPTS(vdpamap_open_opts, o, .log_fn = tlog,
		     .log_level = VDPAMAP_LOG_WARN);
	VDPAMAP_OPTS(vdpamap_reattach_opts, ro, .open = &o,
		     .keeper_pid = getpid());
	struct vdpamap *h = NULL;
	int rep[2], got = -1, st, r;
	pid_t fp;

	CHECK(getrandom(&ro.keeper_sock_tag, 8, 0) == 8 &&
		      getrandom(ro.keeper_cred, sizeof(ro.keeper_cred), 0) ==
			      sizeof(ro.keeper_cred),
	      "getrandom");
	CHECK(pipe(rep) == 0, "pipe");
	fp = fake_server(ro.keeper_sock_tag, uid, rep[1]);
	if (pid_is_fake)
		ro.keeper_pid = fp; /* the pid is right: the uid is not */
	r = vdpamap_handoff_reattach_with(&ro, &h);
	CHECK(r == -EPERM && !h, "reattach to a fake keeper (uid %u): %d",
	      (unsigned int)uid, r);
	CHECK(strstr(last_err, "not the keeper"), "log: %s", last_err);
	CHECK(read(rep[0], &got, sizeof(got)) == sizeof(got), "report");
	CHECK(got == 0, "the fake keeper received %d bytes", got);
	CHECK(waitpid(fp, &st, 0) == fp && WIFEXITED(st) &&
		      WEXITSTATUS(st) == 0,
	      "fake server 0x%x", st);
	close(rep[0]);
	close(rep[1]);
	printf("fake keeper of uid %u, %s pid: refused (%s)\n",
	       (unsigned int)uid, pid_is_fake ? "its own" : "another",
	       last_err);
}

static void role_fake(void)
{
	alarm(60);
	expect_fake_refused(getuid(), 0);
	if (getuid() == 0)
		expect_fake_refused(65534, 1);
	else
		printf("fake keeper of another uid: not tried (setuid needs "
		       "root)\n");
	exit(0);
}

/* A squatter took the keeper's socket name before prepare: prepare fails
 * with -EADDRINUSE naming it, the device carries on, and a prepare with
 * the name free works. */
static void case_squat(struct pred *p)
{
	struct vdpamap_handoff_info hi;
	int rep[2], sfd = -1, r, st;
	char name[64], hex[24];
	uint64_t tag;
	pid_t sq;

	/* the tag the library will draw: known to us, new for this run */
	CHECK(syscall(SYS_getrandom, &tag, sizeof(tag), 0) == sizeof(tag),
	      "getrandom");
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)tag);
	setenv("HO_FIXED_RANDOM", hex, 1);
	snprintf(name, sizeof(name), "@vdpamap-keeper-%016llx",
		 (unsigned long long)tag);
	CHECK(pipe(rep) == 0, "pipe");
	sq = fake_server(tag, getuid(), rep[1]);
	r = prepare(p, VDPAMAP_HANDOFF_KEEPER, &sfd);
	CHECK(r == -EADDRINUSE, "prepare with the name squatted: %d", r);
	CHECK(strstr(last_err, name), "log names %s: %s", name, last_err);
	r = vdpamap_handoff_get_info(p->h, &hi);
	CHECK(r == -ENOENT || (!hi.keeper_alive && !hi.keeper_pid),
	      "a keeper after the refused prepare");
	loop_n(&p->v, 200, 2); /* nothing changed */
	kill(sq, SIGKILL);
	waitpid(sq, &st, 0);
	close(rep[0]);
	close(rep[1]);
	r = prepare(p, VDPAMAP_HANDOFF_KEEPER, &sfd);
	CHECK(r == 0, "prepare with the name free: %d", r);
	unsetenv("HO_FIXED_RANDOM");
	CHECK(vdpamap_handoff_cancel(p->h) == 0, "cancel");
	loop_n(&p->v, 210, 2);
}

/* After the predecessor died mid-prepare: its keeper lets the device go
 * after its re-attach grace; a fresh open then works. */
static void role_fresh(void)
{
	struct pred p;

	alarm(60);
	pred_start(&p);
	vnet_stop(&p.v);
	vdpamap_close(p.h);
	exit(0);
}

/* ---- driver */
static int run(const char *role, const char *cs)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execl("/proc/self/exe", "handoff", "role", role, cs,
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

static int run_case(const char *cs)
{
	int r;

	if (!strcmp(cs, "fake_server"))
		return run("fake", cs);
	r = run("pred", cs);
	if (!strcmp(cs, "succ_kill")) {
		if (r != 128 + SIGKILL)
			return r ? r : 1;
		r = run("reattach", cs);
	} else if (!strcmp(cs, "pred_kill")) {
		if (r != 128 + SIGKILL)
			return r ? r : 1;
		r = run("fresh", cs);
	}
	return r;
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"newowner",    "newowner2",    "keeper_newowner", "keeper",
		"keeper2",     "rebuild",      "cancel",	  "corrupt",
		"keeper_kill", "rebuild_race", "succ_kill",	  "pred_kill",
		"squat",       "fake_server",
	};
	const char *only = getenv("HO_ONLY"); /* one case, by name */
	const char *flv[2] = { "va", "pa" };
	int nflv = 2, passed = 0, failed = 0, skipped = 0, f;
	const char *dev = getenv("VDPAMAP_TEST_DEV");
	const char *offer = getenv("VDPAMAP_TEST_SIM_BACKEND");
	char pidfile[64];
	size_t i;

	if (argc >= 4 && !strcmp(argv[1], "role")) {
		if (!strcmp(argv[2], "pred"))
			role_pred(argv[3]);
		if (!strcmp(argv[2], "succ") || !strcmp(argv[2], "succ2")) {
			CHECK(argc >= 9, "succ args");
			role_succ(argv[2], argv[3], argv + 4);
		}
		if (!strcmp(argv[2], "reattach"))
			role_reattach();
		if (!strcmp(argv[2], "fresh"))
			role_fresh();
		if (!strcmp(argv[2], "fake"))
			role_fake();
		FAIL("unknown role %s", argv[2]);
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	if (getenv("VDPAMAP_MEMCHECK")) {
		/* meson test --setup valgrind (tests/valgrind/memcheck.sh) */
		printf("skip: every case re-executes this program "
		       "(/proc/self/exe is valgrind's launcher under memcheck) "
		       "and the keeper is a clone(CLONE_VM) without a thread "
		       "(valgrind refuses it)\n");
		return 77;
	}
	/* whatever the caller left open would be counted as leaked */
	syscall(SYS_close_range, 3, ~0U, 0);
	snprintf(pidfile, sizeof(pidfile), "/tmp/vdpamap-ho-%d.pid",
		 (int)getpid());
	setenv("HO_PIDFILE", pidfile, 1);
	if (dev) {
		nflv = 1;
		flv[0] = getenv("VDPAMAP_VM_CONFIG") ?
				 getenv("VDPAMAP_VM_CONFIG") :
				 "kernel";
		setenv("HO_PATH", dev, 1);
	} else if (getenv("VDPAMAP_TEST_SIM")) {
		nflv = 1;
		flv[0] = getenv("VDPAMAP_TEST_SIM");
	}
	for (f = 0; f < nflv; f++) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char path[108];
			pid_t sp = 0;
			int r;

			if (only && strcmp(only, cases[i]))
				continue;
			if (!dev) {
				VDPAMAP_OPTS(vdpamap_sim_opts, so);

				if (offer)
					so.backend_features =
						strtoull(offer, NULL, 0);
				/* the device's shape (shape.h) */
				if (sim_shape_apply(&so) < 0)
					return 2;
				if (!strcmp(flv[f], "pa"))
					so.flags = VDPAMAP_SIM_PA;
				else if (!strcmp(flv[f], "permap"))
					so.flags = VDPAMAP_SIM_PA |
						   VDPAMAP_SIM_PER_MAP;
				r = vdpamap_sim_spawn(&so, path, sizeof(path),
						      &sp);
				if (r < 0) {
					printf("sim spawn: %d\n", r);
					return 1;
				}
				setenv("HO_PATH", path, 1);
			}
			setenv("HO_FLAVOUR", flv[f], 1);
			r = run_case(cases[i]);
			printf("%s %s/%s\n",
			       r == 0  ? "ok  " :
			       r == 77 ? "skip" :
					 "FAIL",
			       flv[f], cases[i]);
			if (r == 0)
				passed++;
			else if (r == 77)
				skipped++;
			else
				failed++;
			if (!dev)
				vdpamap_sim_stop(path);
			/* the NEW_OWNER build exists for the NEW_OWNER cases:
			 * a device without the proposal skips it whole */
			if (NEW_OWNER_ONLY && r == 77 && !i) {
				unlink(pidfile);
				printf("skipped: NEW_OWNER cannot run on this "
				       "device (see above)\n");
				return 77;
			}
		}
	}
	unlink(pidfile);
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : passed ? 0 : 77;
}
