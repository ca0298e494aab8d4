import Glibc

/// Skiff's default profile, with the semantics of Docker's: anything not
/// named fails with EPERM; ordinary syscalls are allowed; syscalls that act
/// on the whole machine are allowed only to a container that holds the
/// capability they need anyway (so `--cap-add` really opens them).
extension SeccompProfile {
    public static let skiffDefault = SeccompProfile(
        defaultAction: .errno(UInt16(EPERM)),
        architectures: [
            // The native ABI plus the ones the same CPU runs (32-bit, x32).
            "amd64": ["x86_64", "x86", "x32"], "arm64": ["aarch64", "arm"], "s390x": ["s390x", "s390"],
            "x86": ["x86"], "arm": ["arm"], "ppc64le": ["ppc64le"], "riscv64": ["riscv64"],
            "mips64": ["mips64", "mips", "mips64n32"],
        ],
        rules: DefaultProfileTable.rules)
}

enum DefaultProfileTable {
    static var rules: [SeccompRule] {
        var rules = [SeccompRule(words(everyday), .allow)]
        // Reading another process's memory is safe since 4.8 (ptrace checks
        // seccomp of the tracee); before, ptrace could bypass the filter.
        rules.append(SeccompRule(["process_vm_readv", "process_vm_writev", "ptrace"], .allow,
                                 onlyIf: .init(minKernel: KernelVersion(4, 8))))
        // Every socket but AF_VSOCK (40), which reaches the hypervisor.
        rules.append(SeccompRule(["socket"], .allow, arguments: [SeccompArgument(0, .notEqual, 40)]))
        // Only the personas programs use: plain Linux (0), 32-bit
        // (PER_LINUX32, 8), an old kernel version in uname (UNAME26,
        // 0x20000), both, or the query 0xffffffff.
        for persona: UInt64 in [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff] {
            rules.append(SeccompRule(["personality"], .allow, arguments: [SeccompArgument(0, .equal, persona)]))
        }
        for (arches, names) in archSpecific {
            rules.append(SeccompRule(words(names), .allow, onlyIf: .init(arches: arches)))
        }
        for (capability, names) in capabilityGated {
            rules.append(SeccompRule(words(names), .allow, onlyIf: .init(capabilities: [capability])))
        }
        // Without SYS_ADMIN, clone may make threads and processes but no
        // namespaces: every CLONE_NEW* bit (0x7E020000) must be clear. s390
        // passes the flags second.
        let newNamespaceBits: UInt64 = 0x7E02_0000
        rules.append(SeccompRule(["clone"], .allow, arguments: [SeccompArgument(0, .maskedEqual, newNamespaceBits, 0)],
                                 unless: .init(capabilities: ["SYS_ADMIN"])))
        rules.append(SeccompRule(["clone"], .allow, arguments: [SeccompArgument(1, .maskedEqual, newNamespaceBits, 0)],
                                 onlyIf: .init(arches: ["s390", "s390x"]), unless: .init(capabilities: ["SYS_ADMIN"])))
        // clone3 passes its flags in memory a filter cannot read: answer
        // ENOSYS so libc falls back to clone, whose flags it can check.
        rules.append(SeccompRule(["clone3"], .errno(UInt16(ENOSYS)), unless: .init(capabilities: ["SYS_ADMIN"])))
        return rules
    }

