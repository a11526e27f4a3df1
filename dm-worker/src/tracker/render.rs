//! Printing split statements: table names become `` `schema`.`table` ``
//! (routed or not), and the column and index names of the statements the
//! tracker re-prints are backquoted, as DM's restore does.
//!
//! PURE: no async, no I/O.
//!
//! Where we differ from DM: DM re-prints every statement with TiDB's
//! restorer (upper-case keywords, `INT` for `INT(11)`, ...). We re-print
//! with `sqlparser`, which keeps the statement as written apart from
//! spacing, names and the fixes below, so the text differs from a Go
//! worker's for the same DDL (only pessimistic mode compares DDL text, and
//! only between workers of one task).

use sqlparser::ast::{
    AlterTableOperation, ColumnDef, CreateIndex, CreateTable, Expr, Ident, IndexColumn,
    IndexOption, MySQLColumnPosition, ObjectName, ObjectNamePart, TableConstraint,
};

use super::column::{ident_name, quoted};
use super::TableName;

/// `` `schema`.`table` ``.
pub(crate) fn table_text(name: &TableName) -> String {
    format!("{}.{}", quoted(&name.schema), quoted(&name.table))
}

/// An AST name for `` `schema`.`table` ``.
pub(crate) fn object_name(name: &TableName) -> ObjectName {
    ObjectName(vec![
        ObjectNamePart::Identifier(Ident::with_quote('`', name.schema.clone())),
        ObjectNamePart::Identifier(Ident::with_quote('`', name.table.clone())),
    ])
}

/// Backquotes an identifier that was written bare (a bare identifier holds
/// no backquote, so its value needs no escaping).
fn quote(ident: &mut Ident) {
    if ident.quote_style.is_none() {
        ident.quote_style = Some('`');
    }
}

/// `sqlparser` prints `AFTER` with the bare identifier value (quotes
/// dropped), which breaks on reserved words; the value is replaced by its
/// backquoted form for printing only.
fn quote_position(position: &mut Option<MySQLColumnPosition>) {
    if let Some(MySQLColumnPosition::After(ident)) = position {
        ident.value = quoted(&ident_name(ident));
        ident.quote_style = None;
    }
}

fn quote_index_columns(columns: &mut [IndexColumn]) {
    for column in columns {
        match &mut column.column.expr {
            Expr::Identifier(ident) => quote(ident),
            // `col(length)` is parsed as a call; its "function" is the column.
            Expr::Function(f) if f.name.0.len() == 1 => {
                if let Some(ObjectNamePart::Identifier(ident)) = f.name.0.first_mut() {
                    quote(ident);
                }
            }
            _ => {}
        }
    }
}

fn quote_opt(ident: &mut Option<Ident>) {
    if let Some(ident) = ident {
        quote(ident);
    }
}

/// Backquotes the names in a key or constraint definition, and moves a
/// trailing `USING` before the key parts: `sqlparser` prints several
/// options of a plain INDEX comma-separated, which MySQL rejects.
pub(crate) fn quote_constraint(constraint: &mut TableConstraint) {
    match constraint {
        TableConstraint::PrimaryKey(pk) => {
            quote_opt(&mut pk.name);
            quote_opt(&mut pk.index_name);
            quote_index_columns(&mut pk.columns);
        }
        TableConstraint::Unique(u) => {
            quote_opt(&mut u.name);
            quote_opt(&mut u.index_name);
            quote_index_columns(&mut u.columns);
        }
        TableConstraint::Index(i) => {
            quote_opt(&mut i.name);
            quote_index_columns(&mut i.columns);
            let mut using = None;
            i.index_options.retain(|o| match o {
                IndexOption::Using(t) => {
                    using = Some(t.clone());
                    false
                }
                IndexOption::Comment(_) => true,
            });
            if let Some(t) = using {
                i.index_type = Some(t);
            }
            // Keep the last COMMENT only (one option: no separator).
            let keep = i.index_options.len().saturating_sub(1);
            i.index_options.drain(..keep);
        }
        TableConstraint::FulltextOrSpatial(f) => {
            quote_opt(&mut f.opt_index_name);
            quote_index_columns(&mut f.columns);
        }
        TableConstraint::ForeignKey(fk) => {
            quote_opt(&mut fk.name);
            quote_opt(&mut fk.index_name);
            fk.columns.iter_mut().for_each(quote);
            fk.referred_columns.iter_mut().for_each(quote);
        }
        TableConstraint::Check(c) => quote_opt(&mut c.name),
        // PostgreSQL-only forms; MySQL DDL does not produce them.
        TableConstraint::PrimaryKeyUsingIndex(_)
        | TableConstraint::UniqueUsingIndex(_)
        | TableConstraint::Exclude(_) => {}
    }
}

fn quote_column_def(def: &mut ColumnDef) {
    quote(&mut def.name);
}

/// Backquotes the names an ALTER TABLE operation mentions.
pub(crate) fn quote_operation(op: &mut AlterTableOperation) {
    match op {
        AlterTableOperation::AddColumn {
            column_def,
            column_position,
            ..
        } => {
            quote_column_def(column_def);
            quote_position(column_position);
        }
        AlterTableOperation::DropColumn { column_names, .. } => {
            column_names.iter_mut().for_each(quote);
        }
        AlterTableOperation::ModifyColumn {
            col_name,
            column_position,
            ..
        } => {
            quote(col_name);
            quote_position(column_position);
        }
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            column_position,
            ..
        } => {
            quote(old_name);
            quote(new_name);
            quote_position(column_position);
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => {
            quote(old_column_name);
            quote(new_column_name);
        }
        AlterTableOperation::AlterColumn { column_name, .. } => quote(column_name),
        AlterTableOperation::AddConstraint { constraint, .. } => quote_constraint(constraint),
        AlterTableOperation::DropIndex { name }
        | AlterTableOperation::DropForeignKey { name, .. }
        | AlterTableOperation::DropConstraint { name, .. } => quote(name),
        _ => {}
    }
}

/// Backquotes the column and key names of a CREATE TABLE.
pub(crate) fn quote_create_table(create: &mut CreateTable) {
    create.columns.iter_mut().for_each(quote_column_def);
    create.constraints.iter_mut().for_each(quote_constraint);
}

/// Backquotes the index and column names of a CREATE INDEX.
pub(crate) fn quote_create_index(create: &mut CreateIndex) {
    if let Some(name) = &mut create.name {
        for part in &mut name.0 {
            if let ObjectNamePart::Identifier(ident) = part {
                quote(ident);
            }
        }
    }
    quote_index_columns(&mut create.columns);
}
