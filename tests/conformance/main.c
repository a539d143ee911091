// SPDX-License-Identifier: BSD-3-Clause
/*
 * The conformance suite: every behaviour of the foundation, run unchanged
 * against the simulator and the real kernel (see backend.h).  Each test
 * opens a fresh device; data-path checks loop a frame TX -> RX through the
 * device's IOTLB with the vnet driver.  The cases live one file per
 * lifecycle step (conformance.h lists them); this file lists them all, in
 * the order they run.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "conformance.h"

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_open_info),
		T(test_config),
		T(test_open_exclusive),
		T(test_required_feature_missing),
		T(test_opts_sizes),
		T(test_adopt_fd),
		T(test_map_basic),
		T(test_map_top_of_space),
		T(test_bad_input),
		T(test_bad_input_no_asid),
		T(test_regions),
		T(test_alloc),
		cmocka_unit_test(test_alloc_small_range),
		T(test_txn),
		T(test_batching),
		T(test_loopback),
		T(test_driver_ok_guard),
		T(test_premap_at_open),
		T(test_reset_persist),
		T(test_reset_resync),
		T(test_reset_without_resync_breaks),
		T(test_group_asid),
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
		T(test_flip_loopback),
		T(test_flip_zero_guest_msgs),
		T(test_flip_reset),
		T(test_flip_bad_input),
		cmocka_unit_test(test_flip_nospc),
		T(test_flip_fault_sweep),
		T(test_handoff_bad_input),
		T(test_handoff_busy),
		cmocka_unit_test(test_flip_desc_asid),
#undef T
	};
	const char *dev = getenv("VDPAMAP_TEST_DEV");

	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "conformance: backend %s, flavour %s\n",
		dev && *dev ? dev : "simulator",
		getenv(dev && *dev ? "VDPAMAP_VM_CONFIG" : "VDPAMAP_TEST_SIM") ?:
			"va");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
