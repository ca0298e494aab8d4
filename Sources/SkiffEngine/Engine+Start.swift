import CShim
import FoundationEssentials
import Glibc
import SkiffCommon
import SkiffImages
import SkiffKernel

extension Engine {
    /// `skiff run`: create, then start attached or detached. Returns the
    /// container's exit code for a foreground run, nil when detached.
    ///
    /// The spawn helper is started first (or was, by `prelaunchHelper`) and
    /// gets its command line once the container exists, so its start-up
    /// overlaps ours. A foreground run with a terminal needs the terminal as
    /// the helper's stdio from the start, and launches it the usual way.
    public func run(_ spec: RunSpec, io: AttachIO = .standard,
                    progress: (String) -> Void = { _ in }) throws(SkiffError) -> (container: Container, exitCode: Int32?) {
        let foregroundTTY = spec.tty && !spec.detach
        var standby = takeStandby()
        if foregroundTTY || (standby.map { !$0.io.same(as: io) } ?? false) {
            standby?.abandon()
            standby = nil
        }
        if standby == nil, !foregroundTTY, isRoot {
            standby = try? Helper.launchStandby(root: root, warm: true, io: io)
        }
        let container: Container
        do {
            container = try create(spec, progress: progress)
        } catch {
            standby?.abandon()
            throw error
        }
        do {
            let code = try start(container, attach: spec.detach ? nil : io, fresh: true, standby: standby)
            // With --rm the helper has removed it already.
            if code != nil, spec.autoRemove { return (container, code) }
            return (try self.container(container.id), code)
        } catch {
            // A run that failed to start leaves nothing behind, not even the
            // created container (unlike `create` + `start`).
            try? remove(container.id, force: true)
            throw error
        }
    }

    /// Starts the spawn helper for a `run` that is about to be parsed, so
    /// that the helper's start-up and its early cgroup move (the kernel's
    /// RCU wait, see skiff-spawn's Standby.swift) overlap parsing, the image
    /// lookup and the container's state. The CLI calls it first thing.
    /// `warm`: the helper makes the early cgroup move (the CLI makes it
    /// itself when it can, even earlier).
    public func prelaunchHelper(warm: Bool = true) {
        guard isRoot else { return }
        guard let launched = try? Helper.launchStandby(root: root, warm: warm, io: .standard,
                                                       overlappingExec: !reapsHelpers) else { return }
        Trace.mark("standby spawned")
        standby.withLock { current in
            current?.abandon()
            current = launched
        }
    }

    /// The same for a helper the `skiff` binary started before main (its
    /// pid, the read end of its status pipe, our ends of its command socket
    /// and of its early init's), with our stdio as its own.
    public func adoptPrelaunchedHelper(pid: Int32, status: Int32, channel: Int32, initChannel: Int32) {
        let launched = Helper.Standby(pid: pid, status: status, channel: channel, initChannel: initChannel, io: .standard)
        standby.withLock { current in
            current?.abandon()
            current = launched
        }
    }

    /// A helper prelaunched for a run that did not happen ends here.
    public func discardPrelaunchedHelper() {
        takeStandby()?.abandon()
    }

    func takeStandby() -> Helper.Standby? {
        standby.withLock { current in
            let taken = current
            current = nil
            return taken
        }
    }

    /// Starts a created or exited container. With `attach`, waits for it and
    /// returns its exit code; without, returns once its command has exec'd.
    @discardableResult
    public func start(_ container: Container, attach io: AttachIO?) throws(SkiffError) -> Int32? {
        try start(container, attach: io, fresh: false)
    }

    func start(_ given: Container, attach io: AttachIO?, fresh: Bool,
               standby: Helper.Standby? = nil) throws(SkiffError) -> Int32? {
        // A container `create` just made needs no second look.
        let current = fresh ? given : try self.container(given.id)
        if current.isRunning {
            standby?.abandon()
            if io == nil { return nil }
            throw SkiffError(.conflict, "container \(current.name) is already running")
        }
        let config = current.config
        // With a standby helper the cgroups are made after it has the
        // command line: it clones the container and builds its root while we
        // write the limits, and waits for our word before moving it in.
        let cgroupsLate = standby != nil && (io == nil || !config.tty) && !config.cgroupDirs.isEmpty
        let driver: any CgroupDriver
        var args: [String]
        do {
            driver = try prepareStart(current, makeCgroups: !cgroupsLate)
            args = try spawnArguments(current, driver: driver)
            if cgroupsLate { args.append("--await-cgroups") }
            Trace.mark("arguments ready")
        } catch {
            standby?.abandon()
            throw error
        }

        let detached = io == nil
        var terminal: TerminalSession? = nil
        var console: (ours: Int32, helpers: Int32)? = nil
        let helperIO = io ?? AttachIO(stdin: -1, stdout: -1, stderr: -1)
        // The helper removes an --rm container once it exits, in the
        // background (Files.removeTreeSoon), attached or not.
        if config.autoRemove { args += ["--name-file", root.names + "/" + config.name, "--remove-on-exit"] }
        if detached {
            args.append("--detach")
            // With -t the monitor makes the terminal and logs what comes out of it.
            if config.tty { args.append("--make-tty") }
            args += ["--log", current.logPath]
        } else if config.tty {
            // As runc's --console-socket: the container makes its terminal in
            // its own /dev/pts and sends us the master (the helper's fd 4).
            standby?.abandon()
            var pair: [Int32] = [-1, -1]
            if skiff_socketpair_cloexec(&pair) != 0 {
                let error = SkiffError.system("create the terminal's socket")
                try? driver.remove(name: config.cgroupName)
                throw error
            }
            console = (pair[0], pair[1])
            let size = TerminalSession.windowSize(input: io!.stdin, output: io!.stdout)
            args += ["--tty", "--console-socket", "4", "--tty-size", "\(size.rows):\(size.cols)"]
        } else {
            if config.openStdin { args.append("--stdin") }
            if !config.autoRemove { args += ["--log", current.logPath] }
            args.append("--report-exit")
            // The CLI returns with the reported code and does not wait for
            // the helper's own exit: it finishes without forking (Run.swift).
            if !reapsHelpers { args.append("--unwaited") }
        }
        args += ["--"] + config.command

        let launched: Helper.Launched
        do {
            launched = try Helper.start(args, io: helperIO, terminal: nil, newSession: detached, root: root,
                                        standby: console == nil ? standby : nil,
                                        extraFDs: console.map { [$0.helpers] } ?? [],
                                        whileCloning: { () throws(SkiffError) in
                                            guard cgroupsLate else { return }
                                            try driver.create(name: config.cgroupName, limits: config.limits)
                                            Trace.mark("cgroups made")
                                        }) {
                try? driver.remove(name: config.cgroupName)
            }
        } catch {
            if let console { close(console.ours); close(console.helpers) }
            throw error
        }
        if let console {
            close(console.helpers)
            var fds: [Int32] = [-1]
            let got = skiff_recv_fds(console.ours, &fds, 1)
            close(console.ours)
            guard got == 1 else {
                // Never expected: the container started without sending its terminal.
                let error = SkiffError.system("receive the container's terminal")
                Glibc.kill(launched.helperPid, SIGTERM)
                _ = Helper.wait(launched.helperPid)
                throw error
            }
            terminal = TerminalSession(master: fds[0], input: io!.stdin, output: io!.stdout)
        }
        if detached {
            _ = Helper.wait(launched.helperPid) // the daemonizing parent exits at once
            return nil
        }
        return Helper.attach(launched, terminal: terminal, proxySignals: proxiesSignals, reapHelper: reapsHelpers)
    }

