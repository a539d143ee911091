// SPDX-License-Identifier: BSD-3-Clause
/*
 * tests/lib/json: see json.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void oom(void)
{
	fputs("json: out of memory\n", stderr);
	exit(2);
}

struct parser {
	const char *p, *end;
	const char *err;
};

static void ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct jv *jnew(enum jt t)
{
	struct jv *v = calloc(1, sizeof(*v));

	if (!v)
		oom();
	v->t = t;
	return v;
}

static void push(struct jv *v, char *key, struct jv *item)
{
	/* an array of pointers:
	 * NOLINTNEXTLINE(bugprone-sizeof-expression) */
	v->a = realloc(v->a, (v->len + 1) * sizeof(*v->a));
	if (key)
		v->k = realloc(v->k, (v->len + 1) * sizeof(*v->k));
	if (!v->a || (key && !v->k))
		oom();
	v->a[v->len] = item;
	if (key)
		v->k[v->len] = key;
	v->len++;
}

static void put_utf8(char **o, unsigned int c)
{
	if (c < 0x80) {
		*(*o)++ = (char)c;
	} else if (c < 0x800) {
		*(*o)++ = (char)(0xc0 | c >> 6);
		*(*o)++ = (char)(0x80 | (c & 0x3f));
	} else {
		*(*o)++ = (char)(0xe0 | c >> 12);
		*(*o)++ = (char)(0x80 | ((c >> 6) & 0x3f));
		*(*o)++ = (char)(0x80 | (c & 0x3f));
	}
}

static char *parse_string(struct parser *ps)
{
	char *out, *o;

	if (ps->p >= ps->end || *ps->p != '"') {
		ps->err = "expected a string";
		return NULL;
	}
	ps->p++;
	out = o = malloc((size_t)(ps->end - ps->p) * 3 + 1);
	if (!out)
		oom();
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p++;

		if (c < 0x20) {
			ps->err = "control character in a string";
			free(out);
			return NULL;
		}
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		if (ps->p >= ps->end)
			break;
		c = (unsigned char)*ps->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			*o++ = (char)c;
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'u': {
			unsigned int u = 0;
			int i;

			for (i = 0; i < 4; i++) {
				int h = ps->p < ps->end ? *ps->p++ : 0;

				u <<= 4;
				if (h >= '0' && h <= '9')
					u |= (unsigned int)(h - '0');
				else if (h >= 'a' && h <= 'f')
					u |= (unsigned int)(h - 'a' + 10);
				else if (h >= 'A' && h <= 'F')
					u |= (unsigned int)(h - 'A' + 10);
				else {
					ps->err = "bad \\u escape";
					free(out);
					return NULL;
				}
			}
			put_utf8(&o, u);
			break;
		}
		default:
			ps->err = "bad escape";
			free(out);
			return NULL;
		}
	}
	if (ps->p >= ps->end) {
		ps->err = "unterminated string";
		free(out);
		return NULL;
	}
	ps->p++;
	*o = '\0';
	return out;
}

static struct jv *parse_value(struct parser *ps, int depth);

static struct jv *parse_number(struct parser *ps)
{
	const char *s = ps->p;
	struct jv *v;
	char *end;

	if (*s == '-')
		s++;
	if (s >= ps->end || *s < '0' || *s > '9' ||
	    (*s == '0' && s + 1 < ps->end && s[1] >= '0' && s[1] <= '9')) {
		ps->err = "bad number";
		return NULL;
	}
	v = jnew(J_NUM);
	v->n = strtod(ps->p, &end);
	v->is_int = 1;
	for (s = ps->p; s < end; s++)
		if (*s == '.' || *s == 'e' || *s == 'E')
			v->is_int = 0;
	/* the exact value of a large integer (a u64 past 2^53) */
	if (v->is_int && *ps->p != '-')
		v->u = strtoull(ps->p, NULL, 10);
	ps->p = end;
	return v;
}

static int lit(struct parser *ps, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(ps->end - ps->p) >= n && !memcmp(ps->p, w, n)) {
		ps->p += n;
		return 1;
	}
	return 0;
}

/* A parse error leaves the partial tree unfreed: every caller ends on
 * it (clicheck with exit status 2, a cmocka test with a failure).
 * NOLINTBEGIN(clang-analyzer-unix.Malloc) */
static struct jv *parse_value(struct parser *ps, int depth)
{
	struct jv *v, *item;
	char *key;

	if (depth > 64) {
		ps->err = "nested too deep";
		return NULL;
	}
	ws(ps);
	if (ps->p >= ps->end) {
		ps->err = "unexpected end";
		return NULL;
	}
	switch (*ps->p) {
	case '{':
		ps->p++;
		v = jnew(J_OBJ);
		ws(ps);
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return v;
		}
		for (;;) {
			ws(ps);
			key = parse_string(ps);
			if (!key)
				return NULL;
			ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				ps->err = "expected ':'";
				return NULL;
			}
			ps->p++;
			item = parse_value(ps, depth + 1);
			if (!item)
				return NULL;
			push(v, key, item);
			ws(ps);
			if (ps->p < ps->end && *ps->p == ',') {
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == '}') {
				ps->p++;
				return v;
			}
			ps->err = "expected ',' or '}'";
			return NULL;
		}
	case '[':
		ps->p++;
		v = jnew(J_ARR);
		ws(ps);
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return v;
		}
		for (;;) {
			item = parse_value(ps, depth + 1);
			if (!item)
				return NULL;
			push(v, NULL, item);
			ws(ps);
			if (ps->p < ps->end && *ps->p == ',') {
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == ']') {
				ps->p++;
				return v;
			}
			ps->err = "expected ',' or ']'";
			return NULL;
		}
	case '"':
		key = parse_string(ps);
		if (!key)
			return NULL;
		v = jnew(J_STR);
		v->s = key;
		return v;
	case 't':
	case 'f':
		if (lit(ps, "true") || lit(ps, "false")) {
			v = jnew(J_BOOL);
			v->b = ps->p[-1] == 'e' && ps->p[-2] == 'u';
			return v;
		}
		break;
	case 'n':
		if (lit(ps, "null"))
			return jnew(J_NULL);
		break;
	default:
		return parse_number(ps);
	}
	ps->err = "unexpected character";
	return NULL;
}

struct jv *jv_parse(const char *buf, size_t len, const char **err, size_t *at)
{
	struct parser ps = { buf, buf + len, NULL };
	struct jv *v = parse_value(&ps, 0);

	if (v) {
		ws(&ps);
		if (ps.p != ps.end) {
			ps.err = "text after the JSON document";
			v = NULL;
		}
	}
	*err = ps.err;
	*at = (size_t)(ps.p - buf);
	return v;
}
/* NOLINTEND(clang-analyzer-unix.Malloc) */

const struct jv *jv_get(const struct jv *o, const char *k)
{
	size_t i;

	if (!o || o->t != J_OBJ)
		return NULL;
	for (i = 0; i < o->len; i++)
		if (!strcmp(o->k[i], k))
			return o->a[i];
	return NULL;
}

void jv_free(struct jv *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->len; i++) {
		if (v->k)
			free(v->k[i]);
		jv_free(v->a[i]);
	}
	free(v->k);
	free(v->a);
	free(v->s);
	free(v);
}
