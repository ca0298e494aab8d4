#define _GNU_SOURCE
#include "cshim.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

const int SKIFF_CLONE_NEWNS = CLONE_NEWNS;
const int SKIFF_CLONE_NEWUTS = CLONE_NEWUTS;
const int SKIFF_CLONE_NEWIPC = CLONE_NEWIPC;
const int SKIFF_CLONE_NEWNET = CLONE_NEWNET;
const int SKIFF_CLONE_NEWPID = CLONE_NEWPID;
const int SKIFF_CLONE_NEWCGROUP = CLONE_NEWCGROUP;
const int SKIFF_CLONE_NEWUSER = CLONE_NEWUSER;

pid_t skiff_clone_fork(int flags) {
    // With a NULL stack the child runs on a copy-on-write copy of ours, like fork().
    return (pid_t)syscall(SYS_clone, (unsigned long)(flags | SIGCHLD), NULL, NULL, NULL, NULL);
}

int skiff_unshare(int flags) { return unshare(flags); }
int skiff_setns(int fd, int nstype) { return setns(fd, nstype); }
int skiff_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}
int skiff_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
int skiff_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int skiff_loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int skiff_set_controlling_tty(int fd) { return ioctl(fd, TIOCSCTTY, 0); }

int skiff_get_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return -1;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 0;
}

int skiff_set_winsize(int fd, unsigned short rows, unsigned short cols) {
    struct winsize ws;
    memset(&ws, 0, sizeof ws);
    ws.ws_row = rows;
    ws.ws_col = cols;
    return ioctl(fd, TIOCSWINSZ, &ws);
}

int skiff_open_pty(int *slave_fd, char *slave_name, size_t name_len) {
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -1;
    if (grantpt(master) != 0 || unlockpt(master) != 0 ||
        ptsname_r(master, slave_name, name_len) != 0) {
        int saved = errno;
        close(master);
        errno = saved;
        return -1;
    }
    int slave = open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        int saved = errno;
        close(master);
        errno = saved;
        return -1;
    }
    *slave_fd = slave;
    return master;
}

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int skiff_open_pty_at(const char *ptmx, int *slave_fd, int *number) {
    int master = open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -1;
    int unlock = 0;
    int slave = -1;
    if (ioctl(master, TIOCSPTLCK, &unlock) != 0 || ioctl(master, TIOCGPTN, number) != 0 ||
        (slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
        int saved = errno;
        close(master);
        errno = saved;
        return -1;
    }
    *slave_fd = slave;
    return master;
}

size_t skiff_termios_size(void) { return sizeof(struct termios); }

int skiff_make_raw(int fd, void *saved_termios, size_t saved_len) {
    struct termios t;
    if (saved_len < sizeof t) { errno = EINVAL; return -1; }
    if (tcgetattr(fd, &t) != 0) return -1;
    memcpy(saved_termios, &t, sizeof t);
    cfmakeraw(&t);
    return tcsetattr(fd, TCSANOW, &t);
}

int skiff_restore_termios(int fd, const void *saved_termios) {
    return tcsetattr(fd, TCSANOW, (const struct termios *)saved_termios);
}

// Where the kept descriptors wait between their two moves: above every one
// of them and above their final places 3..3+nkeep-1, so that no source is
// overwritten before it is copied. As low as that allows: a fixed high
// number (900 once) fails under a low RLIMIT_NOFILE (ulimit -n 512).
static int skiff_spare_base(const int *keep, int nkeep) {
    int base = 3 + nkeep;
    for (int i = 0; i < nkeep; i++) {
        if (keep[i] + 1 > base) base = keep[i] + 1;
    }
    return base;
}

int skiff_spawn(const char *path, char *const argv[], char *const envp[],
                int in_fd, int out_fd, int err_fd, const int *keep, int nkeep,
                int new_session, pid_t *pid_out) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&fa); return rc; }
    int fds[3] = {in_fd, out_fd, err_fd};
    for (int i = 0; i < 3; i++) {
        if (fds[i] >= 0) posix_spawn_file_actions_adddup2(&fa, fds[i], i);
    }
    // Two steps through high spare numbers, so that no source is overwritten
    // before it is copied, and so that dup2 never targets its own fd (which
    // would leave close-on-exec set).
    int spare = skiff_spare_base(keep, nkeep);
    for (int i = 0; i < nkeep; i++) posix_spawn_file_actions_adddup2(&fa, keep[i], spare + i);
    for (int i = 0; i < nkeep; i++) posix_spawn_file_actions_adddup2(&fa, spare + i, 3 + i);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3 + nkeep);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (new_session) flags |= POSIX_SPAWN_SETSID;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, flags);
    rc = posix_spawn(pid_out, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

#include <linux/openat2.h>
#include <sys/stat.h>

int skiff_open_in_root(int root_fd, const char *path, int flags, int mode) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? (unsigned long long)mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    while (*path == '/') path++;
    if (*path == 0) path = ".";
    return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
}

