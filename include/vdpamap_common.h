/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvdpamap: what every public header of the library shares, included by
 * each of them (vdpamap.h, vdpamap_migrate.h, vdpamap_handoff.h,
 * vdpamap_sim.h, vdpamap_mgmt.h): the export macro, the version, the
 * options-struct macro, the log callback and the opaque handles.  A program
 * includes vdpamap.h (which includes all of them) or the header of the part
 * it uses; it has no reason to include this one itself.
 *
 * The core structs the other headers take by pointer (vdpamap_open_opts,
 * vdpamap_region, vdpamap_vring) are declared here and defined in
 * vdpamap.h: include it to fill one.
 *
 * The include guards of these headers (but vdpamap.h's and
 * vdpamap_mgmt.h's, older) are VDPAMAP_PUBLIC_*_H: VDPAMAP_<MODULE>_H is
 * taken by the library's internal module headers (src/handoff/handoff.h).
 */
#ifndef VDPAMAP_PUBLIC_COMMON_H
#define VDPAMAP_PUBLIC_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VDPAMAP_API
#define VDPAMAP_API __attribute__((visibility("default")))
#endif

/* The API version: the newest node of the library's version script
 * (VDPAMAP_0.2: vdpamap_sim_get_limits(), vdpamap_health() and what 0.1
 * has). */
#define VDPAMAP_VERSION_MAJOR 0
#define VDPAMAP_VERSION_MINOR 2

/* Declare and zero an options struct with its size set:
 *   VDPAMAP_OPTS(vdpamap_open_opts, o, .want_features = ...); */
#define VDPAMAP_OPTS(TYPE, NAME, ...)                                     \
	struct TYPE NAME = ({                                             \
		struct TYPE __##NAME##_o;                                 \
		__builtin_memset(&__##NAME##_o, 0, sizeof(__##NAME##_o)); \
		__##NAME##_o = (struct TYPE){ .sz = sizeof(struct TYPE),  \
					      __VA_ARGS__ };              \
		__##NAME##_o;                                             \
	})

struct vdpamap;
struct vdpamap_txn;
struct vdpamap_open_opts;
struct vdpamap_region;
struct vdpamap_vring;

/* ---- logging */
#define VDPAMAP_LOG_ERR	  3
#define VDPAMAP_LOG_WARN  4
#define VDPAMAP_LOG_INFO  6
#define VDPAMAP_LOG_DEBUG 7

/* Called with a complete, newline-free message.  May be called from any
 * thread that calls into the handle; must not call back into the library. */
typedef void (*vdpamap_log_fn)(int level, const char *msg, void *ctx);

/* ---- restart hook */
/* A restart hook (vdpamap_group_asid_opts, vdpamap_flip_opts,
 * vdpamap_unflip_opts): called when a change went through a reset that
 * keeps the maps, with DRIVER_OK set and only the control vq enabled
 * (ENABLE_AFTER_DRIVER_OK), for the caller to replay what the library
 * cannot know (device-class state set through the control vq: MAC, MQ
 * pairs, RX mode, VLANs, RSS); the data vqs are enabled after it returns.
 * It runs with the handle locked: it must not call vdpamap functions on h.
 * A negative return undoes the change (through another reset, calling the
 * hook again) and the call returns -ECANCELED. */
typedef int (*vdpamap_restart_fn)(struct vdpamap *h, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* VDPAMAP_PUBLIC_COMMON_H */
