// SPDX-License-Identifier: BSD-3-Clause
/*
 * mgmt_chardev: from a vdpa device name to its vhost-vdpa char device, as
 * sysfs shows it (/sys/bus/vdpa/devices/NAME/vhost-vdpa-N exists while
 * vhost_vdpa drives NAME), and vdpamap_open() by name.  No netlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "lifecycle/lifecycle.h"
#include "mgmt/mgmt.h"

/* ---- vdpa device name -> /dev/vhost-vdpa-N */
#define VDPA_SYSFS "/sys/bus/vdpa/devices/"

static int chardev_find(const char *name, char *buf, size_t len)
{
	char path[sizeof(VDPA_SYSFS) + VDPAMAP_MGMT_NAME_MAX];
	struct dirent *de;
	DIR *d;
	int fd, e = -ENODEV;

	if (!name || !*name || strlen(name) >= VDPAMAP_MGMT_NAME_MAX ||
	    strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	snprintf(path, sizeof(path), VDPA_SYSFS "%s", name);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR ? -ENOENT : -errno;
	d = fdopendir(fd);
	if (!d) {
		e = -errno;
		close(fd);
		return e;
	}
	while ((de = readdir(d))) {
		unsigned int n;
		int end = 0;

		if (sscanf(de->d_name, "vhost-vdpa-%u%n", &n, &end) != 1 ||
		    de->d_name[end])
			continue;
		if ((size_t)snprintf(buf, len, "/dev/%s", de->d_name) >= len)
			e = -ENAMETOOLONG;
		else
			e = 0;
		break;
	}
	closedir(d);
	return e;
}

VDPAMAP_API int vdpamap_mgmt_chardev(const char *name, char *buf, size_t len)
{
	char tmp[64];
	int e;

	if (!buf)
		return -EINVAL;
	e = chardev_find(name, tmp, sizeof(tmp));
	if (e < 0)
		return e;
	if (strlen(tmp) >= len)
		return -ENAMETOOLONG;
	/* its length is checked above:
	 * NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy) */
	strcpy(buf, tmp);
	return 0;
}

VDPAMAP_API int vdpamap_open_by_name(const char *name,
				     const struct vdpamap_open_opts *opts,
				     struct vdpamap **ret)
{
	struct vdpamap_mgmt lg = { 0 }; /* only for its logger */
	char dev[64];
	int e;

	/* bad opts are refused before anything is looked up, as
	 * vdpamap_open() does */
	e = OPTS_ERR(opts, vdpamap_open_opts);
	if (e < 0)
		return e;
	if (opts) {
		lg.log_fn = OPTS_GET(opts, log_fn, NULL);
		lg.log_ctx = OPTS_GET(opts, log_ctx, NULL);
		lg.log_level = OPTS_GET(opts, log_level, 0);
	}
	if (!lg.log_level)
		lg.log_level = VDPAMAP_LOG_WARN;
	if (!ret)
		return -EINVAL;
	e = vdpamap_mgmt_chardev(name, dev, sizeof(dev));
	if (e == -ENODEV) {
		char link[256], drv[256];
		ssize_t n;

		snprintf(link, sizeof(link), VDPA_SYSFS "%s/driver", name);
		n = readlink(link, drv, sizeof(drv) - 1);
		if (n > 0) {
			drv[n] = '\0';
			const char *d = strrchr(drv, '/');

			vdm_mgmt_log(&lg, VDPAMAP_LOG_ERR,
				     "vdpa device %s is bound to %s, not "
				     "vhost_vdpa",
				     name, d ? d + 1 : drv);
		} else {
			vdm_mgmt_log(&lg, VDPAMAP_LOG_ERR,
				     "vdpa device %s is not bound to any driver",
				     name);
		}
		return e;
	}
	if (e < 0) {
		vdm_mgmt_log(&lg, VDPAMAP_LOG_ERR, "vdpa device %s: %s",
			     name ? name : "(null)",
			     e == -ENOENT ? "no such device" : "bad name");
		return e;
	}
	vdm_mgmt_log(&lg, VDPAMAP_LOG_DEBUG, "vdpa device %s is %s", name, dev);
	return vdm_open(dev, opts, ret);
}