int skiff_mkdir_in_root(int root_fd, const char *path, int mode) {
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char saved = buf[i];
        buf[i] = 0;
        int fd = skiff_open_in_root(root_fd, buf, O_PATH | O_DIRECTORY, 0);
        if (fd >= 0) {
            close(fd);
        } else {
            // Create the last component inside its (already resolved) parent.
            char *slash = strrchr(buf, '/');
            const char *name = slash ? slash + 1 : buf;
            int parent;
            if (slash && slash != buf) {
                *slash = 0;
                parent = skiff_open_in_root(root_fd, buf, O_PATH | O_DIRECTORY, 0);
                *slash = '/';
            } else {
                parent = dup(root_fd);
            }
            if (parent < 0) return -1;
            int rc = mkdirat(parent, name, (mode_t)mode);
            int saved_errno = errno;
            close(parent);
            if (rc != 0 && saved_errno != EEXIST) { errno = saved_errno; return -1; }
        }
        buf[i] = saved;
    }
    return 0;
}

void skiff_reset_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

const int SKIFF_O_PATH = O_PATH;
int skiff_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

#include <sys/random.h>
int skiff_random_bytes(void *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom((char *)buf + done, len - done, 0);
        if (n < 0) { if (errno == EINTR) continue; return -1; }
        done += (size_t)n;
    }
    return 0;
}

void skiff_close_from(int lowest) { closefrom(lowest); }

#include <linux/capability.h>
#include <sys/prctl.h>

int skiff_limit_capabilities(uint64_t keep) {
    for (int cap = 0; cap < 64; cap++) {
        if (keep & (1ULL << cap)) continue;
        // EINVAL: this kernel has no such capability.
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return -1;
    }
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    // Never ask for more than we hold (root may itself run without some).
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    keep &= ((uint64_t)data[1].permitted << 32) | data[0].permitted;
    memset(data, 0, sizeof data);
    data[0].effective = data[0].permitted = (uint32_t)keep;
    data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
    if (syscall(SYS_capset, &header, data) != 0) return -1;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -1;
    return 0;
}

int skiff_set_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }

#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/resource.h>

int skiff_switch_user(uint32_t uid, uint32_t gid, const uint32_t *groups, size_t ngroups, int set_groups) {
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return -1;
    if (set_groups && setgroups(ngroups, (const gid_t *)groups) != 0) return -1;
    if (setresgid(gid, gid, gid) != 0) return -1;
    if (setresuid(uid, uid, uid) != 0) return -1;
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return -1;
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    data[0].effective = data[0].permitted;
    data[1].effective = data[1].permitted;
    return (int)syscall(SYS_capset, &header, data);
}

int skiff_set_rlimit(int resource, uint64_t soft, uint64_t hard) {
    struct rlimit limit = { (rlim_t)soft, (rlim_t)hard };
    return setrlimit((__rlimit_resource_t)resource, &limit);
}

int skiff_load_seccomp(const void *program, size_t length) {
    if (length == 0 || length % sizeof(struct sock_filter) != 0 ||
        length / sizeof(struct sock_filter) > BPF_MAXINSNS) {
        errno = EINVAL;
        return -1;
    }
    struct sock_fprog prog = { (unsigned short)(length / sizeof(struct sock_filter)),
                               (struct sock_filter *)program };
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

#include <linux/bpf.h>

int skiff_attach_device_program(int cgroup_fd, const void *insns, unsigned count) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = count;
    attr.license = (uint64_t)(uintptr_t)"Apache-2.0";
    int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    if (prog < 0) return -1;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    int rc = (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr);
    int saved = errno;
    close(prog);
    errno = saved;
    return rc;
}

// ---- user namespaces: idmapped mounts and descriptor passing ----
#include <sys/mount.h>

int skiff_idmapped_tree(const char *path, int userns_fd) {
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) return -1;
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = (uint64_t)userns_fd;
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
        int saved = errno;
        close(tree);
        errno = saved;
        return -1;
    }
    return tree;
}

int skiff_send_fds(int sock, const int *fds, int count) {
    if (count < 1 || count > SKIFF_MAX_PASSED_FDS) { errno = EINVAL; return -1; }
    char byte = 1;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { char buf[CMSG_SPACE(sizeof(int) * SKIFF_MAX_PASSED_FDS)]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.buf, .msg_controllen = CMSG_SPACE(sizeof(int) * count) };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * count);
    return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

