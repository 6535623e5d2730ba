/* Linux's /proc/self/maps, read without malloc, for the OS files that
 * need it (os_code_linux.c, os_read_linux.c). Not part of os.h: a port has
 * its own way to list its mappings. */
#ifndef REHEAP_OS_MAPS_LINUX_H
#define REHEAP_OS_MAPS_LINUX_H

#include <stdbool.h>
#include <stdint.h>

/* Calls fn for each mapping, in address order, with the rest of its line
 * after "lo-hi " (perms, offset, device, inode, path), until fn returns
 * true; false if the maps cannot be read. */
__attribute__((visibility("hidden"))) bool os_maps_each(
    bool (*fn)(uintptr_t lo, uintptr_t hi, const char *perms, void *arg), void *arg);
/* A hexadecimal number at *p, which is left after it. */
__attribute__((visibility("hidden"))) uintptr_t os_parse_hex(const char **p);

#endif
