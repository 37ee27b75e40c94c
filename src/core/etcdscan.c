/* etcdscan.c: etcd's streamed range reads and key text.  See etcdscan.h. */
#include "etcdscan.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "gofmt.h"

/* --- the streamed RangeResponse --- */

static int flush_batch(etcdscan_range *s, etcdscan_emit_fn emit, void *ctx) {
  if (s->batch.len <= 1) return 0;
  int rc = emit(ctx, s->batch.p, s->batch.len);
  s->batch.len = 1;
  return rc;
}

static long scan_fail(etcdscan_range *s, const char *msg) {
  s->err = msg;
  return -1;
}

long etcdscan_feed(etcdscan_range *s, const char *data, size_t len, etcdscan_emit_fn emit, void *ctx) {
  const unsigned char *p = (const unsigned char *)data, *end = p + len;
  s->batch.len = 0;
  if (pb_put_raw(&s->batch, (char[]){ETCDSCAN_REC_KVS}, 1)) return scan_fail(s, "out of memory");
  for (;;) {
    if (!s->in_msg) {
      if (end - p < 5) break;
      if (p[0] != 0) return scan_fail(s, p[0] == 1 ? "compressed gRPC message (not supported)" : "malformed gRPC frame");
      s->left = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 | p[4];
      s->in_msg = 1;
      s->msg_kvs = 0;
      s->rest.len = 0;
      if (pb_put_raw(&s->rest, (char[]){ETCDSCAN_REC_END}, 1)) return scan_fail(s, "out of memory");
      p += 5;
    } else if (s->left > 0) {
      /* one field, whole, or wait for more input */
      int whole = (uint64_t)(end - p) >= s->left; /* the rest of the message is here */
      const unsigned char *lim = whole ? p + s->left : end, *q = p;
      uint64_t key, v;
      int rc = pb_get_varint(&q, lim, &key);
      if (rc < 0 || (rc == 0 && whole)) return scan_fail(s, "malformed RangeResponse");
      if (rc == 0) break;
      unsigned field = (unsigned)(key >> 3);
      switch (key & 7) {
      case PB_VARINT:
        rc = pb_get_varint(&q, lim, &v);
        break;
      case PB_FIXED64:
      case PB_FIXED32: {
        size_t n = (key & 7) == PB_FIXED64 ? 8 : 4;
        if ((size_t)(lim - q) >= n) {
          q += n;
          rc = 1;
        } else
          rc = 0;
        break;
      }
      case PB_LEN:
        rc = pb_get_varint(&q, lim, &v);
        if (rc == 1) {
          if (v > s->left - (uint64_t)(q - p)) return scan_fail(s, "malformed RangeResponse");
          if (v > (uint64_t)(lim - q))
            rc = 0;
          else
            q += v;
        }
        break;
      default: return scan_fail(s, "malformed RangeResponse");
      }
      if (rc < 0 || (rc == 0 && whole) || field == 0) return scan_fail(s, "malformed RangeResponse");
      if (rc == 0) break;
      pb_buf *dst = field == 2 && (key & 7) == PB_LEN ? &s->batch : &s->rest;
      if (field == 2 && dst == &s->batch) s->kvs++, s->msg_kvs++;
      if (pb_put_raw(dst, p, (size_t)(q - p))) return scan_fail(s, "out of memory");
      if (field == 1 && (key & 7) == PB_LEN && s->early_header && s->msg_kvs == 0) {
        pb_buf h = {0};
        int bad = pb_put_raw(&h, (char[]){ETCDSCAN_REC_HEADER}, 1) || pb_put_raw(&h, p, (size_t)(q - p));
        if (!bad) bad = emit(ctx, h.p, h.len);
        pb_buf_free(&h);
        if (bad) return scan_fail(s, "out of memory");
      }
      s->left -= (uint64_t)(q - p);
      p = q;
    }
    if (s->in_msg && s->left == 0) {
      if (flush_batch(s, emit, ctx) || emit(ctx, s->rest.p, s->rest.len)) return scan_fail(s, "out of memory");
      s->in_msg = 0;
      s->messages++;
    }
  }
  if (flush_batch(s, emit, ctx)) return scan_fail(s, "out of memory");
  return (long)((const char *)p - data);
}

int etcdscan_clean(const etcdscan_range *s) { return !s->in_msg && !s->err; }

void etcdscan_free(etcdscan_range *s) {
  pb_buf_free(&s->rest);
  pb_buf_free(&s->batch);
}

/* --- keys --- */

size_t etcdscan_prefix_end(const char *key, size_t len, char *out) {
  size_t n = len;
  while (n > 0 && (unsigned char)key[n - 1] == 0xff) n--;
  if (n == 0) {
    out[0] = 0;
    return 1;
  }
  memcpy(out, key, n);
  out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
  return n;
}

/* Length of a valid, printable UTF-8 sequence at s (at least 2 bytes), or 0:
 * Go's rule (gofmt.c), less the C1 controls U+0080..U+009F. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  uint32_t cp;
  int k = gofmt_utf8_decode(s, n, &cp);
  return k > 1 && cp >= 0xA0 ? (size_t)k : 0;
}

/* The first index from i on whose byte is not plain printable ASCII (below
 * 0x20, 0x7f and up, or a backslash), 16 bytes at a time; or n. */
static size_t skip_plain(const unsigned char *s, size_t i, size_t n) {
#if defined(__SSE2__)
  const __m128i sp = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f), bs = _mm_set1_epi8('\\');
  while (n - i >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
    /* signed: bytes >= 0x80 are below 0x20 too */
    __m128i m = _mm_or_si128(_mm_cmplt_epi8(v, sp), _mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_cmpeq_epi8(v, bs)));
    int mask = _mm_movemask_epi8(m);
    if (mask) return i + (size_t)__builtin_ctz((unsigned)mask);
    i += 16;
  }
#endif
  while (i < n && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') i++;
  return i;
}

int etcdscan_escape(pb_buf *b, const char *str, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, run = 0;
  int escaped = 0;
  while (i < n) {
    i = skip_plain(s, i, n);
    if (i >= n) break;
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      i++;
      continue;
    }
    if (c >= 0x80) {
      size_t k = utf8_len(s + i, n - i);
      if (k) {
        i += k;
        continue;
      }
    }
    pb_put_raw(b, s + run, i - run);
    char e[4] = {'\\', 0, 0, 0};
    size_t el = 2;
    switch (c) {
    case '\\': e[1] = '\\'; break;
    case '\n': e[1] = 'n'; break;
    case '\t': e[1] = 't'; break;
    case '\r': e[1] = 'r'; break;
    default:
      e[1] = 'x';
      e[2] = hex[c >> 4];
      e[3] = hex[c & 15];
      el = 4;
    }
    pb_put_raw(b, e, el);
    escaped = 1;
    run = ++i;
  }
  pb_put_raw(b, s + run, n - run);
  return escaped;
}
