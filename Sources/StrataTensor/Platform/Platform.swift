// The one place where Strata's code differs between Linux (Glibc) and Darwin: C library calls
// that Swift must name by module (their names clash with Swift methods), process facts read from
// /proc on Linux, and kernel hints that exist on one system only. Every target reaches the C
// library through here or through unqualified calls under `#if canImport(Glibc) … #elseif
// canImport(Darwin)`; Scripts/check-portability.sh keeps it that way.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// System calls and process facts, the same on Linux and Darwin.
package enum Platform {
    #if canImport(Glibc)
        @inline(__always) package static func exp(_ x: Double) -> Double { Glibc.exp(x) }
        @inline(__always) package static func log(_ x: Double) -> Double { Glibc.log(x) }
        @inline(__always) package static func pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
        @inline(__always) package static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
        @inline(__always) package static func sin(_ x: Double) -> Double { Glibc.sin(x) }
        @inline(__always) package static func cos(_ x: Double) -> Double { Glibc.cos(x) }
        @inline(__always) package static func read(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int) -> Int {
            Glibc.read(fd, p, n)
        }
        @inline(__always) package static func write(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int {
            Glibc.write(fd, p, n)
        }
        @inline(__always) package static func close(_ fd: Int32) -> Int32 { Glibc.close(fd) }
    #elseif canImport(Darwin)
        @inline(__always) package static func exp(_ x: Double) -> Double { Darwin.exp(x) }
        @inline(__always) package static func log(_ x: Double) -> Double { Darwin.log(x) }
        @inline(__always) package static func pow(_ x: Double, _ y: Double) -> Double { Darwin.pow(x, y) }
        @inline(__always) package static func tanh(_ x: Double) -> Double { Darwin.tanh(x) }
        @inline(__always) package static func sin(_ x: Double) -> Double { Darwin.sin(x) }
        @inline(__always) package static func cos(_ x: Double) -> Double { Darwin.cos(x) }
        @inline(__always) package static func read(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int) -> Int {
            Darwin.read(fd, p, n)
        }
        @inline(__always) package static func write(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int {
            Darwin.write(fd, p, n)
        }
        @inline(__always) package static func close(_ fd: Int32) -> Int32 { Darwin.close(fd) }
    #endif

    /// Online logical processors.
    package static var processorCount: Int { Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The running executable's path, for re-executing it or starting it as a child (Linux:
    /// /proc/self/exe; Darwin: `_NSGetExecutablePath`).
    package static var executablePath: String {
        #if os(Linux)
            return "/proc/self/exe"
        #elseif canImport(Darwin)
            var size: UInt32 = 4096
            var buffer = [CChar](repeating: 0, count: Int(size))
            guard _NSGetExecutablePath(&buffer, &size) == 0 else { return CommandLine.arguments[0] }
            return String(cString: buffer)
        #else
            return CommandLine.arguments[0]
        #endif
    }

    /// The process's peak resident set size so far, in bytes (`ru_maxrss` is KiB on Linux, bytes on Darwin).
    package static var peakResidentBytes: Int {
        var usage = rusage()
        #if os(Linux)
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return usage.ru_maxrss * 1024
        #else
            getrusage(RUSAGE_SELF, &usage)
            return usage.ru_maxrss
        #endif
    }

    /// Asks the kernel to back a large anonymous mapping with huge pages (Linux's transparent huge
    /// pages; nothing elsewhere). Fewer TLB misses on the multi-MB activation buffers.
    package static func adviseHugePages(_ p: UnsafeMutableRawPointer, _ size: Int) {
        #if os(Linux)
            _ = madvise(p, size, MADV_HUGEPAGE)
        #endif
    }

    /// The CPU's feature flags as the kernel lists them (Linux: the `flags` line of /proc/cpuinfo,
    /// e.g. "avx2", "avx512_bf16"). Empty where the system does not say.
    package static let cpuFlags: Set<String> = {
        #if os(Linux)
            guard let f = fopen("/proc/cpuinfo", "r") else { return [] }
            defer { fclose(f) }
            var line = [CChar](repeating: 0, count: 8192)
            while fgets(&line, Int32(line.count), f) != nil {
                let text = String(cString: line)
                guard text.hasPrefix("flags") else { continue }
                let values = text.split(separator: ":", maxSplits: 1).dropFirst().first ?? ""
                return Set(values.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init))
            }
            return []
        #else
            return []
        #endif
    }()

    /// Bytes this process could still allocate without swapping, if the system says: the smaller
    /// of the kernel's MemAvailable and what the cgroup (a container's limit) leaves. Nil elsewhere.
    package static var availableMemoryBytes: Int? {
        #if os(Linux)
            func number(_ path: String, field: String? = nil) -> Int? {
                guard let f = fopen(path, "r") else { return nil }
                defer { fclose(f) }
                var line = [CChar](repeating: 0, count: 256)
                while fgets(&line, Int32(line.count), f) != nil {
                    let text = String(cString: line)
                    if let field {
                        guard text.hasPrefix(field + ":") else { continue }
                        let digits = text.dropFirst(field.count + 1).split(separator: " ").first.flatMap { Int($0) }
                        return digits.map { $0 * 1024 } // kB
                    }
                    return Int(text.split(separator: "\n").first ?? "") // "max" → nil
                }
                return nil
            }
            var available = number("/proc/meminfo", field: "MemAvailable")
            if let limit = number("/sys/fs/cgroup/memory.max"), let used = number("/sys/fs/cgroup/memory.current") {
                available = Swift.min(available ?? Int.max, Swift.max(0, limit - used))
            }
            return available
        #else
            return nil
        #endif
    }
}

/// A mutual-exclusion lock (pthread_mutex) for the few process-wide values: StrataTensor does
/// without Foundation's NSLock.
package final class PlatformLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    package init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func lock() { pthread_mutex_lock(mutex) }
    package func unlock() { pthread_mutex_unlock(mutex) }
}
