//! `atsd backup FILE`: a consistent copy of a live SQLite database, taken with
//! `VACUUM INTO` (one read transaction: every move committed before it began
//! is in the copy, none half-applied), written beside the destination and
//! renamed into place once `PRAGMA integrity_check` passes on the copy, so a
//! crash never leaves a half-written backup under the name asked for.
//! PostgreSQL has `pg_dump` for this.

use super::Store;
use crate::error::{Error, Result};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Serialize)]
pub struct Backup {
    pub file: PathBuf,
    pub bytes: u64,
    pub integrity: String,
}

pub async fn backup(store: &Store, dest: &Path) -> Result<Backup> {
    if store.backend() != DbBackend::Sqlite {
        return Err(Error::input(
            "atsd backup copies SQLite databases; for PostgreSQL use pg_dump, e.g. \
             `pg_dump --format=custom --file=atsd.dump DATABASE_URL` (see deploy/README.md)",
        ));
    }
    if dest.exists() {
        return Err(Error::input(format!(
            "{} already exists; give a new file name",
            dest.display()
        )));
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Error::input(format!(
            "cannot write {}: the folder {} does not exist",
            dest.display(),
            dir.display()
        )));
    }
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "atsd-backup.db".into());
    let partial = dir.join(format!(".{name}.partial"));
    let _ = std::fs::remove_file(&partial);
    let path = partial
        .to_str()
        .ok_or_else(|| Error::input(format!("{} is not a UTF-8 path", partial.display())))?;
    let result = async {
        store
            .conn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "VACUUM INTO ?",
                [path.into()],
            ))
            .await
            .map_err(|e| Error::Other(format!("cannot copy the database: {e}")))?;
        let integrity = integrity_check(&partial).await?;
        if integrity != "ok" {
            return Err(Error::Other(format!(
                "the copy failed PRAGMA integrity_check: {integrity}"
            )));
        }
        std::fs::rename(&partial, dest)
            .map_err(|e| Error::io(format!("cannot rename the copy to {}", dest.display()), e))?;
        let bytes = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
        Ok(Backup {
            file: dest.to_path_buf(),
            bytes,
            integrity,
        })
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// `PRAGMA integrity_check` on a SQLite file, opened read-only.
pub async fn integrity_check(file: &Path) -> Result<String> {
    let url = format!("sqlite://{}?mode=ro", file.display());
    let db = Database::connect(&url)
        .await
        .map_err(|e| Error::Other(format!("cannot open the copy {}: {e}", file.display())))?;
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await?;
    db.close().await.ok();
    let lines: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect();
    Ok(lines.join("; "))
}
