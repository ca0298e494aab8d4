import CShim
import Glibc
import SkiffCommon

/// `skiff-spawn run`: clone the container's init into new namespaces, wait
/// for its exec, then stay as its monitor: copy output to the log, reap it,
/// record the exit, remove its cgroups.
///
/// `early`: an init the standby cloned already (it fits these options, and
/// has the same command line from the engine), used instead of cloning one.
func runContainer(_ o: SpawnOptions, early: EarlyInit? = nil) -> Never {
    if o.detach {
        // Daemonize: the engine reaps our parent at once and never waits for
        // the monitor, so no zombie is left in a long-lived caller (the tutor).
        let child = fork()
        if child < 0 { fail(125, "fork the monitor: \(errnoText())") }
        if child > 0 { _exit(0) }
        setsid()
    }
    // With an early init its ends of these are closed already (-1 here).
    let sync = early.map { (read: $0.sync, write: Int32(-1)) } ?? makePipe()
    let joined = early.map { (read: Int32(-1), write: $0.joined) } ?? makePipe()
    let logging = !o.logFile.isEmpty
    var outPipe: (read: Int32, write: Int32)? = nil
    var errPipe: (read: Int32, write: Int32)? = nil
    var ptyMaster: Int32 = -1
    // The container's init makes its terminal in its own devpts and sends
    // the master down this socket: to us for -d -t, to the CLI for -t.
    var console: (monitor: Int32, child: Int32)? = nil

    if o.makeTTY {
        var fds: [Int32] = [-1, -1]
        if skiff_socketpair_cloexec(&fds) != 0 { fail(125, "create the terminal's socket: \(errnoText())") }
        console = (fds[0], fds[1])
    } else if o.tty {
        if o.consoleSocket < 0 { fail(125, "spawn: --tty needs --console-socket") }
        console = (-1, o.consoleSocket)
    } else if logging {
        outPipe = early.map { (read: $0.out, write: Int32(-1)) } ?? makePipe()
        errPipe = early.map { (read: $0.err, write: Int32(-1)) } ?? makePipe()
    }
    if let early, !logging { close(early.out); close(early.err) }

    // An early init reads it itself (and reports a failure like any other).
    let filter = early == nil ? readSeccompFilter(o) : nil
    var flags = SKIFF_CLONE_NEWPID | SKIFF_CLONE_NEWNS | SKIFF_CLONE_NEWUTS | SKIFF_CLONE_NEWIPC | SKIFF_CLONE_NEWNET
    var layerSocket: (monitor: Int32, child: Int32)? = nil
    if let map = o.userns {
        if !rootless { handOverWritableDirs(o, map: map) }
        var fds: [Int32] = [-1, -1]
        if skiff_socketpair_cloexec(&fds) != 0 { failStart(o, 125, "create a socket for the idmapped layers: \(errnoText())") }
        layerSocket = (fds[0], fds[1])
        flags |= SKIFF_CLONE_NEWUSER
    }
    let pid: Int32
    if let early {
        pid = early.pid
    } else {
        Trace.mark("clone")
        pid = skiff_clone_fork(flags)
    }
    if pid < 0 {
        let hint = o.userns == nil ? "" : rootless ? " (rootless mode needs user namespaces: see skiff doctor)"
            : " (--userns=private needs user namespaces: see skiff doctor)"
        failStart(o, 125, "create namespaces: \(errnoText())\(hint)")
    }
    if pid == 0 {
        close(sync.read)
        close(joined.write)
        if o.awaitCgroups { close(standbyChannel) }
        if let s = layerSocket { close(s.monitor) }
        if let c = console, c.monitor >= 0 { close(c.monitor) }
        containerInit(o, syncFD: sync.write, joinedFD: joined.read, layerSocket: layerSocket?.child ?? -1,
                      consoleSocket: console?.child ?? -1, outPipe: outPipe?.write, errPipe: errPipe?.write,
                      filter: filter)
    }

    if sync.write >= 0 { close(sync.write) }
    if joined.read >= 0 { close(joined.read) }
    if let c = console { close(c.child) }
    if let p = outPipe, p.write >= 0 { close(p.write) }
    if let p = errPipe, p.write >= 0 { close(p.write) }
    installForwarding(to: pid)
    let startedAt = nowNanos()
    writeStateFile(o.stateDir, "pid", "\(pid) \(processStartTime(pid)) \(getpid()) \(startedAt)\n")
    report("pid \(pid) \(getpid())")
    // For --rm, held until the exit is reported: the container's mount
    // namespace then outlives its init, so unmounting its twenty-odd mounts
    // (and the kernel's RCU wait before freeing them) happens after the
    // caller has its exit code, not between the init's exit and our reaping
    // it (0.45 ms). A container that can be started again lets go at once:
    // its overlay's upper dir stays busy while any mount of it lives. So
    // does one with -v binds: the host's directories must not stay busy
    // after `run` returns (a script may unmount a disk next).
    let mountNamespace = holdsMounts(o) ? open("/proc/\(pid)/ns/mnt", O_RDONLY | O_CLOEXEC) : -1
    if let map = o.userns, let s = layerSocket {
        close(s.child)
        let failure = rootless ? mapOwnIDs(pid: pid, map: map, socket: s.monitor)
            : setUpUserNamespace(o, map: map, pid: pid, socket: s.monitor)
        close(s.monitor)
        if let failure {
            kill(pid, SIGKILL)
            _ = waitStatus(pid)
            failStart(o, 125, failure)
        }
        Trace.mark("user namespace mapped")
    }

    // Moving a process between cgroups waits for an RCU grace period (often
    // several ms on cgroup v1): we do it here while the child builds its
    // root, and it waits for our byte before entering its cgroup namespace.
    if o.awaitCgroups && !awaitCgroups() {
        kill(pid, SIGKILL)
        _ = waitStatus(pid)
        failStart(o, 125, "the engine did not make the container's cgroups")
    }
    for procs in o.cgroupProcs where !writeFile(procs, "\(pid)") {
        let why = errnoText()
        kill(pid, SIGKILL)
        _ = waitStatus(pid)
        failStart(o, 125, "join cgroup \(procs): \(why)")
    }
    Trace.mark("cgroups joined")
    writeAll(joined.write, [1])
    close(joined.write)

    if let failure = awaitExec(sync.read) {
        _ = waitStatus(pid)
        failStart(o, failure.code, failure.message)
    }
    if let c = console, c.monitor >= 0 {
        // Sent before the exec we just saw: it is waiting in the socket.
        var fds: [Int32] = [-1]
        if skiff_recv_fds(c.monitor, &fds, 1) < 1 {
            let why = errnoText()
            kill(pid, SIGKILL)
            _ = waitStatus(pid)
            failStart(o, 125, "receive the container's terminal: \(why)")
        }
        close(c.monitor)
        ptyMaster = fds[0]
    }
    report("ok")
    if !o.reportExit { closeStatus() }

    if o.detach || o.makeTTY {
        // Nobody reads our stdio any more.
        let null = open("/dev/null", O_RDWR)
        if null >= 0 { dup2(null, 0); dup2(null, 1); dup2(null, 2); if null > 2 { close(null) } }
    }

    var log = logging ? LogWriter(path: o.logFile) : nil
    if ptyMaster >= 0 {
        pumpOutput(streams: [(ptyMaster, "stdout", -1)], log: &log)
    } else if let out = outPipe, let err = errPipe {
        let echo = !o.detach
        pumpOutput(streams: [(out.read, "stdout", echo ? 1 : -1), (err.read, "stderr", echo ? 2 : -1)], log: &log)
    }
    let code = waitStatus(pid)
    Trace.mark("reaped")
    let finished = "\(code) \(nowNanos()) \(oomKills(o.oomFile))\n"
    // An --rm container's exit is recorded only if it cannot be removed.
    if !o.removeOnExit { writeFileAtomically(o.stateDir + "/exit", finished) }
    removeCgroups(o.cgroupDirs)
    Trace.mark("exit recorded")
    let hidden = o.removeOnExit ? hideContainer(o) : nil
    if o.removeOnExit && hidden == nil { writeFileAtomically(o.stateDir + "/exit", finished) }
    Trace.mark("removed")
    // The caller may go now; what is left happens in the background.
    report("exit \(code)")
    closeStatus()
    // Only the shared skiff/ parent goes: a --cgroup-parent is not ours.
    // The mounts go there too, before the directory is emptied.
    finishInBackground(deleting: hidden, cgroupDirs: o.sharedCgroupParent ? o.cgroupDirs : [],
                       mountNamespace: mountNamespace, inThisProcess: o.reportExit && o.unwaited)
    exit(code)
}

