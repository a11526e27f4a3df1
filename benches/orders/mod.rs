//! The parts of the 20-column `orders` shard table that every benchmark
//! shares, so that the benchmarks measure the same schema shape. Each
//! benchmark adds the columns it varies between [`head`] and [`tail`].

use dm_master::tableinfo::{ColumnInfo, FieldType as T, IndexInfo, TableInfo};

/// `id`, `user_id`, `status` (an ENUM of `status` members), `amount` and
/// `currency`.
pub fn head(t: TableInfo, status: &[&str]) -> TableInfo {
    t.with_column(ColumnInfo::new("id", T::bigint().unsigned()).auto_increment())
        .with_column(ColumnInfo::new("user_id", T::bigint()).not_null())
        .with_column(
            ColumnInfo::new("status", T::enumeration(status))
                .not_null()
                .default_value("new"),
        )
        .with_column(
            ColumnInfo::new("amount", T::decimal(12, 2))
                .not_null()
                .default_value("0.00"),
        )
        .with_column(
            ColumnInfo::new("currency", T::char(3))
                .not_null()
                .default_value("USD"),
        )
}

/// `qty` to `deleted`; `coupon_len` is the width of `coupon`, which some
/// benchmarks vary to make schemas distinct.
pub fn tail(t: TableInfo, coupon_len: i64) -> TableInfo {
    t.with_column(
        ColumnInfo::new("qty", T::int())
            .not_null()
            .default_value("1"),
    )
    .with_column(ColumnInfo::new("discount", T::double()))
    .with_column(ColumnInfo::new("coupon", T::varchar(coupon_len)))
    .with_column(
        ColumnInfo::new("region", T::smallint())
            .not_null()
            .default_value("0"),
    )
    .with_column(
        ColumnInfo::new("flags", T::tinyint())
            .not_null()
            .default_value("0"),
    )
    .with_column(
        ColumnInfo::new("email", T::varchar(128))
            .not_null()
            .default_value(""),
    )
    .with_column(ColumnInfo::new("address", T::text()))
    .with_column(ColumnInfo::new("phone", T::varchar(32)))
    .with_column(
        ColumnInfo::new("version", T::int().unsigned())
            .not_null()
            .default_value("0"),
    )
    .with_column(
        ColumnInfo::new("deleted", T::tinyint().with_flen(1))
            .not_null()
            .default_value("0"),
    )
}

/// The primary key, `idx_user_created` and `uk_email`.
pub fn indexes(t: TableInfo) -> TableInfo {
    t.with_index(IndexInfo::primary(&["id"]))
        .with_index(IndexInfo::new(
            "idx_user_created",
            &["user_id", "created_at"],
        ))
        .with_index(IndexInfo::new("uk_email", &["email"]).unique())
}
