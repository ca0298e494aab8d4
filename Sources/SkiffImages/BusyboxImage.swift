import SkiffCommon

#if canImport(Glibc)
import Glibc
#endif

/// The offline base image `busybox:latest`, made from the host's static
/// busybox (Debian's busybox-static) without any network.
///
/// One gzip tar layer holds a small root filesystem: the usual top-level
/// directories, bin/busybox, one HARD link to it per applet of
/// `busybox --list-full` (as Docker Hub's busybox image has), and an
/// etc/passwd and etc/group with root and nobody. The build is reproducible:
/// entries sorted, owner 0:0 with no user or group names, every mtime 0,
/// pax-restricted tar, gzip without timestamp or name, config created at
/// 1970-01-01T00:00:00Z. The same binary gives the same digests everywhere.
public enum BusyboxImage {
    public static let defaultBinary = "/bin/busybox"
    public static let reference = "busybox:latest"
    public static let created = "1970-01-01T00:00:00Z"
    public static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Builds the image from `binary`, stores it and tags it busybox:latest.
    @discardableResult
    public static func build(into store: ImageStore, binary: String = defaultBinary) throws(SkiffError) -> Image {
        let parts = try layerAndConfig(binary: binary)
        return try store.storeImage(config: parts.config, adding: [parts.layer],
                                    tag: try ImageReference(parsing: Self.reference))
    }

    /// The layer and config of the image, without storing anything.
    public static func layerAndConfig(binary: String = defaultBinary) throws(SkiffError) -> (layer: LayerBlob, config: ImageConfig) {
        guard let bytes = try Files.read(binary) else {
            throw SkiffError(.notFound, "busybox-static is not installed (no \(binary)): run apt-get install busybox-static")
        }
        let elf = try ELFInfo(bytes, path: binary)
        if elf.isDynamic {
            throw SkiffError(.unsupported, "\(binary) is dynamically linked and cannot run in an empty image: install Debian's busybox-static (apt-get install busybox-static), not busybox")
        }
        let applets = try self.applets(binary)
        let version = try self.version(binary)
        let layer = try LayerWriter.write(entries(busybox: bytes, applets: applets))
        let architecture = elf.architecture ?? Platforms.hostArchitecture
        let config = ImageConfig(
            created: created,
            architecture: architecture,
            os: "linux",
            config: .init(env: ["PATH=" + path], cmd: ["sh"]),
            rootfs: .init(diffIDs: [layer.diffID]),
            history: [.init(created: created,
                            createdBy: "skiff: busybox \(version) from the host's busybox-static",
                            comment: "\(applets.count) applets, hard links to /bin/busybox")])
        return (layer, config)
    }

    /// The entries of the layer (unsorted; `LayerWriter` sorts them).
    public static func entries(busybox: [UInt8], applets: [String]) -> [ArchiveEntry] {
        var directories: [String: UInt32] = [
            "bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o755,
            "root": 0o700, "sbin": 0o755, "sys": 0o755, "tmp": 0o1777, "usr": 0o755,
            "usr/bin": 0o755, "usr/sbin": 0o755, "var": 0o755, "var/tmp": 0o1777,
        ]
        for applet in applets {
            var parent = applet.split(separator: "/").dropLast()
            while !parent.isEmpty {
                let dir = parent.joined(separator: "/")
                if directories[dir] == nil { directories[dir] = 0o755 }
                parent = parent.dropLast()
            }
        }
        var entries = directories.map { ArchiveEntry.directory($0.key, mode: $0.value) }
        entries.append(.file("bin/busybox", busybox, mode: 0o755))
        entries.append(.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"))
        entries.append(.file("etc/group", "root:x:0:\nnobody:x:65534:\n"))
        for applet in applets {
            entries.append(.hardlink(applet, to: "bin/busybox", mode: 0o755))
        }
        return entries
    }

    /// The applet links of `busybox --list-full` ("bin/ls", "usr/bin/env"),
    /// sorted, without bin/busybox itself.
    public static func applets(_ binary: String) throws(SkiffError) -> [String] {
        let output = try Subprocess.run(binary, ["--list-full"])
        guard output.status == 0 else {
            throw SkiffError(.system, "\(binary) --list-full exited with status \(output.status)")
        }
        var applets = Set<String>()
        for line in output.text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let path = line.split(separator: "/").joined(separator: "/")
            guard !path.isEmpty, !line.hasPrefix("/"), path != "bin/busybox",
                  !line.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else { continue }
            applets.insert(path)
        }
        guard !applets.isEmpty else {
            throw SkiffError(.system, "\(binary) --list-full listed no applets")
        }
        return applets.sorted()
    }

