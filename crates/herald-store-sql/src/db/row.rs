//! Result rows of either driver, read by column index into Herald's value kinds.

use herald_ports::StoreError;
use sqlx_core::error::Error as SqlxError;
use sqlx_core::row::Row as _;
use sqlx_mysql::MySqlRow;
use sqlx_postgres::PgRow;

/// A result row, read by column index.
pub(crate) enum Row {
    Postgres(PgRow),
    MySql(MySqlRow),
}

impl Row {
    pub(crate) fn opt_int(&self, index: usize) -> Result<Option<i64>, StoreError> {
        match self {
            Row::Postgres(row) => row
                .try_get::<Option<i64>, _>(index)
                .or_else(|_| {
                    row.try_get::<Option<i32>, _>(index)
                        .map(|v| v.map(i64::from))
                })
                .or_else(|_| {
                    row.try_get::<Option<i16>, _>(index)
                        .map(|v| v.map(i64::from))
                }),
            Row::MySql(row) => row.try_get::<Option<i64>, _>(index),
        }
        .map_err(decode_err(index))
    }

    pub(crate) fn int(&self, index: usize) -> Result<i64, StoreError> {
        self.opt_int(index)?.ok_or_else(|| null_at(index))
    }

    pub(crate) fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        match self {
            Row::Postgres(row) => row
                .try_get::<Option<String>, _>(index)
                .map_err(decode_err(index)),
            // MySQL sends TEXT as BLOB, and flags `_bin` collations as binary: read bytes.
            Row::MySql(row) => row
                .try_get::<Option<Vec<u8>>, _>(index)
                .map_err(decode_err(index))?
                .map(|bytes| {
                    String::from_utf8(bytes)
                        .map_err(|e| StoreError::Corrupt(format!("column {index}: {e}")))
                })
                .transpose(),
        }
    }

    pub(crate) fn text(&self, index: usize) -> Result<String, StoreError> {
        self.opt_text(index)?.ok_or_else(|| null_at(index))
    }

    pub(crate) fn bool(&self, index: usize) -> Result<bool, StoreError> {
        match self {
            Row::Postgres(row) => row.try_get::<bool, _>(index).map_err(decode_err(index)),
            Row::MySql(_) => Ok(self.int(index)? != 0),
        }
    }

    pub(crate) fn opt_bytes(&self, index: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Row::Postgres(row) => row.try_get::<Option<Vec<u8>>, _>(index),
            Row::MySql(row) => row.try_get::<Option<Vec<u8>>, _>(index),
        }
        .map_err(decode_err(index))
    }
}

fn decode_err(index: usize) -> impl Fn(SqlxError) -> StoreError {
    move |e| StoreError::Corrupt(format!("column {index}: {e}"))
}

fn null_at(index: usize) -> StoreError {
    StoreError::Corrupt(format!("column {index} is NULL"))
}