/// Whether the monitor keeps the container's mounts until after it has
/// reported the exit (see runContainer); the overlay is then not volatile
/// (RootFS.swift), its sync happening in the background too.
/// Only the container's own /etc files may be bound in (they sit in its
/// state directory), no -v of the host's.
func holdsMounts(_ o: SpawnOptions) -> Bool {
    o.removeOnExit && o.binds.allSatisfy { $0.source.hasPrefix(o.stateDir + "/") }
}

/// Undoes a start that failed: cgroups and the pid file. The engine, told
/// on the status pipe, removes the rest.
func failStart(_ o: SpawnOptions, _ code: Int32, _ message: String) -> Never {
    removeCgroups(o.cgroupDirs)
    unlink(o.stateDir + "/pid")
    fail(code, message)
}

/// Takes the container out of sight as `rm` would: its name is released
/// and its state directory renamed into the trash. Returns the directory's
/// new path, for `finishInBackground` to delete.
func hideContainer(_ o: SpawnOptions) -> String? {
    let id = lastPathComponent(o.stateDir)
    if !o.nameFile.isEmpty, let owner = readFile(o.nameFile), owner.hasSuffix(id) {
        // Kept for the next container's name, if the directory becomes a spare.
        let kept = o.stateDir + "/" + SpareDirectories.nameFile
        if rename(o.nameFile, kept) != 0 {
            unlink(o.nameFile)
        } else if readFile(kept)?.hasSuffix(id) != true {
            // Freed and taken by another container between the read and
            // the rename (a concurrent `rm`, then `run --name`): theirs.
            _ = skiff_rename_noreplace(kept, o.nameFile)
        }
    }
    // The state directory sits in ROOT/containers/ID; ROOT/tmp holds the trash.
    let containers = o.stateDir.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    let root = containers.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
    return (try? Files.hideForRemoval(o.stateDir, trash: StateRoot(path: root).tmp)) ?? nil
}

