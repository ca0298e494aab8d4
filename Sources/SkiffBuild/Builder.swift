import FoundationEssentials
import SkiffCommon
import SkiffEngine
import SkiffImages

#if canImport(Glibc)
import Glibc
#endif

/// What `skiff build` was asked for.
public struct BuildOptions: Sendable {
    public var context: String
    /// -f: nil means CONTEXT/Dockerfile.
    public var dockerfile: String?
    public var tags: [String] = []
    public var buildArgs: [String: String] = [:]
    public var noCache = false
    public var target: String?
    public var quiet = false

    public init(context: String) { self.context = context }
}

/// `skiff build`: runs a Dockerfile's instructions one by one, each on top
/// of the image the step before made. Instructions that change files make
/// one layer (RUN in a real container of the runtime, COPY and ADD straight
/// from the context); the others change only the config and the history.
/// Every step's image is kept (blobs, not index.json) and recorded in the
/// `BuildCache`, so a rebuild reuses the steps whose inputs did not change.
public final class Builder {
    let engine: Engine
    let store: ImageStore
    let cache: BuildCache
    let options: BuildOptions
    /// Lines for the learner (stdout); nothing with -q.
    let say: (String) -> Void

    public init(engine: Engine, options: BuildOptions, say: @escaping (String) -> Void) {
        self.engine = engine
        store = engine.images
        cache = BuildCache(store: engine.images)
        self.options = options
        self.say = options.quiet ? { _ in } : say
    }

    /// One stage's state between steps.
    struct Stage {
        var name: String?
        /// nil until the first step of a FROM scratch stage stores an image.
        var image: Image?
        var config: ImageConfig
        var args: [String: String] = [:]
        var shell = ["/bin/sh", "-c"]
        var cmdSet = false

        var runConfig: ImageConfig.ContainerConfig { config.config ?? ImageConfig.ContainerConfig() }

        /// ARG values, then ENV over them: what `$NAME` means in this step.
        var variables: [String: String] {
            var values = args
            for entry in runConfig.env ?? [] {
                if let eq = entry.firstIndex(of: "=") {
                    values[String(entry[..<eq])] = String(entry[entry.index(after: eq)...])
                }
            }
            return values
        }
    }

