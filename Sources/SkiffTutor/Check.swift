/// One condition on the live state of the runtime. Every field may use
/// {{vars}}. The kinds are the only ones the linter accepts.
public struct Check: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// `container` exists (or, with `exists: false`, does not).
        case containerExists = "container_exists"
        /// `container` is `status`: running, exited or created.
        case containerStatus = "container_status"
        /// `container` exited with code `equals`.
        case exitCode = "exit_code"
        /// `container`'s namespace `type` is (`shared: true`) or is not shared with the host.
        case namespace
        /// `container`'s live cgroup limit for `resource` (memory, pids, cpus) is `equals`.
        case cgroupLimit = "cgroup_limit"
        /// The file at `path` inside `container`: `equals`, `contains` or `pattern`;
        /// with `exists: false`, that there is no such file.
        case file
        /// `image` has `equals` layers.
        case imageLayers = "image_layers"
        /// Output of `exec` run inside `container`, or of the learner's last
        /// command when there is no `exec`: `equals`, `contains` or `pattern`.
        case output
        /// The number of containers (of `image`, in `status`) is `equals` or at least `min`.
        case containerCount = "container_count"
        /// `container`'s upper dir records `path` as `change`: A (added),
        /// C (changed: copied up) or D (deleted: a whiteout), as `diff` says.
        case upperChange = "upper_change"
        /// A field of `image`'s config (`field`: Cmd, Entrypoint, ExposedPorts,
        /// Env, WorkingDir, User, Labels, Volumes, StopSignal): `equals`,
        /// `contains` or `pattern`, on the field as `Checker.configField` writes it.
        case imageConfig = "image_config"
        /// The file at `path` in `image`'s layers (the topmost layer that has
        /// it): `equals`, `contains` or `pattern`; `exists: false`, that there is none.
        case imageFile = "image_file"
    }

    /// The config fields `image_config` reads.
    public static let configFields = ["Cmd", "Entrypoint", "ExposedPorts", "Env", "WorkingDir", "User", "Labels", "Volumes", "StopSignal"]

    public var kind: Kind
    public var line: Int
    public var container: String?
    public var exists: Bool?
    public var status: String?
    public var type: String?
    public var shared: Bool?
    public var resource: String?
    public var path: String?
    public var image: String?
    public var exec: [String]?
    public var equals: String?
    public var contains: String?
    public var pattern: String?
    public var min: Int?
    /// upper_change: A, C or D.
    public var change: String?
    /// image_config: the config field.
    public var field: String?
    /// Said to the learner when the check fails.
    public var why: Localized?

    public init(kind: Kind, line: Int = 0) {
        self.kind = kind
        self.line = line
    }

    /// Keys each kind requires, and the keys it may have.
    static func required(_ kind: Kind) -> [String] {
        switch kind {
        case .containerExists: return ["container"]
        case .containerStatus: return ["container", "status"]
        case .exitCode: return ["container", "equals"]
        case .namespace: return ["container", "type", "shared"]
        case .cgroupLimit: return ["container", "resource", "equals"]
        case .file: return ["container", "path"]
        case .imageLayers: return ["image", "equals"]
        case .output: return []
        case .containerCount: return []
        case .upperChange: return ["container", "path", "change"]
        case .imageConfig: return ["image", "field"]
        case .imageFile: return ["image", "path"]
        }
    }

    static func allowed(_ kind: Kind) -> Set<String> {
        var keys: Set<String> = ["kind", "why"]
        keys.formUnion(required(kind))
        switch kind {
        case .containerExists: keys.insert("exists")
        case .file, .imageFile: keys.formUnion(["equals", "contains", "pattern", "exists"])
        case .imageConfig: keys.formUnion(["equals", "contains", "pattern"])
        case .output: keys.formUnion(["container", "exec", "equals", "contains", "pattern"])
        case .containerCount: keys.formUnion(["image", "status", "equals", "min"])
        default: break
        }
        return keys
    }
}

/// The outcome of one check: passed, or why not, as expected against actual.
public struct CheckResult: Sendable {
    public var check: Check
    public var passed: Bool
    public var what: String
    public var expected: String
    public var actual: String
}
