/* pb.h: a small protobuf wire codec (no Lua in here) with the etcd v3
 * message schemas kscript uses, the incremental RangeResponse scanner that
 * keeps a big key dump in bounded memory, and the text escaping of keys.
 *
 * Wire format only: varints, length-delimited fields, 64/32-bit fixed values
 * are skipped when unknown.  Messages are described by tables (pb_msgdef) so
 * a binding can walk them; new etcd calls add a table, not code.
 */
#ifndef KSH_PB_H
#define KSH_PB_H

#include <stddef.h>
#include <stdint.h>

/* --- writing --- */

typedef struct {
  char *p;
  size_t len, cap;
  int oom; /* set once an allocation failed; later writes are no-ops */
} pb_buf;

/* Append raw bytes / a varint / a field key / a varint field / a
 * length-delimited field.  Return 0, or -1 (and set b->oom) when out of memory. */
int pb_put_raw(pb_buf *b, const void *d, size_t n);
int pb_put_varint(pb_buf *b, uint64_t v);
int pb_put_key(pb_buf *b, unsigned field, unsigned wiretype);
int pb_put_uint(pb_buf *b, unsigned field, uint64_t v);
int pb_put_bytes(pb_buf *b, unsigned field, const void *d, size_t n);
/* Release the buffer's memory and reset it. */
void pb_buf_free(pb_buf *b);

/* --- reading --- */

enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_LEN = 2, PB_FIXED32 = 5 };

typedef struct {
  unsigned field;
  int wiretype;
  uint64_t v;       /* varint and fixed values */
  const char *data; /* PB_LEN: the bytes (inside the input) */
  size_t len;
} pb_field;

/* Decode a varint from [*p, end): 1 and *p advanced, 0 when the input ends
 * inside it, -1 when malformed (more than 10 bytes). */
int pb_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v);
/* The next field of a message in [*p, end): 1 and *p advanced past it,
 * 0 at the end of the input, -1 when malformed or truncated. */
int pb_next(const char **p, const char *end, pb_field *f);

/* --- schemas --- */

typedef enum {
  PB_T_INT,   /* int64 varint: revisions, counts, leases */
  PB_T_UINT,  /* small uint64 (raft_term) */
  PB_T_ID,    /* uint64 identifier, kept exact (cluster_id, member_id) */
  PB_T_BOOL,
  PB_T_ENUM,  /* names indexed by value */
  PB_T_BYTES, /* bytes and string */
  PB_T_MSG
} pb_type;

typedef struct pb_msgdef pb_msgdef;
typedef struct {
  const char *name;
  unsigned num;
  pb_type type;
  int repeated;
  const pb_msgdef *msg;     /* PB_T_MSG */
  const char *const *enums; /* PB_T_ENUM: NULL-terminated names */
} pb_fielddef;

struct pb_msgdef {
  const char *name;
  const pb_fielddef *fields;
  size_t nfields;
};

/* A message definition by name ("RangeRequest", "WatchResponse", ...), or NULL. */
const pb_msgdef *pb_msg(const char *name);
/* The definition of field number num (or named name when name != NULL). */
const pb_fielddef *pb_field_by_num(const pb_msgdef *m, unsigned num);
const pb_fielddef *pb_field_by_name(const pb_msgdef *m, const char *name);
/* Value of an enum name (case-insensitive), or -1. */
int pb_enum_value(const pb_fielddef *f, const char *name);

/* --- the streamed RangeResponse --- */

/* Scanner state for RangeResponses arriving as gRPC messages in chunks of any
 * size.  pb_range_feed emits records through the callback:
 *   'K' + the kvs fields (tag 0x12, length, KeyValue) complete in this chunk,
 *       i.e. a slice of RangeResponse holding only kvs;
 *   'E' + every other field of the message (header, more, count), once the
 *       whole gRPC message has been read.
 * Nothing else is kept, so memory stays at one KeyValue plus the chunk. */
typedef struct {
  int in_msg;       /* inside a gRPC message */
  uint64_t left;    /* its bytes not yet consumed */
  pb_buf rest;      /* non-kvs fields of the current message */
  pb_buf batch;     /* kvs of the current chunk */
  long messages;    /* complete messages seen */
  long kvs;         /* KeyValues emitted */
  const char *err;  /* static message after a failure */
} pb_range_scan;

typedef int (*pb_emit_fn)(void *ctx, const char *data, size_t len);

/* Consume what it can of data: returns the bytes consumed (the caller keeps
 * the rest and calls again with it followed by more), or -1 with s->err set. */
long pb_range_feed(pb_range_scan *s, const char *data, size_t len, pb_emit_fn emit, void *ctx);
/* 1 when the input so far ended on a message boundary (a clean end). */
int pb_range_clean(const pb_range_scan *s);
/* Free the scanner's buffers (the struct itself is the caller's). */
void pb_range_free(pb_range_scan *s);

/* --- etcd helpers --- */

/* The range_end of a prefix, as etcd's client computes it: strip trailing
 * 0xff bytes, then increment the last byte; an empty or all-0xff prefix gives
 * "\0" (to the end of the keyspace).  out needs len bytes; returns its length. */
size_t pb_prefix_end(const char *key, size_t len, char *out);

/* Append s to b as one line of text: printable UTF-8 as is; a backslash,
 * control bytes, and bytes that are not valid UTF-8 as C escapes (\\ \n \t
 * \r \xHH).  Returns 1 when something was escaped. */
int pb_escape(pb_buf *b, const char *s, size_t n);

#endif
