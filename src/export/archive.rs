//! The export as one zip, for the dashboard's download: the same files,
//! byte for byte, as `export --out DIR` writes. A zip entry is written
//! whole before the next starts, so the two CSVs take a pass over the
//! responses each (the directory export writes both in one); memory stays
//! constant either way.

use super::{versions_of, write_csvs, write_small_file, ExportOptions, EXPORT_FILES};
use crate::db::Database;
use crate::error::AppError;
use crate::registry::SurveyRegistry;
use std::io::{Seek, Write};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

fn zip_error(e: zip::result::ZipError) -> AppError {
    match e {
        zip::result::ZipError::Io(e) => AppError::Output(e),
        other => AppError::Output(std::io::Error::other(other)),
    }
}

/// Write the export of `slug` (one wave, or every wave) as a zip of the
/// files of [`EXPORT_FILES`] into `out`, deflated and dated now (UTC).
/// Returns the number of responses.
pub fn export_zip(
    db: &Database,
    registry: &SurveyRegistry,
    slug: &str,
    wave: Option<i32>,
    lang: crate::lang::Lang,
    out: &mut (impl Write + Seek),
) -> Result<u64, AppError> {
    let options = ExportOptions { wave, lang };
    let versions = versions_of(db, registry, slug, wave)?;
    let now = time::OffsetDateTime::now_utc();
    let stamp = zip::DateTime::from_date_and_time(
        now.year().clamp(1980, 2107) as u16,
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
    )
    .unwrap_or_default();
    let entry = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(stamp)
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(out);
    let mut count = 0;
    for name in EXPORT_FILES {
        // A million responses' CSV may pass 4 GiB: ZIP64 for the CSVs.
        let csv = name.ends_with(".csv");
        zip.start_file(name, entry.large_file(csv)).map_err(zip_error)?;
        match name {
            "responses.csv" => {
                count = write_csvs(db, &versions, slug, wave, Some(&mut zip), None, &mut |_| {})?;
            }
            "responses-labelled.csv" => {
                write_csvs(db, &versions, slug, wave, None, Some((lang, &mut zip)), &mut |_| {})?;
            }
            _ => write_small_file(name, slug, &versions, &options, &mut zip)?,
        }
    }
    zip.finish().map_err(zip_error)?;
    Ok(count)
}
