/* startup.h: KSH_STARTUP marks a function outside the objects linked first
 * (main.o, host.o, error.o: see the Makefile) that every run executes, at
 * start or exit.  GCC puts a hot function in .text.hot, which the linker
 * places ahead of the rest of .text, next to main: the start then touches
 * one run of the program's code pages, not a page here and there (each
 * page touched maps its whole page-cache folio, 64 KB or more). */
#ifndef KSH_STARTUP_H
#define KSH_STARTUP_H

#define KSH_STARTUP __attribute__((hot))

#endif
