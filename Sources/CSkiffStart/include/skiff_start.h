#ifndef SKIFF_START_H
#define SKIFF_START_H

/// 1 when `skiff run` has seen to the early cgroup move before main: started
/// it (cgroup v2), or found none needed (v1; see skiff_start.c). The standby
/// helper then does not make one.
int skiff_start_warmed_up(void);

#endif
