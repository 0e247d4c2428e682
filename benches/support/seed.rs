//! Seeds many applications fast, for benchmarks and tests of big runs: `n`
//! candidates, each with one application in `stage` of `posting`, applied
//! (and in that stage since) `at`, with its first transition — three
//! set-based statements that run unchanged on SQLite and PostgreSQL.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

pub async fn seed_applications(
    db: &DatabaseConnection,
    posting: i64,
    n: usize,
    stage: &str,
    at: chrono::DateTime<chrono::Utc>,
) {
    let b = db.get_database_backend();
    let base: i64 = db
        .query_one_raw(Statement::from_string(
            b,
            "SELECT COALESCE(MAX(id), 0) AS n FROM candidates",
        ))
        .await
        .expect("count candidates")
        .expect("a row")
        .try_get("", "n")
        .expect("n");
    let seq = format!(
        "WITH RECURSIVE seq(i) AS (SELECT {} UNION ALL SELECT i + 1 FROM seq WHERE i < {})",
        base + 1,
        base + n as i64
    );
    let stage = stage.replace('\'', "''");
    let stmts = [
        format!(
            "{seq} INSERT INTO candidates (name, email, email_key, on_hold, created_at, updated_at) \
             SELECT 'Person ' || i, 'p' || i || '@example.net', 'p' || i || '@example.net', FALSE, $1, $1 FROM seq"
        ),
        format!(
            "INSERT INTO applications (candidate_id, posting_id, stage, entered_stage_at, applied_at, version, created_at, updated_at) \
             SELECT id, {posting}, '{stage}', $1, $1, 1, $1, $1 FROM candidates WHERE id > {base}"
        ),
        format!(
            "INSERT INTO transitions (application_id, from_stage, to_stage, actor, at) \
             SELECT a.id, NULL, '{stage}', 'cli:seed', $1 FROM applications a WHERE a.candidate_id > {base}"
        ),
    ];
    for st in stmts {
        let st = if b == DbBackend::Sqlite {
            st.replace("$1", "?1")
        } else {
            st
        };
        db.execute_raw(Statement::from_sql_and_values(b, st, [at.into()]))
            .await
            .expect("seed applications");
    }
}
