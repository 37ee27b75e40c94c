/* tests/unit/etcd_out.c: etcdctl's output from protobuf bytes (etcd_out.c):
 * KeyValue and header JSON, the streamed get -w json in both record orders,
 * and watch's simple and json text with the reconnect floor.  The texts
 * compared with etcdctl itself are in tests/etcd/ctl.t and watch-cmd.t. */
#include "etcd_out.h"
#include "etcdscan.h"
#include "pb.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"

static void kv(pb_buf *b, const char *key, const char *value, int64_t cr, int64_t mr, int64_t ver, int64_t lease) {
  if (*key) pb_put_bytes(b, 1, key, strlen(key));
  if (cr) pb_put_uint(b, 2, (uint64_t)cr);
  if (mr) pb_put_uint(b, 3, (uint64_t)mr);
  if (ver) pb_put_uint(b, 4, (uint64_t)ver);
  if (*value) pb_put_bytes(b, 5, value, strlen(value));
  if (lease) pb_put_uint(b, 6, (uint64_t)lease);
}

static void header(pb_buf *b, uint64_t cluster, uint64_t member, int64_t rev, uint64_t term) {
  pb_put_uint(b, 1, cluster);
  pb_put_uint(b, 2, member);
  pb_put_uint(b, 3, (uint64_t)rev);
  pb_put_uint(b, 4, term);
}

/* a record: its type byte, then field `field` holding msg */
static void record(pb_buf *r, char type, unsigned field, const pb_buf *msg) {
  r->len = 0;
  pb_put_raw(r, &type, 1);
  pb_put_bytes(r, field, msg->p, msg->len);
}

static int text_is(buf_t *b, const char *want) {
  int good = b->len == strlen(want) && memcmp(b->p ? b->p : "", want, b->len) == 0;
  if (!good) printf("# got  %.*s\n# want %s\n", (int)b->len, b->p ? b->p : "", want);
  b->len = 0;
  return good;
}

#define HDR "{\"cluster_id\":14841639068965178418,\"member_id\":10276657743932975437,\"revision\":7,\"raft_term\":2}"

