/* tests/unit/bbolt.c: the bbolt reader (src/core/bbolt.c) and etcd's key
 * space on it (src/core/etcdsnap.c) on a small file built here byte by byte
 * as bbolt lays it out: two meta pages, the root bucket, an etcd "key"
 * bucket as a branch over two leaves (one with an overflow page) and an
 * inline "meta" bucket; then the same file damaged in the ways a disk or a
 * bad copy damages it.  The real files (etcdctl snapshot save) are in
 * tests/etcd/snapshot-read.t. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbolt.h"
#include "etcdsnap.h"
#include "pb.h"
#include "tap.h"

#define PS 4096
#define NPAGES 8

static uint8_t *db;

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void hdr(uint8_t *p, uint64_t id, uint16_t flags, uint16_t count, uint32_t ov) {
  put64(p, id), put16(p + 8, flags), put16(p + 10, count), put32(p + 12, ov);
}

static uint64_t fnv(const uint8_t *p, size_t n) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void meta_fl(uint8_t *base, uint64_t pg, uint64_t txid, uint64_t root, uint64_t freelist) {
  uint8_t *p = base + pg * PS;
  hdr(p, pg, 0x04, 0, 0);
  uint8_t *m = p + 16;
  put32(m, 0xED0CDAED), put32(m + 4, 2), put32(m + 8, PS), put32(m + 12, 0);
  put64(m + 16, root), put64(m + 24, 0), put64(m + 32, freelist), put64(m + 40, NPAGES), put64(m + 48, txid);
  put64(m + 56, fnv(m, 56));
}

static void meta(uint64_t pg, uint64_t txid, uint64_t root) {
  uint8_t *p = db + pg * PS;
  hdr(p, pg, 0x04, 0, 0);
  uint8_t *m = p + 16;
  put32(m, 0xED0CDAED), put32(m + 4, 2), put32(m + 8, PS), put32(m + 12, 0);
  put64(m + 16, root), put64(m + 24, 0), put64(m + 32, UINT64_MAX), put64(m + 40, NPAGES), put64(m + 48, txid);
  put64(m + 56, fnv(m, 56));
}

typedef struct {
  uint32_t flags;
  const void *k, *v;
  size_t kn, vn;
} el;

/* a leaf page at p (size bytes available) */
static size_t leaf(uint8_t *p, uint64_t id, uint32_t ov, const el *e, int n) {
  hdr(p, id, 0x02, (uint16_t)n, ov);
  size_t data = 16 + (size_t)n * 16;
  for (int i = 0; i < n; i++) {
    uint8_t *x = p + 16 + i * 16;
    put32(x, e[i].flags), put32(x + 4, (uint32_t)(data - (16 + i * 16))), put32(x + 8, (uint32_t)e[i].kn),
        put32(x + 12, (uint32_t)e[i].vn);
    memcpy(p + data, e[i].k, e[i].kn);
    memcpy(p + data + e[i].kn, e[i].v, e[i].vn);
    data += e[i].kn + e[i].vn;
  }
  return data;
}

static void branch(uint8_t *p, uint64_t id, const void *const *keys, const size_t *kn, const uint64_t *kids, int n) {
  hdr(p, id, 0x01, (uint16_t)n, 0);
  size_t data = 16 + (size_t)n * 16;
  for (int i = 0; i < n; i++) {
    uint8_t *x = p + 16 + i * 16;
    put32(x, (uint32_t)(data - (16 + i * 16))), put32(x + 4, (uint32_t)kn[i]), put64(x + 8, kids[i]);
    memcpy(p + data, keys[i], kn[i]);
    data += kn[i];
  }
}

static void rev(uint8_t *out, uint64_t main, int tomb) {
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(main >> (56 - 8 * i));
  out[8] = '_';
  memset(out + 9, 0, 8);
  if (tomb) out[17] = 't';
}

static pb_buf kvs[6];
static void kv(pb_buf *b, const char *key, const char *val, size_t vn, int64_t c, int64_t m, int64_t ver, int64_t lease) {
  pb_put_bytes(b, 1, key, strlen(key));
  if (c) pb_put_uint(b, 2, (uint64_t)c);
  if (m) pb_put_uint(b, 3, (uint64_t)m);
  if (ver) pb_put_uint(b, 4, (uint64_t)ver);
  if (val) pb_put_bytes(b, 5, val, vn);
  if (lease) pb_put_uint(b, 6, (uint64_t)lease);
}