int skiff_recv_fds(int sock, int *fds, int max) {
    char byte = 0;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union { char buf[CMSG_SPACE(sizeof(int) * SKIFF_MAX_PASSED_FDS)]; struct cmsghdr align; } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n != 1) { if (n == 0) errno = EPIPE; return -1; }
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS) { errno = EPROTO; return -1; }
    int count = (int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    if (count > max) count = max;
    memcpy(fds, CMSG_DATA(cmsg), sizeof(int) * count);
    return count;
}

int skiff_socketpair_cloexec(int fds[2]) { return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds); }

int skiff_attach_tree(int tree, const char *path) {
    return (int)syscall(SYS_move_mount, tree, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS);
}

// ---- Mounts made detached (the new mount API) ---------------------------
//
// A mount is made as a descriptor first and put in place afterwards, so
// that the container's /proc, /sys and /dev can be built whole (masks and
// submounts included) before its root exists, and moved in with one call
// each. Linux 6.15 and later let mounts go onto a detached tree; before
// that, the trees are put in place first and their submounts after.

int skiff_new_mount(const char *type, const char *source, const char *options, unsigned attrs) {
    int fs = (int)syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
    if (fs < 0) return -1;
    int rc = (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", source, 0);
    char buf[1024];
    if (rc == 0 && options && *options) {
        if (strlen(options) >= sizeof buf) { close(fs); errno = EINVAL; return -1; }
        strcpy(buf, options);
        char *saveptr = NULL;
        for (char *option = strtok_r(buf, ",", &saveptr); option && rc == 0; option = strtok_r(NULL, ",", &saveptr)) {
            char *equals = strchr(option, '=');
            if (equals) {
                *equals = 0;
                rc = (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, option, equals + 1, 0);
            } else {
                rc = (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, option, NULL, 0);
            }
        }
    }
    if (rc == 0) rc = (int)syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
    int mount_fd = rc == 0 ? (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs) : -1;
    int saved = errno;
    close(fs);
    errno = saved;
    return mount_fd;
}

int skiff_clone_mount(int dir_fd, const char *path, unsigned attrs) {
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | (*path ? 0 : AT_EMPTY_PATH);
    int tree = (int)syscall(SYS_open_tree, dir_fd, path, flags);
    if (tree < 0 || attrs == 0) return tree;
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = attrs;
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
        int saved = errno;
        close(tree);
        errno = saved;
        return -1;
    }
    return tree;
}

