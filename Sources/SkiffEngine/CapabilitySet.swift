import SkiffCommon
import SkiffKernel

/// --cap-add and --cap-drop as Docker reads them: names with or without
/// CAP_, any case, or ALL; drops are applied after adds, like Docker.
enum CapabilitySet {
    static func resolve(add: [String], drop: [String], privileged: Bool) throws(SkiffError) -> [String] {
        if privileged { return Capabilities.names }
        var set = Set(ContainerConfig.defaultCapabilities)
        let adds = try add.map { (s) throws(SkiffError) in try normalize(s) }
        let drops = try drop.map { (s) throws(SkiffError) in try normalize(s) }
        if adds.contains("ALL") { set = Set(Capabilities.names) }
        set.formUnion(adds.filter { $0 != "ALL" })
        if drops.contains("ALL") { set.removeAll() }
        set.subtract(drops)
        return Capabilities.names.filter { set.contains($0) }
    }

    static func normalize(_ name: String) throws(SkiffError) -> String {
        var n = name.uppercased()
        if n.hasPrefix("CAP_") { n = String(n.dropFirst(4)) }
        guard n == "ALL" || Capabilities.names.contains(n) else {
            throw SkiffError(.usage, "unknown capability: \"\(name)\"")
        }
        return n
    }

    /// The bit mask the spawn helper applies, as hex.
    static func mask(_ names: [String]) -> String {
        var mask: UInt64 = 0
        for (bit, name) in Capabilities.names.enumerated() where names.contains(name) { mask |= 1 << UInt64(bit) }
        return String(mask, radix: 16)
    }
}
