/* bbolt.c: the read-only bbolt reader (see bbolt.h for the layout). */
#include "bbolt.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC 0xED0CDAEDu
#define VERSION 2u
#define PAGE_HDR 16u
#define ELEM 16u /* branch and leaf elements are both 16 bytes */
#define F_BRANCH 0x01u
#define F_LEAF 0x02u
#define META_SUM_LEN 56u /* bytes of the meta before its checksum */
#define META_LEN 64u

struct bbolt_db {
  const uint8_t *map; /* the whole file */
  size_t maplen;
  const uint8_t *data; /* the database bytes (the map minus a trailer) */
  size_t len;
  int fd;
  int trailer;
  uint32_t ps;
  uint64_t hwm, txid, root, freelist;
};

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static void seterr(bbolt_err *e, int code, uint64_t page, int64_t offset, const char *fmt, ...) {
  if (!e) return;
  e->code = code;
  e->page = page;
  e->offset = offset;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
}

#define CORRUPT(e, page, ...) (seterr((e), BBOLT_CORRUPT, (page), -1, __VA_ARGS__), (void)0, -1)

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

/* The meta of the page at off, when it validates as bbolt does (magic,
 * version, checksum): 1, else 0. */
typedef struct {
  uint32_t ps;
  uint64_t root, freelist, hwm, txid;
} meta;

static int meta_at(const uint8_t *d, size_t len, size_t off, meta *m) {
  if (off > len || len - off < PAGE_HDR + META_LEN) return 0;
  const uint8_t *p = d + off + PAGE_HDR;
  if (le32(p) != MAGIC || le32(p + 4) != VERSION) return 0;
  if (le64(p + META_SUM_LEN) != fnv1a(p, META_SUM_LEN)) return 0;
  m->ps = le32(p + 8);
  m->root = le64(p + 16);
  m->freelist = le64(p + 32);
  m->hwm = le64(p + 40);
  m->txid = le64(p + 48);
  return 1;
}

static int pick_meta(bbolt_db *db, bbolt_err *e) {
  meta m0, m1;
  int ok0 = meta_at(db->data, db->len, 0, &m0), ok1 = 0;
  uint32_t ps = 0;
  if (ok0) ps = m0.ps;
  else /* as bbolt: look for the second meta at every page size from 1 KB */
    for (int i = 0; i <= 14 && !ps; i++)
      if (meta_at(db->data, db->len, (size_t)1024 << i, &m1)) ps = m1.ps;
  if (!ps) return CORRUPT(e, 0, "no valid meta page (pages 0 and 1 fail the magic, version or checksum check)");
  if (ps < 512 || ps > (1u << 24) || (ps & (ps - 1)))
    return CORRUPT(e, ok0 ? 0 : 1, "page %d: page size %u is not a power of two between 512 and 16M", ok0 ? 0 : 1, ps);
  ok1 = meta_at(db->data, db->len, ps, &m1);
  meta *m;
  if (ok0 && ok1) m = m1.txid > m0.txid ? &m1 : &m0;
  else if (ok0) m = &m0;
  else if (ok1) m = &m1;
  else return CORRUPT(e, 1, "page 1: no valid meta page");
  uint64_t mp = m == &m0 ? 0 : 1;
  if (m->ps != ps) return CORRUPT(e, mp, "page %llu: page size %u differs from the first meta's %u",
                                  (unsigned long long)mp, m->ps, ps);
  if (m->hwm < 3) return CORRUPT(e, mp, "page %llu: high-water mark %llu is too small", (unsigned long long)mp,
                                 (unsigned long long)m->hwm);
  if (m->hwm > db->len / ps)
    return CORRUPT(e, db->len / ps, "page %llu: the file ends inside page %llu, below the high-water mark %llu (truncated?)",
                   (unsigned long long)(db->len / ps), (unsigned long long)(db->len / ps),
                   (unsigned long long)m->hwm);
  if (m->root < 2 || m->root >= m->hwm)
    return CORRUPT(e, mp, "page %llu: root bucket page %llu is outside 2..%llu", (unsigned long long)mp,
                   (unsigned long long)m->root, (unsigned long long)(m->hwm - 1));
  if (m->freelist != UINT64_MAX && (m->freelist < 2 || m->freelist >= m->hwm)) /* all ones: not synced (etcd) */
    return CORRUPT(e, mp, "page %llu: freelist page %llu is outside 2..%llu", (unsigned long long)mp,
                   (unsigned long long)m->freelist, (unsigned long long)(m->hwm - 1));
  db->ps = ps;
  db->hwm = m->hwm;
  db->txid = m->txid;
  db->root = m->root;
  db->freelist = m->freelist;
  return 0;
}

