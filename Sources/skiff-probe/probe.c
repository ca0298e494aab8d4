// skiff-probe: one escape attempt, run inside a container.
//
// Static C, because the busybox image has no libc for a Swift binary and
// several attempts need raw syscalls (keyctl, open_by_handle_at, finit_module,
// reboot, pivot_root). Usage: skiff-probe NAME [ARG]. It prints one line per
// step, "step WHAT ok" or "step WHAT err ERRNO", then notes ("note K V")
// and facts about itself ("fact CapEff ...", "ns pid ...", "mountinfo ...").
// `skiff doctor --probes` reads those lines and decides which layer stopped
// each step. Every attempt is chosen so that, even where it is allowed
// (--privileged), it changes nothing outside the container: see the comments.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void step(const char *what, int rc) {
    if (rc >= 0) printf("step %s ok\n", what);
    else printf("step %s err %d\n", what, errno);
    fflush(stdout);
}

static void dump(const char *path, const char *prefix, const char *only) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (only && strncmp(line, only, strlen(only)) != 0) continue;
        printf("%s %s", prefix, line);
    }
    fclose(f);
}

static void facts(void) {
    dump("/proc/self/status", "fact", "Cap");
    dump("/proc/self/status", "fact", "Seccomp:");
    dump("/proc/self/status", "fact", "NoNewPrivs:");
    const char *types[] = {"pid", "uts", "mnt", "user", "net", "ipc", "cgroup"};
    for (unsigned i = 0; i < sizeof types / sizeof *types; i++) {
        char path[64], link[128];
        snprintf(path, sizeof path, "/proc/self/ns/%s", types[i]);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) { link[n] = 0; printf("ns %s %s\n", types[i], link); }
    }
    dump("/proc/self/mountinfo", "mountinfo", NULL);
}

// The mount point for attempts that need one: an empty directory of our own.
static const char *scratch_dir(void) {
    mkdir("/tmp", 01777);
    if (mkdir("/tmp/skiff-probe", 0755) == 0 || errno == EEXIST) return "/tmp/skiff-probe";
    return "/mnt";
}

// Mounting is what every escape needs first. Where allowed, the tmpfs lives
// in the container's own mount namespace and goes with it.
static void probe_mount(void) {
    step("mount", mount("tmpfs", scratch_dir(), "tmpfs", 0, "size=1m"));
}

// Run with --read-only: writing fails, then try to make / writable again.
// Where allowed, only the container's own bind of its root changes.
static void probe_remount(void) {
    struct statvfs vfs;
    if (statvfs("/", &vfs) == 0) printf("note root_ro %d\n", (vfs.f_flag & ST_RDONLY) ? 1 : 0);
    int fd = open("/.skiff-probe-write", O_CREAT | O_WRONLY, 0600);
    step("write", fd);
    if (fd >= 0) { close(fd); unlink("/.skiff-probe-write"); }
    step("remount", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
}

// Only opened for writing: a byte written there would act on the host
// kernel (even with --privileged the probe writes nothing).
static void probe_sysrq(void) {
    int fd = open("/proc/sysrq-trigger", O_WRONLY);
    step("open-write", fd);
    if (fd >= 0) close(fd);
}

// A masked file reads as empty (/dev/null over it); a missing one is ENOENT.
static void probe_read(const char *path) {
    int fd = open(path, O_RDONLY);
    step("open", fd);
    if (fd < 0) return;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    step("read", n < 0 ? -1 : 0);
    if (n >= 0) printf("note bytes %zd\n", n);
    close(fd);
}

// ARG is MAJOR:MINOR of the host's root disk. Reading 512 bytes changes nothing.
static void probe_block(const char *arg) {
    unsigned major = 0, minor = 0;
    if (!arg || sscanf(arg, "%u:%u", &major, &minor) != 2) { major = 8; minor = 0; }
    const char *node = "/dev/skiff-probe-disk";
    unlink(node);
    int rc = mknod(node, S_IFBLK | 0600, makedev(major, minor));
    step("mknod", rc);
    if (rc < 0) return;
    int fd = open(node, O_RDONLY);
    step("open", fd);
    if (fd >= 0) {
        char buf[512];
        step("read", read(fd, buf, sizeof buf) < 0 ? -1 : 0);
        close(fd);
    }
    unlink(node);
}

// finit_module on fd -1: the kernel checks CAP_SYS_MODULE first, so EBADF
// means "allowed" without any module ever being read.
static void probe_module(void) {
    step("finit_module", (int)syscall(SYS_finit_module, -1, "", 0));
}

// CAD_OFF passes the same capability check as a restart. In a pid namespace
// other than the first, the kernel answers anything but restart/halt with
// EINVAL and changes nothing; restart would only kill the container's init.
static void probe_reboot(void) {
    step("reboot", (int)syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                                LINUX_REBOOT_CMD_CAD_OFF, NULL));
}

