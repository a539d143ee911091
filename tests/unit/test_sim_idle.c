// SPDX-License-Identifier: BSD-3-Clause
/*
 * A simulator daemon nobody uses any more exits after its idle time
 * (issue 16, misuse 10), removing its socket; one whose device a process
 * still holds open with maps stays, as a kernel device does, also when
 * that process is an exec handoff's mm keeper after the predecessor went
 * (a successor that never came); a crash of the holder releases the
 * device and the daemon leaves after its idle time.
 * vdpamap_sim_get_state() says which, and asking is not a use.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vdpamap.h"

#define IDLE_MS 300U
#define MEM	(2U << 20)
/* on a loaded machine: how late an exit may come and still pass */
#define SLACK_MS 5000

/* what a case started, for the teardown to end if it failed midway */
static struct {
	char path[108];
	pid_t pid;
	int pidfd;
	pid_t child;
} sim;

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/* true if the daemon exited within ms */
static bool exits_within(int ms)
{
	struct pollfd p = { .fd = sim.pidfd, .events = POLLIN };
	uint64_t end = now_ms() + (uint64_t)ms;

	if (sim.pidfd >= 0)
		return poll(&p, 1, ms) == 1;
	/* no pidfd_open (valgrind): the daemon is init's child once it
	 * runs, reaped as it exits */
	for (;;) {
		if (kill(sim.pid, 0) < 0 && errno == ESRCH)
			return true;
		if (now_ms() >= end)
			return false;
		usleep(10 * 1000);
	}
}

static void spawn(uint32_t idle_ms)
{
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .idle_timeout_ms = idle_ms);

	assert_int_equal(vdpamap_sim_spawn(&so, sim.path, sizeof(sim.path),
					   &sim.pid),
			 0);
	sim.pidfd = pidfd_open_(sim.pid);
	assert_true(sim.pidfd >= 0 || errno == ENOSYS);
}

static int setup(void **state)
{
	(void)state;
	memset(&sim, 0, sizeof(sim));
	sim.pidfd = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (sim.child > 0) {
		kill(sim.child, SIGKILL);
		waitpid(sim.child, NULL, 0);
	}
	if (sim.pid > 0 && !exits_within(0))
		vdpamap_sim_stop(sim.path);
	if (sim.pidfd >= 0)
		close(sim.pidfd);
	return 0;
}

static void test_unused_exits(void **state)
{
	struct vdpamap_sim_state st;
	uint64_t t0 = now_ms();

	(void)state;
	spawn(IDLE_MS);
	assert_true(exists(sim.path));
	assert_int_equal(vdpamap_sim_get_state(sim.path, &st), 0);
	assert_int_equal(st.pid, sim.pid);
	assert_int_equal(st.busy, 0);
	assert_int_equal(st.idle_timeout_ms, IDLE_MS);
	assert_int_equal(st.connections, 0);
	assert_int_equal(st.iotlb_entries, 0);
	assert_true(st.idle_ms <= now_ms() - t0);
	assert_string_equal(st.kernel, "linux-7.3");
	assert_string_equal(st.parent, "vdpa_sim");
	assert_true(exits_within(IDLE_MS + SLACK_MS));
	assert_true(now_ms() - t0 >= IDLE_MS);
	assert_false(exists(sim.path));
}

/* A request uses the daemon: its idle time counts from there. */
static void test_requests_keep_it(void **state)
{
	struct vdpamap_sim_stats st;
	uint64_t t0;
	int i;

	(void)state;
	spawn(IDLE_MS);
	for (i = 0; i < 6; i++) {
		usleep(IDLE_MS * 1000 / 2);
		assert_int_equal(vdpamap_sim_get_stats(sim.path, &st), 0);
	}
	t0 = now_ms();
	assert_true(exits_within(IDLE_MS + SLACK_MS));
	assert_true(now_ms() - t0 >= IDLE_MS - 10);
	assert_false(exists(sim.path));
}

/* Asking the state does not use the daemon: it leaves on time. */
static void test_state_is_not_a_use(void **state)
{
	struct vdpamap_sim_state st;
	uint64_t t0 = now_ms();

	(void)state;
	spawn(IDLE_MS);
	while (vdpamap_sim_get_state(sim.path, &st) == 0) {
		assert_true(now_ms() - t0 < IDLE_MS + SLACK_MS);
		usleep(20 * 1000);
	}
	assert_true(exits_within(SLACK_MS));
	assert_int_equal(vdpamap_sim_get_state(sim.path, NULL), -EINVAL);
}

/* 0: the default */
static void test_default(void **state)
{
	struct vdpamap_sim_state st;

	(void)state;
	spawn(0);
	assert_int_equal(vdpamap_sim_get_state(sim.path, &st), 0);
	assert_int_equal(st.idle_timeout_ms, VDPAMAP_SIM_IDLE_DEFAULT_MS);
	assert_int_equal(st.idle_timeout_ms, 60000);
}

/* In a child: open the daemon's device, map memory of a memfd, then say
 * on wfd how that went, and (handoff) prepare a KEEPER handoff that
 * waits grace_ms for a successor; then pause, or (handoff) leave. */
