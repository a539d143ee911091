// SPDX-License-Identifier: BSD-3-Clause
/*
 * vdpamap-vduse-net: options, the daemon's single-threaded poll loop (the
 * device fd for requests, one kick eventfd per vq) and its life cycle:
 * it creates the VDUSE device, waits for `vdpa dev add mgmtdev vduse name
 * NAME`, serves it, and exits once that vdpa device is deleted (it then
 * destroys the VDUSE device).  A client (the vhost-vdpa user) that execs
 * or dies changes nothing here: the kernel resets the device and rewrites
 * the IOTLB, and the daemon follows.  SIGTERM or SIGINT: destroy and exit
 * (the VDUSE device stays while a vdpa device uses it).
 *
 * Calls below it: dev.c, iotlb.c, log.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vduse/vduse.h"

#define POLL_MS 100 /* how often the vdpa device's presence is checked */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vdpamap-vduse-net [OPTIONS]\n"
		"\n"
		"A VDUSE loopback virtio-net device served from userspace: "
		"every frame sent on\n"
		"TX comes back on RX.  With vhost_vdpa loaded, it gives a "
		"real /dev/vhost-vdpa-N\n"
		"without a vDPA NIC:\n"
		"\n"
		"  modprobe vduse; modprobe vhost_vdpa\n"
		"  vdpamap-vduse-net --daemonize --name vduse0\n"
		"  vdpa dev add mgmtdev vduse name vduse0\n"
		"  ls /sys/bus/vdpa/devices/vduse0/    # vhost-vdpa-N\n"
		"  ...\n"
		"  vdpa dev del vduse0                 # the daemon exits\n"
		"\n"
		"Options:\n"
		"  -n, --name NAME        device name (default vduse0)\n"
		"  -m, --mac MAC          MAC in the config space "
		"(default 02:00:00:00:00:02)\n"
		"  -q, --queue-size N     max ring size, a power of 2 "
		"(default 256)\n"
		"  -a, --api 0|1|auto     VDUSE API version (default auto: 1 "
		"where the kernel has it,\n"
		"                         Linux >= 7.0: 2 groups, 2 address "
		"spaces, suspend)\n"
		"  -d, --daemonize        go to the background once the "
		"device exists (the parent\n"
		"                         exits 0 then, 1 if it could not be "
		"created)\n"
		"  -v, --verbose          log every request\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit: 0 when the vdpa device was deleted (or on SIGTERM/"
		"SIGINT), 1 on an error.\n");
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

static int parse(int argc, char **argv, struct vdu_create_opts *o,
		 int *daemonize, int *verbose)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "mac", required_argument, NULL, 'm' },
		{ "queue-size", required_argument, NULL, 'q' },
		{ "api", required_argument, NULL, 'a' },
		{ "daemonize", no_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long q;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "n:m:q:a:dvh", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (!*optarg || strlen(optarg) >= 64 ||
			    strchr(optarg, '/')) {
				fprintf(stderr, "--name: 1 to 63 characters, "
						"no '/'\n");
				return 2;
			}
			o->name = optarg;
			break;
		case 'm':
			if (parse_mac(optarg, o->mac)) {
				fprintf(stderr, "--mac: not a MAC: %s\n",
					optarg);
				return 2;
			}
			break;
		case 'q':
			q = strtoul(optarg, &end, 0);
			if (*end || q < 2 || q > 32768 || (q & (q - 1))) {
				fprintf(stderr, "--queue-size: a power of 2 "
						"from 2 to 32768\n");
				return 2;
			}
			o->qsize = (uint16_t)q;
			break;
		case 'a':
			if (!strcmp(optarg, "auto"))
				o->api = -1;
			else if (!strcmp(optarg, "0") || !strcmp(optarg, "1"))
				o->api = optarg[0] - '0';
			else {
				fprintf(stderr, "--api: 0, 1 or auto\n");
				return 2;
			}
			break;
		case 'd':
			*daemonize = 1;
			break;
		case 'v':
			*verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return 0;
}

