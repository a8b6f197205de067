//! Rows gathered into upload parts: bytes accumulate until a part is full (S3 takes parts of
//! at least 5 MiB but the last), then the part leaves and the buffer starts again — so memory
//! holds one part and one row at most, whatever the export's size.

/// S3's smallest part (all but the last): 5 MiB.
pub const MIN_PART_BYTES: usize = 5 * 1024 * 1024;

/// The part size the worker uses: S3's minimum plus room, so a part is one upload call per
/// ~8 MiB of rows.
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// Rows not yet uploaded, and what has left so far.
pub struct PartBuffer {
    part_bytes: usize,
    buffer: Vec<u8>,
}

impl PartBuffer {
    pub fn new(part_bytes: usize) -> Self {
        Self {
            part_bytes,
            buffer: Vec::with_capacity(Self::capacity(part_bytes)),
        }
    }

    /// Room for a part and the page that completes it, so the buffer never grows by doubling
    /// (a page of rows is well under the slack).
    fn capacity(part_bytes: usize) -> usize {
        part_bytes + part_bytes / 8 + 64 * 1024
    }

    /// Where rows are written.
    pub fn bytes(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    /// The full part, if the buffer holds one: taken out, the buffer empty again.
    pub fn full_part(&mut self) -> Option<Vec<u8>> {
        (self.buffer.len() >= self.part_bytes).then(|| self.take())
    }

    /// What is left (the last part), possibly empty.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(Self::capacity(self.part_bytes)),
        )
    }

    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_leave_when_full_and_the_buffer_stays_bounded() {
        let mut parts = PartBuffer::new(100);
        let mut out = Vec::new();
        let mut peak = 0;
        for i in 0..1_000 {
            parts
                .bytes()
                .extend_from_slice(format!("row {i}\n").as_bytes());
            peak = peak.max(parts.len());
            if let Some(part) = parts.full_part() {
                assert!(part.len() >= 100);
                out.push(part);
            }
        }
        out.push(parts.take());
        assert!(parts.is_empty());
        assert!(peak < 100 + 10, "one part and one row at most ({peak})");
        let joined: Vec<u8> = out.concat();
        let expected: String = (0..1_000).map(|i| format!("row {i}\n")).collect();
        assert_eq!(joined, expected.as_bytes());
    }
}
