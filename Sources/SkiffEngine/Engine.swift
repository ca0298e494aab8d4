import FoundationEssentials
import Glibc
import SkiffCommon
import SkiffImages
import SkiffKernel

/// The one API every front end (CLI, tutor, later the daemon) calls.
public final class Engine: Sendable {
    public let root: StateRoot
    /// The CLI's engine: a foreground `run` without a terminal replaces this
    /// process with the spawn helper (see `run`). Never for the tutor, which
    /// must outlive the containers it starts.
    public let handsOverForegroundRuns: Bool
    let containers: ContainerStore

    public init(root: StateRoot = .fromEnvironment(), handsOverForegroundRuns: Bool = false) {
        self.root = root
        self.handsOverForegroundRuns = handsOverForegroundRuns
        self.containers = ContainerStore(root: root)
    }

    public var images: ImageStore { ImageStore(root: root) }

    func requireRoot(_ what: String) throws(SkiffError) {
        guard isRoot else {
            throw SkiffError(.permission, "\(what) needs root: namespaces, mounts and cgroups are root's to make (try: sudo skiff …)")
        }
    }

    func cgroupDriver() throws(SkiffError) -> any CgroupDriver { try Cgroups.detect() }

    // MARK: Lookup

    public func container(_ reference: String) throws(SkiffError) -> Container {
        try containers.load(id: containers.resolve(reference))
    }

    /// Newest first, like `docker ps`.
    public func list(all: Bool) -> [Container] {
        containers.allIDs()
            .compactMap { try? containers.load(id: $0) }
            .filter { all || $0.isRunning }
            .sorted { $0.config.created > $1.config.created }
    }
}
