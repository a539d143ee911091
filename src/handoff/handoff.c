// SPDX-License-Identifier: BSD-3-Clause
/*
 * handoff: exec handoff (live update) of an open device, see handoff.h and
 * docs/handoff.md.  prepare/cancel in the predecessor, adopt/reattach in
 * the successor, rebuild after keeper death, and the queries.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handoff/handoff.h"
#include "uapi/vhost_vdpa.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int pidfd_open_(pid_t pid)
{
	long r = syscall(SYS_pidfd_open, pid, 0);

	return r < 0 ? -errno : (int)r;
}

static int set_cloexec(int fd, bool on, bool *was)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -errno;
	if (was)
		*was = fl & FD_CLOEXEC;
	fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
	return fcntl(fd, F_SETFD, fl) < 0 ? -errno : 0;
}

static void kl_log(void *ctx, int level, const char *msg)
{
	vdm_log(ctx, level, "%s", msg);
}

/* The keeper is dead: the device has no owner any more. */
static void kl_lost(void *ctx, const char *why)
{
	vdm_poison(ctx, "%s", why);
}

static struct vdm_handoff *ho_new(void)
{
	struct vdm_handoff *ho = calloc(1, sizeof(*ho));

	if (!ho)
		return NULL;
	ho->state_fd = -1;
	vdm_kp_link_init(&ho->kl);
	ho->kl.log = kl_log;
	ho->kl.lost = kl_lost;
	return ho;
}

static bool keeper_live(struct vdpamap *h)
{
	return h->ho && h->ho->kl.sock >= 0 && !h->ho->kl.dead;
}

/* Wait for the keeper to go (it is our child if this image, or one before
 * it in the same process, created it). */
static void keeper_reap(struct vdm_handoff *ho)
{
	struct pollfd p = { .fd = ho->kl.pidfd, .events = POLLIN };
	siginfo_t si;

	if (ho->kl.pidfd < 0)
		return;
	poll(&p, 1, 2000);
	memset(&si, 0, sizeof(si));
	waitid((idtype_t)P_PIDFD, (id_t)ho->kl.pidfd, &si,
	       WEXITED | WNOHANG);
}

static void keeper_drop(struct vdpamap *h, bool tell)
{
	struct vdm_handoff *ho = h->ho;

	if (!ho)
		return;
	if (tell && keeper_live(h))
		vdm_kp_call(&h->ho->kl, VDM_KP_EXIT, 0, 0, NULL, 0, -1, NULL);
	/* ours but its socket broke (it cannot be told): it would wait out
	 * its re-attach grace and stay an unreaped child; end it */
	if (tell && ho->keeper_ours && ho->kl.dead && ho->kl.pidfd >= 0)
		syscall(SYS_pidfd_send_signal, ho->kl.pidfd, SIGKILL, NULL,
			0);
	if (ho->kl.sock >= 0)
		close(ho->kl.sock);
	ho->kl.sock = -1;
	if (tell)
		keeper_reap(ho);
	if (ho->kl.pidfd >= 0)
		close(ho->kl.pidfd);
	ho->kl.pidfd = -1;
	if (ho->keeper_area) {
		munmap(ho->keeper_area, VDM_KP_AREA);
		ho->keeper_area = NULL;
	}
	ho->kl.pid = 0;
	if (ho->kl.trim_pending)
		close(ho->kl.trim_fd);
	ho->kl.trim_pending = 0;
}

static void handoff_close(struct vdpamap *h)
{
	keeper_drop(h, true);
}

static void handoff_free(struct vdpamap *h)
{
	if (!h->ho)
		return;
	keeper_drop(h, false);
	if (h->ho->state_fd >= 0)
		close(h->ho->state_fd);
	free(h->ho);
	h->ho = NULL;
	vdm_hook_set(h, VDM_HOOK_HANDOFF, NULL);
}

static void handoff_sync(struct vdpamap *h);

static const struct vdm_hook_ops handoff_hooks = {
	.leave = handoff_sync,
	.close = handoff_close,
	.free = handoff_free,
};

/* h->ho is set (or replaced): hook the handle's leave, close and free. */
static void ho_attach(struct vdpamap *h, struct vdm_handoff *ho)
{
	h->ho = ho;
	if (ho)
		ho->kl.ctx = h;
	vdm_hook_set(h, VDM_HOOK_HANDOFF, ho ? &handoff_hooks : NULL);
}

/* ---- the description */
struct ser_opts {
	uint32_t strategy;
	int32_t dev_fd, keeper_sock;
	uint64_t t_suspend;
	uint64_t t_prepare;		/* prepare's cost up to serializing */
};

static int serialize(struct vdpamap *h, const struct ser_opts *so,
		     void **ret_buf, size_t *ret_len)
{
	uint32_t nreg = 0, nent = 0, nvr = 0, i, a;
	struct vdm_ho_region *rg_out;
	struct vdm_ho_entry *e_out;
	struct vdm_ho_vring *v_out;
	struct vdm_ho_hdr *hd;
	struct vdm_region *rg;
	struct stat st = { 0 };
	uint32_t *u32;
	size_t len;
	uint8_t *b;

	for (rg = h->map->regions; rg; rg = rg->next)
		nreg++;
	for (a = 0; a < h->info.nr_as; a++)
		nent += (uint32_t)h->map->as[a].iova.count;
	for (i = 0; i < h->info.nr_vqs; i++)
		nvr += h->lc->vrings[i].set;
	len = vdm_handoff_size(nreg, nent, h->info.nr_groups, h->info.nr_vqs,
			      nvr);
	if (!len) {
		vdm_err(h, "handoff: %u regions, %u entries: too many", nreg,
		       nent);
		return -E2BIG;
	}
	b = calloc(1, len);
	if (!b)
		return -ENOMEM;
	hd = (struct vdm_ho_hdr *)b;
	if (h->tp->fd >= 0 && fstat(h->tp->fd, &st) < 0) {
		free(b);
		return -errno;
	}
	*hd = (struct vdm_ho_hdr){
		.magic = VDM_HO_MAGIC,
		.version = VDM_HO_VERSION,
		.total = len,
		.strategy = so->strategy,
		.flags = h->flags,
		.dev_dev = st.st_dev,
		.dev_ino = st.st_ino,
		.dev_rdev = st.st_rdev,
		.dev_fd = so->dev_fd,
		.keeper_sock = so->keeper_sock,
		.keeper_pid = so->keeper_sock >= 0 ? h->ho->kl.pid : 0,
		.pred_pid = getpid(),
		.token = h->ho ? h->ho->token : 0,
		.device_id = h->info.device_id,
		.nr_vqs = h->info.nr_vqs,
		.nr_groups = h->info.nr_groups,
		.nr_as = h->info.nr_as,
		.config_size = h->info.config_size,
		.max_vring_num = h->info.max_vring_num,
		.mem_mode = h->info.mem_mode,
		.is_sim = h->info.is_sim,
		.device_features = h->info.device_features,
		.backend_offered = h->info.backend_offered,
		.backend_acked = h->info.backend_acked,
		.iova_first = h->info.iova_first,
		.iova_last = h->info.iova_last,
		.driver_features = h->lc->driver_features,
		.page_size = h->page_size,
		.status = h->lc->status,
		.next_region_id = h->map->next_region_id,
		.t_suspend_ns = so->t_suspend,
		.t_prepare_ns = so->t_prepare,
		.nr_regions = nreg,
		.nr_entries = nent,
		.nr_vrings = nvr,
	};
	if (h->ho)
		memcpy(hd->path, h->ho->path, sizeof(hd->path));

	rg_out = (struct vdm_ho_region *)(hd + 1);
	for (rg = h->map->regions, i = 0; rg; rg = rg->next, i++) {
		struct stat fst = { 0 };

		if (rg->r.fd >= 0)
			fstat(rg->r.fd, &fst);
		rg_out[i] = (struct vdm_ho_region){
			.ino = fst.st_ino,
			.id = rg->id,
			.fd = rg->r.fd,
			.len = rg->r.len,
			.fd_offset = rg->r.fd_offset,
			.dev_base = rg->dev_base ? rg->dev_base :
						   (uint64_t)(uintptr_t)rg->r.hva,
			.perm = rg->r.perm,
			.iova = rg->r.iova,
		};
	}
	e_out = (struct vdm_ho_entry *)(rg_out + nreg);
	i = 0;
	for (a = 0; a < h->info.nr_as; a++) {
		struct itree_node *n;

		for (n = itree_first(&h->map->as[a].iova); n; n = itree_next(n)) {
			struct vdm_entry *e = vdm_entry_of(n);

			e_out[i++] = (struct vdm_ho_entry){
				.iova = n->first,
				.size = vdm_entry_size(e),
				.off = e->hva - (uint64_t)(uintptr_t)
							e->region->r.hva,
				.asid = a,
				.perm = e->perm,
				.region_id = e->region->id,
			};
		}
	}
	u32 = (uint32_t *)(e_out + nent);
	for (i = 0; i < h->info.nr_groups; i++)
		*u32++ = h->lc->group_asid[i];
	for (i = 0; i < h->info.nr_vqs; i++)
		*u32++ = h->lc->vq_group[i];
	v_out = (struct vdm_ho_vring *)((uint8_t *)u32 +
				       VDM_HO_U32_PAD(h->info.nr_groups,
						     h->info.nr_vqs));
	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vdm_vring *vr = &h->lc->vrings[i];

		if (!vr->set)
			continue;
		*v_out++ = (struct vdm_ho_vring){
			.idx = i,
			.flags = VDM_HO_VRING_SET |
				 (vr->enabled ? VDM_HO_VRING_ENABLED : 0),
			.num = vr->v.num,
			.base = vr->v.base & 0xffff,
			.desc = vr->v.desc,
			.avail = vr->v.avail,
			.used = vr->v.used,
			.kick_fd = vr->v.kick_fd,
			.call_fd = vr->v.call_fd,
		};
	}
	vdm_handoff_seal(b);
	*ret_buf = b;
	*ret_len = len;
	return 0;
}

