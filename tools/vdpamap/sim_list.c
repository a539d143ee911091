// SPDX-License-Identifier: BSD-3-Clause
/*
 * vdpamap sim list: the simulator daemons of this user, found without a
 * registry file: the listening SOCK_SEQPACKET unix sockets of
 * /proc/net/unix (this network namespace's) whose file is named as
 * vdpamap_sim_spawn() names it (vdpamap-sim-PID-RANDOM.sock) and is ours
 * (owned by our uid), each asked over its control socket
 * (vdpamap_sim_get_state(), 1 s at most), with the links to it in its
 * directory (what `sim start --path P` made).  Text, or one JSON document
 * (schema/sim-list.json).  A daemon run by vdpamap_sim_serve() at a path
 * of another name is not found.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim.h"

#define LIST_MAX	 256	     /* daemons listed at most */
#define LINKS_MAX	 4	     /* links shown per daemon */
#define SO_ACCEPTCON	 0x00010000U /* /proc/net/unix Flags: listening */
#define UNIX_SEQPACKET	 5
#define UNIX_UNCONNECTED 1

struct sim_entry {
	char sock[SIM_PATH_MAX];
	char links[LINKS_MAX][SIM_PATH_MAX];
	int nlinks;
	int err; /* vdpamap_sim_get_state()'s, 0: it answered */
	struct vdpamap_sim_state st;
};

/* vdpamap-sim-<pid>-<16 hex digits>.sock, as spawn names its sockets */
static int spawn_named(const char *path)
{
	const char *base = strrchr(path, '/');
	char hex[17];
	int pid, n = 0;

	base = base ? base + 1 : path;
	if (sscanf(base, "vdpamap-sim-%d-%16[0-9a-f].sock%n", &pid, hex, &n) !=
		    2 ||
	    !n || base[n] || strlen(hex) != 16)
		return 0;
	return pid > 0;
}

/* One line of /proc/net/unix: the path of a listening seqpacket socket,
 * or NULL. */
static char *listening_path(char *line)
{
	unsigned int flags, type, st;
	size_t len;
	int off = 0;

	if (sscanf(line, "%*s %*x %*x %x %x %x %*u %n", &flags, &type, &st,
		   &off) != 3 ||
	    !off || !(flags & SO_ACCEPTCON) || type != UNIX_SEQPACKET ||
	    st != UNIX_UNCONNECTED || line[off] != '/')
		return NULL;
	len = strlen(line + off);
	while (len &&
	       (line[off + len - 1] == '\n' || line[off + len - 1] == ' '))
		line[off + --len] = '\0';
	return line + off;
}

/* The links to e->sock in its directory: a symbolic link whose target
 * is the socket's name (start's) or its whole path. */
static void find_links(struct sim_entry *e)
{
	char dir[SIM_PATH_MAX], full[SIM_PATH_MAX + 1 + 256];
	char target[SIM_PATH_MAX];
	const char *base = strrchr(e->sock, '/');
	struct dirent *de;
	struct stat sb;
	DIR *d;
	ssize_t n;

	snprintf(dir, sizeof(dir), "%.*s", (int)(base - e->sock), e->sock);
	d = opendir(dir[0] ? dir : "/");
	if (!d)
		return;
	while ((de = readdir(d)) && e->nlinks < LINKS_MAX) {
		if (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
			continue;
		snprintf(full, sizeof(full), "%s/%s", dir, de->d_name);
		if (lstat(full, &sb) < 0 || !S_ISLNK(sb.st_mode))
			continue;
		n = readlink(full, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if ((strcmp(target, base + 1) && strcmp(target, e->sock)) ||
		    strlen(full) >= SIM_PATH_MAX)
			continue;
		snprintf(e->links[e->nlinks++], SIM_PATH_MAX, "%s", full);
	}
	closedir(d);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct sim_entry *)a)->sock,
		      ((const struct sim_entry *)b)->sock);
}

/* The daemons into e (at most LIST_MAX): how many, or -errno. */
static int sim_find(struct sim_entry *e)
{
	char line[512 + SIM_PATH_MAX], *p;
	struct stat sb;
	int n = 0, i;
	FILE *f;

	f = fopen("/proc/net/unix", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && n < LIST_MAX) {
		p = listening_path(line);
		if (!p || !spawn_named(p) || strlen(p) >= SIM_PATH_MAX)
			continue;
		/* ours, and still there (a daemon leaving removed it) */
		if (lstat(p, &sb) < 0 || !S_ISSOCK(sb.st_mode) ||
		    sb.st_uid != geteuid())
			continue;
		for (i = 0; i < n && strcmp(e[i].sock, p); i++)
			;
		if (i < n)
			continue;
		memset(&e[n], 0, sizeof(e[n]));
		snprintf(e[n].sock, sizeof(e[n].sock), "%s", p);
		n++;
	}
	fclose(f);
	qsort(e, (size_t)n, sizeof(*e), by_path);
	for (i = 0; i < n; i++) {
		e[i].err = -vdpamap_sim_get_state(e[i].sock, &e[i].st);
		find_links(&e[i]);
	}
	return n;
}

