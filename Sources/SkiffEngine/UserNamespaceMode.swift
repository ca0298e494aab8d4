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
    /// Rootless with a range (Engine+Rootless.swift): container IDs 1...N
    /// are these host IDs, mapped by newuidmap/newgidmap; `uid`/`gid` (the
    /// user's own, `count` 1) stay container root's.
    public var subordinate: SubordinateIDs? = nil

    public init(uid: UInt32, gid: UInt32, count: UInt32, subordinate: SubordinateIDs? = nil) {
        self.uid = uid
        self.gid = gid
        self.count = count
        self.subordinate = subordinate
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
        return SubordinateIDs.entry(in: text, for: only.map { [$0] } ?? ["skiff", "root"])
    }

    /// A --userns=private container's upper dir holds host IDs (its root's
    /// files are host UID `uid`): a committed layer takes the IDs it had
    /// inside. IDs outside the range (none the container could make) stay.
    /// Rootless with a range, host IDs of the range are container IDs 1...N.
    public func shiftedToContainer(_ entry: ArchiveEntry) -> ArchiveEntry {
        var e = entry
        if e.uid >= uid && e.uid - uid < count { e.uid -= uid }
        else if let s = subordinate, e.uid >= s.uid && e.uid - s.uid < s.count { e.uid = e.uid - s.uid + 1 }
        if e.gid >= gid && e.gid - gid < count { e.gid -= gid }
        else if let s = subordinate, e.gid >= s.gid && e.gid - s.gid < s.count { e.gid = e.gid - s.gid + 1 }
        return e
    }

    /// The helper's arguments.
    public var spawnArguments: [String] {
        ["--userns", "\(uid)", "\(gid)", "\(count)"]
            + (subordinate.map { ["--subids", "\($0.uid)", "\($0.gid)", "\($0.count)"] } ?? [])
    }
}
