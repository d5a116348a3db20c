//! The outbox on disk: append-only segment files under
//! `STATE_DIR/amqp/outbox/`, so unconfirmed events survive an agent restart.
//!
//! A segment `seg-<first id>.log` is a sequence of records
//! `[u32 length][u32 crc32 of payload][payload]` (little endian). A payload
//! is either an event (`E`, outbox id, the [`Indication`]) or a release
//! mark (`R`, an outbox id: every event up to it was confirmed by the broker
//! or dropped because the outbox was full). Records are only ever appended,
//! so a crash can leave at most a torn record at the end of the newest
//! segment; [`Journal::open`] cuts such a tail off (and logs it) instead of
//! failing. A segment is deleted once every event in it was released, and
//! each open starts a new segment that begins with the release mark, so the
//! mark survives the deletion of the segments it covers.

use crate::qmf::event::Indication;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A new segment is started once the active one holds this many bytes.
const SEGMENT_BYTES: u64 = 16 << 20;
/// Records larger than this are corrupt (event bodies are a few hundred bytes).
const MAX_RECORD: u32 = 64 << 20;
const HEADER: usize = 8;
const KIND_EVENT: u8 = b'E';
const KIND_RELEASE: u8 = b'R';

/// Why the journal could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("amqp outbox directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a previous run left: unreleased events in id order.
#[derive(Debug, Default)]
pub struct Recovered {
    pub events: Vec<(u64, Indication)>,
    /// The id the next event gets.
    pub next_id: u64,
    /// Bytes of torn or corrupt records cut off.
    pub discarded_bytes: u64,
}

struct Segment {
    path: PathBuf,
    /// Highest event id in the segment (0: none).
    max_id: u64,
}

/// The open journal: sealed segments and the active one.
pub struct Journal {
    dir: PathBuf,
    sealed: Vec<Segment>,
    active: Segment,
    file: File,
    size: u64,
}

impl Journal {
    /// Opens (creating) the journal in `dir`, reads what is left from
    /// earlier runs and starts a new active segment.
    pub fn open(dir: &Path) -> Result<(Journal, Recovered), JournalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let (mut segments, recovered, released) = scan(dir, true)?;
        let active_path = dir.join(segment_name(recovered.next_id));
        // A segment of that name can only be a leftover without events (its
        // first event would have raised next_id): append to it.
        segments.retain(|s| s.path != active_path);
        let file = create_segment(&active_path, dir)?;
        let size = file.metadata().map_err(io_err(&active_path))?.len();
        let mut journal = Journal {
            dir: dir.to_path_buf(),
            sealed: segments,
            active: Segment {
                path: active_path,
                max_id: 0,
            },
            file,
            size,
        };
        journal.release(released)?;
        journal.sync()?;
        Ok((journal, recovered))
    }

    /// Reads the unreleased events in `dir` without changing anything (for
    /// tests and inspection while an agent runs).
    pub fn inspect(dir: &Path) -> Result<Recovered, JournalError> {
        Ok(scan(dir, false)?.1)
    }

    /// Appends events (one write).
    pub fn append(&mut self, events: &[(u64, &Indication)]) -> Result<(), JournalError> {
        let mut buf = Vec::with_capacity(events.len() * 512);
        for (id, ind) in events {
            encode_event(&mut buf, *id, ind);
            self.active.max_id = self.active.max_id.max(*id);
        }
        self.write(&buf)?;
        if self.size >= SEGMENT_BYTES {
            self.roll()?;
        }
        Ok(())
    }

    /// Records that every event up to `id` left the outbox, and deletes
    /// sealed segments that hold nothing else.
    pub fn release(&mut self, id: u64) -> Result<(), JournalError> {
        let mut buf = Vec::with_capacity(HEADER + 9);
        let mut payload = vec![KIND_RELEASE];
        payload.extend_from_slice(&id.to_le_bytes());
        frame(&mut buf, &payload);
        self.write(&buf)?;
        let (gone, kept): (Vec<Segment>, Vec<Segment>) = std::mem::take(&mut self.sealed)
            .into_iter()
            .partition(|s| s.max_id <= id);
        self.sealed = kept;
        for segment in gone {
            if let Err(err) = fs::remove_file(&segment.path) {
                tracing::warn!(adapter = "amqp", segment = %segment.path.display(), error = %err,
                    "amqp: released outbox segment could not be deleted");
            }
        }
        Ok(())
    }

    /// Flushes the active segment to stable storage.
    pub fn sync(&self) -> Result<(), JournalError> {
        self.file.sync_data().map_err(io_err(&self.active.path))
    }

    /// A second handle on the active segment, to sync without holding the
    /// outbox lock.
    pub fn sync_handle(&self) -> Option<File> {
        self.file.try_clone().ok()
    }

    /// Segment files currently on disk (sealed and active).
    pub fn segments(&self) -> usize {
        self.sealed.len() + 1
    }

    fn write(&mut self, buf: &[u8]) -> Result<(), JournalError> {
        self.file.write_all(buf).map_err(io_err(&self.active.path))?;
        self.size += buf.len() as u64;
        Ok(())
    }

    fn roll(&mut self) -> Result<(), JournalError> {
        self.sync()?;
        let first_id = self.active.max_id + 1;
        let path = self.dir.join(segment_name(first_id));
        let file = create_segment(&path, &self.dir)?;
        let old = std::mem::replace(&mut self.active, Segment { path, max_id: 0 });
        self.sealed.push(old);
        self.file = file;
        self.size = 0;
        Ok(())
    }
}

