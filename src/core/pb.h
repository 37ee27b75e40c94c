/* pb.h: a small protobuf wire codec (no Lua in here) with the etcd v3
 * message schemas kscript uses.  etcd's streamed range reads and the text of
 * keys are etcdscan.h.
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

#endif
