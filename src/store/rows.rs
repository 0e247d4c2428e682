//! Writing many rows with one statement, on both engines: the rows become a
//! row source (`VALUES` on SQLite; one array per column through `unnest` on
//! PostgreSQL), a value every row shares is bound once, and a statement
//! takes as many rows as the engine can bind. The set-based writes (a
//! batch of moves, poll recording, the event log) all go through here.

use super::sql;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Value};
use std::collections::{HashMap, HashSet};

/// SQLite binds at most this many values per statement.
const SQLITE_MAX_VALUES: usize = 32_766;

/// Rows of `columns` columns per statement on this engine: as many as
/// SQLite can bind in one (constant columns, bound once, only make room),
/// any number on PostgreSQL, which takes one array per column.
pub(crate) fn rows_per_statement(b: DbBackend, columns: usize) -> usize {
    if b == DbBackend::Postgres {
        usize::MAX
    } else {
        (SQLITE_MAX_VALUES / columns.max(1)).max(1)
    }
}

/// Inserts `rows` into `table` (`on_conflict` may skip some) and returns the
/// id each row got, in order: `None` for a row skipped.
///
/// On SQLite the rows are numbered here: the transaction is the database's
/// one writer (one that read an older state cannot write at all), so it
/// reads the highest id the table has ever given out and inserts with the
/// ones after it; only when a conflict skipped rows are the ids taken read
/// back. That spares `RETURNING`, which SQLite buffers row by row before
/// handing out the first. On PostgreSQL, whose ids come from sequences the
/// other writers share, the ids come back by `RETURNING`, matched to the
/// rows by `key`, a column unique among them.
pub(crate) async fn insert_with_ids(
    txn: &DatabaseTransaction,
    table: &str,
    columns: &[(&str, &str)],
    mut rows: Vec<Vec<Cell>>,
    on_conflict: &str,
    key: &str,
) -> Result<Vec<Option<i64>>> {
    let b = txn.get_database_backend();
    let n = rows.len() as i64;
    if b == DbBackend::Postgres {
        let k = columns
            .iter()
            .position(|(c, _)| *c == key)
            .ok_or_else(|| Error::Other(format!("{table} has no column {key}")))?;
        let keys: Vec<String> = rows
            .iter()
            .map(|r| r[k].key_text())
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Error::Other(format!(
                    "{table}.{key} cannot match the returned rows: a value is NULL, or neither text nor an integer"
                ))
            })?;
        let returned = txn
            .query_all_raw(insert(
                b,
                table,
                columns,
                rows,
                &format!("{on_conflict} RETURNING id, CAST({key} AS text) AS k"),
            ))
            .await?;
        let mut id_of: HashMap<String, i64> = HashMap::with_capacity(returned.len());
        for r in returned {
            id_of.insert(r.try_get("", "k")?, r.try_get("", "id")?);
        }
        return Ok(keys.iter().map(|k| id_of.get(k).copied()).collect());
    }
    // AUTOINCREMENT tables: never reuse an id, even one deleted since
    let last: i64 = txn
        .query_one_raw(sql(
            b,
            &format!(
                "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), \
                 COALESCE((SELECT MAX(id) FROM {table}), 0)) AS n"
            ),
            vec![table.into()],
        ))
        .await?
        .map(|r| r.try_get("", "n"))
        .transpose()?
        .unwrap_or(0);
    for (row, id) in rows.iter_mut().zip(last + 1..) {
        row.push(Cell::I(Some(id)));
    }
    let mut numbered = columns.to_vec();
    numbered.push(("id", "bigint"));
    let written = txn
        .execute_raw(insert(b, table, &numbered, rows, on_conflict))
        .await?
        .rows_affected();
    if written == n as u64 {
        return Ok((last + 1..=last + n).map(Some).collect());
    }
    let taken: HashSet<i64> = txn
        .query_all_raw(sql(
            b,
            &format!("SELECT id FROM {table} WHERE id > ? AND id <= ?"),
            vec![last.into(), (last + n).into()],
        ))
        .await?
        .into_iter()
        .map(|r| r.try_get::<i64>("", "id"))
        .collect::<std::result::Result<_, _>>()?;
    Ok((last + 1..=last + n)
        .map(|id| taken.contains(&id).then_some(id))
        .collect())
}

/// Appends `v` to a PostgreSQL array literal as a quoted element.
fn push_quoted(a: &mut String, v: &str) {
    a.push('"');
    for ch in v.chars() {
        if ch == '"' || ch == '\\' {
            a.push('\\');
        }
        a.push(ch);
    }
    a.push('"');
}

/// One value of a row to write.
#[derive(PartialEq)]
pub enum Cell {
    I(Option<i64>),
    S(Option<String>),
    T(Option<DateTime<Utc>>),
    B(Option<bool>),
}

