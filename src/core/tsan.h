/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tsan: tell ThreadSanitizer about the happens-before edge an RCU grace
 * period creates.  TSan does not see liburcu's grace periods (the library
 * is not instrumented), so a writer freeing an object after
 * synchronize_rcu() looks like a race with the reader that used it.  A
 * reader calls tsan_release(obj) when it is done with obj; the writer calls
 * tsan_acquire(obj) after the grace period, before freeing it.  Outside a
 * TSan build both are no-ops.
 *
 * Depends on: nothing (sanitizer/tsan_interface.h under TSan).
 */
#ifndef VDPAMAP_TSAN_H
#define VDPAMAP_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define VDM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VDM_TSAN 1
#endif
#endif

#ifdef VDM_TSAN
#include <sanitizer/tsan_interface.h>
#define tsan_release(p) __tsan_release((void *)(p))
#define tsan_acquire(p) __tsan_acquire((void *)(p))
#else
#define tsan_release(p) ((void)(p))
#define tsan_acquire(p) ((void)(p))
#endif

#endif
