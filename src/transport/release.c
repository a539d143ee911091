// SPDX-License-Identifier: BSD-3-Clause
/*
 * release: the close of a simulator device returns once the daemon has
 * released it, as a kernel's close() returns after vhost_vdpa_release():
 * the maps, the pins and the ownership of the connection are gone before
 * vdpamap_close() returns, so that an open right after it, in this process
 * or another, finds the device free, and the memory it mapped is no longer
 * held (the daemon's "pins" are its mappings of the memfd: F_SEAL_WRITE
 * refuses while they exist, as it refuses while a kernel pins pages).
 *
 * The daemon sees the close as its connection's hang-up, in its own time.
 * One HELLO on a fresh control connection to the same daemon is answered
 * only after it has looked: it reaps a hung-up device connection before it
 * answers any request that is not the device's own (src/sim/server.c), and
 * a daemon that predates that still handles a hang-up in the poll round
 * before it accepts a connection made after it.  The connection is closed
 * only where no other process holds it (a fork's child, an exec's
 * successor, an mm keeper): then nothing is released, as on a kernel.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "transport/simproto.h"
#include "transport/transport.h"

/* A daemon that does not answer within this (stopped, or too busy) is not
 * waited for any longer: close must not hang on it. */
#define VDM_SIM_RELEASE_MS 2000

/* One HELLO on a new control connection to the daemon at path; returns
 * when it is answered, or at the deadline (connect and HELLO together,
 * vdm_sim_open()).  Nobody there any more: nothing to wait for. */
static void release_wait(const char *path)
{
	int c = vdm_sim_open(path, VSIM_KIND_CONTROL, VDM_SIM_RELEASE_MS);

	if (c >= 0)
		close(c);
}

void vdm_tp_sim_close(struct vdm_tp *t)
{
	struct sockaddr_un sa;
	socklen_t sl = sizeof(sa);
	int saved = errno, named;

	memset(&sa, 0, sizeof(sa));
	/* the daemon's bound path, asked before the connection goes */
	named = getpeername(t->fd, (struct sockaddr *)&sa, &sl) == 0 &&
		sl > offsetof(struct sockaddr_un, sun_path) && sa.sun_path[0] &&
		!sa.sun_path[sizeof(sa.sun_path) - 1];
	close(t->fd);
	t->fd = -1;
	if (named)
		release_wait(sa.sun_path);
	errno = saved;
}
