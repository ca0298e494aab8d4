import SkiffCommon
import SkiffSeccomp

/// What the seccomp profile in force says about one syscall, for explaining
/// a refusal: read from the same profile the filter was compiled from.
public enum SeccompFacts {
    /// true: no rule allows the call for these capabilities, so the filter's
    /// default (EPERM) refuses it; false: allowed outright; nil: it depends on
    /// the call's arguments (clone with namespace flags, say).
    public static func refuses(_ syscall: String, capabilities: [String],
                               profile: SeccompProfile = .skiffDefault) -> Bool? {
        switch profile.verdict(for: syscall, target: SeccompTarget(capabilities: capabilities)) {
        case .action(.allow), .action(.log): return false
        case .action: return true
        case .dependsOnArguments: return nil
        }
    }

    /// The profile a container records ("builtin", "unconfined", a file), or
    /// nil when it runs without a filter.
    public static func profile(named name: String?) -> SeccompProfile? {
        switch name {
        case nil, "unconfined"?: return nil
        case "builtin"?: return .skiffDefault
        case let path?:
            guard let bytes = (try? Files.read(path)) ?? nil else { return nil }
            return try? DockerProfileFormat.parse(bytes, source: path)
        }
    }

    /// Refusal facts for a container known by its recorded settings.
    public static func facts(capabilities: [String], seccompProfile name: String?) -> RefusalFacts {
        guard let profile = profile(named: name) else {
            return RefusalFacts(capabilities: capabilities, seccompFiltering: false)
        }
        return RefusalFacts(capabilities: capabilities, seccompFiltering: true,
                            seccompRefuses: { call, caps in refuses(call, capabilities: caps, profile: profile) })
    }
}
