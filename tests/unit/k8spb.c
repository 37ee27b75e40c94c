/* Unit tests of the Kubernetes protobuf decoder (src/core/k8spb.c) on
 * canned values built here with pb.h's writers; the byte-for-byte
 * comparison with the API server's own JSON is tests/k8s/decode.t. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8spb.h"
#include "tap.h"

/* "k8s\0" + runtime.Unknown{typeMeta{av, kind}, raw, "", ""} */
static pb_buf envelope(const char *av, const char *kind, const pb_buf *raw) {
  pb_buf tm = {0}, out = {0};
  pb_put_bytes(&tm, 1, av, strlen(av));
  pb_put_bytes(&tm, 2, kind, strlen(kind));
  pb_put_raw(&out, "k8s\0", 4);
  pb_put_bytes(&out, 1, tm.p, tm.len);
  pb_put_bytes(&out, 2, raw->p ? raw->p : "", raw->len);
  pb_put_bytes(&out, 3, "", 0);
  pb_put_bytes(&out, 4, "", 0);
  pb_buf_free(&tm);
  return out;
}

static void put_msg(pb_buf *b, unsigned num, pb_buf *m) {
  pb_put_bytes(b, num, m->p ? m->p : "", m->len);
  pb_buf_free(m);
}

static void put_str(pb_buf *b, unsigned num, const char *s) { pb_put_bytes(b, num, s, strlen(s)); }

static void map_entry(pb_buf *b, unsigned num, const char *k, const char *v, size_t vlen) {
  pb_buf e = {0};
  put_str(&e, 1, k);
  pb_put_bytes(&e, 2, v, vlen);
  put_msg(b, num, &e);
}

/* decode v; returns the JSON (static) or the error message */
static const char *decode(pb_buf *v, const char *rv, k8spb_err *err) {
  static pb_buf out;
  pb_buf_free(&out);
  if (k8spb_json(v->p, v->len, rv, &out, err)) return err->message;
  pb_put_raw(&out, "", 1);
  return out.p;
}

