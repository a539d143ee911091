// SPDX-License-Identifier: BSD-3-Clause
/* The kernel transport: /dev/vhost-vdpa-N, plain ioctl() and write(). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "transport/simproto.h"
#include "transport/transport.h"

static int kern_ioctl(struct vdm_tp *t, unsigned long req, void *arg)
{
	int r = ioctl(t->fd, req, arg);

	return r < 0 ? -errno : r;
}

static long kern_write(struct vdm_tp *t, const void *buf, size_t len)
{
	ssize_t r;

	do {
		r = write(t->fd, buf, len);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/* The kernel charges pins to the owner mm's pinned_vm: "VmPin" in status. */
static int kern_pinned(struct vdm_tp *t, uint64_t *ret)
{
	char line[256];
	FILE *f;
	int r = -ENOENT;

	(void)t;
	f = fopen("/proc/self/status", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;

		if (sscanf(line, "VmPin: %llu kB", &kb) == 1) {
			*ret = (uint64_t)kb * 1024;
			r = 0;
			break;
		}
	}
	fclose(f);
	return r;
}

static const struct vdm_tp_ops kern_ops = {
	.ioctl = kern_ioctl,
	.write = kern_write,
	.pinned = kern_pinned,
};

static int tp_adopt(int fd, unsigned int timeout_ms, struct vdm_tp *t)
{
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISCHR(st.st_mode)) {
		*t = (struct vdm_tp){ .ops = &kern_ops, .fd = fd };
		return 0;
	}
	if (S_ISSOCK(st.st_mode)) {
		r = vdm_sim_hello(fd, VSIM_KIND_DEVICE, timeout_ms);
		if (r < 0)
			return r;
		*t = (struct vdm_tp){ .ops = &vdm_tp_sim_ops,
				      .fd = fd,
				      .is_sim = 1 };
		return 0;
	}
	return -ENOTTY;
}

int vdm_tp_inherit(int fd, struct vdm_tp *t)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISCHR(st.st_mode))
		*t = (struct vdm_tp){ .ops = &kern_ops, .fd = fd };
	else if (S_ISSOCK(st.st_mode))
		*t = (struct vdm_tp){ .ops = &vdm_tp_sim_ops,
				      .fd = fd,
				      .is_sim = 1 };
	else
		return -ENOTTY;
	return 0;
}

static int tp_open(const char *path, unsigned int timeout_ms, struct vdm_tp *t)
{
	struct stat st;
	int fd, r;

	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISSOCK(st.st_mode)) {
		/* connect and HELLO within one timeout */
		fd = vdm_sim_open(path, VSIM_KIND_DEVICE, timeout_ms);
		if (fd < 0)
			return fd;
		*t = (struct vdm_tp){ .ops = &vdm_tp_sim_ops,
				      .fd = fd,
				      .is_sim = 1 };
		return 0;
	}
	if (!S_ISCHR(st.st_mode))
		return -ENOTTY;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = tp_adopt(fd, timeout_ms, t);
	if (r < 0)
		close(fd);
	return r;
}

/* Open and adopt put errno back as it was (see vdm_tp_ioctl()). */
int vdm_tp_open(const char *path, unsigned int timeout_ms, struct vdm_tp *t)
{
	int saved = errno, r = tp_open(path, timeout_ms, t);

	errno = saved;
	return r;
}

int vdm_tp_adopt(int fd, unsigned int timeout_ms, struct vdm_tp *t)
{
	int saved = errno, r = tp_adopt(fd, timeout_ms, t);

	errno = saved;
	return r;
}

void vdm_tp_close(struct vdm_tp *t)
{
	if (t->fd >= 0 && t->is_sim)
		vdm_tp_sim_close(t); /* returns once the daemon released it */
	else if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}
