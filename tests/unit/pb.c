/* tests/unit/pb.c: the protobuf codec (pb.c); range_end of prefixes, key
 * escaping and the streamed RangeResponse scanner (etcdscan.c) fed in chunks of every size. */
#include "etcdscan.h"
#include "pb.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"

static int prefix_end_is(const char *key, size_t n, const char *want, size_t wn) {
  char out[64];
  size_t got = etcdscan_prefix_end(key, n, out);
  return got == wn && memcmp(out, want, wn) == 0;
}

static int escape_is(const char *s, size_t n, const char *want, int want_esc) {
  pb_buf b = {0};
  int esc = etcdscan_escape(&b, s, n);
  int ok_ = b.len == strlen(want) && memcmp(b.p ? b.p : "", want, b.len) == 0 && esc == want_esc;
  if (!ok_) printf("# got '%.*s'\n", (int)b.len, b.p ? b.p : "");
  pb_buf_free(&b);
  return ok_;
}

typedef struct {
  pb_buf kvs;  /* concatenated ETCDSCAN_REC_KVS payloads */
  pb_buf ends; /* concatenated ETCDSCAN_REC_END payloads */
  int nk, ne;
} sink;

static int collect(void *ctx, const char *d, size_t n) {
  sink *s = ctx;
  if (d[0] == ETCDSCAN_REC_KVS) {
    s->nk++;
    return pb_put_raw(&s->kvs, d + 1, n - 1);
  }
  s->ne++;
  return pb_put_raw(&s->ends, d + 1, n - 1);
}

/* A RangeResponse with header, nkv KeyValues (key "k<i>", value of vlen), more, count. */
static void make_response(pb_buf *msg, pb_buf *kvs_only, int nkv, size_t vlen) {
  pb_buf h = {0};
  pb_put_uint(&h, 1, 0xfedcba9876543210ull);
  pb_put_uint(&h, 3, 42);
  pb_put_bytes(msg, 1, h.p, h.len);
  char *val = malloc(vlen + 1);
  memset(val, 'v', vlen);
  for (int i = 0; i < nkv; i++) {
    pb_buf kv = {0};
    char key[32];
    int kl = snprintf(key, sizeof key, "k%05d", i);
    pb_put_bytes(&kv, 1, key, (size_t)kl);
    pb_put_uint(&kv, 2, (uint64_t)i + 1);
    pb_put_uint(&kv, 3, (uint64_t)i + 2);
    if (vlen) pb_put_bytes(&kv, 5, val, vlen);
    pb_put_bytes(msg, 2, kv.p, kv.len);
    pb_put_bytes(kvs_only, 2, kv.p, kv.len);
    pb_buf_free(&kv);
  }
  pb_put_uint(msg, 3, 1);
  pb_put_uint(msg, 4, (uint64_t)nkv + 7);
  free(val);
  pb_buf_free(&h);
}

/* Feed the framed message in chunks of size step, keeping the unconsumed
 * tail as the HTTP core does.  Returns 0 when the records match. */
static int feed_in_chunks(const char *data, size_t len, size_t step, const pb_buf *want_kvs, int *nk) {
  etcdscan_range s;
  memset(&s, 0, sizeof s);
  sink out;
  memset(&out, 0, sizeof out);
  pb_buf in = {0};
  size_t pos = 0;
  int rc = 0;
  while (pos < len) {
    size_t n = len - pos < step ? len - pos : step;
    pb_put_raw(&in, data + pos, n);
    pos += n;
    long c = etcdscan_feed(&s, in.p, in.len, collect, &out);
    if (c < 0) {
      rc = -1;
      break;
    }
    memmove(in.p, in.p + c, in.len - (size_t)c);
    in.len -= (size_t)c;
  }
  if (rc == 0 && (in.len != 0 || !etcdscan_clean(&s) || out.ne != 1)) rc = -2;
  if (rc == 0 && (out.kvs.len != want_kvs->len || memcmp(out.kvs.p, want_kvs->p, out.kvs.len))) rc = -3;
  if (rc == 0) {
    /* the ETCDSCAN_REC_END record: header, more, count, and no kvs */
    const char *p = out.ends.p, *e = p + out.ends.len;
    pb_field f;
    int seen = 0;
    while (pb_next(&p, e, &f) == 1) {
      if (f.field == 2) rc = -4;
      if (f.field == 1 || f.field == 3 || f.field == 4) seen++;
    }
    if (seen != 3) rc = -5;
  }
  *nk = out.nk;
  pb_buf_free(&out.kvs);
  pb_buf_free(&out.ends);
  pb_buf_free(&in);
  etcdscan_free(&s);
  return rc;
}

