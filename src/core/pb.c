/* pb.c: protobuf wire codec and the etcd v3 message schemas.  See pb.h. */
#include "pb.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- writing --- */

static int grow(pb_buf *b, size_t n) {
  if (b->oom) return -1;
  if (b->len + n <= b->cap) return 0;
  size_t c = b->cap ? b->cap : 64;
  while (c < b->len + n) c *= 2;
  char *p = realloc(b->p, c);
  if (!p) {
    b->oom = 1;
    return -1;
  }
  b->p = p;
  b->cap = c;
  return 0;
}

int pb_put_raw(pb_buf *b, const void *d, size_t n) {
  if (grow(b, n)) return -1;
  if (n) memcpy(b->p + b->len, d, n);
  b->len += n;
  return 0;
}

int pb_put_varint(pb_buf *b, uint64_t v) {
  if (grow(b, 10)) return -1;
  unsigned char *o = (unsigned char *)b->p + b->len;
  size_t i = 0;
  while (v >= 0x80) {
    o[i++] = (unsigned char)(v | 0x80);
    v >>= 7;
  }
  o[i++] = (unsigned char)v;
  b->len += i;
  return 0;
}

int pb_put_key(pb_buf *b, unsigned field, unsigned wiretype) {
  return pb_put_varint(b, (uint64_t)field << 3 | wiretype);
}

int pb_put_uint(pb_buf *b, unsigned field, uint64_t v) {
  if (pb_put_key(b, field, PB_VARINT)) return -1;
  return pb_put_varint(b, v);
}

int pb_put_bytes(pb_buf *b, unsigned field, const void *d, size_t n) {
  if (pb_put_key(b, field, PB_LEN) || pb_put_varint(b, n)) return -1;
  return pb_put_raw(b, d, n);
}

void pb_buf_free(pb_buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* --- reading --- */

int pb_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v) {
  const unsigned char *q = *p;
  uint64_t r = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (q >= end) return 0;
    unsigned char c = *q++;
    r |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *v = r;
      *p = q;
      return 1;
    }
    if (shift == 63) return -1;
  }
  return -1;
}

int pb_next(const char **pp, const char *end, pb_field *f) {
  const unsigned char *p = (const unsigned char *)*pp, *e = (const unsigned char *)end;
  if (p >= e) return 0;
  uint64_t key;
  if (pb_get_varint(&p, e, &key) != 1) return -1;
  f->field = (unsigned)(key >> 3);
  f->wiretype = (int)(key & 7);
  f->data = NULL;
  f->len = 0;
  f->v = 0;
  if (f->field == 0 || key >> 32) return -1;
  switch (f->wiretype) {
  case PB_VARINT:
    if (pb_get_varint(&p, e, &f->v) != 1) return -1;
    break;
  case PB_FIXED64:
  case PB_FIXED32: {
    size_t n = f->wiretype == PB_FIXED64 ? 8 : 4;
    if ((size_t)(e - p) < n) return -1;
    for (size_t i = 0; i < n; i++) f->v |= (uint64_t)p[i] << (8 * i);
    p += n;
    break;
  }
  case PB_LEN: {
    uint64_t n;
    if (pb_get_varint(&p, e, &n) != 1 || n > (uint64_t)(e - p)) return -1;
    f->data = (const char *)p;
    f->len = (size_t)n;
    p += n;
    break;
  }
  default: return -1;
  }
  *pp = (const char *)p;
  return 1;
}

