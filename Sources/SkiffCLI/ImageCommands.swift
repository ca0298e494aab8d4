import ArgumentParser
import FoundationEssentials
import Glibc
import SkiffCommon
import SkiffEngine
import SkiffImages

struct Images: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "images", abstract: "List images")
    @Flag(name: [.customShort("q"), .long], help: "Only show image IDs") var quiet = false

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        try Self.list(engine, quiet: quiet)
    }

    static func list(_ engine: Engine, quiet: Bool) throws(SkiffError) -> Int32 {
        let images = try engine.images.list()
        if quiet {
            images.forEach { print($0.shortID) }
            return 0
        }
        let now = Date()
        var rows: [[String]] = []
        for image in images {
            let created = image.created.map { Time.humanDuration(now.timeIntervalSince($0)) + " ago" } ?? "N/A"
            let size = Self.dockerSize(engine.images.contentSize(of: image))
            let names = image.references.isEmpty ? ["<none>:<none>"] : image.references
            for name in names {
                let colon = name.lastIndex(of: ":")!
                rows.append([String(name[..<colon]), String(name[name.index(after: colon)...]), image.shortID, created, size])
            }
        }
        print(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows))
        return 0
    }

    /// Docker prints image sizes in decimal units: "4.26MB".
    static func dockerSize(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        let rounded = (value * 100).rounded() / 100
        let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
        return text + units[unit]
    }
}

struct Pull: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Get an image (offline: busybox is made from the host's busybox-static)")
    @Argument(help: "Image reference, e.g. busybox or busybox:latest") var image: String

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        let reference = try ImageReference(parsing: image)
        let had = try engine.images.resolve(reference) != nil
        if !image.contains(":") && !image.contains("@") { print("Using default tag: latest") }
        let pulled = try engine.images.pull(reference)
        print("\(reference.tag ?? "latest"): made offline from the host's busybox-static")
        print("Digest: \(pulled.manifestDigest)")
        print(had ? "Status: Image is up to date for \(reference.familiarName)"
                  : "Status: Downloaded newer image for \(reference.familiarName)")
        print(reference.description)
        return 0
    }
}

// MARK: tag, rmi, history, image inspect, save, load

struct Tag: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    @Argument(help: "Source image: a reference or an image-ID prefix") var source: String
    @Argument(help: "Target reference, e.g. myimage:v1") var target: String

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        try engine.images.tag(source, as: target)
        return 0
    }
}

struct Rmi: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "rmi", abstract: "Remove one or more images")
    @Flag(name: [.customShort("f"), .long], help: "Force removal of the image") var force = false
    @Argument(help: "Images: references or image-ID prefixes") var images: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        try Self.remove(engine, images, force: force)
    }

    /// Like Docker: every image is tried; one error line each; exit 1 when any failed.
    static func remove(_ engine: Engine, _ images: [String], force: Bool) throws(SkiffError) -> Int32 {
        guard !images.isEmpty else { throw SkiffError(.usage, "\"rmi\" requires at least 1 argument") }
        var failed: SkiffError? = nil
        for name in images {
            do throws(SkiffError) {
                let events = try engine.images.remove(name, force: force) { image in
                    engine.list(all: true)
                        .filter { $0.config.imageID == image.id }
                        .map { ImageUser(containerID: $0.id, running: $0.isRunning) }
                }
                events.forEach { print($0.description) }
            } catch {
                if let earlier = failed { printError(earlier.message) }
                failed = error
            }
        }
        if let failed { throw failed }
        return 0
    }
}

struct History: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show the history of an image")
    @Flag(name: .customLong("no-trunc"), help: "Don't truncate output") var noTrunc = false
    @Flag(name: [.customShort("q"), .long], help: "Only show image IDs") var quiet = false
    @Option(name: [.customShort("H"), .long], help: "Print sizes and dates in human readable format") var human = true
    @Argument(help: "Image: a reference or an image-ID prefix") var image: String

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        guard let found = try engine.images.resolve(image) else { throw SkiffError(.notFound, "No such image: \(image)") }
        let rows = engine.images.history(of: found)
        let top = noTrunc ? found.id : found.shortID
        if quiet {
            for i in rows.indices { print(i == 0 ? top : "<missing>") }
            return 0
        }
        let now = Date()
        var cells: [[String]] = []
        for (i, row) in rows.enumerated() {
            let date = Image.parseDate(row.entry.created)
            let created = human ? date.map { Time.humanDuration(now.timeIntervalSince($0)) + " ago" } ?? "N/A"
                                : row.entry.created ?? "N/A"
            var by = row.entry.createdBy ?? ""
            if !noTrunc && by.count > 45 { by = String(by.prefix(44)) + "…" }
            let size = human ? Images.dockerSize(row.size) : String(row.size)
            cells.append([i == 0 ? top : "<missing>", created, by, size, row.entry.comment ?? ""])
        }
        print(table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], cells))
        return 0
    }
}

