/*
 * json.c - JSON writer
 */
#include <string.h>

#include "json.h"

/* Length of the valid UTF-8 sequence at s, or 0 (RFC 3629). */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

void
json_write_string(FILE *fp, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	fputc('"', fp);
	while (*s) {
		switch (*s) {
		case '"':
			fputs("\\\"", fp);
			break;
		case '\\':
			fputs("\\\\", fp);
			break;
		case '\n':
			fputs("\\n", fp);
			break;
		case '\r':
			fputs("\\r", fp);
			break;
		case '\t':
			fputs("\\t", fp);
			break;
		default:
			if (*s < 0x20 || *s == 0x7f) {
				fprintf(fp, "\\u%04x", *s);
				break;
			}
			if ((n = utf8_len(s)) == 0) {
				fputs("\\ufffd", fp);
				break;
			}
			fwrite(s, 1, n, fp);
			s += n;
			continue;
		}
		s++;
	}
	fputc('"', fp);
}

void
json_init(struct json *j, FILE *fp)
{
	memset(j, 0, sizeof(*j));
	j->fp = fp;
}

static void
member(struct json *j, const char *key)
{
	if (j->depth > 0) {
		fputs(j->nonempty[j->depth] ? ",\n" : "\n", j->fp);
		j->nonempty[j->depth] = true;
		fprintf(j->fp, "%*s", 2 * j->depth, "");
	}
	if (key != NULL) {
		json_write_string(j->fp, key);
		fputs(": ", j->fp);
	}
}

static void
open_(struct json *j, const char *key, char c)
{
	member(j, key);
	fputc(c, j->fp);
	if (j->depth < JSON_DEPTH_MAX - 1)
		j->depth++;
	j->nonempty[j->depth] = false;
}

static void
close_(struct json *j, char c)
{
	bool had = j->nonempty[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (had)
		fprintf(j->fp, "\n%*s", 2 * j->depth, "");
	fputc(c, j->fp);
	if (j->depth == 0)
		fputc('\n', j->fp);
}

void
json_obj_begin(struct json *j, const char *key)
{
	open_(j, key, '{');
}

void
json_obj_end(struct json *j)
{
	close_(j, '}');
}

void
json_arr_begin(struct json *j, const char *key)
{
	open_(j, key, '[');
}

void
json_arr_end(struct json *j)
{
	close_(j, ']');
}

void
json_str(struct json *j, const char *key, const char *v)
{
	member(j, key);
	if (v == NULL)
		fputs("null", j->fp);
	else
		json_write_string(j->fp, v);
}

void
json_uint(struct json *j, const char *key, uint64_t v)
{
	member(j, key);
	fprintf(j->fp, "%llu", (unsigned long long)v);
}

void
json_int(struct json *j, const char *key, long long v)
{
	member(j, key);
	fprintf(j->fp, "%lld", v);
}

void
json_bool(struct json *j, const char *key, bool v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->fp);
}

void
json_null(struct json *j, const char *key)
{
	member(j, key);
	fputs("null", j->fp);
}
