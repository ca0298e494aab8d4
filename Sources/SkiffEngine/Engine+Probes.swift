import Glibc
import SkiffCommon
import SkiffKernel

extension Engine {
    /// The escape-probe suite: each probe runs `skiff-probe NAME` in a fresh
    /// busybox container (removed after), bound in read-only at /.skiff-probe,
    /// and is judged by what it printed and by facts read on the host.
    public func runProbes(privileged: Bool = false, only: [String] = [],
                          each: (ProbeResult) -> Void = { _ in }) throws(SkiffError) -> [ProbeResult] {
        try requireRoot("running the escape probes")
        let unknown = only.filter { name in !Probes.all().contains { $0.name == name } }
        if let first = unknown.first {
            throw SkiffError(.usage, "unknown probe: \(first) (one of: \(Probes.all().map(\.name).joined(separator: ", ")))")
        }
        guard let binary = Helper.sibling("skiff-probe", override: "SKIFF_PROBE") else {
            throw SkiffError(.notFound, "skiff-probe is missing: it must sit beside the skiff binary (or set SKIFF_PROBE)")
        }
        // Its own engine: no signal proxying, output captured per probe.
        let runner = Engine(root: root)
        var context = ProbeContext(hostPid: getpid(), hostMarker: root.containers,
                                   rootDevice: Self.rootDevice(), hostname: Self.hostname, ownDeviceCgroup: false)
        var results: [ProbeResult] = []
        for probe in Probes.all() where only.isEmpty || only.contains(probe.name) {
            var spec = RunSpec(image: "busybox", command: ["/.skiff-probe", probe.name] + [probe.argument(context)].compactMap { $0 })
            spec.volumes = [binary + ":/.skiff-probe:ro"]
            spec.autoRemove = true
            spec.privileged = privileged
            probe.configure(&spec)
            let (text, container) = try runner.capturedRun(spec)
            // Its own allow-list refuses a disk unless --privileged allowed every device.
            context.ownDeviceCgroup = container.config.cgroupDirs.contains { $0.contains("/devices/") }
                && container.config.limits.allowAllDevices != true
            var result = ProbeResult(name: probe.name, attempt: probe.attempt, verdict: .blocked, layer: .none,
                                     detail: "", flags: (privileged ? ["--privileged"] : []) + probe.flags)
            result.output = ProbeOutput.parse(text)
            result.containerID = container.id
            probe.judge(result.output, context, &result)
            each(result)
            results.append(result)
        }
        return results
    }

    /// Runs a container in the foreground with its output in an unlinked
    /// temporary file, and returns that output.
    func capturedRun(_ spec: RunSpec) throws(SkiffError) -> (String, Container) {
        var template = Array("/tmp/skiff-probe-out-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SkiffError.system("create a file for the probe's output") }
        unlink(String(cString: template))
        defer { close(fd) }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if null >= 0 { close(null) } }
        let (container, _) = try run(spec, io: AttachIO(stdin: null, stdout: fd, stderr: fd))
        lseek(fd, 0, SEEK_SET)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return (String(decoding: bytes, as: UTF8.self), container)
    }

    /// MAJOR:MINOR of the device under /, as mknod wants it.
    static func rootDevice() -> String {
        var st = stat()
        guard stat("/", &st) == 0 else { return "8:0" }
        let dev = UInt64(st.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000)
        let minor = (dev & 0xff) | ((dev >> 12) & 0xffff_ff00)
        return "\(major):\(minor)"
    }

    @Sendable static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        return String(cString: buffer)
    }
}
