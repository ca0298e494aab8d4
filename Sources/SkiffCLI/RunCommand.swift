import ArgumentParser
import Glibc
import SkiffCommon
import SkiffEngine
import SkiffKernel

/// The flags `run` and `create` share, as Docker spells them.
struct ContainerFlags: ParsableArguments {
    @Option(name: .long, help: "Assign a name to the container") var name: String?
    @Option(name: [.customShort("e"), .long], help: "Set environment variables (KEY=VALUE or KEY)") var env: [String] = []
    @Option(name: .customLong("env-file"), help: "Read in a file of environment variables") var envFile: [String] = []
    @Option(name: [.customShort("v"), .long], help: "Bind mount a host directory: HOST:CONTAINER[:ro]") var volume: [String] = []
    @Option(name: [.customShort("h"), .long], help: "Container host name") var hostname: String?
    @Option(name: [.customShort("w"), .customLong("workdir")], help: "Working directory inside the container") var workdir: String?
    @Option(name: .long, help: "Overwrite the default ENTRYPOINT of the image") var entrypoint: String?
    @Option(name: [.customShort("m"), .long], help: "Memory limit (e.g. 64m, 1g)") var memory: String?
    @Option(name: .customLong("pids-limit"), help: "Tune container pids limit (-1 for unlimited)") var pidsLimit: Int64?
    @Option(name: .long, help: "Number of CPUs (e.g. 0.5)") var cpus: String?
    @Flag(name: [.customShort("i"), .long], help: "Keep STDIN open") var interactive = false
    @Flag(name: [.customShort("t"), .long], help: "Allocate a pseudo-TTY") var tty = false
    @Flag(name: .customLong("rm"), help: "Automatically remove the container when it exits") var autoRemove = false
    @Option(name: .customLong("cap-add"), help: "Add Linux capabilities (e.g. NET_ADMIN, CAP_SYS_TIME, ALL)") var capAdd: [String] = []
    @Option(name: .customLong("cap-drop"), help: "Drop Linux capabilities (e.g. NET_RAW, ALL)") var capDrop: [String] = []
    @Flag(name: .long, help: "Give extended privileges to this container: every capability, nothing hidden in /proc") var privileged = false
    @Flag(name: .customLong("read-only"), help: "Mount the container's root filesystem as read only") var readOnly = false
    @Option(name: .customLong("security-opt"), help: "Security options: seccomp=unconfined, seccomp=FILE.json, no-new-privileges") var securityOpt: [String] = []
    @Option(name: [.customShort("u"), .long], help: "Username or UID (format: <name|uid>[:<group|gid>])") var user: String?
    @Option(name: .long, help: "Ulimit options (e.g. nofile=1024:2048)") var ulimit: [String] = []
    @Option(name: .customLong("group-add"), help: "Add additional groups to join") var groupAdd: [String] = []
    @Option(name: .long, help: "User namespace: host (default) or private (container root is an unprivileged host UID)") var userns: String?
    @Option(name: .customLong("cgroup-parent"), help: "Parent cgroup for the container (default skiff)") var cgroupParent: String?

    /// The parsed values as plain data, the same shape `run`'s fast reader fills in.
    var options: ContainerOptions {
        ContainerOptions(name: name, env: env, envFile: envFile, volume: volume, hostname: hostname, workdir: workdir,
                         entrypoint: entrypoint, memory: memory, pidsLimit: pidsLimit, cpus: cpus,
                         interactive: interactive, tty: tty, autoRemove: autoRemove, capAdd: capAdd, capDrop: capDrop,
                         privileged: privileged, readOnly: readOnly, securityOpt: securityOpt, user: user,
                         ulimit: ulimit, groupAdd: groupAdd, userns: userns, cgroupParent: cgroupParent)
    }
}

/// What `ContainerFlags` holds once parsed, without ArgumentParser: both
/// ArgumentParser and `RunFastPath` produce it, and `spec` checks it the same
/// way for both. Its fields mirror ContainerFlags' properties one for one
/// (`RunFastPathTests` checks that by name).
struct ContainerOptions: Equatable {
    var name: String?
    var env: [String] = []
    var envFile: [String] = []
    var volume: [String] = []
    var hostname: String?
    var workdir: String?
    var entrypoint: String?
    var memory: String?
    var pidsLimit: Int64?
    var cpus: String?
    var interactive = false
    var tty = false
    var autoRemove = false
    var capAdd: [String] = []
    var capDrop: [String] = []
    var privileged = false
    var readOnly = false
    var securityOpt: [String] = []
    var user: String?
    var ulimit: [String] = []
    var groupAdd: [String] = []
    var userns: String?
    var cgroupParent: String?

    func spec(image: String, command: [String]) throws(SkiffError) -> RunSpec {
        var spec = RunSpec(image: image, command: command)
        spec.name = name
        spec.env = env
        spec.envFiles = envFile
        spec.volumes = volume
        spec.hostname = hostname
        spec.workingDir = workdir
        spec.entrypoint = entrypoint
        spec.interactive = interactive
        spec.tty = tty
        spec.autoRemove = autoRemove
        spec.capAdd = capAdd
        spec.capDrop = capDrop
        spec.privileged = privileged
        spec.readOnlyRootfs = readOnly
        spec.securityOpt = securityOpt
        spec.user = user
        spec.ulimits = ulimit
        spec.groupAdd = groupAdd
        spec.userns = try UserNamespaceMap.parseMode(userns)
        spec.cgroupParent = try cgroupParent.map { (p) throws(SkiffError) in try CgroupParent.normalize(p) }
        _ = try SecurityOptions.parse(securityOpt)
        for u in ulimit { _ = try Ulimit.parse(u) }
        if let memory { spec.limits.memoryBytes = try ResourceLimits.parseMemory(memory) }
        if let cpus { spec.limits.nanoCpus = try ResourceLimits.parseCpus(cpus) }
        if let pidsLimit { spec.limits.pidsLimit = pidsLimit }
        for v in volume { _ = try Bind.parse(v) }
        return spec
    }
}

struct Run: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Create and run a new container from an image")
    static var passesContainerCodes: Bool { RunRequest.passesContainerCodes }

    @OptionGroup var flags: ContainerFlags
    @Flag(name: [.customShort("d"), .long], help: "Run container in background and print container ID") var detach = false
    @Argument(help: "The image to run") var image: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments") var command: [String] = []

    var request: RunRequest { RunRequest(options: flags.options, detach: detach, image: image, command: command) }

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        try request.execute(engine)
    }
}

/// One `skiff run` command line, parsed by ArgumentParser (`Run`) or by the
/// fast reader (`RunFastPath`): what runs it is here, once for both.
struct RunRequest: EngineCommand, Equatable {
    var options = ContainerOptions()
    var detach = false
    var image: String
    var command: [String] = []

    static var passesContainerCodes: Bool { true }

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        var spec = try options.spec(image: image, command: command)
        spec.detach = detach
        if options.tty && !detach && isatty(0) != 1 {
            printError("the input device is not a TTY; running without a terminal")
            spec.tty = false
        }
        let result = try engine.run(spec, progress: { printError($0, prefixed: false) })
        if detach {
            print(result.container.id)
            return 0
        }
        return result.exitCode ?? 0
    }
}

struct Create: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a new container without starting it")
    static var passesContainerCodes: Bool { true }

    @OptionGroup var flags: ContainerFlags
    @Argument(help: "The image") var image: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments") var command: [String] = []

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        let container = try engine.create(try flags.options.spec(image: image, command: command),
                                          progress: { printError($0, prefixed: false) })
        print(container.id)
        return 0
    }
}