struct Save: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: "Save one or more images to a tar archive (an OCI image layout)")
    @Option(name: [.customShort("o"), .long], help: "Write to a file, instead of STDOUT") var output: String?
    @Argument(help: "Images") var images: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        guard !images.isEmpty else { throw SkiffError(.usage, "\"save\" requires at least 1 argument") }
        if output == nil && isatty(1) != 0 {
            throw SkiffError(.usage, "cowardly refusing to save to a terminal. Use the -o flag or redirect")
        }
        guard let output else {
            try ImageArchive.save(images, from: engine.images, to: 1)
            return 0
        }
        // Streamed into a temporary file beside the target, renamed when whole.
        let (fd, temp) = try Files.makeTemporaryFile(prefix: output + ".skiff-")
        do throws(SkiffError) {
            defer { close(fd) }
            try syscall("chmod \(temp)") { fchmod(fd, 0o644) }
            try ImageArchive.save(images, from: engine.images, to: fd)
            try syscall("rename \(temp) to \(output)") { rename(temp, output) }
        } catch {
            unlink(temp)
            throw error
        }
        return 0
    }
}

struct Load: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Load an image from a tar archive (skiff save, docker save, OCI layout) or STDIN")
    @Option(name: [.customShort("i"), .long], help: "Read from tar archive file, instead of STDIN") var input: String?
    @Flag(name: [.customShort("q"), .long], help: "Suppress the load output") var quiet = false

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        let result: ImageArchive.LoadResult
        if let input {
            guard Files.exists(input) else { throw SkiffError(.notFound, "open \(input): no such file or directory") }
            result = try ImageArchive.load(file: input, into: engine.images)
        } else {
            if isatty(0) != 0 {
                throw SkiffError(.usage, "requested load from stdin, but stdin is empty")
            }
            result = try ImageArchive.load(fd: 0, into: engine.images)
        }
        if !quiet { result.lines.forEach { print($0) } }
        return 0
    }
}

/// `skiff image …`: Docker's management command for images.
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Manage images",
        subcommands: [ImageInspect.self, ImageLs.self, ImageRm.self, ImageHistory.self, ImageTag.self,
                      ImagePull.self, ImageSave.self, ImageLoad.self, ImagePrune.self,
                      ImageBuild.self])
}

struct ImagePrune: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove unused images, with the blobs and unpacked layers nothing uses")
    @Flag(name: [.customShort("a"), .long], help: "Remove all unused images, not just dangling ones") var all = false
    @Flag(name: [.customShort("f"), .long], help: "Do not prompt for confirmation") var force = false

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        if !force {
            print(all ? "WARNING! This will remove all images without at least one container associated to them."
                      : "WARNING! This will remove all dangling images.")
            print("Are you sure you want to continue? [y/N] ", terminator: "")
            fflush(nil)
            let answer = (readLine() ?? "").trimmed.lowercased()
            guard answer == "y" || answer == "yes" else { return 0 }
        }
        let report = try engine.pruneImages(all: all)
        if !report.lines.isEmpty {
            print("Deleted Images:")
            report.lines.forEach { print($0) }
            print("")
        }
        print("Total reclaimed space: " + Images.dockerSize(report.reclaimedBytes))
        return 0
    }
}