/// The trash a hidden container directory sits in (its parent).
func trashOf(_ hidden: String) -> String {
    hidden.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
}

/// PID 1 of the new namespaces: build the root, wait until the monitor has
/// put us in our cgroups, enter a cgroup namespace, pivot_root, exec.
func containerInit(_ o: SpawnOptions, syncFD: Int32, joinedFD: Int32, layerSocket: Int32, consoleSocket: Int32,
                   outPipe: Int32?, errPipe: Int32?, filter: [UInt8]?, staged: SpecialMounts? = nil,
                   loopbackUp: Bool = false) -> Never {
    do throws(SetupFailure) {
        // With a terminal, setUpRootFS puts its slave on fds 0-2.
        if consoleSocket < 0 {
            if let outPipe { dup2(outPipe, 1) }
            if let errPipe { dup2(errPipe, 2) }
            if !o.keepStdin {
                let null = open("/dev/null", O_RDONLY)
                if null >= 0 { dup2(null, 0); close(null) }
            }
        }
        Trace.mark("init start")
        var idmappedLayers: [Int32]? = nil
        if layerSocket >= 0 && rootless {
            awaitOwnMap(socket: layerSocket)
        } else if layerSocket >= 0 {
            idmappedLayers = try enterUserNamespace(socket: layerSocket, layers: o.lowerDirs.count)
        }
        try setUpRootFS(o, consoleSocket: consoleSocket, idmappedLayers: idmappedLayers, staged: staged)
        Trace.mark("rootfs ready")
        // All that does not depend on our cgroups comes before waiting for
        // them (where the monitor moves us, its move may wait out an RCU
        // grace period, and this work fills it).
        if !o.hostname.isEmpty {
            try check(sethostname(o.hostname, o.hostname.utf8.count), "set hostname")
        }
        if !loopbackUp { try check(skiff_loopback_up(), "bring up loopback") }
        // On cgroup v1 we join ourselves, through the host's paths: before pivot_root.
        if !o.cgroupSelf.isEmpty { try joinCgroups(o, joinedFD: joinedFD) }
        try enterRootFS(o.rootfs)
        if o.workingDir != "/" {
            if chdir(o.workingDir) != 0 {
                let root = open("/", SKIFF_O_PATH | O_DIRECTORY | O_CLOEXEC)
                try check(skiff_mkdir_in_root(root, o.workingDir, 0o755), "create working directory \(o.workingDir)")
                close(root)
                try check(chdir(o.workingDir), "chdir to \(o.workingDir)", code: 126)
            }
        }
        if consoleSocket >= 0 {
            setsid()
            try check(skiff_set_controlling_tty(0), "set the controlling terminal")
        }
        Trace.mark("pivoted")
        if o.cgroupSelf.isEmpty { try joinCgroups(o, joinedFD: joinedFD) }
        // Its root is the cgroup we are in now: inside, /proc/self/cgroup shows "/".
        try check(skiff_unshare(SKIFF_CLONE_NEWCGROUP), "create cgroup namespace")
        try confineAndExec(o, filter: filter)
    } catch {
        childFail(syncFD, error)
    }
}

