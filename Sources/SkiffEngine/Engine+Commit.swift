import Glibc
import SkiffCommon
import SkiffImages

extension Engine {
    /// `docker commit`: the container's writable layer (its overlay upper
    /// dir) becomes one new layer on top of its image's layers. The config is
    /// the image's, with the container's Env, Cmd, Entrypoint and WorkingDir,
    /// the new diff_id and a history entry. Tagged as `reference` when given.
    /// Docker pauses a running container first; Skiff just reads the upper dir.
    @discardableResult
    public func commit(_ container: String, reference: String? = nil, message: String? = nil) throws(SkiffError) -> Image {
        var target: ImageReference? = nil
        if let reference {
            let parsed = try ImageReference(parsing: reference)
            guard parsed.tag != nil else {
                throw SkiffError(.usage, "invalid reference format: \(reference) has a digest; commit needs a tag")
            }
            target = parsed
        }
        let c = try self.container(container)
        guard let base = try images.resolve(c.config.imageID) else {
            throw SkiffError(.notFound, "the image of container \(c.name) (\(c.config.imageID)) is no longer in the image store")
        }
        let layer = try changesLayer(of: c)

        var runConfig = base.config.config ?? ImageConfig.ContainerConfig()
        runConfig.env = c.config.env.isEmpty ? nil : c.config.env
        runConfig.cmd = c.config.cmd.isEmpty ? nil : c.config.cmd
        runConfig.entrypoint = c.config.entrypoint.isEmpty ? nil : c.config.entrypoint
        runConfig.workingDir = c.config.workingDir == "/" && (base.config.config?.workingDir ?? "").isEmpty
            ? base.config.config?.workingDir : c.config.workingDir
        let config = base.config.child(runConfig: runConfig, layer: layer.diffID, createdBy: "skiff commit",
                                       comment: message)

        return try images.storeImage(config: config, baseLayers: base.manifest.layers, adding: [layer], tag: target)
    }

    /// The container's writable layer (its overlay upper dir) as a layer:
    /// what `commit` and each `RUN` of `build` keep. Mount points the spawn
    /// helper had to create because the image lacked them (empty
    /// /etc/hostname, /etc/hosts, /etc/resolv.conf, /proc, /sys, /dev) are
    /// left out, as Docker leaves them out, and so is /etc when overlay
    /// copied it up only to hold them (same mode and owner, nothing else in it).
    /// The layer is a file under tmp/ until the image store adopts it.
    public func changesLayer(of c: Container) throws(SkiffError) -> LayerBlob {
        let mountPoints: Set<String> = ["etc/hostname", "etc/hosts", "etc/resolv.conf", "proc", "sys", "dev"]
        var entries = try LayerFromDirectory.entries(of: c.upperDir, streaming: true).filter { entry in
            guard mountPoints.contains(entry.path), entry.size == 0 else { return true }
            if entry.kind == .directory, !Files.list(c.upperDir + "/" + entry.path).isEmpty { return true }
            return c.config.lowerDirs.contains { Files.exists($0 + "/" + entry.path) }
        }
        if let map = c.config.usernsMap { entries = entries.map { map.shiftedToContainer($0) } }
        if !entries.contains(where: { $0.path.hasPrefix("etc/") }), let etc = entries.first(where: { $0.path == "etc" }) {
            var st = stat()
            // lowerDirs is bottom first: the top one that has /etc decides its look.
            if c.config.lowerDirs.last(where: { lstat($0 + "/etc", &st) == 0 }) != nil,
               UInt32(st.st_mode & 0o7777) == etc.mode, st.st_uid == etc.uid, st.st_gid == etc.gid {
                entries.removeAll { $0.path == "etc" }
            }
        }
        // Streamed from the upper dir into tmp/: a big file is never in memory.
        return try LayerWriter.write(entries, into: images.root.tmp)
    }
}
