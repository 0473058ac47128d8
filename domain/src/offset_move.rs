//! Where a consumer group's committed offset goes when a partition's messages are copied onto
//! a new Kafka partition (#34: moving an instance off nisshi).
//!
//! The copy writes a source partition's kept messages in source-offset order onto an empty
//! destination partition, so the destination offset of the `i`-th kept message is `i`. A
//! committed offset `c` is "the next offset to read": the group has consumed every message
//! below `c`. **Rule**: `c` becomes the number of kept messages with a source offset below
//! `c`, i.e. the destination offset of the first kept message at or after `c`:
//!
//! - an offset of a message still there maps onto that same message;
//! - an offset of a deleted message (below the low watermark, or in a gap left by compaction
//!   or deletion) maps onto the next message still there: nothing the group has not read is
//!   skipped, nothing it has read is served again;
//! - an offset at or past the end (the high watermark or beyond) maps onto the destination's
//!   end: the group waits for new messages, as it did.

/// The destination offset of committed source offset `committed`, given the source offsets
/// of the partition's kept messages in increasing order (the rule of the module). A negative
/// `committed` (Kafka's -1, "nothing committed") is not an offset: `None`, nothing to commit.
pub fn destination_offset(committed: i64, kept: &[i64]) -> Option<i64> {
    if committed < 0 {
        return None;
    }
    debug_assert!(kept.windows(2).all(|w| w[0] < w[1]), "offsets in order");
    Some(kept.partition_point(|&o| o < committed) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_of_a_kept_message_maps_onto_that_message() {
        let kept = [0, 1, 2, 3];
        assert_eq!(destination_offset(0, &kept), Some(0));
        assert_eq!(destination_offset(2, &kept), Some(2));
        // With a gap the destination offsets shift down.
        let kept = [5, 6, 9, 10];
        assert_eq!(destination_offset(9, &kept), Some(2));
        assert_eq!(destination_offset(10, &kept), Some(3));
    }

    #[test]
    fn an_offset_of_a_deleted_message_maps_onto_the_next_one_kept() {
        let kept = [5, 6, 9, 10];
        // Below the low watermark (retention deleted 0..5).
        assert_eq!(destination_offset(0, &kept), Some(0));
        assert_eq!(destination_offset(4, &kept), Some(0));
        // In a gap (7 and 8 deleted): the next kept message is 9, destination 2.
        assert_eq!(destination_offset(7, &kept), Some(2));
        assert_eq!(destination_offset(8, &kept), Some(2));
    }

    #[test]
    fn an_offset_at_or_past_the_end_maps_onto_the_end() {
        let kept = [5, 6, 9, 10];
        assert_eq!(destination_offset(11, &kept), Some(4));
        assert_eq!(destination_offset(1_000, &kept), Some(4));
        // An empty partition: every offset is its end, 0.
        assert_eq!(destination_offset(0, &[]), Some(0));
        assert_eq!(destination_offset(42, &[]), Some(0));
    }

    #[test]
    fn nothing_committed_is_not_translated() {
        assert_eq!(destination_offset(-1, &[0, 1]), None);
        assert_eq!(destination_offset(-1001, &[0, 1]), None);
    }
}
