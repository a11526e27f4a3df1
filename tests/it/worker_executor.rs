//! The worker's downstream executor against a real MariaDB: DDL runs,
//! "already applied" errors count as success on replays, bad DDL and an
//! unreachable downstream fail clearly, a killed connection is retried, and
//! the tracker's split statements run downstream as tracked.

use std::time::{Duration, Instant};

use dm_worker::executor::{Executor, Outcome};
use dm_worker::tracker::{TableName, Tracker};
use dm_worker::Error;
use sqlx::{Connection, Row};

use crate::mariadb::{quick_retries, MariaDb};
use crate::support::free_port;

fn applied(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Applied)
}

fn already(outcome: &Outcome) -> Option<u16> {
    match outcome {
        Outcome::AlreadyApplied { number, .. } => Some(*number),
        Outcome::Applied => None,
    }
}

/// Table `t` (not created) of a fresh database on the shared MariaDB, and
/// an executor there.
async fn fresh_table(name: &str) -> (TableName, Executor) {
    let server = MariaDb::shared();
    let db = server.fresh_database(name).await;
    (TableName::new(&db, "t"), server.executor())
}

#[tokio::test]
async fn ddl_executes_and_the_schema_reads_back() {
    let (table, mut executor) = fresh_table("exec").await;
    let db = &table.schema;
    let outcomes = executor
        .execute([
            format!(
                "CREATE TABLE {table} (id INT PRIMARY KEY, c1 VARCHAR(20) NOT NULL DEFAULT '')"
            ),
            format!("ALTER TABLE {table} ADD COLUMN c2 DECIMAL(10,2) NULL"),
            format!("ALTER TABLE {table} ADD INDEX idx_c1 (c1)"),
        ])
        .await
        .expect("execute");
    assert!(outcomes.iter().all(applied), "{outcomes:?}");

    let columns = executor.columns(&table).await.expect("columns");
    let summary: Vec<(String, String, bool, String)> = columns
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.column_type.clone(),
                c.nullable,
                c.key.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("id".into(), "int(11)".into(), false, "PRI".into()),
            ("c1".into(), "varchar(20)".into(), false, "MUL".into()),
            ("c2".into(), "decimal(10,2)".into(), true, String::new()),
        ]
    );
    let create = executor.show_create_table(&table).await.expect("show");
    assert!(create.contains("KEY `idx_c1` (`c1`)"), "{create}");
    assert!(executor
        .columns(&TableName::new(db, "missing"))
        .await
        .expect("columns")
        .is_empty());
    executor.close().await;
}

#[tokio::test]
async fn replayed_ddl_counts_as_success() {
    let (table, mut executor) = fresh_table("replay").await;
    let db = &table.schema;
    // Each statement twice: the replay hits DM's "already applied" list.
    let cases = [
        (format!("CREATE DATABASE `{db}`"), 1007),
        (format!("CREATE TABLE {table} (a INT, b INT)"), 1050),
        (format!("ALTER TABLE {table} ADD COLUMN c INT"), 1060),
        (format!("ALTER TABLE {table} DROP COLUMN b"), 1091),
        (format!("ALTER TABLE {table} ADD INDEX i (a)"), 1061),
        (format!("ALTER TABLE {table} DROP INDEX i"), 1091),
        (format!("ALTER TABLE {table} ADD PRIMARY KEY (a)"), 1068),
        (format!("ALTER TABLE {table} CHANGE c d INT"), 1054),
        (format!("DROP TABLE {table}"), 1051),
        (format!("DROP DATABASE `{db}`"), 1008),
    ];
    for (statement, number) in &cases {
        let first = executor.execute_one(statement).await.expect(statement);
        // CREATE DATABASE already happened in `fresh_database`.
        if *number != 1007 {
            assert!(applied(&first), "{statement}: {first:?}");
        }
        let second = executor.execute_one(statement).await.expect(statement);
        assert_eq!(already(&second), Some(*number), "{statement}");
    }
    executor.close().await;
}

#[tokio::test]
async fn a_bad_ddl_gives_a_clear_error() {
    let server = MariaDb::shared();
    let db = server.fresh_database("bad").await;
    let mut executor = server.executor();
    let statement = format!("ALTER TABLE `{db}`.`t` ADD COLUMN");
    let err = executor.execute_one(&statement).await.expect_err("syntax");
    match &err {
        Error::DownstreamDdl { number, .. } => assert_eq!(*number, 1064),
        other => panic!("expected a DDL error, got {other:?}"),
    }
    assert_eq!(err.code(), 10006);
    let text = err.to_string();
    assert!(text.contains(&statement), "{text}");
    assert!(text.contains("MySQL error 1064"), "{text}");

    let statement = format!("ALTER TABLE `{db}`.`nope` ADD COLUMN c INT");
    let err = executor
        .execute_one(&statement)
        .await
        .expect_err("no table");
    assert!(
        matches!(err, Error::DownstreamDdl { number: 1146, .. }),
        "{err}"
    );
    // The executor stays usable after a rejected statement.
    let ok = executor
        .execute_one(&format!("CREATE TABLE `{db}`.`t` (a INT)"))
        .await
        .expect("create");
    assert!(applied(&ok));
    executor.close().await;
}

