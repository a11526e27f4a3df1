//! ALTER TABLE: each split operation applied to the tracked table (columns,
//! indexes, defaults, options, RENAME), with inline keys and MODIFY /
//! CHANGE COLUMN.

use super::create::apply_table_options;
use super::statement::parse_one;
use super::*;

impl Applier<'_> {
    /// Applies one ALTER TABLE operation to `table`; returns the table's name
    /// afterwards (RENAME changes it for the operations that follow).
    pub(super) fn on_spec(
        &mut self,
        table: TableName,
        spec: Spec,
    ) -> Result<TableName, TrackerError> {
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
    pub(super) fn apply_operation(
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
    pub(super) fn add_inline_keys(
        &self,
        info: &mut TableInfo,
        column_name: &str,
        primary: bool,
        unique: bool,
    ) -> Result<(), TrackerError> {
        if primary {
            self.add_index(info, &IndexSpec::column_key(column_name, true))?;
        }
        if unique {
            self.add_index(info, &IndexSpec::column_key(column_name, false))?;
        }
        Ok(())
    }

    pub(super) fn modify_column(
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
