//! The worker's upstream schema tracker: applies MySQL DDL to the
//! `TableInfo` of every tracked table, the way DM's tracker (TiDB's
//! `schematracker`) does, and turns each upstream DDL into what a shard-DDL
//! Info needs: the split single-operation statements re-printed with routed
//! table names, the table's schema before, and its schema after each
//! statement.
//!
//! PURE: no async, no I/O. [`Tracker::apply`] is atomic: on error nothing
//! changes.
//!
//! Pipeline: `lex` (pre-parser on `sqlparser` tokens) → `sqlparser` with
//! `dialect::DmDialect` → edits in `table` / `column` → printing in
//! `render`.
//!
//! Supported, tracked: CREATE TABLE (incl. LIKE), ALTER TABLE ADD / DROP /
//! MODIFY / CHANGE / RENAME COLUMN, ALTER COLUMN SET / DROP DEFAULT, ADD /
//! DROP INDEX / KEY / UNIQUE / PRIMARY KEY, RENAME INDEX, ALTER INDEX
//! VISIBLE / INVISIBLE, table options (charset, collation, comment), CONVERT
//! TO CHARACTER SET, RENAME (ALTER TABLE ... RENAME and RENAME TABLE), DROP
//! TABLE, TRUNCATE TABLE, CREATE / DROP INDEX, CREATE / ALTER / DROP
//! DATABASE. Passed through without schema change: partition management,
//! FULLTEXT / SPATIAL keys, FOREIGN KEY and CHECK constraints, other table
//! options (ENGINE, ROW_FORMAT, ...), FORCE, ORDER BY.
//!
//! Like DM, a statement that is already applied to the tracked schema (ADD
//! of an existing column or index, DROP of a missing one, CREATE of an
//! existing table, DROP of a missing table) changes nothing and is still
//! emitted, so replays stay idempotent; DM's tracker returns these errors
//! and DM ignores them.
//!
//! Where we differ from DM: `ALGORITHM=` / `LOCK=` clauses are dropped from
//! the split statements (DM emits them as statements of their own, which
//! MySQL runs as a table rebuild); AUTO_INCREMENT table options do not set
//! `auto_inc_id` (shards differ there and it is not schema); column key
//! flags are recomputed from the indexes after each statement; CREATE
//! TEMPORARY TABLE, CREATE TABLE ... SELECT, expression indexes and spatial
//! types are rejected; `VISIBLE` / `INVISIBLE` on a key inside CREATE TABLE
//! is tracked but not re-printed (`sqlparser` cannot print it), and on
//! ADD INDEX it is sent as a following `ALTER INDEX`. Statement text
//! differs from DM's (see `render`).

mod alter;
mod column;
mod create;
mod dialect;
#[cfg(test)]
mod fuzz;
mod lex;
mod render;
mod statement;
mod table;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use dm_master::tableinfo::{mysql, CIStr, TableInfo};
use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnOption, CreateIndex, CreateTable,
    CreateTableLikeKind, ObjectName, ObjectType, Statement,
};
use sqlparser::parser::{Parser, ParserOptions};

use column::{build_column, ident_name, resolve_charset, set_default};
use dialect::DmDialect;
use lex::{Raw, Spec, TableOptions};
use table::{IndexSpec, PrimaryNotNull};

/// A table name as written upstream (or downstream): case is kept and
/// names compare exactly, as MySQL does on Linux
/// (`lower_case_table_names = 0`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName {
    /// Database (schema) name.
    pub schema: String,
    /// Table name; empty when a database itself is routed.
    pub table: String,
}

impl TableName {
    /// A table in `schema`.
    pub fn new(schema: impl Into<String>, table: impl Into<String>) -> Self {
        TableName {
            schema: schema.into(),
            table: table.into(),
        }
    }
}

impl fmt::Display for TableName {
    /// `` `schema`.`table` ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render::table_text(self))
    }
}

/// Maps upstream table names to downstream ones (DM's route rules). A
/// database on its own is routed as a name with an empty table.
pub trait Router {
    /// The downstream name of `upstream`.
    fn route(&self, upstream: &TableName) -> TableName;
}

impl<F> Router for F
where
    F: Fn(&TableName) -> TableName,
{
    fn route(&self, upstream: &TableName) -> TableName {
        self(upstream)
    }
}

/// Routing that keeps every name.
#[derive(Debug, Clone, Copy, Default)]
pub struct SameName;

