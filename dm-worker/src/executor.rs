//! The downstream DDL executor: runs split, routed DDL statements on a
//! MySQL-compatible server (MySQL, MariaDB, TiDB) over one connection.
//!
//! **Boundary**: the only module that talks to the downstream database.
//!
//! Invariants:
//! - Statements run one by one, in order, on one connection (DDL is not
//!   transactional; order is the contract).
//! - An error DM classifies as "already applied" (see [`ALREADY_APPLIED`])
//!   counts as success: shard DDL is replayed after restarts and redirects,
//!   and several shards may send the same ADD COLUMN.
//! - A lost or refused connection is retried with bounded exponential
//!   backoff; the statement is re-sent on a new connection (if the first try
//!   did reach the server, the replay ends in an "already applied" error).
//!   Any other MySQL error fails at once, naming the statement and the
//!   error number.
//!
//! Where we differ from DM: DM wraps each DDL in `SET TIMESTAMP` /
//! `SET TIME_ZONE` from the binlog event; this executor runs the statement
//! as given (callers that need the event time can send those statements
//! too).

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};
use tracing::{info, warn};

use dm_master::etcd::retry::Backoff;

use crate::error::{Error, Result};
use crate::tracker::TableName;

/// MySQL error numbers that mean the statement's effect is already there
/// (DM's `IsIgnorableMySQLDDLError`, `pkg/errorutil`).
pub const ALREADY_APPLIED: &[(u16, &str)] = &[
    (1007, "ER_DB_CREATE_EXISTS: database exists"),
    (1008, "ER_DB_DROP_EXISTS: database doesn't exist (on drop)"),
    (1050, "ER_TABLE_EXISTS_ERROR: table exists"),
    (1051, "ER_BAD_TABLE_ERROR: unknown table (on drop)"),
    (1054, "ER_BAD_FIELD_ERROR: unknown column"),
    (1060, "ER_DUP_FIELDNAME: duplicate column name"),
    (1061, "ER_DUP_KEYNAME: duplicate key name"),
    (1068, "ER_MULTIPLE_PRI_KEY: multiple primary key defined"),
    (1091, "ER_CANT_DROP_FIELD_OR_KEY: can't drop column or key"),
    (1176, "ER_KEY_DOES_NOT_EXITS: key doesn't exist"),
    (
        1507,
        "ER_DROP_PARTITION_NON_EXISTENT: partition doesn't exist",
    ),
    (1517, "ER_SAME_NAME_PARTITION: duplicate partition name"),
    (1831, "ER_DUP_INDEX: duplicate index (TiDB's index exists)"),
];

/// Whether MySQL error `number` means "already applied".
pub fn is_already_applied(number: u16) -> bool {
    ALREADY_APPLIED.iter().any(|(n, _)| *n == number)
}

/// Server errors that mean the connection is gone rather than the statement
/// being wrong: server shutdown, connection killed (MariaDB), MySQL 8's
/// "client disconnected".
fn is_connection_error_number(number: u16) -> bool {
    matches!(number, 1053 | 1927 | 4031)
}

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutorOptions {
    /// Attempts per statement (and per connect) before giving up; at least 1.
    pub max_attempts: u32,
    /// First pause after a connection failure; doubles up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest pause between attempts.
    pub max_backoff: Duration,
    /// Limit on one connection attempt (TCP and handshake).
    pub connect_timeout: Duration,
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        ExecutorOptions {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// What running one statement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The statement ran.
    Applied,
    /// The server said its effect is already there (see [`ALREADY_APPLIED`]).
    AlreadyApplied {
        /// MySQL error number.
        number: u16,
        /// The server's message.
        message: String,
    },
}

/// One row of `information_schema.COLUMNS` for a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDescription {
    /// `COLUMN_NAME`.
    pub name: String,
    /// `COLUMN_TYPE`, e.g. `int(11)` or `varchar(20)`.
    pub column_type: String,
    /// `IS_NULLABLE = 'YES'`.
    pub nullable: bool,
    /// `COLUMN_DEFAULT` as the server prints it (MariaDB quotes strings).
    pub default: Option<String>,
    /// `COLUMN_KEY`: `PRI`, `UNI`, `MUL` or empty.
    pub key: String,
    /// `EXTRA`, e.g. `auto_increment`.
    pub extra: String,
}

/// How a failed attempt is handled.
enum Failure {
    /// The statement's effect is already there.
    AlreadyApplied(u16, String),
    /// The connection is gone or could not be made: retry on a new one.
    Connection(String),
    /// The server rejected the statement.
    Rejected(u16, String),
    /// Anything else (configuration, unexpected replies).
    Other(String),
}

