import SkiffCommon
import SkiffImages
import SkiffKernel

/// Everything `skiff run` / `skiff create` can say about a new container,
/// already parsed from flags (the CLI and the tutor both fill this in).
public struct RunSpec: Sendable {
    public var image: String
    /// An image already loaded (`skiff build`'s intermediate images, which
    /// are not in index.json); when set, `image` is only its display name.
    public var resolvedImage: Image?
    public var command: [String] = []
    public var name: String?
    public var entrypoint: String?
    public var env: [String] = []
    public var envFiles: [String] = []
    public var volumes: [String] = []
    public var hostname: String?
    public var workingDir: String?
    public var limits = ResourceLimits()
    public var autoRemove = false
    /// --cap-add / --cap-drop: names with or without CAP_, or ALL.
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    /// --privileged: every capability, nothing masked or read-only.
    public var privileged = false
    /// --read-only: the container's root filesystem cannot be written.
    public var readOnlyRootfs = false
    /// --security-opt: seccomp=unconfined|FILE.json, no-new-privileges.
    public var securityOpt: [String] = []
    /// --user UID[:GID] or NAME[:GROUP]; nil keeps the image's User.
    public var user: String?
    /// --ulimit NAME=SOFT[:HARD].
    public var ulimits: [String] = []
    /// --group-add GROUP: more supplementary groups (names from the image's /etc/group, or numbers).
    public var groupAdd: [String] = []
    /// --userns: nil or "host", or "private" (UserNamespaceMap).
    public var userns: String? = nil
    /// --cgroup-parent, normalized (CgroupParent): the container's cgroup is
    /// PARENT/ID in every hierarchy instead of skiff/ID.
    public var cgroupParent: String? = nil
    public var detach = false
    public var interactive = false
    public var tty = false

    public init(image: String, command: [String] = []) {
        self.image = image
        self.command = command
    }
}

/// File descriptors a foreground container (or exec) is attached to.
public struct AttachIO: Sendable {
    public var stdin: Int32
    public var stdout: Int32
    public var stderr: Int32
    public init(stdin: Int32 = 0, stdout: Int32 = 1, stderr: Int32 = 2) {
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
    }
    public static let standard = AttachIO()

    func same(as other: AttachIO) -> Bool {
        stdin == other.stdin && stdout == other.stdout && stderr == other.stderr
    }
}

public struct ExecSpec: Sendable {
    public var command: [String]
    public var env: [String] = []
    public var workingDir: String?
    /// --user; nil runs as the container's user.
    public var user: String?
    public var interactive = false
    public var tty = false
    public init(command: [String]) { self.command = command }
}
