/* http_fuzz: libFuzzer target for the response header handling of
 * src/core/http.c (the header callback libcurl calls with each status line,
 * header line and the blank line ending the headers; later lines are
 * trailers).  The input is cut into lines at '\n', each handed over with its
 * line end as libcurl does.  Checked against a model of the rules: the status
 * and HTTP version come from the last status line before the headers end
 * (an interim 1xx response resets the headers); a blank line ends the
 * headers once the status is >= 200; every other line is kept as received
 * less its CR/LF, its name (up to ':') lowercased, in order, as a header or,
 * after the end, a trailer.  Built and run by tests/fuzz/run. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXL 512

static void fail(const char *what, size_t i) {
  fprintf(stderr, "http_fuzz: %s (line %zu)\n", what, i);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  http_req *r = http_test_req();
  if (!r) return 0;
  /* the model */
  static char *want[2][MAXL];
  size_t nw[2] = {0, 0}, nlines = 0;
  long status = 0;
  int done = 0;
  char ver[16] = "";
  size_t off = 0;
  while (off < size && nlines < MAXL) {
    const uint8_t *nl = memchr(data + off, '\n', size - off);
    size_t len = nl ? (size_t)(nl - (data + off)) + 1 : size - off;
    char *line = malloc(len + 1);
    memcpy(line, data + off, len);
    line[len] = 0;
    off += len;
    nlines++;
    if (http_test_header(r, line, len) != len) fail("header callback refused a line", nlines);
    size_t n = len;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0 && !done) {
      for (size_t i = 0; i < nw[0]; i++) free(want[0][i]);
      nw[0] = 0;
      const char *sp = memchr(line, ' ', n);
      status = sp ? strtol(sp + 1, NULL, 10) : 0;
      size_t vl = sp ? (size_t)(sp - line) : n;
      if (vl > 15) vl = 15;
      memcpy(ver, line, vl);
      ver[vl] = 0;
    } else if (n == 0) {
      if (!done && status >= 200) done = 1;
    } else {
      char *w = malloc(n + 1);
      memcpy(w, line, n);
      w[n] = 0;
      for (char *p = w; *p && *p != ':'; p++) *p = (char)tolower((unsigned char)*p);
      want[done][nw[done]++] = w;
    }
    free(line);
  }
  if (http_status(r) != status) fail("status differs", nlines);
  if (!!http_headers_done(r) != done) fail("headers_done differs", nlines);
  if (strcmp(http_version_str(r), ver) != 0) fail("version differs", nlines);
  for (int t = 0; t < 2; t++) {
    if (http_header_count(r, t) != nw[t]) fail(t ? "trailer count differs" : "header count differs", nlines);
    for (size_t i = 0; i < nw[t]; i++) {
      const char *got = http_header_line(r, t, i);
      if (!got || strcmp(got, want[t][i]) != 0) fail(t ? "trailer differs" : "header differs", i);
      free(want[t][i]);
    }
    if (http_header_line(r, t, nw[t]) != NULL) fail("a line past the end", nw[t]);
  }
  http_free(r);
  return 0;
}
