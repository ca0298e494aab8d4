import Glibc
import SkiffCommon
import SkiffSeccomp

/// `--security-opt` as Docker reads it: `seccomp=unconfined`,
/// `seccomp=FILE.json` (Docker's profile format), `no-new-privileges[=true|false]`
/// (also with `:` for `=`, Docker's older spelling).
public struct SecurityOptions: Sendable, Equatable {
    public enum Seccomp: Sendable, Equatable {
        case builtIn
        case unconfined
        case file(String)
    }
    public var seccomp = Seccomp.builtIn
    public var noNewPrivileges: Bool?

    public static func parse(_ options: [String]) throws(SkiffError) -> SecurityOptions {
        var result = SecurityOptions()
        for option in options {
            let separator = option.firstIndex(where: { $0 == "=" || $0 == ":" })
            let key = separator.map { String(option[..<$0]) } ?? option
            let value = separator.map { String(option[option.index(after: $0)...]) }
            switch (key, value) {
            case ("seccomp", "unconfined"?): result.seccomp = .unconfined
            case ("seccomp", let path?) where !path.isEmpty: result.seccomp = .file(path)
            case ("no-new-privileges", nil), ("no-new-privileges", "true"?): result.noNewPrivileges = true
            case ("no-new-privileges", "false"?): result.noNewPrivileges = false
            case ("apparmor", _), ("label", _), ("systempaths", _):
                throw SkiffError(.unsupported, "--security-opt \(option): Skiff has no \(key) support (it uses capabilities, seccomp and masked paths)")
            default:
                throw SkiffError(.usage, "invalid --security-opt: \"\(option)\" (use seccomp=unconfined, seccomp=FILE.json or no-new-privileges)")
            }
        }
        return result
    }
}

extension Engine {
    /// Decides the container's seccomp filter at create time and puts the
    /// compiled program in its directory as seccomp.bpf. Returns the profile's
    /// name for inspect: "builtin", "unconfined" or the file's path.
    /// `--privileged` turns seccomp off, as Docker does.
    func prepareSeccomp(_ options: SecurityOptions, capabilities: [String], privileged: Bool,
                        into dir: String) throws(SkiffError) -> String {
        let cache = SeccompCache(directory: root.seccomp)
        let cached: String
        let name: String
        switch options.seccomp {
        case .unconfined:
            return "unconfined"
        case _ where privileged:
            return "unconfined"
        case .builtIn:
            cached = try cache.builtinFilter(capabilities: capabilities)
            name = "builtin"
        case .file(let path):
            guard let bytes = try Files.read(path) else {
                throw SkiffError(.notFound, "opening seccomp profile (\(path)) failed: no such file or directory")
            }
            let profile = try DockerProfileFormat.parse(bytes, source: path)
            cached = try cache.filter(profile, for: SeccompTarget(capabilities: capabilities))
            name = path
        }
        // A hard link: the container keeps its filter even if the cache is cleared.
        let own = dir + "/seccomp.bpf"
        if link(cached, own) != 0 {
            guard let bytes = try Files.read(cached) else { throw SkiffError(.system, "read \(cached)") }
            try Files.writeAtomically(own, bytes)
        }
        return name
    }
}
