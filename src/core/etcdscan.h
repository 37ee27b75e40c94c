/* etcdscan.h: etcd's key space in plain C (no Lua): the incremental scanner
 * of streamed RangeResponses that keeps a big key dump in bounded memory,
 * the range_end of a prefix, and the one-line text of a key.  The protobuf
 * wire codec underneath is pb.h. */
#ifndef KSH_ETCDSCAN_H
#define KSH_ETCDSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "pb.h"

/* The first byte of each record etcdscan_feed emits (and of the strings the
 * ksh.etcdpb binding hands to Lua):
 *   ETCDSCAN_REC_KVS + the kvs fields (tag 0x12, length, KeyValue) complete
 *       in this chunk, i.e. a slice of RangeResponse holding only kvs;
 *   ETCDSCAN_REC_END + every other field of the message (header, more,
 *       count), once the whole gRPC message has been read. */
#define ETCDSCAN_REC_KVS 'K'
#define ETCDSCAN_REC_END 'E'
/* With early_header set, also ETCDSCAN_REC_HEADER + the header field (tag,
 * length, ResponseHeader) as soon as it is read, when it comes before the
 * message's first kvs (etcd sends it first): a printer can write the header
 * before the keys without a second request.  It is in the END record too. */
#define ETCDSCAN_REC_HEADER 'H'

/* Scanner state for RangeResponses arriving as gRPC messages in chunks of any
 * size; records go out through the callback.
 * Nothing else is kept, so memory stays at one KeyValue plus the chunk. */
typedef struct {
  int in_msg;       /* inside a gRPC message */
  uint64_t left;    /* its bytes not yet consumed */
  pb_buf rest;      /* non-kvs fields of the current message */
  pb_buf batch;     /* kvs of the current chunk */
  long messages;    /* complete messages seen */
  long kvs;         /* KeyValues emitted */
  long msg_kvs;     /* KeyValues of the current message */
  int early_header; /* emit ETCDSCAN_REC_HEADER records (set by the caller) */
  const char *err;  /* static message after a failure */
} etcdscan_range;

typedef int (*etcdscan_emit_fn)(void *ctx, const char *data, size_t len);

/* Consume what it can of data: returns the bytes consumed (the caller keeps
 * the rest and calls again with it followed by more), or -1 with s->err set. */
long etcdscan_feed(etcdscan_range *s, const char *data, size_t len, etcdscan_emit_fn emit, void *ctx);
/* 1 when the input so far ended on a message boundary (a clean end). */
int etcdscan_clean(const etcdscan_range *s);
/* Free the scanner's buffers (the struct itself is the caller's). */
void etcdscan_free(etcdscan_range *s);

/* --- keys --- */

/* The range_end of a prefix, as etcd's client computes it: strip trailing
 * 0xff bytes, then increment the last byte; an empty or all-0xff prefix gives
 * "\0" (to the end of the keyspace).  out needs len bytes; returns its length. */
size_t etcdscan_prefix_end(const char *key, size_t len, char *out);

/* Append s to b as one line of text: printable UTF-8 as is; a backslash,
 * control bytes, and bytes that are not valid UTF-8 as C escapes (\\ \n \t
 * \r \xHH).  Returns 1 when something was escaped. */
int etcdscan_escape(pb_buf *b, const char *s, size_t n);

#endif
