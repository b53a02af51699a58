//! The bytes of a journal row: the accept as JSON, LZ4-compressed when it is large.
//!
//! A row of a batch accept is ~100 bytes of JSON per receiver, most of it the same keys and
//! id prefixes again; the journal's room (`storage.journal_max_mb`) is counted in these
//! bytes, and the journal's writer checksums and fsyncs every one of them. A row of at least
//! [`COMPRESS_FROM`] bytes is stored as [`LZ4`], its uncompressed length (u32, little endian)
//! and the LZ4 block. Smaller rows — a single send — stay JSON, where compressing would cost
//! more than it saves. A JSON row starts with `{`, so the first byte tells the two apart, and
//! rows written before compression existed read as they always did. There is no checksum of
//! its own, as there is none in a JSON row: SQLite's WAL frames are checksummed until
//! checkpointed, and a damaged row that no longer decodes is set aside (`set_aside`). To
//! read a compressed row by hand: skip 5 bytes and LZ4-decompress the block (e.g.
//! `lz4.block.decompress(row[5:], uncompressed_size=int.from_bytes(row[1:5], "little"))` in
//! Python's `lz4` package).

use super::Entry;
use herald_domain::{Message, TaskEnvelope};
use herald_ports::StoreError;

/// First byte of a compressed row (a JSON row's is `{`).
const LZ4: u8 = 1;
/// Rows at least this long are compressed.
const COMPRESS_FROM: usize = 2048;
/// Largest uncompressed row a compressed one may claim: far beyond any accept (the request
/// body limit defaults to 32 MiB), and with LZ4's ~255× most expansion, a bound on what a
/// damaged length prefix can allocate.
const MAX_ROW: usize = 1 << 30;

/// A journal row: the messages as JSON, and their tasks only when they are not exactly the
/// messages' first tasks as recorded (a sensitive value redacted from the record, or a
/// caller that built them otherwise) — then a row is ~4× larger.
pub(super) fn encode(
    messages: &[Message],
    tasks: Option<&[TaskEnvelope]>,
) -> Result<Vec<u8>, StoreError> {
    let mut pairs = messages
        .iter()
        .flat_map(|m| m.deliveries.iter().map(move |d| (m, d)));
    let deliveries = messages.iter().map(|m| m.deliveries.len()).sum::<usize>();
    let tasks = tasks.filter(|tasks| {
        tasks.len() != deliveries
            || !tasks
                .iter()
                .all(|task| pairs.next().is_some_and(|(m, d)| m.derives(d, task)))
    });
    #[derive(serde::Serialize)]
    struct Row<'a> {
        messages: &'a [Message],
        #[serde(skip_serializing_if = "Option::is_none")]
        tasks: Option<&'a [TaskEnvelope]>,
    }
    let row = Row { messages, tasks };
    let mut json = Vec::with_capacity(128 * (deliveries + messages.len()));
    serde_json::to_writer(&mut json, &row)
        .map_err(|e| StoreError::backend("encoding a journal entry", e))?;
    Ok(compress(json))
}

fn compress(json: Vec<u8>) -> Vec<u8> {
    if json.len() < COMPRESS_FROM || json.len() > MAX_ROW {
        return json;
    }
    let mut out = vec![0u8; 5 + lz4_flex::block::get_maximum_output_size(json.len())];
    out[0] = LZ4;
    out[1..5].copy_from_slice(&(json.len() as u32).to_le_bytes());
    match lz4_flex::block::compress_into(&json, &mut out[5..]) {
        Ok(written) if 5 + written < json.len() => {
            out.truncate(5 + written);
            out
        }
        // Incompressible (or the bound was wrong): the JSON is a valid row too.
        _ => json,
    }
}

/// The accept a row holds, or why it cannot be read.
pub(super) fn decode(bytes: &[u8]) -> Result<Entry, String> {
    match bytes.first() {
        Some(&LZ4) => {
            let Some(len) = bytes.get(1..5) else {
                return Err("a compressed row shorter than its header".into());
            };
            let len = u32::from_le_bytes(len.try_into().expect("four bytes")) as usize;
            // LZ4 expands a block at most ~255×: a longer claim is damage, not data.
            if len > MAX_ROW || len > (bytes.len() - 5).saturating_mul(255) {
                return Err(format!("a compressed row claims {len} bytes"));
            }
            let mut json = vec![0u8; len];
            match lz4_flex::block::decompress_into(&bytes[5..], &mut json) {
                Ok(n) if n == len => serde_json::from_slice(&json).map_err(|e| e.to_string()),
                Ok(n) => Err(format!("a compressed row of {len} bytes held {n}")),
                Err(e) => Err(format!("a compressed row does not decompress: {e}")),
            }
        }
        _ => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::AppId;
    use herald_ports::conformance::records::fixtures;

    /// A batch accept's message: `receivers` deliveries, each with its own variable.
    fn message(receivers: usize) -> Message {
        let names: Vec<String> = (0..receivers).map(|i| format!("bench-{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut message = fixtures::message(&AppId::generate(), 1_765_000_000_000, &names);
        for (i, d) in message.deliveries.iter_mut().enumerate() {
            d.variables
                .insert("name".into(), serde_json::json!(format!("user{i}")));
        }
        message
    }

    #[test]
    fn a_large_row_is_compressed_and_reads_back_the_same() {
        let messages = vec![message(1000)];
        let json = serde_json::to_vec(&serde_json::json!({ "messages": &messages })).unwrap();
        let row = encode(&messages, None).unwrap();
        assert_eq!(row[0], LZ4);
        eprintln!(
            "1,000 receivers: {} bytes of JSON, {} stored",
            json.len(),
            row.len()
        );
        assert!(
            row.len() * 2 < json.len(),
            "{} bytes compressed from {}",
            row.len(),
            json.len()
        );
        let entry = decode(&row).unwrap();
        assert_eq!(entry.messages, messages);
        assert_eq!(entry.deliveries(), 1000);
    }

    #[test]
    fn a_small_row_stays_json_and_old_rows_read_as_before() {
        let messages = vec![message(1)];
        let row = encode(&messages, None).unwrap();
        assert_eq!(row[0], b'{');
        assert_eq!(decode(&row).unwrap().messages, messages);
        let tasks: Vec<_> = messages[0].first_tasks().collect();
        let mut listed = encode(&messages, Some(&tasks)).unwrap();
        assert_eq!(listed, row, "derivable tasks are not stored");
        // A large row written as plain JSON (before compression) still reads.
        let big = vec![message(1000)];
        listed = serde_json::to_vec(&serde_json::json!({ "messages": &big })).unwrap();
        assert_eq!(decode(&listed).unwrap().messages, big);
    }

    #[test]
    fn a_damaged_compressed_row_is_an_error_not_a_panic_or_a_huge_allocation() {
        let row = encode(&[message(1000)], None).unwrap();
        let mut claims_too_much = row.clone();
        claims_too_much[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&claims_too_much).is_err());
        let mut truncated = row.clone();
        truncated.truncate(row.len() / 2);
        assert!(decode(&truncated).is_err());
        assert!(decode(&[LZ4, 0]).is_err());
        let mut flipped = row;
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0xff;
        assert!(
            std::panic::catch_unwind(|| decode(&flipped)).is_ok(),
            "a flipped byte may decode to other JSON or fail, but never panic"
        );
    }
}
