// SPDX-License-Identifier: BSD-3-Clause
/*
 * demo_report: the demo's step records and its two outputs, a table row
 * printed as each step ends and one JSON document at the end (demo.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

const char *demo_reset_path(uint32_t p)
{
	return p == VDPAMAP_RESET_PERSIST ? "PERSIST" :
	       p == VDPAMAP_RESET_RESYNC  ? "RESYNC" :
					    "?";
}

struct step *step_new(struct demo *d, int n, const char *name)
{
	struct step *s;

	if (d->nsteps >= DEMO_MAX_STEPS)
		abort();
	s = &d->steps[d->nsteps++];
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->name = name;
	return s;
}

void step_kv(struct step *s, const char *k, uint64_t v)
{
	if (s->nkv < DEMO_MAX_KV) {
		s->kv[s->nkv].k = k;
		s->kv[s->nkv].v = v;
		s->nkv++;
	}
}

void step_detail(struct step *s, const char *fmt, ...)
{
	size_t off = strlen(s->detail);
	va_list ap;

	if (off >= sizeof(s->detail) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(s->detail + off, sizeof(s->detail) - off, fmt, ap);
	va_end(ap);
}

void demo_print_header(struct demo *d)
{
	printf("vdpamap demo: %s %s%s, %" PRIu64 " MiB guest memory\n",
	       d->spawned ? "built-in simulator" : "device", d->dev,
	       d->spawned ? " (spawned)" : "", d->size >> 20);
	printf("%-2s %-26s %10s  %-8s %s\n", "#", "step", "ms", "result",
	       "detail");
}

static void print_row(struct demo *d, const struct step *s)
{
	char num[8] = "";
	const char *res;

	if (s->n != d->last_n)
		snprintf(num, sizeof(num), "%d", s->n);
	d->last_n = s->n;
	res = s->state == ST_FAIL ? "FAIL" :
	      s->state == ST_SKIP ? "skip" :
	      s->path		  ? s->path :
				    "ok";
	printf("%-2s %-26s %10.3f  %-8s %s\n", num, s->name, ms(s->ns), res,
	       s->detail);
	fflush(stdout);
}

/* Close a step: r < 0 fails it (and the demo). */
int step_end(struct demo *d, struct step *s, int r)
{
	if (r < 0) {
		s->state = ST_FAIL;
		s->err = -r;
		step_detail(s, "%s%s", s->detail[0] ? ": " : "", strerror(-r));
		if (d->h && vdpamap_poison_reason(d->h))
			step_detail(s, " (handle poisoned: %s)",
				    vdpamap_poison_reason(d->h));
		d->failed = 1;
		fprintf(stderr, "vdpamap demo: step %d %s failed: %s\n", s->n,
			s->name, strerror(-r));
	}
	if (!d->c->json)
		print_row(d, s);
	return r;
}

void step_skip(struct demo *d, int n, const char *name, const char *why)
{
	struct step *s = step_new(d, n, name);

	s->state = ST_SKIP;
	step_detail(s, "%s", why);
	step_end(d, s, 0);
}

void demo_print_json(struct demo *d, uint64_t total)
{
	struct json j;
	int i, k;

	json_init(&j, stdout, d->c->pretty);
	json_obj_open(&j, NULL);
	json_str(&j, "device", d->dev0);
	if (d->dev1[0])
		json_str(&j, "device_no_persist", d->dev1);
	json_bool(&j, "spawned_sim", d->spawned);
	json_u64(&j, "size_mib", d->size >> 20);
	json_arr_open(&j, "steps");
	for (i = 0; i < d->nsteps; i++) {
		const struct step *s = &d->steps[i];

		json_obj_open(&j, NULL);
		json_u64(&j, "n", (unsigned long long)s->n);
		json_str(&j, "step", s->name);
		json_double(&j, "ms", ms(s->ns));
		json_bool(&j, "ok", s->state != ST_FAIL);
		if (s->state == ST_SKIP)
			json_bool(&j, "skipped", 1);
		json_str(&j, "path", s->path);
		json_str(&j, "detail", s->detail);
		if (s->state == ST_FAIL) {
			json_str(&j, "error", strerror(s->err));
			json_i64(&j, "errno", s->err);
		}
		for (k = 0; k < s->nkv; k++)
			json_u64(&j, s->kv[k].k, s->kv[k].v);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	json_double(&j, "total_ms", ms(total));
	json_bool(&j, "ok", !d->failed);
	json_obj_close(&j);
	json_end(&j);
}
