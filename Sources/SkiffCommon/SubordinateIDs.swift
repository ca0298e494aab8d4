import Glibc

/// A plain user's subordinate IDs: the host UIDs and GIDs that
/// /etc/subuid and /etc/subgid give the user, which the setuid helpers
/// newuidmap and newgidmap (Debian's `uidmap`) may map into the user's own
/// user namespaces. Rootless containers use them as rootless Podman does:
/// container ID 0 is the user, IDs 1...count are the range.
public struct SubordinateIDs: Codable, Sendable, Equatable {
    /// The first host UID and GID of the range.
    public var uid: UInt32
    public var gid: UInt32
    /// IDs in the range (the smaller of the UID and GID ranges).
    public var count: UInt32

    public init(uid: UInt32, gid: UInt32, count: UInt32) {
        self.uid = uid
        self.gid = gid
        self.count = count
    }

    /// Where the setuid helpers are looked for (Debian and Fedora put them in /usr/bin).
    static let toolDirectories = ["/usr/bin", "/bin", "/usr/sbin", "/usr/local/bin"]

    /// The path of newuidmap or newgidmap, nil when not installed.
    public static func tool(_ name: String) -> String? {
        toolDirectories.map { $0 + "/" + name }.first { access($0, X_OK) == 0 }
    }

    /// The first `owner:start:count` line of a subuid or subgid file's
    /// text whose owner is one of `owners` (a name or a number, as
    /// newuidmap matches them), in `owners`' order.
    public static func entry(in text: String, for owners: [String]) -> (owner: String, start: UInt32, count: UInt32)? {
        var found: [String: (UInt32, UInt32)] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":").map(String.init)
            guard parts.count == 3, let start = UInt32(parts[1]), let count = UInt32(parts[2]), count > 0,
                  found[parts[0]] == nil else { continue }
            found[parts[0]] = (start, count)
        }
        for owner in owners {
            if let (start, count) = found[owner] { return (owner, start, count) }
        }
        return nil
    }

    /// The calling user's range, or why there is none (a sentence to show).
    public static func forCurrentUser(subuid: String = "/etc/subuid",
                                      subgid: String = "/etc/subgid") -> Result<SubordinateIDs, Missing> {
        let uid = getuid()
        var owners = ["\(uid)"]
        if let pw = getpwuid(uid), let name = pw.pointee.pw_name { owners.insert(String(cString: name), at: 0) }
        let who = owners[0]
        func range(_ path: String) -> (owner: String, start: UInt32, count: UInt32)? {
            ((try? Files.readString(path)) ?? nil).flatMap { entry(in: $0, for: owners) }
        }
        guard let u = range(subuid) else { return .failure(Missing("\(subuid) has no range for \(who)")) }
        guard let g = range(subgid) else { return .failure(Missing("\(subgid) has no range for \(who)")) }
        for name in ["newuidmap", "newgidmap"] where tool(name) == nil {
            return .failure(Missing("\(name) is not installed (Debian's uidmap package)"))
        }
        return .success(SubordinateIDs(uid: u.start, gid: g.start, count: min(u.count, g.count)))
    }

    /// Why a user has no usable range.
    public struct Missing: Error, Sendable {
        public let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// The maps a rootless container's namespace gets, as "inside host count" lines.
    public func uidMap(own: UInt32) -> [String] { ["0 \(own) 1", "1 \(uid) \(count)"] }
    public func gidMap(own: UInt32) -> [String] { ["0 \(own) 1", "1 \(gid) \(count)"] }

    /// newuidmap's and newgidmap's arguments after the pid: the same maps, flat.
    public func toolArguments(own: UInt32, gids: Bool) -> [String] {
        (gids ? gidMap(own: own) : uidMap(own: own)).flatMap { $0.split(separator: " ").map(String.init) }
    }

    /// The host UID of container UID `id`, nil when the range does not reach it.
    public func hostUID(of id: UInt32, own: UInt32) -> UInt32? {
        id == 0 ? own : id <= count ? uid + id - 1 : nil
    }
}