impl Cell {
    /// The value as PostgreSQL writes it as text, to match a row with what
    /// `RETURNING` gives back: integers and strings (the keys used).
    fn key_text(&self) -> Option<String> {
        match self {
            Cell::I(Some(i)) => Some(i.to_string()),
            Cell::S(Some(s)) => Some(s.clone()),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        match self {
            Cell::I(i) => Value::from(i),
            Cell::S(s) => Value::from(s),
            Cell::T(t) => Value::from(t),
            Cell::B(v) => Value::from(v),
        }
    }
}

/// The rows as a row source and its bound values. A column that holds the
/// same value in every row (the stage moved to, the actor, the time, the
/// template…) is bound once, as a scalar; the others come from `unnest(…)`
/// with one array per column on PostgreSQL (planning a `VALUES` list of
/// thousands of bound values, or reading the rows from JSON, costs it more
/// than the write itself) and from `VALUES (…), (…)` on SQLite. Each bound
/// value costs SQLite about half a microsecond and PostgreSQL the parsing
/// of its array, so the constant columns, most of a move's, are nearly free.
fn row_source(
    b: DbBackend,
    columns: &[(&str, &str)],
    rows: Vec<Vec<Cell>>,
) -> (String, Vec<Value>) {
    // the first column always varies, so that the source has its rows
    let constant: Vec<bool> = (0..columns.len())
        .map(|c| {
            c > 0
                && rows
                    .first()
                    .is_some_and(|first| rows.iter().all(|r| r[c] == first[c]))
        })
        .collect();
    let mut scalars: Vec<Value> = Vec::new();
    let mut varying: Vec<Vec<Cell>> = Vec::with_capacity(rows.len());
    for (r, row) in rows.into_iter().enumerate() {
        let mut keep = Vec::with_capacity(row.len());
        for (c, cell) in row.into_iter().enumerate() {
            if !constant[c] {
                keep.push(cell);
            } else if r == 0 {
                scalars.push(cell.into_value());
            }
        }
        varying.push(keep);
    }
    let width = constant.iter().filter(|c| !**c).count();
    let mut select = Vec::with_capacity(columns.len());
    let mut k = 0;
    for (c, (name, t)) in columns.iter().enumerate() {
        if constant[c] {
            select.push(if b == DbBackend::Postgres {
                format!("CAST(? AS {t})")
            } else {
                "?".to_string()
            });
        } else {
            k += 1;
            select.push(if b == DbBackend::Postgres {
                format!("u.{name}")
            } else {
                format!("u.column{k}")
            });
        }
    }
    let select = select.join(", ");
    if b == DbBackend::Postgres {
        let (names, casts): (Vec<&str>, Vec<String>) = columns
            .iter()
            .zip(&constant)
            .filter(|(_, c)| !**c)
            .map(|((name, t), _)| (*name, format!("CAST(? AS {t}[])")))
            .unzip();
        scalars.extend(pg_arrays(width, varying));
        return (
            format!(
                "SELECT {select} FROM unnest({}) AS u({})",
                casts.join(", "),
                names.join(", ")
            ),
            scalars,
        );
    }
    let n = varying.len();
    let one = format!("({})", vec!["?"; width].join(","));
    scalars.extend(varying.into_iter().flatten().map(Cell::into_value));
    // (`WHERE true` lets an `ON CONFLICT` follow an `INSERT … SELECT`)
    (
        format!(
            "SELECT {select} FROM (VALUES {}) AS u WHERE true",
            vec![one; n].join(",")
        ),
        scalars,
    )
}

fn column_names(columns: &[(&str, &str)]) -> String {
    columns
        .iter()
        .map(|(c, _)| *c)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `WITH name (columns) AS (…rows…)`, to update many rows with one
/// statement (`UPDATE t SET … FROM name WHERE t.id = name.id`).
pub(crate) fn rows_cte(
    b: DbBackend,
    name: &str,
    columns: &[(&str, &str)],
    rows: Vec<Vec<Cell>>,
) -> (String, Vec<Value>) {
    let (source, values) = row_source(b, columns, rows);
    (
        format!("WITH {name} ({}) AS ({source})", column_names(columns)),
        values,
    )
}

/// One PostgreSQL array literal per column (`{1,NULL,3}`, `{"a","b \\"c\\""}`):
/// strings and times are always quoted, with `"` and `\` escaped; a NULL is
/// the bare word.
pub fn pg_arrays(columns: usize, rows: Vec<Vec<Cell>>) -> Vec<Value> {
    let mut arrays: Vec<String> = vec![String::from("{"); columns];
    for (r, row) in rows.into_iter().enumerate() {
        for (c, cell) in row.into_iter().enumerate() {
            let a = &mut arrays[c];
            if r > 0 {
                a.push(',');
            }
            match cell {
                Cell::I(Some(i)) => a.push_str(&i.to_string()),
                Cell::S(Some(v)) => push_quoted(a, &v),
                Cell::T(Some(t)) => push_quoted(a, &t.to_rfc3339()),
                Cell::B(Some(v)) => a.push(if v { 't' } else { 'f' }),
                Cell::I(None) | Cell::S(None) | Cell::T(None) | Cell::B(None) => a.push_str("NULL"),
            }
        }
    }
    arrays
        .into_iter()
        .map(|mut a| {
            a.push('}');
            Value::from(a)
        })
        .collect()
}

/// Inserts any number of rows, in as many statements as the engine needs
/// ([`rows_per_statement`]).
pub(crate) async fn insert_all<C: ConnectionTrait>(
    c: &C,
    table: &str,
    columns: &[(&str, &str)],
    rows: Vec<Vec<Cell>>,
) -> Result<()> {
    let b = c.get_database_backend();
    let mut rest = rows.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<Vec<Cell>> = rest
            .by_ref()
            .take(rows_per_statement(b, columns.len()))
            .collect();
        c.execute_raw(insert(b, table, columns, chunk, "")).await?;
    }
    Ok(())
}

/// A multi-row `INSERT INTO table (columns) … suffix`.
pub(crate) fn insert(
    b: DbBackend,
    table: &str,
    columns: &[(&str, &str)],
    rows: Vec<Vec<Cell>>,
    suffix: &str,
) -> sea_orm::Statement {
    let (source, values) = row_source(b, columns, rows);
    sql(
        b,
        &format!(
            "INSERT INTO {table} ({}) {source} {suffix}",
            column_names(columns)
        ),
        values,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(v: &Value) -> String {
        match v {
            Value::String(Some(s)) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }

    /// PostgreSQL's array input (`array_in`) for one dimension of text, as
    /// its documentation describes it: elements between braces, separated
    /// by commas; a quoted element keeps everything but its backslashes,
    /// each of which makes the next character literal; an unquoted `NULL`
    /// (any case) is a null; an unquoted element loses the white space
    /// around it.
    fn parse(literal: &str) -> Vec<Option<String>> {
        let inner = literal
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .expect("braces");
        let mut out = Vec::new();
        let mut chars = inner.chars().peekable();
        if inner.is_empty() {
            return out;
        }
        loop {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                let mut e = String::new();
                loop {
                    match chars.next().expect("a closing quote") {
                        '\\' => e.push(chars.next().expect("an escaped character")),
                        '"' => break,
                        c => e.push(c),
                    }
                }
                out.push(Some(e));
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
            } else {
                let mut e = String::new();
                while let Some(c) = chars.peek().copied() {
                    if c == ',' {
                        break;
                    }
                    e.push(c);
                    chars.next();
                }
                let e = e.trim();
                out.push((!e.eq_ignore_ascii_case("null")).then(|| e.to_string()));
            }
            match chars.next() {
                None => return out,
                Some(',') => continue,
                Some(c) => panic!("`{c}` after an element"),
            }
        }
    }

    #[test]
    fn every_kind_of_value_is_written_as_postgresql_reads_it() {
        let t = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .to_utc();
        let rows = vec![
            vec![
                Cell::I(Some(1)),
                Cell::S(Some(r#"say "hi", \ {x}"#.into())),
                Cell::T(Some(t)),
                Cell::B(Some(true)),
            ],
            vec![
                Cell::I(None),
                Cell::S(None),
                Cell::T(None),
                Cell::B(Some(false)),
            ],
            vec![
                Cell::I(Some(-7)),
                Cell::S(Some("NULL".into())),
                Cell::T(Some(t)),
                Cell::B(None),
            ],
        ];
        let a: Vec<String> = pg_arrays(4, rows).iter().map(text).collect();
        assert_eq!(a[0], "{1,NULL,-7}");
        assert_eq!(a[1], r#"{"say \"hi\", \\ {x}",NULL,"NULL"}"#);
        assert_eq!(
            a[2],
            r#"{"2026-12-01T10:00:00+00:00",NULL,"2026-12-01T10:00:00+00:00"}"#
        );
        assert_eq!(a[3], "{t,f,NULL}");
        // the word NULL as text stays text; a missing value is a null
        assert_eq!(
            parse(&a[1]),
            vec![Some(r#"say "hi", \ {x}"#.into()), None, Some("NULL".into())]
        );
    }

    proptest! {
        #[test]
        fn any_text_comes_back_as_it_was_written(
            values in proptest::collection::vec(
                proptest::option::of("[^\\x00]{0,12}"), 0..8)
        ) {
            let rows: Vec<Vec<Cell>> = values.iter().map(|v| vec![Cell::S(v.clone())]).collect();
            let literal = text(&pg_arrays(1, rows)[0]);
            prop_assert_eq!(parse(&literal), values);
        }
    }
}
