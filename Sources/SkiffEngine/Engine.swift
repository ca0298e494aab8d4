import FoundationEssentials
import Glibc
import Synchronization
import SkiffCommon
import SkiffImages
import SkiffKernel

/// The one API every front end (CLI, tutor, later the daemon) calls.
public final class Engine: Sendable {
    public let root: StateRoot
    /// The CLI's engine: while a foreground container runs, signals sent to
    /// this process go on to it (Docker's --sig-proxy). Not for the tutor,
    /// which handles Ctrl-C itself.
    public let proxiesSignals: Bool
    let containers: ContainerStore
    /// A spawn helper started early for the next `run` (see `prelaunchHelper`).
    let standby = Mutex<Helper.Standby?>(nil)
    let detectedCgroups = Mutex<(any CgroupDriver)?>(nil)

    /// False for the CLI, which exits right after its command: a foreground
    /// run returns once the helper reports the exit, without waiting for
    /// the helper's own end (init reaps it). A long-lived caller reaps it.
    public let reapsHelpers: Bool

    public init(root: StateRoot = .fromEnvironment(), proxiesSignals: Bool = false, reapsHelpers: Bool = true) {
        self.root = root
        self.proxiesSignals = proxiesSignals
        self.reapsHelpers = reapsHelpers
        self.containers = ContainerStore(root: root)
        if !isRoot { Self.removeWithinRange() } // Engine+Rootless.swift
    }

    public var images: ImageStore { ImageStore(root: root) }

    /// Not root: containers run rootless (Engine+Rootless.swift).
    var rootless: Bool { !isRoot }

    /// Only for what rootless mode cannot do (see Engine+Rootless.swift).
    func requireRoot(_ what: String) throws(SkiffError) {
        guard isRoot else {
            throw SkiffError(.permission, "\(what) needs root: rootless mode cannot do it yet (try: sudo skiff …)")
        }
    }

    /// Detected once per engine: reading and parsing mountinfo was a tenth
    /// of the CLI's CPU time in `run`, which needs the driver four times.
    func cgroupDriver() throws(SkiffError) -> any CgroupDriver {
        if let known = detectedCgroups.withLock({ $0 }) { return known }
        let driver: any CgroupDriver = rootless ? try RootlessCgroups.forThisProcess() : try Cgroups.detect()
        detectedCgroups.withLock { $0 = driver }
        return driver
    }

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
