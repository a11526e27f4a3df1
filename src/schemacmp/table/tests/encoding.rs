//! The encoded form: the example of docs/protocol.md#schema-lattice byte
//! for byte, the fixtures, decoding back to a TableInfo, the path an error
//! names, and CREATE TABLE rendering.

use super::*;

#[test]
fn spec_example_encoding() {
    let ti = TableInfo::from_json_str(&fixture("spec_example_t.json")).expect("decode");
    let table = enc(&ti);
    let lat = table.lattice();
    let id = &lat.columns.entries["id"];
    assert_eq!(id.default, Maybe(None));
    assert_eq!(id.ty.tp, FieldTp(3));
    assert_eq!(id.ty.flen, Length::Ordered(Int(11)));
    assert_eq!(id.ty.other_flags, Singleton(0));
    assert_eq!(id.ty.nullable, Bool(false));
    assert_eq!(id.ty.anti_keys, Byte(191));
    assert_eq!(id.ty.default_flag, Maybe(None));
    let c1 = &lat.columns.entries["c1"];
    assert_eq!(
        c1.default,
        Maybe(Some(Singleton(DefaultValue(serde_json::json!("")))))
    );
    assert_eq!(c1.ty.anti_keys, Byte(255));
    assert_eq!(c1.ty.default_flag, Maybe(Some(Singleton(0))));
    let c2 = &lat.columns.entries["c2"];
    assert_eq!(c2.ty.flen, Length::Exact(Singleton(10)));
    assert_eq!(c2.ty.decimal, Length::Exact(Singleton(2)));
    assert_eq!(c2.ty.nullable, Bool(true));
    let pk = &lat.indices.entries["primary"];
    assert_eq!(pk.parts(), [("id".to_owned(), -1)]);
    assert_eq!((pk.not_unique, pk.not_primary), (Bool(false), Bool(false)));
    assert_eq!(pk.index_type, Singleton(IndexType(1)));
    assert_eq!(lat.compression, Maybe(None));

    assert_eq!(
        table.to_string(),
        "CREATE TABLE `tbl`(`c1` VARCHAR(20) CHARACTER SET UTF8MB4 COLLATE utf8mb4_bin NOT NULL DEFAULT , \
         `c2` DECIMAL(10,2), `id` INT(11) NOT NULL, PRIMARY KEY (`id`)) CHARSET UTF8MB4 COLLATE UTF8MB4_BIN"
    );

    // Adding a column (the Info example's table-info-after) grows the table.
    let mut after = ti.clone();
    after.push_column(ColumnInfo::new("c3", T::int()));
    assert_eq!(table.compare(&enc(&after)).ok(), Some(Less));
    assert_eq!(table.join(&enc(&after)).ok(), Some(enc(&after)));
}

#[test]
fn fixtures_compare_as_the_spec_says() {
    let orders =
        TableInfo::from_json_str(&fixture("orders_enum_set_utf8mb4.json")).expect("decode");
    let base = enc(&orders);
    assert_eq!(base.compare(&base).ok(), Some(Equal));
    assert_eq!(base.join(&base).ok(), Some(base.clone()));

    // A shard that appended an ENUM member is larger.
    let mut more_status = orders.clone();
    if let Some(c) = more_status.column_mut("status") {
        c.field_type.elems.push("refunded".to_owned());
    }
    assert_eq!(base.compare(&enc(&more_status)).ok(), Some(Less));

    // Reordering SET members conflicts, naming the column and the component.
    let mut reordered = orders.clone();
    if let Some(c) = reordered.column_mut("tags") {
        c.field_type.elems.reverse();
    }
    let err = base
        .compare(&enc(&reordered))
        .expect_err("reorder conflicts");
    assert_eq!(
        err.to_string(),
        r#"at tuple index 2: at map key "tags": at tuple index 3: at tuple index 9: at string list index 0: distinct values ("gift" vs "fragile")"#
    );
    assert_eq!(err.column(), Some("tags"));

    // Dropping the secondary index makes the table larger; the join drops it.
    let mut no_index = orders.clone();
    no_index
        .indices
        .retain(|i| i.name.l != "idx_status_created");
    if let Some(c) = no_index.column_mut("status") {
        c.field_type.flag &= !mysql::MULTIPLE_KEY_FLAG;
    }
    assert_eq!(base.compare(&enc(&no_index)).ok(), Some(Less));
    assert_eq!(base.join(&enc(&no_index)).ok(), Some(enc(&no_index)));

    // utf8 → utf8mb4 on a column is a widening.
    let mut utf8 = orders.clone();
    if let Some(c) = utf8.column_mut("note") {
        c.field_type.charset = "utf8".to_owned();
        c.field_type.collate = "utf8_general_ci".to_owned();
    }
    assert_eq!(enc(&utf8).compare(&base).ok(), Some(Less));

    // The decoded column types are what DM reads (`Flen`).
    let types = base.column_field_types();
    assert_eq!(types["note"].flen, 255);
    assert_eq!(types["created_at"].decimal, 3);
    assert_eq!(types["id"].flag, orders.columns[0].field_type.flag);
    assert!(base.has_column("note") && !base.has_column("Note"));
}

