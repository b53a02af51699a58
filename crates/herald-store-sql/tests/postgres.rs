//! The SQL stores on a real PostgreSQL (`HERALD_TEST_POSTGRES_URL`): the conformance suites
//! and this crate's own checks, each test in a fresh database. Skipped when the variable is
//! unset, except with `CI=true`, where that fails.

mod common;

engine_tests!(herald_store_sql::testing::POSTGRES_URL_VAR, "postgres");