fn classify(error: &sqlx::Error) -> Failure {
    let database_error = error
        .as_database_error()
        .and_then(|e| e.try_downcast_ref::<MySqlDatabaseError>());
    if let Some(db) = database_error {
        let number = db.number();
        return if is_already_applied(number) {
            Failure::AlreadyApplied(number, db.message().to_owned())
        } else if is_connection_error_number(number) {
            Failure::Connection(format!("MySQL error {number}: {}", db.message()))
        } else {
            Failure::Rejected(number, db.message().to_owned())
        };
    }
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Failure::Connection(error.to_string()),
        other => Failure::Other(other.to_string()),
    }
}

/// Runs DDL on one downstream over one lazily opened connection.
pub struct Executor {
    connect: MySqlConnectOptions,
    options: ExecutorOptions,
    /// `host:port`, for error messages.
    address: String,
    /// The open connection; dropped after a connection error so the next
    /// attempt reconnects.
    conn: Option<MySqlConnection>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("address", &self.address)
            .field("options", &self.options)
            .field("connected", &self.conn.is_some())
            .finish()
    }
}

impl Executor {
    /// An executor for `connect`; nothing is opened until the first use.
    pub fn new(connect: MySqlConnectOptions, options: ExecutorOptions) -> Self {
        let address = format!("{}:{}", connect.get_host(), connect.get_port());
        Executor {
            // Statements are logged here, with their outcome.
            connect: connect.disable_statement_logging(),
            options,
            address,
            conn: None,
        }
    }

    /// An executor for a `mysql://user:password@host:port[/database]` URL.
    pub fn from_url(url: &str, options: ExecutorOptions) -> Result<Self> {
        let connect = MySqlConnectOptions::from_str(url).map_err(|e| Error::Downstream {
            during: "reading the downstream URL".to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Executor::new(connect, options))
    }

    /// `host:port` of the downstream.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn unavailable(&self, attempts: u32, during: String, reason: String) -> Error {
        Error::DownstreamUnavailable {
            address: self.address.clone(),
            attempts,
            during,
            reason,
        }
    }

    /// The pauses between the attempts of one statement or connection.
    fn backoff(&self) -> Backoff {
        Backoff::steady(self.options.initial_backoff, self.options.max_backoff)
    }

    /// One connection attempt, bounded by `connect_timeout`.
    async fn open(&self) -> std::result::Result<MySqlConnection, Failure> {
        match tokio::time::timeout(self.options.connect_timeout, self.connect.connect()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(match classify(&e) {
                // Access denied or an unknown database will not heal.
                Failure::Rejected(n, m) => Failure::Other(format!("MySQL error {n}: {m}")),
                other => other,
            }),
            Err(_) => Err(Failure::Connection(format!(
                "no connection within {:?}",
                self.options.connect_timeout
            ))),
        }
    }

