/* libFuzzer target: any bytes as a bbolt file (src/core/bbolt.c) and as an
 * etcd db (src/core/etcdsnap.c) must open or fail with an error, never read
 * out of bounds, loop forever or crash.  Seed: tests/fuzz/corpus/bbolt (a
 * member db of etcd 3.6 with five keys, a delete and a compaction). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bbolt.h"
#include "etcdsnap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* walk every bucket below b (nested ones too), touching every key and value,
 * at most *budget items in all: a corrupt file's leaf can claim 65,535
 * elements and a nested bucket can point back at its parent, and walking
 * those again and again finds nothing new (the cursor's own bounds are what
 * is tested; 100,000 items per cursor held the target to ~450 runs/s) */
static void walk(bbolt_db *db, const bbolt_bucket *b, int depth, volatile unsigned *sink, int *budget) {
  bbolt_cursor c;
  bbolt_item it;
  bbolt_err e;
  bbolt_cursor_init(&c, db, b);
  while (*budget > 0 && bbolt_cursor_next(&c, &it, &e) == 1) {
    --*budget;
    if (it.klen) *sink += it.key[0] + it.key[it.klen - 1];
    if (it.vlen) *sink += it.val[0] + it.val[it.vlen - 1];
    bbolt_bucket child;
    if ((it.flags & 1) && depth < 8 && bbolt_bucket_get(db, b, it.key, it.klen, &child, &e) == 1)
      walk(db, &child, depth + 1, sink, budget);
  }
  if (bbolt_cursor_last(&c, &it, &e) == 1 && it.klen) *sink += it.key[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* a copy of exactly size bytes, so reading past it is caught */
  uint8_t *d = malloc(size ? size : 1);
  memcpy(d, data, size);
  volatile unsigned sink = 0;
  bbolt_err e;
  bbolt_db *db = bbolt_open_mem(d, size, &e);
  if (db) {
    bbolt_bucket root;
    bbolt_root(db, &root);
    int budget = 4096;
    walk(db, &root, 0, &sink, &budget);
    bbolt_close(db);
  }
  etcdsnap *s = etcdsnap_open_mem(d, size, 0, &e);
  if (s) {
    for (size_t i = 0; i < etcdsnap_count(s); i++) {
      const etcdsnap_kv *kv = etcdsnap_at(s, i);
      if (kv->klen) sink += kv->key[kv->klen - 1];
      if (kv->vlen) sink += kv->val[kv->vlen - 1];
    }
    etcdsnap_range q = {.key = "/", .kn = 1, .end = "\0", .en = 1, .has_end = 1, .limit = 3,
                        .sort_order = ETCDSNAP_SORT_DESCEND, .sort_target = ETCDSNAP_BY_VALUE};
    const etcdsnap_kv **out;
    size_t n;
    int64_t count;
    int more;
    if (etcdsnap_query(s, &q, &out, &n, &count, &more) == 0) free((void *)out);
    etcdsnap_close(s);
  }
  free(d);
  return 0;
}
