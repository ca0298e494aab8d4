import SkiffCommon

extension ImageConfig {
    /// The config of an image made on top of this one (`commit`, each step of
    /// `build`): the run config replaced, the layer's diff_id appended when
    /// there is one, and one history entry; a step without a layer is marked
    /// `empty_layer`, as Docker does for ENV, CMD and the like.
    public func child(runConfig: ContainerConfig?, layer diffID: Digest?, createdBy: String,
                      comment: String? = nil, created: String = Time.rfc3339Nano(Time.nowNanos())) -> ImageConfig {
        var config = self
        config.config = runConfig
        config.created = created
        if let diffID { config.rootfs.diffIDs.append(diffID) }
        var history = config.history ?? []
        history.append(History(created: created, createdBy: createdBy, comment: comment,
                               emptyLayer: diffID == nil ? true : nil))
        config.history = history
        return config
    }

    /// The config of an empty image (`FROM scratch`) for this machine.
    public static func scratch() -> ImageConfig {
        ImageConfig(architecture: Platforms.hostArchitecture, os: "linux", rootfs: RootFS(diffIDs: []))
    }
}
