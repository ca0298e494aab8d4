import CShim
import FoundationEssentials
import Glibc
import SkiffCommon
import SkiffImages
import SkiffKernel

extension Engine {
    /// `skiff create`: resolve the image, decide the config, write the state
    /// directory. Nothing in the kernel exists yet.
    public func create(_ spec: RunSpec, progress: (String) -> Void = { _ in }) throws(SkiffError) -> Container {
        // Refused before anything is pulled or made.
        let rootlessMap = rootless ? try rootlessUserNamespace(spec) : nil
        // Until config.json names its layers, no prune may take them.
        let storeLock = try images.lockStore(exclusive: false)
        defer { storeLock.release() }
        let image: ImageSummary
        let lowerDirs: [String]
        if let rootlessMap, rootlessMap.subordinate != nil {
            // Owners are shifted by layer blob, which only the full image names.
            let full = if let given = spec.resolvedImage { given } else { try resolveImage(spec.image, progress: progress) }
            lowerDirs = try images.layerDirectories(for: full)
            try shiftLayerOwners(full, lowerDirs: lowerDirs, map: rootlessMap)
            image = ImageSummary(full)
        } else {
            (image, lowerDirs) = try runnableImage(spec, progress: progress)
        }
        Trace.mark("image resolved")
        let id = randomID()
        let name: String
        if let given = spec.name { name = given } else { name = try uniqueRandomName() }
        if spec.name != nil && !containers.isValidName(name) {
            throw SkiffError(.usage, "Invalid container name (\(name)), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        }
        var entrypoint = image.entrypoint ?? []
        var cmd = image.cmd ?? []
        if let e = spec.entrypoint {
            entrypoint = e.isEmpty ? [] : [e]
            cmd = []
        }
        if !spec.command.isEmpty { cmd = spec.command }
        if entrypoint.isEmpty && cmd.isEmpty {
            throw SkiffError(.usage, "no command specified: give one after the image name (e.g. skiff run \(spec.image) sh)")
        }
        let hostname = spec.hostname ?? String(id.prefix(12))
        if hostname.utf8.count > 64 { throw SkiffError(.usage, "hostname \(hostname) is longer than 64 characters") }
        let workingDir = spec.workingDir ?? image.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        guard workingDir.hasPrefix("/") else {
            throw SkiffError(.usage, "the working directory '\(workingDir)' is invalid, it needs to be an absolute path")
        }
        let user = spec.user ?? image.user
        if let user, user.hasPrefix(":") || user.hasSuffix(":") || user.contains(where: { $0.isWhitespace }) {
            throw SkiffError(.usage, "invalid user: \"\(user)\" (use UID[:GID] or NAME[:GROUP])")
        }
        let env = try Environment.merge(image: image.env ?? [], files: spec.envFiles, flags: spec.env,
                                        hostname: hostname, tty: spec.tty, defaultHome: Environment.isRoot(user))
        let binds = try spec.volumes.map { (v) throws(SkiffError) in try Bind.parse(v).description }
        let driver = try cgroupDriver()
        let cgroupName = (spec.cgroupParent ?? CgroupParent.shared) + "/" + id

        let capabilities = try CapabilitySet.resolve(add: spec.capAdd, drop: spec.capDrop, privileged: spec.privileged)
        let security = try SecurityOptions.parse(spec.securityOpt)
        let ulimits = try spec.ulimits.map { (u) throws(SkiffError) in try Ulimit.parse(u) }

        var config = ContainerConfig(
            id: id, name: name, created: Date(), image: spec.image, imageID: image.id,
            entrypoint: entrypoint, cmd: cmd, env: env, hostname: hostname, workingDir: workingDir,
            tty: spec.tty, openStdin: spec.interactive, autoRemove: spec.autoRemove,
            capabilities: capabilities,
            privileged: spec.privileged, readOnlyRootfs: spec.readOnlyRootfs, limits: spec.limits,
            binds: binds, lowerDirs: lowerDirs, cgroupVersion: driver.version, cgroupName: cgroupName,
            cgroupDirs: driver.directories(for: cgroupName)) // rootless: under a delegated subtree, or none

        if spec.privileged { config.limits.allowAllDevices = true }
        config.securityOpt = spec.securityOpt.isEmpty ? nil : spec.securityOpt
        config.noNewPrivileges = security.noNewPrivileges ?? !spec.privileged
        config.user = user.flatMap { $0.isEmpty ? nil : $0 }
        config.ulimits = ulimits.isEmpty ? nil : ulimits
        for group in spec.groupAdd where group.isEmpty || group.contains(where: { $0 == ":" || $0.isWhitespace }) {
            throw SkiffError(.usage, "invalid --group-add: \"\(group)\" (give a group name or number)")
        }
        config.groupAdd = spec.groupAdd.isEmpty ? nil : spec.groupAdd
        if try UserNamespaceMap.parseMode(spec.userns) != nil { config.usernsMap = UserNamespaceMap.forThisMachine().map }
        if let rootlessMap { config.usernsMap = rootlessMap }

        let dir = root.container(id)
        try Files.makeDirectories(root.containers)
        // A spare (an earlier --rm container's directory, emptied) saves
        // making seven inodes; see SpareDirectories.
        let reused = SpareDirectories.take(trash: root.tmp, as: dir)
        if reused { chmod(dir, 0o710) } else { try syscall("create \(dir)") { mkdir(dir, 0o710) } }
        do {
            try containers.reserve(name: name, id: id, spare: reused ? dir + "/" + SpareDirectories.nameFile : nil)
        } catch {
            try? Files.removeTree(dir)
            throw error
        }
        do {
            for sub in ["upper", "work", "merged"] where !reused {
                try syscall("create \(dir)/\(sub)") { mkdir(dir + "/" + sub, 0o755) }
            }
            try writeEtcFiles(dir: dir, hostname: hostname, overwriting: reused)
            config.seccompProfile = try prepareSeccomp(security, capabilities: capabilities,
                                                       privileged: spec.privileged, into: dir)
            try containers.save(config)
        } catch {
            containers.release(name: name, id: id)
            try? Files.removeTree(dir)
            throw error
        }
        Trace.mark("created")
        return Container(config: config, state: RuntimeState(status: .created), directory: dir)
    }

    /// The image's summary and unpacked layers: from the summary when the
    /// store has one for the manifest the name leads to (`quickResolve`: no
    /// Codable, no blob read), else the full way, which then leaves a
    /// summary for the next run.
    func runnableImage(_ spec: RunSpec, progress: (String) -> Void) throws(SkiffError) -> (ImageSummary, [String]) {
        if let given = spec.resolvedImage { return (ImageSummary(given), try images.layerDirectories(for: given)) }
        if let quick = images.quickResolve(spec.image) { return (quick.summary, quick.layerDirectories) }
        let image = try resolveImage(spec.image, progress: progress)
        let layerDirectories = try images.layerDirectories(for: image)
        images.rememberSummary(of: image)
        return (ImageSummary(image), layerDirectories)
    }

    /// The image by reference or ID; busybox is made on the spot when missing,
    /// as `docker run` pulls.
    func resolveImage(_ reference: String, progress: (String) -> Void) throws(SkiffError) -> Image {
        if let image = try images.resolve(reference) { return image }
        let parsed = try ImageReference(parsing: reference)
        progress("Unable to find image '\(parsed.familiarName)' locally")
        return try images.pull(parsed)
    }

    /// The read-only layer every container gets above its image's, as
    /// Docker's "-init" layer: empty /etc/hostname, /etc/hosts and
    /// /etc/resolv.conf and the /proc, /sys and /dev directories, so that
    /// the helper's mounts land on files that already exist. Without it
    /// the overlay would create them in the upper dir, where `diff`,
    /// `commit` and `build` would see changes nobody made, and every run
    /// would allocate four more inodes on disk. Made once per state root.
    func initLayer() throws(SkiffError) -> String {
        let path = root.initLayer
        if Files.exists(path + "/etc/resolv.conf") { return path }
        try Files.makeDirectories(root.tmp)
        let staging = root.tmp + "/init-layer.\(getpid())"
        try? Files.removeTree(staging)
        do throws(SkiffError) {
            for dir in ["", "/etc", "/proc", "/sys", "/dev"] {
                try syscall("create \(staging)\(dir)") { mkdir(staging + dir, 0o755) }
            }
            for file in ["hostname", "hosts", "resolv.conf"] {
                try Files.writeAtomically(staging + "/etc/" + file, "")
            }
            // Another process may have made it meanwhile: theirs is as good.
            if rename(staging, path) != 0 && errno != EEXIST && errno != ENOTEMPTY {
                throw SkiffError.system("create \(path)")
            }
        } catch {
            try? Files.removeTree(staging)
            throw error
        }
        try? Files.removeTree(staging)
        return path
    }

    /// /etc/hostname, /etc/hosts and /etc/resolv.conf, bind-mounted in by the
    /// helper. Written in place, not through a temporary file and rename:
    /// the directory is new and nobody reads these files before config.json,
    /// written atomically last, makes the container exist (a crash before
    /// that leaves a half-created directory, which `rm -f` removes).
    /// `overwriting`: the files are there already (a spare directory).
    func writeEtcFiles(dir: String, hostname: String, overwriting: Bool = false) throws(SkiffError) {
        func writeNewFile(_ path: String, _ text: String) throws(SkiffError) {
            try self.writeNewFile(path, text, overwriting: overwriting)
        }
        try writeNewFile(dir + "/hostname", hostname + "\n")
        try writeNewFile(dir + "/hosts", """
            127.0.0.1\tlocalhost
            ::1\tlocalhost ip6-localhost ip6-loopback
            fe00::0\tip6-localnet
            ff00::0\tip6-mcastprefix
            ff02::1\tip6-allnodes
            ff02::2\tip6-allrouters
            127.0.1.1\t\(hostname)

            """)
        // The host's resolvers, less loopback ones that mean nothing in here.
        let host = (try? Files.readString("/etc/resolv.conf")) ?? nil ?? ""
        let kept = host.split(separator: "\n").filter { line in
            !(line.hasPrefix("nameserver 127.") || line.hasPrefix("nameserver ::1"))
        }
        try writeNewFile(dir + "/resolv.conf", kept.joined(separator: "\n") + "\n")
    }

    private func writeNewFile(_ path: String, _ text: String, overwriting: Bool) throws(SkiffError) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwriting ? O_NOFOLLOW : O_EXCL)
        let fd = try syscall("create \(path)") { open(path, flags, 0o644) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        try Files.writeAll(fd, bytes, what: path)
        // Cut what an earlier, longer text left. Not O_TRUNC: these files
        // mostly keep their length, and freeing blocks only to take them
        // again costs more than the write.
        if overwriting { try syscall("truncate \(path)") { ftruncate(fd, off_t(bytes.count)) } }
    }

    func randomID() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        _ = bytes.withUnsafeMutableBytes { skiff_random_bytes($0.baseAddress, 32) }
        let digits: StaticString = "0123456789abcdef"
        var hex = [UInt8](repeating: 0, count: 64)
        for (i, byte) in bytes.enumerated() {
            hex[2 * i] = digits.utf8Start[Int(byte >> 4)]
            hex[2 * i + 1] = digits.utf8Start[Int(byte & 0x0F)]
        }
        return String(decoding: hex, as: UTF8.self)
    }

