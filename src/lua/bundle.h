/* bundle.h: Lua sources compiled into the binary (generated build/bundle.c). */
#ifndef KSH_BUNDLE_H
#define KSH_BUNDLE_H
#include <stddef.h>

/* The repo path of bundled file i ("lua/k8s.lua", "scripts/get.lua"), in
 * the order of the build's list; NULL past the last. */
const char *bundle_path(size_t i);

/* The source of a bundled file by its repo path, or NULL. */
const char *bundle_find(const char *path, size_t *len);

/* The precompiled bytecode of a bundled file, or NULL (none was built). */
const char *bundle_find_code(const char *path, size_t *len);

#endif