#[test]
fn decoding_back_to_table_info() {
    let orders =
        TableInfo::from_json_str(&fixture("orders_enum_set_utf8mb4.json")).expect("decode");
    let table = enc(&orders);
    let decoded = table.to_table_info("orders");
    // Re-encoding the decoded schema gives the same lattice element.
    assert_eq!(enc(&decoded), table);
    let names: Vec<&str> = decoded.columns.iter().map(|c| c.name.o.as_str()).collect();
    assert_eq!(
        names,
        ["amount", "created_at", "id", "note", "status", "tags"]
    );
    assert_eq!(
        decoded.index("primary").map(|i| i.name.o.as_str()),
        Some("PRIMARY")
    );
    let uk = decoded.index("uk_note").expect("uk_note");
    assert_eq!((uk.columns[0].length, uk.columns[0].offset), (64, 3));

    // A joined schema decodes too (e.g. for inspection or a DDL generator).
    let wide = table
        .join(&enc(&table_with_extra_column(&orders)))
        .expect("join");
    assert!(wide.to_table_info("orders").column("extra").is_some());
}

fn table_with_extra_column(base: &TableInfo) -> TableInfo {
    base.clone()
        .with_column(ColumnInfo::new("extra", T::varchar(32)).default_value("x"))
}

#[test]
fn errors_name_the_column() {
    let a = enc(&t(with(ab(), vec![int("c")])));
    let b = enc(&t(with(ab(), vec![col("c", T::double())])));
    let err = a.compare(&b).expect_err("conflict");
    assert_eq!(err.column(), Some("c"));
    let path: Vec<PathSegment> = err.path().cloned().collect();
    assert_eq!(
        path,
        [
            PathSegment::TupleIndex(2),
            PathSegment::MapKey("c".to_owned()),
            PathSegment::TupleIndex(3),
            PathSegment::TupleIndex(0),
        ]
    );
    assert_eq!(
        err.kind(),
        &IncompatibleKind::MysqlType { left: 3, right: 5 }
    );
    let table_level = enc(&t(ab()).with_charset("latin1", "latin1_bin"))
        .compare(&enc(&t(ab()).with_charset("utf8", "utf8_bin")))
        .expect_err("charset");
    assert_eq!(table_level.column(), None);
}

#[test]
fn create_table_rendering() {
    let ti = table(
        vec![
            col("id", T::bigint().unsigned()).auto_increment(),
            col(
                "name",
                T::varchar(64).with_charset("utf8", "utf8_general_ci"),
            )
            .not_null()
            .default_value("it's"),
            col("kind", T::enumeration(&["a", "b'c"])).default_value("a"),
            col("blob", T::blob()),
            col("ts", T::datetime(3)).not_null(),
            col("score", T::double()),
            int("g").generated("`id` + 1", true),
        ],
        vec![
            primary(&["id"]),
            unique("uk_name", &["name"]),
            prefix_key("k_blob", "blob", 10).using(mysql::INDEX_TYPE_HASH),
        ],
    );
    let mut ti = ti;
    ti.shard_row_id_bits = 2;
    ti.auto_random_bits = 5;
    ti.compression = "zlib".to_owned();
    assert_eq!(
        enc(&ti).to_create_table("t1"),
        "CREATE TABLE `t1`(`blob` BLOB(65535), \
         `g` INT(11) GENERATED ALWAYS AS (`id` + 1) STORED, \
         `id` BIGINT(20) UNSIGNED NOT NULL AUTO_INCREMENT, \
         `kind` ENUM('a','b''c') DEFAULT a, \
         `name` VARCHAR(64) CHARACTER SET UTF8 COLLATE utf8_general_ci NOT NULL DEFAULT it's, \
         `score` DOUBLE(22), \
         `ts` DATETIME(3) NOT NULL, \
         KEY `k_blob` USING HASH (`blob`(10)), PRIMARY KEY (`id`), UNIQUE KEY `uk_name` (`name`)) \
         CHARSET UTF8MB4 COLLATE UTF8MB4_BIN SHARD_ROW_ID_BITS 2/* AUTO_RANDOM_BITS 5 */ COMPRESSION 'zlib'"
    );
}