/* A sealed memfd holding buf; cloexec as asked. */
static int state_memfd(const void *buf, size_t len, bool cloexec)
{
	int fd = memfd_create("vdpamap-handoff", MFD_ALLOW_SEALING |
						 (cloexec ? MFD_CLOEXEC : 0));
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, (const uint8_t *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -EIO;
		}
		done += (size_t)n;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
				   F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Read a whole state fd (8-byte aligned buffer). */
static int state_read(int fd, void **ret, size_t *ret_len)
{
	struct stat st;
	size_t done = 0;
	int seals;
	void *b;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -EBADF;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_WRITE | F_SEAL_SHRINK)) !=
				 (F_SEAL_WRITE | F_SEAL_SHRINK))
		return -EPERM;
	if (st.st_size < (off_t)sizeof(struct vdm_ho_hdr))
		return -EMSGSIZE;
	if (st.st_size > (off_t)(64ULL << 20))
		return -EMSGSIZE;
	b = malloc((size_t)st.st_size);
	if (!b)
		return -ENOMEM;
	while (done < (size_t)st.st_size) {
		ssize_t n = pread(fd, (uint8_t *)b + done,
				  (size_t)st.st_size - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(b);
			return -EIO;
		}
		done += (size_t)n;
	}
	*ret = b;
	*ret_len = done;
	return 0;
}

/* ---- the keeper */
static int keeper_region_hook(struct vdpamap *h, struct vdm_region *rg,
			      bool add)
{
	int64_t addr = 0;
	int r;

	if (!keeper_live(h))
		return add ? -EOWNERDEAD : 0;
	if (!add) {
		if (rg->dev_base)
			vdm_kp_call(&h->ho->kl, VDM_KP_MUNMAP, rg->dev_base,
				       rg->r.len, NULL, 0, -1, NULL);
		h->ho->kl.stale = 1;
		return 0;
	}
	if (rg->r.fd < 0) {
		vdm_err(h, "region [%p, +0x%llx): the mm keeper can only map "
		       "fd-backed regions", rg->r.hva,
		       (unsigned long long)rg->r.len);
		return -EINVAL;
	}
	r = vdm_kp_call(&h->ho->kl, VDM_KP_MMAP, rg->r.len, rg->r.fd_offset, NULL,
			   0, rg->r.fd, &addr);
	if (r < 0) {
		vdm_err(h, "mm keeper: mmap of region fd %d: %d", rg->r.fd, r);
		return r;
	}
	vdm_region_dev_base_set(h, rg, (uint64_t)addr);
	h->ho->kl.stale = 1;
	return 0;
}

static int keeper_listen(struct vdpamap *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r, n;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
		     "vdpamap-keeper-%d", (int)h->ho->kl.pid);
	if (bind(fd, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) <
		    0 ||
	    listen(fd, 4) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = vdm_kp_call(&h->ho->kl, VDM_KP_SETSTATE, 1, 0, NULL, 0, fd, NULL);
	close(fd);
	return r;
}

