/* bbolt.h: a read-only reader of bbolt (go.etcd.io/bbolt) database files,
 * the format of etcd's backend (member/snap/db and `etcdctl snapshot save`
 * files); no Lua in here.  The etcd key space on top is etcdsnap.h.
 *
 * Layout (bbolt v1.3/v1.4, little-endian): every page starts with a 16-byte
 * header {id u64, flags u16, count u16, overflow u32}; pages 0 and 1 are
 * meta pages {magic 0xED0CDAED, version 2, page size, flags, root bucket
 * {root pgid, sequence}, freelist pgid (all ones when not synced, as etcd
 * runs it), high-water pgid, txid, FNV-1a 64 checksum of the fields before
 * it}; the valid one with the higher txid wins.  Branch elements are
 * {pos u32, ksize u32, pgid u64}, leaf elements {flags u32, pos u32, ksize
 * u32, vsize u32}, pos counted from the element itself; a leaf element with
 * flag 0x01 is a nested bucket whose value is {root pgid, sequence} followed,
 * when root is 0, by the bucket's one leaf page (an inline bucket).
 *
 * bbolt has no page checksums: every page touched is checked (its id, flags,
 * element counts and offsets inside the page, the page inside the file and
 * below the high-water mark, keys in order, a depth bound and a bound on
 * pages visited, so a cycle ends), and a corrupt file is an error naming the
 * page, never an out-of-bounds read. */
#ifndef KSH_BBOLT_H
#define KSH_BBOLT_H

#include <stddef.h>
#include <stdint.h>

enum {
  BBOLT_OK = 0,
  BBOLT_ENOENT,  /* the file does not exist */
  BBOLT_EIO,     /* open/stat/mmap failed */
  BBOLT_CORRUPT, /* the file does not parse: err.page (or err.offset) */
  BBOLT_BUSY,    /* another process holds the write lock (a running member) */
};

#define BBOLT_NOPAGE UINT64_MAX

typedef struct {
  int code;        /* BBOLT_* */
  uint64_t page;   /* BBOLT_CORRUPT: the page at fault, or BBOLT_NOPAGE */
  int64_t offset;  /* BBOLT_CORRUPT without a page: the byte offset, else -1 */
  int sys_errno;   /* BBOLT_EIO / BBOLT_ENOENT / BBOLT_BUSY */
  char msg[320];
} bbolt_err;

/* Open flags */
enum {
  BBOLT_FORCE = 1,   /* read even when another process holds the write lock */
  BBOLT_NOVERIFY = 2 /* skip the sha256 trailer check */
};

typedef struct bbolt_db bbolt_db;

/* A bucket: its root page, or an inline page (root 0). */
typedef struct {
  uint64_t root;          /* root pgid, 0 for an inline bucket */
  const uint8_t *inl;     /* inline: the page bytes (header included) */
  size_t inl_len;
  uint64_t owner;         /* inline: the page holding the bucket (for errors) */
} bbolt_bucket;

/* Open path read-only: maps it, takes a shared flock (BBOLT_BUSY when a
 * writer holds it, unless BBOLT_FORCE), checks the sha256 trailer when the
 * file size is 32 more than a multiple of 512 (an `etcdctl snapshot save`
 * file), and picks the meta page.  Returns the db (free with bbolt_close) or
 * NULL with *e set. */
bbolt_db *bbolt_open(const char *path, int flags, bbolt_err *e);
/* Open a database held in memory (data stays the caller's, no lock, no
 * trailer check unless it has one); for tests and fuzzing. */
bbolt_db *bbolt_open_mem(const uint8_t *data, size_t len, bbolt_err *e);
/* Drop the mapped pages from this process's resident set (the kernel keeps
 * them cached; pointers into the map stay valid and read the same bytes
 * again): keeps the RSS of a pass over a big file bounded.  A no-op for
 * bbolt_open_mem. */
void bbolt_release(bbolt_db *db);
/* Copy n bytes at p (a pointer into db's map) to out: with pread(2) for a
 * file, so a read of scattered values maps no pages.  0, or -1 (errno). */
int bbolt_copy(bbolt_db *db, const uint8_t *p, size_t n, void *out);
/* Tell the kernel the map is read at random from now on (no read-ahead): a
 * read of one value then maps its page, not 64 KB around it. */
void bbolt_random(bbolt_db *db);
/* Unmap and free db (NULL is fine). */
void bbolt_close(bbolt_db *db);

/* The chosen meta: page size, txid, high-water pgid; 1 when the file had a
 * verified sha256 trailer. */
uint32_t bbolt_page_size(const bbolt_db *db);
uint64_t bbolt_txid(const bbolt_db *db);
uint64_t bbolt_hwm(const bbolt_db *db);
int bbolt_has_trailer(const bbolt_db *db);

/* The root bucket (whose keys are the top-level bucket names). */
void bbolt_root(const bbolt_db *db, bbolt_bucket *b);
/* Find the nested bucket name in parent: 1 and *child set, 0 when absent
 * (or the key is not a bucket), -1 with *e set when corrupt. */
int bbolt_bucket_get(bbolt_db *db, const bbolt_bucket *parent, const void *name, size_t n, bbolt_bucket *child,
                     bbolt_err *e);
/* The value of key in b (not a nested bucket): 1 with *v, *vn pointing into
 * the map, 0 when absent, -1 when corrupt. */
int bbolt_get(bbolt_db *db, const bbolt_bucket *b, const void *key, size_t n, const uint8_t **v, size_t *vn,
              bbolt_err *e);

/* --- cursors: a bucket's keys in byte order --- */

#define BBOLT_MAXDEPTH 48

typedef struct {
  const uint8_t *p; /* page bytes */
  size_t size;      /* bytes of the page (overflow included) */
  uint64_t pgid;    /* for errors (inline pages: the page holding them) */
  unsigned count, idx;
  int leaf;
} bbolt_frame;

typedef struct {
  bbolt_db *db;
  bbolt_bucket b;
  bbolt_frame st[BBOLT_MAXDEPTH];
  int depth;              /* frames in use; 0 = not positioned / at the end */
  int started;            /* next() returns the current item first */
  uint64_t visits;        /* pages entered, bounded by the high-water mark */
  const uint8_t *last;    /* the previous key, to check the order */
  size_t lastn;
  int have_last;
} bbolt_cursor;

typedef struct {
  const uint8_t *key, *val;
  size_t klen, vlen;
  uint32_t flags; /* 0x01: a nested bucket */
  uint64_t page;  /* the leaf page it is on */
} bbolt_item;

/* Set c on bucket b, before its first key. */
void bbolt_cursor_init(bbolt_cursor *c, bbolt_db *db, const bbolt_bucket *b);
/* Position c so that the next bbolt_cursor_next returns the first key >= key
 * (n == 0: the first key).  0, or -1 with *e set when corrupt. */
int bbolt_cursor_seek(bbolt_cursor *c, const void *key, size_t n, bbolt_err *e);
/* The next item: 1 and *it set (pointers into the map, valid until
 * bbolt_close), 0 at the end, -1 with *e set when corrupt. */
int bbolt_cursor_next(bbolt_cursor *c, bbolt_item *it, bbolt_err *e);
/* The bucket's last item (the cursor is left at the end): 1, 0 when the
 * bucket is empty, -1 when corrupt. */
int bbolt_cursor_last(bbolt_cursor *c, bbolt_item *it, bbolt_err *e);

#endif
