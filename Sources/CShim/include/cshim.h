#ifndef SKIFF_CSHIM_H
#define SKIFF_CSHIM_H

#include <sys/types.h>
#include <stdint.h>

// Namespace flags: Swift's Glibc module does not export the CLONE_NEW* macros.
extern const int SKIFF_CLONE_NEWNS;
extern const int SKIFF_CLONE_NEWUTS;
extern const int SKIFF_CLONE_NEWIPC;
extern const int SKIFF_CLONE_NEWNET;
extern const int SKIFF_CLONE_NEWPID;
extern const int SKIFF_CLONE_NEWCGROUP;
extern const int SKIFF_CLONE_NEWUSER;

/// fork(2) that also enters new namespaces (raw clone with no new stack).
/// Returns the child's pid in the parent, 0 in the child, -1 on error (errno set).
pid_t skiff_clone_fork(int flags);
/// Starts a child sharing our memory that writes "0" into `procs` (moving
/// itself where it is) and exits; nobody waits for it. -1 when it could not
/// be started. For a large single-threaded process that must not wait.
int skiff_start_cgroup_touch(const char *procs);
/// mknodat of a character device, then its mode set exactly (no umask).
/// The size of the list of extended attribute names of `path` (not
/// following a symlink): 0 when it has none, -1 on error.
long skiff_xattr_names_size(const char *path);
/// rename(2) that fails with EEXIST instead of replacing `to`.
int skiff_rename_noreplace(const char *from, const char *to);
/// Removes the trusted.overlay.* and user.overlay.* attributes of `path`.
int skiff_remove_overlay_xattrs(const char *path);
int skiff_mknod_char(int dir_fd, const char *name, unsigned major_number, unsigned minor_number, int mode);
/// As skiff_spawn, but returns as soon as the child exists instead of when
/// its exec is done: the child shares our memory until then, so `path`,
/// `argv`, `envp` and the descriptors must stay as they are for good (the
/// CLI's one launch: they are never freed), and an exec that fails shows
/// only as the child's exit (127). For a large single-threaded caller.
int skiff_spawn_nowait(const char *path, char *const argv[], char *const envp[],
                       int in_fd, int out_fd, int err_fd, const int *keep, int nkeep,
                       int new_session, pid_t *pid_out);
int skiff_unshare(int flags);
int skiff_setns(int fd, int nstype);
int skiff_pivot_root(const char *new_root, const char *put_old);
int skiff_pidfd_open(pid_t pid);
int skiff_pidfd_send_signal(int pidfd, int sig);

/// Brings the loopback interface of the caller's network namespace up.
int skiff_loopback_up(void);

/// Terminal helpers: controlling tty, window size, raw mode.
int skiff_set_controlling_tty(int fd);
int skiff_get_winsize(int fd, unsigned short *rows, unsigned short *cols);
int skiff_set_winsize(int fd, unsigned short rows, unsigned short cols);
/// Opens a new pty pair; returns the master fd and stores the slave's path.
int skiff_open_pty(int *slave_fd, char *slave_name, size_t name_len);
/// Opens a pty pair from the devpts instance of `ptmx` (the container's
/// own): the master is returned, the slave opened through the master
/// (TIOCGPTPEER, no path lookup) and its number stored (pts/N).
int skiff_open_pty_at(const char *ptmx, int *slave_fd, int *number);
int skiff_make_raw(int fd, void *saved_termios, size_t saved_len);
int skiff_restore_termios(int fd, const void *saved_termios);
size_t skiff_termios_size(void);

/// posix_spawn with the child's stdin/stdout/stderr set to the given fds
/// (-1 keeps the parent's), keep[i] as the child's fd 3+i, every other fd
/// closed, and optionally a new session. Returns 0 or an errno value.
int skiff_spawn(const char *path, char *const argv[], char *const envp[],
                int in_fd, int out_fd, int err_fd, const int *keep, int nkeep,
                int new_session, pid_t *pid_out);

