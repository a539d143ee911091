// SPDX-License-Identifier: BSD-3-Clause
/*
 * The conformance suite: every behaviour of the foundation, run unchanged
 * against the simulator and the real kernel (see backend.h).  Each test
 * opens a fresh device; data-path checks loop a frame TX -> RX through the
 * device's IOTLB with the vnet driver.  The cases live one file per
 * lifecycle step (conformance.h lists them); this file lists them all, in
 * the order they run, and picks the ones asked for:
 *
 *   conformance                     every case
 *   conformance --list              the case names, one a line
 *   conformance -t NAME [-t NAME]   only these cases; NAME is a glob
 *                                   (fnmatch: * ? [...]) and may leave out
 *                                   the test_ prefix
 *
 * CMOCKA_TEST_FILTER=GLOB in the environment is one more -t (cmocka 2.0
 * reads it itself; Debian 12's cmocka 1.1.5 does not, and its
 * cmocka_set_test_filter() takes a single pattern).  A NAME that matches no
 * case is an error (exit 2): a typo must not pass as an empty run.
 */
#include <fnmatch.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conformance.h"

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
static const struct CMUnitTest tests[] = {
	T(test_open_info),
	T(test_config),
	T(test_open_exclusive),
	T(test_close_releases),
	T(test_required_feature_missing),
	T(test_opts_sizes),
	T(test_adopt_fd),
	T(test_map_basic),
	T(test_map_top_of_space),
	T(test_bad_input),
	T(test_bad_input_no_asid),
	T(test_regions),
	T(test_region_unmapped),
	T(test_unaligned),
	T(test_alloc),
	cmocka_unit_test(test_alloc_small_range),
	T(test_txn),
	T(test_txn_close),
	T(test_txn_fork_child),
	T(test_raw_clone_child),
	T(test_bulk_commit),
	T(test_txn_queries),
	T(test_txn_asids),
	T(test_batching),
	T(test_loopback),
	T(test_loopback_wrap),
	T(test_driver_ok_guard),
	T(test_premap_at_open),
	T(test_reset_persist),
	T(test_reset_resync),
	T(test_reset_without_resync_breaks),
	T(test_group_asid),
	T(test_group_asid_frozen),
	T(test_group_asid_range),
	T(test_vring_size),
	T(test_vring_group),
	T(test_new_owner_raw),
	T(test_remap_raw),
	T(test_suspend_resume),
	T(test_fork_child),
	T(test_bad_device_args),
	T(test_bad_sim_args),
	cmocka_unit_test(test_driver_ok_desc_asid),
	T(test_lookups_never_block),
	T(test_lookups_race_writer),
	T(test_fault_sweep_commit),
	T(test_fault_sweep_reset),
	T(test_fault_sweep_open),
	T(test_device_gone),
	T(test_fault_sweep_death),
	T(test_flip_loopback),
	T(test_flip_zero_guest_msgs),
	T(test_flip_reset),
	T(test_flip_cvq_mac),
	T(test_flip_bad_input),
	cmocka_unit_test(test_flip_nospc),
	T(test_flip_fault_sweep),
	T(test_handoff_bad_input),
	T(test_handoff_busy),
	T(test_region_fd),
	cmocka_unit_test(test_flip_desc_asid),
};
#undef T
#define NR_TESTS (sizeof(tests) / sizeof(tests[0]))

static void usage(FILE *to)
{
	fprintf(to,
		"usage: conformance [--list] [-t NAME]...\n"
		"  -l, --list       print the case names and exit\n"
		"  -t, --test NAME  run only the cases NAME matches (a glob,\n"
		"                   the test_ prefix optional); repeatable\n"
		"  env CMOCKA_TEST_FILTER=GLOB: one more -t\n"
		"  backend: VDPAMAP_TEST_SIM=va|pa|permap (simulator, default "
		"va)\n"
		"           VDPAMAP_TEST_DEV=/dev/vhost-vdpa-N (kernel)\n");
}

static int matches(const char *pat, const char *name)
{
	return !fnmatch(pat, name, 0) ||
	       (!strncmp(name, "test_", 5) && !fnmatch(pat, name + 5, 0));
}

/* Keep in run[] the cases some pattern matches, in tests[] order; every
 * pattern must match one.  Returns how many, or -1. */
static int pick(const char **pat, int nr_pat, struct CMUnitTest *run)
{
	int i, n = 0, bad = 0;
	size_t k;

	for (i = 0; i < nr_pat; i++) {
		for (k = 0; k < NR_TESTS && !matches(pat[i], tests[k].name);
		     k++)
			;
		if (k == NR_TESTS) {
			fprintf(stderr,
				"conformance: no case matches \"%s\" "
				"(--list names them)\n",
				pat[i]);
			bad = 1;
		}
	}
	if (bad)
		return -1;
	for (k = 0; k < NR_TESTS; k++)
		for (i = 0; i < nr_pat; i++)
			if (matches(pat[i], tests[k].name)) {
				run[n++] = tests[k];
				break;
			}
	return n;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "list", no_argument, NULL, 'l' },
		{ "test", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct CMUnitTest run[NR_TESTS];
	const char **pat = calloc((size_t)argc + 1, sizeof(*pat));
	const char *dev = getenv("VDPAMAP_TEST_DEV"), *env;
	int c, nr_pat = 0, n = NR_TESTS;
	size_t k;

	if (!pat)
		return 1;
	while ((c = getopt_long(argc, argv, "lt:h", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
			for (k = 0; k < NR_TESTS; k++)
				printf("%s\n", tests[k].name);
			free(pat);
			return 0;
		case 't':
			pat[nr_pat++] = optarg;
			break;
		case 'h':
			usage(stdout);
			free(pat);
			return 0;
		default:
			usage(stderr);
			free(pat);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		free(pat);
		return 2;
	}
	env = getenv("CMOCKA_TEST_FILTER");
	if (env && *env)
		pat[nr_pat++] = env;
	memcpy(run, tests, sizeof(tests));
	if (nr_pat)
		n = pick(pat, nr_pat, run);
	free(pat);
	if (n < 0)
		return 2;

	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "conformance: backend %s, flavour %s\n",
		dev && *dev ? dev : "simulator",
		getenv(dev && *dev ? "VDPAMAP_VM_CONFIG" : "VDPAMAP_TEST_SIM") ?:
			"va");
	return _cmocka_run_group_tests("tests", run, (size_t)n, NULL, NULL);
}
