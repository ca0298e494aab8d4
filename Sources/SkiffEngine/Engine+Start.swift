import FoundationEssentials
import Glibc
import SkiffCommon
import SkiffKernel

extension Engine {
    /// `skiff run`: create, then start attached or detached. Returns the
    /// container's exit code for a foreground run, nil when detached.
    public func run(_ spec: RunSpec, io: AttachIO = .standard, progress: (String) -> Void = { _ in }) throws(SkiffError) -> (container: Container, exitCode: Int32?) {
        let container = try create(spec, progress: progress)
        do {
            let code = try start(container, attach: spec.detach ? nil : io)
            if let code, spec.autoRemove {
                try remove(container.id, force: true)
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

    /// Starts a created or exited container. With `attach`, waits for it and
    /// returns its exit code; without, returns once its command has exec'd.
    @discardableResult
    public func start(_ container: Container, attach io: AttachIO?) throws(SkiffError) -> Int32? {
        try requireRoot("starting a container")
        let current = try self.container(container.id)
        if current.isRunning {
            if io == nil { return nil }
            throw SkiffError(.conflict, "container \(current.name) is already running")
        }
        let config = current.config
        let dir = current.directory
        unlink(dir + "/exit")
        unlink(dir + "/pid")

        let driver = try cgroupDriver()
        try driver.create(name: config.cgroupName, limits: config.limits)
        var args = ["run", "--state", dir, "--rootfs", current.mergedDir,
                    "--upper", current.upperDir, "--work", current.workDir,
                    "--hostname", config.hostname, "--workdir", config.workingDir]
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

        let detached = io == nil
        var terminal: TerminalSession? = nil
        var helperIO = io ?? AttachIO(stdin: -1, stdout: -1, stderr: -1)
        if detached {
            args.append("--detach")
            if config.tty { args.append("--make-tty") }
            if config.autoRemove { args += ["--remove-on-exit", root.names + "/" + config.name] }
            if !config.tty { args += ["--log", current.logPath] }
        } else if config.tty {
            terminal = try TerminalSession(input: io!.stdin, output: io!.stdout)
            helperIO = AttachIO(stdin: terminal!.slave, stdout: terminal!.slave, stderr: terminal!.slave)
            args.append("--tty")
        } else {
            if config.openStdin { args.append("--stdin") }
            if !config.autoRemove { args += ["--log", current.logPath] }
        }
        args += ["--"] + config.command

        let launched: Helper.Launched
        do {
            launched = try Helper.launch(args, io: helperIO, newSession: detached, root: root)
        } catch {
            terminal?.close()
            try? driver.remove(name: config.cgroupName)
            throw error
        }
        terminal?.closeSlave()
        do {
            _ = try Helper.awaitStart(launched)
        } catch {
            terminal?.close()
            _ = Helper.wait(launched.helperPid)
            try? driver.remove(name: config.cgroupName)
            throw error
        }
        if detached {
            _ = Helper.wait(launched.helperPid) // the daemonizing parent exits at once
            return nil
        }
        if let terminal {
            terminal.proxy(until: launched.helperPid)
        }
        let code = Helper.wait(launched.helperPid)
        terminal?.close()
        return code
    }

    /// The file whose oom_kill counter tells whether the kernel killed the container.
    func oomFile(_ dirs: [String]) -> String? {
        for dir in dirs {
            for file in ["memory.oom_control", "memory.events"] where Files.exists(dir + "/" + file) {
                return dir + "/" + file
            }
            if dir.contains("/memory/") { return dir + "/memory.oom_control" }
        }
        return dirs.count == 1 ? dirs[0] + "/memory.events" : nil
    }
}
