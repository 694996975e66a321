//! The server process's own memory, for `/metrics`: resident set size now (`VmRSS`) and its
//! peak over the process's life (`VmHWM`), read from `/proc/self/status` (Linux; elsewhere
//! the gauges are left out).
//!
//! The peak is not reset: a reset (writing `5` to `/proc/self/clear_refs`) would need a
//! mutating admin endpoint, and the allocator keeps freed pages anyway, so a reset peak would
//! not isolate one request either. `rowstream compare` instead samples
//! `process_resident_memory_bytes` while each mode runs and reports the largest sample.

/// Resident memory of this process, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessMemory {
    /// `VmRSS`: resident now.
    pub resident_bytes: u64,
    /// `VmHWM`: the most that was ever resident.
    pub peak_bytes: u64,
}

impl ProcessMemory {
    /// Reads `/proc/self/status`; `None` where there is no such file (not Linux).
    pub fn read() -> Option<ProcessMemory> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        ProcessMemory::parse(&status)
    }

    /// Parses the `VmRSS:` and `VmHWM:` lines of a `/proc/PID/status` text (values in kB).
    pub fn parse(status: &str) -> Option<ProcessMemory> {
        let field = |name: &str| {
            status.lines().find_map(|line| line.strip_prefix(name)).and_then(|rest| {
                let kb = rest.trim().strip_suffix("kB").unwrap_or(rest).trim();
                kb.parse::<u64>().ok().map(|kb| kb * 1024)
            })
        };
        Some(ProcessMemory { resident_bytes: field("VmRSS:")?, peak_bytes: field("VmHWM:")? })
    }

    /// The two gauges in Prometheus' text format.
    pub fn render_prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}",
            self.resident_bytes
        );
        let _ = writeln!(
            out,
            "# HELP process_resident_memory_peak_bytes Peak resident memory size in bytes since the process started (VmHWM).\n# TYPE process_resident_memory_peak_bytes gauge\nprocess_resident_memory_peak_bytes {}",
            self.peak_bytes
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status() {
        let status = "Name:\trowstream\nVmPeak:\t  123456 kB\nVmHWM:\t    20480 kB\nVmRSS:\t    10240 kB\n";
        let memory = ProcessMemory::parse(status).unwrap();
        assert_eq!(memory, ProcessMemory { resident_bytes: 10240 * 1024, peak_bytes: 20480 * 1024 });
        assert_eq!(ProcessMemory::parse("Name:\tx\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process() {
        let memory = ProcessMemory::read().unwrap();
        assert!(memory.resident_bytes > 0 && memory.peak_bytes >= memory.resident_bytes);
    }
}
