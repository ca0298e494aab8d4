// What `skiff run` does before the Swift runtime is up, on cgroup v2: start
// the no-op cgroup move whose RCU wait (about 8 ms after a quiet spell,
// holding cgroup_mutex) bounds how soon the monitor can move the container
// into its cgroup (SkiffKernel's CgroupWarmUp says why). Linked into the
// `skiff` binary only.

#include "skiff_start.h"
#include "cshim.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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

// glibc passes the program's arguments to constructors.
__attribute__((constructor)) static void skiff_start(int argc, char **argv, char **envp) {
    (void)envp;
    int at = 1;
    if (argc > at && strcmp(argv[at], "docker") == 0) at++;
    if (argc <= at || strcmp(argv[at], "run") != 0 || geteuid() != 0) return;
    char procs[1100];
    int found = usual_procs_file(procs, sizeof procs);
    if (found < 0 || (found > 0 && skiff_start_cgroup_touch(procs) == 0)) warmed_up = 1;
}
