import FoundationEssentials
import SkiffCommon
import SkiffImages

/// --userns: `host` (the default, as Docker's) shares the host's user
/// namespace; `private` gives the container a new one in which its root is
/// an unprivileged host ID range.
///
/// The range: the first `skiff` (else `root`) entry of /etc/subuid and
/// /etc/subgid, else 100000:65536. Like Docker's userns-remap, every
/// private container shares that one range: simple to read in `ls -ln`,
/// but containers are not isolated from each other by IDs.
public struct UserNamespaceMap: Codable, Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var count: UInt32

    public init(uid: UInt32, gid: UInt32, count: UInt32) {
        self.uid = uid
        self.gid = gid
        self.count = count
    }

    public static let defaultRange = (start: UInt32(100_000), count: UInt32(65_536))

    /// Validates --userns as given; nil means host.
    public static func parseMode(_ text: String?) throws(SkiffError) -> String? {
        switch text {
        case nil, "", "host": return nil
        case "private": return "private"
        default:
            throw SkiffError(.usage, "invalid --userns: \"\(text!)\" (use host or private)")
        }
    }

    /// The range for this machine, and where it came from.
    public static func forThisMachine(subuid: String = "/etc/subuid", subgid: String = "/etc/subgid")
        -> (map: UserNamespaceMap, source: String) {
        let u = subordinateRange(subuid)
        let g = subordinateRange(subgid)
        if let u, let g {
            return (UserNamespaceMap(uid: u.start, gid: g.start, count: min(u.count, g.count)),
                    "\(subuid) and \(subgid) (\(u.owner))")
        }
        let d = defaultRange
        return (UserNamespaceMap(uid: d.start, gid: d.start, count: d.count), "Skiff's default range")
    }

    /// The `skiff` entry of a subuid/subgid file, else `root`'s (or `owner`'s only).
    public static func subordinateRange(_ path: String, owner only: String? = nil) -> (owner: String, start: UInt32, count: UInt32)? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var found: [String: (UInt32, UInt32)] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":").map(String.init)
            guard parts.count == 3, let start = UInt32(parts[1]), let count = UInt32(parts[2]), count > 0,
                  found[parts[0]] == nil else { continue }
            found[parts[0]] = (start, count)
        }
        for owner in only.map({ [$0] }) ?? ["skiff", "root"] {
            if let (start, count) = found[owner] { return (owner, start, count) }
        }
        return nil
    }

    /// A --userns=private container's upper dir holds host IDs (its root's
    /// files are host UID `uid`): a committed layer takes the IDs it had
    /// inside. IDs outside the range (none the container could make) stay.
    public func shiftedToContainer(_ entry: ArchiveEntry) -> ArchiveEntry {
        var e = entry
        if e.uid >= uid && e.uid - uid < count { e.uid -= uid }
        if e.gid >= gid && e.gid - gid < count { e.gid -= gid }
        return e
    }

    /// The helper's arguments.
    public var spawnArguments: [String] { ["--userns", "\(uid)", "\(gid)", "\(count)"] }
}
