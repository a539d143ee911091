/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * demo: the shared state of `vdpamap demo` (tools/vdpamap/cmd_demo.c and
 * its parts).  The files, bottom to top, each calling only those below it:
 *
 *   demo_report.c   step records, the table rows and the JSON document
 *   demo_device.c   guest memory, open, net, reset and ASID moves, the
 *                   spawned simulators: the pieces the steps are made of
 *   demo_steps.c    steps 1 to 8 and 10, in lifecycle order
 *   demo_handoff.c  step 9, the exec handoff, in both images
 *   cmd_demo.c      the options, the run, the cleanup
 */
#ifndef VDPAMAP_DEMO_H
#define VDPAMAP_DEMO_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cli.h"
#include "vdpamap.h"
#include "vnet.h"

#define DEMO_AREA	(1ULL << 20) /* vnet rings + buffers */
#define DEMO_TIMEOUT_MS 5000
#define DEMO_MAX_STEPS	32
#define DEMO_MAX_KV	8
#define DEMO_NO_HANDOFF UINT32_MAX /* --handoff none */

enum { ST_OK, ST_FAIL, ST_SKIP };

struct step {
	int n; /* 1..9; sub-rows repeat it */
	const char *name;
	uint64_t ns;
	int state;
	const char *path; /* PERSIST, RESYNC, ... or NULL */
	int err;	  /* errno when failed */
	char detail[400];
	struct {
		const char *k;
		uint64_t v;
	} kv[DEMO_MAX_KV];
	int nkv;
};

struct demo {
	struct cli *c;
	const char *dev; /* the device in use */
	char dev0[256];	 /* the device of step 2 */
	char dev1[256];	 /* the device of step 6 on, if other */
	int spawned;
	char sim[2][256]; /* spawned simulators */
	pid_t simpid[2];
	int nsims;
	int no_persist_sim;
	uint64_t size;

	int memfd;
	uint64_t huge_page; /* 0: 4 KiB pages, else hugetlb */
	uint8_t *mem;
	uint64_t iova; /* of mem[0] in ASID 0 (and 1) */
	struct vdpamap *h;
	struct vnet v;
	uint32_t seq;
	uint32_t data_groups[2]; /* groups of vq 0 and vq 1 */
	uint32_t nr_data_groups;

	struct step steps[DEMO_MAX_STEPS];
	int nsteps;
	int failed;
	int last_n;
	uint64_t t_start;

	uint32_t handoff; /* VDPAMAP_HANDOFF_* or DEMO_NO_HANDOFF */
	char devbuf[256]; /* dev, in the exec'd image */
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline double ms(uint64_t ns)
{
	/* rounded to whole microseconds on purpose:
	 * NOLINTNEXTLINE(bugprone-integer-division) */
	return (double)((ns + 500) / 1000) / 1000.0;
}

static inline const char *pl(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* demo_report.c */
const char *demo_reset_path(uint32_t p);
struct step *step_new(struct demo *d, int n, const char *name);
void step_kv(struct step *s, const char *k, uint64_t v);
void step_detail(struct step *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int step_end(struct demo *d, struct step *s, int r);
void step_skip(struct demo *d, int n, const char *name, const char *why);
void demo_print_header(struct demo *d);
void demo_print_json(struct demo *d, uint64_t total);

/* demo_device.c */
void demo_log(int level, const char *msg, void *ctx);
int demo_log_level(const struct demo *d);
int demo_loop_frames(struct demo *d, struct step *s);
int demo_net_up(struct demo *d);
int demo_open(struct demo *d, const char *path, uint64_t want, struct step *s);
int demo_restart_loop(struct demo *d, int n, const char *name);
int demo_reset_step(struct demo *d, int n, const char *name, const char *note);
int demo_move_groups(struct demo *d, int n, const char *name, uint32_t asid);
int demo_close_handle(struct demo *d);
int demo_spawn_sim(struct demo *d, uint64_t backend);

/* demo_steps.c */
int step_memory(struct demo *d);
int step_open(struct demo *d);
int step_net_up(struct demo *d);
int step_loop(struct demo *d);
int step_reset_persist(struct demo *d);
int step_reset_resync(struct demo *d);
int step_asid(struct demo *d);
int step_close(struct demo *d);

/* demo_handoff.c */
int step_handoff(struct demo *d);
struct wire;
struct wire *demo_take(struct demo *d, int wfd);
int step_adopted(struct demo *d, const struct wire *w);

#endif
