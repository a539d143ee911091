// SPDX-License-Identifier: BSD-3-Clause
/*
 * keeper_ctl: the mm keeper seen from the library (the keeper itself is
 * keeper/keeper.c, freestanding; the wire is transport/keeper.c).  The
 * predecessor creates it at prepare with a raw clone(CLONE_VM) on its own
 * area; the successor links to it, checks it answers, resumes the device
 * and has the old address space trimmed; whoever holds it last tells it
 * to exit and reaps it.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handoff/handoff.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define KEEPER_GRACE_MS_DEFAULT 30000

static int pidfd_open_(pid_t pid)
{
	long r = syscall(SYS_pidfd_open, pid, 0);

	return r < 0 ? -errno : (int)r;
}

bool vdm_ho_keeper_live(struct vdpamap *h)
{
	return h->ho && h->ho->kl.sock >= 0 && !h->ho->kl.dead;
}

/* The keeper is our child if this image, or one before it in the same
 * process, created it. */
void vdm_ho_keeper_reap(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	siginfo_t si;

	if (pidfd < 0)
		return;
	poll(&p, 1, 2000);
	memset(&si, 0, sizeof(si));
	waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG);
}

void vdm_ho_keeper_drop(struct vdpamap *h, bool tell)
{
	struct vdm_handoff *ho = h->ho;

	if (!ho)
		return;
	if (tell && vdm_ho_keeper_live(h))
		vdm_kp_call(&ho->kl, VDM_KP_EXIT, 0, 0, NULL, 0, -1, NULL);
	/* ours but its socket broke (it cannot be told): it would wait out
	 * its re-attach grace and stay an unreaped child; end it */
	if (tell && ho->keeper_ours && ho->kl.dead && ho->kl.pidfd >= 0)
		syscall(SYS_pidfd_send_signal, ho->kl.pidfd, SIGKILL, NULL, 0);
	if (ho->kl.sock >= 0)
		close(ho->kl.sock);
	ho->kl.sock = -1;
	if (tell)
		vdm_ho_keeper_reap(ho->kl.pidfd);
	if (ho->kl.pidfd >= 0)
		close(ho->kl.pidfd);
	ho->kl.pidfd = -1;
	if (ho->keeper_area) {
		munmap(ho->keeper_area, VDM_KP_AREA);
		ho->keeper_area = NULL;
	}
	ho->kl.pid = 0;
	/* the credential opens nothing any more */
	explicit_bzero(ho->cred, sizeof(ho->cred));
	ho->tag = 0;
	if (ho->kl.trim_pending)
		close(ho->kl.trim_fd);
	ho->kl.trim_pending = 0;
}

void vdm_ho_keeper_undo(struct vdpamap *h)
{
	vdm_ho_keeper_drop(h, true);
	/* a poison from the keeper just dropped (its socket broke), not from
	 * the device: the device never left our hands */
	if (h->poison && !h->tp->broken)
		vdm_poison_clear(h);
}

void vdm_ho_keeper_tell_exit(int sock)
{
	struct vdm_kp_msg m = { .magic = VDM_KP_MAGIC, .op = VDM_KP_EXIT };

	send(sock, &m, sizeof(m), MSG_NOSIGNAL);
	recv(sock, &m, sizeof(m), 0);
}

/* Its address space holds nothing the device needs any more. */
void vdm_ho_keeper_dismiss(int sock, int32_t pid)
{
	int pidfd = pid > 0 ? pidfd_open_(pid) : -1;

	vdm_ho_keeper_tell_exit(sock);
	close(sock);
	vdm_ho_keeper_reap(pidfd);
	if (pidfd >= 0)
		close(pidfd);
}

/* Called (lock held) when a region is registered or unregistered in a
 * successor the keeper serves: the keeper maps it in the old address
 * space, whose address the device sees. */