static int check_trailer(bbolt_db *db, bbolt_err *e) {
  if (db->maplen <= 32 || db->maplen % 512 != 32) return 0;
  size_t n = db->maplen - 32;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int okd = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  /* in chunks, each dropped from the resident set once hashed */
  for (size_t off = 0, step = (size_t)8 << 20; okd && off < n; off += step) {
    size_t k = n - off < step ? n - off : step;
    okd = EVP_DigestUpdate(ctx, db->map + off, k);
    if (db->fd >= 0) madvise((void *)(db->map + off), k, MADV_DONTNEED);
  }
  okd = okd && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;
  EVP_MD_CTX_free(ctx);
  if (!okd) {
    seterr(e, BBOLT_EIO, BBOLT_NOPAGE, -1, "sha256 failed");
    return -1;
  }
  if (memcmp(md, db->map + n, 32) != 0) {
    seterr(e, BBOLT_CORRUPT, BBOLT_NOPAGE, (int64_t)n,
           "the sha256 trailer at offset %zu does not match the %zu bytes before it (the file is damaged)", n, n);
    return -1;
  }
  db->trailer = 1;
  db->len = n;
  return 0;
}

/* Open: trailer (optional), meta. */
static bbolt_db *finish_open(bbolt_db *db, int flags, bbolt_err *e) {
  if (db->maplen == 0) {
    seterr(e, BBOLT_CORRUPT, BBOLT_NOPAGE, 0, "the file is empty");
    bbolt_close(db);
    return NULL;
  }
  if ((!(flags & BBOLT_NOVERIFY) && check_trailer(db, e)) || pick_meta(db, e)) {
    bbolt_close(db);
    return NULL;
  }
  return db;
}

bbolt_db *bbolt_open(const char *path, int flags, bbolt_err *e) {
  bbolt_db *db = calloc(1, sizeof *db);
  if (!db) {
    seterr(e, BBOLT_EIO, BBOLT_NOPAGE, -1, "out of memory");
    return NULL;
  }
  db->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (db->fd < 0) {
    int en = errno;
    seterr(e, en == ENOENT ? BBOLT_ENOENT : BBOLT_EIO, BBOLT_NOPAGE, -1, "%s: %s", path, strerror(en));
    if (e) e->sys_errno = en;
    free(db);
    return NULL;
  }
  if (flock(db->fd, LOCK_SH | LOCK_NB) != 0) {
    int en = errno;
    if (en == EWOULDBLOCK && !(flags & BBOLT_FORCE)) {
      seterr(e, BBOLT_BUSY, BBOLT_NOPAGE, -1,
             "%s is locked by another process (a running etcd member?): reading it while it is written can see a "
             "half-written state; stop the member, use `etcdctl snapshot save`, or force it (--force)", path);
      if (e) e->sys_errno = en;
      bbolt_close(db);
      return NULL;
    }
  }
  struct stat st;
  int stok = fstat(db->fd, &st) == 0;
  if (!stok || !S_ISREG(st.st_mode)) {
    int en = errno;
    seterr(e, BBOLT_EIO, BBOLT_NOPAGE, -1, "%s: %s", path, stok ? "not a regular file" : strerror(en));
    bbolt_close(db);
    return NULL;
  }
  db->maplen = (size_t)st.st_size;
  if (db->maplen) {
    void *m = mmap(NULL, db->maplen, PROT_READ, MAP_SHARED, db->fd, 0);
    if (m == MAP_FAILED) {
      int en = errno;
      seterr(e, BBOLT_EIO, BBOLT_NOPAGE, -1, "%s: mmap: %s", path, strerror(en));
      db->maplen = 0;
      bbolt_close(db);
      return NULL;
    }
    db->map = m;
  }
  db->data = db->map;
  db->len = db->maplen;
  return finish_open(db, flags, e);
}