    /// Builds; returns the final image (tagged with every -t).
    public func build() throws(SkiffError) -> Image {
        let dockerfilePath = options.dockerfile ?? options.context + "/Dockerfile"
        guard Files.isDirectory(options.context) else {
            throw SkiffError(.notFound, "unable to prepare context: path \"\(options.context)\" not found")
        }
        guard let text = try Files.readString(dockerfilePath) else {
            throw SkiffError(.notFound, "unable to read the Dockerfile: \(dockerfilePath) does not exist")
        }
        let fileName = String(dockerfilePath.split(separator: "/").last ?? "Dockerfile")
        let dockerfile = try Dockerfile.parse(text, name: fileName)
        let references = try options.tags.map { (tag) throws(SkiffError) in try ImageReference(parsing: tag) }
        let ignoreText = (try Files.readString(options.context + "/.dockerignore")) ?? ""
        let context = try ContextTree(root: options.context, ignore: DockerIgnore(ignoreText))
        // Step images live as blobs outside index.json until the end: no
        // prune may take them meanwhile.
        let storeLock = try store.lockStore(exclusive: false)
        defer { storeLock.release() }

        // ARGs before the first FROM: only FROM lines see them.
        var metaArgs: [String: String] = [:]
        var stages: [[Instruction]] = []
        for instruction in dockerfile.instructions {
            if instruction.keyword == "FROM" {
                stages.append([instruction])
            } else if stages.isEmpty {
                let (name, value) = try argument(instruction, variables: metaArgs, escape: dockerfile.escape)
                metaArgs[name] = options.buildArgs[name] ?? value ?? metaArgs[name]
            } else {
                stages[stages.count - 1].append(instruction)
            }
        }
        let metaSubstitution = Substitution(variables: metaArgs, escape: dockerfile.escape)
        var stageNames: [String?] = []
        for stage in stages {
            let words = stage[0].arguments.split(whereSeparator: { $0 == " " || $0 == "\t" })
            stageNames.append(words.count == 3 ? try metaSubstitution.word(String(words[2])).lowercased() : nil)
        }
        var last = stages.count - 1
        if let target = options.target {
            guard let index = stageNames.firstIndex(of: target.lowercased()) else {
                throw SkiffError(.notFound, "failed to reach build target \(target) in \(fileName): no stage is named so (FROM … AS \(target))")
            }
            last = index
        }
        let total = stages[0...last].reduce(0) { $0 + $1.count }
        var step = 0
        var built: [String: Image] = [:]
        var builtByIndex: [Image] = []
        var usedArgs: Set<String> = []
        var result: Image? = nil

        for (index, instructions) in stages[0...last].enumerated() {
            var stage: Stage! = nil
            for instruction in instructions {
                step += 1
                say("Step \(step)/\(total) : \(instruction.original)")
                do throws(SkiffError) {
                    if instruction.keyword == "FROM" {
                        stage = try from(instruction, substitution: metaSubstitution, built: built, builtByIndex: builtByIndex,
                                         name: stageNames[index], metaArgs: metaArgs)
                    } else {
                        try run(instruction, in: &stage, context: context, escape: dockerfile.escape, metaArgs: metaArgs,
                                built: built, builtByIndex: builtByIndex, usedArgs: &usedArgs)
                    }
                } catch {
                    if error.message.hasPrefix("The command '") { throw error }
                    throw SkiffError(error.kind, "\(fileName):\(instruction.line): \(instruction.keyword): \(error.message)", errno: error.errno)
                }
                say(" ---> " + (stage.image.map { $0.shortID } ?? "scratch"))
            }
            // FROM scratch with nothing after it is still an (empty) image.
            if stage.image == nil { stage.image = try storeStep(config: stage.config, base: nil, layer: nil, key: nil) }
            if let name = stageNames[index] { built[name] = stage.image! }
            builtByIndex.append(stage.image!)
            result = stage.image
        }
        let unused = Set(options.buildArgs.keys).subtracting(usedArgs).subtracting(metaArgs.keys)
        if !unused.isEmpty {
            say("[Warning] One or more build-args [\(unused.sorted().joined(separator: " "))] were not consumed")
        }
        let image = result!
        let manifest = Descriptor(mediaType: MediaType.manifest, digest: image.manifestDigest,
                                  size: Int64((try? store.readBlob(image.manifestDigest).count) ?? 0))
        if references.isEmpty {
            // Untagged, as Docker keeps it: `<none>` in `images`.
            _ = try store.storeImage(config: image.config, baseLayers: image.manifest.layers, adding: [], tag: nil)
        }
        for reference in references { try store.tag(manifest, as: reference) }
        say("Successfully built \(image.shortID)")
        for reference in references { say("Successfully tagged \(reference.familiarName)") }
        return image
    }

    // MARK: FROM

    private func from(_ instruction: Instruction, substitution: Substitution, built: [String: Image],
                      builtByIndex: [Image], name: String?, metaArgs: [String: String]) throws(SkiffError) -> Stage {
        let words = instruction.arguments.split(whereSeparator: { $0 == " " || $0 == "\t" })
        let base = try substitution.word(String(words[0]))
        guard !base.isEmpty else { throw SkiffError(.invalidData, "FROM needs an image name (\(words[0]) is empty)") }
        if base.lowercased() == "scratch" {
            return Stage(name: name, image: nil, config: ImageConfig.scratch())
        }
        let image: Image
        if let stage = built[base.lowercased()] {
            image = stage
        } else if let found = try store.resolve(base) {
            image = found
        } else {
            let reference = try ImageReference(parsing: base)
            say("Unable to find image '\(reference.familiarName)' locally")
            image = try store.pull(reference)
        }
        return Stage(name: name, image: image, config: image.config)
    }

    private func argument(_ instruction: Instruction, variables: [String: String], escape: Character) throws(SkiffError) -> (String, String?) {
        guard instruction.keyword == "ARG" else {
            throw SkiffError(.invalidData, "only ARG may come before the first FROM")
        }
        let text = instruction.arguments
        guard let eq = text.firstIndex(of: "=") else { return (text, nil) }
        let value = try Substitution(variables: variables, escape: escape).word(String(text[text.index(after: eq)...]))
        return (String(text[..<eq]), value)
    }

    // MARK: one step