/// In the init: waits for the monitor's byte (it has moved us into our
/// cgroups, or, with --cgroup-self, the engine has made them), then joins
/// them itself where it should: writing "0" into a v1 `tasks` file moves
/// only the writing thread (all of us: we have one), which the kernel does
/// without its threadgroup lock and so without an RCU grace period.
func joinCgroups(_ o: SpawnOptions, joinedFD: Int32) throws(SetupFailure) {
    var byte: UInt8 = 0
    if read(joinedFD, &byte, 1) != 1 { _exit(125) } // the monitor failed and says why
    close(joinedFD)
    for tasks in o.cgroupSelf {
        let fd = open(tasks, O_WRONLY | O_CLOEXEC)
        let written = fd >= 0 ? write(fd, "0", 1) : -1
        let code = errno
        if fd >= 0 { close(fd) }
        if written != 1 { throw SetupFailure(code: 125, message: "join cgroup \(tasks): \(errnoText(code))") }
    }
    Trace.mark("joined")
}

func oomKills(_ path: String) -> Int {
    guard !path.isEmpty, let text = readFile(path) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("oom_kill ") {
        return Int(line.dropFirst(9)) ?? 0
    }
    return 0
}

/// A dying pid namespace needs a moment before its cgroup is empty.
func removeCgroups(_ dirs: [String]) {
    for dir in dirs {
        for _ in 0..<100 {
            if rmdir(dir) == 0 || errno == ENOENT { break }
            if errno != EBUSY { break }
            usleep(10_000)
        }
    }
}

/// The shared skiff/ parent cgroups go too once the last container has left
/// them, but not at once: making the memory parent again right after
/// removing it blocks the next run for 2 to 6 ms on these machines, so runs
/// that follow each other (a script, the tutor, a benchmark) keep it. A
/// detached grandchild waits a moment, then removes each parent that is
/// empty by then (rmdir refuses one that is not; a `create` racing with it
/// starts its walk again, see CgroupOps.makeTree). We exit right after, so
/// the child is init's to reap. `rm` and failed starts remove empty parents
/// at once through the engine's driver.
///
/// The same detached child first deletes the state directory of an --rm
/// container (`hidden`), or keeps it as a spare for the next create
/// (SpareDirectories): one fork, after the caller has its exit code.
///
/// `inThisProcess`: nobody waits for us any more (the CLI returned with the
/// exit code we reported and exits): we detach ourselves and do it, which
/// spares a fork (a copy of our page tables, then faults in the child)
/// whose cost would land on whatever runs next.
///
/// `mountNamespace`: the container's, held open (--rm): closing it unmounts
/// everything in it, which for the overlay means a sync of the upper file
/// system; that too happens here, unwaited for.
func finishInBackground(deleting hidden: String?, cgroupDirs dirs: [String], after seconds: UInt32 = 2,
                        mountNamespace: Int32 = -1, inThisProcess: Bool = false) {
    let parents = Set(dirs.compactMap { dir in dir.lastIndex(of: "/").map { String(dir[..<$0]) } })
    guard hidden != nil || !parents.isEmpty || mountNamespace >= 0 else { return }
    let child = inThisProcess ? 0 : fork()
    if child == 0 {
        // The container is reaped: a signal forwarded now could reach a
        // process that took its pid.
        if inThisProcess { skiff_reset_signals() }
        Files.detachFromCaller()  // closes the namespace too: its mounts go
        if let hidden { SpareDirectories.recycleOrRemove(hidden, trash: trashOf(hidden)) }
        if !parents.isEmpty {
            sleep(seconds)
            for parent in parents { rmdir(parent) }
        }
        _exit(0)
    }
    // Ours goes; the child's copy keeps the mounts until it is done with them.
    if mountNamespace >= 0 { close(mountNamespace) }
    if child < 0, let hidden { Files.removeHidden(hidden) }
}

func lastPathComponent(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}
