//! CREATE TABLE (incl. LIKE) and CREATE INDEX: a table's `TableInfo` built
//! from its definition, indexes added, and table options applied.

use super::*;

impl Applier<'_> {
    pub(super) fn on_create_table(
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
    pub(super) fn build_table(
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
            if built.primary_key {
                inline.push((None, Some(IndexSpec::column_key(&name, true))));
            }
            if built.unique_key {
                inline.push((None, Some(IndexSpec::column_key(&name, false))));
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

    pub(super) fn on_create_index(&mut self, mut create: CreateIndex) -> Result<(), TrackerError> {
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
        self.stage_altered_table(sql, upstream, table, before, after);
        Ok(())
    }

    /// ADD INDEX / UNIQUE / PRIMARY KEY on an existing table. An index
    /// whose name exists, or a second primary key, changes nothing (DM
    /// ignores these tracker errors).
    pub(super) fn add_index(
        &self,
        info: &mut TableInfo,
        spec: &IndexSpec,
    ) -> Result<(), TrackerError> {
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
}

/// Table options of an ALTER TABLE (TiDB's tracker `AlterTableOption`):
/// charset and collation of the table, and with `CONVERT TO` of every
/// column with a charset; the comment. Other options change nothing.
pub(super) fn apply_table_options(info: &mut TableInfo, options: &TableOptions, convert: bool) {
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