static int keeper_region_hook(struct vdpamap *h, struct vdm_region *rg,
			      bool add)
{
	int64_t addr = 0;
	int r;

	if (!vdm_ho_keeper_live(h))
		return add ? -EOWNERDEAD : 0;
	if (!add) {
		if (rg->dev_base)
			vdm_kp_call(&h->ho->kl, VDM_KP_MUNMAP, rg->dev_base,
				    rg->r.len, NULL, 0, -1, NULL);
		h->ho->kl.stale = 1;
		return 0;
	}
	if (rg->r.fd < 0) {
		vdm_err(h,
			"region [%p, +0x%llx): the mm keeper can only map "
			"fd-backed regions",
			rg->r.hva, (unsigned long long)rg->r.len);
		return -EINVAL;
	}
	r = vdm_kp_call(&h->ho->kl, VDM_KP_MMAP, rg->r.len, rg->r.fd_offset,
			NULL, 0, rg->r.fd, &addr);
	if (r < 0) {
		vdm_err(h, "mm keeper: mmap of region fd %d: %d", rg->r.fd, r);
		return r;
	}
	vdm_region_dev_base_set(h, rg, (uint64_t)addr);
	h->ho->kl.stale = 1;
	return 0;
}

/* The abstract socket a re-attaching process connects to, named by the
 * random tag: bound here, so that a name already taken (a squatter that
 * guessed it: it cannot, or a collision) fails the prepare with
 * -EADDRINUSE, logged naming it; the keeper calls listen() itself, so a
 * client's SO_PEERCRED names the keeper, not this process. */
static int keeper_listen(struct vdpamap *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r, n;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = vdm_ho_sock_name(h->ho->tag, sa.sun_path + 1,
			     sizeof(sa.sun_path) - 1);
	if (bind(fd, (struct sockaddr *)&sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) <
	    0) {
		r = -errno;
		if (r == -EADDRINUSE)
			vdm_err(h,
				"mm keeper: its re-attach socket @%s is "
				"taken by another process (squatted): "
				"prepare refused",
				sa.sun_path + 1);
		goto out;
	}
	r = vdm_kp_call(&h->ho->kl, VDM_KP_SETSTATE, 1, 0, NULL, 0, fd, NULL);
out:
	close(fd);
	return r;
}

/* The re-attach credential and socket tag of a new keeper. */
static int keeper_secrets(struct vdpamap *h)
{
	struct vdm_handoff *ho = h->ho;

	if (getrandom(ho->cred, sizeof(ho->cred), 0) != sizeof(ho->cred) ||
	    getrandom(&ho->tag, sizeof(ho->tag), 0) != sizeof(ho->tag)) {
		vdm_err(h, "mm keeper: getrandom: %s", strerror(errno));
		return -EAGAIN;
	}
	if (!ho->tag)
		ho->tag = 1; /* 0 means none (state.c) */
	return 0;
}

#if VDM_KEEPER_SUPPORTED
/* The keeper's area: [args | buffer | ... stack ...]. */
static void keeper_args(struct vdpamap *h, uint8_t *area, int sock,
			uint32_t grace_ms)
{
	struct vdm_keeper_args *a = (struct vdm_keeper_args *)area;
	struct vdm_region *rg;
	int k = 0;

	memset(a, 0, sizeof(*a));
	a->sock = sock;
	a->dev_fd = h->tp->fd;
	a->listen_fd = -1;
	a->state_fd = -1;
	a->is_sim = h->tp->is_sim;
	a->token = vdm_image_token();
	a->grace_ms = grace_ms ? grace_ms : KEEPER_GRACE_MS_DEFAULT;
	a->buf = area + 4096;
	/* what a trim must spare besides the area (keeper.h) */
	a->code_lo = (uint64_t)(uintptr_t)__start_vdpamap_keeper;
	a->code_hi = (uint64_t)(uintptr_t)__stop_vdpamap_keeper;
	a->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	memcpy(a->cred, h->ho->cred, sizeof(a->cred));
	for (rg = h->map->regions; rg && k < VDM_KP_MAX_KEEP; rg = rg->next)
		if (rg->r.fd >= 0)
			a->keep[k++] = rg->r.fd;
	a->nkeep = k;
}