bbolt_db *bbolt_open_mem(const uint8_t *data, size_t len, bbolt_err *e) {
  bbolt_db *db = calloc(1, sizeof *db);
  if (!db) {
    seterr(e, BBOLT_EIO, BBOLT_NOPAGE, -1, "out of memory");
    return NULL;
  }
  db->fd = -1;
  db->data = db->map = data;
  db->len = db->maplen = len;
  return finish_open(db, 0, e);
}

void bbolt_release(bbolt_db *db) {
  if (db && db->fd >= 0 && db->map) madvise((void *)db->map, db->maplen, MADV_DONTNEED);
}

int bbolt_copy(bbolt_db *db, const uint8_t *p, size_t n, void *out) {
  if (db->fd < 0) {
    memcpy(out, p, n);
    return 0;
  }
  off_t off = (off_t)(p - db->map);
  for (size_t done = 0; done < n;) {
    ssize_t r = pread(db->fd, (char *)out + done, n - done, off + (off_t)done);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) errno = EIO;
      return -1;
    }
    done += (size_t)r;
  }
  return 0;
}

void bbolt_random(bbolt_db *db) {
  if (db && db->fd >= 0 && db->map) madvise((void *)db->map, db->maplen, MADV_RANDOM);
}

void bbolt_close(bbolt_db *db) {
  if (!db) return;
  if (db->fd >= 0) {
    if (db->map) munmap((void *)db->map, db->maplen);
    close(db->fd);
  }
  free(db);
}

uint32_t bbolt_page_size(const bbolt_db *db) { return db->ps; }
uint64_t bbolt_txid(const bbolt_db *db) { return db->txid; }
uint64_t bbolt_hwm(const bbolt_db *db) { return db->hwm; }
int bbolt_has_trailer(const bbolt_db *db) { return db->trailer; }

void bbolt_root(const bbolt_db *db, bbolt_bucket *b) {
  memset(b, 0, sizeof *b);
  b->root = db->root;
}

/* --- pages --- */

/* Check the header and element area of a page in [p, p+size). */
static int frame_check(bbolt_frame *f, int inline_page, bbolt_err *e) {
  uint16_t flags = le16(f->p + 8);
  f->count = le16(f->p + 10);
  if (flags == F_LEAF) f->leaf = 1;
  else if (flags == F_BRANCH && !inline_page) f->leaf = 0;
  else
    return CORRUPT(e, f->pgid, "page %llu: %s page has flags 0x%02x (not a %s page)", (unsigned long long)f->pgid,
                   inline_page ? "inline bucket" : "tree", flags, inline_page ? "leaf" : "branch or leaf");
  if ((uint64_t)PAGE_HDR + (uint64_t)f->count * ELEM > f->size)
    return CORRUPT(e, f->pgid, "page %llu: %u elements do not fit in %zu bytes", (unsigned long long)f->pgid,
                   f->count, f->size);
  if (!f->leaf && f->count == 0) return CORRUPT(e, f->pgid, "page %llu: empty branch page", (unsigned long long)f->pgid);
  return 0;
}

static int page_get(bbolt_db *db, uint64_t id, bbolt_frame *f, bbolt_err *e) {
  if (id < 2 || id >= db->hwm)
    return CORRUPT(e, id, "page %llu: a tree points to it, outside the data pages 2..%llu", (unsigned long long)id,
                   (unsigned long long)(db->hwm - 1));
  const uint8_t *p = db->data + id * db->ps;
  uint64_t hid = le64(p);
  if (hid != id) return CORRUPT(e, id, "page %llu: its header says page %llu", (unsigned long long)id, (unsigned long long)hid);
  uint32_t ov = le32(p + 12);
  if ((uint64_t)ov >= db->hwm - id)
    return CORRUPT(e, id, "page %llu: %u overflow pages run past the high-water mark %llu", (unsigned long long)id, ov,
                   (unsigned long long)db->hwm);
  f->p = p;
  f->size = ((size_t)ov + 1) * db->ps;
  f->pgid = id;
  f->idx = 0;
  return frame_check(f, 0, e);
}

static int root_frame(bbolt_db *db, const bbolt_bucket *b, bbolt_frame *f, bbolt_err *e) {
  if (b->root) return page_get(db, b->root, f, e);
  if (!b->inl || b->inl_len < PAGE_HDR)
    return CORRUPT(e, b->owner, "page %llu: inline bucket of %zu bytes is too short", (unsigned long long)b->owner,
                   b->inl_len);
  f->p = b->inl;
  f->size = b->inl_len;
  f->pgid = b->owner;
  f->idx = 0;
  return frame_check(f, 1, e);
}

