import CSkiffStart
import Glibc
import SkiffCLI
import SkiffCommon

Trace.mark("cli main")
// `docker run …` and `run …` are the same command: a leading "docker" is dropped.
var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "docker" { arguments.removeFirst() }
if arguments.isEmpty && isatty(0) == 1 && isatty(1) == 1 {
    // A new user typing `skiff` lands in the tutor.
    arguments = ["tutor"]
}
// For `run`, the early cgroup move may have started before main (CSkiffStart).
let code = CLI.main(arguments, cgroupMoveStarted: skiff_start_warmed_up() == 1)
Trace.mark("cli exit")
exit(code)
