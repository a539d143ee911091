// SPDX-License-Identifier: BSD-3-Clause
/*
 * The connection to a simulator daemon, shared by the library's transport
 * (transport/sim.c) and the control client (sim/control.c).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "transport/transport.h"

static int set_sndtimeo(int fd, unsigned int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int vdm_sun_path(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	/* its length is checked above:
	 * NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy) */
	strcpy(sa->sun_path, path);
	return 0;
}

int vdm_sim_connect(const char *path, unsigned int timeout_ms)
{
	struct sockaddr_un sa;
	int fd, r;

	r = vdm_sun_path(&sa, path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A unix connect() waits while the listener's backlog is full (a
	 * server that never accepts) for as long as SO_SNDTIMEO says, then
	 * fails with EAGAIN; a non-blocking one could not wait at all. */
	if (set_sndtimeo(fd, timeout_ms ? timeout_ms : VDM_SIM_TIMEOUT_MS) < 0)
		goto fail;
	do {
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EAGAIN)
			errno = ETIMEDOUT;
		goto fail;
	}
	/* the device's requests wait as long as the daemon takes (a
	 * kernel's ioctl() has no timeout either) */
	if (set_sndtimeo(fd, 0) < 0)
		goto fail;
	return fd;
fail:
	r = -errno;
	close(fd);
	return r;
}
