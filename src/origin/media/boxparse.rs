//! Test-only ISO base media file reader: just enough of ISO/IEC 14496-12 to check what the fMP4
//! muxer wrote. Every read is bounds-checked by slicing, so a wrong size fails the test loudly.

/// One box: its type, where it starts in the buffer it was read from, and its body.
#[derive(Clone, Copy, Debug)]
pub struct Mp4Box<'a> {
    pub kind: [u8; 4],
    pub start: usize,
    pub len: usize,
    pub body: &'a [u8],
}

/// Splits `data` into boxes that cover it exactly; `base` is where `data` starts in the whole.
pub fn boxes_at(data: &[u8], base: usize) -> Vec<Mp4Box<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let size = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        let kind: [u8; 4] = data[pos + 4..pos + 8].try_into().unwrap();
        let (header, len) = match size {
            1 => (16, u64::from_be_bytes(data[pos + 8..pos + 16].try_into().unwrap()) as usize),
            _ => (8, size),
        };
        assert!(len >= header, "box {} at {pos}: size {len}", String::from_utf8_lossy(&kind));
        out.push(Mp4Box { kind, start: base + pos, len, body: &data[pos + header..pos + len] });
        pos += len;
    }
    assert_eq!(pos, data.len(), "boxes overrun their parent");
    out
}

pub fn boxes(data: &[u8]) -> Vec<Mp4Box<'_>> {
    boxes_at(data, 0)
}

impl<'a> Mp4Box<'a> {
    pub fn kind(&self) -> &str {
        std::str::from_utf8(&self.kind).unwrap()
    }

    /// The boxes of a container box, after `skip` bytes of its own fields.
    pub fn children_after(&self, skip: usize) -> Vec<Mp4Box<'a>> {
        let header = self.len - self.body.len();
        boxes_at(&self.body[skip..], self.start + header + skip)
    }

    pub fn children(&self) -> Vec<Mp4Box<'a>> {
        self.children_after(0)
    }

    pub fn kinds(&self) -> Vec<String> {
        self.children().iter().map(|b| b.kind().to_string()).collect()
    }

    /// The only child of type `kind`.
    pub fn child(&self, kind: &str) -> Mp4Box<'a> {
        let found: Vec<_> = self.children().into_iter().filter(|b| b.kind() == kind).collect();
        assert_eq!(found.len(), 1, "one {kind} in {}: {:?}", self.kind(), self.kinds());
        found[0]
    }

    /// Follows a path of single children, e.g. `["mdia", "minf", "stbl"]`.
    pub fn path(&self, kinds: &[&str]) -> Mp4Box<'a> {
        kinds.iter().fold(*self, |b, kind| b.child(kind))
    }

    /// A full box's version, flags and the fields after them.
    pub fn full(&self) -> (u8, u32, Reader<'a>) {
        let word = u32::from_be_bytes(self.body[..4].try_into().unwrap());
        ((word >> 24) as u8, word & 0x00FF_FFFF, Reader { data: &self.body[4..] })
    }
}

/// Big-endian field reader over a box body.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().unwrap())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take(8).try_into().unwrap())
    }

    pub fn rest(&self) -> &'a [u8] {
        self.data
    }
}

/// One track's run in a fragment, from its `tfhd`, `tfdt` and `trun`.
#[derive(Debug)]
pub struct TrackRun<'a> {
    pub track_id: u32,
    pub decode_time: u64,
    /// (size, duration, flags) of each sample, defaults applied.
    pub samples: Vec<(u32, u32, u32)>,
    /// The samples' bytes, one after another, found through the data offset.
    pub data: &'a [u8],
}

/// A `moof` and its `mdat`.
#[derive(Debug)]
pub struct Fragment<'a> {
    pub sequence: u32,
    pub runs: Vec<TrackRun<'a>>,
    pub len: usize,
}

/// Reads every `moof` + `mdat` pair of `data` (a segment or part, without init section), checking
/// that each track's samples lie inside the `mdat` that follows the `moof` and that the samples
/// of all tracks cover the `mdat` exactly.
pub fn fragments(data: &[u8]) -> Vec<Fragment<'_>> {
    let top = boxes(data);
    assert_eq!(top.len() % 2, 0, "moof/mdat pairs: {:?}", top.iter().map(Mp4Box::kind).collect::<Vec<_>>());
    top.chunks(2)
        .map(|pair| {
            let (moof, mdat) = (pair[0], pair[1]);
            assert_eq!((moof.kind(), mdat.kind()), ("moof", "mdat"));
            assert_eq!(moof.kinds()[0], "mfhd");
            let sequence = moof.child("mfhd").full().2.u32();
            let runs: Vec<TrackRun> = moof.children()[1..].iter().map(|traf| track_run(data, moof, *traf)).collect();
            let covered: usize = runs.iter().map(|r| r.data.len()).sum();
            assert_eq!(covered, mdat.body.len(), "samples cover the mdat");
            for run in &runs {
                let start = run.data.as_ptr() as usize - data.as_ptr() as usize;
                let mdat_body = mdat.start + mdat.len - mdat.body.len();
                assert!(start >= mdat_body && start + run.data.len() <= mdat.start + mdat.len, "in the mdat");
            }
            Fragment { sequence, runs, len: moof.len + mdat.len }
        })
        .collect()
}

fn track_run<'a>(data: &'a [u8], moof: Mp4Box<'a>, traf: Mp4Box<'a>) -> TrackRun<'a> {
    assert_eq!(traf.kind(), "traf");
    assert_eq!(traf.kinds(), ["tfhd", "tfdt", "trun"]);
    let (_, flags, mut tfhd) = traf.child("tfhd").full();
    assert_ne!(flags & 0x02_0000, 0, "default-base-is-moof");
    assert_eq!(flags & 0x3, 0, "no base data offset, no sample description index");
    let track_id = tfhd.u32();
    let mut default = |flag: u32| if flags & flag != 0 { Some(tfhd.u32()) } else { None };
    let (duration, size, sample_flags) = (default(0x08), default(0x10), default(0x20));
    let (version, _, mut tfdt) = traf.child("tfdt").full();
    let decode_time = if version == 1 { tfdt.u64() } else { u64::from(tfdt.u32()) };
    let (_, flags, mut trun) = traf.child("trun").full();
    let count = trun.u32() as usize;
    let offset = if flags & 0x001 != 0 { trun.u32() as usize } else { 0 };
    let first_flags = if flags & 0x004 != 0 { Some(trun.u32()) } else { None };
    let samples: Vec<(u32, u32, u32)> = (0..count)
        .map(|n| {
            let d = if flags & 0x100 != 0 { trun.u32() } else { duration.expect("a duration") };
            let s = if flags & 0x200 != 0 { trun.u32() } else { size.expect("a size") };
            let f = if flags & 0x400 != 0 { trun.u32() } else { sample_flags.unwrap_or(0) };
            let f = if n == 0 { first_flags.unwrap_or(f) } else { f };
            assert_eq!(flags & 0x800, 0, "no composition offsets");
            (s, d, f)
        })
        .collect();
    assert!(trun.rest().is_empty(), "trun fully read");
    let total: usize = samples.iter().map(|s| s.0 as usize).sum();
    let start = moof.start + offset;
    TrackRun { track_id, decode_time, samples, data: &data[start..start + total] }
}

/// Splits a length-prefixed (4-byte) sample into NAL units, checking that they cover it exactly.
pub fn avcc_nal_units(sample: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = sample;
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        out.push(&rest[4..4 + len]);
        rest = &rest[4 + len..];
    }
    out
}
