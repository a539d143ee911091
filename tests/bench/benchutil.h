/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * benchutil: what every benchmark program needs: a monotonic clock in ms,
 * the median of repeated runs, and dying with a message that also stops
 * the simulator the run spawned (its socket path in bench_sim_path).
 *
 * Depends on: vdpamap.h.
 */
#ifndef VDPAMAP_BENCHUTIL_H
#define VDPAMAP_BENCHUTIL_H

/* the simulator this run spawned ("" if none): bench_die() stops it */
extern char bench_sim_path[108];

double bench_now_ms(void);
/* sorts v in place */
double bench_median(double *v, int n);
/* "<program>: what: strerror(-r)" on stderr, stop the simulator, exit 1 */
void bench_die(const char *what, int r) __attribute__((noreturn));

/* once per run, after the first open: the IOTLB entry caps the device
 * runs under, so that a figure says whether they were raised */
struct vdpamap;
void bench_print_caps(struct vdpamap *h);

/* The IOTLB entry caps a spawned simulator runs under: its default
 * profile enforces the kernel's 2048 per address space, which a
 * benchmark's maps pass; raised as scripts/bench-* raise the module
 * parameters (vdpamap-vm --raise-caps 1048576), and bench_print_caps()
 * says so. */
#define BENCH_SIM_CAPS 1048576

#endif
