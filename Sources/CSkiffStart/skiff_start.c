// What `skiff run` does before the Swift runtime is up, on cgroup v2: start
// the no-op cgroup move whose RCU wait (about 8 ms after a quiet spell,
// holding cgroup_mutex) bounds how soon the monitor can move the container
// into its cgroup (SkiffKernel's CgroupWarmUp says why). Linked into the
// `skiff` binary only.

#include "skiff_start.h"
#include "cshim.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// 1 once nothing more is to be done about the move: it was started, or
// this is cgroup v1 and none is needed.
static int warmed_up = 0;

int skiff_start_warmed_up(void) { return warmed_up; }

// Our cgroup.procs on a pure cgroup v2 machine, where the hierarchy usually
// is, found from /proc/self/cgroup alone (no mountinfo to parse this early).
// 0 when it is not there (the standby helper then finds it through
// mountinfo and makes the move), -1 on cgroup v1: there the container's
// init joins through the `tasks` files, which do not wait, and a move
// started here would only hold cgroup_mutex through its wait.
static int usual_procs_file(char *out, size_t size) {
    int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char text[4096];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return 0;
    text[n] = 0;
    char v2[1024] = "";
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *first = strchr(line, ':');
        char *second = first ? strchr(first + 1, ':') : NULL;
        if (!second) continue;
        const char *path = strcmp(second + 1, "/") == 0 ? "" : second + 1;
        *second = 0;
        const char *controllers = first + 1;
        int memory = 0;
        for (const char *c = controllers; c && *c; c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL) {
            if (strncmp(c, "memory", 6) == 0 && (c[6] == 0 || c[6] == ',')) memory = 1;
        }
        if (memory) {
            return -1;
        } else if (strcmp(line, "0") == 0 && *controllers == 0 && !v2[0]) {
            snprintf(v2, sizeof v2, "/sys/fs/cgroup%s/cgroup.procs", path);
        }
    }
    if (v2[0] && access(v2, W_OK) == 0) {
        snprintf(out, size, "%s", v2);
        return 1;
    }
    return 0;
}

// The standby spawn helper (skiff-spawn's Standby.swift), started here
// rather than from Swift: its own start-up and its early clone of the
// container's init (about a millisecond, most of it the new network
// namespace) then run beside the Swift runtime's start, the parse and the
// image lookup instead of after them. The engine adopts it
// (skiff_start_take_standby) or, when the run does not happen, ends it.
static pid_t standby_pid = 0;
static int standby_status = -1, standby_channel = -1, standby_init_channel = -1;

int skiff_start_take_standby(int *pid, int *status, int *channel, int *init_channel) {
    if (standby_pid <= 0) return 0;
    *pid = standby_pid;
    *status = standby_status;
    *channel = standby_channel;
    *init_channel = standby_init_channel;
    standby_pid = 0;
    return 1;
}

// What the child reads after we return (skiff_spawn_nowait): kept for good.
static char helper_path[4096];
static char root_env[4200];
static char *helper_argv[4];
static char *helper_envp[4];

// SKIFF_SPAWN, else skiff-spawn beside our own executable (as the
// engine's Helper.path finds it).
static int find_helper(void) {
    const char *override = getenv("SKIFF_SPAWN");
    if (override && *override) {
        snprintf(helper_path, sizeof helper_path, "%s", override);
        return 1;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return 0;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = 0;
    if (snprintf(helper_path, sizeof helper_path, "%s/skiff-spawn", exe) >= (int)sizeof helper_path) return 0;
    return access(helper_path, X_OK) == 0;
}

static void launch_standby(int warm) {
    if (!find_helper()) return;   // the engine says what is missing
    // The state root as StateRoot reads it (we run as root here).
    const char *root = getenv("SKIFF_ROOT");
    if (!root || !*root) root = "/var/lib/skiff";
    size_t length = strlen(root);
    if (length > 1 && root[length - 1] == '/') length--;
    if (length > 4000) return;
    snprintf(root_env, sizeof root_env, "SKIFF_ROOT=%.*s", (int)length, root);
    int e = 0;
    helper_envp[e++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    helper_envp[e++] = root_env;
    if (getenv("SKIFF_TRACE")) helper_envp[e++] = "SKIFF_TRACE=1";
    helper_envp[e] = NULL;
    helper_argv[0] = helper_path;
    helper_argv[1] = "standby";
    helper_argv[2] = warm ? "--warm" : NULL;
    helper_argv[3] = NULL;

    // A closed stdin, stdout or stderr would be taken by the pipe below (and
    // the engine would read the status pipe as its stdin): /dev/null stands
    // in for it.
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) == -1 && open("/dev/null", O_RDWR) != fd) return;
    }
    int status[2], channel[2], init_channel[2];
    if (skiff_pipe_cloexec(status) != 0) return;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) {
        close(status[0]); close(status[1]);
        return;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, init_channel) != 0) {
        close(status[0]); close(status[1]); close(channel[0]); close(channel[1]);
        return;
    }
    // They become the helper's fds 3, 4 and 5.
    int keep[3] = { status[1], channel[1], init_channel[0] };
    pid_t pid = 0;
    int rc = skiff_spawn_nowait(helper_path, helper_argv, helper_envp, 0, 1, 2, keep, 3, 0, &pid);
    for (int i = 0; i < 3; i++) close(keep[i]);
    if (rc != 0) {
        close(status[0]); close(channel[0]); close(init_channel[1]);
        return;
    }
    standby_pid = pid;
    standby_status = status[0];
    standby_channel = channel[0];
    standby_init_channel = init_channel[1];
}

// glibc passes the program's arguments to constructors.
__attribute__((constructor)) static void skiff_start(int argc, char **argv, char **envp) {
    (void)envp;
    int at = 1;
    if (argc > at && strcmp(argv[at], "docker") == 0) at++;
    if (argc <= at || strcmp(argv[at], "run") != 0 || geteuid() != 0) return;
    char procs[1100];
    int found = usual_procs_file(procs, sizeof procs);
    if (found < 0 || (found > 0 && skiff_start_cgroup_touch(procs) == 0)) warmed_up = 1;
    launch_standby(!warmed_up);
}