static int leaf_elem(const bbolt_frame *f, unsigned i, bbolt_item *it, bbolt_err *e) {
  const uint8_t *el = f->p + PAGE_HDR + (size_t)i * ELEM;
  uint64_t pos = le32(el + 4), ks = le32(el + 8), vs = le32(el + 12);
  uint64_t start = PAGE_HDR + (uint64_t)i * ELEM + pos;
  if (start + ks + vs > f->size)
    return CORRUPT(e, f->pgid, "page %llu: leaf element %u (key %llu + value %llu bytes at %llu) is outside the page",
                   (unsigned long long)f->pgid, i, (unsigned long long)ks, (unsigned long long)vs,
                   (unsigned long long)start);
  it->flags = le32(el);
  it->key = f->p + start;
  it->klen = ks;
  it->val = it->key + ks;
  it->vlen = vs;
  it->page = f->pgid;
  return 0;
}

static int branch_elem(const bbolt_frame *f, unsigned i, const uint8_t **k, size_t *kn, uint64_t *child, bbolt_err *e) {
  const uint8_t *el = f->p + PAGE_HDR + (size_t)i * ELEM;
  uint64_t pos = le32(el), ks = le32(el + 4);
  uint64_t start = PAGE_HDR + (uint64_t)i * ELEM + pos;
  if (start + ks > f->size)
    return CORRUPT(e, f->pgid, "page %llu: branch element %u (key of %llu bytes at %llu) is outside the page",
                   (unsigned long long)f->pgid, i, (unsigned long long)ks, (unsigned long long)start);
  *k = f->p + start;
  *kn = ks;
  *child = le64(el + 8);
  return 0;
}

static int keycmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  if (c) return c;
  return an < bn ? -1 : an > bn;
}

/* --- cursors --- */

void bbolt_cursor_init(bbolt_cursor *c, bbolt_db *db, const bbolt_bucket *b) {
  memset(c, 0, sizeof *c);
  c->db = db;
  c->b = *b;
}

static int push(bbolt_cursor *c, uint64_t id, bbolt_err *e) {
  if (c->depth >= BBOLT_MAXDEPTH)
    return CORRUPT(e, id, "page %llu: the tree is deeper than %d levels (a cycle?)", (unsigned long long)id,
                   BBOLT_MAXDEPTH);
  if (++c->visits > c->db->hwm + BBOLT_MAXDEPTH)
    return CORRUPT(e, id, "page %llu: more pages visited than the file holds (a cycle?)", (unsigned long long)id);
  if (page_get(c->db, id, &c->st[c->depth], e)) return -1;
  c->depth++;
  return 0;
}

int bbolt_cursor_seek(bbolt_cursor *c, const void *key, size_t n, bbolt_err *e) {
  const uint8_t *k = key;
  c->depth = 0;
  c->visits = 0;
  c->have_last = 0;
  c->started = 0;
  if (c->b.root) {
    if (push(c, c->b.root, e)) goto fail;
  } else {
    if (root_frame(c->db, &c->b, &c->st[0], e)) goto fail;
    c->depth = 1;
  }
  for (;;) {
    bbolt_frame *f = &c->st[c->depth - 1];
    /* first element whose key >= k */
    unsigned lo = 0, hi = f->count;
    int exact = 0;
    while (lo < hi) {
      unsigned mid = lo + (hi - lo) / 2;
      const uint8_t *ek;
      size_t ekn;
      int r;
      if (f->leaf) {
        bbolt_item it;
        if (leaf_elem(f, mid, &it, e)) goto fail;
        ek = it.key, ekn = it.klen;
      } else {
        uint64_t ch;
        if (branch_elem(f, mid, &ek, &ekn, &ch, e)) goto fail;
      }
      r = keycmp(ek, ekn, k, n);
      if (r < 0) lo = mid + 1;
      else {
        if (r == 0) exact = 1;
        hi = mid;
      }
    }
    if (f->leaf) {
      f->idx = lo;
      return 0;
    }
    if (!exact && lo > 0) lo--;
    if (lo >= f->count) lo = f->count - 1;
    f->idx = lo;
    const uint8_t *ek;
    size_t ekn;
    uint64_t ch;
    if (branch_elem(f, lo, &ek, &ekn, &ch, e) || push(c, ch, e)) goto fail;
  }
fail:
  c->depth = 0;
  c->started = 1;
  return -1;
}

