//! **Boundary**: the only code of the master that talks to an upstream
//! MySQL/MariaDB. `operate-source create` reads what DM's
//! `SourceConfig.Adjust` reads there; the decisions stay in
//! `source_config` (pure).

use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{ConnectOptions, Row};

use crate::source_config::{SourceConfig, SourceConfigError, UpstreamFacts};

/// DM's `conn.DefaultDBTimeout` bounds all reads of one adjust.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads the upstream when the config needs it (flavor or server-id unset,
/// or a MySQL GTID check); otherwise returns empty facts without
/// connecting.
pub async fn read_facts(cfg: &SourceConfig) -> Result<UpstreamFacts, SourceConfigError> {
    if !cfg.needs_upstream() {
        return Ok(UpstreamFacts::default());
    }
    let upstream = |e: &dyn std::fmt::Display| SourceConfigError::Upstream {
        cause: e.to_string(),
    };
    let read = async {
        let port = u16::try_from(cfg.from.port).map_err(|e| upstream(&e))?;
        let mut conn: MySqlConnection = MySqlConnectOptions::new()
            .host(&cfg.from.host)
            .port(port)
            .username(&cfg.from.user)
            .password(&cfg.from.password)
            .connect()
            .await
            .map_err(|e| upstream(&e))?;
        let version: String = sqlx::query("SELECT VERSION()")
            .fetch_one(&mut conn)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|e| upstream(&e))?;
        let mut server_ids = Vec::new();
        // DM only warns when the IDs cannot be read.
        match sqlx::query("SELECT @@server_id").fetch_one(&mut conn).await {
            Ok(row) => server_ids.extend(int_column(&row, 0)),
            Err(error) => {
                tracing::warn!(source = %cfg.source_id, %error, "cannot read the upstream server_id")
            }
        }
        for statement in ["SHOW SLAVE HOSTS", "SHOW REPLICAS"] {
            match sqlx::raw_sql(statement).fetch_all(&mut conn).await {
                Ok(rows) => {
                    server_ids.extend(rows.iter().filter_map(|row| int_column(row, 0)));
                    break;
                }
                Err(error) => {
                    tracing::debug!(source = %cfg.source_id, %error, statement, "cannot list replicas")
                }
            }
        }
        let mut gtid_mode = String::new();
        if cfg.enable_gtid && !version.to_ascii_lowercase().contains("mariadb") {
            gtid_mode = sqlx::query("SELECT @@GLOBAL.gtid_mode")
                .fetch_one(&mut conn)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(|e| upstream(&e))?;
        }
        Ok(UpstreamFacts {
            version,
            server_ids,
            gtid_mode,
        })
    };
    match tokio::time::timeout(UPSTREAM_TIMEOUT, read).await {
        Ok(result) => result,
        Err(_) => Err(SourceConfigError::Upstream {
            cause: format!("reading the upstream timed out after {UPSTREAM_TIMEOUT:?}"),
        }),
    }
}

/// An integer column as a server ID, whatever width the server declared.
fn int_column(row: &sqlx::mysql::MySqlRow, index: usize) -> Option<u32> {
    row.try_get::<u64, _>(index)
        .ok()
        .or_else(|| row.try_get::<i64, _>(index).ok().map(|v| v as u64))
        .or_else(|| row.try_get::<u32, _>(index).ok().map(u64::from))
        .or_else(|| row.try_get::<String, _>(index).ok()?.parse().ok())
        .and_then(|v| u32::try_from(v).ok())
}