// Where allowed, it renames only the container's uts namespace; the runner
// checks the host's own name before and after.
static void probe_hostname(void) {
    const char *name = "skiff-probe-escaped";
    step("sethostname", sethostname(name, strlen(name)));
}

// settimeofday(NULL, NULL) makes the same CAP_SYS_TIME check as a real change
// of the clock, and then changes nothing.
static void probe_clock(void) {
    step("settimeofday", syscall(SYS_settimeofday, NULL, NULL) < 0 ? -1 : 0);
}

static int visible_processes(void) {
    DIR *d = opendir("/proc");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) if (e->d_name[0] >= '1' && e->d_name[0] <= '9') n++;
    closedir(d);
    return n;
}

// ARG is a host pid (the runner's own). Attach would stop it, so on success
// detach at once.
static void probe_ptrace(const char *arg) {
    pid_t pid = arg ? atoi(arg) : 1;
    long rc = ptrace(PTRACE_ATTACH, pid, 0, 0);
    step("ptrace-attach", rc < 0 ? -1 : 0);
    if (rc == 0) { waitpid(pid, NULL, __WALL); ptrace(PTRACE_DETACH, pid, 0, 0); }
}

// Signal 0 asks only whether the process could be signalled.
static void probe_signal(const char *arg) {
    pid_t pid = arg ? atoi(arg) : 1;
    printf("note visible_processes %d\n", visible_processes());
    step("kill", kill(pid, 0));
}

static void probe_userns(void) {
    step("unshare-user", unshare(CLONE_NEWUSER));
}

// Reads the id of the session keyring: keyrings are not namespaced, so any
// access reaches the host's.
static void probe_keyctl(void) {
    long id = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* SESSION */, 0);
    step("keyctl", id < 0 ? -1 : 0);
}

// The "shocker" escape: a file handle names an inode on a filesystem, not a
// path, so a handle for inode 2 (an ext4 root) opened through any file of a
// bind-mounted host filesystem reaches that filesystem's root. Only opened.
static void probe_handle(void) {
    struct { struct file_handle h; unsigned char bytes[128]; } fh;
    fh.h.handle_bytes = sizeof fh.bytes;
    int mount_id = 0;
    int rc = name_to_handle_at(AT_FDCWD, "/.skiff-probe", &fh.h, &mount_id, 0);
    step("name_to_handle_at", rc);
    if (rc < 0 || fh.h.handle_type != 1 /* FILEID_INO32_GEN */ || fh.h.handle_bytes < 8) {
        fh.h.handle_type = 1;
        fh.h.handle_bytes = 8;
    }
    unsigned int root[2] = {2, 0};   // inode 2, any generation
    memcpy(fh.h.f_handle, root, sizeof root);
    int anchor = open("/.skiff-probe", O_RDONLY);
    int fd = open_by_handle_at(anchor, &fh.h, O_RDONLY | O_DIRECTORY);
    step("open_by_handle_at", fd);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) == 0) printf("note opened_inode %lu\n", (unsigned long)st.st_ino);
        close(fd);
    }
    if (anchor >= 0) close(anchor);
}

// ARG is a path that exists only on the host. Each trick ends with a look at
// whether that path became visible.
static void look_for_host(const char *marker) {
    struct stat st;
    printf("note host_visible %d\n", marker && stat(marker, &st) == 0 ? 1 : 0);
}

// chroot into a subdirectory while keeping a descriptor of the old root,
// fchdir back to it and climb "..": the classic chroot escape. In a mount
// namespace after pivot_root, ".." of the root is the root.
static void probe_chroot(const char *marker) {
    struct stat before, after;
    stat("/", &before);
    int old = open("/", O_RDONLY | O_DIRECTORY);
    const char *jail = scratch_dir();
    int rc = chroot(jail);
    step("chroot", rc);
    if (rc == 0 && old >= 0) {
        step("fchdir", fchdir(old));
        for (int i = 0; i < 64; i++) if (chdir("..") < 0) break;
        step("chroot-dot", chroot("."));
    }
    if (old >= 0) close(old);
    if (stat("/", &after) == 0)
        printf("note root_changed %d\n", before.st_dev != after.st_dev || before.st_ino != after.st_ino);
    look_for_host(marker);
}

