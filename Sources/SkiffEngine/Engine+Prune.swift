import SkiffCommon
import SkiffImages

extension Engine {
    /// `docker image prune [-a]`: see `ImageStore.prune`. Every container,
    /// running or not, keeps its image and its layers.
    public func pruneImages(all: Bool) throws(SkiffError) -> PruneReport {
        try images.prune(all: all) {
            list(all: true).map { ImageUsage(imageID: $0.config.imageID, lowerDirs: $0.config.lowerDirs) }
        }
    }
}
