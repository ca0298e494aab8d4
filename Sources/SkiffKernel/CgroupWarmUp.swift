#if canImport(Glibc)
import Glibc
#endif
import SkiffCommon

/// The early no-op cgroup move that pays the kernel's RCU wait before a run
/// needs the cgroup (done by skiff-spawn's standby, see its Standby.swift):
/// here, which cgroup.procs file it writes.
public enum CgroupWarmUp {
    /// The cgroup.procs file of the cgroup we are in, in the first hierarchy
    /// the driver uses (from /proc/self/cgroup).
    public static func ownProcsFile(_ driver: any CgroupDriver) -> String? {
        guard let text = (try? Files.readString("/proc/self/cgroup")) ?? nil else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = fields[2] == "/" ? "" : String(fields[2])
            if let v2 = driver as? CgroupV2Driver, fields[0] == "0" {
                return v2.root + path + "/cgroup.procs"
            }
            if let v1 = driver as? CgroupV1Driver {
                let controllers = fields[1].split(separator: ",").map(String.init)
                for controller in CgroupV1Driver.controllers where controllers.contains(controller) {
                    if let mountpoint = v1.mountpoints[controller] { return mountpoint + path + "/cgroup.procs" }
                }
            }
        }
        return nil
    }
}
