// SPDX-License-Identifier: BSD-3-Clause
/*
 * vdpamap sim start|stop|status [--path P], sim list: a simulator daemon
 * at a socket path of the user's choosing, for other programs (a VMM,
 * `vdpamap demo P`, `vdpamap info P`) to open as they would
 * /dev/vhost-vdpa-N; the daemons of this user (sim_list.c).
 *
 * start: vdpamap_sim_spawn() forks a detached daemon listening at a name of
 * its own in P's directory, and P becomes a symbolic link to it (made
 * aside and renamed: atomic, replacing a stale link or socket).  Not a
 * rename of the socket itself: the library finds the daemon's control
 * socket by the path the daemon bound (getpeername()).  The daemon keeps
 * running after this command returns, until stop or unused for its idle
 * time (--idle-timeout); it removes its socket when it goes, and stop
 * removes P.  Every field of struct vdpamap_sim_opts is
 * an option (--profile, --max-iotlb-entries included), plus the fault
 * injection of vdpamap_sim_fail_nth(), armed at start.  The output is
 * sim_report.c's.
 * stop: vdpamap_sim_stop(), which waits for the daemon to go.
 * status: whether a simulator of ours answers at P (its control socket:
 * vdpamap_sim_get_stats()), and if no client holds the device, what it
 * reports (open, vdpamap_get_info(), close).
 *
 * Default P: $XDG_RUNTIME_DIR/vdpamap-sim.sock, without XDG_RUNTIME_DIR
 * ${TMPDIR:-/tmp}/vdpamap-sim-UID.sock.
 * Exit: 0 started / stopped / running, 1 failed / nothing to stop / none
 * running, 2 usage.  With -j one JSON document (schema/sim.json).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* struct vdpamap_sim_opts: backend_features 0 means this */
#include "sim.h"