// pivot_root(".", ".") stacks the old root under the new one; where allowed,
// it rearranges only the container's own mount namespace.
static void probe_pivot(const char *marker) {
    if (chdir("/") == 0) step("pivot_root", (int)syscall(SYS_pivot_root, ".", "."));
    look_for_host(marker);
}

// Fork until the kernel says no; every child only waits to be killed.
static void probe_forkbomb(void) {
    enum { cap = 4096 };
    static pid_t kids[cap];
    int n = 0, err = 0;
    while (n < cap) {
        pid_t pid = fork();
        if (pid < 0) { err = errno; break; }
        if (pid == 0) { pause(); _exit(0); }
        kids[n++] = pid;
    }
    printf("note forked %d\n", n);
    errno = err;
    step("fork", err ? -1 : 0);
    for (int i = 0; i < n; i++) kill(kids[i], SIGKILL);
    for (int i = 0; i < n; i++) waitpid(kids[i], NULL, 0);
}

// A child touches ARG MiB one at a time and reports each over a pipe; the
// memory cgroup's OOM killer should stop it long before.
static void probe_memory(const char *arg) {
    int mib = arg ? atoi(arg) : 256;
    int p[2];
    if (pipe(p) < 0) { step("pipe", -1); return; }
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        for (int i = 0; i < mib; i++) {
            char *chunk = malloc(1 << 20);
            if (!chunk) _exit(3);
            memset(chunk, i + 1, 1 << 20);
            if (write(p[1], "x", 1) < 0) _exit(4);
        }
        _exit(0);
    }
    close(p[1]);
    int touched = 0;
    char c;
    while (read(p[0], &c, 1) == 1) touched++;
    int status = 0;
    waitpid(pid, &status, 0);
    printf("note touched_mib %d\n", touched);
    if (WIFSIGNALED(status)) printf("note killed_by %d\n", WTERMSIG(status));
    else printf("note exited %d\n", WEXITSTATUS(status));
    step("allocate", WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : (errno = ENOMEM, -1));
}

static double now(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Two children spin for one second of wall time each (two cores here);
// what they got is read from the kernel's accounting of reaped children.
static void probe_cpu(void) {
    double start = now(CLOCK_MONOTONIC);
    for (int i = 0; i < 2; i++) {
        if (fork() == 0) {
            volatile unsigned long x = 0;
            while (now(CLOCK_MONOTONIC) - start < 1.0) x++;
            _exit(0);
        }
    }
    while (wait(NULL) > 0) {}
    double wall = now(CLOCK_MONOTONIC) - start;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("note cpu_ms %d\nnote wall_ms %d\n", (int)(cpu * 1000), (int)(wall * 1000));
    step("spin", 0);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: skiff-probe NAME [ARG]\n");
        return 2;
    }
    const char *name = argv[1], *arg = argc > 2 ? argv[2] : NULL;
    printf("probe %s\n", name);
    if (!strcmp(name, "mount")) probe_mount();
    else if (!strcmp(name, "remount-root")) probe_remount();
    else if (!strcmp(name, "sysrq")) probe_sysrq();
    else if (!strcmp(name, "kcore")) probe_read("/proc/kcore");
    else if (!strcmp(name, "timer-list")) probe_read("/proc/timer_list");
    else if (!strcmp(name, "block-device")) probe_block(arg);
    else if (!strcmp(name, "module")) probe_module();
    else if (!strcmp(name, "reboot")) probe_reboot();
    else if (!strcmp(name, "hostname")) probe_hostname();
    else if (!strcmp(name, "clock")) probe_clock();
    else if (!strcmp(name, "ptrace")) probe_ptrace(arg);
    else if (!strcmp(name, "signal")) probe_signal(arg);
    else if (!strcmp(name, "userns")) probe_userns();
    else if (!strcmp(name, "keyctl")) probe_keyctl();
    else if (!strcmp(name, "open-by-handle")) probe_handle();
    else if (!strcmp(name, "chroot")) probe_chroot(arg);
    else if (!strcmp(name, "pivot-root")) probe_pivot(arg);
    else if (!strcmp(name, "fork-bomb")) probe_forkbomb();
    else if (!strcmp(name, "memory")) probe_memory(arg);
    else if (!strcmp(name, "cpu")) probe_cpu();
    else {
        fprintf(stderr, "skiff-probe: unknown probe %s\n", name);
        return 2;
    }
    facts();
    return 0;
}
