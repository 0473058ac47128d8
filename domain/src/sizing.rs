//! The AKU catalog: what one AKU serves, in one place, since vendors change these figures.
//! The create form's sizing helper proposes an instance size from expected throughput.

use crate::license::{MAX_INSTANCE_AKU, MIN_INSTANCE_AKU};

/// MiB/s of writes one AKU serves.
pub const WRITE_MIB_S_PER_AKU: u32 = 30;
/// MiB/s of reads one AKU serves.
pub const READ_MIB_S_PER_AKU: u32 = 60;

/// The AKU needed for `write_mib_s` of writes and `read_mib_s` of reads: the larger need wins,
/// never below the smallest instance. Above the largest instance the number is still returned
/// (the caller says it does not fit one instance).
pub fn proposed_aku(write_mib_s: u32, read_mib_s: u32) -> u32 {
    let for_writes = write_mib_s.div_ceil(WRITE_MIB_S_PER_AKU);
    let for_reads = read_mib_s.div_ceil(READ_MIB_S_PER_AKU);
    for_writes.max(for_reads).max(MIN_INSTANCE_AKU)
}

/// Throughput an instance of `aku` serves: (write MiB/s, read MiB/s).
pub fn capacity(aku: u32) -> (u32, u32) {
    (
        aku.saturating_mul(WRITE_MIB_S_PER_AKU),
        aku.saturating_mul(READ_MIB_S_PER_AKU),
    )
}

/// Whether `aku` fits one instance at all.
pub fn fits_one_instance(aku: u32) -> bool {
    (MIN_INSTANCE_AKU..=MAX_INSTANCE_AKU).contains(&aku)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendor_examples() {
        // 60 MiB/s of writes needs 2 AKU, 240 MiB/s of reads needs 4: the larger need wins.
        assert_eq!(60u32.div_ceil(WRITE_MIB_S_PER_AKU), 2);
        assert_eq!(proposed_aku(60, 240), 4);
    }

    #[test]
    fn rounds_up_and_keeps_the_minimum() {
        assert_eq!(proposed_aku(0, 0), 3);
        assert_eq!(proposed_aku(91, 0), 4);
        assert_eq!(proposed_aku(90, 0), 3);
        assert_eq!(proposed_aku(0, 301), 6);
    }

    #[test]
    fn capacity_is_the_inverse() {
        assert_eq!(capacity(4), (120, 240));
        assert!(fits_one_instance(3) && fits_one_instance(500));
        assert!(!fits_one_instance(2) && !fits_one_instance(501));
    }
}
