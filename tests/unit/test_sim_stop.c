// SPDX-License-Identifier: BSD-3-Clause
/*
 * vdpamap_sim_stop() touches only a socket that a simulator of ours is
 * serving (issue 16, misuse 1): a regular file, a FIFO or a socket nobody
 * serves at the path is left as it is and the errno says what was found;
 * a daemon it stopped leaves no socket behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "vdpamap.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vdpamap-simstop.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

static bool exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

static void test_regular_file(void **state)
{
	char p[128];
	int fd;

	(void)state;
	snprintf(p, sizeof(p), "%s/file", dir);
	fd = open(p, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(vdpamap_sim_stop(p), -ENOTSOCK);
	assert_true(exists(p));
	unlink(p);
}

static void test_fifo(void **state)
{
	char p[128];

	(void)state;
	snprintf(p, sizeof(p), "%s/fifo", dir);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(vdpamap_sim_stop(p), -ENOTSOCK);
	assert_true(exists(p));
	unlink(p);
}

/* bound, never listened on: connect() is refused, as for a daemon that
 * died without removing its socket; not ours to remove */
static void test_unserved_socket(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char p[sizeof(sa.sun_path) - 8];
	int fd;

	(void)state;
	snprintf(p, sizeof(p), "%s/sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(vdpamap_sim_stop(p), -ECONNREFUSED);
	assert_true(exists(p));
	close(fd);
	unlink(p);
}

static void test_nothing(void **state)
{
	char p[128];

	(void)state;
	snprintf(p, sizeof(p), "%s/none", dir);
	assert_int_equal(vdpamap_sim_stop(p), -ENOENT);
	assert_int_equal(vdpamap_sim_stop(NULL), -EINVAL);
}

static void test_served(void **state)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so);
	char p[108];
	pid_t pid;

	(void)state;
	assert_int_equal(vdpamap_sim_spawn(&so, p, sizeof(p), &pid), 0);
	assert_true(exists(p));
	assert_int_equal(vdpamap_sim_stop(p), 0);
	assert_false(exists(p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regular_file),
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_unserved_socket),
		cmocka_unit_test(test_nothing),
		cmocka_unit_test(test_served),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
