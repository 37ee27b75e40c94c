/* etcd_out.c: etcdctl's output from etcd's protobuf bytes.  See etcd_out.h. */
#include "etcd_out.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "etcdscan.h"
#include "gofmt.h"
#include "pb.h"

/* --- output --- */

static int need(buf_t *b, size_t k) { return buf_reserve(b, k, 1 << 16); }

static int put(buf_t *b, const char *s, size_t n) {
  if (need(b, n)) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
  return 0;
}

#define PUTS(b, lit) put((b), (lit), sizeof(lit) - 1)

static int put_i64(buf_t *b, int64_t v) {
  if (need(b, 24)) return -1;
  b->len += gofmt_int(b->p + b->len, v);
  return 0;
}

static int put_u64(buf_t *b, uint64_t v) {
  if (need(b, 24)) return -1;
  b->len += (size_t)snprintf(b->p + b->len, 24, "%" PRIu64, v);
  return 0;
}

static int put_b64(buf_t *b, const char *s, size_t n) {
  size_t k = b64_encoded_len(n, 0);
  if (need(b, k + 3)) return -1;
  b->p[b->len++] = '"';
  b->len += b64_encode((const unsigned char *)s, n, b->p + b->len, 0);
  b->p[b->len++] = '"';
  b->p[b->len] = 0;
  return 0;
}

/* ,"name": before every member but the first of an object */
static int member(buf_t *b, int *first, const char *name) {
  if (need(b, strlen(name) + 4)) return -1;
  if (!*first) b->p[b->len++] = ',';
  *first = 0;
  b->p[b->len++] = '"';
  size_t k = strlen(name);
  memcpy(b->p + b->len, name, k);
  b->len += k;
  b->p[b->len++] = '"';
  b->p[b->len++] = ':';
  return 0;
}

/* --- messages --- */

typedef struct {
  const char *key, *value;
  size_t keylen, valuelen;
  int64_t create_revision, mod_revision, version, lease;
} kv_t;

static int read_kv(const char *p, size_t n, kv_t *kv) {
  memset(kv, 0, sizeof *kv);
  kv->key = kv->value = "";
  const char *end = p + n;
  pb_field f;
  int rc;
  while ((rc = pb_next(&p, end, &f)) == 1) {
    switch (f.field) {
    case 1:
    case 5:
      if (f.wiretype != PB_LEN) return -1;
      if (f.field == 1) kv->key = f.data, kv->keylen = f.len;
      else kv->value = f.data, kv->valuelen = f.len;
      break;
    case 2:
    case 3:
    case 4:
    case 6:
      if (f.wiretype != PB_VARINT) return -1;
      *(f.field == 2 ? &kv->create_revision : f.field == 3 ? &kv->mod_revision
        : f.field == 4 ? &kv->version : &kv->lease) = (int64_t)f.v;
      break;
    default: break;
    }
  }
  return rc < 0 ? -1 : 0;
}

static int json_bytes(buf_t *b, int *first, const char *name, const char *s, size_t n, int text) {
  if (n == 0) return 0;
  if (member(b, first, name)) return -1;
  return text ? gofmt_jquote(b, s, n, 1) : put_b64(b, s, n);
}

static int json_int(buf_t *b, int *first, const char *name, int64_t v) {
  if (v == 0) return 0;
  return member(b, first, name) || put_i64(b, v);
}

static int json_kv(buf_t *b, const kv_t *kv, int text) {
  int first = 1;
  return PUTS(b, "{") || json_bytes(b, &first, "key", kv->key, kv->keylen, text) ||
         json_int(b, &first, "create_revision", kv->create_revision) ||
         json_int(b, &first, "mod_revision", kv->mod_revision) || json_int(b, &first, "version", kv->version) ||
         json_bytes(b, &first, "value", kv->value, kv->valuelen, text) ||
         json_int(b, &first, "lease", kv->lease) || PUTS(b, "}");
}

int etcd_out_json_kv(buf_t *b, const char *p, size_t n, int text) {
  kv_t kv;
  return read_kv(p, n, &kv) || json_kv(b, &kv, text) ? -1 : 0;
}

int etcd_out_json_header(buf_t *b, const char *p, size_t n) {
  uint64_t v[5] = {0};
  const char *end = p + n;
  pb_field f;
  int rc;
  while ((rc = pb_next(&p, end, &f)) == 1) {
    if (f.field < 1 || f.field > 4) continue;
    if (f.wiretype != PB_VARINT) return -1;
    v[f.field] = f.v;
  }
  if (rc < 0) return -1;
  int first = 1;
  if (PUTS(b, "{")) return -1;
  if (v[1] && (member(b, &first, "cluster_id") || put_u64(b, v[1]))) return -1;
  if (v[2] && (member(b, &first, "member_id") || put_u64(b, v[2]))) return -1;
  if (v[3] && (member(b, &first, "revision") || put_i64(b, (int64_t)v[3]))) return -1;
  if (v[4] && (member(b, &first, "raft_term") || put_u64(b, v[4]))) return -1;
  return PUTS(b, "}");
}

