#if canImport(Glibc)
import Glibc
#endif
import CShim
import SkiffCommon

/// The early no-op cgroup move that pays the kernel's RCU wait before a run
/// needs the cgroup.
///
/// Moving a process between cgroups takes the kernel's cgroup_threadgroup_rwsem
/// for writing, and the first writer after a quiet spell waits for an RCU
/// grace period (5 to 20 ms measured on these machines' cgroup v1), holding
/// cgroup_mutex all the while; writers within about one grace period after
/// it do not wait. A short-lived grandchild moves itself into the cgroup it
/// is already in, so that wait starts as early as possible: the `skiff`
/// binary before its main for `run` (CSkiffStart, in C, from a child that
/// shares its memory), the standby helper for the tutor's runs.
public enum CgroupWarmUp {
    /// Starts the move in a detached grandchild. Double fork: nobody waits
    /// for it, and it holds none of our descriptors (under load the write
    /// can take seconds, and a caller reading our output would wait too).
    /// Single-threaded callers only (it forks).
    public static func start(procs: String) {
        let child = fork()
        if child == 0 {
            if fork() == 0 {
                Files.detachFromCaller()
                let fd = open(procs, O_WRONLY | O_CLOEXEC)
                if fd >= 0 { _ = write(fd, "0", 1) }
                _exit(0)
            }
            _exit(0)
        }
        if child > 0 {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        }
    }

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