int main(void) {
  k8spb_err err;

  /* a ConfigMap: metadata (Time at seconds), data map out of order, a
   * binaryData value as base64, Go's escaping, the JSON order (immutable is
   * field 4 but declared before data) */
  pb_buf meta = {0}, ts = {0}, raw = {0};
  put_str(&meta, 1, "cm");
  put_str(&meta, 3, "default");
  put_str(&meta, 5, "u-1");
  pb_put_uint(&ts, 1, 1764489600); /* 2025-11-30T08:00:00Z */
  pb_put_uint(&ts, 2, 0);
  put_msg(&meta, 8, &ts);
  put_msg(&raw, 1, &meta);
  map_entry(&raw, 2, "z", "<a&b>\xe2\x80\xa8\xff", 9);
  map_entry(&raw, 2, "a", "1", 1);
  map_entry(&raw, 3, "bin", "\x00\x01\x02", 3);
  pb_put_uint(&raw, 4, 1);
  pb_buf v = envelope("v1", "ConfigMap", &raw);
  is_str(decode(&v, "42", &err),
         "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"cm\",\"namespace\":\"default\","
         "\"uid\":\"u-1\",\"resourceVersion\":\"42\",\"creationTimestamp\":\"2025-11-30T08:00:00Z\"},"
         "\"immutable\":true,\"data\":{\"a\":\"1\",\"z\":\"\\u003ca\\u0026b\\u003e\\u2028\\ufffd\"},"
         "\"binaryData\":{\"bin\":\"AAEC\"}}",
         "ConfigMap: declaration order, sorted map, Go escaping, base64, resourceVersion from the revision");
  is_str(err.kind_name, "ConfigMap", "the envelope's kind is reported");

  /* truncated anywhere: an error with an offset inside the value, never a crash */
  int all_err = 1;
  size_t worst = 0;
  for (size_t n = 0; n < v.len; n++) {
    pb_buf out = {0};
    k8spb_err e2;
    int rc = k8spb_json(v.p, n, NULL, &out, &e2);
    /* a cut exactly between fields can still be a valid (shorter) value;
     * one before the typeMeta leaves a value of no type */
    if (rc && e2.kind != K8SPB_UNKNOWNTYPE && (e2.kind != K8SPB_CORRUPT || e2.offset > n)) all_err = 0;
    if (rc && e2.offset > worst) worst = e2.offset;
    pb_buf_free(&out);
  }
  ok(all_err && worst > 0, "every truncation is corrupt with an offset within the input (last %zu)", worst);
  pb_buf_free(&raw);
  pb_buf cut = {v.p, 30, 0, 0};
  ok(k8spb_json(cut.p, cut.len, NULL, &(pb_buf){0}, &err) && err.kind == K8SPB_CORRUPT &&
         strstr(err.message, "at offset "),
     "a truncated value says where: %s", err.message);
  pb_buf_free(&v);

  /* a ClusterRole without rules: "rules":null (not omitempty); a zero
   * creationTimestamp is omitted (omitzero); unknown field 99 kept */
  pb_buf cr = {0}, m2 = {0};
  put_str(&m2, 1, "view");
  put_msg(&cr, 1, &m2);
  pb_put_uint(&cr, 99, 5);
  v = envelope("rbac.authorization.k8s.io/v1", "ClusterRole", &cr);
  is_str(decode(&v, NULL, &err),
         "{\"kind\":\"ClusterRole\",\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"metadata\":{\"name\":\"view\"},"
         "\"rules\":null,\"#99\":5}",
         "ClusterRole: nil rules as null, no creationTimestamp, unknown field kept by number");
  pb_buf_free(&v);
  pb_buf_free(&cr);

  /* a Namespace with nothing: status and spec always written */
  pb_buf empty = {0};
  v = envelope("v1", "Namespace", &empty);
  is_str(decode(&v, NULL, &err), "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{},\"spec\":{},\"status\":{}}",
         "non-pointer structs are always written");
  pb_buf_free(&v);

  /* an unknown type */
  v = envelope("example.com/v1", "Widget", &empty);
  ok(k8spb_json(v.p, v.len, NULL, &(pb_buf){0}, &err) && err.kind == K8SPB_UNKNOWNTYPE &&
         !strcmp(err.api_version, "example.com/v1"),
     "an unknown type is unknowntype: %s", err.message);
  pb_buf_free(&v);
  ok(k8spb_json("{}", 2, NULL, &(pb_buf){0}, &err) && err.kind == K8SPB_CORRUPT && err.offset == 0,
     "no magic: corrupt at offset 0");

  /* a wrong wire type for a known field */
  pb_buf bad = {0};
  pb_put_uint(&bad, 1, 7); /* metadata as a varint */
  v = envelope("v1", "ConfigMap", &bad);
  ok(k8spb_json(v.p, v.len, NULL, &(pb_buf){0}, &err) && err.kind == K8SPB_CORRUPT && strstr(err.message, "wire type"),
     "a field with the wrong wire type: %s", err.message);
  pb_buf_free(&v);
  pb_buf_free(&bad);

  /* helpers: time.Duration.String, RFC 3339 (MicroTime), compact JSON */
  char t[48];
  k8spb_duration(0, t);
  is_str(t, "0s", "duration 0s");
  k8spb_duration(3600000000000LL, t);
  is_str(t, "1h0m0s", "duration 1h0m0s");
  k8spb_duration(1500000000LL, t);
  is_str(t, "1.5s", "duration 1.5s");
  k8spb_duration(1500, t);
  is_str(t, "1.5\xc2\xb5s", "duration 1.5us with the micro sign");
  k8spb_duration(-90000000000LL, t);
  is_str(t, "-1m30s", "duration -1m30s");
  t[k8spb_rfc3339(0, 123456789, 1, t)] = 0;
  is_str(t, "1970-01-01T00:00:00.123456Z", "MicroTime keeps 6 decimals");
  t[k8spb_rfc3339(-1, 0, 0, t)] = 0;
  is_str(t, "1969-12-31T23:59:59Z", "a time before 1970");
  pb_buf cj = {0};
  k8spb_put_compact(&cj, "{ \"a\" : [1, \"<x> \\\"y\"] }", 24);
  pb_put_raw(&cj, "", 1);
  is_str(cj.p, "{\"a\":[1,\"\\u003cx\\u003e \\\"y\"]}", "raw JSON compacted with <> escaped");
  pb_buf_free(&cj);
  decode(&empty, NULL, &err); /* frees the static buffer */
  return done_testing();
}