static char big[6000];
static uint8_t revs[6][18];

/* pages: 0,1 meta; 2 free; 3 root bucket; 4 branch of "key"; 5-6 a leaf with an overflow page; 7 a leaf */
static void build(void) {
  db = calloc(NPAGES, PS);
  memset(big, 'b', sizeof big);
  kv(&kvs[0], "/a", "v1", 2, 1, 1, 1, 0);
  kv(&kvs[1], "/big", big, sizeof big, 2, 2, 1, 0);
  kv(&kvs[2], "/c", "x", 1, 3, 3, 1, 7);
  kv(&kvs[3], "/a", "v2", 2, 1, 4, 2, 0);
  kv(&kvs[4], "/c", NULL, 0, 0, 0, 0, 0); /* the tombstone holds the key only */
  kv(&kvs[5], "/d", "d", 1, 6, 6, 1, 0);
  for (int i = 0; i < 6; i++) rev(revs[i], (uint64_t)i + 1, i == 4);
  el l1[3], l2[3];
  for (int i = 0; i < 3; i++) {
    l1[i] = (el){0, revs[i], kvs[i].p, 17, kvs[i].len};
    l2[i] = (el){0, revs[i + 3], kvs[i + 3].p, i + 3 == 4 ? 18 : 17, kvs[i + 3].len};
  }
  leaf(db + 5 * PS, 5, 1, l1, 3);
  leaf(db + 7 * PS, 7, 0, l2, 3);
  const void *bk[2] = {revs[0], revs[3]};
  size_t bkn[2] = {17, 17};
  uint64_t kids[2] = {5, 7};
  branch(db + 4 * PS, 4, bk, bkn, kids, 2);
  /* the inline meta bucket: {root 0, sequence 0} + a leaf page */
  uint8_t inl[512] = {0}, r2[17];
  rev(r2, 2, 0);
  el me[2] = {{0, "finishedCompactRev", r2, 18, 17}, {0, "scheduledCompactRev", r2, 19, 17}};
  size_t inl_len = 16 + leaf(inl + 16, 0, 0, me, 2);
  uint8_t keyb[16] = {0};
  put64(keyb, 4);
  el root[2] = {{1, "key", keyb, 3, 16}, {1, "meta", inl, 4, inl_len}};
  leaf(db + 3 * PS, 3, 0, root, 2);
  hdr(db + 2 * PS, 2, 0x10, 0, 0);
  meta(0, 2, 3);
  meta(1, 3, 3);
}

static etcdsnap *open_copy(uint8_t *copy, int64_t r, bbolt_err *e) {
  memset(e, 0, sizeof *e);
  return etcdsnap_open_mem(copy, NPAGES * PS, r, e);
}

/* a damaged copy must fail with the page named in the message */
static void damaged(void (*hurt)(uint8_t *), uint64_t page, const char *what, const char *text) {
  uint8_t *c = malloc(NPAGES * PS);
  memcpy(c, db, NPAGES * PS);
  hurt(c);
  bbolt_err e;
  etcdsnap *s = open_copy(c, 0, &e);
  ok(!s && e.code == BBOLT_CORRUPT && e.page == page && strstr(e.msg, text), "%s: corrupt, page %llu (%s)", what,
     (unsigned long long)page, e.msg);
  etcdsnap_close(s);
  free(c);
}

static void hurt_id(uint8_t *c) { put64(c + 7 * PS, 9); }
static void hurt_count(uint8_t *c) { put16(c + 5 * PS + 10, 600); }
static void hurt_pos(uint8_t *c) { put32(c + 7 * PS + 16 + 4, 5000); }
static void hurt_cycle(uint8_t *c) { put64(c + 4 * PS + 16 + 16 + 8, 4); }
static void hurt_kid(uint8_t *c) { put64(c + 4 * PS + 16 + 8, 99); }
static void hurt_order(uint8_t *c) { /* the second leaf's first key below the first leaf's last */
  c[7 * PS + 16 + 3 * 16 + 7] = 1;
}
static void hurt_overflow(uint8_t *c) { put32(c + 5 * PS + 12, 7); }
static void hurt_flags(uint8_t *c) { put16(c + 4 * PS + 8, 0x10); }
static void hurt_kv(uint8_t *c) { c[7 * PS + 16 + 3 * 16 + 17] = 0xff; } /* the KeyValue's first tag */

