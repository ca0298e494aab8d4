#ifndef SKIFF_CARCHIVE_SHIM_H
#define SKIFF_CARCHIVE_SHIM_H

#include <archive.h>
#include <archive_entry.h>

#include <fcntl.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

// Helpers for the image store (SkiffImages). Swift's Glibc module does not
// export pipe2, renameat2 or the CLONE_FS flag, so they are reached through
// raw syscalls here. <sys/xattr.h> above brings setxattr/getxattr to Swift.

/// unshare(CLONE_FS) for the calling thread only: it gets its own current
/// directory and umask, so extracting a layer can chdir into it without
/// disturbing the other threads of the process.
static inline int skiff_archive_unshare_fs(void) {
    return (int)syscall(SYS_unshare, 0x00000200 /* CLONE_FS */);
}

/// rename(2) that fails with EEXIST instead of replacing an existing target
/// (renameat2 with RENAME_NOREPLACE).
static inline int skiff_archive_rename_noreplace(const char *from, const char *to) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */);
}

/// pipe(2) with both ends close-on-exec from the start.
static inline int skiff_archive_pipe_cloexec(int fds[2]) {
    return (int)syscall(SYS_pipe2, fds, O_CLOEXEC);
}

/// makedev(3) is a macro in glibc.
static inline dev_t skiff_archive_makedev(unsigned int major, unsigned int minor) {
    return (((dev_t)(major & 0xfffff000u)) << 32) | (((dev_t)(major & 0x00000fffu)) << 8) |
           (((dev_t)(minor & 0xffffff00u)) << 12) | ((dev_t)(minor & 0x000000ffu));
}

#endif
