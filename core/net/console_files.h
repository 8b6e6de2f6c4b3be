/* console_files: the console's page, embedded at build time by
 * cmake/embed.cmake from the folder console/ (the generated console_files.c
 * in the build tree defines these). */
#ifndef HOOKD_CONSOLE_FILES_H
#define HOOKD_CONSOLE_FILES_H

#include <stddef.h>

typedef struct hookd_console_file {
    const char *url;            /* "/", "/console.css", "/console.js" */
    const char *name;           /* its file name in console/ */
    const char *ctype;          /* Content-Type */
    const unsigned char *data;  /* len bytes (then a NUL) */
    size_t len;
} hookd_console_file;

extern const hookd_console_file hookd_console_files[];
extern const size_t hookd_console_nfiles;

#endif