static void json_entry(struct json *j, const struct sim_entry *e)
{
	const struct vdpamap_sim_state *st = &e->st;
	int i;

	json_obj_open(j, NULL);
	json_str(j, "socket", e->sock);
	json_arr_open(j, "links");
	for (i = 0; i < e->nlinks; i++)
		json_str(j, NULL, e->links[i]);
	json_arr_close(j);
	/* a daemon that predates the request answers all the same */
	json_bool(j, "answers", !e->err || e->err == EOPNOTSUPP);
	if (e->err) {
		json_str(j, "error", strerror(e->err));
		json_i64(j, "errno", e->err);
		json_obj_close(j);
		return;
	}
	json_i64(j, "pid", st->pid);
	json_str(j, "kernel", st->kernel);
	json_str(j, "parent", st->parent);
	json_bool(j, "busy", st->busy != 0);
	json_bool(j, "device_open", !!(st->busy & VDPAMAP_SIM_BUSY_DEVICE));
	json_u64(j, "iotlb_entries", st->iotlb_entries);
	json_u64(j, "connections", st->connections);
	json_u64(j, "idle_ms", st->idle_ms);
	json_bool(j, "idle_exit",
		  st->idle_timeout_ms != VDPAMAP_SIM_IDLE_NEVER);
	if (st->idle_timeout_ms != VDPAMAP_SIM_IDLE_NEVER)
		json_u64(j, "idle_timeout_ms", st->idle_timeout_ms);
	json_obj_close(j);
}

static void text_entry(const struct sim_entry *e)
{
	const struct vdpamap_sim_state *st = &e->st;
	int i;

	printf("%s\n", e->sock);
	for (i = 0; i < e->nlinks; i++)
		printf("  link %s\n", e->links[i]);
	if (e->err == EOPNOTSUPP) {
		printf("  answers, but cannot say its state (an older "
		       "version)\n");
		return;
	}
	if (e->err) {
		printf("  not answering (%s)\n", strerror(e->err));
		return;
	}
	printf("  pid %d, %s/%s, ", (int)st->pid, st->kernel, st->parent);
	if (st->busy & (VDPAMAP_SIM_BUSY_DEVICE | VDPAMAP_SIM_BUSY_MAPS))
		printf("busy: device %s, %" PRIu64 " IOTLB entries\n",
		       st->busy & VDPAMAP_SIM_BUSY_DEVICE ? "open" : "closed",
		       st->iotlb_entries);
	else if (st->idle_timeout_ms == VDPAMAP_SIM_IDLE_NEVER)
		printf("unused for %" PRIu64 " s (runs until 'sim stop')\n",
		       st->idle_ms / 1000);
	else
		printf("unused for %" PRIu64 " s (exits after %u s unused%s)\n",
		       st->idle_ms / 1000, st->idle_timeout_ms / 1000,
		       st->busy ? ", its connections closed" : "");
}

int sim_list(struct cli *c)
{
	struct sim_entry *e = calloc(LIST_MAX, sizeof(*e));
	struct json j;
	int n, i;

	n = e ? sim_find(e) : -ENOMEM;
	if (c->json) {
		json_init(&j, stdout, c->pretty);
		json_obj_open(&j, NULL);
		json_str(&j, "action", "list");
		json_bool(&j, "ok", n >= 0);
		if (n < 0) {
			json_str(&j, "reason", "reading /proc/net/unix");
			json_str(&j, "error", strerror(-n));
			json_i64(&j, "errno", -n);
		}
		json_arr_open(&j, "simulators");
		for (i = 0; i < n; i++)
			json_entry(&j, &e[i]);
		json_arr_close(&j);
		json_obj_close(&j);
		json_end(&j);
	} else if (n == 0) {
		printf("no simulator daemon of this user\n");
	}
	for (i = 0; !c->json && i < n; i++)
		text_entry(&e[i]);
	if (n < 0)
		fprintf(stderr,
			"vdpamap sim list: reading /proc/net/unix: %s\n",
			strerror(-n));
	free(e);
	return n < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
