//! Parsing one upstream statement and dispatching it: the `Applier`'s
//! error helpers, name resolution and routing, the emitted statements, the
//! statements handled by the pre-parser (`on_raw`) and by `sqlparser`
//! (`on_statement`), and RENAME.

use super::*;

/// Parses one statement with the extended MySQL dialect, without
/// unescaping (so printing keeps literals as written).
pub(super) fn parse_one(sql: &str) -> Result<Statement, String> {
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
    pub(super) fn parse_error(&self, reason: impl Into<String>) -> TrackerError {
        TrackerError::Parse {
            statement: self.statement.clone(),
            reason: reason.into(),
        }
    }

    pub(super) fn unsupported(&self, reason: impl Into<String>) -> TrackerError {
        TrackerError::Unsupported {
            statement: self.statement.clone(),
            reason: reason.into(),
        }
    }

    pub(super) fn invalid(&self, reason: impl Into<String>) -> TrackerError {
        TrackerError::Invalid {
            statement: self.statement.clone(),
            reason: reason.into(),
        }
    }

    pub(super) fn not_found(&self, table: &TableName) -> TrackerError {
        TrackerError::TableNotFound {
            statement: self.statement.clone(),
            table: table.clone(),
        }
    }

    /// `[schema.]table` with the current schema filled in.
    pub(super) fn resolve(&self, parts: &[String]) -> Result<TableName, TrackerError> {
        match parts {
            [table] if !self.current_schema.is_empty() => {
                Ok(TableName::new(self.current_schema, table.clone()))
            }
            [_] => Err(self.invalid("the table has no database and there is no current database")),
            [schema, table] => Ok(TableName::new(schema.clone(), table.clone())),
            _ => Err(self.invalid(format!("`{}` is not a table name", parts.join(".")))),
        }
    }

    pub(super) fn resolve_object(&self, name: &ObjectName) -> Result<TableName, TrackerError> {
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|p| p.as_ident().map(ident_name).unwrap_or_default())
            .collect();
        self.resolve(&parts)
    }

    pub(super) fn route(&self, name: &TableName) -> TableName {
        self.router.route(name)
    }

    pub(super) fn route_schema(&self, schema: &str) -> String {
        self.router.route(&TableName::new(schema, "")).schema
    }

    pub(super) fn tracked(&self, name: &TableName) -> Result<TableInfo, TrackerError> {
        self.stage
            .table(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit(
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

    /// Emits a statement that leaves `table`'s structure as staged: its
    /// before and after are the same.
    fn emit_unchanged(
        &mut self,
        kind: StatementKind,
        sql: String,
        upstream_sql: String,
        table: TableName,
    ) {
        let current = self.stage.table(&table).cloned();
        self.emit(
            kind,
            sql,
            upstream_sql,
            Some(table),
            current.clone(),
            current,
        );
    }

    /// Emits a statement on database `name`, its text written by `text`
    /// for the routed and the upstream name: no table, nothing before or
    /// after.
    fn emit_schema_statement(
        &mut self,
        kind: StatementKind,
        name: &str,
        text: impl Fn(&str) -> String,
    ) {
        let sql = text(&self.route_schema(name));
        let upstream_sql = text(name);
        self.emit(kind, sql, upstream_sql, None, None, None);
    }

    /// Stages the charset and collation `options` name, when they resolve,
    /// as database `name`'s.
    fn stage_schema_charset(&mut self, name: &str, options: &TableOptions) {
        if let Some((charset, collate)) =
            resolve_charset(options.charset.as_deref(), options.collate.as_deref())
        {
            self.stage
                .changes
                .schemas
                .insert(name.to_owned(), Some(SchemaCharset { charset, collate }));
        }
    }

    /// Stages `after` as `table`'s structure and emits the ALTER TABLE that
    /// took it there from `before`.
    pub(super) fn stage_altered_table(
        &mut self,
        sql: String,
        upstream_sql: String,
        table: TableName,
        before: TableInfo,
        after: TableInfo,
    ) {
        self.stage.put_table(table.clone(), after.clone());
        self.emit(
            StatementKind::AlterTable,
            sql,
            upstream_sql,
            Some(table),
            Some(before),
            Some(after),
        );
    }

    pub(super) fn on_raw(&mut self, raw: Raw) -> Result<(), TrackerError> {
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
                    self.stage_schema_charset(&name, &options);
                }
                self.emit_schema_statement(StatementKind::CreateDatabase, &name, |db| {
                    let mut sql = format!("CREATE DATABASE IF NOT EXISTS {}", column::quoted(db));
                    if !options.text.is_empty() {
                        sql.push(' ');
                        sql.push_str(&options.text);
                    }
                    sql
                });
                Ok(())
            }
            Raw::AlterDatabase { name, options } => {
                let name = match name {
                    Some(name) => name,
                    None if !self.current_schema.is_empty() => self.current_schema.to_owned(),
                    None => return Err(self.invalid("ALTER DATABASE without a database")),
                };
                self.stage_schema_charset(&name, &options);
                self.emit_schema_statement(StatementKind::AlterDatabase, &name, |db| {
                    format!("ALTER DATABASE {} {}", column::quoted(db), options.text)
                });
                Ok(())
            }
            Raw::DropDatabase { name, if_exists: _ } => {
                for table in self.stage.tables_in_schema(&name) {
                    self.stage.remove_table(&table);
                }
                self.stage.changes.schemas.insert(name.clone(), None);
                self.emit_schema_statement(StatementKind::DropDatabase, &name, |db| {
                    format!("DROP DATABASE IF EXISTS {}", column::quoted(db))
                });
                Ok(())
            }
            Raw::OpaqueOnTable {
                prefix,
                name,
                suffix,
            } => {
                let table = self.resolve(&name)?;
                let sql = format!("{prefix}{}{suffix}", self.route(&table));
                let upstream = format!("{prefix}{table}{suffix}");
                self.emit_unchanged(StatementKind::PassThrough, sql, upstream, table);
                Ok(())
            }
            Raw::Sql(sql) => {
                let statement = parse_one(&sql).map_err(|e| self.parse_error(e))?;
                self.on_statement(statement)
            }
        }
    }

    pub(super) fn on_statement(&mut self, statement: Statement) -> Result<(), TrackerError> {
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
                self.stage_altered_table(sql, upstream, table, before, after);
                Ok(())
            }
            Statement::Truncate(truncate) => {
                for target in &truncate.table_names {
                    let table = self.resolve_object(&target.name)?;
                    let sql = format!("TRUNCATE TABLE {}", self.route(&table));
                    let upstream = format!("TRUNCATE TABLE {table}");
                    self.emit_unchanged(StatementKind::TruncateTable, sql, upstream, table);
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
    pub(super) fn rename_table(
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
}
