// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulator daemon's start: its socket (bound, made owner-only, only
 * then listening), vdpamap_sim_serve() in the calling process, and
 * vdpamap_sim_spawn(), which forks a detached daemon with its fds set
 * (the listening socket, /dev/null for the rest) at a socket path of its
 * own naming.  The daemon itself is server.c's.
 *
 * The top of the module: calls server.c (vsim_serve_fd, vsim_opts_parse).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/sim.h"
#include "transport/transport.h"

/* Bound, made owner-only (any_uid: 0666) by its path, and only then
 * listening: nobody can connect before the mode is right (connect()
 * needs write permission on the socket file, and a socket that does not
 * listen yet refuses), whatever the caller's umask. */
static int listen_at(const char *path, bool any_uid)
{
	struct sockaddr_un sa;
	int fd, one = 1;

	fd = vdm_sun_path(&sa, path);
	if (fd < 0)
		return fd;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* inherited by accepted sockets: packets sent before accept() carry
	 * credentials too */
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	if (chmod(path, any_uid ? 0666 : 0600) < 0 || listen(fd, 64) < 0) {
		int e = -errno;

		close(fd);
		unlink(path);
		return e;
	}
	return fd;
}

int vdpamap_sim_serve(const char *path, const struct vdpamap_sim_opts *opts)
{
	struct vsim_opts o;
	int fd, r;

	if (!path)
		return -EINVAL;
	r = vsim_opts_parse(opts, &o);
	if (r)
		return r;
	fd = listen_at(path, o.flags & VDPAMAP_SIM_ANY_UID);
	if (fd < 0)
		return fd;
	return vsim_serve_fd(fd, path, &o); /* closes fd, removes path */
}

static void daemon_fds(int *lfd)
{
	int fd, keep = *lfd, log = 0;
	const char *e = getenv("VDPAMAP_SIM_LOG");

	log = e && !strcmp(e, "1");
	/* move the socket above 2, then close everything else */
	if (keep < 3) {
		fd = fcntl(keep, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			_exit(1);
		keep = fd;
	}
	if (keep > 3)
		syscall(SYS_close_range, 3U, (unsigned int)keep - 1, 0U);
	syscall(SYS_close_range, (unsigned int)keep + 1, ~0U, 0U);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		if (!log) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (fd > 2 && fd != keep)
			close(fd);
	}
	*lfd = keep;
}

/* The daemon's socket path: dir/vdpamap-sim-<pid>-<random>.sock, dir from
 * the options, else $TMPDIR, else /tmp.  Its length, or -errno. */
static int sock_path(const struct vdpamap_sim_opts *opts, char *buf,
		     size_t size, size_t len)
{
	const char *dir = NULL;
	uint64_t rnd = 0;
	int n;

	if (opts && opts->sz >= offsetof(struct vdpamap_sim_opts, dir) +
					sizeof(opts->dir))
		dir = opts->dir;
	if (!dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	n = snprintf(buf, size, "%s/vdpamap-sim-%d-%016llx.sock", dir,
		     (int)getpid(), (unsigned long long)rnd);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if ((size_t)n >= len)
		return -ERANGE;
	return n;
}

/* The intermediate child: a new session, forks the daemon, reports its
 * pid on p[1] and exits, so that the daemon is nobody's child. */
static void __attribute__((noreturn))
spawn_child(int p[2], int lfd, const char *path, const struct vsim_opts *o)
{
	sigset_t all;
	pid_t gpid;
	int sig, r;

	setsid();
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	gpid = fork();
	if (gpid != 0) {
		if (write(p[1], &gpid, sizeof(gpid)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	close(p[1]);
	daemon_fds(&lfd);
	r = vsim_serve_fd(lfd, path, o); /* removes path */
	_exit(r ? 1 : 0);
}

int vdpamap_sim_spawn(const struct vdpamap_sim_opts *opts, char *path,
		      size_t len, pid_t *ret_pid)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct vsim_opts o;
	pid_t pid, gpid = -1;
	int lfd, p[2], st, r, n;

	if (!path || !len)
		return -EINVAL;
	r = vsim_opts_parse(opts, &o);
	if (r)
		return r;
	n = sock_path(opts, buf, sizeof(buf), len);
	if (n < 0)
		return n;
	lfd = listen_at(buf, o.flags & VDPAMAP_SIM_ANY_UID);
	if (lfd < 0)
		return lfd;
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		goto out_listener;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out_pipe_write;
	}
	if (pid == 0)
		spawn_child(p, lfd, buf, &o);
	close(p[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (read(p[0], &gpid, sizeof(gpid)) != sizeof(gpid) || gpid < 0) {
		r = -ECHILD;
		goto out_pipe_read;
	}
	close(p[0]);
	close(lfd);
	memcpy(path, buf, (size_t)n + 1);
	if (ret_pid)
		*ret_pid = gpid;
	return 0;
out_pipe_write:
	close(p[1]);
out_pipe_read:
	close(p[0]);
out_listener:
	close(lfd);
	unlink(buf);
	return r;
}
