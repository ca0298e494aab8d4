import Glibc
import SkiffCommon

// The spawn helper's command line. The engine passes everything as argv
// (NUL-separated already), so nothing here needs a parser beyond a loop.

struct BindMount {
    var source: String
    var target: String
    var readOnly: Bool
}

/// One setrlimit: resource number, soft and hard (UInt64.max is unlimited).
struct ResourceLimit {
    var name: String             // Docker's name (nofile), for messages
    var resource: Int32
    var soft: UInt64
    var hard: UInt64
}

struct SpawnOptions {
    enum Mode { case run, exec }
    var mode: Mode = .run
    var stateDir = ""            // container directory: pid and exit files go here
    var rootfs = ""              // merged directory, the overlay's mount point
    var lowerDirs: [String] = [] // image layers, bottom first
    var lowerBase = ""           // relative lower dirs are names in this directory (layers/l)
    var upperDir = ""
    var workDir = ""
    var hostname = ""
    var env: [String] = []
    var workingDir = "/"
    var cgroupProcs: [String] = []   // the monitor writes the init's pid into these
    var cgroupSelf: [String] = []    // the init writes "0" into these itself (v1 tasks files)
    var cgroupDirs: [String] = []
    var oomFile = ""
    var reportExit = false       // foreground: "exit CODE" on the status pipe once the container is gone
    var unwaited = false         // with reportExit: the caller does not wait for us after "exit CODE" (the CLI)
    var awaitCgroups = false
    var sharedCgroupParent = false // the cgroups' parent is the shared skiff/, removed once empty     // the engine makes the cgroups while we clone: wait for its word (Standby.swift)
    var binds: [BindMount] = []
    var logFile = ""             // JSON lines; empty means the container writes to our stdio
    var detach = false
    var tty = false              // run: the container gets a terminal whose master goes down --console-socket
                                 // (foreground -t); exec: fds 0-2 are a pty slave already
    var makeTTY = false          // run: the container gets a terminal whose output we log (detached -t)
    var consoleSocket: Int32 = -1 // unix socket the container's pty master is sent down (SCM_RIGHTS)
    var ttyRows: UInt16 = 24     // the container terminal's first size (--tty-size ROWS:COLS)
    var ttyCols: UInt16 = 80
    var keepStdin = false
    var nameFile = ""            // names/NAME: released with the state dir when we remove the container
    var removeOnExit = false     // --rm: remove the container once it exits
    var targetPid: Int32 = 0      // exec: the container's init
    var capabilities = defaultCapabilities
    var privileged = false        // nothing masked or read-only (every capability comes with --caps)
    var readOnlyRootfs = false
    var seccompFile = ""          // compiled BPF, loaded last before exec; empty: no filter
    var user = ""                 // --user as given (UID[:GID] or NAME[:GROUP]); resolved in the container's root
    var rlimits: [ResourceLimit] = []
    var groupAdd: [String] = []   // --group-add: names (from the container's /etc/group) or numbers
    var allowNewPrivileges = false // --privileged without no-new-privileges: no_new_privs stays off
    var userns: UserNamespaceMap? = nil // --userns=private: root is this host range (UserNamespace.swift)
    var command: [String] = []
}