/* Clone the keeper on its area; on success it is ours (h->ho->kl). */
static int keeper_spawn(struct vdpamap *h, uint32_t grace_ms)
{
	struct vdm_handoff *ho = h->ho;
	sigset_t all, old;
	uint8_t *area;
	int sp[2], r;
	long pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	/* fd -1 is what MAP_ANONYMOUS asks for (cppcheck's posix.cfg wants
	 * an fd >= 0 for every mmap()) */
	area = mmap(NULL, VDM_KP_AREA, PROT_READ | PROT_WRITE,
		    /* cppcheck-suppress invalidFunctionArg */
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		r = -errno;
		goto close_sp;
	}
	keeper_args(h, area, sp[1], grace_ms);
	/* the child starts with every signal blocked: until it resets them
	 * the inherited handlers must not run on its stack */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = vdm_keeper_clone(CLONE_VM | SIGCHLD, area + VDM_KP_AREA,
			       (struct vdm_keeper_args *)area);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		vdm_err(h, "mm keeper: clone: %ld", pid);
		r = -EAGAIN;
		goto unmap;
	}
	close(sp[1]);
	ho->kl.sock = sp[0];
	ho->kl.pid = (int32_t)pid;
	ho->keeper_area = area;
	ho->keeper_ours = 1;
	ho->kl.dead = 0;
	ho->token = ((struct vdm_keeper_args *)area)->token;
	return 0;
unmap:
	munmap(area, VDM_KP_AREA);
close_sp:
	close(sp[0]);
	close(sp[1]);
	return r;
}

/* Protect it from the OOM killer as far as we may. */
static void keeper_oom_protect(struct vdpamap *h, long pid)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/oom_score_adj", pid);
	f = fopen(path, "we");
	if (f) {
		fputs("-1000", f);
		if (fclose(f) != 0)
			vdm_dbg(h, "mm keeper: oom_score_adj not lowered");
	}
}

int vdm_ho_keeper_create(struct vdpamap *h, uint32_t grace_ms)
{
	struct vdm_handoff *ho = h->ho;
	int64_t pong = 0;
	int32_t pid;
	int r;

	r = keeper_secrets(h);
	if (r < 0)
		return r;
	r = keeper_spawn(h, grace_ms);
	if (r < 0)
		return r;
	pid = ho->kl.pid;
	r = pidfd_open_((pid_t)pid);
	if (r < 0) {
		vdm_err(h, "mm keeper: pidfd_open: %d", r);
		kill((pid_t)pid, SIGKILL);
		waitpid((pid_t)pid, NULL, 0);
		vdm_ho_keeper_drop(h, false);
		return r;
	}
	ho->kl.pidfd = r;
	keeper_oom_protect(h, pid);
	r = vdm_kp_call(&ho->kl, VDM_KP_PING, 0, 0, NULL, 0, -1, &pong);
	if (r < 0 || pong != pid) {
		vdm_err(h, "mm keeper %d does not answer (%d)", pid, r);
		kill((pid_t)pid, SIGKILL);
		vdm_ho_keeper_undo(h);
		return -EAGAIN;
	}
	r = keeper_listen(h);
	if (r == -EADDRINUSE) {
		vdm_ho_keeper_undo(h);
		return r;
	}
	if (r < 0 && !vdm_ho_keeper_live(h)) {
		/* the keeper stopped answering: it is ours, gone now */
		vdm_err(h, "mm keeper: set-up message failed (%d)", r);
		vdm_ho_keeper_undo(h);
		return r;
	}
	if (r < 0)
		vdm_warn(h, "mm keeper: no re-attach socket (%d)", r);
	vdm_info(h, "mm keeper created: pid %d", pid);
	return 0;
}
#else
int vdm_ho_keeper_create(struct vdpamap *h, uint32_t grace_ms)
{
	(void)grace_ms;
	(void)keeper_listen;
	(void)keeper_secrets;
	vdm_err(h, "mm keeper: not available on this architecture");
	return -EOPNOTSUPP;
}
#endif

