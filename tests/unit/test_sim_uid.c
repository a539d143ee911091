// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulator's socket is its owner's (docs/threat-model.md): created
 * 0600 whatever the umask (this test sets umask 0), and the daemon refuses
 * a peer of another uid even when the mode would let it in; with
 * VDPAMAP_SIM_ANY_UID the socket is 0666 and another uid is served.
 * Played as two uids: root spawns the daemons, a forked child drops to
 * nobody (65534) and tries.  Not root: exit 77, saying why.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "vdpamap.h"

#define NOBODY 65534

#define CHECK(c, ...) CHECK_OR(exit(1), c, __VA_ARGS__)

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* In a child as nobody: what connect() and vdpamap_sim_get_stats() say,
 * as "connect,stats" errnos (0: it worked). */
static void as_nobody(const char *path, int *conn, int *stats)
{
	int p[2], res[2] = { 1, 1 }, st;
	pid_t pid;

	CHECK(pipe(p) == 0, "pipe");
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct vdpamap_sim_stats ss;

		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 ||
		    setuid(NOBODY) < 0)
			_exit(3);
		res[0] = raw_connect(path);
		res[1] = vdpamap_sim_get_stats(path, &ss);
		if (write(p[1], res, sizeof(res)) != sizeof(res))
			_exit(4);
		_exit(0);
	}
	close(p[1]);
	CHECK(read(p[0], res, sizeof(res)) == sizeof(res), "child result");
	close(p[0]);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
		      WEXITSTATUS(st) == 0,
	      "child status 0x%x", st);
	*conn = res[0];
	*stats = res[1];
}

static void spawn(const char *dir, uint32_t flags, char *path, size_t len)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .dir = dir, .flags = flags);
	int r = vdpamap_sim_spawn(&so, path, len, NULL);

	CHECK(r == 0, "sim spawn: %d", r);
}

int main(void)
{
	char dir[] = "/tmp/vdpamap-simuid-XXXXXX", path[108];
	struct vdpamap_sim_stats ss;
	struct stat st;
	int c, s;

	if (geteuid() != 0) {
		printf("skip: needs root to play two uids (fork, setuid to "
		       "nobody %d, connect)\n",
		       NOBODY);
		return 77;
	}
	umask(0); /* the library must not rely on the caller's */
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	CHECK(chmod(dir, 0755) == 0, "chmod dir"); /* nobody may enter */

	/* default: 0600, nobody cannot connect at all */
	spawn(dir, 0, path, sizeof(path));
	CHECK(stat(path, &st) == 0, "stat %s", path);
	CHECK((st.st_mode & 0777) == 0600, "socket mode 0%o, not 0600",
	      st.st_mode & 0777);
	as_nobody(path, &c, &s);
	CHECK(c == -EACCES && s == -EACCES, "nobody: connect %d, stats %d", c,
	      s);
	CHECK(vdpamap_sim_get_stats(path, &ss) == 0, "owner refused");
	printf("ok   0600 socket: another uid gets -EACCES, the owner is "
	       "served\n");

	/* the mode opened by hand: the daemon still refuses the uid */
	CHECK(chmod(path, 0666) == 0, "chmod socket");
	as_nobody(path, &c, &s);
	CHECK(c == 0, "nobody: connect %d after chmod 0666", c);
	CHECK(s < 0, "nobody: served by the daemon (stats %d)", s);
	CHECK(vdpamap_sim_get_stats(path, &ss) == 0, "owner refused");
	printf("ok   socket made 0666: the daemon drops another uid (%d), "
	       "serves the owner\n",
	       s);
	vdpamap_sim_stop(path);

	/* ANY_UID: shared on purpose */
	spawn(dir, VDPAMAP_SIM_ANY_UID, path, sizeof(path));
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0666,
	      "ANY_UID socket mode 0%o", st.st_mode & 0777);
	as_nobody(path, &c, &s);
	CHECK(c == 0 && s == 0, "ANY_UID: nobody connect %d, stats %d", c, s);
	printf("ok   VDPAMAP_SIM_ANY_UID: 0666 and another uid is served\n");
	vdpamap_sim_stop(path);
	rmdir(dir);
	printf("3 passed\n");
	return 0;
}
