/* etcd_out.h: etcdctl's (3.6) output, written in C straight from the
 * protobuf bytes of etcd's responses (no Lua): the -w json text of a
 * KeyValue and a ResponseHeader, a streamed `get -w json` assembled from
 * etcdscan records, and one WatchResponse as `watch` prints it (simple and
 * json).  Output goes into a buf_t the caller writes out in large pieces. */
#ifndef KSH_ETCD_OUT_H
#define KSH_ETCD_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Appends the KeyValue message kv[0..n) as etcdctl -w json writes it (Go's
 * encoding/json of mvccpb.KeyValue: fields in .proto order, zero ones left
 * out, key and value in standard base64; text: key and value as JSON
 * strings instead, kscript's --decode).  Returns 0, or -1 when the message
 * is malformed or memory runs out. */
int etcd_out_json_kv(buf_t *b, const char *kv, size_t n, int text);

/* Appends the ResponseHeader message h[0..n) as {"cluster_id":...}
 * (unsigned IDs unquoted, zero fields left out).  0 or -1 as above. */
int etcd_out_json_header(buf_t *b, const char *h, size_t n);

/* `get -w json` of a streamed range, fed the records of etcdscan_feed (with
 * early_header set) in order: the output is {"header":...,"kvs":[...],
 * "count":N} as etcdctl prints it, the header and count of the first page.
 * kvs that arrive before any header are held until the header is known. */
typedef struct {
  int text;      /* --decode: keys and values as text */
  int started;   /* "{" and the header are out */
  int header;    /* a header was written */
  int pages;     /* ETCDSCAN_REC_END records seen */
  long nkvs;     /* KeyValues written (or held) */
  int64_t count; /* the first page's count */
  buf_t hold;    /* kvs text held until the header is known */
} etcd_out_range;

/* Feeds one record (its first byte the record type); appends what can be
 * printed now to out.  Returns 0, or -1 (malformed record, out of memory). */
int etcd_out_range_feed(etcd_out_range *r, buf_t *out, const char *rec, size_t n);
/* Appends the end of the text ("]", the count, "}\n"); 0 or -1. */
int etcd_out_range_finish(etcd_out_range *r, buf_t *out);
/* Frees the printer's buffers (the struct is the caller's). */
void etcd_out_range_free(etcd_out_range *r);

/* What etcd_out_watch found in a WatchResponse. */
typedef struct {
  int created, canceled;
  int64_t revision;         /* the header's revision */
  int64_t compact_revision;
  long events;              /* events in the message */
  long printed;             /* events printed (mod_revision >= floor) */
  int64_t max_rev;          /* the highest mod_revision printed, or 0 */
} etcd_out_watchinfo;

enum { ETCD_OUT_SIMPLE, ETCD_OUT_JSON };

/* Reads the WatchResponse message m[0..n) into *wi and, when it is a batch of
 * events (not created, not canceled, at least one event), appends etcdctl
 * watch's text for its events whose kv.mod_revision >= floor, in format
 * (ETCD_OUT_SIMPLE: "PUT\nkey\nvalue\n" per event, prev_kv first; ETCD_OUT_JSON:
 * one {"Header":...,"Events":[...],...} line).  Nothing is appended when no
 * event passes.  Returns 0, or -1 (malformed, out of memory). */
int etcd_out_watch(buf_t *b, const char *m, size_t n, int format, int64_t floor, etcd_out_watchinfo *wi);

#endif