/* Long by nature: the usage text of every simulator option, one line each. */
static void sim_usage(FILE *f)
{
	fprintf(f,
		"Usage: vdpamap [-j] [-p] sim start [--path P] [--mode va|pa] "
		"[--parent batch|per-map]\n"
		"                    [--backend-features MASK|NAMES] "
		"[--without NAMES]\n"
		"                    [--address-spaces N] [--groups N] "
		"[--vqs N] [--iova-range FIRST:LAST]\n"
		"                    [--fail-iotlb-write N] [--fail-ioctl N]\n"
		"                    [--profile KERNEL[/PARENT]] "
		"[--max-iotlb-entries N]\n"
		"                    [--parent-max-iotlb-entries N] "
		"[--any-uid]\n"
		"                    [--idle-timeout SECONDS|never]\n"
		"       vdpamap [-j] [-p] sim stop [--path P]\n"
		"       vdpamap [-j] [-p] sim status [--path P]\n"
		"       vdpamap [-j] [-p] sim list\n"
		"\n"
		"A libvdpamap simulator (a userspace vhost-vdpa with a "
		"vdpa_sim_net device)\n"
		"as a daemon at a socket path that programs open as they "
		"would\n"
		"/dev/vhost-vdpa-N, e.g. 'vdpamap demo P' or 'vdpamap info "
		"P'.\n"
		"P is a symbolic link to the daemon's socket, next to it.\n"
		"\n"
		"  start     start a daemon at P; it runs until 'sim stop', "
		"or until unused\n"
		"            for its idle time\n"
		"  stop      ask the daemon at P to exit and wait for it\n"
		"  status    whether a simulator answers at P, and what it "
		"reports\n"
		"  list      the simulator daemons of this user: socket, "
		"links, pid,\n"
		"            profile, busy or unused\n"
		"\n"
		"  --path P               the socket (default "
		"$XDG_RUNTIME_DIR/vdpamap-sim.sock,\n"
		"                         or ${TMPDIR:-/tmp}/vdpamap-sim-UID."
		"sock)\n"
		"Options of start (the device the simulator models):\n"
		"  --mode va|pa           memory mode: va (default) maps "
		"shared file-backed\n"
		"                         memory without pinning; pa pins "
		"and charges\n"
		"                         RLIMIT_MEMLOCK, like vdpa_sim "
		"without use_va\n"
		"  --parent batch|per-map how the parent driver takes maps: "
		"batch (default,\n"
		"                         .set_map, the whole table per "
		"batch) or per-map\n"
		"                         (.dma_map/.dma_unmap, one call per "
		"map)\n"
		"  --backend-features F   backend features offered: a mask "
		"(0x17e, the\n"
		"                         default: all of Linux 6.12) or "
		"names, comma-\n"
		"                         separated (IOTLB_MSG_V2,"
		"IOTLB_BATCH,...)\n"
		"  --without NAMES        offer those features less, e.g. "
		"IOTLB_PERSIST\n"
		"                         (an older kernel)\n"
		"  --address-spaces N     ASIDs, 1..64 (default 2)\n"
		"  --groups N             virtqueue groups, 1..64 (default "
		"2)\n"
		"  --vqs N                virtqueues, 2..64 (default 3: rx, "
		"tx, ctrl)\n"
		"  --iova-range F:L       usable IOVAs, inclusive (default "
		"0:0xffffffffffffffff)\n"
		"  --profile NAME         play a kernel and a parent: "
		"linux-5.10, linux-6.1,\n"
		"                         linux-6.12, linux-6.12.95, "
		"linux-7.3, optionally\n"
		"                         /vdpa_sim, /vdpa_sim-permap, "
		"/vp_vdpa or /vduse\n"
		"                         (docs/sim-profiles.md); the "
		"options above override it;\n"
		"                         default linux-7.3 (IOTLB caps "
		"2048, ASIDs frozen\n"
		"                         at DRIVER_OK)\n"
		"  --max-iotlb-entries N  IOTLB entries per address space, "
		"vhost_vdpa's and the\n"
		"                         parent's caps (as both module "
		"parameters raised)\n"
		"  --parent-max-iotlb-entries N  the parent's own cap alone\n"
		"  --fail-iotlb-write N   fault injection: the Nth IOTLB "
		"write from now fails\n"
		"                         (EFAULT, as the kernel's do)\n"
		"  --fail-ioctl N         fault injection: the Nth ioctl from "
		"now fails\n"
		"  --any-uid              serve every uid (socket 0666); by "
		"default the socket\n"
		"                         is 0600 and other uids are "
		"refused\n"
		"  --idle-timeout S|never exit once unused (no device open, "
		"no map, no\n"
		"                         connection) for S seconds (default "
		"60), or never\n"
		"\n"
		"Exit status: 0 started / stopped / running, 1 failed, "
		"nothing to stop or\n"
		"none running, 2 usage.\n");
}

static int parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	unsigned long long x;
	char *end;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || *end || !*s || *s == '-' || x < min || x > max)
		return -1;
	*v = x;
	return 0;
}

/* "0x17e" or "IOTLB_MSG_V2,IOTLB_BATCH" (vdpamap_feature_name's names,
 * case-insensitive) into *mask; -1 if a name is unknown. */
static int parse_features(const char *arg, uint64_t *mask)
{
	char buf[512], *tok, *save = NULL;
	unsigned int b;
	uint64_t m = 0;

	if (parse_num(arg, 0, UINT64_MAX, mask) == 0)
		return 0;
	if (strlen(arg) >= sizeof(buf))
		return -1;
	/* its length is checked above:
	 * NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy) */
	strcpy(buf, arg);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (b = 0; b < 64; b++) {
			const char *n = vdpamap_feature_name(1ULL << b);

			if (n && !strcasecmp(n, tok))
				break;
		}
		if (b == 64)
			return -1;
		m |= 1ULL << b;
	}
	*mask = m;
	return 0;
}

