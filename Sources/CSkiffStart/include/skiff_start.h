#ifndef SKIFF_START_H
#define SKIFF_START_H

/// 1 when `skiff run` started the early cgroup move before main (see
/// skiff_start.c); the CLI then does not start it again.
int skiff_start_warmed_up(void);

#endif
