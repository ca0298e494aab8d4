#ifndef SKIFF_START_H
#define SKIFF_START_H

/// 1 when `skiff run` has seen to the early cgroup move before main: started
/// it (cgroup v2), or found none needed (v1; see skiff_start.c). The standby
/// helper then does not make one.
int skiff_start_warmed_up(void);

/// 1 when `skiff run` started the standby spawn helper before main (see
/// skiff_start.c): its pid, the read end of its status pipe (its fd 3),
/// our ends of its command socket (its fd 4) and of its early init's (its
/// fd 5), handed over once.
int skiff_start_take_standby(int *pid, int *status, int *channel, int *init_channel);

#endif
