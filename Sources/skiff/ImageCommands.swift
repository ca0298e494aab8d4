import ArgumentParser
import FoundationEssentials
import SkiffCommon
import SkiffEngine
import SkiffImages

struct Images: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "images", abstract: "List images")
    @Flag(name: [.customShort("q"), .long], help: "Only show image IDs") var quiet = false

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        let images = try engine.images.list()
        if quiet {
            images.forEach { print($0.shortID) }
            return 0
        }
        let now = Date()
        var rows: [[String]] = []
        for image in images {
            let created = image.created.map { Time.humanDuration(now.timeIntervalSince($0)) + " ago" } ?? "N/A"
            let size = Self.dockerSize(image.size)
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
