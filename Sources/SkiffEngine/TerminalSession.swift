import CShim
import Glibc
import SkiffCommon

/// `-t`: a new pty whose slave becomes the container's terminal, while our
/// own terminal is put in raw mode and bytes are copied both ways, so that
/// Ctrl-C, arrow keys and window size all reach the container.
final class TerminalSession {
    let master: Int32
    private(set) var slave: Int32
    let input: Int32
    let output: Int32
    private var saved: [UInt8]? = nil
    private var size: (rows: UInt16, cols: UInt16) = (0, 0)

    /// A new pty from the host's devpts, its slave for the caller to hand
    /// out (`exec -t`: the process joins a container that has its /dev).
    convenience init(input: Int32, output: Int32) throws(SkiffError) {
        var slave: Int32 = -1
        var name = [CChar](repeating: 0, count: 128)
        let master = skiff_open_pty(&slave, &name, name.count)
        if master < 0 { throw SkiffError.system("allocate a terminal") }
        self.init(master: master, input: input, output: output)
        self.slave = slave
    }

    /// Our terminal (raw mode) and `master`, the pty a container made in
    /// its own devpts and sent us (`run -t`: see skiff-spawn's setUpTerminal).
    init(master: Int32, input: Int32, output: Int32) {
        self.master = master
        self.slave = -1
        self.input = input
        self.output = output
        syncWindowSize()
        if isatty(input) == 1 {
            var buffer = [UInt8](repeating: 0, count: skiff_termios_size())
            if skiff_make_raw(input, &buffer, buffer.count) == 0 { saved = buffer }
        }
    }

    /// The size to give a new terminal: our own terminal's, else 24x80.
    static func windowSize(input: Int32, output: Int32) -> (rows: UInt16, cols: UInt16) {
        var rows: UInt16 = 0, cols: UInt16 = 0
        let source = isatty(output) == 1 ? output : input
        if skiff_get_winsize(source, &rows, &cols) != 0 || rows == 0 { rows = 24; cols = 80 }
        return (rows, cols)
    }

    func closeSlave() {
        if slave >= 0 { Glibc.close(slave); slave = -1 }
    }

    func close() {
        closeSlave()
        if let saved { _ = saved.withUnsafeBytes { skiff_restore_termios(input, $0.baseAddress) } }
        saved = nil
        Glibc.close(master)
    }

    private func syncWindowSize() {
        let (rows, cols) = Self.windowSize(input: input, output: output)
        if (rows, cols) != size {
            size = (rows, cols)
            skiff_set_winsize(master, rows, cols)
        }
    }

    /// Copies until the container side of the terminal is closed by every
    /// process (read on the master then fails with EIO).
    func proxy(until helperPid: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        var inputOpen = true
        while true {
            var fds = [pollfd(fd: master, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: inputOpen ? input : -1, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, 200)
            syncWindowSize()
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[0].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                try? Files.writeAll(output, Array(buffer[0..<n]), what: "terminal")
            }
            if inputOpen && fds[1].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    inputOpen = false
                } else {
                    try? Files.writeAll(master, Array(buffer[0..<n]), what: "container terminal")
                }
            }
        }
    }
}