    private func run(_ instruction: Instruction, in stage: inout Stage, context: ContextTree, escape: Character,
                     metaArgs: [String: String], built: [String: Image], builtByIndex: [Image],
                     usedArgs: inout Set<String>) throws(SkiffError) {
        let sub = Substitution(variables: stage.variables, escape: escape)
        var runConfig = stage.runConfig
        var createdBy: String
        var extras: [String] = []
        /// Makes the step's layer on a cache miss; nil for config-only steps.
        var makeLayer: ((ImageTree?) throws(SkiffError) -> LayerBlob?)? = nil
        var author = stage.config.author

        switch instruction.keyword {
        case "ENV":
            var env = runConfig.env ?? []
            let pairs = try sub.pairs(instruction.arguments, instruction: "ENV")
            for (key, value) in pairs {
                env.removeAll { $0.hasPrefix(key + "=") }
                env.append(key + "=" + value)
            }
            runConfig.env = env
            createdBy = "ENV " + pairs.map { $0.0 + "=" + $0.1 }.joined(separator: " ")
        case "LABEL":
            var labels = runConfig.labels ?? [:]
            let pairs = try sub.pairs(instruction.arguments, instruction: "LABEL")
            for (key, value) in pairs { labels[key] = value }
            runConfig.labels = labels
            createdBy = "LABEL " + pairs.map { $0.0 + "=" + $0.1 }.joined(separator: " ")
        case "MAINTAINER":
            author = try sub.word(instruction.arguments)
            createdBy = "MAINTAINER " + author!
        case "ARG":
            let (name, value) = try argument(instruction, variables: stage.variables, escape: escape)
            let resolved = options.buildArgs[name] ?? value ?? metaArgs[name]
            if options.buildArgs[name] != nil { usedArgs.insert(name) }
            if let resolved { stage.args[name] = resolved } else { stage.args.removeValue(forKey: name) }
            createdBy = "ARG " + name + (resolved.map { "=" + $0 } ?? "")
        case "EXPOSE":
            var ports = runConfig.exposedPorts ?? [:]
            var shown: [String] = []
            for word in try sub.words(instruction.arguments) {
                let port = try Self.port(word)
                ports[port] = EmptyObject()
                shown.append(port)
            }
            runConfig.exposedPorts = ports
            createdBy = "EXPOSE " + shown.joined(separator: " ")
        case "VOLUME":
            var volumes = runConfig.volumes ?? [:]
            let paths = try argumentWords(instruction, sub)
            for path in paths where !path.isEmpty { volumes[path] = EmptyObject() }
            runConfig.volumes = volumes
            createdBy = "VOLUME [" + paths.joined(separator: " ") + "]"
        case "USER":
            runConfig.user = try sub.word(instruction.arguments)
            createdBy = "USER " + runConfig.user!
        case "STOPSIGNAL":
            runConfig.stopSignal = try sub.word(instruction.arguments)
            createdBy = "STOPSIGNAL " + runConfig.stopSignal!
        case "WORKDIR":
            let given = try sub.word(instruction.arguments)
            let joined = given.hasPrefix("/") ? given : (runConfig.workingDir ?? "/") + "/" + given
            let path = ContextPath.clean(joined)
            runConfig.workingDir = "/" + path.joined(separator: "/")
            createdBy = "WORKDIR " + runConfig.workingDir!
            makeLayer = { (image) throws(SkiffError) in
                // Docker creates the directory when the image lacks it.
                let resolved = try image?.resolve(path, followLast: true, shown: joined) ?? path
                if resolved.isEmpty || image?.info(resolved)?.kind == .directory { return nil }
                return try LayerWriter.write(Self.parentDirectories(of: [resolved + ["."]], image: image))
            }
        case "CMD", "ENTRYPOINT":
            let command = instruction.json ?? (stage.shell + [instruction.arguments])
            if instruction.keyword == "CMD" {
                runConfig.cmd = command
                stage.cmdSet = true
            } else {
                runConfig.entrypoint = command
                // A CMD inherited from the base image makes no sense after a new ENTRYPOINT.
                if !stage.cmdSet { runConfig.cmd = nil }
            }
            createdBy = instruction.keyword + " " + Self.jsonText(command)
        case "SHELL":
            stage.shell = instruction.json!
            createdBy = "SHELL " + Self.jsonText(stage.shell)
        case "RUN":
            let command = instruction.json ?? (stage.shell + [instruction.arguments])
            createdBy = "RUN " + command.joined(separator: " ")
            let args = stage.args.keys.sorted().map { $0 + "=" + stage.args[$0]! }
            extras = args
            let current = stage
            makeLayer = { (_) throws(SkiffError) in try self.runInContainer(command, stage: current, args: args) }
        case "COPY", "ADD":
            let keyword = instruction.keyword
            var words = try argumentWords(instruction, sub)
            let destination = words.removeLast()
            if keyword == "ADD", let url = words.first(where: { $0.contains("://") }) {
                throw SkiffError(.unsupported, "ADD from a URL (\(url)) is not supported by skiff build, which has no network: download the file into the build context and ADD or COPY it from there")
            }
            var tree: any SourceTree = context
            var fromNote = ""
            if let from = instruction.flags["from"] {
                let name = try sub.word(from).lowercased()
                let source: Image
                if let stageImage = built[name] {
                    source = stageImage
                } else if let n = Int(name), n >= 0, n < builtByIndex.count {
                    source = builtByIndex[n]
                } else if let image = try store.resolve(name) {
                    source = image
                } else {
                    throw SkiffError(.notFound, "--from=\(from): no stage or image of that name")
                }
                tree = ImageTree(layersBottomFirst: try store.layerDirectories(for: source), label: "stage \(name)")
                fromNote = "--from=\(name) "
            }
            let sources = try CopySelection.select(words, in: tree, instruction: keyword)
            let absoluteDestination = destination.hasPrefix("/") ? destination : (runConfig.workingDir ?? "/") + "/" + destination
            let destinationIsDirectory = destination.hasSuffix("/") || destination.hasSuffix("/.") || destination == "."
            if sources.count > 1 && !destinationIsDirectory {
                throw SkiffError(.invalidData, "When using \(keyword) with more than one source file, the destination must be a directory and end with a /")
            }
            let digest = CopySelection.digest(sources)
            var flags = ""
            if let chown = instruction.flags["chown"] { flags += "--chown=\(try sub.word(chown)) " }
            if let chmod = instruction.flags["chmod"] { flags += "--chmod=\(chmod) " }
            createdBy = "\(keyword) \(fromNote)\(flags)\(words.joined(separator: " ")) \(absoluteDestination)"
            extras = ["content " + digest.description] + (keyword == "ADD" ? ["add"] : [])
            let chown = try instruction.flags["chown"].map { (c) throws(SkiffError) in try sub.word(c) }
            let chmod = instruction.flags["chmod"]
            makeLayer = { (image) throws(SkiffError) in
                let owner = try CopyOwnership.parse(chown: chown, chmod: chmod, image: image)
                return try LayerWriter.write(try self.copyEntries(sources, to: absoluteDestination,
                                                                 forceDirectory: destinationIsDirectory || sources.count > 1,
                                                                 owner: owner, image: image, extractArchives: keyword == "ADD",
                                                                 context: context))
            }
        default:
            throw SkiffError(.invalidData, "unknown instruction \(instruction.keyword)")
        }

        var config = stage.config
        config.author = author
        config.config = runConfig
        let parent = stage.image?.configDigest
        let key = BuildCache.key(parent: parent, step: createdBy, extras: extras)
        if !options.noCache, let cached = cache.lookup(key) {
            say(" ---> Using cache")
            stage.image = cached
            stage.config = cached.config
            return
        }
        var layer: LayerBlob? = nil
        if let makeLayer {
            let image = try stage.image.map { (i) throws(SkiffError) in
                ImageTree(layersBottomFirst: try store.layerDirectories(for: i), label: "the image")
            }
            layer = try makeLayer(image)
        }
        var base = config
        base.config = runConfig
        let child = base.child(runConfig: runConfig, layer: layer?.diffID, createdBy: createdBy)
        stage.image = try storeStep(config: child, base: stage.image, layer: layer, key: key)
        stage.config = stage.image!.config
    }

