//! The export archive as a download, for the dashboard (signed in) and the
//! API (a token with the export scope) alike: written to a temporary file
//! under one of the server's analysis turns, so exports count against the
//! same bound as analyses, then streamed in 64 KiB pieces, so a large wave
//! never sits in memory.

use super::AppState;
use crate::error::AppError;
use crate::lang::Lang;
use actix_web::http::header;
use actix_web::{web, HttpResponse};

/// Why no archive was sent.
#[derive(Debug)]
pub enum DownloadError {
    /// Every analysis turn is taken and the line is full.
    Busy,
    /// The export failed; unknown surveys included.
    Export(AppError),
    /// The blocking pool or the temporary file failed.
    Internal(String),
}

/// The export archive of `slug` (one wave, or all), labelled in `lang`,
/// as a `SLUG[-WAVE]-export.zip` attachment.
pub async fn export_archive(
    state: &web::Data<AppState>,
    slug: String,
    wave: Option<i32>,
    lang: Lang,
) -> Result<HttpResponse, DownloadError> {
    let turn = state.analyses.enter().await.map_err(|_| DownloadError::Busy)?;
    let worker = state.clone();
    let name = slug.clone();
    let file = web::block(move || {
        let _turn = turn;
        let mut file = temporary_file().map_err(|e| DownloadError::Internal(e.to_string()))?;
        crate::export::export_zip(&worker.db, &worker.current_surveys(), &name, wave, lang, &mut file)
            .map_err(DownloadError::Export)?;
        use std::io::Seek;
        file.rewind().map_err(|e| DownloadError::Internal(e.to_string()))?;
        Ok(file)
    })
    .await
    .map_err(|e| DownloadError::Internal(e.to_string()))??;
    let length = file
        .metadata()
        .map_err(|e| DownloadError::Internal(e.to_string()))?
        .len();
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let read = web::block(move || {
            use std::io::Read;
            let mut chunk = vec![0u8; 64 * 1024];
            let n = file.read(&mut chunk)?;
            chunk.truncate(n);
            Ok::<_, std::io::Error>((chunk, file))
        })
        .await;
        match read {
            Ok(Ok((chunk, _))) if chunk.is_empty() => None,
            Ok(Ok((chunk, file))) => Some((Ok::<_, std::io::Error>(web::Bytes::from(chunk)), Some(file))),
            Ok(Err(e)) => Some((Err(e), None)),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    });
    let wave_part = wave.map_or_else(String::new, |w| format!("-{w}"));
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{slug}{wave_part}-export.zip\""),
        ))
        .body(actix_web::body::SizedStream::new(length, chunks)))
}

/// A file in the system's temporary folder that is gone from the folder
/// as soon as it is open: nothing is left behind whatever happens next.
fn temporary_file() -> std::io::Result<std::fs::File> {
    let mut name = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut name);
    let path = std::env::temp_dir().join(format!("civicpulse-export-{}.zip", hex::encode(name)));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}
