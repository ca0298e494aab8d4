import FoundationEssentials
import Glibc
import SkiffCommon
import SkiffKernel

extension Engine {
    /// `skiff run`: create, then start attached or detached. Returns the
    /// container's exit code for a foreground run, nil when detached.
    ///
    /// When the engine `handsOverForegroundRuns` (the CLI's), a foreground run
    /// without a terminal execs the spawn helper in place of this process: the
    /// helper already monitors, logs, removes with --rm and exits with the
    /// container's code, so waiting here would only cost time.
    public func run(_ spec: RunSpec, io: AttachIO = .standard, warmedUp: Bool = false,
                    progress: (String) -> Void = { _ in }) throws(SkiffError) -> (container: Container, exitCode: Int32?) {
        if !warmedUp { warmUpCgroupAttach() }
        let container = try create(spec, progress: progress)
        do {
            if handsOverForegroundRuns && !spec.detach && !spec.tty {
                try handOverStart(container)
            }
            let code = try start(container, attach: spec.detach ? nil : io, fresh: true)
            if code != nil, spec.autoRemove {
                try removeStopped(container)
                return (container, code)
            }
            return (try self.container(container.id), code)
        } catch {
            // A run that failed to start leaves nothing behind, not even the
            // created container (unlike `create` + `start`).
            try? remove(container.id, force: true)
            throw error
        }
    }

    /// Gets the kernel's wait for moving a process between cgroups out of
    /// the way while the run goes on (see `CgroupWarmUp`). Call it as early as
    /// possible before `run`; a no-op when not root.
    public func warmUpCgroupAttach() {
        guard isRoot, let driver = try? cgroupDriver() else { return }
        CgroupWarmUp.start(driver)
    }

    /// Starts a created or exited container. With `attach`, waits for it and
    /// returns its exit code; without, returns once its command has exec'd.
    @discardableResult
    public func start(_ container: Container, attach io: AttachIO?) throws(SkiffError) -> Int32? {
        try start(container, attach: io, fresh: false)
    }

    func start(_ given: Container, attach io: AttachIO?, fresh: Bool) throws(SkiffError) -> Int32? {
        try requireRoot("starting a container")
        // A container `create` just made needs no second look.
        let current = fresh ? given : try self.container(given.id)
        if current.isRunning {
            if io == nil { return nil }
            throw SkiffError(.conflict, "container \(current.name) is already running")
        }
        let config = current.config
        let driver = try prepareStart(current)
        var args = try spawnArguments(current, driver: driver)

        let detached = io == nil
        var terminal: TerminalSession? = nil
        var helperIO = io ?? AttachIO(stdin: -1, stdout: -1, stderr: -1)
        if detached {
            args.append("--detach")
            if config.tty { args.append("--make-tty") }
            if config.autoRemove { args += ["--name-file", root.names + "/" + config.name, "--remove-on-exit"] }
            if !config.tty { args += ["--log", current.logPath] }
        } else if config.tty {
            do {
                terminal = try TerminalSession(input: io!.stdin, output: io!.stdout)
            } catch {
                try? driver.remove(name: config.cgroupName)
                throw error
            }
            helperIO = AttachIO(stdin: terminal!.slave, stdout: terminal!.slave, stderr: terminal!.slave)
            args.append("--tty")
        } else {
            if config.openStdin { args.append("--stdin") }
            if !config.autoRemove { args += ["--log", current.logPath] }
        }
        args += ["--"] + config.command

        let launched = try Helper.start(args, io: helperIO, terminal: terminal, newSession: detached, root: root) {
            try? driver.remove(name: config.cgroupName)
        }
        if detached {
            _ = Helper.wait(launched.helperPid) // the daemonizing parent exits at once
            return nil
        }
        return Helper.attach(launched, terminal: terminal)
    }

    /// The foreground CLI run: this process becomes the container's monitor.
    func handOverStart(_ container: Container) throws(SkiffError) -> Never {
        let config = container.config
        let driver = try prepareStart(container)
        var args = try spawnArguments(container, driver: driver)
        args += ["--name-file", root.names + "/" + config.name, "--remove-on-failure"]
        if config.autoRemove { args.append("--remove-on-exit") } else { args += ["--log", container.logPath] }
        if config.openStdin { args.append("--stdin") }
        args += ["--"] + config.command
        do {
            try Helper.handOver(args, root: root)
        } catch {
            try? driver.remove(name: config.cgroupName)
            throw error
        }
    }

    /// Clears the last run's pid and exit files and makes the cgroups
    /// (recorded in config.json when the container was created).
    func prepareStart(_ container: Container) throws(SkiffError) -> any CgroupDriver {
        unlink(container.directory + "/exit")
        unlink(container.directory + "/pid")
        let driver = try cgroupDriver()
        try driver.create(name: container.config.cgroupName, limits: container.config.limits)
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
        args += confinementArguments(c, user: config.user)
        for lower in config.lowerDirs { args += ["--lower", lower] }
        for e in config.env { args += ["--env", e] }
        for procs in driver.procsFiles(for: config.cgroupName) { args += ["--cgroup-procs", procs] }
        for cg in config.cgroupDirs { args += ["--cgroup-dir", cg] }
        if let oom = oomFile(config.cgroupDirs) { args += ["--oom-file", oom] }
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

    /// The file whose oom_kill counter tells whether the kernel killed the container.
    func oomFile(_ dirs: [String]) -> String? {
        for dir in dirs {
            for file in ["memory.oom_control", "memory.events"] where Files.exists(dir + "/" + file) {
                return dir + "/" + file
            }
        }
        return nil
    }
}
