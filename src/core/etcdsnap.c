/* etcdsnap.c: etcd's mvcc key space over a bbolt file (see etcdsnap.h). */
#include "etcdsnap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb.h"

/* the keys, copied out of the map so that sorting and key-only output never
 * touch the file's pages: blocks that never move */
typedef struct block {
  struct block *next;
  size_t used, cap;
  uint8_t data[];
} block;

struct etcdsnap {
  bbolt_db *db;
  etcdsnap_info info;
  etcdsnap_kv *kvs;
  size_t n;
  block *keys;
};

static const uint8_t *keep_key(etcdsnap *s, const uint8_t *k, size_t n) {
  block *b = s->keys;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > ((size_t)1 << 20) ? n : ((size_t)1 << 20);
    b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = s->keys, b->used = 0, b->cap = cap;
    s->keys = b;
  }
  uint8_t *p = b->data + b->used;
  if (n) memcpy(p, k, n);
  b->used += n;
  return p;
}

static uint64_t be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}

static void fail(bbolt_err *e, int code, uint64_t page, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(bbolt_err *e, int code, uint64_t page, const char *fmt, ...) {
  if (!e) return;
  e->code = code;
  e->page = page;
  e->offset = -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
}

/* --- the index: user key -> newest revision, open addressing --- */

typedef struct {
  etcdsnap_kv kv; /* key in the key blocks, value in the map */
  int tomb;
} entry;

typedef struct {
  entry *ents;
  size_t n, cap;
  uint32_t *slots; /* index + 1; 0 = empty */
  size_t nslots;
} index_t;

static uint64_t hash(const uint8_t *p, size_t n) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

static int idx_grow(index_t *x) {
  size_t ns = x->nslots ? x->nslots * 2 : 1024;
  uint32_t *sl = calloc(ns, sizeof *sl);
  if (!sl) return -1;
  for (size_t i = 0; i < x->n; i++) {
    size_t h = (size_t)hash(x->ents[i].kv.key, x->ents[i].kv.klen) & (ns - 1);
    while (sl[h]) h = (h + 1) & (ns - 1);
    sl[h] = (uint32_t)(i + 1);
  }
  free(x->slots);
  x->slots = sl;
  x->nslots = ns;
  return 0;
}

static int idx_put(etcdsnap *s, index_t *x, const etcdsnap_kv *kv, int tomb) {
  if ((x->n + 1) * 2 > x->nslots && idx_grow(x)) return -1;
  size_t h = (size_t)hash(kv->key, kv->klen) & (x->nslots - 1);
  while (x->slots[h]) {
    entry *en = &x->ents[x->slots[h] - 1];
    if (en->kv.klen == kv->klen && memcmp(en->kv.key, kv->key, kv->klen) == 0) {
      const uint8_t *k = en->kv.key;
      uint32_t nrev = en->kv.nrev + 1;
      en->kv = *kv, en->kv.key = k, en->kv.nrev = nrev, en->tomb = tomb;
      return 0;
    }
    h = (h + 1) & (x->nslots - 1);
  }
  if (x->n == x->cap) {
    size_t nc = x->cap ? x->cap * 2 : 1024;
    entry *ne = realloc(x->ents, nc * sizeof *ne);
    if (!ne || nc > UINT32_MAX - 1) return -1;
    x->ents = ne, x->cap = nc;
  }
  const uint8_t *k = keep_key(s, kv->key, kv->klen);
  if (!k) return -1;
  x->ents[x->n].kv = *kv;
  x->ents[x->n].kv.key = k;
  x->ents[x->n].kv.nrev = 1;
  x->ents[x->n].tomb = tomb;
  x->slots[h] = (uint32_t)(++x->n);
  return 0;
}

/* Parse a stored KeyValue: 0, or -1 when malformed. */
static int parse_kv(const uint8_t *p, size_t n, etcdsnap_kv *kv) {
  memset(kv, 0, sizeof *kv);
  kv->kv = p;
  kv->kvlen = (uint32_t)n;
  const char *q = (const char *)p, *end = q + n;
  pb_field f;
  int rc;
  while ((rc = pb_next(&q, end, &f)) == 1) {
    switch (f.field) {
    case 1:
    case 5:
      if (f.wiretype != PB_LEN || f.len > UINT32_MAX) return -1;
      if (f.field == 1) kv->key = (const uint8_t *)f.data, kv->klen = (uint32_t)f.len;
      else kv->val = (const uint8_t *)f.data, kv->vlen = (uint32_t)f.len;
      break;
    case 2:
    case 3:
    case 4:
    case 6: {
      if (f.wiretype != PB_VARINT) return -1;
      int64_t v = (int64_t)f.v;
      if (f.field == 2) kv->create = v;
      else if (f.field == 3) kv->mod = v;
      else if (f.field == 4) kv->version = v;
      else kv->lease = v;
      break;
    }
    default: break;
    }
  }
  if (rc < 0) return -1;
  if (!kv->key) kv->key = (const uint8_t *)"";
  if (!kv->val) kv->val = (const uint8_t *)"";
  return 0;
}

static int kvcmp(const void *a, const void *b) {
  const etcdsnap_kv *x = a, *y = b;
  size_t n = x->klen < y->klen ? x->klen : y->klen;
  int c = memcmp(x->key, y->key, n);
  if (c) return c;
  return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static int read_meta_rev(bbolt_db *db, const bbolt_bucket *meta, const char *name, int64_t *out, bbolt_err *e) {
  const uint8_t *v;
  size_t vn;
  int r = bbolt_get(db, meta, name, strlen(name), &v, &vn, e);
  if (r < 0) return -1;
  *out = 0;
  if (r == 1 && vn >= 8) *out = (int64_t)be64(v);
  return 0;
}

static int read_meta_u64(bbolt_db *db, const bbolt_bucket *meta, const char *name, uint64_t *out, bbolt_err *e) {
  int64_t v;
  if (read_meta_rev(db, meta, name, &v, e)) return -1;
  *out = (uint64_t)v;
  return 0;
}

/* Check a key-bucket key; its main revision, or -1 when malformed. */
static int64_t rev_of(const bbolt_item *it, int *tomb) {
  if ((it->klen != 17 && it->klen != 18) || it->key[8] != '_' || (it->klen == 18 && it->key[17] != 't')) return -1;
  *tomb = it->klen == 18;
  uint64_t m = be64(it->key);
  return m > INT64_MAX ? -1 : (int64_t)m;
}

static etcdsnap *build(bbolt_db *db, int64_t rev, bbolt_err *e) {
  etcdsnap *s = calloc(1, sizeof *s);
  index_t x = {0};
  if (!s) {
    fail(e, BBOLT_EIO, BBOLT_NOPAGE, "out of memory");
    bbolt_close(db);
    return NULL;
  }
  s->db = db;
  bbolt_bucket root, kb, mb;
  bbolt_root(db, &root);
  int r = bbolt_bucket_get(db, &root, "key", 3, &kb, e);
  if (r == 0) fail(e, ETCDSNAP_NOTETCD, BBOLT_NOPAGE, "a bbolt file without etcd's \"key\" bucket (not an etcd db?)");
  if (r <= 0) goto fail;
  r = bbolt_bucket_get(db, &root, "meta", 4, &mb, e);
  if (r == 0) fail(e, ETCDSNAP_NOTETCD, BBOLT_NOPAGE, "a bbolt file without etcd's \"meta\" bucket (not an etcd db?)");
  if (r <= 0) goto fail;
  etcdsnap_info *in = &s->info;
  if (read_meta_rev(db, &mb, "finishedCompactRev", &in->compact_revision, e) ||
      read_meta_rev(db, &mb, "scheduledCompactRev", &in->scheduled_compact, e) ||
      read_meta_u64(db, &mb, "term", &in->term, e) || read_meta_u64(db, &mb, "consistent_index", &in->consistent_index, e))
    goto fail;

  /* the newest revision: the last key (as mvcc's restore), at least the scheduled compaction, 1 when empty */
  bbolt_cursor c;
  bbolt_item it;
  int tomb;
  bbolt_cursor_init(&c, db, &kb);
  r = bbolt_cursor_last(&c, &it, e);
  if (r < 0) goto fail;
  in->revision = 1;
  if (r == 1) {
    int64_t m = rev_of(&it, &tomb);
    if (m < 0) {
      fail(e, BBOLT_CORRUPT, it.page, "page %llu: a key of the \"key\" bucket is not a revision", (unsigned long long)it.page);
      goto fail;
    }
    in->revision = m;
  }
  if (in->scheduled_compact > in->revision) in->revision = in->scheduled_compact;
  if (rev <= 0) rev = in->revision;
  if (rev > in->revision) {
    fail(e, ETCDSNAP_FUTURE, BBOLT_NOPAGE, "mvcc: required revision is a future revision (revision %lld, newest %lld)",
         (long long)rev, (long long)in->revision);
    goto fail;
  }
  if (rev < in->compact_revision) {
    fail(e, ETCDSNAP_COMPACTED, BBOLT_NOPAGE,
         "mvcc: required revision has been compacted (revision %lld, compacted at %lld)", (long long)rev,
         (long long)in->compact_revision);
    goto fail;
  }
  in->read_revision = rev;

  bbolt_cursor_init(&c, db, &kb);
  int64_t prev = -1;
  size_t seen = 0;
  while ((r = bbolt_cursor_next(&c, &it, e)) == 1) {
    int64_t m = rev_of(&it, &tomb);
    if (m < 0 || (it.flags & 1)) {
      fail(e, BBOLT_CORRUPT, it.page, "page %llu: a key of the \"key\" bucket is not a revision",
           (unsigned long long)it.page);
      goto fail;
    }
    if (m > rev) break;
    if (m < prev) { /* cannot happen after the cursor's order check; kept as a guard */
      fail(e, BBOLT_CORRUPT, it.page, "page %llu: revisions out of order", (unsigned long long)it.page);
      goto fail;
    }
    prev = m;
    in->revisions++;
    if ((seen += it.vlen + 64) > (size_t)2 << 20) { /* keep the resident set bounded */
      bbolt_release(db);
      seen = 0;
    }
    etcdsnap_kv kv;
    if (parse_kv(it.val, it.vlen, &kv) || kv.klen == 0 || it.vlen > UINT32_MAX) {
      fail(e, BBOLT_CORRUPT, it.page, "page %llu: revision %lld: the KeyValue does not parse", (unsigned long long)it.page,
           (long long)m);
      goto fail;
    }
    if (idx_put(s, &x, &kv, tomb)) {
      fail(e, BBOLT_EIO, BBOLT_NOPAGE, "out of memory");
      goto fail;
    }
  }
  if (r < 0) goto fail;
  free(x.slots);
  x.slots = NULL;
  size_t live = 0;
  for (size_t i = 0; i < x.n; i++) live += !x.ents[i].tomb;
  s->kvs = malloc((live ? live : 1) * sizeof *s->kvs);
  if (!s->kvs) {
    fail(e, BBOLT_EIO, BBOLT_NOPAGE, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < x.n; i++)
    if (!x.ents[i].tomb) s->kvs[s->n++] = x.ents[i].kv;
  free(x.ents);
  qsort(s->kvs, s->n, sizeof *s->kvs, kvcmp);
  bbolt_release(db);
  bbolt_random(db); /* values are read in key order from now on: all over the file */
  return s;
fail:
  free(x.slots);
  free(x.ents);
  etcdsnap_close(s);
  return NULL;
}

etcdsnap *etcdsnap_open(const char *path, int64_t rev, int flags, bbolt_err *e) {
  bbolt_db *db = bbolt_open(path, flags, e);
  return db ? build(db, rev, e) : NULL;
}

etcdsnap *etcdsnap_open_mem(const uint8_t *data, size_t len, int64_t rev, bbolt_err *e) {
  bbolt_db *db = bbolt_open_mem(data, len, e);
  return db ? build(db, rev, e) : NULL;
}

void etcdsnap_close(etcdsnap *s) {
  if (!s) return;
  while (s->keys) {
    block *b = s->keys;
    s->keys = b->next;
    free(b);
  }
  bbolt_close(s->db);
  free(s->kvs);
  free(s);
}

void etcdsnap_release(etcdsnap *s) { bbolt_release(s->db); }

int etcdsnap_copy_kv(etcdsnap *s, const etcdsnap_kv *kv, void *out) { return bbolt_copy(s->db, kv->kv, kv->kvlen, out); }

const etcdsnap_info *etcdsnap_get_info(const etcdsnap *s) { return &s->info; }
size_t etcdsnap_count(const etcdsnap *s) { return s->n; }
const etcdsnap_kv *etcdsnap_at(const etcdsnap *s, size_t i) { return i < s->n ? &s->kvs[i] : NULL; }

/* first index whose key >= k */
static size_t lower(const etcdsnap *s, const void *k, size_t kn) {
  size_t lo = 0, hi = s->n;
  etcdsnap_kv probe = {.key = k, .klen = (uint32_t)kn};
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (kvcmp(&s->kvs[mid], &probe) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

void etcdsnap_span(const etcdsnap *s, const void *key, size_t kn, const void *end, size_t en, int has_end, size_t *lo,
                   size_t *hi) {
  *lo = lower(s, key, kn);
  if (!has_end || en == 0) { /* one key */
    etcdsnap_kv probe = {.key = key, .klen = (uint32_t)kn};
    *hi = *lo < s->n && kvcmp(&s->kvs[*lo], &probe) == 0 ? *lo + 1 : *lo;
  } else if (en == 1 && ((const uint8_t *)end)[0] == 0) {
    *hi = s->n; /* "\0": every key >= key */
  } else {
    *hi = lower(s, end, en);
    if (*hi < *lo) *hi = *lo;
  }
}

static int sort_target, sort_desc;
static int64_t num_of(const etcdsnap_kv *k) {
  return sort_target == ETCDSNAP_BY_VERSION ? k->version : sort_target == ETCDSNAP_BY_CREATE ? k->create : k->mod;
}
/* by the target, ties in key order (etcd's sort.Sort is not stable: any order of ties is etcd's) */
static int sortcmp(const void *a, const void *b) {
  const etcdsnap_kv *x = *(const etcdsnap_kv *const *)a, *y = *(const etcdsnap_kv *const *)b;
  int c = 0;
  if (sort_target == ETCDSNAP_BY_KEY) c = kvcmp(x, y);
  else if (sort_target == ETCDSNAP_BY_VALUE) {
    size_t n = x->vlen < y->vlen ? x->vlen : y->vlen;
    c = memcmp(x->val, y->val, n);
    if (!c) c = x->vlen < y->vlen ? -1 : x->vlen > y->vlen;
  } else {
    int64_t p = num_of(x), q = num_of(y);
    c = p < q ? -1 : p > q;
  }
  if (sort_desc) c = -c;
  return c ? c : (x < y ? -1 : x > y);
}

int etcdsnap_query(const etcdsnap *s, const etcdsnap_range *r, const etcdsnap_kv ***out, size_t *n, int64_t *count,
                   int *more) {
  size_t lo, hi;
  etcdsnap_span(s, r->key, r->kn, r->end, r->en, r->has_end, &lo, &hi);
  *count = (int64_t)(hi - lo);
  *more = 0;
  *n = 0;
  *out = NULL;
  if (r->count_only) return 0;
  const etcdsnap_kv **v = malloc((hi - lo + 1) * sizeof *v);
  if (!v) return -1;
  size_t k = 0;
  for (size_t i = lo; i < hi; i++) {
    const etcdsnap_kv *kv = &s->kvs[i];
    if (r->max_mod && kv->mod > r->max_mod) continue;
    if (r->min_mod && kv->mod < r->min_mod) continue;
    if (r->max_create && kv->create > r->max_create) continue;
    if (r->min_create && kv->create < r->min_create) continue;
    v[k++] = kv;
  }
  int order = r->sort_order;
  if (r->sort_target != ETCDSNAP_BY_KEY && order == ETCDSNAP_SORT_NONE) order = ETCDSNAP_SORT_ASCEND;
  else if (r->sort_target == ETCDSNAP_BY_KEY && order == ETCDSNAP_SORT_ASCEND) order = ETCDSNAP_SORT_NONE;
  if (order != ETCDSNAP_SORT_NONE) {
    sort_target = r->sort_target;
    sort_desc = order == ETCDSNAP_SORT_DESCEND;
    qsort(v, k, sizeof *v, sortcmp);
  }
  if (r->limit > 0 && (int64_t)k > r->limit) {
    k = (size_t)r->limit;
    *more = 1;
  }
  *out = v;
  *n = k;
  return 0;
}
