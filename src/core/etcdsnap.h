/* etcdsnap.h: etcd's key space read from a bbolt file (bbolt.h) with no
 * etcd running; no Lua in here.
 *
 * etcd's layout (server/storage/schema, mvcc): bucket "key" holds one entry
 * per revision, keyed by the 8-byte big-endian main revision, '_', the 8-byte
 * sub revision, and an 18th byte 't' for a tombstone (a delete); its value is
 * an mvccpb.KeyValue {key=1, create_revision=2, mod_revision=3, version=4,
 * value=5, lease=6} (a tombstone holds the key only).  Bucket "meta" holds
 * finishedCompactRev and scheduledCompactRev (revision bytes), term and
 * consistent_index (8-byte big-endian).
 *
 * Opening at a revision (0: the newest) reads the "key" bucket once in
 * revision order up to it and keeps, for each user key, its newest revision;
 * keys whose newest revision is a tombstone are gone.  Keys and values stay
 * in the file's map: memory is one small entry per key. */
#ifndef KSH_ETCDSNAP_H
#define KSH_ETCDSNAP_H

#include <stddef.h>
#include <stdint.h>

#include "bbolt.h"

/* Extra error codes (in bbolt_err.code) */
enum {
  ETCDSNAP_COMPACTED = 100, /* the revision asked for is below the last finished compaction */
  ETCDSNAP_FUTURE = 101,    /* the revision asked for is above the newest */
  ETCDSNAP_NOTETCD = 102,   /* a bbolt file without etcd's "key" and "meta" buckets (kind corrupt) */
};

typedef struct {
  const uint8_t *key, *val; /* into the map */
  uint32_t klen, vlen;
  const uint8_t *kv;        /* the stored KeyValue message */
  uint32_t kvlen;
  int64_t create, mod, version, lease;
  uint32_t nrev;            /* revisions of this key in the file up to the read revision */
} etcdsnap_kv;

typedef struct etcdsnap etcdsnap;

typedef struct {
  int64_t revision;           /* the newest revision in the file */
  int64_t read_revision;      /* the revision the index was built at */
  int64_t compact_revision;   /* finishedCompactRev (0: none) */
  int64_t scheduled_compact;  /* scheduledCompactRev (0: none) */
  uint64_t term, consistent_index;
  uint64_t revisions;         /* entries of the key bucket read */
} etcdsnap_info;

/* Open path (flags: BBOLT_FORCE, BBOLT_NOVERIFY) and index it at rev (0:
 * the newest).  NULL with *e set on failure (codes of bbolt.h and above). */
etcdsnap *etcdsnap_open(const char *path, int64_t rev, int flags, bbolt_err *e);
/* The same over bytes in memory (the caller keeps them alive). */
etcdsnap *etcdsnap_open_mem(const uint8_t *data, size_t len, int64_t rev, bbolt_err *e);
void etcdsnap_close(etcdsnap *s);
/* Copy kv's stored KeyValue (kv->kvlen bytes) to out without mapping its
 * pages (bbolt_copy).  0, or -1 with errno set. */
int etcdsnap_copy_kv(etcdsnap *s, const etcdsnap_kv *kv, void *out);
/* bbolt_release of the file under s: call it now and then in a long pass. */
void etcdsnap_release(etcdsnap *s);
const etcdsnap_info *etcdsnap_get_info(const etcdsnap *s);

/* The live keys in byte order: count and i-th. */
size_t etcdsnap_count(const etcdsnap *s);
const etcdsnap_kv *etcdsnap_at(const etcdsnap *s, size_t i);
/* The span [*lo, *hi) of live keys in etcd's range [key, end): end NULL (or
 * endn 0 with end NULL) is the single key, "\0" every key >= key. */
void etcdsnap_span(const etcdsnap *s, const void *key, size_t kn, const void *end, size_t en, int has_end, size_t *lo,
                   size_t *hi);

/* A Range as etcd's server runs it (etcdserver/txn executeRange). */
enum { ETCDSNAP_SORT_NONE = 0, ETCDSNAP_SORT_ASCEND = 1, ETCDSNAP_SORT_DESCEND = 2 };
enum { ETCDSNAP_BY_KEY = 0, ETCDSNAP_BY_VERSION, ETCDSNAP_BY_CREATE, ETCDSNAP_BY_MOD, ETCDSNAP_BY_VALUE };
typedef struct {
  const void *key, *end;
  size_t kn, en;
  int has_end;
  int64_t limit;
  int sort_order, sort_target, count_only;
  int64_t min_mod, max_mod, min_create, max_create;
} etcdsnap_range;

/* Run r: *out is a malloc'ed array of *n entries (free it), *count the keys
 * in the range before filters and limit, *more whether limit cut it.
 * Returns 0, or -1 when out of memory. */
int etcdsnap_query(const etcdsnap *s, const etcdsnap_range *r, const etcdsnap_kv ***out, size_t *n, int64_t *count,
                   int *more);

#endif
