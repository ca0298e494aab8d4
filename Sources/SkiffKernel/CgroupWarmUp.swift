#if canImport(Glibc)
import Glibc
#endif
import SkiffCommon

/// Moving a process into a cgroup takes the kernel's cgroup_threadgroup_rwsem
/// for writing, and the first writer after a quiet spell waits for an RCU
/// grace period (5 to 20 ms measured on these machines' cgroup v1). Writers
/// that follow within about one grace period do not wait. So `run` starts a
/// harmless move as early as it can: a short-lived grandchild moves itself
/// into the cgroup it is already in, and pays the wait while the run goes
/// on. By the time the spawn helper moves the container's init, it is free.
///
/// A process, not a thread: exec (the CLI hands itself over to the spawn
/// helper) would have to wait for a thread stuck in that write. The child
/// only calls open, write and _exit, and namespaces are not touched.
public enum CgroupWarmUp {
    public static func start(_ driver: any CgroupDriver) {
        guard let procs = ownProcsFile(driver), let path = strdup(procs) else { return }
        defer { free(path) }
        let child = fork()
        if child == 0 {
            if fork() == 0 {
                let fd = open(path, O_WRONLY | O_CLOEXEC)
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
    static func ownProcsFile(_ driver: any CgroupDriver) -> String? {
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