/// Reads every segment in `dir`: the segments, the unreleased events and the
/// highest release mark. With `repair`, torn tails are cut off on disk.
fn scan(dir: &Path, repair: bool) -> Result<(Vec<Segment>, Recovered, u64), JournalError> {
    let mut paths: Vec<(u64, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        if let Some(first) = segment_first_id(&path) {
            paths.push((first, path));
        }
    }
    paths.sort();

    let mut recovered = Recovered {
        next_id: 1,
        ..Recovered::default()
    };
    let mut released = 0u64;
    let mut segments = Vec::new();
    let mut events = Vec::new();
    for (_, path) in paths {
        let data = fs::read(&path).map_err(io_err(&path))?;
        let (records, good_len) = parse(&data);
        if good_len < data.len() {
            let cut = (data.len() - good_len) as u64;
            recovered.discarded_bytes += cut;
            if repair {
                tracing::warn!(
                    adapter = "amqp",
                    segment = %path.display(),
                    bytes = cut,
                    "amqp: outbox segment ends in a torn or corrupt record; cut off"
                );
                let file = OpenOptions::new().write(true).open(&path).map_err(io_err(&path))?;
                file.set_len(good_len as u64).map_err(io_err(&path))?;
                file.sync_all().map_err(io_err(&path))?;
            }
        }
        let mut max_id = 0;
        for record in records {
            match record {
                Record::Event(id, ind) => {
                    max_id = max_id.max(id);
                    recovered.next_id = recovered.next_id.max(id + 1);
                    events.push((id, ind));
                }
                Record::Release(id) => {
                    released = released.max(id);
                    recovered.next_id = recovered.next_id.max(id + 1);
                }
            }
        }
        segments.push(Segment { path, max_id });
    }
    events.retain(|(id, _)| *id > released);
    events.sort_by_key(|(id, _)| *id);
    recovered.events = events;
    Ok((segments, recovered, released))
}

fn segment_name(first_id: u64) -> String {
    format!("seg-{first_id:020}.log")
}

fn segment_first_id(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("seg-")?.strip_suffix(".log")?.parse().ok()
}

/// Opens a segment for appending (creating it) and makes its directory
/// entry durable.
fn create_segment(path: &Path, dir: &Path) -> Result<File, JournalError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
    Ok(file)
}

#[derive(Debug)]
enum Record {
    Event(u64, Indication),
    Release(u64),
}

fn frame(buf: &mut Vec<u8>, payload: &[u8]) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32(payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

fn encode_event(buf: &mut Vec<u8>, id: u64, ind: &Indication) {
    let mut payload = Vec::with_capacity(32 + ind.routing_key.len() + ind.message_id.len() + ind.body.len());
    payload.push(KIND_EVENT);
    payload.extend_from_slice(&id.to_le_bytes());
    payload.extend_from_slice(&ind.seq.to_le_bytes());
    payload.extend_from_slice(&ind.epoch.to_le_bytes());
    for text in [&ind.routing_key, &ind.message_id] {
        payload.extend_from_slice(&(text.len() as u32).to_le_bytes());
        payload.extend_from_slice(text.as_bytes());
    }
    payload.extend_from_slice(&ind.body);
    frame(buf, &payload);
}

/// Every intact record, and the length of the intact prefix: parsing stops
/// at the first record that is torn or fails its checksum.
fn parse(data: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut pos = 0;
    while let Some(header) = data.get(pos..pos + HEADER) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD {
            break;
        }
        let Some(payload) = data.get(pos + HEADER..pos + HEADER + len as usize) else {
            break;
        };
        if crc32(payload) != crc {
            break;
        }
        let Some(record) = decode(payload) else {
            break;
        };
        records.push(record);
        pos += HEADER + len as usize;
    }
    (records, pos)
}

