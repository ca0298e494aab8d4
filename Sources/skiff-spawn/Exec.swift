import CShim
import Glibc

/// `skiff-spawn exec`: join a running container's namespaces and cgroup,
/// then run one more process in it and wait for it.
func execInContainer(_ o: SpawnOptions) -> Never {
    let pid = o.targetPid
    guard pid > 0 else { fail(125, "exec: no container process given") }
    // Our path to the filter means nothing once we are in its mount namespace.
    let filter = readSeccompFilter(o)
    // Open every namespace first: after joining the mount namespace,
    // /proc is the container's and the host pid no longer resolves.
    let kinds: [(String, Int32)] = [("cgroup", SKIFF_CLONE_NEWCGROUP), ("ipc", SKIFF_CLONE_NEWIPC),
                                    ("uts", SKIFF_CLONE_NEWUTS), ("net", SKIFF_CLONE_NEWNET),
                                    ("pid", SKIFF_CLONE_NEWPID), ("mnt", SKIFF_CLONE_NEWNS)]
    var fds: [(Int32, String, Int32)] = []
    for (name, flag) in kinds {
        let fd = open("/proc/\(pid)/ns/\(name)", O_RDONLY | O_CLOEXEC)
        if fd < 0 { fail(125, "container is not running (open /proc/\(pid)/ns/\(name): \(errnoText()))") }
        fds.append((fd, name, flag))
    }
    for procs in o.cgroupProcs {
        let fd = open(procs, O_WRONLY | O_CLOEXEC)
        if fd < 0 || write(fd, "0", 1) != 1 { fail(125, "join cgroup \(procs): \(errnoText())") }
        close(fd)
    }
    for (fd, name, flag) in fds {
        if skiff_setns(fd, flag) != 0 { fail(125, "join \(name) namespace: \(errnoText())") }
        close(fd)
    }
    let sync = makePipe()
    let child = fork()
    if child < 0 { fail(125, "fork: \(errnoText())") }
    if child == 0 {
        close(sync.read)
        do throws(SetupFailure) {
            if !o.keepStdin && !o.tty {
                let null = open("/dev/null", O_RDONLY)
                if null >= 0 { dup2(null, 0); close(null) }
            }
            try check(chdir(o.workingDir), "chdir to \(o.workingDir)", code: 126)
            if o.tty {
                setsid()
                try check(skiff_set_controlling_tty(0), "set the controlling terminal")
            }
            try confineAndExec(o, filter: filter)
        } catch {
            childFail(sync.write, error)
        }
    }
    close(sync.write)
    installForwarding(to: child)
    report("pid \(child) \(getpid())")
    if let failure = awaitExec(sync.read) {
        _ = waitStatus(child)
        fail(failure.code, failure.message)
    }
    report("ok")
    closeStatus()
    exit(waitStatus(child))
}
