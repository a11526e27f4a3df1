//! An encoded table back out as text and records: the `TableInfo` it
//! decodes to and TiDB's debug `CREATE TABLE` (`Table.String()`), with
//! TiDB's type keywords and `FieldType.Restore`.

use super::super::error::go_float;
use super::super::lattice::{DefaultValue, Singleton};
use super::{ColumnLat, IndexLat, Table};
use crate::tableinfo::{mysql, CIStr, ColumnInfo, FieldType, IndexColumn, IndexInfo, TableInfo};

impl Table {
    /// Decodes the schema back into a `TableInfo` named `name`.
    ///
    /// What the encoding does not keep cannot come back: columns and
    /// indexes are ordered by name, names are lower-case (the primary key is
    /// `PRIMARY`), IDs are renumbered from 1, and comments, partitions and
    /// the like are empty. Good for inspecting a joined schema; it is not
    /// the upstream table.
    pub fn to_table_info(&self, name: &str) -> TableInfo {
        let lat = self.lattice();
        let mut ti =
            TableInfo::new(name).with_charset(lat.charset.as_str(), lat.collation.as_str());
        ti.auto_inc_id = lat.auto_inc_id.0;
        ti.shard_row_id_bits = lat.shard_row_id_bits.0;
        ti.auto_random_bits = lat.auto_random_bits.0;
        ti.pre_split_regions = lat.pre_split_regions.0;
        ti.compression = lat
            .compression
            .0
            .as_ref()
            .map(|c| c.0.clone())
            .unwrap_or_default();
        for (column_name, column) in &lat.columns.entries {
            let mut ci = ColumnInfo::new(column_name, column.ty.to_field_type());
            if let Some(Singleton(DefaultValue(value))) = &column.default.0 {
                ci.default = value.clone();
            }
            ci.generated_expr_string = column.generated_expr.0.clone();
            ci.generated_stored = column.generated_stored.0;
            ti.push_column(ci);
        }
        for (index_name, index) in &lat.indices.entries {
            let is_primary = !index.not_primary.0;
            let mut ii = IndexInfo::with_parts(
                index_name,
                index
                    .parts()
                    .iter()
                    .map(|(column, length)| IndexColumn::prefix(column, *length))
                    .collect(),
            );
            if is_primary {
                ii.name = CIStr {
                    o: mysql::PRIMARY_KEY_NAME.to_owned(),
                    ..CIStr::new(index_name)
                };
            }
            ii.is_unique = !index.not_unique.0;
            ii.is_primary = is_primary;
            ii.index_type = index.index_type.0 .0;
            for part in &mut ii.columns {
                let offset = ti.columns.iter().position(|c| c.name.l == part.name.l);
                part.offset = offset.and_then(|o| i64::try_from(o).ok()).unwrap_or(0);
            }
            // Key flags are already part of the decoded column types.
            ti.max_idx_id += 1;
            ii.id = ti.max_idx_id;
            ti.indices.push(ii);
        }
        ti
    }

    /// A debug `CREATE TABLE` statement in TiDB's format (columns and
    /// indexes sorted by name; not byte-exact, not meant to be executed).
    pub fn to_create_table(&self, name: &str) -> String {
        let lat = self.lattice();
        let mut out = String::from("CREATE TABLE ");
        write_name(&mut out, name);
        out.push('(');
        for (i, (column_name, column)) in lat.columns.entries.iter().enumerate() {
            if i != 0 {
                out.push_str(", ");
            }
            write_column(&mut out, column_name, column);
        }
        for (index_name, index) in &lat.indices.entries {
            out.push_str(", ");
            write_index(&mut out, index_name, index);
        }
        out.push(')');
        if !lat.charset.as_str().is_empty() {
            out.push_str(" CHARSET ");
            out.push_str(&lat.charset.as_str().to_uppercase());
        }
        if !lat.collation.as_str().is_empty() {
            out.push_str(" COLLATE ");
            out.push_str(&lat.collation.as_str().to_uppercase());
        }
        if lat.shard_row_id_bits.0 > 0 {
            out.push_str(&format!(" SHARD_ROW_ID_BITS {}", lat.shard_row_id_bits.0));
        }
        if lat.auto_random_bits.0 > 0 {
            out.push_str(&format!(
                "/* AUTO_RANDOM_BITS {} */",
                lat.auto_random_bits.0
            ));
        }
        if let Some(Singleton(compression)) = &lat.compression.0 {
            out.push_str(" COMPRESSION ");
            write_string(&mut out, compression);
        }
        out
    }
}

fn write_name(out: &mut String, name: &str) {
    out.push('`');
    out.push_str(&name.replace('`', "``"));
    out.push('`');
}

fn write_string(out: &mut String, s: &str) {
    out.push('\'');
    out.push_str(&s.replace('\'', "''"));
    out.push('\'');
}

fn write_column(out: &mut String, name: &str, column: &ColumnLat) {
    let ft = column.ty.to_field_type();
    write_name(out, name);
    out.push(' ');
    write_field_type(out, &ft);
    if !column.generated_expr.0.is_empty() {
        out.push_str(" GENERATED ALWAYS AS (");
        out.push_str(&column.generated_expr.0);
        out.push(')');
    }
    if column.generated_stored.0 {
        out.push_str(" STORED");
    }
    if ft.flag & mysql::NOT_NULL_FLAG != 0 {
        out.push_str(" NOT NULL");
    }
    if let Some(Singleton(DefaultValue(value))) = &column.default.0 {
        out.push_str(" DEFAULT ");
        out.push_str(&match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => {
                n.as_f64().map(go_float).unwrap_or_else(|| n.to_string())
            }
            other => other.to_string(),
        });
    }
    if ft.flag & mysql::AUTO_INCREMENT_FLAG != 0 {
        out.push_str(" AUTO_INCREMENT");
    }
}

