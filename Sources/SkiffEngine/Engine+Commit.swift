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
        let layer = try LayerFromDirectory.layer(of: c.upperDir)

        var config = base.config
        var runConfig = config.config ?? ImageConfig.ContainerConfig()
        runConfig.env = c.config.env.isEmpty ? nil : c.config.env
        runConfig.cmd = c.config.cmd.isEmpty ? nil : c.config.cmd
        runConfig.entrypoint = c.config.entrypoint.isEmpty ? nil : c.config.entrypoint
        runConfig.workingDir = c.config.workingDir == "/" && (base.config.config?.workingDir ?? "").isEmpty
            ? base.config.config?.workingDir : c.config.workingDir
        config.config = runConfig
        let now = Time.rfc3339Nano(Time.nowNanos())
        config.created = now
        config.rootfs.diffIDs.append(layer.diffID)
        var history = config.history ?? []
        history.append(ImageConfig.History(created: now, createdBy: "skiff commit", comment: message))
        config.history = history

        return try images.storeImage(config: config, baseLayers: base.manifest.layers, adding: [layer], tag: target)
    }
}
