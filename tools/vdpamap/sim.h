/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sim: `vdpamap sim`'s shared state: the command line (struct sim_args,
 * tools/vdpamap/cmd_sim.c) and what an action found (struct sim_out),
 * which tools/vdpamap/sim_report.c prints as text or one JSON document;
 * `sim list` is sim_list.c's.
 */
#ifndef VDPAMAP_SIM_CLI_H
#define VDPAMAP_SIM_CLI_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "cli.h"
#include "vdpamap.h"

#define SIM_DEFAULT_BACKEND 0x17eULL
#define SIM_PATH_MAX	    sizeof(((struct sockaddr_un *)0)->sun_path)

enum sim_action { SIM_START, SIM_STOP, SIM_STATUS, SIM_LIST };

struct sim_args {
	enum sim_action action;
	const char *name; /* "start", ... */
	const char *path;
	int path_given; /* --path */
	char pathbuf[SIM_PATH_MAX];
	int start_only;	     /* a start option was given */
	uint64_t backend;    /* offered; 0: the profile's */
	uint64_t without;    /* --without, applied after parsing */
	const char *profile; /* --profile, or NULL */
	uint32_t max_iotlb, parent_max_iotlb; /* 0: the profile's */
	uint32_t flags;			      /* VDPAMAP_SIM_* */
	uint32_t nr_as, nr_groups, nr_vqs;
	uint64_t iova_first, iova_last;
	uint32_t fail_msg, fail_ioctl; /* vdpamap_sim_fail_nth(), 0: off */
	uint32_t idle_ms; /* --idle-timeout; 0: the library's default */
};

/* One JSON document or text, and the exit code, for every action. */
struct sim_out {
	int running;
	pid_t pid;	 /* start */
	int err;	 /* errno of a failure, or 0 */
	const char *why; /* what failed */
	int have_limits; /* start: what the daemon plays */
	struct vdpamap_sim_limits lim;
	int have_stats;
	struct vdpamap_sim_stats st;
	int dev_state; /* 0 not asked, 1 info, -errno */
	struct vdpamap_info in;
};

/* sim_list.c: `vdpamap sim list`, printed; the exit code */
int sim_list(struct cli *c);

/* sim_report.c */
void sim_json(struct cli *c, const struct sim_args *a, const struct sim_out *o);
void sim_text(const struct sim_args *a, const struct sim_out *o);

#endif