func parseOptions(_ args: [String]) -> SpawnOptions {
    var o = SpawnOptions()
    var i = 1
    func next() -> String {
        i += 1
        guard i < args.count else { fail(125, "spawn: missing value for \(args[i - 1])") }
        return args[i]
    }
    guard args.count > 1 else { fail(125, "spawn: usage: skiff-spawn run|exec OPTIONS -- COMMAND") }
    switch args[1] {
    case "run": o.mode = .run
    case "exec": o.mode = .exec
    default: fail(125, "spawn: unknown mode \(args[1])")
    }
    i = 2
    while i < args.count {
        let a = args[i]
        switch a {
        case "--state": o.stateDir = next()
        case "--rootfs": o.rootfs = next()
        case "--lower": o.lowerDirs.append(next())
        case "--lower-base": o.lowerBase = next()
        case "--upper": o.upperDir = next()
        case "--work": o.workDir = next()
        case "--hostname": o.hostname = next()
        case "--env": o.env.append(next())
        case "--workdir": o.workingDir = next()
        case "--cgroup-procs": o.cgroupProcs.append(next())
        case "--cgroup-self": o.cgroupSelf.append(next())
        case "--cgroup-dir": o.cgroupDirs.append(next())
        case "--oom-file": o.oomFile = next()
        case "--await-cgroups": o.awaitCgroups = true
        case "--shared-cgroup-parent": o.sharedCgroupParent = true
        case "--report-exit": o.reportExit = true
        case "--unwaited": o.unwaited = true
        case "--bind":
            let source = next(), target = next(), mode = next()
            o.binds.append(BindMount(source: source, target: target, readOnly: mode == "ro"))
        case "--log": o.logFile = next()
        case "--status-fd":
            // Close-on-exec: the container must not inherit our status pipe.
            statusOpen = next() == "3" && fcntl(3, F_SETFD, FD_CLOEXEC) != -1
        case "--detach": o.detach = true
        case "--tty": o.tty = true
        case "--make-tty": o.makeTTY = true
        case "--console-socket":
            // Fd 4, after the status pipe: what main keeps open.
            o.consoleSocket = Int32(next()) ?? -1
            if o.consoleSocket != 4 || !statusOpen || fcntl(o.consoleSocket, F_SETFD, FD_CLOEXEC) == -1 {
                fail(125, "spawn: --console-socket needs an open descriptor")
            }
        case "--tty-size":
            let size = next().split(separator: ":").compactMap { UInt16($0) }
            if size.count == 2, size[0] > 0, size[1] > 0 { (o.ttyRows, o.ttyCols) = (size[0], size[1]) }
        case "--stdin": o.keepStdin = true
        case "--name-file": o.nameFile = next()
        case "--remove-on-exit": o.removeOnExit = true
        case "--pid": o.targetPid = Int32(next()) ?? 0
        case "--caps":
            let text = next()
            guard let mask = UInt64(text, radix: 16) else { fail(125, "spawn: bad capability mask \(text)") }
            o.capabilities = mask
        case "--privileged": o.privileged = true
        case "--read-only": o.readOnlyRootfs = true
        case "--seccomp": o.seccompFile = next()
        case "--user": o.user = next()
        case "--group-add": o.groupAdd.append(next())
        case "--rlimit":
            let name = next(), resource = next(), soft = next(), hard = next()
            guard let r = Int32(resource), let s = UInt64(soft), let h = UInt64(hard) else {
                fail(125, "spawn: bad rlimit \(name) \(resource) \(soft) \(hard)")
            }
            o.rlimits.append(ResourceLimit(name: name, resource: r, soft: s, hard: h))
        case "--allow-new-privileges": o.allowNewPrivileges = true
        case "--userns":
            let uid = next(), gid = next(), count = next()
            guard let u = UInt32(uid), let g = UInt32(gid), let c = UInt32(count), c > 0 else {
                fail(125, "spawn: bad user namespace map \(uid) \(gid) \(count)")
            }
            o.userns = UserNamespaceMap(uid: u, gid: g, count: c)
        case "--subids": // after --userns: rootless with a subordinate range
            let uid = next(), gid = next(), count = next()
            guard let u = UInt32(uid), let g = UInt32(gid), let c = UInt32(count), c > 0, o.userns != nil else {
                fail(125, "spawn: bad subordinate IDs \(uid) \(gid) \(count)")
            }
            o.userns?.subordinate = SubordinateIDs(uid: u, gid: g, count: c)
        case "--":
            o.command = Array(args[(i + 1)...])
            i = args.count
            continue
        default: fail(125, "spawn: unknown option \(a)")
        }
        i += 1
    }
    if o.command.isEmpty { fail(125, "spawn: no command given") }
    return o
}