int main(void) {
  build();
  bbolt_err e = {0};
  bbolt_db *b = bbolt_open_mem(db, NPAGES * PS, &e);
  ok(b != NULL, "a hand-built file opens (%s)", e.msg);
  ok(b && bbolt_txid(b) == 3 && bbolt_page_size(b) == PS && bbolt_hwm(b) == NPAGES,
     "the meta with the higher txid is used");
  bbolt_bucket root, kb, mb;
  bbolt_root(b, &root);
  ok(bbolt_bucket_get(b, &root, "key", 3, &kb, &e) == 1 && kb.root == 4, "bucket key: root page 4");
  ok(bbolt_bucket_get(b, &root, "meta", 4, &mb, &e) == 1 && mb.root == 0 && mb.inl, "bucket meta is inline");
  ok(bbolt_bucket_get(b, &root, "nope", 4, &mb, &e) == 0, "no bucket nope");
  const uint8_t *v;
  size_t vn;
  bbolt_bucket_get(b, &root, "meta", 4, &mb, &e);
  ok(bbolt_get(b, &mb, "scheduledCompactRev", 19, &v, &vn, &e) == 1 && vn == 17 && v[7] == 2, "inline value read");
  bbolt_cursor c;
  bbolt_item it;
  bbolt_cursor_init(&c, b, &kb);
  int n = 0, sorted = 1, r;
  uint8_t prev = 0;
  size_t bigv = 0;
  while ((r = bbolt_cursor_next(&c, &it, &e)) == 1) {
    if (it.key[7] <= prev) sorted = 0;
    prev = it.key[7];
    if (it.key[7] == 2) bigv = it.vlen;
    n++;
  }
  ok(r == 0 && n == 6 && sorted, "the cursor walks 6 revisions in order over two leaves (%d)", n);
  ok(bigv == kvs[1].len, "a value on an overflow page is whole (%zu bytes)", bigv);
  uint8_t k4[17];
  rev(k4, 4, 0);
  ok(bbolt_cursor_seek(&c, k4, 17, &e) == 0 && bbolt_cursor_next(&c, &it, &e) == 1 && it.key[7] == 4 && it.page == 7,
     "seek to revision 4 lands on page 7");
  k4[16] = 1; /* 4_1: between 4_0 and 5 */
  ok(bbolt_cursor_seek(&c, k4, 17, &e) == 0 && bbolt_cursor_next(&c, &it, &e) == 1 && it.key[7] == 5, "seek between keys");
  ok(bbolt_cursor_last(&c, &it, &e) == 1 && it.key[7] == 6, "last: revision 6");
  bbolt_close(b);

  /* etcd's view */
  etcdsnap *s = etcdsnap_open_mem(db, NPAGES * PS, 0, &e);
  ok(s != NULL, "etcd key space opens (%s)", e.msg);
  const etcdsnap_info *in = etcdsnap_get_info(s);
  ok(in->revision == 6 && in->compact_revision == 2 && in->read_revision == 6, "revision 6, compacted at 2");
  ok(etcdsnap_count(s) == 3, "3 live keys: /a /big /d (the tombstone hides /c)");
  const etcdsnap_kv *a = etcdsnap_at(s, 0);
  ok(a && a->klen == 2 && !memcmp(a->key, "/a", 2) && a->vlen == 2 && !memcmp(a->val, "v2", 2) && a->mod == 4 &&
         a->version == 2 && a->create == 1 && a->nrev == 2,
     "/a is its newest revision, of 2 kept");
  etcdsnap_range q = {.key = "/", .kn = 1, .end = "0", .en = 1, .has_end = 1, .limit = 2};
  const etcdsnap_kv **out;
  size_t nout;
  int64_t count;
  int more;
  ok(etcdsnap_query(s, &q, &out, &nout, &count, &more) == 0 && nout == 2 && count == 3 && more, "limit 2 of 3: more");
  free((void *)out);
  q = (etcdsnap_range){.key = "\0", .kn = 1, .end = "\0", .en = 1, .has_end = 1, .sort_order = ETCDSNAP_SORT_DESCEND,
                       .sort_target = ETCDSNAP_BY_MOD};
  etcdsnap_query(s, &q, &out, &nout, &count, &more);
  ok(nout == 3 && out[0]->mod == 6 && out[1]->mod == 4 && out[2]->mod == 2, "sorted by mod revision, descending");
  free((void *)out);
  q = (etcdsnap_range){.key = "/big", .kn = 4, .min_mod = 3};
  etcdsnap_query(s, &q, &out, &nout, &count, &more);
  ok(nout == 0 && count == 1, "a filter keeps count (etcd counts before filters)");
  free((void *)out);
  etcdsnap_close(s);
  s = etcdsnap_open_mem(db, NPAGES * PS, 3, &e);
  ok(s && etcdsnap_count(s) == 3 && etcdsnap_at(s, 2)->lease == 7 && etcdsnap_at(s, 0)->vlen == 2 &&
         !memcmp(etcdsnap_at(s, 0)->val, "v1", 2),
     "at revision 3: /a v1, /big, /c with its lease");
  etcdsnap_close(s);
  s = etcdsnap_open_mem(db, NPAGES * PS, 1, &e);
  ok(!s && e.code == ETCDSNAP_COMPACTED, "revision 1 is compacted (%s)", e.msg);
  s = etcdsnap_open_mem(db, NPAGES * PS, 7, &e);
  ok(!s && e.code == ETCDSNAP_FUTURE, "revision 7 is in the future (%s)", e.msg);

  /* a damaged meta: the other one is used; both: an error */
  uint8_t *cp = malloc(NPAGES * PS);
  memcpy(cp, db, NPAGES * PS);
  cp[PS + 16 + 20] ^= 1;
  b = bbolt_open_mem(cp, NPAGES * PS, &e);
  ok(b && bbolt_txid(b) == 2, "meta 1 fails its checksum: meta 0 (txid 2) is used");
  bbolt_close(b);
  cp[16] ^= 1;
  b = bbolt_open_mem(cp, NPAGES * PS, &e);
  ok(!b && e.code == BBOLT_CORRUPT && e.page == 0, "both metas damaged: corrupt (%s)", e.msg);
  memcpy(cp, db, NPAGES * PS);
  meta_fl(cp, 0, 4, 3, 2); /* a synced freelist on page 2: fine */
  b = bbolt_open_mem(cp, NPAGES * PS, &e);
  ok(b && bbolt_txid(b) == 4, "a meta with a freelist page opens");
  bbolt_close(b);
  meta_fl(cp, 0, 4, 3, 40);
  b = bbolt_open_mem(cp, NPAGES * PS, &e);
  ok(!b && e.code == BBOLT_CORRUPT && e.page == 0 && strstr(e.msg, "freelist"), "a freelist beyond the high-water mark: %s",
     e.msg);
  b = bbolt_open_mem(db, 5 * PS, &e);
  ok(!b && e.code == BBOLT_CORRUPT && e.page == 5 && strstr(e.msg, "truncated"), "cut short: %s", e.msg);
  free(cp);

  damaged(hurt_id, 7, "a page whose header names another page", "header says page 9");
  damaged(hurt_count, 5, "more elements than the page holds", "elements do not fit");
  damaged(hurt_pos, 7, "an element pointing outside its page", "outside the page");
  damaged(hurt_cycle, 4, "a branch pointing to itself", "cycle");
  damaged(hurt_kid, 99, "a child beyond the high-water mark", "outside the data pages");
  damaged(hurt_order, 7, "keys out of order", "out of key order");
  damaged(hurt_overflow, 5, "overflow past the high-water mark", "overflow");
  damaged(hurt_flags, 4, "a freelist page inside a tree", "flags 0x10");
  damaged(hurt_kv, 7, "a KeyValue that does not parse", "does not parse");
  for (int i = 0; i < 6; i++) pb_buf_free(&kvs[i]);
  free(db);
  return done_testing();
}
