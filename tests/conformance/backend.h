/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend: how a conformance test reaches a device.  The same binary runs
 * against the simulator (default: a daemon spawned per test, flavour from
 * VDPAMAP_TEST_SIM = "va" | "pa" | "permap") or against the real kernel
 * (VDPAMAP_TEST_DEV=/dev/vhost-vdpa-N, flavour from VDPAMAP_VM_CONFIG).
 * Tests that need what only one backend has (the simulator's own table,
 * fault injection, a configurable device) skip with a reason elsewhere.
 *
 * Helpers come in threes, as iommufd's selftests: _map() returns the
 * result, map_ok() asserts success, map_err(E, ...) expects -E and that
 * nothing changed (mirror, device table, IOTLB writes).
 */
#ifndef VDPAMAP_TESTS_BACKEND_H
#define VDPAMAP_TESTS_BACKEND_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vdpamap.h"

#define SKIP_EXIT 77

struct fx {
	int is_sim;
	int pa;	     /* device pins (PA mode) */
	int per_map; /* per-map parent */
	char path[108];
	pid_t sim_pid;
	struct vdpamap *h;
	int memfd;
	uint8_t *mem;
	uint64_t mem_size;
	uint32_t region_id;
	int raw_fd; /* a raw client's (raw_uapi.c), closed at teardown;
		       -1: none */
};

/* Start a backend (a fresh simulator with sim_opts, or nothing for the
 * kernel: it is reopened per test) and create mem_size of memfd memory. */
int fx_setup(struct fx *f, const struct vdpamap_sim_opts *sim_opts,
	     uint64_t mem_size);
void fx_teardown(struct fx *f);
/* Open the device with opts (NULL: defaults) and register the memory as
 * one region.  Returns vdpamap_open()'s result. */
int fx_open(struct fx *f, const struct vdpamap_open_opts *opts);
void fx_close(struct fx *f);

/* The device under test is one a kernel has, exactly: the kernel's, or a
 * simulator profile naming its parent ("linux-6.1/vdpa_sim",
 * docs/sim-profiles.md), which tests/kernel/agree.sh compares with that
 * kernel case by case.  A case that builds a device of its own (DESC_ASID
 * modelled on mlx5) then needs that feature from this device instead. */
int fx_plays_device(void);
/* On such a device: skip, naming them, unless the default device of the
 * backend offers feat (a case without a fixture of its own). */
void fx_need_default(uint64_t feat);
/* ... unless its IOVA range is [first, last] */
void fx_need_default_iova(uint64_t first, uint64_t last);
/* A case that builds a DESC_ASID device of its own (modelled on mlx5):
 * fx_need_default(DESC_ASID) on a device a kernel has, and a skip on a
 * profile of a kernel without GET_VRING_DESC_GROUP (6.1, 5.10). */
void fx_need_desc_asid(void);

/* a log callback that prints to stderr when VDPAMAP_TEST_LOG is set */
void test_log(int level, const char *msg, void *ctx);

/* The last line test_log() got at VDPAMAP_LOG_ERR and how many it got.
 * log_expect(since, want): since test_nr_err was since, an error line was
 * logged and the last one contains want ("": nothing logged; NULL: not
 * checked). */
extern char test_last_err[512];
extern unsigned test_nr_err;
/* the function behind the macro log_expect() (STYLE.md: helpers in threes):
 * NOLINTNEXTLINE(bugprone-reserved-identifier) */
void _log_expect(unsigned since, const char *want, int line);
#define log_expect(since, want) _log_expect(since, want, __LINE__)

/* mirror snapshot and comparisons */
struct snap {
	uint64_t count[4];
	uint64_t sum[4]; /* a checksum over (iova, size, hva, perm) */
	uint64_t writes;
	uint64_t sim_count[4];
	uint64_t sim_sum[4];
};
void snap_take(struct fx *f, struct snap *s);
void snap_equal(struct fx *f, const struct snap *a);
/* the library's mirror equals the simulator's own table (sim only; no-op
 * on the kernel, whose table cannot be read) */
void mirror_matches_device(struct fx *f);

/* The helpers in threes (STYLE.md, iommufd's _map/map/map_err): _name()
 * is the call behind the macros, reserved-looking by design:
 * NOLINTBEGIN(bugprone-reserved-identifier) */
int _map(struct fx *f, uint32_t asid, uint64_t iova, uint64_t off,
	 uint64_t size, uint32_t perm);
#define map_ok(f, asid, iova, off, size) \
	assert_int_equal(_map(f, asid, iova, off, size, VDPAMAP_PERM_RW), 0)
void _map_err(struct fx *f, int err, uint32_t asid, uint64_t iova, void *hva,
	      uint64_t size, uint32_t perm, int line);
#define map_err(f, e, asid, iova, hva, size, perm) \
	_map_err(f, e, asid, iova, hva, size, perm, __LINE__)

int _unmap(struct fx *f, uint32_t asid, uint64_t iova, uint64_t size);
#define unmap_ok(f, asid, iova, size) \
	assert_int_equal(_unmap(f, asid, iova, size), 0)
void _unmap_err(struct fx *f, int err, uint32_t asid, uint64_t iova,
		uint64_t size, int line);
#define unmap_err(f, e, asid, iova, size) \
	_unmap_err(f, e, asid, iova, size, __LINE__)
/* NOLINTEND(bugprone-reserved-identifier) */

/* skip the current test (cmocka) with a reason on stderr */
#define skip_because(...)                              \
	do {                                           \
		fprintf(stderr, "skip: " __VA_ARGS__); \
		fprintf(stderr, "\n");                 \
		skip();                                \
	} while (0)

/* ---- expectations from the device, never from one kernel's numbers:
 * what the device offers (backend features) and counts (address spaces,
 * groups, vqs, IOVA range).  Read with the handle open, or through a
 * short open and close when it is not. */
void fx_info(struct fx *f, struct vdpamap_info *in);
/* 1 if the device offers every bit of feat */
int fx_offers(struct fx *f, uint64_t feat);
/* Skip the case unless the device offers feat:
 * "skip: device lacks IOTLB_PERSIST (offer 0x1e)" */
void fx_need(struct fx *f, uint64_t feat);
/* Skip unless the device has at least nr address spaces / vq groups /
 * vqs: "skip: device has 1 address space, needs 2 (offer 0x6)" */
void fx_need_as(struct fx *f, uint32_t nr);
void fx_need_groups(struct fx *f, uint32_t nr);
void fx_need_vqs(struct fx *f, uint32_t nr);
/* Skip unless [first, last] is inside the device's IOVA range */
void fx_need_iova(struct fx *f, uint64_t first, uint64_t last);
/* 1 if address space asid exists on the device */
int fx_has_as(struct fx *f, uint32_t asid);

#endif
