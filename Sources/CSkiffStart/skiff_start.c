// What `skiff run` does before the Swift runtime is up: start the no-op
// cgroup move whose RCU wait (about 8 ms on cgroup v1 after a quiet spell,
// holding cgroup_mutex) bounds how soon the container can join its cgroups
// (SkiffKernel's CgroupWarmUp says why). Linked into the `skiff` binary only.

#include "skiff_start.h"
#include "cshim.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int warmed_up = 0;

int skiff_start_warmed_up(void) { return warmed_up; }

// Our cgroup.procs where the hierarchies usually are, found from
// /proc/self/cgroup alone (no mountinfo to parse this early): the memory
// hierarchy's on v1, the unified one's on v2. 0 when it is not there (the
// standby helper then finds it through mountinfo and makes the move).
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
            snprintf(out, size, "/sys/fs/cgroup/memory%s/cgroup.procs", path);
            if (access(out, W_OK) == 0) return 1;
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
    if (usual_procs_file(procs, sizeof procs) && skiff_start_cgroup_touch(procs) == 0) warmed_up = 1;
}