static int vdpa_dev_exists(const char *name)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "/sys/bus/vdpa/devices/%s", name);
	return stat(p, &st) == 0;
}

/* Fork; the parent waits until the child says the device exists. */
static int daemonize(int *ret_pipe)
{
	int p[2];
	pid_t pid;
	char c = 1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			c = 1;
		_exit(c ? 1 : 0);
	}
	close(p[0]);
	setsid();
	*ret_pipe = p[1];
	return 0;
}

static void ready(int *pipe_fd)
{
	char c = 0;
	int fd = open("/dev/null", O_RDWR);

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		close(fd);
	}
	if (*pipe_fd >= 0 && write(*pipe_fd, &c, 1) != 1) {
		/* the parent is gone: nothing to tell */
	}
	if (*pipe_fd >= 0)
		close(*pipe_fd);
	*pipe_fd = -1;
}

static int loop(struct vdu_dev *d)
{
	int seen = 0, broken = 0;

	while (!stop) {
		struct pollfd p[1 + VDU_NR_VQS];
		int n = 0, i, r;

		p[n++] = (struct pollfd){ .fd = broken ? -1 : d->fd,
					  .events = POLLIN };
		for (i = 0; i < VDU_NR_VQS; i++)
			p[n++] = (struct pollfd){ .fd = d->vq[i].kick_fd,
						  .events = POLLIN };
		r = poll(p, (nfds_t)n, POLL_MS);
		if (r < 0 && errno != EINTR) {
			vdu_log(d, 0, "poll: %s", strerror(errno));
			return 1;
		}
		if (r > 0 && (p[0].revents & POLLERR) && !broken) {
			vdu_log(d, 0,
				"the kernel marked the device broken "
				"(a request went unanswered)");
			broken = 1;
		} else if (r > 0 && (p[0].revents & POLLIN) &&
			   vdu_dev_serve(d) < 0) {
			broken = 1;
		}
		for (i = 0; r > 0 && i < VDU_NR_VQS; i++)
			if (p[1 + i].revents & POLLIN)
				vdu_dev_kick(d, (uint32_t)i);
		if (vdpa_dev_exists(d->name)) {
			if (!seen)
				vdu_log(d, 0, "vdpa device %s added", d->name);
			seen = 1;
		} else if (seen) {
			vdu_log(d, 0, "vdpa device %s deleted", d->name);
			return broken;
		}
	}
	vdu_log(d, 0, "signal %d", (int)stop);
	return 0;
}

int main(int argc, char **argv)
{
	struct vdu_create_opts o = {
		.name = "vduse0",
		.mac = { 0x02, 0, 0, 0, 0, 0x02 },
		.qsize = 256,
		.api = -1,
	};
	struct vdu_dev d = { .ctl_fd = -1, .fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	int bg = 0, pipe_fd = -1, rc, r, i;

	rc = parse(argc, argv, &o, &bg, &d.verbose);
	if (rc)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	vdu_iotlb_install_sigbus();
	if (bg && daemonize(&pipe_fd) < 0) {
		perror("vdpamap-vduse-net: fork");
		return 1;
	}
	if (vdu_dev_create(&d, &o) < 0)
		return 1;
	if (bg)
		ready(&pipe_fd);
	rc = loop(&d);
	/* the vdpa device may take a moment to release the VDUSE device */
	for (i = 0; i < 50; i++) {
		r = vdu_dev_destroy(&d);
		if (r != -EBUSY)
			break;
		if (stop)
			break;
		usleep(100 * 1000);
	}
	if (r < 0)
		vdu_log(&d, 0, "VDUSE_DESTROY_DEV %s: %s", d.name,
			strerror(-r));
	vdu_log(&d, 0,
		"exit: %llu tx, %llu rx, %llu dropped, %llu errors, "
		"%llu requests",
		(unsigned long long)d.st.tx, (unsigned long long)d.st.rx,
		(unsigned long long)d.st.drops, (unsigned long long)d.st.errors,
		(unsigned long long)d.st.requests);
	return rc;
}
