import FoundationEssentials
import SkiffImages

extension ContainerConfig {
    /// config.json's bytes, the same as `JSONCoding.encoder` gives (sorted
    /// keys, unescaped slashes, ISO 8601 dates, nil left out) but without
    /// Codable, whose first use costs `run` a few hundred microseconds
    /// (docs/performance.md). `load` still decodes with Codable. A test
    /// compares both encodings byte for byte: a new field must be added here
    /// in its sorted place.
    func jsonBytes() -> [UInt8] {
        var json = JSONWriter(capacity: 2048)
        json.beginObject()
        json.member("autoRemove", autoRemove)
        json.member("binds", binds)
        json.member("capabilities", capabilities)
        json.member("cgroupDirs", cgroupDirs)
        json.member("cgroupName", cgroupName)
        json.member("cgroupVersion", cgroupVersion?.rawValue)
        json.member("cmd", cmd)
        json.member("created", Self.iso8601(created))
        json.member("entrypoint", entrypoint)
        json.member("env", env)
        json.member("groupAdd", groupAdd)
        json.member("hostname", hostname)
        json.member("id", id)
        json.member("image", image)
        json.member("imageID", imageID)
        json.key("limits")
        json.beginObject()
        json.member("allowAllDevices", limits.allowAllDevices)
        json.member("memoryBytes", limits.memoryBytes)
        json.member("nanoCpus", limits.nanoCpus)
        json.member("pidsLimit", limits.pidsLimit)
        json.endObject()
        json.member("lowerDirs", lowerDirs)
        json.member("name", name)
        json.member("noNewPrivileges", noNewPrivileges)
        json.member("openStdin", openStdin)
        json.member("privileged", privileged)
        json.member("readOnlyRootfs", readOnlyRootfs)
        json.member("seccompProfile", seccompProfile)
        json.member("securityOpt", securityOpt)
        json.member("tty", tty)
        if let ulimits {
            json.key("ulimits")
            json.beginArray()
            for ulimit in ulimits {
                json.beginObject()
                json.member("Hard", ulimit.hard)
                json.member("Name", ulimit.name)
                json.member("Soft", ulimit.soft)
                json.endObject()
            }
            json.endArray()
        }
        json.member("user", user)
        if let usernsMap {
            json.key("usernsMap")
            json.beginObject()
            json.member("count", Int64(usernsMap.count))
            json.member("gid", Int64(usernsMap.gid))
            if let range = usernsMap.subordinate {
                json.key("subordinate")
                json.beginObject()
                json.member("count", Int64(range.count))
                json.member("gid", Int64(range.gid))
                json.member("uid", Int64(range.uid))
                json.endObject()
            }
            json.member("uid", Int64(usernsMap.uid))
            json.endObject()
        }
        json.member("workingDir", workingDir)
        json.endObject()
        return json.bytes
    }

    /// "2026-11-29T19:36:14Z": UTC, whole seconds (the fraction cut off), as
    /// JSONEncoder's `.iso8601` writes a date.
    static func iso8601(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = seconds - days * 86400
        // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let yearText = String(year)
        return String(repeating: "0", count: max(0, 4 - yearText.count)) + yearText + "-" + two(month) + "-" + two(day)
            + "T" + two(secondOfDay / 3600) + ":" + two(secondOfDay / 60 % 60) + ":" + two(secondOfDay % 60) + "Z"
    }
}
