#ifndef SKIFF_CSECCOMP_SHIM_H
#define SKIFF_CSECCOMP_SHIM_H

#include <seccomp.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

// libseccomp's action values are function-like macros, invisible to Swift.

static inline uint32_t skiff_scmp_act_errno(uint16_t code) { return SCMP_ACT_ERRNO(code); }
static inline uint32_t skiff_scmp_act_trace(uint16_t code) { return SCMP_ACT_TRACE(code); }
static inline uint32_t skiff_scmp_act_allow(void) { return SCMP_ACT_ALLOW; }
static inline uint32_t skiff_scmp_act_kill_thread(void) { return SCMP_ACT_KILL_THREAD; }
static inline uint32_t skiff_scmp_act_kill_process(void) { return SCMP_ACT_KILL_PROCESS; }
static inline uint32_t skiff_scmp_act_trap(void) { return SCMP_ACT_TRAP; }
static inline uint32_t skiff_scmp_act_log(void) { return SCMP_ACT_LOG; }

/// An anonymous in-memory file for seccomp_export_bpf to write into
/// (memfd_create(MFD_CLOEXEC); Swift's Glibc does not export it).
static inline int skiff_seccomp_memfd(void) {
    return (int)syscall(SYS_memfd_create, "skiff-seccomp", 1u /* MFD_CLOEXEC */);
}

#endif
