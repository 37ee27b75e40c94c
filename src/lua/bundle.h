/* bundle.h: Lua sources compiled into the binary (generated build/bundle.c). */
#ifndef KSH_BUNDLE_H
#define KSH_BUNDLE_H
#include <stddef.h>

typedef struct {
  const char *path; /* "lua/k8s.lua", "scripts/get.lua" */
  const unsigned char *data;
  size_t len;
  const unsigned char *code; /* its bytecode (luac5.4, with debug info), or NULL */
  size_t codelen;
} bundle_entry;

/* NULL-path-terminated table of every bundled file. */
extern const bundle_entry bundle_files[];

/* The source of a bundled file by its repo path, or NULL. */
const char *bundle_find(const char *path, size_t *len);

/* The precompiled bytecode of a bundled file, or NULL (none was built). */
const char *bundle_find_code(const char *path, size_t *len);

#endif