/* --- get -w json, streamed --- */

/* the header field of a record's RangeResponse slice, or NULL */
static int record_header(const char *p, size_t n, const char **h, size_t *hn) {
  const char *end = p + n;
  pb_field f;
  int rc;
  *h = NULL;
  while ((rc = pb_next(&p, end, &f)) == 1)
    if (f.field == 1) {
      if (f.wiretype != PB_LEN) return -1;
      *h = f.data, *hn = f.len;
    }
  return rc < 0 ? -1 : 0;
}

static int range_start(etcd_out_range *r, buf_t *out, const char *h, size_t hn) {
  r->started = 1;
  if (PUTS(out, "{")) return -1;
  if (h && (PUTS(out, "\"header\":") || etcd_out_json_header(out, h, hn))) return -1;
  if (r->hold.len) {
    /* kvs came first: their text waits in hold, without its separator */
    if (put(out, h ? ",\"kvs\":[" : "\"kvs\":[", h ? 8 : 7) || put(out, r->hold.p, r->hold.len)) return -1;
    buf_free(&r->hold);
  }
  r->header = h != NULL;
  return 0;
}

static int range_kvs(etcd_out_range *r, buf_t *out, const char *p, size_t n) {
  const char *end = p + n;
  pb_field f;
  int rc;
  buf_t *dst = r->started ? out : &r->hold;
  while ((rc = pb_next(&p, end, &f)) == 1) {
    if (f.field != 2 || f.wiretype != PB_LEN) return -1;
    if (r->nkvs == 0 && r->started) {
      if (r->header ? PUTS(dst, ",\"kvs\":[") : PUTS(dst, "\"kvs\":[")) return -1;
    } else if (r->nkvs > 0 && PUTS(dst, ",")) {
      return -1;
    }
    if (etcd_out_json_kv(dst, f.data, f.len, r->text)) return -1;
    r->nkvs++;
  }
  return rc < 0 ? -1 : 0;
}

int etcd_out_range_feed(etcd_out_range *r, buf_t *out, const char *rec, size_t n) {
  if (n == 0) return -1;
  const char *p = rec + 1;
  n--;
  const char *h;
  size_t hn = 0;
  switch (rec[0]) {
  case ETCDSCAN_REC_KVS: return range_kvs(r, out, p, n);
  case ETCDSCAN_REC_HEADER:
    if (record_header(p, n, &h, &hn)) return -1;
    if (!r->started && r->pages == 0 && r->nkvs == 0) return range_start(r, out, h, hn);
    return 0;
  case ETCDSCAN_REC_END: {
    if (r->pages++ > 0) return 0;
    const char *end = p + n;
    pb_field f;
    int rc;
    h = NULL;
    while ((rc = pb_next(&p, end, &f)) == 1) {
      if (f.field == 1) {
        if (f.wiretype != PB_LEN) return -1;
        h = f.data, hn = f.len;
      } else if (f.field == 4) {
        if (f.wiretype != PB_VARINT) return -1;
        r->count = (int64_t)f.v;
      }
    }
    if (rc < 0) return -1;
    return r->started ? 0 : range_start(r, out, h, hn);
  }
  default: return -1;
  }
}

int etcd_out_range_finish(etcd_out_range *r, buf_t *out) {
  if (!r->started && range_start(r, out, NULL, 0)) return -1;
  if (r->nkvs > 0 && PUTS(out, "]")) return -1;
  /* count is left out when 0 (omitempty), as etcdctl's encoding/json does */
  if (r->count != 0) {
    if ((r->header || r->nkvs > 0) && PUTS(out, ",")) return -1;
    if (PUTS(out, "\"count\":") || put_i64(out, r->count)) return -1;
  }
  return PUTS(out, "}\n");
}

void etcd_out_range_free(etcd_out_range *r) { buf_free(&r->hold); }

/* --- watch --- */

static const char *const event_types[] = {"PUT", "DELETE"};

static int simple_kv(buf_t *b, const char *p, size_t n) {
  kv_t kv;
  if (p && read_kv(p, n, &kv)) return -1;
  if (!p) kv.keylen = kv.valuelen = 0, kv.key = kv.value = "";
  return put(b, kv.key, kv.keylen) || PUTS(b, "\n") || put(b, kv.value, kv.valuelen) || PUTS(b, "\n");
}

