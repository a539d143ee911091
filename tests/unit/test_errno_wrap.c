// SPDX-License-Identifier: BSD-3-Clause
/*
 * The errno wrapper of the tests (docs/errno.table, tests/meson.build)
 * fails a test that sees an errno the table does not list.  This program
 * is linked with a wrapper made as if the table did not list -EINVAL for
 * vdpamap_fd(): vdpamap_fd(NULL) must abort, saying so on stderr, while
 * an errno the table lists (vdpamap_get_info(NULL, ...): -EINVAL) passes
 * through.  Without the wrapper (a linker that ignores --wrap, a build
 * that drops it) the child exits 0 and this test fails.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vdpamap.h>

int main(void)
{
	const char *want = "vdpamap_fd returned -EINVAL (-22), not in "
			   "docs/errno.table";
	struct vdpamap_info info;
	char buf[512];
	ssize_t n, got = 0;
	int p[2], st, r;
	pid_t pid;

	r = vdpamap_get_info(NULL, &info);
	if (r != -EINVAL) {
		fprintf(stderr, "vdpamap_get_info(NULL): %d, want -EINVAL\n",
			r);
		return 1;
	}
	if (pipe(p) < 0) {
		perror("pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		r = vdpamap_fd(NULL);
		_exit(r == -EINVAL ? 0 : 3);
	}
	close(p[1]);
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(p[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	close(p[0]);
	if (waitpid(pid, &st, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT) {
		fprintf(stderr,
			"vdpamap_fd(NULL) with -EINVAL left out of the table: "
			"status 0x%x, want SIGABRT (is the wrapper linked?)\n",
			st);
		return 1;
	}
	if (!strstr(buf, want)) {
		fprintf(stderr, "stderr: \"%s\", want \"%s\"\n", buf, want);
		return 1;
	}
	printf("an errno the table does not list aborts: %s\n", want);
	return 0;
}
