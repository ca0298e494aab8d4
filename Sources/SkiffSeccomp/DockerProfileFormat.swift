import FoundationEssentials
import Glibc
import SkiffCommon

/// Reads Docker's seccomp profile JSON (`--security-opt seccomp=FILE.json`)
/// into a `SeccompProfile`. Unknown syscall names are kept: the compiler
/// skips the ones this kernel does not know, as Docker does.
public enum DockerProfileFormat {
    public static func parse(_ data: [UInt8], source: String) throws(SkiffError) -> SeccompProfile {
        let file: ProfileFile
        do {
            file = try JSONDecoder().decode(ProfileFile.self, from: Data(data))
        } catch let error as DecodingError {
            throw SkiffError(.usage, "seccomp profile \(source): \(oneLine(error))")
        } catch {
            throw SkiffError(.usage, "seccomp profile \(source): not valid JSON")
        }
        return try file.profile(source: source)
    }

    /// The decoder's complaint, short enough for one line.
    static func oneLine(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            return text.isEmpty ? "the top level" : String(text.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context):
            let at = context.codingPath.isEmpty ? "" : " in \(path(context.codingPath))"
            return "\"\(key.stringValue)\" is missing\(at)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context.codingPath)) has the wrong type"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context.codingPath)) is not valid"
        @unknown default:
            return "not valid JSON"
        }
    }

    struct ProfileFile: Decodable {
        var defaultAction: String
        var defaultErrnoRet: UInt16?
        var architectures: [String]?
        var archMap: [ArchEntry]?
        var syscalls: [SyscallEntry]?

        func profile(source: String) throws(SkiffError) -> SeccompProfile {
            func bad(_ what: String) -> SkiffError { SkiffError(.usage, "seccomp profile \(source): \(what)") }
            if architectures?.isEmpty == false && archMap?.isEmpty == false {
                throw bad("give either \"architectures\" or \"archMap\", not both")
            }
            guard let defaultAction = DockerProfileFormat.action(defaultAction, errno: defaultErrnoRet) else {
                throw bad("unknown defaultAction \"\(self.defaultAction)\"")
            }
            // Either form becomes "for this native architecture, these".
            var arches: [String: [String]] = [:]
            if let list = architectures, !list.isEmpty {
                let names = list.map(DockerProfileFormat.libseccompArch)
                for docker in DockerProfileFormat.dockerArchNames.keys { arches[docker] = names }
            }
            for entry in archMap ?? [] {
                let native = DockerProfileFormat.libseccompArch(entry.architecture)
                let names = [native] + (entry.subArchitectures ?? []).map(DockerProfileFormat.libseccompArch)
                for (docker, seccompName) in DockerProfileFormat.dockerArchNames where seccompName == native {
                    arches[docker] = names
                }
            }
            var rules: [SeccompRule] = []
            for (index, entry) in (syscalls ?? []).enumerated() {
                let names = (entry.names ?? []) + (entry.name.map { [$0] } ?? [])
                if names.isEmpty { throw bad("syscalls[\(index)] names no syscall") }
                // A rule without its own errnoRet refuses with EPERM (runc).
                guard let action = DockerProfileFormat.action(entry.action, errno: entry.errnoRet ?? UInt16(EPERM)) else {
                    throw bad("syscalls[\(index)] has unknown action \"\(entry.action)\"")
                }
                var arguments: [SeccompArgument] = []
                for arg in entry.args ?? [] {
                    guard let op = SeccompArgument.Op(rawValue: arg.op) else {
                        throw bad("syscalls[\(index)] has unknown operator \"\(arg.op)\"")
                    }
                    guard arg.index < 6 else { throw bad("syscalls[\(index)] compares argument \(arg.index) (syscalls have 6)") }
                    arguments.append(SeccompArgument(arg.index, op, arg.value, arg.valueTwo ?? 0))
                }
                rules.append(SeccompRule(names, action, arguments: arguments,
                                         onlyIf: try entry.includes?.condition(bad) ?? .init(),
                                         unless: try entry.excludes?.condition(bad) ?? .init()))
            }
            return SeccompProfile(defaultAction: defaultAction, architectures: arches, rules: rules)
        }
    }

    struct ArchEntry: Decodable {
        var architecture: String
        var subArchitectures: [String]?
    }

    struct SyscallEntry: Decodable {
        var name: String?
        var names: [String]?
        var action: String
        var errnoRet: UInt16?
        var args: [ArgEntry]?
        var includes: Filter?
        var excludes: Filter?
    }

    struct ArgEntry: Decodable {
        var index: UInt32
        var value: UInt64
        var valueTwo: UInt64?
        var op: String
    }

    struct Filter: Decodable {
        var caps: [String]?
        var arches: [String]?
        var minKernel: String?

        func condition(_ bad: (String) -> SkiffError) throws(SkiffError) -> SeccompCondition {
            var kernel: KernelVersion? = nil
            if let text = minKernel {
                guard let parsed = KernelVersion(parsing: text) else { throw bad("minKernel \"\(text)\" is not MAJOR.MINOR") }
                kernel = parsed
            }
            let capabilities = (caps ?? []).map { name in
                let upper = name.uppercased()
                return upper.hasPrefix("CAP_") ? String(upper.dropFirst(4)) : upper
            }
            return SeccompCondition(capabilities: capabilities, arches: arches ?? [], minKernel: kernel)
        }
    }

    static func action(_ name: String, errno: UInt16?) -> SeccompAction? {
        switch name {
        case "SCMP_ACT_ALLOW": return .allow
        case "SCMP_ACT_ERRNO": return .errno(errno ?? UInt16(EPERM))
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return .killThread
        case "SCMP_ACT_KILL_PROCESS": return .killProcess
        case "SCMP_ACT_TRAP": return .trap
        case "SCMP_ACT_TRACE": return .trace(errno ?? UInt16(EPERM))
        case "SCMP_ACT_LOG": return .log
        default: return nil // SCMP_ACT_NOTIFY needs a listener Skiff does not run
        }
    }

    /// "SCMP_ARCH_X86_64" → "x86_64" (libseccomp's own name).
    static func libseccompArch(_ docker: String) -> String {
        let lower = docker.lowercased()
        return lower.hasPrefix("scmp_arch_") ? String(lower.dropFirst(10)) : lower
    }

    /// Docker's (Go's) architecture names → libseccomp's native name.
    static let dockerArchNames = ["amd64": "x86_64", "x86": "x86", "arm64": "aarch64", "arm": "arm",
                                  "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
                                  "mips64": "mips64", "mips64le": "mipsel64"]
}
