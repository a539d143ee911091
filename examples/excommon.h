/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * excommon: the few lines every example shares, kept out of the examples
 * so that each one reads as the integration it shows.
 *
 *  - which device: the DEV argument, else $VDPAMAP_TEST_DEV (set by
 *    tests/harness/vdpamap-vm inside the kernel harness), else a simulator spawned
 *    for the run in the flavour asked for (va, pa or permap, as the
 *    kernel harness's --config), playing the device shape of another
 *    kernel or parent when asked (--sim-shape NAME or
 *    $VDPAMAP_TEST_SIM_SHAPE: 612, 61, 510, vpvdpa, vduse, and the
 *    per-field knobs; tests/conformance/shape.h, shared with the tests);
 *    the examples read what the device offers and skip what it lacks;
 *  - RLIMIT_MEMLOCK: a PA-mode device pins and charges it, even for root;
 *  - a log callback and a step printer with timings.
 *
 * Depends on: vdpamap.h and, in the project's tree, tests/conformance/shape.h
 * (header-only, itself on vdpamap.h only) for the device shapes: built
 * against an installed libvdpamap alone (pkg-config), the examples have no
 * --sim-shape and $VDPAMAP_TEST_SIM_SHAPE is ignored.  Header-only (static
 * functions).
 */
#ifndef VDPAMAP_EXCOMMON_H
#define VDPAMAP_EXCOMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include "vdpamap.h"
#if defined(__has_include)
#if __has_include("../tests/conformance/shape.h")
#include "../tests/conformance/shape.h"
#define EX_HAVE_SIM_SHAPES 1
#endif
#endif
#ifndef EX_HAVE_SIM_SHAPES
/* outside the project's tree: the simulator plays its default shape */
static inline int sim_shape_apply(struct vdpamap_sim_opts *so)
{
	(void)so;
	return 0;
}
#endif

/* exit codes, as the CLI's (tools/cli.h) */
#define EX_OK	 0
#define EX_FAIL	 1
#define EX_USAGE 2
#define EX_SKIP	 77

static int ex_verbose;

static inline uint64_t ex_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline double ex_ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* The library's log callback: warnings and errors always, the rest with
 * -v.  prog is passed as the ctx. */
static inline void ex_log(int level, const char *msg, void *ctx)
{
	if (level <= VDPAMAP_LOG_WARN || ex_verbose)
		fprintf(stderr, "%s: libvdpamap: %s\n",
			ctx ? (const char *)ctx : "example", msg);
}

static inline int ex_log_level(void)
{
	return ex_verbose > 1 ? VDPAMAP_LOG_DEBUG :
	       ex_verbose     ? VDPAMAP_LOG_INFO :
				VDPAMAP_LOG_WARN;
}

struct ex_dev {
	char path[256];
	int spawned; /* a simulator of ours: stop it at the end */
	pid_t pid;
	int pa; /* the flavour pins (PA mode) */
};

/* Parse a simulator flavour: va, pa or permap. */
static inline int ex_flavour_flags(const char *fl, uint32_t *flags)
{
	if (!strcmp(fl, "va"))
		*flags = 0;
	else if (!strcmp(fl, "pa"))
		*flags = VDPAMAP_SIM_PA;
	else if (!strcmp(fl, "permap"))
		*flags = VDPAMAP_SIM_PA | VDPAMAP_SIM_PER_MAP;
	else
		return -EINVAL;
	return 0;
}

/* Pick the device: dev (may be NULL), else $VDPAMAP_TEST_DEV, else spawn
 * a simulator of flavour.  Call before creating threads. */
static inline int ex_dev_get(struct ex_dev *d, const char *dev,
			     const char *flavour)
{
	const char *env = getenv("VDPAMAP_TEST_DEV");
	const char *cfg = getenv("VDPAMAP_VM_CONFIG");
	VDPAMAP_OPTS(vdpamap_sim_opts, so);
	int r;

	memset(d, 0, sizeof(*d));
	if (!dev && env && *env)
		dev = env;
	if (dev) {
		snprintf(d->path, sizeof(d->path), "%s", dev);
		/* the kernel harness says which vdpa_sim configuration */
		d->pa = cfg && (!strcmp(cfg, "pa") || !strcmp(cfg, "permap"));
		return 0;
	}
	r = ex_flavour_flags(flavour ? flavour : "va", &so.flags);
	if (r < 0)
		return r;
	if (sim_shape_apply(&so) < 0)
		return -EINVAL;
	r = vdpamap_sim_spawn(&so, d->path, sizeof(d->path), &d->pid);
	if (r < 0)
		return r;
	d->spawned = 1;
	d->pa = !!(so.flags & VDPAMAP_SIM_PA);
	return 0;
}

/* --sim-shape NAME: the simulator plays that shape (as
 * VDPAMAP_TEST_SIM_SHAPE=NAME).  0, or -EINVAL for an unknown name. */
static inline int ex_sim_shape(const char *name)
{
#ifdef EX_HAVE_SIM_SHAPES
	size_t i;

	for (i = 0; i < sizeof(sim_shapes) / sizeof(sim_shapes[0]); i++)
		if (!strcmp(name, sim_shapes[i].name))
			return setenv("VDPAMAP_TEST_SIM_SHAPE", name, 1) < 0 ?
				       -errno :
				       0;
	fprintf(stderr,
		"--sim-shape %s: not one of 612 61 510 vpvdpa "
		"vduse\n",
		name);
#else
	fprintf(stderr,
		"--sim-shape %s: built without the project's "
		"tests/conformance/shape.h\n",
		name);
#endif
	return -EINVAL;
}

static inline void ex_dev_put(struct ex_dev *d)
{
	if (d->spawned)
		vdpamap_sim_stop(d->path);
	d->spawned = 0;
}

/* PA mode charges RLIMIT_MEMLOCK for every pinned byte, root included:
 * make sure bytes fit (raising the soft limit, and the hard one if we
 * may). */
static inline int ex_memlock_at_least(uint64_t bytes)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return -errno;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= bytes)
		return 0;
	rl.rlim_cur = bytes;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < bytes)
		rl.rlim_max = bytes;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return -errno;
	return 0;
}

/* A step line: "  name ............ 1.234 ms  detail" */
static inline void ex_step(const char *name, uint64_t ns, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void ex_step(const char *name, uint64_t ns, const char *fmt, ...)
{
	va_list ap;

	printf("  %-34s %9.3f ms  ", name, ex_ms(ns));
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#endif
