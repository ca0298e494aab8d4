import ArgumentParser
import Glibc
import SkiffCommon

// `docker run …` and `run …` are the same command: a leading "docker" is dropped.
var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "docker" { arguments.removeFirst() }
if arguments.isEmpty && isatty(0) == 1 && isatty(1) == 1 {
    // Skiff's main job for a new user: a shell in a fresh busybox container.
    arguments = ["run", "-it", "--rm", "busybox", "sh"]
}
exit(CLI.main(arguments))