    /// "v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)" from the first line of
    /// `busybox --help` ("BusyBox v1.35.0 (…) multi-call binary.").
    public static func version(_ binary: String) throws(SkiffError) -> String {
        let output = try Subprocess.run(binary, ["--help"])
        let first = output.text.split(separator: "\n").first.map(String.init) ?? ""
        var version = Substring(first)
        if version.hasPrefix("BusyBox ") { version = version.dropFirst("BusyBox ".count) }
        if let range = version.firstRange(of: " multi-call binary") { version = version[..<range.lowerBound] }
        let text = String(version).filter { $0 != "\r" }
        return text.isEmpty ? "(unknown version)" : text
    }
}

extension ImageStore {
    /// busybox:latest, built from the host's busybox-static when the store
    /// does not have it (or has it damaged).
    @discardableResult
    public func ensureBusybox(binary: String = BusyboxImage.defaultBinary) throws(SkiffError) -> Image {
        do throws(SkiffError) {
            if let image = try resolve(try ImageReference(parsing: BusyboxImage.reference)) {
                _ = try verifyBlob(image.manifest.layers[0].digest)
                return image
            }
        } catch where error.kind == .invalidData || error.kind == .notFound {
            // A damaged offline image: build it again.
        }
        return try BusyboxImage.build(into: self, binary: binary)
    }

    /// `docker pull`, offline: busybox:latest is made from the host's
    /// busybox-static; every other image needs a registry Skiff does not have.
    @discardableResult
    public func pull(_ reference: ImageReference, busyboxBinary: String = BusyboxImage.defaultBinary) throws(SkiffError) -> Image {
        if reference.fullRepository == "docker.io/library/busybox" {
            if reference.digest == nil && reference.tag == ImageReference.defaultTag {
                return try ensureBusybox(binary: busyboxBinary)
            }
            if let digest = reference.digest {
                let image = try ensureBusybox(binary: busyboxBinary)
                if image.manifestDigest == digest { return image }
                throw SkiffError(.notFound, "manifest for \(reference.familiarName) not found: the offline busybox image is \(reference.repository)@\(image.manifestDigest)")
            }
            throw SkiffError(.notFound, "manifest for \(reference.familiarName) not found: the offline busybox image has only the tag latest")
        }
        throw SkiffError(.notFound, "pull access denied for \(reference.repository): Skiff has no registry yet; the offline image is busybox")
    }

    /// `pull` of a reference given as text ("busybox", "busybox:latest").
    @discardableResult
    public func pull(_ name: String, busyboxBinary: String = BusyboxImage.defaultBinary) throws(SkiffError) -> Image {
        try pull(try ImageReference(parsing: name), busyboxBinary: busyboxBinary)
    }
}

/// The little of an ELF header Skiff needs: is the binary static, and for
/// which architecture.
public struct ELFInfo: Sendable {
    /// Has a PT_INTERP header: it needs a dynamic loader and libc to run.
    public var isDynamic: Bool
    public var architecture: String?

    public init(_ bytes: [UInt8], path: String) throws(SkiffError) {
        guard bytes.count >= 64, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46 else {
            throw SkiffError(.invalidData, "\(path) is not an ELF executable")
        }
        let is64 = bytes[4] == 2
        let little = bytes[5] == 1
        func read(_ offset: Int, _ size: Int) -> Int {
            guard offset >= 0, offset + size <= bytes.count else { return 0 }
            var value = 0
            for i in 0..<size {
                let byte = Int(bytes[offset + (little ? i : size - 1 - i)])
                value |= byte << (8 * i)
            }
            return value
        }
        let machine = read(18, 2)
        switch machine {
        case 62: architecture = "amd64"
        case 183: architecture = "arm64"
        case 3: architecture = "386"
        case 40: architecture = "arm"
        case 243: architecture = "riscv64"
        case 21: architecture = little ? "ppc64le" : "ppc64"
        case 22: architecture = "s390x"
        default: architecture = nil
        }
        let phoff = is64 ? read(0x20, 8) : read(0x1c, 4)
        let phentsize = is64 ? read(0x36, 2) : read(0x2a, 2)
        let phnum = is64 ? read(0x38, 2) : read(0x2c, 2)
        var dynamic = false
        for i in 0..<phnum where phentsize > 0 {
            if read(phoff + i * phentsize, 4) == 3 { dynamic = true }  // PT_INTERP
        }
        isDynamic = dynamic
    }
}