static long feed_all(const char *data, size_t len, etcdscan_range *s) {
  sink out;
  memset(&out, 0, sizeof out);
  long c = etcdscan_feed(s, data, len, collect, &out);
  pb_buf_free(&out.kvs);
  pb_buf_free(&out.ends);
  return c;
}

int main(void) {
  /* varints */
  uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, (1ull << 32) + 5, 0x7fffffffffffffffull, 0xffffffffffffffffull};
  int all = 1;
  for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
    pb_buf b = {0};
    pb_put_varint(&b, vals[i]);
    const unsigned char *p = (const unsigned char *)b.p;
    uint64_t v = 0;
    if (pb_get_varint(&p, p + b.len, &v) != 1 || v != vals[i] || p != (const unsigned char *)b.p + b.len) all = 0;
    /* every strict prefix is "need more" */
    for (size_t k = 0; k < b.len; k++) {
      const unsigned char *q = (const unsigned char *)b.p;
      if (pb_get_varint(&q, q + k, &v) != 0) all = 0;
    }
    pb_buf_free(&b);
  }
  ok(all, "varints round-trip, truncated ones ask for more");
  {
    unsigned char bad[11];
    memset(bad, 0xff, sizeof bad);
    const unsigned char *p = bad;
    uint64_t v;
    ok(pb_get_varint(&p, bad + sizeof bad, &v) == -1, "an 11-byte varint is malformed");
    pb_buf b = {0};
    pb_put_varint(&b, 0xffffffffffffffffull);
    ok(b.len == 10 && (unsigned char)b.p[9] == 1, "2^64-1 takes 10 bytes");
    pb_buf_free(&b);
  }

  /* fields */
  {
    pb_buf b = {0};
    pb_put_bytes(&b, 1, "key", 3);
    pb_put_uint(&b, 3, 7);
    pb_put_bytes(&b, 64, "end", 3);
    const char *p = b.p, *e = b.p + b.len;
    pb_field f;
    ok(pb_next(&p, e, &f) == 1 && f.field == 1 && f.wiretype == PB_LEN && f.len == 3 && !memcmp(f.data, "key", 3),
       "bytes field");
    ok(pb_next(&p, e, &f) == 1 && f.field == 3 && f.wiretype == PB_VARINT && f.v == 7, "varint field");
    ok(pb_next(&p, e, &f) == 1 && f.field == 64 && f.len == 3, "field 64 (two-byte key)");
    ok(pb_next(&p, e, &f) == 0, "end of message");
    p = b.p;
    ok(pb_next(&p, b.p + 4, &f) == -1, "a truncated length-delimited field is malformed");
    const char zero[] = {0x00, 0x01};
    p = zero;
    ok(pb_next(&p, zero + 2, &f) == -1, "field number 0 is malformed");
    const char grp[] = {0x0b};
    p = grp;
    ok(pb_next(&p, grp + 1, &f) == -1, "group wire types are refused");
    pb_buf_free(&b);
  }

  /* schemas */
  {
    const pb_msgdef *m = pb_msg("RangeRequest");
    ok(m && pb_field_by_name(m, "keys_only") && pb_field_by_name(m, "keys_only")->num == 8, "RangeRequest.keys_only is 8");
    const pb_fielddef *f = pb_field_by_name(pb_msg("Compare"), "result");
    ok(f && pb_enum_value(f, "not_equal") == 3 && pb_enum_value(f, "nope") == -1, "enum names");
    ok(pb_msg("WatchResponse") && pb_field_by_num(pb_msg("WatchResponse"), 11), "WatchResponse.events is 11");
    ok(pb_msg("NoSuch") == NULL, "unknown message");
  }

  /* range_end of a prefix */
  ok(prefix_end_is("/registry", 9, "/registrz", 9), "prefix_end /registry");
  ok(prefix_end_is("a\xff", 2, "b", 1), "prefix_end strips a trailing 0xff and carries");
  ok(prefix_end_is("a\xfe\xff\xff", 4, "a\xff", 2), "prefix_end strips every trailing 0xff");
  ok(prefix_end_is("\xff\xff", 2, "\0", 1), "an all-0xff prefix means to the end");
  ok(prefix_end_is("", 0, "\0", 1), "an empty prefix means to the end");
  ok(prefix_end_is("a\x00", 2, "a\x01", 2), "a NUL byte is incremented");

  /* escaping */
  ok(escape_is("/registry/pods/ns/a b", 21, "/registry/pods/ns/a b", 0), "printable ASCII with a space as is");
  ok(escape_is("caf\xc3\xa9/\xe2\x9c\x93", 9, "caf\xc3\xa9/\xe2\x9c\x93", 0), "UTF-8 as is");
  ok(escape_is("a\nb\tc\r", 6, "a\\nb\\tc\\r", 1), "newline, tab and CR escaped");
  ok(escape_is("a\xff" "b", 3, "a\\xffb", 1), "0xff escaped");
  ok(escape_is("back\\slash", 10, "back\\\\slash", 1), "backslash doubled");
  ok(escape_is("\x00\x1b", 2, "\\x00\\x1b", 1), "NUL and ESC escaped");
  ok(escape_is("\xc3", 1, "\\xc3", 1), "truncated UTF-8 escaped");
  ok(escape_is("\xc0\xaf", 2, "\\xc0\\xaf", 1), "overlong UTF-8 escaped");
  /* past 16 bytes the plain run is found 16 at a time: a special byte at every offset */
  for (int at = 0; at < 40; at++) {
    char in[41], want[48];
    memset(in, 'a', 40);
    in[40] = 0;
    in[at] = at % 3 == 0 ? '\\' : at % 3 == 1 ? '\x7f' : '\n';
    memcpy(want, in, (size_t)at);
    const char *e = at % 3 == 0 ? "\\\\" : at % 3 == 1 ? "\\x7f" : "\\n";
    strcpy(want + at, e);
    strcat(want, in + at + 1);
    ok(escape_is(in, 40, want, 1), "a %s at offset %d of 40 bytes escaped", at % 3 == 0 ? "backslash" : at % 3 == 1 ? "DEL" : "newline", at);
  }
  ok(escape_is("0123456789abcdef0123456789abcdef caf\xc3\xa9 \xe2\x9c\x93 0123456789abcdef", 59,
               "0123456789abcdef0123456789abcdef caf\xc3\xa9 \xe2\x9c\x93 0123456789abcdef", 0), "UTF-8 after a long ASCII run as is");
  ok(escape_is("\xed\xa0\x80", 3, "\\xed\\xa0\\x80", 1), "surrogates escaped");
  ok(escape_is("\xc2\x85", 2, "\\xc2\\x85", 1), "C1 control (NEL) escaped");
  ok(escape_is("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", 0), "4-byte UTF-8 (emoji) as is");

  /* the streamed RangeResponse */
  {
    pb_buf msg = {0}, kvs = {0}, framed = {0};
    make_response(&msg, &kvs, 300, 100);
    unsigned char pre[5] = {0, (unsigned char)(msg.len >> 24), (unsigned char)(msg.len >> 16),
                            (unsigned char)(msg.len >> 8), (unsigned char)msg.len};
    pb_put_raw(&framed, pre, 5);
    pb_put_raw(&framed, msg.p, msg.len);
    size_t steps[] = {1, 2, 3, 5, 7, 64, 113, 4096, 16384, framed.len};
    int good = 1, nk1 = 0, nkall = 0;
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
      int nk;
      int rc = feed_in_chunks(framed.p, framed.len, steps[i], &kvs, &nk);
      if (rc) {
        printf("# step %zu: rc %d\n", steps[i], rc);
        good = 0;
      }
      if (steps[i] == 1) nk1 = nk;
      if (steps[i] == framed.len) nkall = nk;
    }
    ok(good, "RangeResponse scanned identically in chunks of 1..all bytes");
    ok(nkall == 1 && nk1 >= 1, "one record per chunk (%d for the whole body)", nkall);

    /* truncated: not clean */
    etcdscan_range s;
    memset(&s, 0, sizeof s);
    long c = feed_all(framed.p, framed.len - 3, &s);
    ok(c >= 0 && !etcdscan_clean(&s), "a body cut short is not a clean end");
    etcdscan_free(&s);

    /* empty message and two messages in a row */
    memset(&s, 0, sizeof s);
    const char two[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x18, 0x01};
    c = feed_all(two, sizeof two, &s);
    ok(c == (long)sizeof two && etcdscan_clean(&s) && s.messages == 2, "empty and tiny messages");
    etcdscan_free(&s);

    /* malformed: compressed flag, a field longer than the message */
    memset(&s, 0, sizeof s);
    const char comp[] = {1, 0, 0, 0, 1, 0x18};
    ok(feed_all(comp, sizeof comp, &s) == -1 && s.err, "compressed messages refused");
    etcdscan_free(&s);
    memset(&s, 0, sizeof s);
    const char over[] = {0, 0, 0, 0, 3, 0x12, 0x7f, 0x00, 0x00};
    ok(feed_all(over, sizeof over, &s) == -1 && s.err, "a KeyValue longer than its message refused");
    etcdscan_free(&s);
    memset(&s, 0, sizeof s);
    const char trunc_key[] = {0, 0, 0, 0, 1, 0x80};
    ok(feed_all(trunc_key, sizeof trunc_key, &s) == -1, "a varint cut by the message end refused");
    etcdscan_free(&s);

    pb_buf_free(&msg);
    pb_buf_free(&kvs);
    pb_buf_free(&framed);
  }
  return done_testing();
}