fn write_index(out: &mut String, name: &str, index: &IndexLat) {
    if !index.not_primary.0 {
        out.push_str("PRIMARY KEY");
    } else if !index.not_unique.0 {
        out.push_str("UNIQUE KEY ");
        write_name(out, name);
    } else {
        out.push_str("KEY ");
        write_name(out, name);
    }
    let index_type = index.index_type.0 .0;
    if index_type != mysql::INDEX_TYPE_BTREE {
        out.push_str(" USING ");
        out.push_str(mysql::index_type_name(index_type));
    }
    out.push_str(" (");
    for (i, (column, length)) in index.parts().iter().enumerate() {
        if i != 0 {
            out.push_str(", ");
        }
        write_name(out, column);
        if *length != mysql::UNSPECIFIED_LENGTH {
            out.push_str(&format!("({length})"));
        }
    }
    out.push(')');
}

/// TiDB's `types.TypeToStr`: the type keyword, with the binary spelling for
/// binary-charset strings (`BLOB`, `VARBINARY`).
fn type_keyword(tp: u8, charset: &str) -> String {
    let name = match tp {
        mysql::TYPE_BIT => "bit",
        mysql::TYPE_BLOB => "text",
        mysql::TYPE_DATE => "date",
        mysql::TYPE_DATETIME => "datetime",
        mysql::TYPE_UNSPECIFIED => "unspecified",
        mysql::TYPE_NEW_DECIMAL => "decimal",
        mysql::TYPE_DOUBLE => "double",
        mysql::TYPE_ENUM => "enum",
        mysql::TYPE_FLOAT => "float",
        mysql::TYPE_GEOMETRY => "geometry",
        mysql::TYPE_INT24 => "mediumint",
        mysql::TYPE_JSON => "json",
        mysql::TYPE_LONG => "int",
        mysql::TYPE_LONGLONG => "bigint",
        mysql::TYPE_LONG_BLOB => "longtext",
        mysql::TYPE_MEDIUM_BLOB => "mediumtext",
        mysql::TYPE_NULL => "null",
        mysql::TYPE_SET => "set",
        mysql::TYPE_SHORT => "smallint",
        mysql::TYPE_STRING => "char",
        mysql::TYPE_DURATION => "time",
        mysql::TYPE_TIMESTAMP => "timestamp",
        mysql::TYPE_TINY => "tinyint",
        mysql::TYPE_TINY_BLOB => "tinytext",
        mysql::TYPE_VARCHAR => "varchar",
        mysql::TYPE_VAR_STRING => "var_string",
        mysql::TYPE_YEAR => "year",
        mysql::TYPE_TIDB_VECTOR_FLOAT32 => "vector",
        _ => "",
    };
    let name = if charset != mysql::CHARSET_BINARY {
        name.to_owned()
    } else if mysql::is_blob_type(tp) {
        name.replacen("text", "blob", 1)
    } else if mysql::is_char_type(tp) {
        name.replacen("char", "binary", 1)
    } else {
        name.to_owned()
    };
    name.to_uppercase()
}

/// TiDB's `FieldType.Restore`.
fn write_field_type(out: &mut String, ft: &FieldType) {
    let tp = ft.tp;
    out.push_str(&type_keyword(tp, &ft.charset));
    let (precision, scale) = match tp {
        mysql::TYPE_ENUM | mysql::TYPE_SET => {
            out.push('(');
            for (i, member) in ft.elems.iter().enumerate() {
                if i != 0 {
                    out.push(',');
                }
                write_string(out, member);
            }
            out.push(')');
            (mysql::UNSPECIFIED_LENGTH, mysql::UNSPECIFIED_LENGTH)
        }
        mysql::TYPE_TIMESTAMP | mysql::TYPE_DATETIME | mysql::TYPE_DURATION => {
            (ft.decimal, mysql::UNSPECIFIED_LENGTH)
        }
        mysql::TYPE_UNSPECIFIED
        | mysql::TYPE_FLOAT
        | mysql::TYPE_DOUBLE
        | mysql::TYPE_NEW_DECIMAL => (ft.flen, ft.decimal),
        _ => (ft.flen, mysql::UNSPECIFIED_LENGTH),
    };
    if precision != mysql::UNSPECIFIED_LENGTH {
        out.push_str(&format!("({precision}"));
        if scale != mysql::UNSPECIFIED_LENGTH {
            out.push_str(&format!(",{scale}"));
        }
        out.push(')');
    }
    if ft.flag & mysql::UNSIGNED_FLAG != 0 {
        out.push_str(" UNSIGNED");
    }
    if ft.flag & mysql::ZEROFILL_FLAG != 0 {
        out.push_str(" ZEROFILL");
    }
    if ft.flag & mysql::BINARY_FLAG != 0 && ft.charset != mysql::CHARSET_BINARY {
        out.push_str(" BINARY");
    }
    if mysql::is_char_type(tp) || mysql::is_blob_type(tp) {
        if !ft.charset.is_empty() && ft.charset != mysql::CHARSET_BINARY {
            out.push_str(" CHARACTER SET ");
            out.push_str(&ft.charset.to_uppercase());
        }
        if !ft.collate.is_empty() && ft.collate != mysql::COLLATION_BINARY {
            out.push_str(" COLLATE ");
            out.push_str(&ft.collate);
        }
    }
}
