// SPDX-License-Identifier: BSD-3-Clause
/*
 * json: the minimal streaming JSON writer of the vdpamap tool (cli.h).
 * Keys and string values are escaped (", \, control characters; bytes
 * >= 0x80 pass through as UTF-8).  Commas go before every member but the
 * first of its container, so there is never a trailing one.  Pretty mode
 * puts every member on its own line, indented by two spaces per level.
 */
#include <math.h>
#include <stdio.h>

#include "cli.h"

#define JSON_MAX_DEPTH \
	((int)(sizeof(((struct json *)0)->first) / sizeof(int)) - 1)

void json_init(struct json *j, FILE *f, int pretty)
{
	j->f = f;
	j->depth = 0;
	j->pretty = pretty;
	j->first[0] = 1;
}

static void indent(struct json *j)
{
	int i;

	fputc('\n', j->f);
	for (i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

static void put_string(struct json *j, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', j->f);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", j->f);
			break;
		case '\\':
			fputs("\\\\", j->f);
			break;
		case '\n':
			fputs("\\n", j->f);
			break;
		case '\r':
			fputs("\\r", j->f);
			break;
		case '\t':
			fputs("\\t", j->f);
			break;
		case '\b':
			fputs("\\b", j->f);
			break;
		case '\f':
			fputs("\\f", j->f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				fputs("\\u00", j->f);
				fputc(hex[*p >> 4], j->f);
				fputc(hex[*p & 15], j->f);
			} else {
				fputc(*p, j->f);
			}
		}
	}
	fputc('"', j->f);
}

/* Separator, indentation and key of the next member. */
static void member(struct json *j, const char *key)
{
	int d = j->depth < JSON_MAX_DEPTH ? j->depth : JSON_MAX_DEPTH;

	if (j->depth > 0) {
		if (!j->first[d])
			fputc(',', j->f);
		if (j->pretty)
			indent(j);
	}
	j->first[d] = 0;
	if (key && j->depth > 0) {
		put_string(j, key);
		fputs(j->pretty ? ": " : ":", j->f);
	}
}

static void open_container(struct json *j, const char *key, char c)
{
	member(j, key);
	fputc(c, j->f);
	j->depth++;
	if (j->depth <= JSON_MAX_DEPTH)
		j->first[j->depth] = 1;
}

static void close_container(struct json *j, char c)
{
	int d = j->depth < JSON_MAX_DEPTH ? j->depth : JSON_MAX_DEPTH;
	int empty = j->first[d];

	if (j->depth > 0)
		j->depth--;
	if (j->pretty && !empty)
		indent(j);
	fputc(c, j->f);
}

void json_obj_open(struct json *j, const char *key)
{
	open_container(j, key, '{');
}

void json_obj_close(struct json *j)
{
	close_container(j, '}');
}

void json_arr_open(struct json *j, const char *key)
{
	open_container(j, key, '[');
}

void json_arr_close(struct json *j)
{
	close_container(j, ']');
}

void json_str(struct json *j, const char *key, const char *v)
{
	member(j, key);
	if (v)
		put_string(j, v);
	else
		fputs("null", j->f);
}

void json_u64(struct json *j, const char *key, unsigned long long v)
{
	member(j, key);
	fprintf(j->f, "%llu", v);
}

void json_i64(struct json *j, const char *key, long long v)
{
	member(j, key);
	fprintf(j->f, "%lld", v);
}

void json_bool(struct json *j, const char *key, int v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_double(struct json *j, const char *key, double v)
{
	member(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.15g", v);
	else
		fputs("null", j->f);
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
