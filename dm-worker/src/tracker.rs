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

mod column;
mod dialect;
#[cfg(test)]
mod fuzz;
mod lex;
mod render;
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
        for (name, info) in changes.tables {
            match info {
                Some(info) => {
                    self.tables.insert(name, info);
                }
                None => {
                    self.tables.remove(&name);
                }
            }
        }
        for (name, charset) in changes.schemas {
            match charset {
                Some(charset) => {
                    self.schemas.insert(name, charset);
                }
                None => {
                    self.schemas.remove(&name);
                }
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

/// Parses one statement with the extended MySQL dialect, without
/// unescaping (so printing keeps literals as written).
fn parse_one(sql: &str) -> Result<Statement, String> {
    let dialect = DmDialect::default();
    let mut statements = Parser::new(&dialect)
        .with_options(ParserOptions::new().with_unescape(false))
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| e.to_string())?;
    match (statements.pop(), statements.is_empty()) {
        (Some(statement), true) => Ok(statement),
        _ => Err("expected exactly one statement".to_owned()),
    }
}

impl Applier<'_> {
    fn parse_error(&self, reason: impl Into<String>) -> TrackerError {
        TrackerError::Parse {
            statement: self.statement.clone(),
            reason: reason.into(),
        }
    }

    fn unsupported(&self, reason: impl Into<String>) -> TrackerError {
        TrackerError::Unsupported {
            statement: self.statement.clone(),
            reason: reason.into(),
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> TrackerError {
        TrackerError::Invalid {
            statement: self.statement.clone(),
            reason: reason.into(),
        }
    }

    fn not_found(&self, table: &TableName) -> TrackerError {
        TrackerError::TableNotFound {
            statement: self.statement.clone(),
            table: table.clone(),
        }
    }

    /// `[schema.]table` with the current schema filled in.
    fn resolve(&self, parts: &[String]) -> Result<TableName, TrackerError> {
        match parts {
            [table] if !self.current_schema.is_empty() => {
                Ok(TableName::new(self.current_schema, table.clone()))
            }
            [_] => Err(self.invalid("the table has no database and there is no current database")),
            [schema, table] => Ok(TableName::new(schema.clone(), table.clone())),
            _ => Err(self.invalid(format!("`{}` is not a table name", parts.join(".")))),
        }
    }

    fn resolve_object(&self, name: &ObjectName) -> Result<TableName, TrackerError> {
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|p| p.as_ident().map(ident_name).unwrap_or_default())
            .collect();
        self.resolve(&parts)
    }

    fn route(&self, name: &TableName) -> TableName {
        self.router.route(name)
    }

    fn route_schema(&self, schema: &str) -> String {
        self.router.route(&TableName::new(schema, "")).schema
    }

    fn tracked(&self, name: &TableName) -> Result<TableInfo, TrackerError> {
        self.stage
            .table(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        kind: StatementKind,
        sql: String,
        upstream_sql: String,
        table: Option<TableName>,
        before: Option<TableInfo>,
        after: Option<TableInfo>,
    ) {
        let target = table.as_ref().map(|t| self.route(t));
        self.out.push(TrackedStatement {
            kind,
            sql,
            upstream_sql,
            table,
            target,
            before,
            after,
        });
    }

    fn on_raw(&mut self, raw: Raw) -> Result<(), TrackerError> {
        match raw {
            Raw::AlterTable { name, specs } => {
                let mut table = self.resolve(&name)?;
                for spec in specs {
                    table = self.on_spec(table, spec)?;
                }
                Ok(())
            }
            Raw::CreateTable {
                head,
                options,
                tail,
                invisible_indexes,
            } => match parse_one(&head).map_err(|e| self.parse_error(e))? {
                Statement::CreateTable(create) => {
                    self.on_create_table(create, &options, &tail, &invisible_indexes)
                }
                _ => Err(self.unsupported("not a CREATE TABLE")),
            },
            Raw::CreateDatabase {
                name,
                if_not_exists: _,
                options,
            } => {
                // Like DM, CREATE DATABASE is sent as IF NOT EXISTS and an
                // existing database keeps its charset.
                if self.stage.schema(&name).is_none() {
                    if let Some((charset, collate)) =
                        resolve_charset(options.charset.as_deref(), options.collate.as_deref())
                    {
                        self.stage
                            .changes
                            .schemas
                            .insert(name.clone(), Some(SchemaCharset { charset, collate }));
                    }
                }
                let text = |db: &str| {
                    let mut sql = format!("CREATE DATABASE IF NOT EXISTS {}", column::quoted(db));
                    if !options.text.is_empty() {
                        sql.push(' ');
                        sql.push_str(&options.text);
                    }
                    sql
                };
                let sql = text(&self.route_schema(&name));
                let upstream = text(&name);
                self.emit(
                    StatementKind::CreateDatabase,
                    sql,
                    upstream,
                    None,
                    None,
                    None,
                );
                Ok(())
            }
            Raw::AlterDatabase { name, options } => {
                let name = match name {
                    Some(name) => name,
                    None if !self.current_schema.is_empty() => self.current_schema.to_owned(),
                    None => return Err(self.invalid("ALTER DATABASE without a database")),
                };
                if let Some((charset, collate)) =
                    resolve_charset(options.charset.as_deref(), options.collate.as_deref())
                {
                    self.stage
                        .changes
                        .schemas
                        .insert(name.clone(), Some(SchemaCharset { charset, collate }));
                }
                let text =
                    |db: &str| format!("ALTER DATABASE {} {}", column::quoted(db), options.text);
                let sql = text(&self.route_schema(&name));
                let upstream = text(&name);
                self.emit(
                    StatementKind::AlterDatabase,
                    sql,
                    upstream,
                    None,
                    None,
                    None,
                );
                Ok(())
            }
            Raw::DropDatabase { name, if_exists: _ } => {
                for table in self.stage.tables_in_schema(&name) {
                    self.stage.remove_table(&table);
                }
                self.stage.changes.schemas.insert(name.clone(), None);
                let text = |db: &str| format!("DROP DATABASE IF EXISTS {}", column::quoted(db));
                let sql = text(&self.route_schema(&name));
                let upstream = text(&name);
                self.emit(StatementKind::DropDatabase, sql, upstream, None, None, None);
                Ok(())
            }
            Raw::OpaqueOnTable {
                prefix,
                name,
                suffix,
            } => {
                let table = self.resolve(&name)?;
                let current = self.stage.table(&table).cloned();
                let sql = format!("{prefix}{}{suffix}", self.route(&table));
                let upstream = format!("{prefix}{table}{suffix}");
                self.emit(
                    StatementKind::PassThrough,
                    sql,
                    upstream,
                    Some(table),
                    current.clone(),
                    current,
                );
                Ok(())
            }
            Raw::Sql(sql) => {
                let statement = parse_one(&sql).map_err(|e| self.parse_error(e))?;
                self.on_statement(statement)
            }
        }
    }

    fn on_statement(&mut self, statement: Statement) -> Result<(), TrackerError> {
        match statement {
            Statement::CreateTable(create) => {
                self.on_create_table(create, &TableOptions::default(), "", &[])
            }
            Statement::Drop {
                object_type: ObjectType::Table,
                names,
                temporary,
                ..
            } => {
                if temporary {
                    return Err(self.unsupported("temporary tables are not replicated"));
                }
                for name in &names {
                    let table = self.resolve_object(name)?;
                    let before = self.stage.table(&table).cloned();
                    if before.is_some() {
                        self.stage.remove_table(&table);
                    }
                    // Like DM: one statement per table, IF EXISTS.
                    let sql = format!("DROP TABLE IF EXISTS {}", self.route(&table));
                    let upstream = format!("DROP TABLE IF EXISTS {table}");
                    self.emit(
                        StatementKind::DropTable,
                        sql,
                        upstream,
                        Some(table),
                        before,
                        None,
                    );
                }
                Ok(())
            }
            Statement::Drop {
                object_type: ObjectType::Index,
                names,
                table: Some(on),
                ..
            } => {
                let table = self.resolve_object(&on)?;
                let [index] = names.as_slice() else {
                    return Err(self.unsupported("DROP INDEX of several indexes"));
                };
                let index_name = column::object_name_last(index);
                let before = self.tracked(&table)?;
                let mut after = before.clone();
                table::drop_index(&mut after, &index_name);
                let text =
                    |t: &TableName| format!("DROP INDEX {} ON {t}", column::quoted(&index_name));
                let sql = text(&self.route(&table));
                let upstream = text(&table);
                self.stage.put_table(table.clone(), after.clone());
                self.emit(
                    StatementKind::AlterTable,
                    sql,
                    upstream,
                    Some(table),
                    Some(before),
                    Some(after),
                );
                Ok(())
            }
            Statement::Truncate(truncate) => {
                for target in &truncate.table_names {
                    let table = self.resolve_object(&target.name)?;
                    let current = self.stage.table(&table).cloned();
                    let sql = format!("TRUNCATE TABLE {}", self.route(&table));
                    let upstream = format!("TRUNCATE TABLE {table}");
                    self.emit(
                        StatementKind::TruncateTable,
                        sql,
                        upstream,
                        Some(table),
                        current.clone(),
                        current,
                    );
                }
                Ok(())
            }
            Statement::RenameTable(pairs) => {
                for pair in &pairs {
                    let from = self.resolve_object(&pair.old_name)?;
                    let to = self.resolve_object(&pair.new_name)?;
                    let (before, after) = self.rename_table(&from, &to)?;
                    let sql = format!("RENAME TABLE {} TO {}", self.route(&from), self.route(&to));
                    let upstream = format!("RENAME TABLE {from} TO {to}");
                    self.emit(
                        StatementKind::RenameTable,
                        sql,
                        upstream,
                        Some(from),
                        Some(before),
                        Some(after),
                    );
                }
                Ok(())
            }
            Statement::CreateIndex(create) => self.on_create_index(create),
            other => {
                let what = other.to_string();
                let first: String = what
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                Err(self.unsupported(format!("`{first}` statements are not table DDL")))
            }
        }
    }

    /// Moves a table to a new name; returns its schema before and after.
    fn rename_table(
        &mut self,
        from: &TableName,
        to: &TableName,
    ) -> Result<(TableInfo, TableInfo), TrackerError> {
        let before = self.tracked(from)?;
        if from == to {
            return Ok((before.clone(), before));
        }
        if self.stage.table(to).is_some() {
            return Err(self.invalid(format!("table {to} already exists")));
        }
        let mut after = before.clone();
        after.name = CIStr::new(&to.table);
        self.stage.remove_table(from);
        self.stage.put_table(to.clone(), after.clone());
        Ok((before, after))
    }

    fn on_create_table(
        &mut self,
        mut create: CreateTable,
        options: &TableOptions,
        tail: &str,
        invisible_indexes: &[String],
    ) -> Result<(), TrackerError> {
        if create.query.is_some() {
            return Err(self.unsupported("CREATE TABLE ... SELECT"));
        }
        if create.temporary {
            return Err(self.unsupported("temporary tables are not replicated"));
        }
        let table = self.resolve_object(&create.name)?;
        let existing = self.stage.table(&table).cloned();

        let like = match &create.like {
            Some(CreateTableLikeKind::Plain(like) | CreateTableLikeKind::Parenthesized(like)) => {
                Some(self.resolve_object(&like.name)?)
            }
            None => None,
        };
        let built = match &like {
            Some(source) => {
                // TiDB's BuildTableInfoWithLike: a copy under the new name.
                let mut info = self.tracked(source)?;
                info.name = CIStr::new(&table.table);
                info
            }
            None => {
                let mut info = self.build_table(&create, &table, options)?;
                for index in &mut info.indices {
                    if invisible_indexes
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(&index.name.o))
                    {
                        index.is_invisible = true;
                    }
                }
                info
            }
        };

        // CREATE of an existing table keeps it (DM sends IF NOT EXISTS).
        let after = match &existing {
            Some(info) => info.clone(),
            None => {
                self.stage.put_table(table.clone(), built.clone());
                built
            }
        };

        create.if_not_exists = true;
        render::quote_create_table(&mut create);
        let print = |create: &mut CreateTable, name: &TableName, like: Option<&TableName>| {
            create.name = render::object_name(name);
            if let (Some(kind), Some(source)) = (&mut create.like, like) {
                match kind {
                    CreateTableLikeKind::Plain(l) | CreateTableLikeKind::Parenthesized(l) => {
                        l.name = render::object_name(source);
                    }
                }
            }
            let mut sql = create.to_string();
            if !tail.is_empty() {
                sql.push(' ');
                sql.push_str(tail);
            }
            sql
        };
        let routed = self.route(&table);
        let routed_like = like.as_ref().map(|l| self.route(l));
        let sql = print(&mut create, &routed, routed_like.as_ref());
        let upstream = print(&mut create, &table, like.as_ref());
        self.emit(
            StatementKind::CreateTable,
            sql,
            upstream,
            Some(table),
            existing,
            Some(after),
        );
        Ok(())
    }

    /// TiDB's `BuildTableInfoWithStmt` for the tracker's purposes.
    fn build_table(
        &self,
        create: &CreateTable,
        table: &TableName,
        options: &TableOptions,
    ) -> Result<TableInfo, TrackerError> {
        let (charset, collate) =
            match resolve_charset(options.charset.as_deref(), options.collate.as_deref()) {
                Some(pair) => pair,
                None => self.stage.schema_defaults(&table.schema),
            };
        let mut info = table::new_table(
            &table.table,
            &charset,
            &collate,
            options.comment.as_deref().unwrap_or(""),
        );

        // Constraints in TiDB's order: table-level ones, then the ones
        // declared inline, in column order.
        let mut constraints: Vec<(Option<String>, Option<IndexSpec>)> = Vec::new();
        for constraint in &create.constraints {
            let spec = table::index_spec(constraint).map_err(|e| self.unsupported(e))?;
            let name = table::constraint_name(constraint);
            let makes_name = spec.is_some()
                || matches!(
                    constraint,
                    sqlparser::ast::TableConstraint::FulltextOrSpatial(_)
                );
            if makes_name {
                constraints.push((name, spec));
            }
        }
        let mut inline = Vec::new();
        for def in &create.columns {
            let name = ident_name(&def.name);
            if info.column(&name).is_some() {
                return Err(self.invalid(format!("duplicate column name `{name}`")));
            }
            let options: Vec<&ColumnOption> = def.options.iter().map(|o| &o.option).collect();
            let built = build_column(&name, &def.data_type, &options, &charset, &collate, false)
                .map_err(|e| self.unsupported(e))?;
            info.push_column(built.column);
            let part = vec![(name.clone(), mysql::UNSPECIFIED_LENGTH)];
            if built.primary_key {
                inline.push((
                    None,
                    Some(IndexSpec {
                        name: None,
                        primary: true,
                        unique: true,
                        parts: part.clone(),
                        index_type: mysql::INDEX_TYPE_BTREE,
                        comment: String::new(),
                    }),
                ));
            }
            if built.unique_key {
                inline.push((
                    None,
                    Some(IndexSpec {
                        name: None,
                        primary: false,
                        unique: true,
                        parts: part,
                        index_type: mysql::INDEX_TYPE_BTREE,
                        comment: String::new(),
                    }),
                ));
            }
        }
        constraints.extend(inline);

        // TiDB's checkConstraintNames: explicit names first, then every
        // anonymous key (the primary key too) takes its first column's name.
        let mut taken: Vec<String> = constraints
            .iter()
            .filter_map(|(name, _)| name.as_ref().map(|n| n.to_lowercase()))
            .collect();
        let mut has_primary = false;
        for (name, spec) in &constraints {
            let first = spec
                .as_ref()
                .and_then(|s| s.parts.first())
                .map(|(c, _)| c.clone());
            let name = match (name, first) {
                (Some(name), _) => name.clone(),
                (None, Some(first)) => {
                    let name =
                        table::anonymous_index_name(&first, |n| taken.iter().any(|t| t == n));
                    taken.push(name.to_lowercase());
                    name
                }
                (None, None) => continue,
            };
            let Some(spec) = spec else { continue };
            let index_name = if spec.primary {
                if has_primary {
                    return Err(self.invalid("multiple primary keys defined"));
                }
                has_primary = true;
                mysql::PRIMARY_KEY_NAME.to_owned()
            } else {
                name
            };
            if !spec.primary && info.index(&index_name).is_some() {
                return Err(self.invalid(format!("duplicate key name `{index_name}`")));
            }
            table::push_index(&mut info, spec, &index_name, PrimaryNotNull::WithNoDefault)
                .map_err(|e| self.invalid(e))?;
        }
        table::recompute_key_flags(&mut info);
        Ok(info)
    }

    fn on_create_index(&mut self, mut create: CreateIndex) -> Result<(), TrackerError> {
        let table = self.resolve_object(&create.table_name)?;
        let before = self.tracked(&table)?;
        let mut after = before.clone();
        let parts = table::key_parts(&create.columns).map_err(|e| self.unsupported(e))?;
        let (index_type, comment) = {
            let mut index_type = match create.using {
                Some(sqlparser::ast::IndexType::Hash) => mysql::INDEX_TYPE_HASH,
                _ => mysql::INDEX_TYPE_BTREE,
            };
            let mut comment = String::new();
            for option in &create.index_options {
                match option {
                    sqlparser::ast::IndexOption::Using(sqlparser::ast::IndexType::Hash) => {
                        index_type = mysql::INDEX_TYPE_HASH;
                    }
                    sqlparser::ast::IndexOption::Using(_) => {}
                    sqlparser::ast::IndexOption::Comment(raw) => {
                        comment = lex::unescape_string(raw);
                    }
                }
            }
            (index_type, comment)
        };
        let spec = IndexSpec {
            name: create.name.as_ref().map(column::object_name_last),
            primary: false,
            unique: create.unique,
            parts,
            index_type,
            comment,
        };
        self.add_index(&mut after, &spec)?;
        render::quote_create_index(&mut create);
        create.table_name = render::object_name(&self.route(&table));
        let sql = create.to_string();
        create.table_name = render::object_name(&table);
        let upstream = create.to_string();
        self.stage.put_table(table.clone(), after.clone());
        self.emit(
            StatementKind::AlterTable,
            sql,
            upstream,
            Some(table),
            Some(before),
            Some(after),
        );
        Ok(())
    }

    /// ADD INDEX / UNIQUE / PRIMARY KEY on an existing table. An index
    /// whose name exists, or a second primary key, changes nothing (DM
    /// ignores these tracker errors).
    fn add_index(&self, info: &mut TableInfo, spec: &IndexSpec) -> Result<(), TrackerError> {
        let name = if spec.primary {
            if info.indices.iter().any(|i| i.is_primary) {
                return Ok(());
            }
            mysql::PRIMARY_KEY_NAME.to_owned()
        } else {
            match &spec.name {
                Some(name) => name.clone(),
                None => {
                    let first = spec
                        .parts
                        .first()
                        .map(|(c, _)| c.clone())
                        .unwrap_or_default();
                    table::anonymous_index_name(&first, |n| info.index(n).is_some())
                }
            }
        };
        if info.index(&name).is_some() {
            return Ok(());
        }
        let not_null = PrimaryNotNull::Plain;
        table::push_index(info, spec, &name, not_null).map_err(|e| self.invalid(e))
    }

    /// Applies one ALTER TABLE operation to `table`; returns the table's name
    /// afterwards (RENAME changes it for the operations that follow).
    fn on_spec(&mut self, table: TableName, spec: Spec) -> Result<TableName, TrackerError> {
        let before = self.tracked(&table)?;
        let mut after = before.clone();
        let mut next = table.clone();
        let mut kind = StatementKind::AlterTable;
        // The operation text after `ALTER TABLE <name> `, given the names to
        // print for this table and (for RENAME) the new name.
        let op_text: Box<dyn Fn(&TableName) -> String>;
        match spec {
            Spec::Sql(text) => {
                let statement =
                    parse_one(&format!("ALTER TABLE t {text}")).map_err(|e| self.parse_error(e))?;
                let Statement::AlterTable(alter) = statement else {
                    return Err(self.parse_error("not an ALTER TABLE operation"));
                };
                let mut operations = alter.operations;
                let (Some(mut op), true) = (operations.pop(), operations.is_empty()) else {
                    return Err(self.parse_error("expected one ALTER TABLE operation"));
                };
                if matches!(op, AlterTableOperation::RenameTable { .. }) {
                    return Err(self.unsupported("RENAME inside a split operation"));
                }
                self.apply_operation(&mut after, &op)?;
                render::quote_operation(&mut op);
                let printed = op.to_string();
                op_text = Box::new(move |_| printed.clone());
            }
            Spec::Options(options) => {
                apply_table_options(&mut after, &options, false);
                let printed = options.text.clone();
                op_text = Box::new(move |_| printed.clone());
            }
            Spec::Convert(options) => {
                apply_table_options(&mut after, &options, true);
                let printed = options.text.clone();
                op_text = Box::new(move |_| printed.clone());
            }
            Spec::RenameTable(parts) => {
                let to = self.resolve(&parts)?;
                let (_, renamed) = self.rename_table(&table, &to)?;
                after = renamed;
                next = to.clone();
                kind = StatementKind::RenameTable;
                let upstream_to = to.clone();
                let routed_to = self.route(&to);
                let routed_from = self.route(&table);
                op_text = Box::new(move |printed_for: &TableName| {
                    if *printed_for == routed_from {
                        format!("RENAME TO {routed_to}")
                    } else {
                        format!("RENAME TO {upstream_to}")
                    }
                });
            }
            Spec::RenameIndex { from, to } => {
                // A missing source or an existing target changes nothing
                // (DM ignores these tracker errors).
                let target_free = after.index(&to).is_none() || from.eq_ignore_ascii_case(&to);
                if let (Some(index), true) = (
                    after
                        .indices
                        .iter_mut()
                        .find(|i| i.name.l == from.to_lowercase()),
                    target_free,
                ) {
                    index.name = CIStr::new(&to);
                }
                let printed = format!(
                    "RENAME INDEX {} TO {}",
                    column::quoted(&from),
                    column::quoted(&to)
                );
                op_text = Box::new(move |_| printed.clone());
            }
            Spec::IndexVisibility { name, invisible } => {
                let lower = name.to_lowercase();
                if let Some(index) = after.indices.iter_mut().find(|i| i.name.l == lower) {
                    index.is_invisible = invisible;
                }
                let printed = format!(
                    "ALTER INDEX {} {}",
                    column::quoted(&name),
                    if invisible { "INVISIBLE" } else { "VISIBLE" }
                );
                op_text = Box::new(move |_| printed.clone());
            }
            Spec::Opaque(text) => {
                kind = StatementKind::PassThrough;
                op_text = Box::new(move |_| text.clone());
            }
        }
        if kind != StatementKind::RenameTable {
            table::fix_offsets(&mut after);
            self.stage.put_table(table.clone(), after.clone());
        }
        let routed = self.route(&table);
        let sql = format!("ALTER TABLE {routed} {}", op_text(&routed));
        let upstream = format!("ALTER TABLE {table} {}", op_text(&table));
        self.emit(kind, sql, upstream, Some(table), Some(before), Some(after));
        Ok(next)
    }

    /// One `sqlparser` ALTER TABLE operation on `info`.
    fn apply_operation(
        &self,
        info: &mut TableInfo,
        op: &AlterTableOperation,
    ) -> Result<(), TrackerError> {
        let (charset, collate) = (info.charset.clone(), info.collate.clone());
        match op {
            AlterTableOperation::AddColumn {
                column_def,
                column_position,
                ..
            } => {
                let name = ident_name(&column_def.name);
                if info.column(&name).is_some() {
                    return Ok(());
                }
                let options: Vec<&ColumnOption> =
                    column_def.options.iter().map(|o| &o.option).collect();
                let built = build_column(
                    &name,
                    &column_def.data_type,
                    &options,
                    &charset,
                    &collate,
                    false,
                )
                .map_err(|e| self.unsupported(e))?;
                let mut new_column = built.column;
                new_column.origin_default = table::origin_default(&new_column);
                new_column.origin_default_bit = new_column.default_bit.clone();
                table::add_column(info, new_column, column_position.as_ref())
                    .map_err(|e| self.invalid(e))?;
                self.add_inline_keys(info, &name, built.primary_key, built.unique_key)?;
            }
            AlterTableOperation::DropColumn { column_names, .. } => {
                for ident in column_names {
                    table::drop_column(info, &ident_name(ident)).map_err(|e| self.invalid(e))?;
                }
            }
            AlterTableOperation::ModifyColumn {
                col_name,
                data_type,
                options,
                column_position,
            } => {
                let name = ident_name(col_name);
                self.modify_column(info, &name, &name, data_type, options, column_position)?;
            }
            AlterTableOperation::ChangeColumn {
                old_name,
                new_name,
                data_type,
                options,
                column_position,
            } => {
                let (old, new) = (ident_name(old_name), ident_name(new_name));
                self.modify_column(info, &old, &new, data_type, options, column_position)?;
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let (old, new) = (ident_name(old_column_name), ident_name(new_column_name));
                if info.column(&old).is_none() {
                    return Err(self.invalid(format!("unknown column `{old}`")));
                }
                // TiDB: a rename that only changes case is a no-op.
                if !old.eq_ignore_ascii_case(&new) {
                    if info.column(&new).is_some() {
                        return Err(self.invalid(format!("duplicate column name `{new}`")));
                    }
                    table::rename_column_everywhere(info, &old, &new);
                }
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let name = ident_name(column_name);
                let column = info
                    .column_mut(&name)
                    .ok_or_else(|| self.invalid(format!("unknown column `{name}`")))?;
                // TiDB's tracker alterColumn.
                column.field_type.flag &= !mysql::NO_DEFAULT_VALUE_FLAG;
                match op {
                    AlterColumnOperation::SetDefault { value } => {
                        set_default(column, value).map_err(|e| self.unsupported(e))?;
                    }
                    AlterColumnOperation::DropDefault => {
                        column.default = serde_json::Value::Null;
                        column.default_bit = serde_json::Value::Null;
                        column.default_is_expr = false;
                        column.field_type.flag |= mysql::NO_DEFAULT_VALUE_FLAG;
                    }
                    other => {
                        return Err(self.unsupported(format!("ALTER COLUMN {other} is not MySQL")))
                    }
                }
            }
            AlterTableOperation::AddConstraint { constraint, .. } => {
                if let Some(spec) =
                    table::index_spec(constraint).map_err(|e| self.unsupported(e))?
                {
                    self.add_index(info, &spec)?;
                }
            }
            AlterTableOperation::DropIndex { name } => {
                table::drop_index(info, &ident_name(name));
            }
            AlterTableOperation::DropPrimaryKey { .. } => {
                table::drop_index(info, mysql::PRIMARY_KEY_NAME);
            }
            // MySQL 8's DROP CONSTRAINT also drops a unique key of that name.
            AlterTableOperation::DropConstraint { name, .. } => {
                table::drop_index(info, &ident_name(name));
            }
            AlterTableOperation::DropForeignKey { .. } => {}
            AlterTableOperation::AutoIncrement { .. }
            | AlterTableOperation::Algorithm { .. }
            | AlterTableOperation::Lock { .. } => {}
            // Handled by the caller.
            AlterTableOperation::RenameTable { .. } => {}
            other => {
                return Err(
                    self.unsupported(format!("`{other}` is not a MySQL ALTER TABLE operation"))
                )
            }
        }
        Ok(())
    }

    /// Indexes declared in a column definition of ADD / MODIFY / CHANGE.
    fn add_inline_keys(
        &self,
        info: &mut TableInfo,
        column_name: &str,
        primary: bool,
        unique: bool,
    ) -> Result<(), TrackerError> {
        let part = vec![(column_name.to_owned(), mysql::UNSPECIFIED_LENGTH)];
        if primary {
            let spec = IndexSpec {
                name: None,
                primary: true,
                unique: true,
                parts: part.clone(),
                index_type: mysql::INDEX_TYPE_BTREE,
                comment: String::new(),
            };
            self.add_index(info, &spec)?;
        }
        if unique {
            let spec = IndexSpec {
                name: None,
                primary: false,
                unique: true,
                parts: part,
                index_type: mysql::INDEX_TYPE_BTREE,
                comment: String::new(),
            };
            self.add_index(info, &spec)?;
        }
        Ok(())
    }

    fn modify_column(
        &self,
        info: &mut TableInfo,
        old: &str,
        new: &str,
        data_type: &sqlparser::ast::DataType,
        options: &[ColumnOption],
        position: &Option<sqlparser::ast::MySQLColumnPosition>,
    ) -> Result<(), TrackerError> {
        let options: Vec<&ColumnOption> = options.iter().collect();
        let previous = info
            .column(old)
            .ok_or_else(|| self.invalid(format!("unknown column `{old}`")))?;
        // TiDB keeps a primary-key column NOT NULL before reading the new
        // options.
        let keeps_primary = previous.field_type.flag & mysql::PRI_KEY_FLAG != 0;
        let (charset, collate) = (info.charset.clone(), info.collate.clone());
        let built = build_column(new, data_type, &options, &charset, &collate, keeps_primary)
            .map_err(|e| self.unsupported(e))?;
        let with_inline_key = options
            .iter()
            .any(|o| matches!(o, ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_)));
        table::replace_column(info, old, built.column, position.as_ref())
            .map_err(|e| self.invalid(e))?;
        if with_inline_key {
            self.add_inline_keys(info, new, built.primary_key, built.unique_key)?;
        }
        Ok(())
    }
}

/// Table options of an ALTER TABLE (TiDB's tracker `AlterTableOption`):
/// charset and collation of the table, and with `CONVERT TO` of every
/// column with a charset; the comment. Other options change nothing.
fn apply_table_options(info: &mut TableInfo, options: &TableOptions, convert: bool) {
    if let Some((charset, collate)) =
        resolve_charset(options.charset.as_deref(), options.collate.as_deref())
    {
        info.charset = charset.clone();
        info.collate = collate.clone();
        if convert {
            for column in &mut info.columns {
                if column::has_charset(&column.field_type) {
                    column.field_type.charset = charset.clone();
                    column.field_type.collate = collate.clone();
                }
            }
        }
    }
    if let Some(comment) = &options.comment {
        info.comment = comment.clone();
    }
}