    static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    /// Files, memory, signals, time, sockets, IPC, scheduling, identity:
    /// what ordinary programs need, on every architecture (names a kernel
    /// does not have are skipped when the filter is compiled).
    static let everyday = """
        read write readv writev pread64 pwrite64 preadv preadv2 pwritev pwritev2 lseek _llseek
        open openat openat2 creat close close_range dup dup2 dup3 fcntl fcntl64 flock
        stat stat64 lstat lstat64 fstat fstat64 fstatat64 newfstatat statx statfs statfs64 fstatfs fstatfs64
        access faccessat faccessat2 readlink readlinkat getcwd chdir fchdir getdents getdents64
        mkdir mkdirat rmdir rename renameat renameat2 link linkat symlink symlinkat unlink unlinkat
        mknod mknodat chmod fchmod fchmodat chown chown32 fchown fchown32 fchownat lchown lchown32 umask
        truncate truncate64 ftruncate ftruncate64 fallocate fadvise64 fadvise64_64 readahead
        fsync fdatasync sync syncfs sync_file_range copy_file_range sendfile sendfile64 splice tee vmsplice
        utime utimes utimensat utimensat_time64 futimesat
        getxattr lgetxattr fgetxattr setxattr lsetxattr fsetxattr listxattr llistxattr flistxattr
        removexattr lremovexattr fremovexattr
        inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark name_to_handle_at
        pipe pipe2 memfd_create memfd_secret eventfd eventfd2 signalfd signalfd4
        timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64
        poll ppoll ppoll_time64 select _newselect pselect6 pselect6_time64
        epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_wait epoll_wait_old epoll_pwait epoll_pwait2
        io_setup io_destroy io_submit io_cancel io_getevents io_pgetevents io_pgetevents_time64
        io_uring_setup io_uring_enter io_uring_register ioctl
        brk mmap mmap2 munmap mremap mprotect madvise mincore msync remap_file_pages membarrier
        mlock mlock2 mlockall munlock munlockall pkey_alloc pkey_free pkey_mprotect
        futex futex_time64 futex_waitv set_robust_list get_robust_list rseq set_tid_address
        get_thread_area set_thread_area
        fork vfork execve execveat exit exit_group wait4 waitid waitpid
        kill tkill tgkill pidfd_open pidfd_send_signal process_mrelease
        rt_sigaction rt_sigprocmask rt_sigpending rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
        rt_sigqueueinfo rt_tgsigqueueinfo rt_sigreturn sigreturn sigaltstack sigprocmask pause restart_syscall
        alarm getitimer setitimer nanosleep clock_nanosleep clock_nanosleep_time64
        clock_gettime clock_gettime64 clock_getres clock_getres_time64 clock_adjtime clock_adjtime64 adjtimex
        gettimeofday time times timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
        timer_settime timer_settime64
        getpid getppid gettid getpgid getpgrp setpgid getsid setsid getcpu getrusage sysinfo uname
        getuid getuid32 geteuid geteuid32 getgid getgid32 getegid getegid32 getresuid getresuid32
        getresgid getresgid32 getgroups getgroups32
        setuid setuid32 setgid setgid32 setreuid setreuid32 setregid setregid32 setresuid setresuid32
        setresgid setresgid32 setfsuid setfsuid32 setfsgid setfsgid32 setgroups setgroups32
        capget capset prctl seccomp getrlimit ugetrlimit setrlimit prlimit64 getpriority setpriority
        ioprio_get ioprio_set getrandom
        sched_yield sched_getaffinity sched_setaffinity sched_getattr sched_setattr sched_getparam
        sched_setparam sched_getscheduler sched_setscheduler sched_get_priority_max sched_get_priority_min
        sched_rr_get_interval sched_rr_get_interval_time64
        socketpair socketcall bind connect listen accept accept4 getsockname getpeername getsockopt setsockopt
        send sendto sendmsg sendmmsg recv recvfrom recvmsg recvmmsg recvmmsg_time64 shutdown
        ipc msgget msgsnd msgrcv msgctl semget semop semctl semtimedop semtimedop_time64
        shmget shmat shmdt shmctl mq_open mq_unlink mq_notify mq_getsetattr mq_timedsend mq_timedsend_time64
        mq_timedreceive mq_timedreceive_time64
        landlock_create_ruleset landlock_add_rule landlock_restrict_self
        """

    /// Syscalls only some architectures have (Docker's arch names).
    static let archSpecific: [([String], String)] = [
        (["amd64", "x32"], "arch_prctl"),
        (["amd64", "x32", "x86"], "modify_ldt"),
        (["arm", "arm64"], "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls"),
        (["ppc64le"], "sync_file_range2 swapcontext"),
        (["s390", "s390x"], "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"),
        (["riscv64"], "riscv_flush_icache"),
    ]

    /// Syscalls that need a capability the default set leaves out: the
    /// filter opens them only to a container given that capability.
    static let capabilityGated: [(String, String)] = [
        ("SYS_ADMIN", """
            mount umount umount2 mount_setattr move_mount open_tree fsopen fsconfig fsmount fspick
            unshare setns clone clone3 sethostname setdomainname quotactl quotactl_fd
            bpf perf_event_open fanotify_init lookup_dcookie syslog
            """),
        ("DAC_READ_SEARCH", "open_by_handle_at"),
        ("SYS_BOOT", "reboot"),
        ("SYS_CHROOT", "chroot"),
        ("SYS_MODULE", "init_module finit_module delete_module"),
        ("SYS_PACCT", "acct"),
        ("SYS_PTRACE", "ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd process_madvise"),
        ("SYS_RAWIO", "iopl ioperm"),
        ("SYS_TIME", "settimeofday stime clock_settime clock_settime64"),
        ("SYS_TTY_CONFIG", "vhangup"),
        ("SYS_NICE", "get_mempolicy set_mempolicy set_mempolicy_home_node mbind"),
        ("SYSLOG", "syslog"),
        ("BPF", "bpf"),
        ("PERFMON", "perf_event_open"),
    ]
}
