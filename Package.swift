// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "skiff",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "skiff", targets: ["skiff"]),
        .executable(name: "skiff-spawn", targets: ["skiff-spawn"]),
        .executable(name: "skiff-tutor", targets: ["skiff-tutor"]),
        .executable(name: "skiff-probe", targets: ["skiff-probe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // Syscalls and constants Swift cannot reach (clone, pivot_root, setns, ifreq ioctls).
        .target(name: "CShim"),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive",
                       providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp",
                       providers: [.apt(["libseccomp-dev"])]),
        // Seccomp profiles: Docker's JSON format, the default profile, the libseccomp compiler.
        .target(name: "SkiffSeccomp", dependencies: [
            "SkiffCommon", "CSeccomp",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // One error type, state-root paths, atomic files: shared by every module.
        .target(name: "SkiffCommon", dependencies: ["CShim"]),
        // cgroup drivers, namespaces, mounts: the kernel seen from Swift.
        .target(name: "SkiffKernel", dependencies: ["SkiffCommon", "CShim"]),
        // OCI image layout, layers (libarchive), the offline busybox image.
        .target(name: "SkiffImages", dependencies: [
            "SkiffCommon", "CArchive",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Container lifecycle: the one API the CLI and the tutor call.
        .target(name: "SkiffEngine", dependencies: ["SkiffCommon", "SkiffKernel", "SkiffImages", "SkiffSeccomp", "CShim"]),
        // `skiff build`: the Dockerfile parser, the build cache, the builder.
        .target(name: "SkiffBuild", dependencies: ["SkiffEngine", "SkiffImages", "SkiffCommon", "CShim"]),
        // GNU readline for the tutor's REPL (history, completion).
        .systemLibrary(name: "CReadline", pkgConfig: "readline",
                       providers: [.apt(["libreadline-dev"])]),
        // The tutor: lessons as data, checks against the live engine, progress, REPL, autopilot.
        .target(name: "SkiffTutor", dependencies: [
            "SkiffEngine", "SkiffCommon", "SkiffKernel", "SkiffImages", "CReadline", "CShim",
            .product(name: "Yams", package: "Yams"),
        ]),
        // Single-threaded helper: namespaces, mounts, pivot_root, exec; then monitor.
        // Linked fully statically: no dynamic loader, no libstdc++ to map and
        // relocate. It starts in about 0.3 ms instead of 1.6, and its start is
        // on the path of every `run` (see docs/performance.md).
        .executableTarget(name: "skiff-spawn", dependencies: ["CShim", "SkiffCommon", "SkiffKernel"],
                          linkerSettings: [.unsafeFlags(["-static-executable"])]),
        // Escape probes run inside a busybox container, which has no libc: static C.
        .executableTarget(name: "skiff-probe", linkerSettings: [.unsafeFlags(["-static-executable"])]),
        // Docker's commands and flags (swift-argument-parser), shared by both binaries.
        .target(name: "SkiffCLI", dependencies: [
            "SkiffEngine", "SkiffBuild", "SkiffImages", "SkiffKernel", "SkiffCommon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Linked fully statically, libarchive and libseccomp with what they
        // need: no dynamic loader mapping and relocating a dozen libraries
        // (ICU and libxml2 among them) on every command. `run --rm busybox
        // true` went from 15.1 to 9.1 ms, `ps -aq` from 6.3 to 2.5 ms
        // (docs/performance.md). scripts/deps.sh installs the static libraries.
        // Runs before the Swift runtime of `skiff`: the early cgroup move of `run`.
        .target(name: "CSkiffStart", dependencies: ["CShim"]),
        .executableTarget(name: "skiff", dependencies: ["SkiffCLI", "SkiffCommon", "CSkiffStart"],
                          linkerSettings: [.unsafeFlags(["-static-executable"])] + staticArchiveLibraries),
        // The tutor in a binary of its own: YAML lessons bring Foundation.
        .executableTarget(name: "skiff-tutor", dependencies: [
            "SkiffCLI", "SkiffTutor", "SkiffEngine", "SkiffCommon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "SkiffUnitTests", dependencies: ["SkiffCommon", "SkiffKernel", "SkiffImages", "SkiffEngine", "SkiffBuild", "SkiffSeccomp", "SkiffCLI"]),
        .testTarget(name: "SkiffTutorTests", dependencies: ["SkiffTutor", "SkiffEngine", "SkiffCommon", "SkiffCLI", "skiff-tutor"]),
        .testTarget(name: "SkiffIntegrationTests", dependencies: ["SkiffCommon", "SkiffImages", "SkiffEngine", "skiff-tutor"]),
    ],
    swiftLanguageModes: [.v6]
)

/// What libarchive (`pkg-config --static --libs libarchive libxml-2.0`) and
/// libseccomp need when linked statically into `skiff` (and FoundationEssentials
/// its C shims, which a debug build does not strip), each library
/// before the ones it uses.
var staticArchiveLibraries: [LinkerSetting] {
    ["nettle", "acl", "xml2", "icuuc", "icudata", "lzma", "zstd", "lz4", "bz2", "z", "stdc++", "m", "_FoundationCShims", "_FoundationCollections"]
        .map { .linkedLibrary($0) }
}
