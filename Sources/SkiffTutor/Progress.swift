import FoundationEssentials
import Glibc
import SkiffCommon

/// What the learner has done, saved after every step:
/// `$XDG_DATA_HOME/skiff/progress.json` (default `~/.local/share/skiff`).
/// Under sudo it goes to the real user's home and is owned by that user.
public struct Progress: Codable, Sendable, Equatable {
    public struct LessonState: Codable, Sendable, Equatable {
        public var step = 0
        public var done = false
        public var hintsShown = 0
        /// Containers made while this lesson was open (IDs): removed by `reset`
        /// and when the lesson ends.
        public var containers: [String] = []
        public init() {}
    }

    public var version = 1
    /// Draws this learner's exercise values.
    public var seed: UInt64
    public var lang: Language = .en
    public var current: String?
    public var lessons: [String: LessonState] = [:]

    public init(seed: UInt64) { self.seed = seed }

    public static func fresh() -> Progress {
        Progress(seed: UInt64.random(in: 1...UInt64.max))
    }

    public subscript(lesson id: String) -> LessonState {
        get { lessons[id] ?? LessonState() }
        set { lessons[id] = newValue }
    }
}

/// Where progress and history live, and who owns them.
public struct ProgressStore: Sendable {
    public let directory: String
    /// The real user under sudo: files are chowned to them.
    public let owner: (uid: uid_t, gid: gid_t)?

    public var progressPath: String { directory + "/progress.json" }
    public var historyPath: String { directory + "/history" }

    public init(directory: String, owner: (uid: uid_t, gid: gid_t)? = nil) {
        self.directory = directory
        self.owner = owner
    }

    /// XDG for the invoking user; under sudo, the real user's home.
    public static func forInvokingUser() -> ProgressStore {
        func env(_ name: String) -> String? {
            guard let v = getenv(name), v.pointee != 0 else { return nil }
            return String(cString: v)
        }
        if getuid() == 0, let user = env("SUDO_USER"), user != "root", let pw = getpwnam(user) {
            let home = String(cString: pw.pointee.pw_dir)
            return ProgressStore(directory: home + "/.local/share/skiff", owner: (pw.pointee.pw_uid, pw.pointee.pw_gid))
        }
        if let xdg = env("XDG_DATA_HOME"), xdg.hasPrefix("/") { return ProgressStore(directory: xdg + "/skiff") }
        let home = env("HOME") ?? (getpwuid(getuid()).map { String(cString: $0.pointee.pw_dir) } ?? "/tmp")
        return ProgressStore(directory: home + "/.local/share/skiff")
    }

    public func load() -> Progress {
        guard let text = try? Files.readString(progressPath),
              let progress = try? JSONDecoder().decode(Progress.self, from: Data(text.utf8)),
              progress.version == 1 else {
            return Progress.fresh()
        }
        return progress
    }

    public func save(_ progress: Progress) throws(SkiffError) {
        try ensureDirectory()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(progress) } catch { throw SkiffError(.system, "encode progress: \(error)") }
        try Files.writeAtomically(progressPath, Array(data))
        chown(progressPath)
    }

    public func ensureDirectory() throws(SkiffError) {
        // Create each missing level so that, under sudo, all belong to the user.
        var path = ""
        for part in directory.split(separator: "/") {
            path += "/" + part
            if !Files.exists(path) {
                if mkdir(path, 0o700) != 0 && errno != EEXIST { throw SkiffError.system("create \(path)") }
                chown(path)
            }
        }
    }

    public func chown(_ path: String) {
        if let owner { _ = Glibc.chown(path, owner.uid, owner.gid) }
    }
}