int skiff_place_mount(int mount_fd, int target_fd) {
    return (int)syscall(SYS_move_mount, mount_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

// ---- The early cgroup move, without copying our address space ----------

#include <sys/mman.h>

// The child shares our memory, errno included (same TLS): it must not call
// libc, which sets errno on failure. Raw system calls only.
static long skiff_raw_syscall6(long number, long a, long b, long c, long d, long e, long f);

static long skiff_raw_syscall3(long number, long a, long b, long c) {
    return skiff_raw_syscall6(number, a, b, c, 0, 0, 0);
}

static int skiff_touch_procs(void *arg) {
    // We share the caller's memory (CLONE_VM) but not its descriptor table:
    // close every inherited descriptor, so that nobody waiting for the
    // caller's pipes waits for us, then move ourselves where we are.
    skiff_raw_syscall3(SYS_close_range, 0, ~0U, 0);
    long fd = skiff_raw_syscall3(SYS_openat, AT_FDCWD, (long)arg, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) skiff_raw_syscall3(SYS_write, fd, (long)"0", 1);
    skiff_raw_syscall3(SYS_exit, 0, 0, 0);  // this task only
    return 0;
}

int skiff_start_cgroup_touch(const char *procs) {
#if !defined(__x86_64__) && !defined(__aarch64__)
    (void)procs;
    return -1;  // no raw system calls here: the caller does it another way
#else
    // A fork() of a large process costs a copy of its page tables (0.8 ms of
    // CPU measured for `skiff` at start-up); a CLONE_VM child on a stack of
    // its own costs almost nothing. The path and the stack are never freed:
    // the child may outlive any point at which we could know it is done.
    size_t size = 64 * 1024;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -1;
    char *path = strdup(procs);
    if (path == NULL) { munmap(stack, size); return -1; }
    // No exit signal: nobody waits for it; init reaps it once we are gone.
    pid_t pid = clone(skiff_touch_procs, stack + size, CLONE_VM, path);
    if (pid < 0) { free(path); munmap(stack, size); return -1; }
    return 0;
#endif
}

// ---- Spawning without waiting for the exec ------------------------------

struct skiff_nowait_child {
    const char *path;
    char *const *argv;
    char *const *envp;
    int fds[3];
    const int *keep;
    int nkeep;
    int new_session;
    int spare;  // skiff_spare_base, worked out before the clone
};

static long skiff_raw_syscall6(long number, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = number;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory", "cc");
    return x0;
#else
    (void)number; (void)a; (void)b; (void)c; (void)d; (void)e; (void)f;
    return -ENOSYS;
#endif
}

static int skiff_nowait_exec(void *arg) {
    // Same file actions as skiff_spawn, as raw system calls: we share the
    // caller's memory (and errno) until the exec.
    struct skiff_nowait_child *c = arg;
    for (int i = 0; i < 3; i++) {
        if (c->fds[i] >= 0) skiff_raw_syscall3(SYS_dup3, c->fds[i], i, 0);
    }
    for (int i = 0; i < c->nkeep; i++) skiff_raw_syscall3(SYS_dup3, c->keep[i], c->spare + i, 0);
    for (int i = 0; i < c->nkeep; i++) skiff_raw_syscall3(SYS_dup3, c->spare + i, 3 + i, 0);
    skiff_raw_syscall3(SYS_close_range, 3 + c->nkeep, ~0U, 0);
    if (c->new_session) skiff_raw_syscall3(SYS_setsid, 0, 0, 0);
    // Every signal to its default, none blocked, as posix_spawn's SETSIGDEF
    // and SETSIGMASK (an ignored signal would stay ignored across exec).
    struct { void *handler; unsigned long flags; void *restorer; unsigned long mask; } dfl = { SIG_DFL, 0, NULL, 0 };
    for (long sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        skiff_raw_syscall6(SYS_rt_sigaction, sig, (long)&dfl, 0, 8, 0, 0);
    }
    unsigned long none = 0;
    skiff_raw_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&none, 0, 8, 0, 0);
    skiff_raw_syscall3(SYS_execve, (long)c->path, (long)c->argv, (long)c->envp);
    skiff_raw_syscall3(SYS_exit, 127, 0, 0);
    return 0;
}

int skiff_spawn_nowait(const char *path, char *const argv[], char *const envp[],
                       int in_fd, int out_fd, int err_fd, const int *keep, int nkeep,
                       int new_session, pid_t *pid_out) {
#if !defined(__x86_64__) && !defined(__aarch64__)
    return skiff_spawn(path, argv, envp, in_fd, out_fd, err_fd, keep, nkeep, new_session, pid_out);
#else
    size_t size = 64 * 1024;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return errno;
    // The child reads these after we have returned: they live in the
    // mapping, which is never freed (see the header).
    struct skiff_nowait_child *c = (struct skiff_nowait_child *)stack;
    int *keep_copy = (int *)(c + 1);
    if (nkeep > 64) { munmap(stack, size); return EINVAL; }
    for (int i = 0; i < nkeep; i++) keep_copy[i] = keep[i];
    *c = (struct skiff_nowait_child){ path, argv, envp, { in_fd, out_fd, err_fd }, keep_copy, nkeep, new_session,
                                      skiff_spare_base(keep, nkeep) };
    pid_t pid = clone(skiff_nowait_exec, stack + size, CLONE_VM | SIGCHLD, c);
    if (pid < 0) { int code = errno; munmap(stack, size); return code; }
    *pid_out = pid;
    return 0;
#endif
}

// ---- Device nodes --------------------------------------------------------

#include <sys/sysmacros.h>

int skiff_mknod_char(int dir_fd, const char *name, unsigned major_number, unsigned minor_number, int mode) {
    // O_PATH directory fds work with mknodat (AT_EMPTY_PATH is not needed:
    // the name is relative to the directory).
    if (mknodat(dir_fd, name, S_IFCHR | (mode_t)mode, makedev(major_number, minor_number)) != 0) return -1;
    // The umask took bits off the mode.
    return fchmodat(dir_fd, name, (mode_t)mode, 0);
}

#include <sys/xattr.h>

#include <linux/fs.h>

int skiff_rename_noreplace(const char *from, const char *to) {
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

long skiff_xattr_names_size(const char *path) { return (long)llistxattr(path, NULL, 0); }

int skiff_remove_overlay_xattrs(const char *path) {
    char names[4096];
    ssize_t n = llistxattr(path, names, sizeof names);
    if (n < 0) return -1;
    for (ssize_t at = 0; at < n; at += (ssize_t)strlen(names + at) + 1) {
        const char *name = names + at;
        if (strncmp(name, "trusted.overlay.", 16) == 0 || strncmp(name, "user.overlay.", 13) == 0) {
            if (lremovexattr(path, name) != 0) return -1;
        }
    }
    return 0;
}
