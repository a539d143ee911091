/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * span: the u64 arithmetic both trees of this module summarise ranges
 * with (iova_tree.c's augmentation, rtree's per-node summaries): max, min
 * and the points strictly between two ends.  Private to iova_tree.
 */
#ifndef VDPAMAP_IOVA_TREE_SPAN_H
#define VDPAMAP_IOVA_TREE_SPAN_H

#include <stdint.h>

static inline uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static inline uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Number of points strictly between a and b. */
static inline uint64_t gap(uint64_t a, uint64_t b)
{
	return b > a && b - a > 1 ? b - a - 1 : 0;
}

#endif