fn decode(payload: &[u8]) -> Option<Record> {
    let mut r = Reader(payload);
    match r.u8()? {
        KIND_RELEASE => Some(Record::Release(r.u64()?)),
        KIND_EVENT => {
            let id = r.u64()?;
            let seq = r.u64()?;
            let epoch = r.u64()?;
            let routing_key = r.text()?;
            let message_id = r.text()?;
            Some(Record::Event(
                id,
                Indication {
                    seq,
                    epoch,
                    routing_key,
                    message_id,
                    body: r.0.to_vec(),
                },
            ))
        }
        _ => None,
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn text(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// CRC-32 (IEEE 802.3, the zlib polynomial), table driven.
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(seq: u64) -> Indication {
        Indication {
            seq,
            epoch: 7,
            routing_key: format!("agent.ind.event.k{seq}"),
            message_id: format!("7-{seq}"),
            body: format!("[{{\"seq\":{seq}}}]").into_bytes(),
        }
    }

    fn seqs(r: &Recovered) -> Vec<u64> {
        r.events.iter().map(|(_, i)| i.seq).collect()
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn unreleased_events_survive_a_reopen_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut j, r) = Journal::open(dir.path()).expect("open");
        assert!(r.events.is_empty());
        let evs: Vec<Indication> = (1..=5).map(ind).collect();
        let refs: Vec<(u64, &Indication)> = evs.iter().enumerate().map(|(i, e)| (i as u64 + 1, e)).collect();
        j.append(&refs).expect("append");
        j.release(2).expect("release");
        drop(j);
        let (mut j, r) = Journal::open(dir.path()).expect("reopen");
        assert_eq!(seqs(&r), vec![3, 4, 5]);
        assert_eq!(r.events[0].1, ind(3), "records round-trip exactly");
        assert_eq!(r.next_id, 6);
        j.release(5).expect("release all");
        drop(j);
        let (_, r) = Journal::open(dir.path()).expect("third open");
        assert!(r.events.is_empty());
        assert_eq!(r.next_id, 6, "ids keep growing across runs");
        // Released segments were deleted: only the active one is left.
        let files = fs::read_dir(dir.path()).expect("readdir").count();
        assert_eq!(files, 1);
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_cut_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut j, _) = Journal::open(dir.path()).expect("open");
        let evs: Vec<Indication> = (1..=3).map(ind).collect();
        let refs: Vec<(u64, &Indication)> = evs.iter().enumerate().map(|(i, e)| (i as u64 + 1, e)).collect();
        j.append(&refs).expect("append");
        let path = j.active.path.clone();
        drop(j);
        // A torn fourth record: a header promising more than was written.
        let mut data = fs::read(&path).expect("read");
        let intact = data.len();
        data.extend_from_slice(&500u32.to_le_bytes());
        data.extend_from_slice(&[0, 0, 0, 0, b'E', 1, 2]);
        fs::write(&path, &data).expect("write");
        let (j, r) = Journal::open(dir.path()).expect("open with a torn tail");
        assert_eq!(seqs(&r), vec![1, 2, 3]);
        assert_eq!(r.discarded_bytes, (data.len() - intact) as u64);
        assert_eq!(
            fs::metadata(&path).expect("stat").len(),
            intact as u64,
            "tail cut off on disk"
        );
        drop(j);

        // A flipped byte inside the second event (records: the release
        // mark, event 1, event 2, event 3): it and what follows go.
        let mut data = fs::read(&path).expect("read");
        let record_len =
            |at: usize| HEADER + u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let event1 = record_len(0);
        let event2 = event1 + record_len(event1);
        data[event2 + HEADER + 3] ^= 0xff;
        fs::write(&path, &data).expect("write");
        let (_, r) = Journal::open(dir.path()).expect("open with a corrupt record");
        assert_eq!(seqs(&r), vec![1]);
        assert!(r.discarded_bytes > 0);
    }

    #[test]
    fn segments_roll_and_are_deleted_once_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut j, _) = Journal::open(dir.path()).expect("open");
        let big = Indication {
            body: vec![b'x'; 1 << 20],
            ..ind(1)
        };
        for id in 1..=40u64 {
            j.append(&[(id, &big)]).expect("append");
        }
        assert!(j.segments() >= 3, "40 MiB in 16 MiB segments");
        j.release(20).expect("release");
        let left = j.segments();
        assert!(left < 4, "segments holding only ids <= 20 are gone ({left} left)");
        drop(j);
        let (_, r) = Journal::open(dir.path()).expect("reopen");
        assert_eq!(r.events.first().map(|(id, _)| *id), Some(21));
        assert_eq!(r.events.len(), 20);
    }
}