int main(void) {
  buf_t out = {0};
  pb_buf m = {0}, h = {0}, rec = {0};

  kv(&m, "/a", "v1", 2, 3, 1, 0);
  ok(etcd_out_json_kv(&out, m.p, m.len, 0) == 0 &&
         text_is(&out, "{\"key\":\"L2E=\",\"create_revision\":2,\"mod_revision\":3,\"version\":1,\"value\":\"djE=\"}"),
     "KeyValue as etcdctl -w json (base64)");
  ok(etcd_out_json_kv(&out, m.p, m.len, 1) == 0 &&
         text_is(&out, "{\"key\":\"/a\",\"create_revision\":2,\"mod_revision\":3,\"version\":1,\"value\":\"v1\"}"),
     "KeyValue with --decode (text)");
  m.len = 0;
  kv(&m, "/k<&>", "", 0, 9, 0, 0x7fffffffffffffffLL);
  ok(etcd_out_json_kv(&out, m.p, m.len, 1) == 0 &&
         text_is(&out, "{\"key\":\"/k\\u003c\\u0026\\u003e\",\"mod_revision\":9,\"lease\":9223372036854775807}"),
     "zero fields left out, HTML escaped as Go does");
  ok(etcd_out_json_kv(&out, "\x0a\x05/a", 3, 0) == -1, "a truncated KeyValue is malformed");
  ok(etcd_out_json_kv(&out, "\x10\x01\x10", 3, 0) == -1, "a truncated varint is malformed");

  header(&h, 14841639068965178418ULL, 10276657743932975437ULL, 7, 2);
  ok(etcd_out_json_header(&out, h.p, h.len) == 0 && text_is(&out, HDR), "header with IDs above 2^63 unquoted");
  ok(etcd_out_json_header(&out, "", 0) == 0 && text_is(&out, "{}"), "an empty header");

  /* get -w json: header first (etcd's order) */
  {
    etcd_out_range r = {0};
    record(&rec, ETCDSCAN_REC_HEADER, 1, &h);
    int rc = etcd_out_range_feed(&r, &out, rec.p, rec.len);
    ok(rc == 0 && text_is(&out, "{\"header\":" HDR), "the header is written as it arrives");
    m.len = 0;
    kv(&m, "/a", "v1", 2, 3, 1, 0);
    pb_buf two = {0};
    pb_put_raw(&two, "K", 1);
    pb_put_bytes(&two, 2, m.p, m.len);
    pb_put_bytes(&two, 2, m.p, m.len);
    rc = etcd_out_range_feed(&r, &out, two.p, two.len);
    const char *kvt = "{\"key\":\"L2E=\",\"create_revision\":2,\"mod_revision\":3,\"version\":1,\"value\":\"djE=\"}";
    char want[512];
    snprintf(want, sizeof want, ",\"kvs\":[%s,%s", kvt, kvt);
    ok(rc == 0 && text_is(&out, want), "kvs follow the header");
    rc = etcd_out_range_feed(&r, &out, two.p, 1 + (two.len - 1) / 2);
    snprintf(want, sizeof want, ",%s", kvt);
    ok(rc == 0 && text_is(&out, want), "more kvs after a comma");
    pb_buf end = {0};
    pb_put_raw(&end, "E", 1);
    pb_put_bytes(&end, 1, h.p, h.len);
    pb_put_uint(&end, 4, 3);
    ok(etcd_out_range_feed(&r, &out, end.p, end.len) == 0 && out.len == 0, "the end record writes nothing");
    ok(etcd_out_range_finish(&r, &out) == 0 && text_is(&out, "],\"count\":3}\n"), "finish: ] and the count");
    etcd_out_range_free(&r);

    /* kvs before any header: held until the end record */
    etcd_out_range r2 = {0};
    ok(etcd_out_range_feed(&r2, &out, two.p, 1 + (two.len - 1) / 2) == 0 && out.len == 0, "kvs before a header are held");
    ok(etcd_out_range_feed(&r2, &out, end.p, end.len) == 0, "then the end record");
    ok(etcd_out_range_finish(&r2, &out) == 0, "finish");
    snprintf(want, sizeof want, "{\"header\":" HDR ",\"kvs\":[%s],\"count\":3}\n", kvt);
    ok(text_is(&out, want), "the same document when the header comes last");
    etcd_out_range_free(&r2);

    /* nothing at all: no header, no kvs, count 0 */
    etcd_out_range r3 = {0};
    ok(etcd_out_range_feed(&r3, &out, "E", 1) == 0 && etcd_out_range_finish(&r3, &out) == 0 && text_is(&out, "{}\n"),
       "an empty response is {}");
    etcd_out_range_free(&r3);
    etcd_out_range r4 = {0};
    ok(etcd_out_range_feed(&r4, &out, "X", 1) == -1, "an unknown record is refused");
    pb_buf_free(&two);
    pb_buf_free(&end);
  }

  /* watch */
  {
    pb_buf w = {0}, ev = {0}, k1 = {0}, k2 = {0};
    pb_put_bytes(&w, 1, h.p, h.len);
    kv(&k1, "/w/a", "one", 5, 5, 1, 0);
    pb_put_bytes(&ev, 2, k1.p, k1.len);
    pb_put_bytes(&w, 11, ev.p, ev.len);
    ev.len = 0;
    kv(&k2, "/w/a", "", 0, 6, 0, 0);
    pb_put_uint(&ev, 1, 1);
    pb_put_bytes(&ev, 2, k2.p, k2.len);
    pb_put_bytes(&ev, 3, k1.p, k1.len);
    pb_put_bytes(&w, 11, ev.p, ev.len);
    etcd_out_watchinfo wi;
    ok(etcd_out_watch(&out, w.p, w.len, ETCD_OUT_SIMPLE, 0, &wi) == 0 && wi.events == 2 && wi.printed == 2 &&
           wi.max_rev == 6 && wi.revision == 7 && text_is(&out, "PUT\n/w/a\none\nDELETE\n/w/a\none\n/w/a\n\n"),
       "watch simple: PUT and DELETE with its prev_kv first");
    ok(etcd_out_watch(&out, w.p, w.len, ETCD_OUT_JSON, 6, &wi) == 0 && wi.printed == 1 && wi.max_rev == 6 &&
           text_is(&out, "{\"Header\":" HDR ",\"Events\":[{\"type\":1,\"kv\":{\"key\":\"L3cvYQ==\",\"mod_revision\":6},"
                         "\"prev_kv\":{\"key\":\"L3cvYQ==\",\"create_revision\":5,\"mod_revision\":5,\"version\":1,"
                         "\"value\":\"b25l\"}}],\"CompactRevision\":0,\"Canceled\":false,\"Created\":false}\n"),
       "watch json: events below the floor are left out");
    ok(etcd_out_watch(&out, w.p, w.len, ETCD_OUT_JSON, 7, &wi) == 0 && wi.printed == 0 && out.len == 0,
       "nothing when every event is below the floor");
    pb_buf c = {0};
    pb_put_bytes(&c, 1, h.p, h.len);
    pb_put_uint(&c, 3, 1);
    ok(etcd_out_watch(&out, c.p, c.len, ETCD_OUT_SIMPLE, 0, &wi) == 0 && wi.created && out.len == 0,
       "a created response is reported, not printed");
    ok(etcd_out_watch(&out, "\x5a\x05", 2, ETCD_OUT_SIMPLE, 0, &wi) == -1, "a truncated event is malformed");
    pb_buf_free(&w);
    pb_buf_free(&ev);
    pb_buf_free(&k1);
    pb_buf_free(&k2);
    pb_buf_free(&c);
  }
  pb_buf_free(&m);
  pb_buf_free(&h);
  pb_buf_free(&rec);
  buf_free(&out);
  return done_testing();
}