    func uniqueRandomName() throws(SkiffError) -> String {
        for _ in 0..<20 {
            let name = NameGenerator.random()
            if !Files.exists(root.names + "/" + name) { return name }
        }
        return NameGenerator.random() + "_" + String(randomID().prefix(4))
    }
}

/// -v HOST:CONTAINER[:ro|rw]
public struct Bind: Sendable, Equatable, CustomStringConvertible {
    public var source: String
    public var target: String
    public var readOnly: Bool

    public static func parse(_ text: String) throws(SkiffError) -> Bind {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw SkiffError(.usage, "invalid volume specification: '\(text)' (use HOST:CONTAINER or HOST:CONTAINER:ro)")
        }
        guard parts[0].hasPrefix("/") else {
            throw SkiffError(.usage, "invalid volume specification: '\(text)': named volumes are not supported yet, give an absolute host path")
        }
        guard parts[1].hasPrefix("/"), parts[1] != "/" else {
            throw SkiffError(.usage, "invalid volume specification: '\(text)': the container path must be absolute and not /")
        }
        var readOnly = false
        if parts.count == 3 {
            switch parts[2] {
            case "ro": readOnly = true
            case "rw": readOnly = false
            default: throw SkiffError(.usage, "invalid mode: \(parts[2]) (use ro or rw)")
            }
        }
        return Bind(source: parts[0], target: parts[1], readOnly: readOnly)
    }

    public var description: String { source + ":" + target + (readOnly ? ":ro" : "") }
}