static int keeper_create(struct vdpamap *h, uint32_t grace_ms)
{
	struct vdm_handoff *ho = h->ho;
#if VDM_KEEPER_SUPPORTED
	struct vdm_keeper_args *a;
	sigset_t all, old;
	int sp[2], r, k = 0;
	struct vdm_region *rg;
	int64_t pong = 0;
	uint8_t *area;
	long pid;
	char path[64];
	FILE *f;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	area = mmap(NULL, VDM_KP_AREA, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		r = -errno;
		close(sp[0]);
		close(sp[1]);
		return r;
	}
	/* [args | buffer | ... stack ...] */
	a = (struct vdm_keeper_args *)area;
	memset(a, 0, sizeof(*a));
	a->sock = sp[1];
	a->dev_fd = h->tp->fd;
	a->listen_fd = -1;
	a->state_fd = -1;
	a->is_sim = h->tp->is_sim;
	a->token = vdm_image_token();
	a->grace_ms = grace_ms ? grace_ms : 30000;
	a->buf = area + 4096;
	/* what a trim must spare besides the area (keeper.h) */
	a->code_lo = (uint64_t)(uintptr_t)__start_vdpamap_keeper;
	a->code_hi = (uint64_t)(uintptr_t)__stop_vdpamap_keeper;
	a->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	for (rg = h->map->regions; rg && k < VDM_KP_MAX_KEEP; rg = rg->next)
		if (rg->r.fd >= 0)
			a->keep[k++] = rg->r.fd;
	a->nkeep = k;

	/* the child starts with every signal blocked: until it resets them
	 * the inherited handlers must not run on its stack */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = vdm_keeper_clone(CLONE_VM | SIGCHLD, area + VDM_KP_AREA, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(sp[1]);
	if (pid < 0) {
		vdm_err(h, "mm keeper: clone: %ld", pid);
		close(sp[0]);
		munmap(area, VDM_KP_AREA);
		return -EAGAIN;
	}
	ho->kl.sock = sp[0];
	ho->kl.pid = (int32_t)pid;
	ho->keeper_area = area;
	ho->keeper_ours = 1;
	ho->kl.dead = 0;
	ho->token = a->token;
	r = pidfd_open_((pid_t)pid);
	if (r < 0) {
		vdm_err(h, "mm keeper: pidfd_open: %d", r);
		kill((pid_t)pid, SIGKILL);
		waitpid((pid_t)pid, NULL, 0);
		keeper_drop(h, false);
		return r;
	}
	ho->kl.pidfd = r;
	/* protect it from the OOM killer as far as we may */
	snprintf(path, sizeof(path), "/proc/%ld/oom_score_adj", pid);
	f = fopen(path, "we");
	if (f) {
		fputs("-1000", f);
		if (fclose(f) != 0)
			vdm_dbg(h, "mm keeper: oom_score_adj not lowered");
	}
	r = vdm_kp_call(&h->ho->kl, VDM_KP_PING, 0, 0, NULL, 0, -1, &pong);
	if (r < 0 || pong != pid) {
		vdm_err(h, "mm keeper %ld does not answer (%d)", pid, r);
		kill((pid_t)pid, SIGKILL);
		keeper_drop(h, true);
		if (h->poison)		/* keeper_broke() poisoned: undo */
			vdm_poison_clear(h);
		return -EAGAIN;
	}
	r = keeper_listen(h);
	if (r < 0 && !keeper_live(h)) {
		/* the keeper stopped answering: it is ours, gone now, and
		 * the device never left our hands */
		vdm_err(h, "mm keeper: set-up message failed (%d)", r);
		keeper_drop(h, true);
		if (h->poison && !h->tp->broken)
			vdm_poison_clear(h);
		return r;
	}
	if (r < 0)
		vdm_warn(h, "mm keeper: no re-attach socket (%d)", r);
	vdm_info(h, "mm keeper created: pid %ld", pid);
	return 0;
#else
	(void)ho;
	(void)grace_ms;
	vdm_err(h, "mm keeper: not available on this architecture");
	return -EOPNOTSUPP;
#endif
}

/* ---- prepare / cancel */
static int clear_cloexec(struct vdpamap *h, int fd)
{
	struct vdm_handoff *ho = h->ho;
	bool was;
	uint32_t i;
	int r;

	if (fd < 0)
		return 0;
	for (i = 0; i < ho->nr_cleared; i++)
		if (ho->cleared[i] == fd)
			return 0;
	r = set_cloexec(fd, false, &was);
	if (r < 0) {
		vdm_err(h, "handoff: fd %d: %d", fd, r);
		return r == -EBADF ? -EINVAL : r;
	}
	if (was) {
		if (ho->nr_cleared >= ARRAY_SIZE(ho->cleared)) {
			set_cloexec(fd, true, NULL);
			vdm_err(h, "handoff: more than %zu fds to pass",
			       ARRAY_SIZE(ho->cleared));
			return -E2BIG;
		}
		ho->cleared[ho->nr_cleared++] = fd;
	}
	return 0;
}

static void restore_cloexec(struct vdpamap *h)
{
	struct vdm_handoff *ho = h->ho;
	uint32_t i;

	for (i = 0; i < ho->nr_cleared; i++)
		set_cloexec(ho->cleared[i], true, NULL);
	ho->nr_cleared = 0;
}

/* Both bits of the proposal offered (bit 9 alone may be a vendor's
 * GROUP_ASID_AFTER_DRIVER_OK).  They need not be acked: the proposal
 * checks the device's offer, and acking a vendor's bit 9 could change
 * what the device does. */
static bool new_owner_offered(const struct vdpamap *h)
{
	const uint64_t both = (1ULL << VHOST_BACKEND_F_NEW_OWNER) |
			      (1ULL << VHOST_BACKEND_F_IOTLB_REMAP);

	return (h->info.backend_offered & both) == both;
}

static bool new_owner_available(struct vdpamap *h)
{
#ifdef VDPAMAP_NEW_OWNER
	return new_owner_offered(h);
#else
	(void)new_owner_offered;
	(void)h;
	return false;
#endif
}

static const char *strategy_name(uint32_t s)
{
	switch (s) {
	case VDPAMAP_HANDOFF_NEW_OWNER:
		return "new-owner";
	case VDPAMAP_HANDOFF_KEEPER:
		return "keeper";
	case VDPAMAP_HANDOFF_REBUILD:
		return "rebuild";
	default:
		return "?";
	}
}

static int device_path(struct vdpamap *h, char *out, size_t len)
{
	char link[64];
	ssize_t n;

	if (h->ho && h->ho->path[0]) {
		snprintf(out, len, "%s", h->ho->path);
		return 0;
	}
	if (h->tp->is_sim) {
		struct sockaddr_un sa;
		socklen_t sl = sizeof(sa);

		memset(&sa, 0, sizeof(sa));
		if (getpeername(h->tp->fd, (struct sockaddr *)&sa, &sl) < 0)
			return -errno;
		snprintf(out, len, "%s", sa.sun_path);
		return 0;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", h->tp->fd);
	n = readlink(link, out, len - 1);
	if (n <= 0)
		return -errno;
	out[n] = 0;
	return 0;
}

static int do_prepare(struct vdpamap *h, uint32_t strategy,
		      const struct vdpamap_handoff_opts *o, int *ret_fd)
{
	struct vdm_handoff *ho = h->ho;
	struct ser_opts so = { .strategy = strategy, .dev_fd = -1,
			       .keeper_sock = -1 };
	const int *extra = OPTS_GET(o, extra_fds, NULL);
	uint32_t nextra = OPTS_GET(o, nr_extra_fds, 0), i;
	uint64_t t0 = now_ns();
	struct vdm_region *rg;
	size_t len = 0;
	void *buf = NULL;
	int r, sfd = -1;

	if (strategy == VDPAMAP_HANDOFF_KEEPER && !keeper_live(h)) {
		r = keeper_create(h, OPTS_GET(o, reattach_grace_ms, 0));
		if (r < 0)
			return r;
	}
	/* stop the device, keeping DRIVER_OK */
	if ((h->lc->status & VDPAMAP_S_DRIVER_OK) &&
	    vdm_has_feature(h, VDPAMAP_F_SUSPEND)) {
		r = vdm_ioctl(h, VHOST_VDPA_SUSPEND, NULL);
		if (r < 0) {
			vdm_err(h, "handoff: SUSPEND: %d", r);
			goto fail;
		}
		ho->suspended = 1;
	}
	so.t_suspend = now_ns();
	/* where each ring is (the owner may ask: we, or our keeper) */
	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vhost_vring_state s = { .index = i };

		if (!h->lc->vrings[i].set || !(h->lc->status & VDPAMAP_S_DRIVER_OK))
			continue;
		r = vdm_ioctl(h, VHOST_GET_VRING_BASE, &s);
		if (r < 0) {
			vdm_err(h, "handoff: GET_VRING_BASE vq %u: %d", i, r);
			goto fail;
		}
		vdm_vring_base_set(h, i, s.num);
	}
	if (strategy != VDPAMAP_HANDOFF_REBUILD)
		so.dev_fd = h->tp->fd;
	/* NEW_OWNER from a handle a keeper serves: the successor dismisses
	 * the keeper once it owns the device */
	if (strategy == VDPAMAP_HANDOFF_KEEPER ||
	    (strategy == VDPAMAP_HANDOFF_NEW_OWNER && keeper_live(h)))
		so.keeper_sock = ho->kl.sock;
	so.t_prepare = now_ns() - t0;
	r = serialize(h, &so, &buf, &len);
	if (r < 0)
		goto fail;
	r = state_memfd(buf, len, false);
	free(buf);
	if (r < 0)
		goto fail;
	sfd = r;

	/* exactly the fds to pass lose CLOEXEC */
	if (so.dev_fd >= 0 && (r = clear_cloexec(h, so.dev_fd)) < 0)
		goto fail;
	if ((r = clear_cloexec(h, so.keeper_sock)) < 0)
		goto fail;
	for (rg = h->map->regions; rg; rg = rg->next)
		if ((r = clear_cloexec(h, rg->r.fd)) < 0)
			goto fail;
	for (i = 0; i < h->info.nr_vqs; i++) {
		if (!h->lc->vrings[i].set)
			continue;
		if ((r = clear_cloexec(h, h->lc->vrings[i].v.kick_fd)) < 0 ||
		    (r = clear_cloexec(h, h->lc->vrings[i].v.call_fd)) < 0)
			goto fail;
	}
	for (i = 0; i < nextra; i++)
		if ((r = clear_cloexec(h, extra[i])) < 0)
			goto fail;
	/* the keeper keeps the state for a re-attach: a keeper that cannot
	 * take it fails the prepare, which then undoes everything */
	if (keeper_live(h)) {
		r = vdm_kp_call(&h->ho->kl, VDM_KP_SETSTATE, 0, 0, NULL, 0, sfd, NULL);
		if (r < 0)
			goto fail;
	}
	ho->state_fd = sfd;
	ho->prepared = 1;
	vdm_busy_set(h, "a handoff is prepared (state fd %d): "
		    "vdpamap_handoff_cancel() first", sfd);
	ho->strategy = strategy;
	ho->t_suspend_ns = so.t_suspend;
	ho->prepare_ns = now_ns() - t0;
	vdm_info(h, "handoff prepared: strategy %s, state fd %d",
		strategy_name(strategy), sfd);
	*ret_fd = sfd;
	return 0;
fail:
	restore_cloexec(h);
	if (sfd >= 0)
		close(sfd);
	if (ho->suspended) {
		if (vdm_has_feature(h, VDPAMAP_F_RESUME))
			vdm_ioctl(h, VHOST_VDPA_RESUME, NULL);
		ho->suspended = 0;
	}
	if (ho->keeper_ours && strategy == VDPAMAP_HANDOFF_KEEPER) {
		keeper_drop(h, true);
		/* a poison from the keeper we just dropped, not the device */
		if (h->poison && !h->tp->broken)
			vdm_poison_clear(h);
	}
	return r;
}

VDPAMAP_API int vdpamap_handoff_prepare(struct vdpamap *h,
					const struct vdpamap_handoff_opts *o,
					int *ret_state_fd)
{
	uint32_t strategy, i;
	struct vdm_region *rg;
	bool fresh = false;
	int r;

	if (!ret_state_fd)
		return -EINVAL;
	r = vdm_enter(h, false);
	if (r < 0)
		return r;
	r = OPTS_CHECK(h, "handoff", o, vdpamap_handoff_opts);
	if (r < 0)
		goto out;
	strategy = OPTS_GET(o, strategy, VDPAMAP_HANDOFF_AUTO);
	if (strategy > VDPAMAP_HANDOFF_REBUILD || OPTS_GET(o, flags, 0) ||
	    OPTS_GET(o, nr_extra_fds, 0) > 32 ||
	    (OPTS_GET(o, nr_extra_fds, 0) && !OPTS_GET(o, extra_fds, NULL))) {
		vdm_err(h, "handoff: opts: strategy %u, flags 0x%x, %u extra "
		       "fds (at most 32, array %p): invalid", strategy,
		       OPTS_GET(o, flags, 0), OPTS_GET(o, nr_extra_fds, 0),
		       (const void *)OPTS_GET(o, extra_fds, NULL));
		r = -EINVAL;
		goto out;
	}
	if (h->ho && h->ho->prepared) {
		vdm_err(h, "handoff: prepared already (cancel first)");
		r = -EALREADY;
		goto out;
	}
	for (rg = h->map->regions; rg; rg = rg->next) {
		if (rg->r.fd < 0) {
			vdm_err(h, "handoff: region %u [%p, +0x%llx) has no fd: "
			       "guest memory must be fd-backed (memfd)",
			       rg->id, rg->r.hva,
			       (unsigned long long)rg->r.len);
			r = -EINVAL;
			goto out;
		}
	}
	for (i = 0; i < OPTS_GET(o, nr_extra_fds, 0); i++)
		if (fcntl(o->extra_fds[i], F_GETFD) < 0) {
			vdm_err(h, "handoff: extra fd %d is not open",
			       o->extra_fds[i]);
			r = -EINVAL;
			goto out;
		}
	if (strategy == VDPAMAP_HANDOFF_AUTO) {
		if (new_owner_available(h))
			strategy = VDPAMAP_HANDOFF_NEW_OWNER;
		else if (VDM_KEEPER_SUPPORTED)
			strategy = VDPAMAP_HANDOFF_KEEPER;
		else
			strategy = VDPAMAP_HANDOFF_REBUILD;
	}
	if (strategy == VDPAMAP_HANDOFF_NEW_OWNER && !new_owner_available(h)) {
#ifdef VDPAMAP_NEW_OWNER
		vdm_err(h, "handoff: NEW_OWNER: the device does not offer both "
		       "NEW_OWNER (bit 9) and IOTLB_REMAP (bit 10) (offer "
		       "0x%llx)", (unsigned long long)h->info.backend_offered);
#else
		vdm_err(h, "handoff: NEW_OWNER: not in this build "
		       "(meson -Dnew_owner=enabled)");
#endif
		r = -EOPNOTSUPP;
		goto out;
	}
	if (strategy == VDPAMAP_HANDOFF_KEEPER && !VDM_KEEPER_SUPPORTED) {
		vdm_err(h, "handoff: no mm keeper on this architecture");
		r = -EOPNOTSUPP;
		goto out;
	}
	if (!h->ho) {
		ho_attach(h, ho_new());
		if (!h->ho) {
			r = -ENOMEM;
			goto out;
		}
		fresh = true;
	}
	if (!h->ho->path[0]) {
		r = device_path(h, h->ho->path, sizeof(h->ho->path));
		if (r < 0) {
			vdm_err(h, "handoff: device path unknown: %d", r);
			goto undo;
		}
	}
	r = do_prepare(h, strategy, o, ret_state_fd);
undo:
	if (r < 0 && fresh) {
		free(h->ho);
		ho_attach(h, NULL);
	}
out:
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_handoff_cancel(struct vdpamap *h)
{
	struct vdm_handoff *ho;
	int r = vdm_enter(h, true);

	if (r < 0)
		return r;
	ho = h->ho;
	if (!ho || !ho->prepared) {
		r = -EALREADY;
		goto out;
	}
	restore_cloexec(h);
	close(ho->state_fd);
	ho->state_fd = -1;
	ho->prepared = 0;
	vdm_busy_clear(h);
	if (ho->keeper_ours && !ho->adopted)
		keeper_drop(h, true);
	if (ho->suspended) {
		ho->suspended = 0;
		if (vdm_has_feature(h, VDPAMAP_F_RESUME))
			r = vdm_ioctl(h, VHOST_VDPA_RESUME, NULL);
		if (r > 0)
			r = 0;
	}
	if (!ho->adopted && ho->kl.sock < 0) {
		free(ho);
		ho_attach(h, NULL);
	}
out:
	vdm_leave(h);
	return r;
}

/* ---- adopt */

static int handle_from_state(const struct vdm_handoff_state *s,
			     const struct vdpamap_open_opts *opts,
			     void *const *hvas, struct vdpamap **ret)
{
	const struct vdm_ho_hdr *hd = s->hdr;
	VDPAMAP_OPTS(vdpamap_open_opts, o);
	struct vdpamap *h;
	uint32_t i;
	int r;

	o.log_fn = OPTS_GET(opts, log_fn, NULL);
	o.log_ctx = OPTS_GET(opts, log_ctx, NULL);
	o.log_level = OPTS_GET(opts, log_level, 0);
	o.flags = hd->flags & (VDPAMAP_OPEN_ALLOW_UNALIGNED |
			       VDPAMAP_OPEN_NO_MEMLOCK_CHECK);
	o.page_size = (uint32_t)hd->page_size;
	r = vdm_handle_new(&o, &h);
	if (r < 0)
		return r;
	vdm_info_set(h, &(struct vdpamap_info){
		.device_id = hd->device_id,
		.nr_vqs = hd->nr_vqs,
		.nr_groups = hd->nr_groups,
		.nr_as = hd->nr_as,
		.config_size = hd->config_size,
		.max_vring_num = hd->max_vring_num,
		.device_features = hd->device_features,
		.backend_offered = hd->backend_offered,
		.backend_acked = hd->backend_acked,
		.iova_first = hd->iova_first,
		.iova_last = hd->iova_last,
		.mem_mode = hd->mem_mode,
		.is_sim = hd->is_sim,
	});
	if ((r = vdm_lifecycle_setup(h)) < 0 || (r = vdm_mapping_setup(h)) < 0)
		goto fail;
	vdm_lifecycle_restore(h, s->group_asid, s->vq_group,
			     (uint8_t)hd->status, hd->driver_features);
	for (i = 0; i < hd->nr_regions; i++) {
		const struct vdm_ho_region *sr = &s->regions[i];
		const struct vdpamap_region r0 = {
			.hva = hvas[i], .len = sr->len,
			.fd_offset = sr->fd_offset, .fd = sr->fd,
			.perm = sr->perm, .iova = sr->iova,
		};

		r = vdm_region_restore(h, sr->id, &r0, sr->dev_base);
		if (r < 0)
			goto fail;
	}
	vdm_region_next_id_set(h, hd->next_region_id);
	for (i = 0; i < hd->nr_entries; i++) {
		const struct vdm_ho_entry *se = &s->entries[i];
		struct vdm_region *rg = vdm_region_by_id(h, se->region_id);
		struct vdm_entry *e;

		e = calloc(1, sizeof(*e));
		if (!e) {
			r = -ENOMEM;
			goto fail;
		}
		e->inode.first = se->iova;
		e->inode.last = se->iova + se->size - 1;
		e->hva = (uint64_t)(uintptr_t)rg->r.hva + se->off;
		e->asid = se->asid;
		e->perm = se->perm;
		e->region = rg;
		vdm_mirror_insert(h, e);
	}
	for (i = 0; i < hd->nr_vrings; i++) {
		const struct vdm_ho_vring *sv = &s->vrings[i];
		const struct vdpamap_vring v = {
			.num = sv->num, .base = sv->base, .desc = sv->desc,
			.avail = sv->avail, .used = sv->used,
			.kick_fd = sv->kick_fd, .call_fd = sv->call_fd,
		};

		vdm_vring_restore(h, sv->idx, sv->flags & VDM_HO_VRING_SET,
				 sv->flags & VDM_HO_VRING_ENABLED, &v);
	}
	pthread_mutex_lock(&h->lock);
	vdm_snap_publish(h);
	pthread_mutex_unlock(&h->lock);
	*ret = h;
	return 0;
fail:
	vdm_handle_free(h);
	return r;
}

static void unmap_regions(const struct vdm_handoff_state *s, void **hvas)
{
	uint32_t i;

	for (i = 0; i < s->hdr->nr_regions; i++)
		if (hvas[i] && hvas[i] != MAP_FAILED)
			munmap(hvas[i], s->regions[i].len);
}

static int map_regions(const struct vdm_handoff_state *s, void **hvas)
{
	uint32_t i;

	for (i = 0; i < s->hdr->nr_regions; i++) {
		const struct vdm_ho_region *sr = &s->regions[i];
		int r;

		hvas[i] = mmap(NULL, sr->len, PROT_READ | PROT_WRITE,
			       MAP_SHARED, sr->fd, (off_t)sr->fd_offset);
		if (hvas[i] == MAP_FAILED) {
			r = -errno;
			hvas[i] = NULL;
			unmap_regions(s, hvas);
			return r == -EACCES || r == -ENODEV ? -EBADF : r;
		}
	}
	return 0;
}

static uint16_t used_idx(struct vdpamap *h, const struct vdpamap_vring *v,
			 uint32_t asid)
{
	struct itree_node *n = itree_lookup(&h->map->as[asid].iova, v->used);
	struct vdm_entry *e;

	if (!n || n->last < v->used + 3)
		return (uint16_t)v->base;
	e = vdm_entry_of(n);
	return __atomic_load_n((uint16_t *)(uintptr_t)(e->hva + v->used + 2 -
						      n->first),
			       __ATOMIC_ACQUIRE);
}

/* REBUILD: open path anew and re-create everything the description says.
 * use_used: take each ring's position from its used index (the keeper
 * that could have told us is dead). */
static int rebuild_open(const struct vdm_handoff_state *s,
			const struct vdpamap_open_opts *opts, void **hvas,
			bool use_used, struct vdpamap **ret)
{
	const struct vdm_ho_hdr *hd = s->hdr;
	VDPAMAP_OPTS(vdpamap_open_opts, o);
	struct vdpamap_region *regs = NULL;
	struct vdpamap_txn *t = NULL;
	struct vdpamap *h = NULL;
	uint32_t i, threads;
	int r, tries;

	o.log_fn = OPTS_GET(opts, log_fn, NULL);
	o.log_ctx = OPTS_GET(opts, log_ctx, NULL);
	o.log_level = OPTS_GET(opts, log_level, 0);
	o.want_features = hd->backend_acked;
	o.require_features = hd->backend_acked & VDPAMAP_F_KNOWN;
	if (!o.require_features)
		o.require_features = VDPAMAP_F_IOTLB_MSG_V2;
	o.mem_mode = hd->mem_mode;
	o.flags = hd->flags & (VDPAMAP_OPEN_ALLOW_UNALIGNED |
			       VDPAMAP_OPEN_NO_MEMLOCK_CHECK);
	o.page_size = (uint32_t)hd->page_size;
	/* the old open may still be going away (the simulator sees a close
	 * asynchronously) */
	for (tries = 0;; tries++) {
		r = vdm_open(hd->path, &o, &h);
		if (r != -EBUSY || tries >= 200)
			break;
		usleep(10000);
	}
	if (r < 0)
		return r;
	/* h is nobody else's yet: locked so that vdm_leave() publishes */
	pthread_mutex_lock(&h->lock);
	regs = calloc(hd->nr_regions ? hd->nr_regions : 1, sizeof(*regs));
	if (!regs) {
		r = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < hd->nr_regions; i++)
		regs[i] = (struct vdpamap_region){
			.hva = hvas[i], .len = s->regions[i].len,
			.fd = s->regions[i].fd,
			.fd_offset = s->regions[i].fd_offset,
		};
	threads = OPTS_GET(opts, prefault_threads, 0);
	if (!threads)
		threads = 4;
	r = vdm_prefault(h, regs, hd->nr_regions, threads);
	if (r < 0)
		goto fail;
	for (i = 0; i < hd->nr_regions; i++) {
		struct vdm_region *rg;
		uint32_t id;

		regs[i].perm = s->regions[i].perm;
		regs[i].iova = s->regions[i].iova;
		r = vdm_region_add(h, &regs[i], &id);
		if (r < 0)
			goto fail;
		rg = vdm_region_by_id(h, id);
		vdm_region_id_set(h, rg, s->regions[i].id);
	}
	vdm_region_next_id_set(h, hd->next_region_id);
	r = vdm_txn_new(h, &t);
	if (r < 0)
		goto fail;
	for (i = 0; i < hd->nr_entries; i++) {
		const struct vdm_ho_entry *se = &s->entries[i];
		uint32_t k;

		for (k = 0; s->regions[k].id != se->region_id; k++)
			;
		r = vdm_txn_map(t, se->asid, se->iova,
				    (uint8_t *)hvas[k] + se->off, se->size,
				    se->perm, NULL);
		if (r < 0) {
			vdm_txn_abort(t);
			goto fail;
		}
	}
	r = vdm_txn_commit(t);
	if (r < 0)
		goto fail;
	for (i = 0; i < hd->nr_groups; i++)
		if (s->group_asid[i] &&
		    (r = vdm_group_asid_apply(h, i, s->group_asid[i])) < 0)
			goto fail;
	if (hd->status & VDPAMAP_S_FEATURES_OK) {
		uint8_t base = VDPAMAP_S_ACKNOWLEDGE | VDPAMAP_S_DRIVER;

		if ((r = vdm_set_status(h, VDPAMAP_S_ACKNOWLEDGE)) < 0 ||
		    (r = vdm_set_status(h, base)) < 0 ||
		    (r = vdm_set_features(h, hd->driver_features)) < 0 ||
		    (r = vdm_set_status(h, base |
						   VDPAMAP_S_FEATURES_OK)) < 0)
			goto fail;
		for (i = 0; i < hd->nr_vrings; i++) {
			const struct vdm_ho_vring *sv = &s->vrings[i];
			struct vdpamap_vring v = {
				.num = sv->num, .base = sv->base,
				.desc = sv->desc, .avail = sv->avail,
				.used = sv->used, .kick_fd = sv->kick_fd,
				.call_fd = sv->call_fd,
			};

			if (use_used)
				v.base = used_idx(h, &v,
					h->lc->group_asid[h->lc->vq_group[sv->idx]]);
			if ((r = vdm_vring_set(h, sv->idx, &v)) < 0)
				goto fail;
			if ((sv->flags & VDM_HO_VRING_ENABLED) &&
			    (r = vdm_vring_enable(h, sv->idx, 1)) < 0)
				goto fail;
		}
		if ((hd->status & VDPAMAP_S_DRIVER_OK) &&
		    (r = vdm_set_status(h, (uint8_t)hd->status)) < 0)
			goto fail;
	}
	free(regs);
	vdm_leave(h);
	*ret = h;
	return 0;
fail:
	free(regs);
	vdm_leave(h);
	vdm_close(h);
	return r;
}

#ifdef VDPAMAP_NEW_OWNER
/* Tell a keeper of an earlier handoff to go (its address space holds
 * nothing the device needs any more) and reap it: it is our child. */
static void keeper_dismiss(int sock, int32_t pid)
{
	struct vdm_kp_msg m = { .magic = VDM_KP_MAGIC, .op = VDM_KP_EXIT };
	struct vdm_handoff tmp = { .kl.pidfd = -1 };

	if (pid > 0)
		tmp.kl.pidfd = pidfd_open_(pid);
	send(sock, &m, sizeof(m), MSG_NOSIGNAL);
	recv(sock, &m, sizeof(m), 0);
	close(sock);
	keeper_reap(&tmp);
	if (tmp.kl.pidfd >= 0)
		close(tmp.kl.pidfd);
}

/* One REMAP per mirror entry (every ASID), batched per ASID when BATCH
 * was negotiated: the proposal allows REMAP between BATCH_BEGIN and END
 * (its uAPI comment: "followed by any number of VHOST_IOTLB_REMAP or
 * VHOST_IOTLB_UPDATE messages"); a batch-style parent then gets the map
 * once, at BATCH_END.  An entry the device refuses to REMAP (the kernel
 * says EFAULT for ENOENT and EINVAL alike: say, PA mode split it into
 * several kernel entries) is re-created instead: INVALIDATE + UPDATE.
 * *fallbacks counts those. */
static int remap_all(struct vdpamap *h, uint64_t *fallbacks)
{
	struct vdm_msg *msgs;
	size_t n = 0, i = 0, done;
	uint32_t a;
	int r = 0;

	for (a = 0; a < h->info.nr_as; a++)
		n += h->map->as[a].iova.count;
	if (!n)
		return 0;
	msgs = calloc(n, sizeof(*msgs));
	if (!msgs)
		return -ENOMEM;
	for (a = 0; a < h->info.nr_as; a++) {
		struct itree_node *nd;

		for (nd = itree_first(&h->map->as[a].iova); nd; nd = itree_next(nd))
			msgs[i++] = (struct vdm_msg){
				.type = VHOST_IOTLB_REMAP,
				.e = vdm_entry_of(nd),
			};
	}
	for (i = 0; i < n;) {
		struct vdm_msg redo[2];
		int err = 0;

		done = vdm_iotlb_run(h, msgs + i, n - i, NULL, &err);
		i += done;
		if (i >= n)
			break;
		if (err == -ENOTRECOVERABLE) {
			r = err;
			break;
		}
		vdm_warn(h, "handoff: REMAP asid %u iova 0x%llx size 0x%llx "
			"refused (%d): INVALIDATE + UPDATE instead",
			msgs[i].e->asid,
			(unsigned long long)msgs[i].e->inode.first,
			(unsigned long long)vdm_entry_size(msgs[i].e), err);
		redo[0] = (struct vdm_msg){ VHOST_IOTLB_INVALIDATE, msgs[i].e };
		redo[1] = (struct vdm_msg){ VHOST_IOTLB_UPDATE, msgs[i].e };
		err = 0;
		if (vdm_iotlb_run(h, redo, 2, NULL, &err) != 2) {
			r = err ? err : -EIO;
			break;
		}
		(*fallbacks)++;
		i++;
	}
	free(msgs);
	return r;
}

/* NEW_OWNER in the successor: ownership (and the pinned accounting) moves
 * to this address space, the vrings are set again, every entry learns its
 * new uaddr (REMAP), and the device resumes.  Order as the proposal says:
 * (SUSPEND, exec,) NEW_OWNER, vrings, REMAP, RESUME.  Returns < 0 only
 * if NEW_OWNER itself failed (nothing changed); a later failure poisons
 * the handle, the reason says what. */
static int new_owner_takeover(struct vdpamap *h)
{
	uint64_t fallbacks = 0;
	struct vdm_region *rg;
	uint32_t i;
	int r;

	r = vdm_ioctl(h, VHOST_NEW_OWNER, NULL);
	if (r < 0) {
		vdm_err(h, "handoff: VHOST_NEW_OWNER: %d%s", r,
		       r == -ENOMEM ? " (RLIMIT_MEMLOCK below what the "
				      "device pins)" : "");
		return r;
	}
	/* the device must learn this address space's HVAs */
	for (rg = h->map->regions; rg; rg = rg->next)
		vdm_region_dev_base_set(h, rg, 0);
	for (i = 0; i < h->info.nr_vqs; i++) {
		struct vdpamap_vring v = h->lc->vrings[i].v;

		if (!h->lc->vrings[i].set)
			continue;
		r = vdm_vring_set(h, i, &v);
		if (r < 0) {
			vdm_poison(h, "handoff NEW_OWNER: vring %u could not be "
				  "set again (%d)", i, r);
			return 0;
		}
	}
	r = remap_all(h, &fallbacks);
	if (r < 0) {
		vdm_poison(h, "handoff NEW_OWNER: the device's maps could not "
			  "be moved to the new address space (%d)", r);
		return 0;
	}
	if (fallbacks)
		vdm_warn(h, "handoff NEW_OWNER: %llu entr%s re-created instead "
			"of remapped", (unsigned long long)fallbacks,
			fallbacks == 1 ? "y" : "ies");
	if ((h->lc->status & VDPAMAP_S_DRIVER_OK) &&
	    vdm_has_feature(h, VDPAMAP_F_RESUME)) {
		r = vdm_ioctl(h, VHOST_VDPA_RESUME, NULL);
		if (r < 0)
			vdm_err(h, "handoff: RESUME: %d", r);
	}
	return 0;
}
#endif

/* 1 if the keeper has exited (its pidfd is readable). */
static bool keeper_exited(const struct vdm_handoff *ho)
{
	struct pollfd p = { .fd = ho->kl.pidfd, .events = POLLIN };

	if (ho->kl.pidfd < 0)	/* no pidfd_open (valgrind, < 5.3) */
		return kill(ho->kl.pid, 0) < 0 && errno == ESRCH;
	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* The ranges of every region in the old address space (dev_base, len) go
 * to the keeper, which unmaps the rest. */
static void keeper_trim(struct vdpamap *h)
{
	struct vdm_kp_range rr[VDM_KP_MAX_RANGES];
	struct vdm_region *rg;
	uint32_t n = 0;

	for (rg = h->map->regions; rg; rg = rg->next) {
		if (!rg->dev_base)
			continue;
		if (n == VDM_KP_MAX_RANGES) {
			vdm_info(h, "mm keeper: more than %u regions, the old "
				"address space is not trimmed",
				VDM_KP_MAX_RANGES);
			return;
		}
		rr[n++] = (struct vdm_kp_range){ .start = rg->dev_base,
						.len = rg->r.len };
	}
	vdm_kp_trim(&h->ho->kl, rr, n);
}

/* KEEPER in the successor: the keeper answers, the device resumes.  < 0:
 * nothing changed, the adopt fails and may be retried (the keeper lives
 * but did not answer: -ECOMM; RESUME refused: its error).  A dead keeper,
 * or a reply of the device lost (simulator), gives 0 and a poisoned
 * handle: vdpamap_handoff_rebuild() recovers it.  The keeper already
 * has the state for a re-attach (prepare gave it this very memfd). */
static int keeper_takeover(struct vdpamap *h, const struct vdm_ho_hdr *hd)
{
	struct vdm_handoff *ho = h->ho;
	int64_t pong = 0;
	int r = 0;

	if (!ho->kl.dead) {
		r = vdm_kp_call(&h->ho->kl, VDM_KP_PING, 0, 0, NULL, 0, -1, &pong);
		if (r >= 0 && pong != hd->keeper_pid)
			r = -EPROTO;
		if (r < 0 && !keeper_exited(ho)) {
			vdm_err(h, "handoff: mm keeper (pid %d) lives but did "
			       "not answer (%d)", hd->keeper_pid, r);
			return r == -EOWNERDEAD ? -ECOMM : r;
		}
		if (r < 0)
			ho->kl.dead = 1;
	}
	if (ho->kl.dead) {
		if (!h->poison)
			vdm_poison(h, "mm keeper (pid %d) is dead: the device "
				  "has no owner; vdpamap_handoff_rebuild() "
				  "reopens it", hd->keeper_pid);
		return 0;
	}
	if ((h->lc->status & VDPAMAP_S_DRIVER_OK) &&
	    vdm_has_feature(h, VDPAMAP_F_RESUME)) {
		r = vdm_ioctl(h, VHOST_VDPA_RESUME, NULL);
		if (r < 0 && !h->poison) {
			vdm_err(h, "handoff: RESUME: %d", r);
			return r;	/* still suspended, as before */
		}
		if (r < 0)
			vdm_err(h, "handoff: RESUME: %d (%s)", r, h->poison);
	}
	if (!h->poison)
		keeper_trim(h);		/* the old image is gone: trim */
	return 0;
}

/* Log for adopt, which has no handle yet: through opts' log_fn. */
static void adopt_log(const struct vdpamap_open_opts *opts, const char *fmt,
		      ...) __attribute__((format(printf, 2, 3)));
static void adopt_log(const struct vdpamap_open_opts *opts, const char *fmt,
		      ...)
{
	vdpamap_log_fn fn = OPTS_GET(opts, log_fn, NULL);
	char buf[512];
	va_list ap;

	if (!fn)
		return;		/* VDPAMAP_LOG_ERR passes every log_level */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fn(VDPAMAP_LOG_ERR, buf, OPTS_GET(opts, log_ctx, NULL));
}

static int adopt_parsed(const struct vdm_handoff_state *s,
			const struct vdpamap_open_opts *opts,
			struct vdpamap **ret)
{
	const struct vdm_ho_hdr *hd = s->hdr;
	uint64_t t0 = now_ns();
	struct vdm_handoff *ho;
	struct vdpamap *h = NULL;
	struct stat st;
	void **hvas;
	uint32_t i;
	int r, pidfd = -1;

#ifndef VDPAMAP_NEW_OWNER
	if (hd->strategy == VDPAMAP_HANDOFF_NEW_OWNER) {
		adopt_log(opts, "handoff: adopt: strategy NEW_OWNER: not in "
			  "this build (meson -Dnew_owner=enabled)");
		return -EOPNOTSUPP;
	}
#endif
	if (hd->dev_fd >= 0 &&
	    (fstat(hd->dev_fd, &st) < 0 || st.st_dev != hd->dev_dev ||
	     st.st_ino != hd->dev_ino || st.st_rdev != hd->dev_rdev)) {
		adopt_log(opts, "handoff: adopt: dev_fd %d is not the device "
			  "the description names (dev, ino, rdev)",
			  hd->dev_fd);
		return -ENODEV;
	}
	if (hd->keeper_sock >= 0 &&
	    (fstat(hd->keeper_sock, &st) < 0 || !S_ISSOCK(st.st_mode))) {
		adopt_log(opts, "handoff: adopt: keeper_sock %d is not an "
			  "open socket", hd->keeper_sock);
		return -EBADF;
	}
	for (i = 0; i < hd->nr_regions; i++)
		if (fstat(s->regions[i].fd, &st) < 0 ||
		    (s->regions[i].ino && st.st_ino != s->regions[i].ino)) {
			adopt_log(opts, "handoff: adopt: regions[%u].fd %d is "
				  "not open, or not the file the description "
				  "names (inode)", i, s->regions[i].fd);
			return -EBADF;
		}
	ho = ho_new();
	hvas = calloc(hd->nr_regions ? hd->nr_regions : 1, sizeof(*hvas));
	if (!ho || !hvas) {
		free(ho);
		free(hvas);
		return -ENOMEM;
	}
	r = map_regions(s, hvas);
	if (r < 0)
		goto fail;
	if (hd->strategy == VDPAMAP_HANDOFF_REBUILD) {
		if (hd->keeper_sock >= 0) {
			/* a keeper of an earlier handoff holds the device */
			struct vdm_kp_msg m = { .magic = VDM_KP_MAGIC,
					       .op = VDM_KP_EXIT };

			send(hd->keeper_sock, &m, sizeof(m), MSG_NOSIGNAL);
			recv(hd->keeper_sock, &m, sizeof(m), 0);
		}
		if (hd->dev_fd >= 0)
			close(hd->dev_fd);
		r = rebuild_open(s, opts, hvas, false, &h);
		if (r < 0) {
			unmap_regions(s, hvas);
			goto fail;
		}
		if (hd->keeper_sock >= 0)
			close(hd->keeper_sock);
#ifdef VDPAMAP_NEW_OWNER
	} else if (hd->strategy == VDPAMAP_HANDOFF_NEW_OWNER) {
		r = handle_from_state(s, opts, hvas, &h);
		if (r == 0)
			r = vdm_tp_inherit(hd->dev_fd, h->tp);
		if (r == 0)
			r = new_owner_takeover(h);
		if (r < 0) {
			if (h) {
				h->tp->fd = -1;	/* the caller's, still */
				vdm_handle_free(h);
			}
			unmap_regions(s, hvas);
			goto fail;
		}
		if (hd->keeper_sock >= 0)
			keeper_dismiss(hd->keeper_sock, hd->keeper_pid);
#endif
	} else {
		r = handle_from_state(s, opts, hvas, &h);
		if (r < 0) {
			unmap_regions(s, hvas);
			goto fail;
		}
		ho->kl.tp = (struct vdm_tp){ .ops = &vdm_tp_keeper_ops,
					    .fd = hd->dev_fd,
					    .is_sim = (int)hd->is_sim };
		vdm_set_tp(h, &ho->kl.tp);
		ho->kl.sock = hd->keeper_sock;
		ho->kl.pid = hd->keeper_pid;
		ho->token = hd->token;
		vdm_region_hook_set(h, keeper_region_hook);
		pidfd = pidfd_open_(hd->keeper_pid);
		ho->kl.pidfd = pidfd >= 0 ? pidfd : -1;
		if (pidfd == -ESRCH)
			ho->kl.dead = 1;
		else if (pidfd < 0 && pidfd != -ENOSYS)
			r = pidfd;	/* say, EMFILE: not a death */
	}
	ho_attach(h, ho);
	ho->adopted = 1;
	ho->strategy = hd->strategy;
	memcpy(ho->path, hd->path, sizeof(ho->path));
	ho->t_suspend_ns = hd->t_suspend_ns;
	ho->prepare_ns = hd->t_prepare_ns;
	if (hd->strategy == VDPAMAP_HANDOFF_KEEPER) {
		if (r == 0)
			r = keeper_takeover(h, hd);
		if (r < 0) {
			/* nothing changed: the inherited fds stay the
			 * caller's, for a retry */
			ho->kl.sock = -1;
			h->tp->fd = -1;
			vdm_handle_free(h);	/* frees ho */
			unmap_regions(s, hvas);
			free(hvas);
			return r;
		}
	}

	/* from here on the inherited fds are ours again: CLOEXEC */
	if (hd->dev_fd >= 0 && hd->strategy != VDPAMAP_HANDOFF_REBUILD)
		set_cloexec(hd->dev_fd, true, NULL);
	if (hd->keeper_sock >= 0 && hd->strategy == VDPAMAP_HANDOFF_KEEPER)
		set_cloexec(hd->keeper_sock, true, NULL);
	for (i = 0; i < hd->nr_regions; i++)
		set_cloexec(s->regions[i].fd, true, NULL);
	for (i = 0; i < hd->nr_vrings; i++) {
		if (s->vrings[i].kick_fd >= 0)
			set_cloexec(s->vrings[i].kick_fd, true, NULL);
		if (s->vrings[i].call_fd >= 0)
			set_cloexec(s->vrings[i].call_fd, true, NULL);
	}

	/* descriptor groups are not in the description: ask the device
	 * (through the keeper when it owns it) */
	if (!h->poison && vdm_has_feature(h, VDPAMAP_F_DESC_ASID) &&
	    vdm_query_desc_groups(h) < 0)
		vdm_warn(h, "handoff: descriptor groups unknown: DRIVER_OK "
			"checks rings in the vq groups' ASIDs");
	ho->adopt_writes = h->stats.iotlb_writes;
	ho->adopted_ns = now_ns();
	ho->adopt_ns = ho->adopted_ns - t0;
	vdm_info(h, "handoff adopted: strategy %s in %llu us",
		strategy_name(ho->strategy),
		(unsigned long long)(ho->adopt_ns / 1000));
	free(hvas);
	*ret = h;
	return 0;
fail:
	free(ho);
	free(hvas);
	return r;
}

VDPAMAP_API int vdpamap_handoff_adopt(int state_fd,
				      const struct vdpamap_open_opts *opts,
				      struct vdpamap **ret)
{
	struct vdm_handoff_state s;
	size_t len = 0;
	void *buf = NULL;
	int r;

	if (!ret)
		return -EINVAL;
	if (!OPTS_VALID(opts, vdpamap_open_opts))
		return opts && opts->sz < sizeof(size_t) ? -EINVAL : -E2BIG;
	if (state_fd < 0) {
		const char *e = getenv(VDPAMAP_HANDOFF_ENV);
		char *end;
		long v;

		if (!e || !*e)
			return -EBADF;
		errno = 0;
		v = strtol(e, &end, 10);
		if (*end || v < 0 || v > INT32_MAX)
			return -EBADF;
		state_fd = (int)v;
	}
	r = state_read(state_fd, &buf, &len);
	if (r < 0)
		return r;
	{
		struct vdm_ho_why why;
		char w[256];

		r = vdm_handoff_parse_why(buf, len, &s, &why);
		if (r < 0) {
			vdm_handoff_why_str(&why, w, sizeof(w));
			adopt_log(opts, "handoff: adopt: description of %zu "
				  "bytes refused (%d): %s", len, r, w);
		}
	}
	if (r == 0)
		r = adopt_parsed(&s, opts, ret);
	free(buf);
	if (r == 0)
		close(state_fd);
	return r;
}

/* ---- after keeper death */
VDPAMAP_API int vdpamap_handoff_rebuild(struct vdpamap *h)
{
	struct ser_opts so = { .strategy = VDPAMAP_HANDOFF_REBUILD,
			       .dev_fd = -1, .keeper_sock = -1 };
	VDPAMAP_OPTS(vdpamap_open_opts, o);
	struct vdm_handoff_state s;
	struct vdpamap *h2 = NULL;
	struct vdm_region *rg;
	void **hvas = NULL;
	size_t len = 0, off;
	void *buf = NULL;
	uint32_t i;
	int r;

	r = vdm_enter_idle(h, true, "vdpamap_handoff_rebuild");
	if (r < 0)
		return r;
	/* only a handle whose keeper died, or that is poisoned otherwise
	 * (a lost reply of the device), needs (and may get) this */
	if (!h->ho || h->ho->kl.sock < 0 ||
	    (!vdm_kp_check(&h->ho->kl) && !h->poison)) {
		vdm_leave(h);
		return -EALREADY;
	}
	r = serialize(h, &so, &buf, &len);
	if (r < 0)
		goto out;
	r = vdm_handoff_parse(buf, len, &s);
	if (r < 0) {
		vdm_err(h, "rebuild: own description invalid: %d", r);
		goto out;
	}
	hvas = calloc(s.hdr->nr_regions + 1, sizeof(*hvas));
	if (!hvas) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s.hdr->nr_regions; i++)
		for (rg = h->map->regions; rg; rg = rg->next)
			if (rg->id == s.regions[i].id)
				hvas[i] = rg->r.hva;
	/* let go of the device: the kernel drops every map (a live keeper
	 * must close its copy too: told to exit) */
	keeper_drop(h, !h->ho->kl.dead);
	vdm_tp_close(h->tp);
	o.log_fn = h->log_fn;
	o.log_ctx = h->log_ctx;
	o.log_level = h->log_level;
	r = rebuild_open(&s, &o, hvas, true, &h2);
	if (r < 0) {
		vdm_err(h, "rebuild after keeper death: %d (device closed)", r);
		goto out;
	}
	/* move h2's insides into h (the caller's pointer stays valid) */
	{
		struct vdpamap tmp;

		off = offsetof(struct vdpamap, lock) + sizeof(h->lock);
		memcpy(&tmp, h, sizeof(tmp));
		memcpy((char *)h + off, (char *)h2 + off, sizeof(*h) - off);
		memcpy((char *)h2 + off, (char *)&tmp + off, sizeof(*h) - off);
		h->pid = tmp.pid;
		h->fork_gen = tmp.fork_gen;
		ho_attach(h, tmp.ho);
		ho_attach(h2, NULL);
		h->ho->strategy = VDPAMAP_HANDOFF_REBUILD;
		h->ho->kl.dead = 0;
		vdm_region_hook_set(h, NULL);
		/* each transport pointer back to its own handle's */
		vdm_set_tp(h, NULL);
		vdm_set_tp(h2, NULL);
		h2->tp->fd = -1;
		vdm_region_hook_set(h2, NULL);
	}
	vdm_handle_free(h2);
	vdm_info(h, "rebuilt after keeper death");
out:
	free(hvas);
	free(buf);
	vdm_leave(h);
	return r;
}

/* ---- re-attach */
VDPAMAP_API int vdpamap_handoff_reattach(pid_t keeper_pid,
					 const struct vdpamap_open_opts *opts,
					 struct vdpamap **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vdm_kp_msg m = { .magic = VDM_KP_MAGIC, .op = VDM_KP_ATTACH };
	union {
		struct cmsghdr c;
		char b[CMSG_SPACE((3 + VDM_KP_MAX_KEEP) * sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.b,
			     .msg_controllen = sizeof(cm.b) };
	int fds[3 + VDM_KP_MAX_KEEP], c, r, n, nfd = 0;
	struct vdm_handoff_state s;
	struct pollfd p;
	size_t len = 0;
	void *buf = NULL;

	if (keeper_pid <= 0 || !ret)
		return -EINVAL;
	for (n = 0; n < (int)ARRAY_SIZE(fds); n++)
		fds[n] = -1;
	c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
		     "vdpamap-keeper-%d", (int)keeper_pid);
	if (connect(c, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				n)) < 0) {
		r = errno == ENOENT ? -ECONNREFUSED : -errno;
		close(c);
		return r;
	}
	if (send(c, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m)) {
		close(c);
		return -ECONNREFUSED;
	}
	/* a keeper serving a live successor does not accept: give up */
	p = (struct pollfd){ .fd = c, .events = POLLIN };
	if (poll(&p, 1, 2000) != 1) {
		close(c);
		return -ECONNREFUSED;
	}
	memset(&cm, 0, sizeof(cm));
	n = (int)recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	close(c);
	if (n != (int)sizeof(m) || m.ret < 0)
		return n <= 0 ? -EACCES : -EPROTO;
	{
		struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);

		if (ch && ch->cmsg_type == SCM_RIGHTS) {
			nfd = (int)((ch->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			if (nfd > (int)ARRAY_SIZE(fds))
				nfd = (int)ARRAY_SIZE(fds);
			memcpy(fds, CMSG_DATA(ch), (size_t)nfd * sizeof(int));
		}
	}
	if (nfd > (int)ARRAY_SIZE(fds))
		nfd = (int)ARRAY_SIZE(fds);
	if (nfd < 3) {
		r = -EPROTO;
		goto out;
	}
	r = state_read(fds[2], &buf, &len);
	if (r < 0)
		goto out;
	r = vdm_handoff_parse(buf, len, &s);
	if (r < 0)
		goto out;
	/* the description names the dead successor's fd numbers: move ours
	 * there (they are free: that process is gone, these are new) */
	{
		struct vdm_ho_hdr *hd = (struct vdm_ho_hdr *)buf;

		hd->dev_fd = fds[0];
		hd->keeper_sock = fds[1];
		hd->strategy = VDPAMAP_HANDOFF_KEEPER;
		/* each region's memfd: the keeper's copy with the same inode */
		{
			struct vdm_ho_region *rr = (struct vdm_ho_region *)(hd + 1);
			uint32_t i;
			int k;

			for (i = 0; i < hd->nr_regions; i++) {
				struct stat st;

				rr[i].fd = -1;
				for (k = 3; k < nfd; k++)
					if (fstat(fds[k], &st) == 0 &&
					    st.st_ino == rr[i].ino)
						rr[i].fd = fds[k];
				if (rr[i].fd < 0) {
					r = -ENOENT;
					goto out;
				}
			}
		}
		vdm_handoff_seal(buf);
		r = vdm_handoff_parse(buf, len, &s);
		if (r < 0)
			goto out;
		/* region fds: the keeper's copies are not passed (yet); the
		 * region memfds must be reachable by number: use the dead
		 * successor's through /proc is impossible, so require the
		 * regions' fds be open in the caller (documented) */
		r = adopt_parsed(&s, opts, ret);
		if (r == 0) {
			/* the handle uses these now; region fds stay open
			 * for the caller (vdpamap_region_get() names them) */
			struct vdm_ho_region *rr = (struct vdm_ho_region *)(hd + 1);
			uint32_t i;
			int k;

			fds[0] = fds[1] = -1;
			for (i = 0; i < hd->nr_regions; i++)
				for (k = 3; k < nfd; k++)
					if (fds[k] == rr[i].fd)
						fds[k] = -1;
		}
	}
out:
	free(buf);
	for (n = 0; n < (int)ARRAY_SIZE(fds); n++)
		if (fds[n] >= 0)
			close(fds[n]);
	return r;
}

/* ---- keep the re-attach state current */
static void handoff_sync(struct vdpamap *h)
{
	struct ser_opts so;
	size_t len = 0;
	void *buf = NULL;
	int fd;

	if (!h->ho || !h->ho->kl.stale || !keeper_live(h) || h->ho->prepared)
		return;
	so = (struct ser_opts){ .strategy = VDPAMAP_HANDOFF_KEEPER,
				.dev_fd = h->tp->fd,
				.keeper_sock = h->ho->kl.sock };
	if (serialize(h, &so, &buf, &len) < 0)
		return;
	fd = state_memfd(buf, len, true);
	free(buf);
	if (fd < 0)
		return;
	if (vdm_kp_call(&h->ho->kl, VDM_KP_SETSTATE, 0, 0, NULL, 0, fd, NULL) == 0)
		h->ho->kl.stale = 0;
	close(fd);
}

/* ---- queries */
VDPAMAP_API int vdpamap_handoff_get_info(struct vdpamap *h,
					 struct vdpamap_handoff_info *info)
{
	struct vdm_handoff *ho;
	int r;

	if (!info)
		return -EINVAL;
	r = vdm_enter(h, true);
	if (r < 0)
		return r;
	ho = h->ho;
	if (!ho) {
		r = -ENOENT;
		goto out;
	}
	if (ho->kl.sock >= 0)
		vdm_kp_check(&h->ho->kl);
	vdm_kp_trim_result(&h->ho->kl);	/* if the keeper has sent it */
	memset(info, 0, sizeof(*info));
	info->strategy = ho->strategy;
	info->keeper_alive = keeper_live(h);
	info->keeper_pid = ho->kl.sock >= 0 ? ho->kl.pid : 0;
	info->adopted = (uint32_t)ho->adopted;
	info->suspend_ns = ho->t_suspend_ns;
	info->prepare_ns = ho->prepare_ns;
	info->adopt_ns = ho->adopt_ns;
	info->adopted_ns = ho->adopted_ns;
	info->adopt_iotlb_writes = ho->adopt_writes;
	info->keeper_trimmed_bytes = ho->kl.trim.bytes;
	info->keeper_vmas_before = ho->kl.trim.vmas_before;
	info->keeper_vmas_kept = ho->kl.trim.vmas_kept;
out:
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_region_get(struct vdpamap *h, uint32_t id,
				   struct vdpamap_region *out)
{
	struct vdm_region *rg;
	int r;

	if (!out)
		return -EINVAL;
	r = vdm_enter(h, true);
	if (r < 0)
		return r;
	for (rg = h->map->regions; rg; rg = rg->next)
		if (rg->id == id)
			break;
	if (!rg) {
		r = -ENOENT;
	} else {
		*out = rg->r;
		r = 0;
	}
	vdm_leave(h);
	return r;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

VDPAMAP_API int vdpamap_region_ids(struct vdpamap *h, uint32_t *ids,
				   uint32_t n)
{
	struct vdm_region *rg;
	uint32_t cnt = 0, *all;
	int r;

	if (n && !ids)
		return -EINVAL;
	r = vdm_enter(h, true);
	if (r < 0)
		return r;
	for (rg = h->map->regions; rg; rg = rg->next)
		cnt++;
	all = calloc(cnt + 1, sizeof(*all));
	if (!all) {
		r = -ENOMEM;
		goto out;
	}
	cnt = 0;
	for (rg = h->map->regions; rg; rg = rg->next)
		all[cnt++] = rg->id;
	qsort(all, cnt, sizeof(*all), cmp_u32);
	if (n)
		memcpy(ids, all, (n < cnt ? n : cnt) * sizeof(*all));
	free(all);
	r = (int)cnt;
out:
	vdm_leave(h);
	return r;
}

VDPAMAP_API int vdpamap_vring_get(struct vdpamap *h, uint32_t idx,
				  struct vdpamap_vring *out)
{
	int r;

	if (!out)
		return -EINVAL;
	r = vdm_enter(h, true);
	if (r < 0)
		return r;
	if (idx >= h->info.nr_vqs) {
		vdm_err(h, "vq %u out of range (%u vqs)", idx, h->info.nr_vqs);
		r = -EINVAL;
	} else if (!h->lc->vrings[idx].set)
		r = -ENOENT;
	else
		*out = h->lc->vrings[idx].v;
	vdm_leave(h);
	return r;
}
