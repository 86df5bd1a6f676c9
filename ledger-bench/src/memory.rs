//! The process's resident memory, from `/proc/self/status`: the current
//! resident set (`VmRSS`, sampled after each block) and its peak (`VmHWM`),
//! which can be reset where the kernel allows it so that the peak is the
//! replay's and not the workload generator's.

/// Resident bytes now (`VmRSS`); `None` where `/proc` is not available.
pub fn resident_bytes() -> Option<u64> {
    status_bytes(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmRSS:",
    )
}

/// Peak resident bytes (`VmHWM`) since the process started or the last
/// [`reset_peak`].
pub fn peak_resident_bytes() -> Option<u64> {
    status_bytes(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmHWM:",
    )
}

/// Resets the peak to the current resident set (`5` to
/// `/proc/self/clear_refs`, Linux 4.0 and later); `false` where that is
/// refused, and the peak then covers the whole process.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The `kB` figure of `field` in a `/proc/PID/status` text, in bytes.
fn status_bytes(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(field))?;
    let mut words = line[field.len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => Some(kib * 1024),
        _ => None,
    }
}

/// Mebibytes, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_a_status_text() {
        let status = "Name:\tledger-bench\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t5\n";
        assert_eq!(status_bytes(status, "VmRSS:"), Some(100 * 1024 * 1024));
        assert_eq!(status_bytes(status, "VmHWM:"), Some(200 * 1024 * 1024));
        assert_eq!(status_bytes(status, "VmSwap:"), None);
        assert_eq!(status_bytes("VmRSS:\t12 pages\n", "VmRSS:"), None);
        assert!(resident_bytes().is_some_and(|bytes| bytes > 0));
        // One reading of both (other tests of this process allocate, and
        // one resets the peak, between two readings).
        let now = std::fs::read_to_string("/proc/self/status").expect("Linux");
        assert!(status_bytes(&now, "VmHWM:") >= status_bytes(&now, "VmRSS:"));
    }
}