typedef struct {
  uint64_t type;
  const char *kv, *prev;
  size_t kvn, prevn;
} event_t;

static int read_event(const char *p, size_t n, event_t *ev) {
  memset(ev, 0, sizeof *ev);
  const char *end = p + n;
  pb_field f;
  int rc;
  while ((rc = pb_next(&p, end, &f)) == 1) {
    if (f.field == 1) {
      if (f.wiretype != PB_VARINT) return -1;
      ev->type = f.v;
    } else if (f.field == 2 || f.field == 3) {
      if (f.wiretype != PB_LEN) return -1;
      if (f.field == 2) ev->kv = f.data, ev->kvn = f.len;
      else ev->prev = f.data, ev->prevn = f.len;
    }
  }
  return rc < 0 ? -1 : 0;
}

/* kv.mod_revision of an event (0 without a kv) */
static int event_rev(const event_t *ev, int64_t *rev) {
  *rev = 0;
  if (!ev->kv) return 0;
  kv_t kv;
  if (read_kv(ev->kv, ev->kvn, &kv)) return -1;
  *rev = kv.mod_revision;
  return 0;
}

int etcd_out_watch(buf_t *b, const char *m, size_t n, int format, int64_t floor, etcd_out_watchinfo *wi) {
  memset(wi, 0, sizeof *wi);
  const char *p = m, *end = m + n, *h = NULL;
  size_t hn = 0;
  pb_field f;
  int rc;
  while ((rc = pb_next(&p, end, &f)) == 1) {
    switch (f.field) {
    case 1:
      if (f.wiretype != PB_LEN) return -1;
      h = f.data, hn = f.len;
      break;
    case 3:
    case 4:
    case 5:
      if (f.wiretype != PB_VARINT) return -1;
      if (f.field == 3) wi->created = f.v != 0;
      else if (f.field == 4) wi->canceled = f.v != 0;
      else wi->compact_revision = (int64_t)f.v;
      break;
    case 11:
      if (f.wiretype != PB_LEN) return -1;
      wi->events++;
      break;
    default: break;
    }
  }
  if (rc < 0) return -1;
  if (h) {
    const char *q = h, *qe = h + hn;
    while ((rc = pb_next(&q, qe, &f)) == 1)
      if (f.field == 3) {
        if (f.wiretype != PB_VARINT) return -1;
        wi->revision = (int64_t)f.v;
      }
    if (rc < 0) return -1;
  }
  if (wi->created || wi->canceled || wi->events == 0) return 0;
  size_t mark = b->len;
  p = m;
  while ((rc = pb_next(&p, end, &f)) == 1) {
    if (f.field != 11) continue;
    event_t ev;
    int64_t rev;
    if (read_event(f.data, f.len, &ev) || event_rev(&ev, &rev)) return -1;
    if (rev < floor) continue;
    if (format == ETCD_OUT_SIMPLE) {
      if (ev.type < 2) {
        if (put(b, event_types[ev.type], strlen(event_types[ev.type]))) return -1;
      } else if (put_u64(b, ev.type)) {
        return -1;
      }
      if (PUTS(b, "\n") || (ev.prev && simple_kv(b, ev.prev, ev.prevn)) || simple_kv(b, ev.kv, ev.kvn)) return -1;
    } else {
      if (wi->printed == 0) {
        if (PUTS(b, "{\"Header\":")) return -1;
        if (h ? etcd_out_json_header(b, h, hn) : PUTS(b, "{}")) return -1;
        if (PUTS(b, ",\"Events\":[")) return -1;
      } else if (PUTS(b, ",")) {
        return -1;
      }
      int first = 1;
      if (PUTS(b, "{")) return -1;
      if (ev.type && (member(b, &first, "type") || put_u64(b, ev.type))) return -1;
      if (ev.kv && (member(b, &first, "kv") || etcd_out_json_kv(b, ev.kv, ev.kvn, 0))) return -1;
      if (ev.prev && (member(b, &first, "prev_kv") || etcd_out_json_kv(b, ev.prev, ev.prevn, 0))) return -1;
      if (PUTS(b, "}")) return -1;
    }
    wi->printed++;
    if (rev > wi->max_rev) wi->max_rev = rev;
  }
  if (rc < 0) {
    b->len = mark;
    return -1;
  }
  if (format == ETCD_OUT_JSON && wi->printed > 0 &&
      PUTS(b, "],\"CompactRevision\":0,\"Canceled\":false,\"Created\":false}\n"))
    return -1;
  return 0;
}