int bbolt_cursor_next(bbolt_cursor *c, bbolt_item *it, bbolt_err *e) {
  if (!c->started && c->depth == 0) {
    if (bbolt_cursor_seek(c, "", 0, e)) return -1;
  }
  if (c->started) {
    if (c->depth == 0) return 0;
    c->st[c->depth - 1].idx++;
  }
  c->started = 1;
  while (c->depth > 0) {
    bbolt_frame *f = &c->st[c->depth - 1];
    if (f->idx >= f->count) {
      c->depth--;
      if (c->depth > 0) c->st[c->depth - 1].idx++;
      continue;
    }
    if (f->leaf) {
      if (leaf_elem(f, f->idx, it, e)) goto fail;
      if (c->have_last && keycmp(it->key, it->klen, c->last, c->lastn) <= 0) {
        (void)CORRUPT(e, f->pgid, "page %llu: element %u is out of key order", (unsigned long long)f->pgid, f->idx);
        goto fail;
      }
      c->last = it->key;
      c->lastn = it->klen;
      c->have_last = 1;
      return 1;
    }
    const uint8_t *ek;
    size_t ekn;
    uint64_t ch;
    if (branch_elem(f, f->idx, &ek, &ekn, &ch, e) || push(c, ch, e)) goto fail;
  }
  return 0;
fail:
  c->depth = 0;
  return -1;
}

int bbolt_cursor_last(bbolt_cursor *c, bbolt_item *it, bbolt_err *e) {
  bbolt_frame f;
  int r = 0;
  uint64_t visits = 0;
  if (root_frame(c->db, &c->b, &f, e)) return -1;
  for (int depth = 1;; depth++) {
    if (f.count == 0) break; /* an empty leaf: only the root of an empty bucket */
    if (f.leaf) {
      r = leaf_elem(&f, f.count - 1, it, e) ? -1 : 1;
      break;
    }
    const uint8_t *ek;
    size_t ekn;
    uint64_t ch;
    if (branch_elem(&f, f.count - 1, &ek, &ekn, &ch, e)) return -1;
    if (depth >= BBOLT_MAXDEPTH || ++visits > c->db->hwm)
      return CORRUPT(e, ch, "page %llu: the tree is deeper than %d levels (a cycle?)", (unsigned long long)ch,
                     BBOLT_MAXDEPTH);
    if (page_get(c->db, ch, &f, e)) return -1;
  }
  c->depth = 0;
  c->started = 1;
  return r;
}

/* --- lookups --- */

static int find(bbolt_db *db, const bbolt_bucket *b, const void *key, size_t n, bbolt_item *it, bbolt_err *e) {
  bbolt_cursor c;
  bbolt_cursor_init(&c, db, b);
  if (bbolt_cursor_seek(&c, key, n, e)) return -1;
  int r = bbolt_cursor_next(&c, it, e);
  if (r <= 0) return r;
  return keycmp(it->key, it->klen, key, n) == 0;
}

int bbolt_bucket_get(bbolt_db *db, const bbolt_bucket *parent, const void *name, size_t n, bbolt_bucket *child,
                     bbolt_err *e) {
  bbolt_item it;
  int r = find(db, parent, name, n, &it, e);
  if (r <= 0) return r;
  if (!(it.flags & 1)) return 0;
  if (it.vlen < 16)
    return CORRUPT(e, it.page, "page %llu: bucket value of %zu bytes is too short", (unsigned long long)it.page, it.vlen);
  memset(child, 0, sizeof *child);
  child->root = le64(it.val);
  if (child->root == 0) {
    child->inl = it.val + 16;
    child->inl_len = it.vlen - 16;
    child->owner = it.page;
  }
  return 1;
}

int bbolt_get(bbolt_db *db, const bbolt_bucket *b, const void *key, size_t n, const uint8_t **v, size_t *vn,
              bbolt_err *e) {
  bbolt_item it;
  int r = find(db, b, key, n, &it, e);
  if (r <= 0) return r;
  if (it.flags & 1) return 0;
  *v = it.val;
  *vn = it.vlen;
  return 1;
}
