import Glibc
import SkiffCommon
import SkiffImages
import SkiffKernel

/// `skiff doctor`: what this machine supports, and the fix for what it lacks.
public struct DoctorCheck: Sendable {
    public var name: String
    public var ok: Bool
    public var detail: String
    public var fix: String?
}

extension Engine {
    /// Whether containers get a device allow-list in their cgroup.
    func deviceCheck(_ driver: any CgroupDriver) -> DoctorCheck {
        if rootless {
            return DoctorCheck(name: "device allow-list", ok: true,
                               detail: "rootless: no allow-list (a v1 devices cgroup or a v2 device program needs root); the container may not mknod a host device "
                                   + "and its /dev holds only the nodes bound in from the host",
                               fix: nil)
        }
        if driver.version == .v2 {
            return DoctorCheck(name: "device allow-list", ok: true,
                               detail: "cgroup v2: a BPF device program attached to each container's cgroup allows "
                                   + "null, zero, full, random, urandom, tty, console, ptmx and pts",
                               fix: nil)
        }
        let ok = driver.availableControllers.contains("devices")
        return DoctorCheck(name: "device allow-list", ok: ok,
                           detail: ok ? "the cgroup v1 devices controller denies all but null, zero, full, random, urandom, tty, console, ptmx and pts"
                               : "the cgroup v1 devices controller is not mounted: no device allow-list",
                           fix: ok ? nil : "mkdir -p /sys/fs/cgroup/devices && mount -t cgroup -o devices cgroup /sys/fs/cgroup/devices")
    }

    public func doctor() -> [DoctorCheck] {
        var checks: [DoctorCheck] = []
        checks.append(DoctorCheck(name: "root", ok: isRoot,
                                  detail: isRoot ? "running as root" : "running as uid \(geteuid()): containers run rootless (see below)",
                                  fix: isRoot ? nil : "run skiff with sudo for cgroup limits and the probes (and --user without a subordinate range)"))
        let filesystems = (try? Files.readString("/proc/filesystems")) ?? nil ?? ""
        let overlay = filesystems.contains("\toverlay\n")
        checks.append(DoctorCheck(name: "overlayfs", ok: overlay,
                                  detail: overlay ? "the kernel has overlay" : "overlay is not in /proc/filesystems",
                                  fix: overlay ? nil : "sudo modprobe overlay"))
        do {
            let driver = try Cgroups.detect()
            let controllers = driver.availableControllers
            let needed = ["memory", "pids", "cpu"].filter { !controllers.contains($0) }
            checks.append(DoctorCheck(name: "cgroups", ok: needed.isEmpty,
                                      detail: "cgroup \(driver.version.rawValue), controllers: \(controllers.joined(separator: " "))"
                                          + (rootless ? " (for root; rootless containers: see rootless below)" : ""),
                                      fix: needed.isEmpty ? nil : "enable the \(needed.joined(separator: ", ")) controller(s) (cgroup v2: add them to cgroup.subtree_control)"))
            checks.append(deviceCheck(driver))
        } catch {
            checks.append(DoctorCheck(name: "cgroups", ok: false, detail: error.message,
                                      fix: "mount cgroup2 at /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup)"))
        }
        let status = (try? Files.readString("/proc/self/status")) ?? nil ?? ""
        let seccomp = status.contains("Seccomp:")
        checks.append(DoctorCheck(name: "seccomp", ok: seccomp,
                                  detail: seccomp ? "the kernel filters syscalls (seccomp)" : "no Seccomp line in /proc/self/status",
                                  fix: seccomp ? nil : "use a kernel built with CONFIG_SECCOMP_FILTER"))
        checks += userNamespaceChecks()
        let busybox = BusyboxCheck.inspect("/bin/busybox")
        checks.append(DoctorCheck(name: "busybox-static", ok: busybox == .staticBinary,
                                  detail: busybox.detail,
                                  fix: busybox == .staticBinary ? nil : "sudo apt-get install busybox-static"))
        let helper = (try? Helper.path()) != nil
        checks.append(DoctorCheck(name: "skiff-spawn", ok: helper,
                                  detail: helper ? "the namespace helper is beside skiff" : "skiff-spawn not found",
                                  fix: helper ? nil : "build both products: swift build -c release"))
        return checks
    }
}

enum BusyboxCheck: Equatable {
    case missing, dynamic, staticBinary

    var detail: String {
        switch self {
        case .missing: return "/bin/busybox is missing (the offline base image is made from it)"
        case .dynamic: return "/bin/busybox is dynamically linked: it would not run inside an image with no libc"
        case .staticBinary: return "/bin/busybox is a static binary"
        }
    }

    /// A static ELF has no PT_INTERP program header (read by the image code).
    static func inspect(_ path: String) -> BusyboxCheck {
        guard let bytes = (try? Files.read(path)) ?? nil, let elf = try? ELFInfo(bytes, path: path) else {
            return .missing
        }
        return elf.isDynamic ? .dynamic : .staticBinary
    }
}
