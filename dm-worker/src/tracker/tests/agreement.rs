//! Agreement with schemacmp (TiDB's schemacmp test examples), the dialect
//! wrapper against sqlparser's MySQL dialect, and SHOW CREATE TABLE outputs of
//! MySQL 8 and MariaDB.

use super::*;

#[test]
fn tracked_tables_compare_as_the_spec_says() {
    let base = "CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10))";
    let before = schema(&[base]);
    let cases: &[(&str, std::cmp::Ordering)] = &[
        ("ALTER TABLE t ADD COLUMN c INT", Greater),
        ("ALTER TABLE t ADD INDEX i (a)", Less),
        ("ALTER TABLE t ADD UNIQUE u (b)", Less),
        ("ALTER TABLE t DROP COLUMN a", Less),
        ("ALTER TABLE t MODIFY a BIGINT", Greater),
        ("ALTER TABLE t MODIFY b VARCHAR(20)", Greater),
        ("ALTER TABLE t MODIFY a INT NOT NULL", Less),
        ("ALTER TABLE t ENGINE=InnoDB", Equal),
        (
            "ALTER TABLE t ADD PARTITION (PARTITION p1 VALUES LESS THAN (1))",
            Equal,
        ),
    ];
    for (ddl, ordering) in cases {
        let after = schema(&[base, ddl]);
        assert_eq!(after.compare(&before).ok(), Some(*ordering), "{ddl}");
    }
}

#[test]
fn shards_with_the_same_ddl_are_equal_and_different_types_conflict() {
    let base = "CREATE TABLE t (id INT PRIMARY KEY)";
    let shard1 = schema(&[base, "ALTER TABLE t ADD c INT"]);
    let shard2 = schema(&[base, "ALTER TABLE t ADD COLUMN `c` INT(11)"]);
    assert_eq!(shard1.compare(&shard2).ok(), Some(Equal));
    let shard3 = schema(&[base, "ALTER TABLE t ADD c VARCHAR(10)"]);
    assert!(shard1.compare(&shard3).is_err());
    let err = shard1.join(&shard3).expect_err("incompatible");
    assert!(err.to_string().contains("incompatible mysql type"), "{err}");
    // Different widths of one family join to the wider one.
    let shard4 = schema(&[base, "ALTER TABLE t ADD c BIGINT"]);
    assert_eq!(shard1.join(&shard4).ok(), Some(shard4.clone()));
}

#[test]
fn the_same_schema_by_two_paths_is_equal() {
    let one = schema(&[
        "CREATE TABLE t (a INT, b INT, KEY k (a, b))",
        "ALTER TABLE t DROP COLUMN b",
        "ALTER TABLE t ADD COLUMN b INT",
    ]);
    let two = schema(&[
        "CREATE TABLE t (a INT, KEY k (a))",
        "ALTER TABLE t ADD b INT",
    ]);
    assert_eq!(one.compare(&two).ok(), Some(Equal));
}

#[test]
fn the_dialect_wrapper_parses_like_mysql() {
    let corpus = [
        "CREATE TABLE t (a INT NOT NULL AUTO_INCREMENT, b VARCHAR(20) COLLATE utf8mb4_bin DEFAULT 'x', PRIMARY KEY (a), KEY k (b(3)) USING HASH) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "ALTER TABLE `db`.`t` ADD COLUMN c INT AFTER a, DROP COLUMN b, MODIFY a BIGINT UNSIGNED FIRST",
        "SELECT a DIV 2 FROM t AS x LIMIT 1, 2",
        "LOCK TABLES t READ",
        "RENAME TABLE a TO b",
        "CREATE INDEX i ON t (a(10), b)",
        "ALTER TABLE t ALTER COLUMN a SET DEFAULT CURRENT_TIMESTAMP",
        "INSERT INTO t SET a = 1",
        "SELECT * FROM t1 STRAIGHT_JOIN t2",
        "SELECT 'a\\'b', \"x\" FROM t WHERE c LIKE 'x\\_%'",
    ];
    for sql in corpus {
        let parse = |dialect: &dyn sqlparser::dialect::Dialect| {
            Parser::new(dialect)
                .with_options(ParserOptions::new().with_unescape(false))
                .try_with_sql(sql)
                .and_then(|mut p| p.parse_statements())
                .map(|s| format!("{s:?}"))
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            parse(&dialect::DmDialect::default()),
            parse(&MySqlDialect {}),
            "{sql}"
        );
    }
}

#[test]
fn show_create_table_outputs_of_mysql_8_and_mariadb_are_tracked() {
    let mysql8 = "CREATE TABLE `orders` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `a` int NOT NULL /*!80023 INVISIBLE */,
  `b` varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci DEFAULT NULL,
  `v` int GENERATED ALWAYS AS ((`a` + 1)) VIRTUAL,
  `doc` json DEFAULT NULL,
  `ts` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  `dt` datetime(6) DEFAULT CURRENT_TIMESTAMP(6),
  `parent` bigint unsigned DEFAULT NULL,
  PRIMARY KEY (`id`) USING BTREE,
  UNIQUE KEY `u_b` (`b`(10)),
  KEY `idx_ab` (`a`,`b`) USING BTREE COMMENT 'x' /*!80000 INVISIBLE */,
  KEY `fk_parent` (`parent`),
  FULLTEXT KEY `ft` (`b`),
  CONSTRAINT `fk_parent` FOREIGN KEY (`parent`) REFERENCES `orders` (`id`) ON DELETE CASCADE,
  CONSTRAINT `chk_a` CHECK ((`a` > 0))
) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci ROW_FORMAT=DYNAMIC COMMENT='orders'";
    let mariadb = "CREATE TABLE `t` (
  `id` int(11) NOT NULL,
  `c1` varchar(20) CHARACTER SET latin1 COLLATE latin1_swedish_ci NOT NULL DEFAULT '',
  `c2` decimal(10,2) DEFAULT NULL COMMENT 'y',
  `c3` enum('a','b') DEFAULT 'a',
  PRIMARY KEY (`id`),
  KEY `k1` (`c1`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci";
    let tracker = tracker_after(&[mysql8, mariadb]);
    let orders = tracker
        .table(&TableName::new(DB, "orders"))
        .expect("orders");
    assert_eq!(
        names(orders),
        ["id", "a", "b", "v", "doc", "ts", "dt", "parent"]
    );
    assert_eq!(orders.collate, "utf8mb4_0900_ai_ci");
    assert_eq!(orders.comment, "orders");
    assert_eq!(orders.auto_inc_id, 0);
    let index_names: Vec<&str> = orders.indices.iter().map(|i| i.name.o.as_str()).collect();
    assert_eq!(index_names, ["PRIMARY", "u_b", "idx_ab", "fk_parent"]);
    let invisible: Vec<bool> = orders.indices.iter().map(|i| i.is_invisible).collect();
    assert_eq!(invisible, [false, false, true, false]);
    assert_eq!(column(orders, "v").generated_expr_string, "(`a` + 1)");
    assert_eq!(column(orders, "dt").default, json!("CURRENT_TIMESTAMP(6)"));
    assert_eq!(
        column(orders, "ts").field_type.flag,
        NOT_NULL_FLAG | BINARY_FLAG | ON_UPDATE_NOW_FLAG
    );
    let t = tracker.table(&t()).expect("t");
    let c1 = &column(t, "c1").field_type;
    assert_eq!(
        (c1.charset.as_str(), c1.collate.as_str()),
        ("latin1", "latin1_swedish_ci")
    );
    assert_eq!(column(t, "c3").default, json!("a"));
    assert_eq!(column(t, "c2").comment, "y");
}