/// Becomes uid:gid with these supplementary groups, keeping the permitted
/// capabilities across the switch (PR_SET_KEEPCAPS) and raising the
/// effective set back to them, so the capability work that follows still can.
/* set_groups 0: keep the supplementary groups (rootless: setgroups is denied). */
int skiff_switch_user(uint32_t uid, uint32_t gid, const uint32_t *groups, size_t ngroups, int set_groups);
/// setrlimit(2) by resource number (RLIM_INFINITY is UINT64_MAX).
int skiff_set_rlimit(int resource, uint64_t soft, uint64_t hard);
/// Loads a classic BPF program (8-byte sock_filter instructions) as this
/// process's seccomp filter: prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER).
/// Needs no_new_privs (or CAP_SYS_ADMIN).
int skiff_load_seccomp(const void *program, size_t length);

/// Loads a BPF_PROG_TYPE_CGROUP_DEVICE program (`count` 8-byte bpf_insn)
/// and attaches it to the cgroup v2 directory `cgroup_fd` (BPF_F_ALLOW_MULTI).
/// The attachment keeps the program alive; it goes with the cgroup.
int skiff_attach_device_program(int cgroup_fd, const void *insns, unsigned count);

#endif

/// openat2(RESOLVE_IN_ROOT): opens `path` as if `root_fd` were "/", so symlinks
/// and ".." inside a container's rootfs can never lead out of it.
int skiff_open_in_root(int root_fd, const char *path, int flags, int mode);
/// mkdir -p of `path` under `root_fd` with RESOLVE_IN_ROOT for every step.
int skiff_mkdir_in_root(int root_fd, const char *path, int mode);
/// Resets every signal to its default action and unblocks all of them.
void skiff_reset_signals(void);
/// GNU-only names the Glibc module hides.
extern const int SKIFF_O_PATH;
int skiff_pipe_cloexec(int fds[2]);
/// Fills buf with random bytes from the kernel (getrandom(2)).
int skiff_random_bytes(void *buf, size_t len);
/// Closes every descriptor from `lowest` up (close_range(2)).
void skiff_close_from(int lowest);

/// Keeps only the capabilities whose bits are set in `keep`: drops the rest
/// from the bounding set, sets permitted and effective to `keep`, clears the
/// inheritable and ambient sets (capset needs a struct Swift cannot build
/// portably, prctl is variadic).
int skiff_limit_capabilities(uint64_t keep);
/// prctl(PR_SET_NO_NEW_PRIVS): exec can never grant more privileges.
int skiff_set_no_new_privs(void);

/// User namespaces. The most descriptors one message carries (image layers).
#define SKIFF_MAX_PASSED_FDS 128
/// A detached copy of the mount at `path` (open_tree OPEN_TREE_CLONE),
/// idmapped through the user namespace `userns_fd` (mount_setattr
/// MOUNT_ATTR_IDMAP): files the host's root owns look owned by that
/// namespace's root. Returns the tree's fd or -1 (errno set).
int skiff_idmapped_tree(const char *path, int userns_fd);
/// Sends `count` descriptors and one byte over a unix socket (SCM_RIGHTS).
int skiff_send_fds(int sock, const int *fds, int count);
/// Receives up to `max` descriptors (close-on-exec); returns how many, or -1.
int skiff_recv_fds(int sock, int *fds, int max);
int skiff_socketpair_cloexec(int fds[2]);
/// Attaches a detached tree (open_tree) on `path` in the caller's mount
/// namespace (move_mount; a symlinked path is followed).
int skiff_attach_tree(int tree, const char *path);

/// Mount attributes for skiff_new_mount and skiff_clone_mount (the
/// kernel's MOUNT_ATTR_* values).
enum {
    SKIFF_MOUNT_RDONLY = 0x1, SKIFF_MOUNT_NOSUID = 0x2, SKIFF_MOUNT_NODEV = 0x4,
    SKIFF_MOUNT_NOEXEC = 0x8, SKIFF_MOUNT_STRICTATIME = 0x20,
};
/// A new `type` filesystem from `source` with `options` ("key=value,flag",
/// as mount(8) takes them), as a detached mount with `attrs`: its fd, or
/// -1 with errno.
int skiff_new_mount(const char *type, const char *source, const char *options, unsigned attrs);
/// A detached copy of the mounts at `path` under `dir_fd` (`dir_fd` itself
/// when `path` is empty), submounts included, with `attrs` set on all.
int skiff_clone_mount(int dir_fd, const char *path, unsigned attrs);
/// Puts the detached mount `mount_fd` onto the file or directory
/// `target_fd` (an O_PATH descriptor, so no path is resolved again).
int skiff_place_mount(int mount_fd, int target_fd);
