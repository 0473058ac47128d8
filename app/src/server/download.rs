//! Plain GET downloads (the audit log and usage exports): the browser saves the answer as a
//! file, so these are axum handlers rather than server functions. Refusals carry the same
//! status and words as everywhere else.
//!
//! Exports of tables that grow (the audit log, the usage ledger) are streamed: read a batch
//! at a time by keyset and written as they are read, so that memory stays one batch whatever
//! the table's size. A read that fails midway ends the answer without its last chunk, so the
//! client sees a broken transfer rather than a file that looks whole.

use super::ServerError;
use crate::domain::csv_cell;
use crate::wire::error::AppError;
use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt, TryStreamExt};
use std::future::Future;

pub fn refused(error: AppError) -> Response {
    (super::error::status_of(&error), error.to_string()).into_response()
}

/// `body` as a file named `name`, never cached.
pub fn attachment(content_type: &str, name: &str, body: impl Into<Body>) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body.into(),
    )
        .into_response()
}

/// Rows as CSV lines, after a header line when `first` (`header` itself, the rows' field
/// names). Every cell is neutralised (`domain::csv_cell`): a value that a spreadsheet would
/// run as a formula is written as text.
fn csv_chunk<T: serde::Serialize>(
    rows: &[T],
    header: &[&str],
    first: bool,
) -> Result<Vec<u8>, ServerError> {
    let failed = |e| ServerError::internal("writing the CSV", e);
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    if first {
        writer.write_record(header).map_err(failed)?;
    }
    for row in rows {
        let cells = cells_of(row).map_err(failed)?;
        writer
            .write_record(
                cells
                    .iter()
                    .map(|cell| csv_cell::neutralise(cell).into_owned()),
            )
            .map_err(failed)?;
    }
    writer
        .into_inner()
        .map_err(|e| ServerError::internal("writing the CSV", e.into_error()))
}

/// A row's cells as the csv crate would write them (its serde rules for numbers, options and
/// strings), read back as text.
fn cells_of<T: serde::Serialize>(row: &T) -> Result<csv::StringRecord, csv::Error> {
    let mut one = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    one.serialize(row)?;
    let bytes = one
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes.as_slice());
    let mut record = csv::StringRecord::new();
    reader.read_record(&mut record)?;
    Ok(record)
}

/// How many rows a streamed export reads at a time.
pub const BATCH: usize = 1000;

/// A batch of an export's rows: those after the cursor given, and the cursor after them (None
/// when this was the last batch).
pub type Batch<T, K> = Result<(Vec<T>, Option<K>), ServerError>;

/// The cursor after `rows` when they fill a batch (more may follow), else None.
pub fn next_cursor<T, K>(rows: &[T], key: impl Fn(&T) -> K) -> Option<K> {
    (rows.len() >= BATCH)
        .then(|| rows.last().map(key))
        .flatten()
}

/// The batches `read` gives, from the first (cursor None) to the last, each turned into bytes
/// by `write` (told whether it is the first).
fn batches<T, K, R, Fut, W>(
    read: R,
    write: W,
) -> impl Stream<Item = Result<Bytes, ServerError>> + Send
where
    T: Send + 'static,
    K: Send + 'static,
    R: FnMut(Option<K>) -> Fut + Send + 'static,
    Fut: Future<Output = Batch<T, K>> + Send + 'static,
    W: FnMut(&[T], bool) -> Result<Vec<u8>, ServerError> + Send + 'static,
{
    struct Progress<R, W, K> {
        read: R,
        write: W,
        /// The cursor to read after: Some(None) first, None once the last batch is written.
        cursor: Option<Option<K>>,
    }
    let start = Progress {
        read,
        write,
        cursor: Some(None),
    };
    futures::stream::try_unfold(start, |mut progress| async move {
        let Some(after) = progress.cursor.take() else {
            return Ok(None);
        };
        let first = after.is_none();
        let (rows, next) = (progress.read)(after).await?;
        let bytes = (progress.write)(&rows, first)?;
        progress.cursor = next.map(Some);
        Ok(Some((Bytes::from(bytes), progress)))
    })
}

/// A streamed CSV body: a header line, then every batch's rows.
pub fn csv_stream<T, K, R, Fut>(header: &'static [&'static str], read: R) -> Body
where
    T: serde::Serialize + Send + 'static,
    K: Send + 'static,
    R: FnMut(Option<K>) -> Fut + Send + 'static,
    Fut: Future<Output = Batch<T, K>> + Send + 'static,
{
    body(batches(read, move |rows, first| {
        csv_chunk(rows, header, first)
    }))
}

/// A streamed JSON body: `prefix`, every batch's rows as the items of one array, `suffix`
/// (the prefix opens the array, the suffix closes it and the object around it).
pub fn json_stream<T, K, R, Fut>(prefix: String, suffix: &'static str, read: R) -> Body
where
    T: serde::Serialize + Send + 'static,
    K: Send + 'static,
    R: FnMut(Option<K>) -> Fut + Send + 'static,
    Fut: Future<Output = Batch<T, K>> + Send + 'static,
{
    let mut items_so_far = 0usize;
    let items = batches(read, move |rows: &[T], _| {
        let mut bytes = Vec::new();
        for row in rows {
            if items_so_far > 0 {
                bytes.push(b',');
            }
            bytes.push(b'\n');
            serde_json::to_writer(&mut bytes, row)
                .map_err(|e| ServerError::internal("writing the JSON", e))?;
            items_so_far += 1;
        }
        Ok(bytes)
    });
    let start = futures::stream::once(async move { Ok(Bytes::from(prefix)) });
    let end = futures::stream::once(async move { Ok(Bytes::from_static(suffix.as_bytes())) });
    body(start.chain(items).chain(end))
}

/// The stream as a body; an error is logged with its reference and ends the transfer.
fn body(stream: impl Stream<Item = Result<Bytes, ServerError>> + Send + 'static) -> Body {
    Body::from_stream(stream.map_err(|error| {
        let reference = error.into_app_error();
        std::io::Error::other(format!("the export stopped: {reference}"))
    }))
}