#[tokio::test]
async fn an_unreachable_downstream_fails_after_bounded_retries() {
    let port = free_port();
    let options = sqlx::mysql::MySqlConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username("root");
    let mut executor = Executor::new(options, quick_retries());
    let started = Instant::now();
    let err = executor
        .execute_one("CREATE DATABASE x")
        .await
        .expect_err("nobody listens");
    let elapsed = started.elapsed();
    match &err {
        Error::DownstreamUnavailable { attempts, .. } => assert_eq!(*attempts, 3),
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert_eq!(err.code(), 10002);
    let text = err.to_string();
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(text.contains("CREATE DATABASE x"), "{text}");
    // Two pauses (50 ms, 100 ms) between three attempts, then give up.
    assert!(elapsed >= Duration::from_millis(150), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");

    let err = executor
        .columns(&TableName::new("x", "t"))
        .await
        .expect_err("reads fail the same way");
    assert!(matches!(err, Error::DownstreamUnavailable { .. }), "{err}");
}

#[tokio::test]
async fn a_killed_connection_is_retried() {
    let server = MariaDb::shared();
    let db = server.fresh_database("kill").await;
    let mut executor = Executor::new(server.connect_options().database(&db), quick_retries());
    executor
        .execute_one("CREATE TABLE t (a INT)")
        .await
        .expect("create");

    // Kill the executor's connection from another session.
    let mut admin = sqlx::mysql::MySqlConnection::connect_with(&server.connect_options())
        .await
        .expect("admin");
    let ids = sqlx::query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
    )
    .bind(&db)
    .fetch_all(&mut admin)
    .await
    .expect("processlist");
    assert_eq!(ids.len(), 1, "one executor connection");
    let id: i64 = ids[0].try_get(0).expect("id");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL {id}")))
        .execute(&mut admin)
        .await
        .expect("kill");
    // KILL returns before the session is gone; wait until it is, so the
    // executor's next attempt surely meets a dead connection.
    let deadline = Instant::now() + Duration::from_secs(5);
    let gone = loop {
        let listed: i64 =
            sqlx::query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?")
                .bind(id)
                .fetch_one(&mut admin)
                .await
                .and_then(|row| row.try_get(0))
                .expect("processlist");
        if listed == 0 || Instant::now() >= deadline {
            break listed == 0;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(gone, "connection {id} still listed after KILL");
    admin.close().await.expect("close admin");

    let outcome = executor
        .execute_one("ALTER TABLE t ADD COLUMN b INT")
        .await
        .expect("retried on a new connection");
    assert!(applied(&outcome), "{outcome:?}");
    let names: Vec<String> = executor
        .columns(&TableName::new(&db, "t"))
        .await
        .expect("columns")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    executor.close().await;
}

#[tokio::test]
async fn tracked_statements_run_downstream_as_tracked() {
    let server = MariaDb::shared();
    let down = server.fresh_database("tracked").await;
    let route = {
        let down = down.clone();
        move |up: &TableName| TableName::new(down.clone(), format!("{}_all", up.table))
    };
    let upstream = [
        "CREATE TABLE orders (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT, status ENUM('new','paid') NOT NULL DEFAULT 'new', note VARCHAR(255) DEFAULT NULL COMMENT 'free', PRIMARY KEY (id), KEY k_status (status)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        "ALTER TABLE orders ADD COLUMN (qty INT ZEROFILL NOT NULL, price DECIMAL(10,2) DEFAULT '0.00'), ENGINE=InnoDB, ALGORITHM=INPLACE",
        "ALTER TABLE orders CHANGE note memo VARCHAR(300) CHARSET utf8mb4, RENAME INDEX k_status TO k_state, ADD UNIQUE KEY uk_memo (memo(20))",
        "ALTER TABLE orders DROP COLUMN price, MODIFY qty BIGINT NOT NULL AFTER id, COMMENT='merged'",
    ];
    let mut tracker = Tracker::new();
    let mut executor = server.executor();
    let mut ddls = Vec::new();
    for ddl in upstream {
        let tracked = tracker.apply("shard_1", ddl, &route).expect(ddl);
        let outcomes = executor.execute(tracked.ddls()).await.expect(ddl);
        assert!(outcomes.iter().all(applied), "{ddl}: {outcomes:?}");
        ddls.extend(tracked.ddls());
    }

    let tracked = tracker
        .table(&TableName::new("shard_1", "orders"))
        .expect("tracked");
    let columns = executor
        .columns(&TableName::new(&down, "orders_all"))
        .await
        .expect("columns");
    let downstream: Vec<(String, bool)> = columns
        .iter()
        .map(|c| (c.name.clone(), c.nullable))
        .collect();
    let expected: Vec<(String, bool)> = tracked
        .columns
        .iter()
        .map(|c| (c.name.o.clone(), c.field_type.flag & 1 == 0))
        .collect();
    assert_eq!(downstream, expected);
    let keys: Vec<&str> = columns.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["PRI", "", "MUL", "UNI"]);

    // A full replay (after a restart, or from another shard) succeeds.
    let outcomes = executor.execute(&ddls).await.expect("replay");
    assert!(
        outcomes.iter().any(|o| already(o).is_some()),
        "{outcomes:?}"
    );
    executor.close().await;
}