impl Router for SameName {
    fn route(&self, upstream: &TableName) -> TableName {
        upstream.clone()
    }
}

/// What a split statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// CREATE DATABASE.
    CreateDatabase,
    /// ALTER DATABASE.
    AlterDatabase,
    /// DROP DATABASE.
    DropDatabase,
    /// CREATE TABLE (also LIKE).
    CreateTable,
    /// DROP TABLE (one table).
    DropTable,
    /// TRUNCATE TABLE.
    TruncateTable,
    /// RENAME TABLE / ALTER TABLE ... RENAME (one pair).
    RenameTable,
    /// One ALTER TABLE operation, CREATE INDEX or DROP INDEX.
    AlterTable,
    /// A statement passed through that changes nothing the tracker models
    /// (partition management, FULLTEXT keys, ...).
    PassThrough,
}

/// One split statement with the schemas around it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedStatement {
    /// What the statement does.
    pub kind: StatementKind,
    /// The statement for the downstream: routed names.
    pub sql: String,
    /// The same statement with upstream names (schema filled in).
    pub upstream_sql: String,
    /// The upstream table the statement is about (`None` for database
    /// statements).
    pub table: Option<TableName>,
    /// Its routed name.
    pub target: Option<TableName>,
    /// The table's schema before the statement (`None`: not tracked).
    pub before: Option<TableInfo>,
    /// Its schema after the statement (`None`: dropped). After a rename,
    /// the schema under the new name.
    pub after: Option<TableInfo>,
}

/// The result of applying one upstream DDL.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrackedDdl {
    /// The split statements, in order.
    pub statements: Vec<TrackedStatement>,
}

impl TrackedDdl {
    /// The downstream statements (an Info's `ddls`).
    pub fn ddls(&self) -> Vec<String> {
        self.statements.iter().map(|s| s.sql.clone()).collect()
    }

    /// The table's schema before the DDL (an Info's `table-info-before`).
    pub fn table_info_before(&self) -> Option<&TableInfo> {
        self.statements.first().and_then(|s| s.before.as_ref())
    }

    /// The schema after each statement (an Info's `table-info-after`).
    pub fn table_infos_after(&self) -> Vec<Option<&TableInfo>> {
        self.statements.iter().map(|s| s.after.as_ref()).collect()
    }

    /// No statement (e.g. an ALTER with only `ALGORITHM=`).
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}

/// Why a DDL could not be tracked. Every variant names the statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    /// Neither the pre-parser nor `sqlparser` could read it.
    #[error("cannot parse DDL `{statement}`: {reason}")]
    Parse { statement: String, reason: String },
    /// Readable, but not something the tracker handles.
    #[error("DDL `{statement}` is not supported by the schema tracker: {reason}")]
    Unsupported { statement: String, reason: String },
    /// It changes a table the tracker does not know.
    #[error("DDL `{statement}` refers to table {table}, which is not tracked")]
    TableNotFound { statement: String, table: TableName },
    /// It is inconsistent with the tracked schema (unknown column, ...).
    #[error("DDL `{statement}` does not apply to the tracked schema: {reason}")]
    Invalid { statement: String, reason: String },
}

/// Statement text in errors: long statements are cut.
fn excerpt(sql: &str) -> String {
    const MAX: usize = 300;
    let sql = sql.trim();
    match sql.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &sql[..cut]),
        None => sql.to_owned(),
    }
}

/// Explicit default charset and collation of a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaCharset {
    /// Default charset of new tables.
    pub charset: String,
    /// Default collation of new tables.
    pub collate: String,
}

/// The tracked schemas of one upstream source.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    /// Databases created with an explicit charset; others use TiDB's
    /// default (utf8mb4 / utf8mb4_bin).
    schemas: BTreeMap<String, SchemaCharset>,
    tables: BTreeMap<TableName, TableInfo>,
}

