//! A startup check of MySQL's binary log settings. Herald's sessions run `READ COMMITTED`
//! (see `SqlDb::connect`), and MySQL refuses every write under that isolation level when
//! the binary log is on in `STATEMENT` format (error 1665). That would only surface at the
//! first accept, so the server checks once at connect and names the setting to change.
//! MariaDB's default (`MIXED`) and MySQL's (`ROW`) are fine.

use herald_ports::StoreError;
use sqlx_mysql::MySqlPool;

/// Why the server's binary log settings cannot work with Herald, if they cannot.
pub(super) fn problem(log_bin: bool, format: &str) -> Option<String> {
    (log_bin && format.eq_ignore_ascii_case("STATEMENT")).then(|| {
        "MySQL logs statements (binlog_format=STATEMENT), which it refuses for writes under \
         READ COMMITTED, the isolation Herald's sessions use (error 1665): set binlog_format \
         to ROW or MIXED"
            .to_owned()
    })
}

/// Reads the session's settings and refuses a server that would reject Herald's writes.
pub(super) async fn check(pool: &MySqlPool) -> Result<(), StoreError> {
    let (log_bin, format): (i64, String) =
        sqlx_core::query_as::query_as("SELECT @@GLOBAL.log_bin + 0, @@SESSION.binlog_format")
            .fetch_one(pool)
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading the binlog settings: {e}")))?;
    match problem(log_bin != 0, &format) {
        Some(problem) => Err(StoreError::InvalidInput(problem)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::problem;

    #[test]
    fn only_a_statement_binlog_is_refused() {
        assert!(problem(true, "STATEMENT").is_some());
        assert!(problem(true, "statement").is_some());
        assert!(problem(true, "MIXED").is_none());
        assert!(problem(true, "ROW").is_none());
        assert!(problem(false, "STATEMENT").is_none());
    }
}