int vdm_ho_keeper_link(struct vdpamap *h, struct vdm_handoff *ho,
		       const struct vdm_ho_hdr *hd)
{
	int pidfd;

	ho->kl.tp = (struct vdm_tp){ .ops = &vdm_tp_keeper_ops,
				     .fd = hd->dev_fd,
				     .is_sim = (int)hd->is_sim };
	vdm_set_tp(h, &ho->kl.tp);
	ho->kl.sock = hd->keeper_sock;
	ho->kl.pid = hd->keeper_pid;
	ho->token = hd->token;
	vdm_map_dev_mm(h, hd->keeper_pid);
	vdm_region_hook_set(h, keeper_region_hook);
	pidfd = pidfd_open_(hd->keeper_pid);
	ho->kl.pidfd = pidfd >= 0 ? pidfd : -1;
	if (pidfd == -ESRCH)
		ho->kl.dead = 1;
	else if (pidfd < 0 && pidfd != -ENOSYS)
		return pidfd; /* say, EMFILE: not a death */
	return 0;
}

/* 1 if the keeper has exited (its pidfd is readable). */
static bool keeper_exited(const struct vdm_handoff *ho)
{
	struct pollfd p = { .fd = ho->kl.pidfd, .events = POLLIN };

	if (ho->kl.pidfd < 0) /* no pidfd_open (valgrind, < 5.3) */
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
			vdm_info(h,
				 "mm keeper: more than %u regions, the old "
				 "address space is not trimmed",
				 VDM_KP_MAX_RANGES);
			return;
		}
		rr[n++] = (struct vdm_kp_range){ .start = rg->dev_base,
						 .len = rg->r.len };
	}
	vdm_kp_trim(&h->ho->kl, rr, n);
}

/* KEEPER in the successor: the device resumes; nothing waits for the
 * keeper.  Its liveness is its pidfd's (no PING: the round trip was on
 * the downtime's critical path); the TRIM that follows the first frame
 * carries its pid back instead (transport/keeper.c checks it).  < 0:
 * nothing changed, the adopt fails and may be retried (RESUME refused:
 * its error).  A dead keeper, or a reply of the device lost (simulator),
 * gives 0 and a poisoned handle: vdpamap_handoff_rebuild() recovers it.
 * The keeper already has the state for a re-attach (prepare gave it this
 * very memfd). */
int vdm_ho_keeper_takeover(struct vdpamap *h, const struct vdm_ho_hdr *hd)
{
	struct vdm_handoff *ho = h->ho;
	int r;

	if (!ho->kl.dead && keeper_exited(ho))
		ho->kl.dead = 1;
	if (ho->kl.dead) {
		if (!h->poison)
			vdm_poison(h,
				   "mm keeper (pid %d) is dead: the device "
				   "has no owner; vdpamap_handoff_rebuild() "
				   "reopens it",
				   hd->keeper_pid);
		return 0;
	}
	r = vdm_ho_resume(h);
	if (r < 0 && !h->poison)
		return r; /* still suspended, as before */
	/* the old image is gone: its address space is trimmed, but after
	 * the first frame (vdm_ho_keeper_trim_due()), not on the downtime:
	 * the trim's munmaps compete with the device for the CPU and, in
	 * VA mode, for that address space's lock */
	if (!h->poison)
		ho->trim_due = 1;
	return 0;
}

void vdm_ho_keeper_trim_due(struct vdpamap *h)
{
	struct vdm_handoff *ho = h->ho;

	if (!ho || !ho->trim_due)
		return;
	ho->trim_due = 0;
	if (vdm_ho_keeper_live(h) && !h->poison)
		keeper_trim(h);
}
