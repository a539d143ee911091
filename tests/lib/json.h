/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tests/lib/json: the one JSON reader of the test programs, for what
 * `vdpamap -j` (tests/cli/clicheck.c) and iproute2's `vdpa -j`
 * (tests/kernel/test_mgmt.c) print.  Strict: exactly one document, no
 * trailing text, nesting at most 64 deep; out of memory ends the program
 * (exit status 2).
 */
#ifndef VDPAMAP_TESTS_JSON_H
#define VDPAMAP_TESTS_JSON_H

#include <stddef.h>

enum jt { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jt t;
	int b;		      /* J_BOOL */
	double n;	      /* J_NUM */
	int is_int;	      /* J_NUM written without '.', 'e' or 'E' */
	unsigned long long u; /* J_NUM: a non-negative integer, exactly */
	char *s;	      /* J_STR */
	struct jv **a;	      /* array items, or object values */
	char **k;	      /* object keys */
	size_t len;
};

/* Parse buf[0, len): the document, or NULL with *err saying why and *at
 * where. */
struct jv *jv_parse(const char *buf, size_t len, const char **err, size_t *at);
/* The member k of object o, or NULL (also when o is not an object). */
const struct jv *jv_get(const struct jv *o, const char *k);
/* Free v and everything in it; NULL is fine. */
void jv_free(struct jv *v);

#endif