static int parse_iova_range(const char *arg, struct sim_args *a)
{
	char buf[64], *colon;

	if (strlen(arg) >= sizeof(buf))
		return -1;
	/* its length is checked above:
	 * NOLINTNEXTLINE(clang-analyzer-security.insecureAPI.strcpy) */
	strcpy(buf, arg);
	colon = strchr(buf, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	/* LAST 0 means "the whole range" to the simulator: not a range */
	if (parse_num(buf, 0, UINT64_MAX, &a->iova_first) < 0 ||
	    parse_num(colon + 1, 1, UINT64_MAX, &a->iova_last) < 0 ||
	    a->iova_first > a->iova_last)
		return -1;
	return 0;
}

static int bad(const struct sim_args *a, const char *opt, const char *arg,
	       const char *what)
{
	fprintf(stderr, "vdpamap sim %s: bad %s '%s' (%s)\n", a->name, opt, arg,
		what);
	return CLI_EXIT_USAGE;
}

/* The options of start that shape the device: -1 if o is none of them,
 * else -2 (taken) or the exit code of a bad value. */
static int start_option(int o, const char *arg, struct sim_args *a)
{
	uint64_t v, m;

	a->start_only = 1;
	switch (o) {
	case 'm':
		if (strcmp(arg, "va") && strcmp(arg, "pa"))
			return bad(a, "--mode", arg, "va or pa");
		if (!strcmp(arg, "pa"))
			a->flags |= VDPAMAP_SIM_PA;
		return -2;
	case 'P':
		if (strcmp(arg, "batch") && strcmp(arg, "per-map"))
			return bad(a, "--parent", arg, "batch or per-map");
		if (!strcmp(arg, "per-map"))
			a->flags |= VDPAMAP_SIM_PER_MAP;
		return -2;
	case 'b':
		if (parse_features(arg, &a->backend) < 0 || !a->backend)
			return bad(a, "--backend-features", arg,
				   "a non-zero mask or feature names");
		return -2;
	case 'W':
		if (parse_features(arg, &m) < 0)
			return bad(a, "--without", arg, "feature names");
		a->without |= m;
		return -2;
	case 'U':
		a->flags |= VDPAMAP_SIM_ANY_UID;
		return -2;
	case 'T':
		if (!strcmp(arg, "never")) {
			a->idle_ms = VDPAMAP_SIM_IDLE_NEVER;
			return -2;
		}
		/* below VDPAMAP_SIM_IDLE_NEVER once in ms */
		if (parse_num(arg, 1, UINT32_MAX / 1000 - 1, &v) < 0)
			return bad(a, "--idle-timeout", arg,
				   "1..4294966 seconds, or never");
		a->idle_ms = (uint32_t)v * 1000;
		return -2;
	case 'R':
		if (!*arg)
			return bad(a, "--profile", arg, "a profile name");
		a->profile = arg;
		return -2;
	case 'M':
	case 'N':
		if (parse_num(arg, 1, INT32_MAX, &v) < 0)
			return bad(a,
				   o == 'M' ? "--max-iotlb-entries" :
					      "--parent-max-iotlb-entries",
				   arg, "1..2147483647");
		*(o == 'M' ? &a->max_iotlb : &a->parent_max_iotlb) =
			(uint32_t)v;
		return -2;
	case 'a':
	case 'g':
	case 'q':
		if (parse_num(arg, o == 'q' ? 2 : 1, 64, &v) < 0)
			return bad(a,
				   o == 'a' ? "--address-spaces" :
				   o == 'g' ? "--groups" :
					      "--vqs",
				   arg, o == 'q' ? "2..64" : "1..64");
		*(o == 'a' ? &a->nr_as :
		  o == 'g' ? &a->nr_groups :
			     &a->nr_vqs) = (uint32_t)v;
		return -2;
	case 'i':
		if (parse_iova_range(arg, a) < 0)
			return bad(a, "--iova-range", arg,
				   "FIRST:LAST, FIRST <= LAST, LAST > 0");
		return -2;
	case 'f':
	case 'F':
		if (parse_num(arg, 1, UINT32_MAX, &v) < 0)
			return bad(a,
				   o == 'f' ? "--fail-iotlb-write" :
					      "--fail-ioctl",
				   arg, "1..4294967295");
		*(o == 'f' ? &a->fail_msg : &a->fail_ioctl) = (uint32_t)v;
		return -2;
	}
	a->start_only = 0;
	return -1;
}

/* --without takes bits from --backend-features, else from the default
 * offer; a profile's offer is the daemon's to resolve, so there it needs
 * --backend-features.  -1 to go on, else the exit code. */
static int apply_without(struct sim_args *a)
{
	if (!a->without)
		return -1;
	if (!a->backend && a->profile) {
		fprintf(stderr, "vdpamap sim start: --without with --profile "
				"needs --backend-features\n");
		return CLI_EXIT_USAGE;
	}
	a->backend = (a->backend ? a->backend : SIM_DEFAULT_BACKEND) &
		     ~a->without;
	if (!a->backend) {
		fprintf(stderr, "vdpamap sim start: --without leaves no "
				"backend feature\n");
		return CLI_EXIT_USAGE;
	}
	return -1;
}

/* The options after the action: -1 to go on, else the exit code. */
static int sim_options(struct cli *c, struct sim_args *a)
{
	static const struct option lopts[] = {
		{ "path", required_argument, NULL, 'D' },
		{ "mode", required_argument, NULL, 'm' },
		{ "parent", required_argument, NULL, 'P' },
		{ "backend-features", required_argument, NULL, 'b' },
		{ "without", required_argument, NULL, 'W' },
		{ "address-spaces", required_argument, NULL, 'a' },
		{ "groups", required_argument, NULL, 'g' },
		{ "vqs", required_argument, NULL, 'q' },
		{ "iova-range", required_argument, NULL, 'i' },
		{ "fail-iotlb-write", required_argument, NULL, 'f' },
		{ "fail-ioctl", required_argument, NULL, 'F' },
		{ "profile", required_argument, NULL, 'R' },
		{ "max-iotlb-entries", required_argument, NULL, 'M' },
		{ "parent-max-iotlb-entries", required_argument, NULL, 'N' },
		{ "any-uid", no_argument, NULL, 'U' },
		{ "idle-timeout", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o, rc, start_opt = 0;

	while ((o = getopt_long(c->argc - 1, c->argv + 1, "jpvh", lopts,
				NULL)) != -1) {
		rc = start_option(o, optarg, a);
		start_opt |= a->start_only;
		if (rc == -2)
			continue;
		if (rc >= 0)
			return rc;
		switch (o) {
		case 'D':
			if (!*optarg || strlen(optarg) >= SIM_PATH_MAX)
				return bad(a, "--path", optarg,
					   "a socket path, at most 107 bytes");
			a->path = optarg;
			a->path_given = 1;
			break;
		case 'j':
		case 'p':
		case 'v':
			cli_output_opt(c, o);
			break;
		case 'h':
			sim_usage(stdout);
			return CLI_EXIT_OK;
		default:
			sim_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < c->argc - 1) {
		fprintf(stderr, "vdpamap sim %s: unexpected '%s'\n", a->name,
			c->argv[1 + optind]);
		return CLI_EXIT_USAGE;
	}
	if (a->path_given && a->action == SIM_LIST) {
		fprintf(stderr, "vdpamap sim list: takes no --path (it lists "
				"every daemon)\n");
		return CLI_EXIT_USAGE;
	}
	if (start_opt && a->action != SIM_START) {
		fprintf(stderr,
			"vdpamap sim %s: only 'sim start' takes the "
			"device's options\n",
			a->name);
		return CLI_EXIT_USAGE;
	}
	return apply_without(a);
}

/* $XDG_RUNTIME_DIR/vdpamap-sim.sock or ${TMPDIR:-/tmp}/vdpamap-sim-UID.sock */
static int default_path(struct sim_args *a)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	int n;

	if (dir && *dir) {
		n = snprintf(a->pathbuf, sizeof(a->pathbuf),
			     "%s/vdpamap-sim.sock", dir);
	} else {
		dir = getenv("TMPDIR");
		n = snprintf(a->pathbuf, sizeof(a->pathbuf),
			     "%s/vdpamap-sim-%u.sock",
			     dir && *dir ? dir : "/tmp",
			     (unsigned int)getuid());
	}
	if (n < 0 || (size_t)n >= sizeof(a->pathbuf)) {
		fprintf(stderr, "vdpamap sim: the default socket path is too "
				"long; give --path\n");
		return CLI_EXIT_USAGE;
	}
	a->path = a->pathbuf;
	return -1;
}

/* The whole command line: -1 to go on, else the exit code. */
static int sim_parse(struct cli *c, struct sim_args *a)
{
	static const char *const names[] = { "start", "stop", "status",
					     "list" };
	int i, rc;

	if (c->argc < 2) {
		sim_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (!strcmp(c->argv[1], "-h") || !strcmp(c->argv[1], "--help") ||
	    !strcmp(c->argv[1], "help")) {
		sim_usage(stdout);
		return CLI_EXIT_OK;
	}
	for (i = 0; i < 4 && strcmp(c->argv[1], names[i]); i++)
		;
	if (i == 4) {
		fprintf(stderr,
			"vdpamap sim: unknown action '%s' (start, "
			"stop, status, list)\n",
			c->argv[1]);
		sim_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	a->action = (enum sim_action)i;
	a->name = names[i];
	rc = sim_options(c, a);
	if (rc >= 0)
		return rc;
	return a->path || a->action == SIM_LIST ? -1 : default_path(a);
}

/* ---- the actions: each fills o, the output prints it */

/* P's directory (where the daemon's socket is made before the rename). */
static void path_dir(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(buf, len, ".");
	else if (slash == path)
		snprintf(buf, len, "/");
	else
		snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

/* A dead daemon's socket that the link at path points to: nobody else
 * will remove it. */
static void unlink_stale_target(const char *path)
{
	char target[SIM_PATH_MAX], dir[SIM_PATH_MAX], full[2 * SIM_PATH_MAX];
	struct stat sb;
	ssize_t n;

	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	path_dir(path, dir, sizeof(dir));
	snprintf(full, sizeof(full), "%s/%s", target[0] == '/' ? "" : dir,
		 target);
	if (lstat(full, &sb) == 0 && S_ISSOCK(sb.st_mode))
		unlink(full);
}

/* Nothing of ours may answer at P, and P must be free, or a socket or a
 * link (a stale one: the rename replaces it). */
static int start_check(const struct sim_args *a, struct sim_out *o)
{
	struct vdpamap_sim_stats st;
	struct stat sb;
	int r;

	r = vdpamap_sim_get_stats(a->path, &st);
	if (r == 0) {
		o->running = 1;
		o->why = "a simulator already answers there";
		return -EEXIST;
	}
	if (r == -ECONNREFUSED)
		unlink_stale_target(a->path);
	if (lstat(a->path, &sb) == 0 && !S_ISSOCK(sb.st_mode) &&
	    !S_ISLNK(sb.st_mode)) {
		o->why = "the path exists and is neither a socket nor a link";
		return -EEXIST;
	}
	return 0;
}

/* path -> basename(sock), which is in the same directory. */
static int link_path(const char *sock, const char *path)
{
	const char *base = strrchr(sock, '/');
	char tmp[SIM_PATH_MAX + 32];
	int r = 0;

	snprintf(tmp, sizeof(tmp), "%s.%d.new", path, (int)getpid());
	if (symlink(base ? base + 1 : sock, tmp) < 0)
		return -errno;
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
	}
	return r;
}

static int sim_start(const struct sim_args *a, struct sim_out *o)
{
	char dir[SIM_PATH_MAX], tmp[SIM_PATH_MAX];
	VDPAMAP_OPTS(vdpamap_sim_opts, so, .backend_features = a->backend,
		     .flags = a->flags, .nr_as = a->nr_as,
		     .nr_groups = a->nr_groups, .nr_vqs = a->nr_vqs,
		     .iova_first = a->iova_first, .iova_last = a->iova_last,
		     .dir = dir, .profile = a->profile,
		     .max_iotlb_entries = a->max_iotlb,
		     .parent_max_iotlb_entries = a->parent_max_iotlb,
		     .idle_timeout_ms = a->idle_ms);
	int r;

	r = start_check(a, o);
	if (r < 0)
		return r;
	path_dir(a->path, dir, sizeof(dir));
	r = vdpamap_sim_spawn(&so, tmp, sizeof(tmp), &o->pid);
	if (r < 0) {
		o->why = r == -EINVAL && a->profile ?
				 "spawning the simulator (an unknown profile, "
				 "or options it cannot take?)" :
				 "spawning the simulator";
		return r;
	}
	/* what it plays, the profile resolved (the report prints it) */
	o->have_limits = vdpamap_sim_get_limits(tmp, &o->lim) == 0;
	r = link_path(tmp, a->path);
	if (r < 0) {
		o->why = "linking the path to its socket";
		goto err_stop_tmp;
	}
	if (a->fail_msg &&
	    (r = vdpamap_sim_fail_nth(a->path, VDPAMAP_SIM_FAIL_MSG,
				      a->fail_msg)) < 0) {
		o->why = "arming --fail-iotlb-write";
		goto err_stop;
	}
	if (a->fail_ioctl &&
	    (r = vdpamap_sim_fail_nth(a->path, VDPAMAP_SIM_FAIL_IOCTL,
				      a->fail_ioctl)) < 0) {
		o->why = "arming --fail-ioctl";
		goto err_stop;
	}
	o->running = 1;
	return 0;

err_stop:
	vdpamap_sim_stop(a->path);
	return r;
err_stop_tmp:
	vdpamap_sim_stop(tmp);
	return r;
}

static int sim_stop(const struct sim_args *a, struct sim_out *o)
{
	struct vdpamap_sim_stats st;
	int r;

	r = vdpamap_sim_get_stats(a->path, &st);
	if (r == -ECONNREFUSED) {
		/* not known to be ours: vdpamap_sim_stop() leaves it too */
		o->why = "nothing to stop (a socket nobody serves, left as it "
			 "is)";
		return r;
	}
	if (r < 0) {
		o->why = "nothing to stop";
		return r;
	}
	o->running = 1;
	r = vdpamap_sim_stop(a->path);
	if (r < 0) {
		o->why = "stopping it";
		return r;
	}
	o->running = 0;
	return 0;
}

static void status_log(int level, const char *msg, void *ctx)
{
	fprintf(stderr, "vdpamap: libvdpamap: %s\n", msg);
}

/* The control socket says whether it runs; the device, if no client
 * holds it, what it is (opening probes the memory mode with one map:
 * the counters are read first). */
static int sim_status(struct cli *c, const struct sim_args *a,
		      struct sim_out *o)
{
	VDPAMAP_OPTS(vdpamap_open_opts, oo, .log_fn = status_log,
		     .log_level = c->verbose > 1 ? VDPAMAP_LOG_DEBUG :
				  c->verbose	 ? VDPAMAP_LOG_INFO :
						   VDPAMAP_LOG_ERR);
	struct vdpamap *h = NULL;
	int r;

	r = vdpamap_sim_get_stats(a->path, &o->st);
	if (r < 0) {
		o->why = "no simulator answers";
		return r;
	}
	o->running = 1;
	o->have_stats = 1;
	r = vdpamap_open(a->path, &oo, &h);
	if (r == 0)
		r = vdpamap_get_info(h, &o->in);
	vdpamap_close(h);
	o->dev_state = r < 0 ? r : 1;
	return 0;
}

int cmd_sim(struct cli *c)
{
	struct sim_args a = { 0 };
	struct sim_out o = { 0 };
	int r;

	r = sim_parse(c, &a);
	if (r >= 0)
		return r;
	if (a.action == SIM_LIST)
		return sim_list(c);
	if (a.action == SIM_START)
		r = sim_start(&a, &o);
	else if (a.action == SIM_STOP)
		r = sim_stop(&a, &o);
	else
		r = sim_status(c, &a, &o);
	o.err = r < 0 ? -r : 0;
	if (c->json) {
		sim_json(c, &a, &o);
		if (o.err && a.action != SIM_STATUS)
			fprintf(stderr, "vdpamap sim %s: %s: %s: %s\n", a.name,
				a.path, o.why, strerror(o.err));
	} else {
		sim_text(&a, &o);
	}
	return r < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
