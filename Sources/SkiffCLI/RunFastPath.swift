/// `skiff run`'s own flag reader, for the hot path. ArgumentParser's first
/// use in a process costs about 2 ms (it builds its model of the command
/// from type metadata); reading an ordinary `run` line by hand takes a few
/// microseconds. The reader accepts exactly what ArgumentParser accepts for
/// `Run` and gives the same result, or answers nil and leaves the line to
/// ArgumentParser, which then prints its usual help or error. It refuses
/// whenever it is not sure: unknown flags, `--help`, missing values, values
/// that begin with a dash, `-eVALUE`, `-e=VALUE`, `--flag=`, an image that
/// begins with a dash, and the few command arguments ArgumentParser does
/// not pass on. `RunFastPathTests` holds it equal to `Run.parse`,
/// flag by flag from ArgumentParser's own definition.
enum RunFastPath {
    /// Reads what follows `run` on the command line.
    static func read(_ arguments: ArraySlice<String>) -> RunRequest? {
        var request = RunRequest(image: "")
        var next = arguments.startIndex
        /// Sets a flag, or an option to the following argument. As in
        /// ArgumentParser a dash-led argument is not a value (it takes a
        /// lone "-" as one, which we leave to it).
        func take(_ flag: RunFlag) -> Bool {
            if flag.arity == .flag {
                request.set(flag)
                return true
            }
            guard next < arguments.endIndex, arguments[next].first != "-" else { return false }
            next += 1
            return request.set(flag, arguments[next - 1])
        }
        while next < arguments.endIndex {
            let argument = arguments[next]
            next += 1
            // Leading dashes counted by Character, as ArgumentParser does.
            switch argument.prefix(while: { $0 == "-" }).count {
            case 0:
                // The image: everything after it is the command's, untouched.
                guard passesThrough(arguments[next...]) else { return nil }
                request.image = argument
                request.command = Array(arguments[next...])
                return request
            case 2 where argument.count == 2:
                // "--": the next argument is the image, whatever it looks like.
                guard next < arguments.endIndex, arguments[next].first != "-" else { return nil }
                request.image = arguments[next]
                request.command = Array(arguments[(next + 1)...])
                return request
            case 2:
                // --name VALUE, --name=VALUE, --flag. Split at the first "="
                // as ArgumentParser does (by Character).
                let body = argument.dropFirst(2)
                if let equals = body.firstIndex(of: "=") {
                    let value = body[body.index(after: equals)...]
                    // `--name=` would take the next argument as its value.
                    guard let flag = RunFlag(long: body[..<equals]), flag.arity != .flag, !value.isEmpty,
                          request.set(flag, String(value)) else { return nil }
                } else {
                    guard let flag = RunFlag(long: body), take(flag) else { return nil }
                }
            case 1 where argument.count > 1:
                // -i, -it, -dit; -e VALUE; -ev A B takes A for -e and B for -v,
                // in order, as ArgumentParser does.
                for letter in argument.dropFirst() {
                    guard let flag = RunFlag(short: letter), take(flag) else { return nil }
                }
            default:
                // A lone "-" (an image to ArgumentParser), "---x".
                return nil
            }
        }
        return nil  // no image
    }

    /// Whether ArgumentParser passes the arguments after the image on as
    /// they are. It still splits them up to the first "--": it refuses a
    /// few shapes there outright ("---x", "---", "-=x"), so that
    /// `skiff run busybox echo ---` is an error, and it answers
    /// `--generate-completion-script[=SHELL]` anywhere with a completion
    /// script. Those lines are left to it.
    static func passesThrough(_ command: ArraySlice<String>) -> Bool {
        for argument in command {
            if argument == "--" { return true }
            let bytes = argument.utf8
            if bytes.starts(with: "---".utf8) || bytes.starts(with: "-=".utf8) { return false }
            if bytes.starts(with: completionFlag.utf8) {
                let rest = bytes.dropFirst(completionFlag.utf8.count)
                if rest.isEmpty || rest.first == UInt8(ascii: "=") { return false }
            }
        }
        return true
    }

    static let completionFlag = "--generate-completion-script"
}

