import Glibc
import SkiffCommon
import SkiffKernel

extension Engine {
    /// `docker exec`: one more process in a running container's namespaces
    /// and cgroup. Returns its exit code.
    public func exec(_ reference: String, _ spec: ExecSpec, io: AttachIO = .standard) throws(SkiffError) -> Int32 {
        let c = try container(reference)
        guard c.isRunning else {
            throw SkiffError(.conflict, "Container \(c.id) is not running")
        }
        guard !spec.command.isEmpty else { throw SkiffError(.usage, "exec needs a command to run") }
        let env = try Environment.merge(image: c.config.env, files: [], flags: spec.env,
                                        hostname: c.config.hostname, tty: spec.tty,
                                        defaultHome: Environment.isRoot(spec.user ?? c.config.user))
        var args = ["exec", "--pid", String(c.state.pid), "--workdir", spec.workingDir ?? c.config.workingDir,
                    "--caps", CapabilitySet.mask(c.config.capabilities)]
        args += confinementArguments(c, user: spec.user ?? c.config.user)
        for e in env { args += ["--env", e] }
        let driver = try cgroupDriver()
        for procs in driver.procsFiles(for: c.config.cgroupName) where Files.exists(procs) {
            args += ["--cgroup-procs", procs]
        }
        var terminal: TerminalSession? = nil
        var helperIO = io
        if spec.tty {
            terminal = try TerminalSession(input: io.stdin, output: io.stdout)
            helperIO = AttachIO(stdin: terminal!.slave, stdout: terminal!.slave, stderr: terminal!.slave)
            args.append("--tty")
        } else if spec.interactive {
            args.append("--stdin")
        }
        args += ["--"] + spec.command
        let launched = try Helper.start(args, io: helperIO, terminal: terminal, newSession: false, root: root) {}
        return Helper.attach(launched, terminal: terminal)
    }
}