impl Tracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Tracker::default()
    }

    /// The tracked schema of `name`.
    pub fn table(&self, name: &TableName) -> Option<&TableInfo> {
        self.tables.get(name)
    }

    /// All tracked tables.
    pub fn tables(&self) -> impl Iterator<Item = (&TableName, &TableInfo)> + '_ {
        self.tables.iter()
    }

    /// Sets a table's schema directly (seeding from a checkpoint, or DM's
    /// revert to `table-info-before`).
    pub fn set_table(&mut self, name: TableName, info: TableInfo) {
        self.tables.insert(name, info);
    }

    /// Forgets a table.
    pub fn remove_table(&mut self, name: &TableName) -> Option<TableInfo> {
        self.tables.remove(name)
    }

    /// The explicit charset of a database, if it was created with one.
    pub fn schema_charset(&self, schema: &str) -> Option<&SchemaCharset> {
        self.schemas.get(schema)
    }

    /// Applies one upstream DDL text (one or more `;`-separated statements)
    /// run with `current_schema` as the default database, and returns the
    /// split statements routed by `router`. On error the tracker is
    /// unchanged.
    pub fn apply(
        &mut self,
        current_schema: &str,
        ddl: &str,
        router: &dyn Router,
    ) -> Result<TrackedDdl, TrackerError> {
        let tokens = lex::tokenize(ddl).map_err(|reason| TrackerError::Parse {
            statement: excerpt(ddl),
            reason,
        })?;
        let mut applier = Applier {
            stage: Stage::new(self),
            current_schema,
            router,
            statement: String::new(),
            out: Vec::new(),
        };
        for statement in lex::split_statements(&tokens) {
            applier.statement = excerpt(&lex::render(statement));
            let raw = lex::classify(statement).map_err(|reason| applier.parse_error(reason))?;
            applier.on_raw(raw)?;
        }
        let Applier { stage, out, .. } = applier;
        let changes = stage.into_changes();
        self.commit(changes);
        Ok(TrackedDdl { statements: out })
    }

    fn commit(&mut self, changes: Changes) {
        apply(&mut self.tables, changes.tables);
        apply(&mut self.schemas, changes.schemas);
    }
}

/// Writes staged entries into `map`: `Some` puts, `None` removes.
fn apply<K: Ord, V>(map: &mut BTreeMap<K, V>, staged: BTreeMap<K, Option<V>>) {
    for (key, value) in staged {
        match value {
            Some(value) => {
                map.insert(key, value);
            }
            None => {
                map.remove(&key);
            }
        }
    }
}

/// Changes made while applying one DDL (`None`: removed).
struct Changes {
    tables: BTreeMap<TableName, Option<TableInfo>>,
    schemas: BTreeMap<String, Option<SchemaCharset>>,
}

/// The tracker seen through the changes of the DDL being applied.
struct Stage<'a> {
    base: &'a Tracker,
    changes: Changes,
}

impl<'a> Stage<'a> {
    fn new(base: &'a Tracker) -> Self {
        Stage {
            base,
            changes: Changes {
                tables: BTreeMap::new(),
                schemas: BTreeMap::new(),
            },
        }
    }

    fn table(&self, name: &TableName) -> Option<&TableInfo> {
        match self.changes.tables.get(name) {
            Some(info) => info.as_ref(),
            None => self.base.tables.get(name),
        }
    }

    fn put_table(&mut self, name: TableName, info: TableInfo) {
        self.changes.tables.insert(name, Some(info));
    }

    fn remove_table(&mut self, name: &TableName) {
        self.changes.tables.insert(name.clone(), None);
    }

    fn tables_in_schema(&self, schema: &str) -> Vec<TableName> {
        let mut names: Vec<TableName> = self
            .base
            .tables
            .keys()
            .chain(self.changes.tables.keys())
            .filter(|n| n.schema == schema)
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names.retain(|n| self.table(n).is_some());
        names
    }

    fn schema(&self, name: &str) -> Option<&SchemaCharset> {
        match self.changes.schemas.get(name) {
            Some(charset) => charset.as_ref(),
            None => self.base.schemas.get(name),
        }
    }

    /// Default charset and collation of new tables in `schema`.
    fn schema_defaults(&self, schema: &str) -> (String, String) {
        match self.schema(schema) {
            Some(s) => (s.charset.clone(), s.collate.clone()),
            None => (
                mysql::CHARSET_UTF8MB4.to_owned(),
                mysql::COLLATION_UTF8MB4_BIN.to_owned(),
            ),
        }
    }

    fn into_changes(self) -> Changes {
        self.changes
    }
}

/// State of one [`Tracker::apply`].
struct Applier<'a> {
    stage: Stage<'a>,
    current_schema: &'a str,
    router: &'a dyn Router,
    /// The statement being applied, for error messages.
    statement: String,
    out: Vec<TrackedStatement>,
}