    /// Stores a step's image (blobs only) and records it in the cache.
    private func storeStep(config: ImageConfig, base: Image?, layer: LayerBlob?, key: Digest?) throws(SkiffError) -> Image {
        let manifest = try store.writeImageBlobs(config: config, baseLayers: base?.manifest.layers ?? [],
                                                 adding: layer.map { [$0] } ?? [])
        if let key { try cache.record(key, manifest: manifest.digest) }
        return try store.image(manifest)
    }

    // MARK: RUN

    /// Runs `command` in a container of the stage's image, in the
    /// foreground, and returns its upper dir as a layer. The container is
    /// removed whatever happens.
    private func runInContainer(_ command: [String], stage: Stage, args: [String]) throws(SkiffError) -> LayerBlob {
        guard let image = stage.image else {
            throw SkiffError(.invalidData, "RUN needs a shell and programs, and the image is empty (FROM scratch)")
        }
        var spec = RunSpec(image: image.id, command: command)
        spec.resolvedImage = image
        spec.entrypoint = ""
        spec.workingDir = stage.runConfig.workingDir.flatMap { $0.isEmpty ? nil : $0 }
        // Build args are in RUN's environment, under the image's ENV.
        let envKeys = Set((stage.runConfig.env ?? []).compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
        spec.env = args.filter { !envKeys.contains(String($0.split(separator: "=", maxSplits: 1)[0])) }
        // USER applies to RUN as to the final container.
        if let user = stage.runConfig.user, !user.isEmpty { spec.user = user }
        let container = try engine.create(spec)
        say(" ---> Running in \(container.id.prefix(12))")
        var captured: String? = nil
        var io = AttachIO(stdin: -1, stdout: 1, stderr: 2)
        if options.quiet {
            // -q prints nothing, unless the command fails: keep its output aside.
            let path = store.root.tmp + "/run-\(container.id.prefix(12)).log"
            let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            if fd >= 0 { unlink(path); io = AttachIO(stdin: -1, stdout: fd, stderr: fd); captured = "" }
        }
        defer {
            if captured != nil { close(io.stdout) }
            try? engine.remove(container.id, force: true)
            say("Removing intermediate container \(container.id.prefix(12))")
        }
        let nullIn = open("/dev/null", O_RDONLY | O_CLOEXEC)
        if nullIn >= 0 { io.stdin = nullIn }
        defer { if nullIn >= 0 { close(nullIn) } }
        // Ctrl-C reaches the whole foreground process group: the container,
        // and the monitor, which kills the container on the second one (see
        // skiff-spawn). The builder must outlive it to remove the container.
        let previousInterrupt = signal(SIGINT, SIG_IGN)
        defer { signal(SIGINT, previousInterrupt) }
        let code = try engine.start(container, attach: io) ?? 0
        if code != 0 {
            if captured != nil {
                lseek(io.stdout, 0, SEEK_SET)
                if let output = try? readAll(io.stdout, what: "the RUN's output") { try? Files.writeAll(2, output, what: "stderr") }
            }
            throw SkiffError(.invalidData, "The command '\(command.joined(separator: " "))' returned a non-zero code: \(code)")
        }
        return try engine.changesLayer(of: container)
    }

    // MARK: COPY and ADD

    /// The layer entries of a COPY: each source's files under the
    /// destination (resolved inside the image's root), the parent
    /// directories they need with the image's owners and modes, and for ADD
    /// the contents of local tar archives.
    func copyEntries(_ sources: [CopySource], to destination: String, forceDirectory: Bool, owner: CopyOwnership,
                     image: ImageTree?, extractArchives: Bool, context: ContextTree) throws(SkiffError) -> [ArchiveEntry] {
        let clean = ContextPath.clean(destination)
        let resolvedDestination = try image?.resolve(clean, followLast: true, shown: destination) ?? clean
        let destinationExistsAsDirectory = image?.info(resolvedDestination)?.kind == .directory
        var entries: [ArchiveEntry] = []
        var targets: [[String]] = []
        for source in sources {
            let archive = extractArchives && !source.isDirectory && Self.isArchive(source.items[0].contents)
            let intoDirectory = source.isDirectory || archive || forceDirectory || destinationExistsAsDirectory
            let base = source.isDirectory || archive ? resolvedDestination
                : (intoDirectory ? resolvedDestination + [source.name] : resolvedDestination)
            if archive {
                for var entry in try extract(context.host(source.path)) {
                    entry.path = (base + [entry.path]).joined(separator: "/")
                    if owner.uid != 0 || owner.gid != 0 { entry.uid = owner.uid; entry.gid = owner.gid }
                    entries.append(entry)
                    targets.append(entry.path.split(separator: "/").map(String.init))
                }
                continue
            }
            for item in source.items {
                let path = base + item.relative
                if path.isEmpty { continue }  // a directory copied to / itself
                if source.isDirectory && item.relative.isEmpty && image?.info(path)?.kind == .directory { continue }
                var mode = owner.mode ?? item.info.mode
                let kind: ArchiveEntry.Kind
                switch item.info.kind {
                case .directory: kind = .directory
                case .symlink: kind = .symlink(target: item.info.linkTarget ?? ""); mode = 0o777
                default: kind = .regular
                }
                entries.append(ArchiveEntry(path: path.joined(separator: "/"), kind: kind, mode: mode,
                                            uid: owner.uid, gid: owner.gid, mtime: item.info.mtime, contents: item.contents))
                targets.append(path)
            }
        }
        let have = Set(entries.map(\.path))
        return Self.parentDirectories(of: targets, image: image).filter { !have.contains($0.path) } + entries
    }

    /// Directory entries for every parent of `paths` (and a last component
    /// "." meaning the path itself): the image's own mode and owner when it
    /// has the directory (so COPY into /tmp keeps it 1777), else 0755 root.
    static func parentDirectories(of paths: [[String]], image: ImageTree?) -> [ArchiveEntry] {
        var seen: Set<String> = []
        var entries: [ArchiveEntry] = []
        let now = Int64(Time.nowNanos() / 1_000_000_000)
        for path in paths {
            let dirs = path.last == "." ? path.dropLast().count : path.count - 1
            for length in stride(from: 1, through: max(dirs, 0), by: 1) {
                let dir = Array(path[..<length])
                let text = dir.joined(separator: "/")
                guard !seen.contains(text) else { continue }
                seen.insert(text)
                if let info = image?.info(dir), info.kind == .directory {
                    entries.append(ArchiveEntry(path: text, kind: .directory, mode: info.mode, uid: info.uid,
                                                gid: info.gid, mtime: info.mtime))
                } else {
                    entries.append(ArchiveEntry(path: text, kind: .directory, mode: 0o755, mtime: now))
                }
            }
        }
        return entries
    }

    /// gzip, bzip2, xz or a plain tar (ustar magic): what ADD unpacks.
    static func isArchive(_ bytes: [UInt8]) -> Bool {
        if bytes.starts(with: [0x1f, 0x8b]) || bytes.starts(with: Array("BZh".utf8))
            || bytes.starts(with: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) { return true }
        return bytes.count >= 262 && Array(bytes[257..<262]) == Array("ustar".utf8)
    }

    /// A local archive's entries, through the layer unpacker's checks (no
    /// `..`, absolute paths, links out of the tree, devices): unpacked into
    /// a staging directory under the state root, read back, removed.
    private func extract(_ archive: String) throws(SkiffError) -> [ArchiveEntry] {
        try Files.makeDirectories(store.root.tmp)
        var template = Array((store.root.tmp + "/add-XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) != nil }) else {
            throw SkiffError.system("create a staging directory in \(store.root.tmp)")
        }
        let staging = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { try? Files.removeTree(staging) }
        _ = try LayerUnpacker.unpack(archive: archive, into: staging)
        return try LayerFromDirectory.entries(of: staging)
    }

    // MARK: helpers

    /// The JSON form's strings, each substituted, or the shell form's words.
    private func argumentWords(_ instruction: Instruction, _ sub: Substitution) throws(SkiffError) -> [String] {
        guard let json = instruction.json else { return try sub.words(instruction.arguments) }
        var words: [String] = []
        for word in json { words.append(try sub.word(word)) }
        return words
    }

    static func port(_ text: String) throws(SkiffError) -> String {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let proto = parts.count > 1 ? parts[1].lowercased() : "tcp"
        guard parts.count <= 2, let number = Int(parts[0]), (1...65535).contains(number),
              ["tcp", "udp", "sctp"].contains(proto) else {
            throw SkiffError(.invalidData, "invalid port \(text): give a number, optionally with /tcp or /udp")
        }
        return "\(number)/\(proto)"
    }

    static func jsonText(_ words: [String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        guard let data = try? encoder.encode(words) else { return words.joined(separator: " ") }
        return String(decoding: data, as: UTF8.self)
    }
}
