#!/bin/sh
# Inside tests/harness/vdpamap-vm (one run per configuration): the throughput and
# pre-fault benchmarks on /dev/vhost-vdpa-0.  scripts/bench reads the output.
#   kernel-bench.sh BENCH_THROUGHPUT BENCH_PREFAULT
set -e
echo "@config ${VDPAMAP_VM_CONFIG:-?}"
"$1" --counts 256,1024,4096 --reps 3 --dat -
"$2" --size 128 --threads 0,1,2 --reps 3 --dat -