/* --- schemas (etcd api/etcdserverpb/rpc.proto, api/mvccpb/kv.proto) --- */

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MSG(name, fields) const pb_msgdef name = {#name, fields, N(fields)}

static const char *const sort_order[] = {"NONE", "ASCEND", "DESCEND", NULL};
static const char *const sort_target[] = {"KEY", "VERSION", "CREATE", "MOD", "VALUE", NULL};
static const char *const cmp_result[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL", NULL};
static const char *const cmp_target[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE", NULL};
static const char *const event_type[] = {"PUT", "DELETE", NULL};
static const char *const watch_filter[] = {"NOPUT", "NODELETE", NULL};

static const pb_msgdef ResponseHeader, KeyValue, RangeRequest, RangeResponse, PutRequest, PutResponse,
    DeleteRangeRequest, DeleteRangeResponse, Compare, RequestOp, ResponseOp, TxnRequest, TxnResponse,
    CompactionRequest, CompactionResponse, Event, WatchRequest, WatchCreateRequest, WatchCancelRequest,
    WatchProgressRequest, WatchResponse;

static const pb_fielddef f_header[] = {
    {"cluster_id", 1, PB_T_ID, 0, NULL, NULL},
    {"member_id", 2, PB_T_ID, 0, NULL, NULL},
    {"revision", 3, PB_T_INT, 0, NULL, NULL},
    {"raft_term", 4, PB_T_UINT, 0, NULL, NULL},
};
static MSG(ResponseHeader, f_header);

static const pb_fielddef f_kv[] = {
    {"key", 1, PB_T_BYTES, 0, NULL, NULL},
    {"create_revision", 2, PB_T_INT, 0, NULL, NULL},
    {"mod_revision", 3, PB_T_INT, 0, NULL, NULL},
    {"version", 4, PB_T_INT, 0, NULL, NULL},
    {"value", 5, PB_T_BYTES, 0, NULL, NULL},
    {"lease", 6, PB_T_INT, 0, NULL, NULL},
};
static MSG(KeyValue, f_kv);

static const pb_fielddef f_range_req[] = {
    {"key", 1, PB_T_BYTES, 0, NULL, NULL},
    {"range_end", 2, PB_T_BYTES, 0, NULL, NULL},
    {"limit", 3, PB_T_INT, 0, NULL, NULL},
    {"revision", 4, PB_T_INT, 0, NULL, NULL},
    {"sort_order", 5, PB_T_ENUM, 0, NULL, sort_order},
    {"sort_target", 6, PB_T_ENUM, 0, NULL, sort_target},
    {"serializable", 7, PB_T_BOOL, 0, NULL, NULL},
    {"keys_only", 8, PB_T_BOOL, 0, NULL, NULL},
    {"count_only", 9, PB_T_BOOL, 0, NULL, NULL},
    {"min_mod_revision", 10, PB_T_INT, 0, NULL, NULL},
    {"max_mod_revision", 11, PB_T_INT, 0, NULL, NULL},
    {"min_create_revision", 12, PB_T_INT, 0, NULL, NULL},
    {"max_create_revision", 13, PB_T_INT, 0, NULL, NULL},
};
static MSG(RangeRequest, f_range_req);

static const pb_fielddef f_range_resp[] = {
    {"header", 1, PB_T_MSG, 0, &ResponseHeader, NULL},
    {"kvs", 2, PB_T_MSG, 1, &KeyValue, NULL},
    {"more", 3, PB_T_BOOL, 0, NULL, NULL},
    {"count", 4, PB_T_INT, 0, NULL, NULL},
};
static MSG(RangeResponse, f_range_resp);

static const pb_fielddef f_put_req[] = {
    {"key", 1, PB_T_BYTES, 0, NULL, NULL},
    {"value", 2, PB_T_BYTES, 0, NULL, NULL},
    {"lease", 3, PB_T_INT, 0, NULL, NULL},
    {"prev_kv", 4, PB_T_BOOL, 0, NULL, NULL},
    {"ignore_value", 5, PB_T_BOOL, 0, NULL, NULL},
    {"ignore_lease", 6, PB_T_BOOL, 0, NULL, NULL},
};
static MSG(PutRequest, f_put_req);

static const pb_fielddef f_put_resp[] = {
    {"header", 1, PB_T_MSG, 0, &ResponseHeader, NULL},
    {"prev_kv", 2, PB_T_MSG, 0, &KeyValue, NULL},
};
static MSG(PutResponse, f_put_resp);

static const pb_fielddef f_del_req[] = {
    {"key", 1, PB_T_BYTES, 0, NULL, NULL},
    {"range_end", 2, PB_T_BYTES, 0, NULL, NULL},
    {"prev_kv", 3, PB_T_BOOL, 0, NULL, NULL},
};
static MSG(DeleteRangeRequest, f_del_req);

static const pb_fielddef f_del_resp[] = {
    {"header", 1, PB_T_MSG, 0, &ResponseHeader, NULL},
    {"deleted", 2, PB_T_INT, 0, NULL, NULL},
    {"prev_kvs", 3, PB_T_MSG, 1, &KeyValue, NULL},
};
static MSG(DeleteRangeResponse, f_del_resp);

static const pb_fielddef f_compare[] = {
    {"result", 1, PB_T_ENUM, 0, NULL, cmp_result},
    {"target", 2, PB_T_ENUM, 0, NULL, cmp_target},
    {"key", 3, PB_T_BYTES, 0, NULL, NULL},
    {"version", 4, PB_T_INT, 0, NULL, NULL},
    {"create_revision", 5, PB_T_INT, 0, NULL, NULL},
    {"mod_revision", 6, PB_T_INT, 0, NULL, NULL},
    {"value", 7, PB_T_BYTES, 0, NULL, NULL},
    {"lease", 8, PB_T_INT, 0, NULL, NULL},
    {"range_end", 64, PB_T_BYTES, 0, NULL, NULL},
};
static MSG(Compare, f_compare);

static const pb_fielddef f_req_op[] = {
    {"request_range", 1, PB_T_MSG, 0, &RangeRequest, NULL},
    {"request_put", 2, PB_T_MSG, 0, &PutRequest, NULL},
    {"request_delete_range", 3, PB_T_MSG, 0, &DeleteRangeRequest, NULL},
    {"request_txn", 4, PB_T_MSG, 0, &TxnRequest, NULL},
};
static MSG(RequestOp, f_req_op);

static const pb_fielddef f_resp_op[] = {
    {"response_range", 1, PB_T_MSG, 0, &RangeResponse, NULL},
    {"response_put", 2, PB_T_MSG, 0, &PutResponse, NULL},
    {"response_delete_range", 3, PB_T_MSG, 0, &DeleteRangeResponse, NULL},
    {"response_txn", 4, PB_T_MSG, 0, &TxnResponse, NULL},
};
static MSG(ResponseOp, f_resp_op);

static const pb_fielddef f_txn_req[] = {
    {"compare", 1, PB_T_MSG, 1, &Compare, NULL},
    {"success", 2, PB_T_MSG, 1, &RequestOp, NULL},
    {"failure", 3, PB_T_MSG, 1, &RequestOp, NULL},
};
static MSG(TxnRequest, f_txn_req);

static const pb_fielddef f_txn_resp[] = {
    {"header", 1, PB_T_MSG, 0, &ResponseHeader, NULL},
    {"succeeded", 2, PB_T_BOOL, 0, NULL, NULL},
    {"responses", 3, PB_T_MSG, 1, &ResponseOp, NULL},
};
static MSG(TxnResponse, f_txn_resp);

static const pb_fielddef f_compact_req[] = {
    {"revision", 1, PB_T_INT, 0, NULL, NULL},
    {"physical", 2, PB_T_BOOL, 0, NULL, NULL},
};
static MSG(CompactionRequest, f_compact_req);

static const pb_fielddef f_compact_resp[] = {
    {"header", 1, PB_T_MSG, 0, &ResponseHeader, NULL},
};
static MSG(CompactionResponse, f_compact_resp);

static const pb_fielddef f_event[] = {
    {"type", 1, PB_T_ENUM, 0, NULL, event_type},
    {"kv", 2, PB_T_MSG, 0, &KeyValue, NULL},
    {"prev_kv", 3, PB_T_MSG, 0, &KeyValue, NULL},
};
static MSG(Event, f_event);

static const pb_fielddef f_watch_create[] = {
    {"key", 1, PB_T_BYTES, 0, NULL, NULL},
    {"range_end", 2, PB_T_BYTES, 0, NULL, NULL},
    {"start_revision", 3, PB_T_INT, 0, NULL, NULL},
    {"progress_notify", 4, PB_T_BOOL, 0, NULL, NULL},
    {"filters", 5, PB_T_ENUM, 1, NULL, watch_filter},
    {"prev_kv", 6, PB_T_BOOL, 0, NULL, NULL},
    {"watch_id", 7, PB_T_INT, 0, NULL, NULL},
    {"fragment", 8, PB_T_BOOL, 0, NULL, NULL},
};
static MSG(WatchCreateRequest, f_watch_create);

static const pb_fielddef f_watch_cancel[] = {
    {"watch_id", 1, PB_T_INT, 0, NULL, NULL},
};
static MSG(WatchCancelRequest, f_watch_cancel);

static const pb_fielddef f_watch_progress[] = {
    {"unused", 15, PB_T_INT, 0, NULL, NULL}, /* an empty message */
};
static MSG(WatchProgressRequest, f_watch_progress);

static const pb_fielddef f_watch_req[] = {
    {"create_request", 1, PB_T_MSG, 0, &WatchCreateRequest, NULL},
    {"cancel_request", 2, PB_T_MSG, 0, &WatchCancelRequest, NULL},
    {"progress_request", 3, PB_T_MSG, 0, &WatchProgressRequest, NULL},
};
static MSG(WatchRequest, f_watch_req);

static const pb_fielddef f_watch_resp[] = {
    {"header", 1, PB_T_MSG, 0, &ResponseHeader, NULL},
    {"watch_id", 2, PB_T_INT, 0, NULL, NULL},
    {"created", 3, PB_T_BOOL, 0, NULL, NULL},
    {"canceled", 4, PB_T_BOOL, 0, NULL, NULL},
    {"compact_revision", 5, PB_T_INT, 0, NULL, NULL},
    {"cancel_reason", 6, PB_T_BYTES, 0, NULL, NULL},
    {"fragment", 7, PB_T_BOOL, 0, NULL, NULL},
    {"events", 11, PB_T_MSG, 1, &Event, NULL},
};
static MSG(WatchResponse, f_watch_resp);

static const pb_msgdef *const all_msgs[] = {
    &ResponseHeader, &KeyValue, &RangeRequest, &RangeResponse, &PutRequest, &PutResponse,
    &DeleteRangeRequest, &DeleteRangeResponse, &Compare, &RequestOp, &ResponseOp, &TxnRequest,
    &TxnResponse, &CompactionRequest, &CompactionResponse, &Event, &WatchRequest, &WatchCreateRequest,
    &WatchCancelRequest, &WatchProgressRequest, &WatchResponse,
};

const pb_msgdef *pb_msg(const char *name) {
  for (size_t i = 0; i < N(all_msgs); i++)
    if (strcmp(all_msgs[i]->name, name) == 0) return all_msgs[i];
  return NULL;
}

const pb_fielddef *pb_field_by_num(const pb_msgdef *m, unsigned num) {
  for (size_t i = 0; i < m->nfields; i++)
    if (m->fields[i].num == num) return &m->fields[i];
  return NULL;
}

const pb_fielddef *pb_field_by_name(const pb_msgdef *m, const char *name) {
  for (size_t i = 0; i < m->nfields; i++)
    if (strcmp(m->fields[i].name, name) == 0) return &m->fields[i];
  return NULL;
}

int pb_enum_value(const pb_fielddef *f, const char *name) {
  if (!f->enums) return -1;
  for (int i = 0; f->enums[i]; i++)
    if (strcasecmp(f->enums[i], name) == 0) return i;
  return -1;
}
