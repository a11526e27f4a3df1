//! The scenario's route rules and how a step's statements are grouped:
//! DM's glob patterns, the first-match router, and the batches a step's
//! tracked statements fall into (direct, not executed, coordinated).

use super::Route;
use crate::error::{Error, Result};
use crate::tracker::{Router, StatementKind, TableName, TrackedStatement};

/// DM's route and filter patterns: `*` matches any run of characters and
/// `?` one character; an empty pattern matches anything.
pub(super) fn matches(pattern: &str, name: &str) -> bool {
    fn glob(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| glob(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && glob(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && glob(rest, &n[1..]),
        }
    }
    if pattern.is_empty() {
        return true;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob(&p, &n)
}

/// The scenario's route rules; the first matching rule wins. A rule
/// without a target table keeps the upstream table's name (DM's router).
#[derive(Clone, Copy)]
pub(super) struct Routes<'a>(pub(super) &'a [Route]);

impl Routes<'_> {
    /// The target of a routed upstream table (or database, table empty).
    pub(super) fn target(&self, upstream: &TableName) -> Option<TableName> {
        self.0
            .iter()
            .find(|r| {
                matches(&r.schema, &upstream.schema)
                    && (upstream.table.is_empty() || matches(&r.table, &upstream.table))
            })
            .map(|r| {
                let table = if upstream.table.is_empty() {
                    String::new()
                } else if r.target_table.is_empty() {
                    upstream.table.clone()
                } else {
                    r.target_table.clone()
                };
                TableName::new(r.target_schema.clone(), table)
            })
    }
}

impl Router for Routes<'_> {
    fn route(&self, upstream: &TableName) -> TableName {
        self.target(upstream).unwrap_or_else(|| upstream.clone())
    }
}

/// A run of consecutive statements of one step, handled together.
pub(super) enum Batch {
    /// Executed downstream without coordination.
    Direct(Vec<String>),
    /// Not executed (DM does not drop or truncate a merged table).
    Skip(Vec<TrackedStatement>),
    /// Coordinated DDL of one routed upstream table.
    Shard {
        upstream: TableName,
        target: TableName,
        statements: Vec<TrackedStatement>,
    },
}

/// Splits a step's tracked statements into batches.
pub(super) fn batches(routes: Routes<'_>, statements: Vec<TrackedStatement>) -> Result<Vec<Batch>> {
    let mut out: Vec<Batch> = Vec::new();
    for st in statements {
        let routed = st
            .table
            .as_ref()
            .and_then(|t| routes.target(t).map(|target| (t.clone(), target)));
        let coordinated = matches!(
            st.kind,
            StatementKind::AlterTable | StatementKind::PassThrough
        );
        match (routed, st.kind) {
            (Some((upstream, _)), StatementKind::RenameTable) => {
                return Err(Error::Scenario(format!(
                    "`{}`: renaming the routed table {upstream} is not supported in shard mode",
                    st.upstream_sql
                )))
            }
            (Some(_), StatementKind::DropTable | StatementKind::TruncateTable) => {
                match out.last_mut() {
                    Some(Batch::Skip(v)) => v.push(st),
                    _ => out.push(Batch::Skip(vec![st])),
                }
            }
            (Some((upstream, target)), _) if coordinated => match out.last_mut() {
                Some(Batch::Shard {
                    upstream: u,
                    statements,
                    ..
                }) if *u == upstream => statements.push(st),
                _ => out.push(Batch::Shard {
                    upstream,
                    target,
                    statements: vec![st],
                }),
            },
            _ => match out.last_mut() {
                Some(Batch::Direct(v)) => v.push(st.sql),
                _ => out.push(Batch::Direct(vec![st.sql])),
            },
        }
    }
    Ok(out)
}