static void __attribute__((noreturn)) holder(int wfd, int handoff)
{
	VDPAMAP_OPTS(vdpamap_handoff_opts, ho,
		     .strategy = VDPAMAP_HANDOFF_KEEPER,
		     .reattach_grace_ms = 4 * IDLE_MS);
	struct vdpamap *h = NULL;
	int r, fd, sfd;
	void *mem;

	fd = memfd_create("guest", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, MEM) < 0)
		_exit(2);
	mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		_exit(2);
	r = vdpamap_open(sim.path, NULL, &h);
	if (r == 0)
		r = vdpamap_region_add(h,
				       &(struct vdpamap_region){ .hva = mem,
								 .len = MEM,
								 .fd = fd },
				       NULL);
	if (r == 0)
		r = vdpamap_map(h, 0, 0x100000, mem, MEM, VDPAMAP_PERM_RW);
	if (r == 0 && handoff)
		r = vdpamap_handoff_prepare(h, &ho, &sfd);
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(2);
	if (handoff)
		_exit(0); /* the exec that never was: the keeper holds on */
	for (;;)
		pause();
}

/* The child's outcome, read from rfd */
static int start_holder(int handoff)
{
	int p[2], r = -EPROTO;

	assert_int_equal(pipe(p), 0);
	sim.child = fork();
	assert_true(sim.child >= 0);
	if (sim.child == 0) {
		close(p[0]);
		holder(p[1], handoff);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &r, sizeof(r)), sizeof(r));
	close(p[0]);
	return r;
}

static void test_held_device_stays(void **state)
{
	struct vdpamap_sim_state st;
	struct vdpamap_sim_entry e;
	uint64_t t0;

	(void)state;
	spawn(IDLE_MS);
	assert_int_equal(start_holder(0), 0);
	assert_false(exits_within(3 * IDLE_MS));
	assert_int_equal(vdpamap_sim_table(sim.path, 0, &e, 1), 1);
	assert_int_equal(vdpamap_sim_get_state(sim.path, &st), 0);
	assert_int_equal(st.busy,
			 VDPAMAP_SIM_BUSY_DEVICE | VDPAMAP_SIM_BUSY_MAPS);
	assert_int_equal(st.iotlb_entries, 1);
	assert_int_equal(st.connections, 1);
	assert_int_equal(st.idle_ms, 0);
	/* a crash: the exit closes the connection, the daemon releases the
	 * device as the kernel does, and is unused from then on */
	kill(sim.child, SIGKILL);
	assert_int_equal(waitpid(sim.child, NULL, 0), sim.child);
	sim.child = 0;
	assert_int_equal(vdpamap_sim_table(sim.path, 0, &e, 1), 0);
	assert_int_equal(vdpamap_sim_get_state(sim.path, &st), 0);
	assert_int_equal(st.busy, 0);
	assert_int_equal(st.iotlb_entries, 0);
	t0 = now_ms();
	assert_true(exits_within(IDLE_MS + SLACK_MS));
	assert_true(now_ms() - t0 >= IDLE_MS - 10);
	assert_false(exists(sim.path));
}

static void test_prepared_handoff_stays(void **state)
{
	struct vdpamap_sim_state st;
	struct vdpamap_sim_entry e;
	int r;

	(void)state;
	if (getenv("VDPAMAP_MEMCHECK"))
		skip(); /* valgrind refuses the keeper's clone(CLONE_VM) */
	spawn(IDLE_MS);
	r = start_holder(1);
	assert_int_equal(waitpid(sim.child, NULL, 0), sim.child);
	sim.child = 0;
	if (r == -EOPNOTSUPP)
		skip(); /* no mm keeper on this architecture */
	assert_int_equal(r, 0);
	/* the predecessor is gone; its keeper holds the device and its maps
	 * for a successor, for 4 * IDLE_MS */
	assert_false(exits_within(3 * IDLE_MS));
	assert_int_equal(vdpamap_sim_table(sim.path, 0, &e, 1), 1);
	assert_int_equal(vdpamap_sim_get_state(sim.path, &st), 0);
	assert_true(st.busy & VDPAMAP_SIM_BUSY_DEVICE);
	assert_true(st.busy & VDPAMAP_SIM_BUSY_MAPS);
	/* then it lets the device go: the daemon is unused from then on */
	assert_true(exits_within(IDLE_MS + IDLE_MS + SLACK_MS));
	assert_false(exists(sim.path));
}

/* VDPAMAP_SIM_IDLE_NEVER: it waits for vdpamap_sim_stop() */
static void test_never(void **state)
{
	struct vdpamap_sim_state st;

	(void)state;
	spawn(VDPAMAP_SIM_IDLE_NEVER);
	assert_int_equal(vdpamap_sim_get_state(sim.path, &st), 0);
	assert_int_equal(st.idle_timeout_ms, VDPAMAP_SIM_IDLE_NEVER);
	assert_false(exits_within(3 * IDLE_MS));
	assert_int_equal(vdpamap_sim_stop(sim.path), 0);
	assert_true(exits_within(SLACK_MS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unused_exits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_requests_keep_it, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_is_not_a_use, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_held_device_stays, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prepared_handoff_stays,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_never, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