/// Every flag of `run`, as `ContainerFlags` and `Run` declare them: all the
/// fast reader knows. A flag added there must be added here
/// (`RunFastPathTests.readerKnowsEveryDeclaredFlag` fails until it is).
enum RunFlag: CaseIterable {
    case name, env, envFile, volume, hostname, workdir, entrypoint, memory, pidsLimit, cpus
    case interactive, tty, autoRemove, capAdd, capDrop, privileged, readOnly, securityOpt, user
    case ulimit, groupAdd, userns, cgroupParent, detach

    enum Arity { case flag, value, repeatable }

    var long: String {
        switch self {
        case .name: "name"
        case .env: "env"
        case .envFile: "env-file"
        case .volume: "volume"
        case .hostname: "hostname"
        case .workdir: "workdir"
        case .entrypoint: "entrypoint"
        case .memory: "memory"
        case .pidsLimit: "pids-limit"
        case .cpus: "cpus"
        case .interactive: "interactive"
        case .tty: "tty"
        case .autoRemove: "rm"
        case .capAdd: "cap-add"
        case .capDrop: "cap-drop"
        case .privileged: "privileged"
        case .readOnly: "read-only"
        case .securityOpt: "security-opt"
        case .user: "user"
        case .ulimit: "ulimit"
        case .groupAdd: "group-add"
        case .userns: "userns"
        case .cgroupParent: "cgroup-parent"
        case .detach: "detach"
        }
    }

    var short: Character? {
        switch self {
        case .env: "e"
        case .volume: "v"
        case .hostname: "h"
        case .workdir: "w"
        case .memory: "m"
        case .interactive: "i"
        case .tty: "t"
        case .user: "u"
        case .detach: "d"
        default: nil
        }
    }

    var arity: Arity {
        switch self {
        case .interactive, .tty, .autoRemove, .privileged, .readOnly, .detach: .flag
        case .env, .envFile, .volume, .capAdd, .capDrop, .securityOpt, .ulimit, .groupAdd: .repeatable
        case .name, .hostname, .workdir, .entrypoint, .memory, .pidsLimit, .cpus, .user, .userns, .cgroupParent: .value
        }
    }

    init?(long: Substring) {
        // Byte for byte: ArgumentParser would also take a canonically
        // equal Unicode spelling, which we leave to it.
        guard let flag = Self.allCases.first(where: { long.utf8.elementsEqual($0.long.utf8) }) else { return nil }
        self = flag
    }

    init?(short: Character) {
        guard let flag = Self.allCases.first(where: { short == $0.short }) else { return nil }
        self = flag
    }
}

extension RunRequest {
    /// Sets a flag that takes no value.
    mutating func set(_ flag: RunFlag) {
        switch flag {
        case .interactive: options.interactive = true
        case .tty: options.tty = true
        case .autoRemove: options.autoRemove = true
        case .privileged: options.privileged = true
        case .readOnly: options.readOnly = true
        case .detach: detach = true
        default: preconditionFailure("--\(flag.long) takes a value")
        }
    }

    /// Sets an option's value as ArgumentParser would: the last one wins,
    /// repeatable ones collect. False if ArgumentParser would refuse the
    /// value (--pids-limit is an Int64, read by the same `Int64(String)`).
    mutating func set(_ flag: RunFlag, _ value: String) -> Bool {
        switch flag {
        case .name: options.name = value
        case .env: options.env.append(value)
        case .envFile: options.envFile.append(value)
        case .volume: options.volume.append(value)
        case .hostname: options.hostname = value
        case .workdir: options.workdir = value
        case .entrypoint: options.entrypoint = value
        case .memory: options.memory = value
        case .pidsLimit:
            guard let number = Int64(value) else { return false }
            options.pidsLimit = number
        case .cpus: options.cpus = value
        case .capAdd: options.capAdd.append(value)
        case .capDrop: options.capDrop.append(value)
        case .securityOpt: options.securityOpt.append(value)
        case .user: options.user = value
        case .ulimit: options.ulimit.append(value)
        case .groupAdd: options.groupAdd.append(value)
        case .userns: options.userns = value
        case .cgroupParent: options.cgroupParent = value
        case .interactive, .tty, .autoRemove, .privileged, .readOnly, .detach:
            preconditionFailure("--\(flag.long) takes no value")
        }
        return true
    }
}
