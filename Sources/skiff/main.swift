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
// For `run`, the early cgroup move and the spawn helper may have started before main (CSkiffStart).
var helperPid: Int32 = 0, helperStatus: Int32 = -1, helperChannel: Int32 = -1, initChannel: Int32 = -1
let prelaunched = skiff_start_take_standby(&helperPid, &helperStatus, &helperChannel, &initChannel) == 1
let code = CLI.main(arguments, cgroupMoveStarted: skiff_start_warmed_up() == 1,
                    prelaunched: prelaunched ? (helperPid, helperStatus, helperChannel, initChannel) : nil)
Trace.mark("cli exit")
exit(code)