enum Environment {
    /// No --user, or one that names root: HOME defaults to /root.
    static func isRoot(_ user: String?) -> Bool {
        guard let user, !user.isEmpty else { return true }
        let name = user.split(separator: ":", maxSplits: 1).first.map(String.init) ?? user
        return name == "0" || name == "root"
    }

    /// Image env, then --env-file lines, then -e flags; later wins. `-e NAME`
    /// without a value takes ours, or is dropped when we have none (Docker).
    /// `defaultHome: false` (a non-root --user): no HOME=/root; the spawn
    /// helper sets HOME from the user's passwd entry when none is given.
    static func merge(image: [String], files: [String], flags: [String], hostname: String, tty: Bool,
                      defaultHome: Bool = true) throws(SkiffError) -> [String] {
        var order: [String] = []
        var values: [String: String] = [:]
        func set(_ entry: String) throws(SkiffError) {
            let key: String
            let value: String?
            if let eq = entry.firstIndex(of: "=") {
                key = String(entry[..<eq])
                value = String(entry[entry.index(after: eq)...])
            } else {
                key = entry
                value = getenv(entry).map { String(cString: $0) }
            }
            guard !key.isEmpty, !key.contains(where: { $0.isWhitespace }) else {
                throw SkiffError(.usage, "invalid environment variable: \(entry)")
            }
            guard let value else { return }
            if values[key] == nil { order.append(key) }
            values[key] = value
        }
        try set("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        for e in image { try set(e) }
        try set("HOSTNAME=" + hostname)
        for file in files {
            guard let text = try Files.readString(file) else {
                throw SkiffError(.notFound, "open \(file): no such file or directory")
            }
            for line in text.split(separator: "\n") {
                let t = line.trimmed
                if t.isEmpty || t.hasPrefix("#") { continue }
                try set(t)
            }
        }
        for e in flags { try set(e) }
        if tty && values["TERM"] == nil { try set("TERM=xterm") }
        if values["HOME"] == nil && defaultHome { try set("HOME=/root") }
        return order.map { $0 + "=" + values[$0]! }
    }
}