struct ImageInspect: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Display detailed information on one or more images")
    @Argument(help: "Images") var images: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        guard !images.isEmpty else { throw SkiffError(.usage, "\"inspect\" requires at least 1 argument") }
        var documents: [ImageInspectDocument] = []
        var missing: [String] = []
        for name in images {
            guard let image = try engine.images.resolve(name) else { missing.append(name); continue }
            documents.append(try ImageInspectDocument(image, store: engine.images))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .withoutEscapingSlashes, .sortedKeys]
        do {
            print(String(decoding: try encoder.encode(documents), as: UTF8.self))
        } catch {
            throw SkiffError(.system, "encode inspect output: \(error)")
        }
        guard missing.isEmpty else {
            for name in missing.dropLast() { printError("No such image: \(name)") }
            throw SkiffError(.notFound, "No such image: \(missing.last!)")
        }
        return 0
    }
}

/// One element of `docker image inspect`'s array, with Docker's keys.
struct ImageInspectDocument: Encodable {
    struct Config: Encodable {
        var Env: [String]?
        var Cmd: [String]?
        var Entrypoint: [String]?
        var WorkingDir: String
        var User: String
        var Labels: [String: String]?
        var ExposedPorts: [String: EmptyObject]?
        var Volumes: [String: EmptyObject]?
        var StopSignal: String?
    }
    struct RootFS: Encodable {
        var `Type`: String
        var Layers: [String]
    }
    struct GraphDriver: Encodable {
        var Name: String
        var Data: [String: String]
    }
    var Id: String
    var RepoTags: [String]
    var RepoDigests: [String]
    var Comment: String
    var Created: String
    var Author: String
    var Config: Config
    var Architecture: String
    var Variant: String?
    var Os: String
    var Size: Int64
    var GraphDriver: GraphDriver
    var RootFS: RootFS

    init(_ image: Image, store: ImageStore) throws(SkiffError) {
        let config = image.config
        let c = config.config
        Id = image.id
        RepoTags = image.references
        var repositories: [String] = []
        for name in image.references {
            if let repository = try? ImageReference(parsing: name).repository, !repositories.contains(repository) {
                repositories.append(repository)
            }
        }
        RepoDigests = repositories.map { $0 + "@" + image.manifestDigest.description }
        Comment = config.history?.last?.comment ?? ""
        Created = config.created ?? ""
        Author = config.author ?? ""
        self.Config = .init(Env: c?.env, Cmd: c?.cmd, Entrypoint: c?.entrypoint, WorkingDir: c?.workingDir ?? "",
                            User: c?.user ?? "", Labels: c?.labels, ExposedPorts: c?.exposedPorts,
                            Volumes: c?.volumes, StopSignal: c?.stopSignal)
        Architecture = config.architecture
        Variant = config.variant
        Os = config.os
        Size = store.contentSize(of: image)
        let directories = try store.layerDirectories(for: image)
        self.GraphDriver = .init(Name: "overlay2", Data: ["LowerDir": directories.reversed().joined(separator: ":")])
        self.RootFS = .init(Type: config.rootfs.type, Layers: config.rootfs.diffIDs.map(\.description))
    }
}

struct ImageLs: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images", aliases: ["list"])
    @Flag(name: [.customShort("q"), .long], help: "Only show image IDs") var quiet = false

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 { try Images.list(engine, quiet: quiet) }
}

struct ImageRm: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove one or more images", aliases: ["remove"])
    @Flag(name: [.customShort("f"), .long], help: "Force removal of the image") var force = false
    @Argument(help: "Images: references or image-ID prefixes") var images: [String]

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 { try Rmi.remove(engine, images, force: force) }
}

struct ImageHistory: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "Show the history of an image")
    @OptionGroup var options: History

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 { try options.execute(engine) }
}

struct ImageTag: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
    @OptionGroup var options: Tag

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 { try options.execute(engine) }
}

struct ImagePull: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: Pull.configuration.abstract)
    @OptionGroup var options: Pull

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 { try options.execute(engine) }
}

struct ImageSave: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "save", abstract: Save.configuration.abstract)
    @OptionGroup var options: Save

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 { try options.execute(engine) }
}

struct ImageLoad: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: Load.configuration.abstract)
    @OptionGroup var options: Load

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 { try options.execute(engine) }
}

struct Commit: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "commit", abstract: "Create a new image from a container's changes")
    @Option(name: [.customShort("m"), .long], help: "Commit message") var message: String?
    @Argument(help: "Container: a name or an ID prefix") var container: String
    @Argument(help: "Repository and tag for the new image, e.g. mybox:v2") var reference: String?

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        let image = try engine.commit(container, reference: reference, message: message)
        print(image.id)
        return 0
    }
}