    /// Runs the statements in order; stops at the first failure.
    pub async fn execute<I, S>(&mut self, ddls: I) -> Result<Vec<Outcome>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut outcomes = Vec::new();
        for ddl in ddls {
            outcomes.push(self.execute_one(ddl.as_ref()).await?);
        }
        Ok(outcomes)
    }

    /// Runs one statement, retrying connection failures.
    pub async fn execute_one(&mut self, ddl: &str) -> Result<Outcome> {
        let max_attempts = self.options.max_attempts.max(1);
        let mut backoff = self.backoff();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match self.conn.take() {
                Some(conn) => Ok(conn),
                None => self.open().await,
            };
            let result = match result {
                Ok(mut conn) => {
                    let run = sqlx::raw_sql(AssertSqlSafe(ddl.to_owned()))
                        .execute(&mut conn)
                        .await;
                    match run {
                        Ok(_) => {
                            self.conn = Some(conn);
                            Ok(())
                        }
                        Err(e) => {
                            let failure = classify(&e);
                            if !matches!(failure, Failure::Connection(_)) {
                                self.conn = Some(conn);
                            }
                            Err(failure)
                        }
                    }
                }
                Err(failure) => Err(failure),
            };
            match result {
                Ok(()) => {
                    info!(downstream = %self.address, statement = ddl, "downstream DDL executed");
                    return Ok(Outcome::Applied);
                }
                Err(Failure::AlreadyApplied(number, message)) => {
                    warn!(
                        downstream = %self.address,
                        statement = ddl,
                        number,
                        message = %message,
                        "downstream DDL already applied, counted as done"
                    );
                    return Ok(Outcome::AlreadyApplied { number, message });
                }
                Err(Failure::Rejected(number, message)) => {
                    return Err(Error::DownstreamDdl {
                        statement: ddl.to_owned(),
                        number,
                        message,
                    });
                }
                Err(Failure::Other(reason)) => {
                    return Err(Error::Downstream {
                        during: format!("executing `{ddl}`"),
                        reason,
                    });
                }
                Err(Failure::Connection(reason)) => {
                    if attempt >= max_attempts {
                        return Err(self.unavailable(
                            attempt,
                            format!("executing `{ddl}`"),
                            reason,
                        ));
                    }
                    let pause = backoff.next_delay();
                    warn!(
                        downstream = %self.address,
                        statement = ddl,
                        attempt,
                        reason = %reason,
                        "downstream connection failed, retrying in {pause:?}"
                    );
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Connects now (with retries) unless connected: a caller can check the
    /// downstream is reachable before it writes anything elsewhere.
    pub async fn connect(&mut self) -> Result<()> {
        self.connection("connecting").await.map(|_| ())
    }

    /// The open connection, connecting (with retries) if needed.
    async fn connection(&mut self, during: &str) -> Result<&mut MySqlConnection> {
        if self.conn.is_none() {
            let max_attempts = self.options.max_attempts.max(1);
            let mut backoff = self.backoff();
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.open().await {
                    Ok(conn) => {
                        self.conn = Some(conn);
                        break;
                    }
                    Err(Failure::Connection(reason)) if attempt < max_attempts => {
                        warn!(downstream = %self.address, attempt, reason = %reason, "downstream connection failed, retrying");
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                    Err(Failure::Connection(reason)) => {
                        return Err(self.unavailable(attempt, during.to_owned(), reason));
                    }
                    Err(
                        Failure::Other(reason)
                        | Failure::Rejected(_, reason)
                        | Failure::AlreadyApplied(_, reason),
                    ) => {
                        return Err(Error::Downstream {
                            during: during.to_owned(),
                            reason,
                        });
                    }
                }
            }
        }
        self.conn.as_mut().ok_or_else(|| Error::Downstream {
            during: during.to_owned(),
            reason: "no connection".to_owned(),
        })
    }

    /// Maps a read error, dropping the connection when it is gone.
    fn read_error(&mut self, during: &str, error: &sqlx::Error) -> Error {
        match classify(error) {
            Failure::Connection(reason) => {
                self.conn = None;
                self.unavailable(1, during.to_owned(), reason)
            }
            Failure::Rejected(number, message) | Failure::AlreadyApplied(number, message) => {
                Error::Downstream {
                    during: during.to_owned(),
                    reason: format!("MySQL error {number}: {message}"),
                }
            }
            Failure::Other(reason) => Error::Downstream {
                during: during.to_owned(),
                reason,
            },
        }
    }

    /// `SHOW CREATE TABLE` of a downstream table.
    pub async fn show_create_table(&mut self, table: &TableName) -> Result<String> {
        let during = format!("reading SHOW CREATE TABLE {table}");
        let sql = format!("SHOW CREATE TABLE {table}");
        let conn = self.connection(&during).await?;
        let row = sqlx::query(AssertSqlSafe(sql)).fetch_one(&mut *conn).await;
        match row.and_then(|r| r.try_get::<String, _>(1)) {
            Ok(text) => Ok(text),
            Err(e) => Err(self.read_error(&during, &e)),
        }
    }

    /// The columns of a downstream table, in order, from
    /// `information_schema.COLUMNS` (empty when the table does not exist).
    pub async fn columns(&mut self, table: &TableName) -> Result<Vec<ColumnDescription>> {
        let during = format!("reading the columns of {table}");
        let conn = self.connection(&during).await?;
        let rows = sqlx::query(
            "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), \
             CAST(COLUMN_DEFAULT AS CHAR), CAST(COLUMN_KEY AS CHAR), CAST(EXTRA AS CHAR) \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
        )
        .bind(&table.schema)
        .bind(&table.table)
        .fetch_all(&mut *conn)
        .await;
        let decoded = rows.and_then(|rows| {
            rows.iter()
                .map(|row| {
                    Ok(ColumnDescription {
                        name: row.try_get(0)?,
                        column_type: row.try_get(1)?,
                        nullable: row.try_get::<String, _>(2)? == "YES",
                        default: row.try_get(3)?,
                        key: row.try_get(4)?,
                        extra: row.try_get(5)?,
                    })
                })
                .collect::<std::result::Result<Vec<_>, sqlx::Error>>()
        });
        decoded.map_err(|e| self.read_error(&during, &e))
    }

    /// Closes the connection, if one is open.
    pub async fn close(mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }
}

#[cfg(test)]
mod tests;
