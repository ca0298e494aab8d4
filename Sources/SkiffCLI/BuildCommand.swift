import ArgumentParser
import Glibc
import SkiffBuild
import SkiffCommon
import SkiffEngine

/// `skiff build` and `skiff image build`: a Dockerfile into an image.
struct Build: SkiffCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Build an image from a Dockerfile")
    @Option(name: [.customShort("t"), .long], help: "Name and optionally a tag (name:tag); may be repeated") var tag: [String] = []
    @Option(name: [.customShort("f"), .long], help: "Name of the Dockerfile (default: PATH/Dockerfile)") var file: String?
    @Option(name: .customLong("build-arg"), help: "Set a build-time variable (KEY=VALUE)") var buildArg: [String] = []
    @Flag(name: .customLong("no-cache"), help: "Do not use the cache when building the image") var noCache = false
    @Option(name: .customLong("target"), help: "Set the target build stage to build") var target: String?
    @Flag(name: [.customShort("q"), .long], help: "Suppress the build output and print the image ID on success") var quiet = false
    @Argument(help: "The build context: a directory") var path: String

    /// The flags as the builder takes them.
    var options: BuildOptions {
        var options = BuildOptions(context: path)
        options.dockerfile = file
        options.tags = tag
        options.noCache = noCache
        options.target = target
        options.quiet = quiet
        for arg in buildArg {
            if let eq = arg.firstIndex(of: "=") {
                options.buildArgs[String(arg[..<eq])] = String(arg[arg.index(after: eq)...])
            } else if let value = getenv(arg) {
                // --build-arg NAME takes the value from our environment, as Docker does.
                options.buildArgs[arg] = String(cString: value)
            }
        }
        return options
    }

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        // Lines go out unbuffered: RUN's output is written by the container
        // straight to the same stdout, in between.
        let builder = Builder(engine: engine, options: options) { line in
            try? Files.writeAll(1, Array((line + "\n").utf8), what: "stdout")
        }
        fflush(nil)
        let image = try builder.build()
        if quiet { print(image.id) }
        return 0
    }
}

struct ImageBuild: SkiffCommand {
    static let configuration = Build.configuration
    @OptionGroup var build: Build

    func execute(_ engine: Engine) throws(SkiffError) -> Int32 {
        try build.execute(engine)
    }
}