    /// Clears the last run's pid and exit files and makes the cgroups
    /// (recorded in config.json when the container was created) unless the
    /// caller makes them later.
    func prepareStart(_ container: Container, makeCgroups: Bool = true) throws(SkiffError) -> any CgroupDriver {
        unlink(container.directory + "/exit")
        unlink(container.directory + "/pid")
        let driver = try cgroupDriver()
        // Rootless containers have none (Engine+Rootless.swift).
        if makeCgroups && !container.config.cgroupDirs.isEmpty {
            try driver.create(name: container.config.cgroupName, limits: container.config.limits)
        }
        return driver
    }

    /// The spawn helper's command line for `run` mode, up to the options
    /// that depend on how the container is attached.
    func spawnArguments(_ c: Container, driver: any CgroupDriver) throws(SkiffError) -> [String] {
        let config = c.config
        let dir = c.directory
        var args = ["run", "--state", dir, "--rootfs", c.mergedDir, "--upper", c.upperDir, "--work", c.workDir,
                    "--hostname", config.hostname, "--workdir", config.workingDir,
                    "--caps", CapabilitySet.mask(config.capabilities)]
        if config.privileged { args.append("--privileged") }
        if config.readOnlyRootfs { args.append("--read-only") }
        if let map = config.usernsMap { args += map.spawnArguments }
        args += confinementArguments(c, user: config.user)
        // Short names relative to layers/l keep deep images within the
        // kernel's one-page limit on mount options (see LayerLinks).
        args += ["--lower-base", root.layerLinks]
        for lower in config.lowerDirs { args += ["--lower", try LayerLinks.ensure(root: root, layerDirectory: lower)] }
        args += ["--lower", try initLayer()]  // the top lower dir, as Docker's -init layer
        for e in config.env { args += ["--env", e] }
        if !config.cgroupDirs.isEmpty {
            // The init joins itself where it can (v1's tasks files: no RCU
            // wait; not from a user namespace, whose root may not write the
            // host's cgroup files), else the monitor moves it (cgroup.procs).
            if config.usernsMap == nil, let own = driver.selfJoinFiles(for: config.cgroupName) {
                for tasks in own { args += ["--cgroup-self", tasks] }
            } else {
                for procs in driver.procsFiles(for: config.cgroupName) { args += ["--cgroup-procs", procs] }
            }
        }
        for cg in config.cgroupDirs { args += ["--cgroup-dir", cg] }
        if !config.cgroupDirs.isEmpty && CgroupParent.isShared(config.cgroupName) {
            args.append("--shared-cgroup-parent")
        }
        if !config.cgroupDirs.isEmpty, let oom = driver.oomEventsFile(for: config.cgroupName) { args += ["--oom-file", oom] }
        for etc in ["hostname", "hosts", "resolv.conf"] { args += ["--bind", dir + "/" + etc, "/etc/" + etc, "rw"] }
        for text in config.binds {
            let bind = try Bind.parse(text)
            if !Files.exists(bind.source) { try Files.makeDirectories(bind.source) }
            args += ["--bind", bind.source, bind.target, bind.readOnly ? "ro" : "rw"]
        }
        return args
    }

    /// Seccomp, user, ulimits and no_new_privs: the same for the container's
    /// init and for every process `exec` adds (with exec's own --user).
    func confinementArguments(_ c: Container, user: String?) -> [String] {
        let config = c.config
        var args: [String] = []
        if let profile = config.seccompProfile, profile != "unconfined" {
            args += ["--seccomp", c.directory + "/seccomp.bpf"]
        }
        if let user, !user.isEmpty { args += ["--user", user] }
        for group in config.groupAdd ?? [] { args += ["--group-add", group] }
        for limit in config.ulimits ?? [] { args += limit.spawnArguments }
        if config.noNewPrivileges == false { args.append("--allow-new-privileges") }
        return args
    }
}
