//! A column in lattice form ([`ColumnLat`]: default value, generated
//! expression, stored, [`ColumnType`]) and how a column only one side has
//! compares and joins ([`ColumnPolicy`]).

use std::cmp::Ordering;
use std::sync::Arc;

use super::super::error::{Incompatible, IncompatibleKind};
use super::super::lattice::{tuple_lattice, DefaultValue, MapPolicy, Maybe, Singleton};
use super::super::types::{ColumnType, NOT_PART_OF_KEYS};
use super::SharedPart;
use crate::tableinfo::ColumnInfo;

/// A column in lattice form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ColumnLat {
    pub(crate) default: Maybe<Singleton<DefaultValue>>,
    pub(crate) generated_expr: Singleton<String>,
    pub(crate) generated_stored: Singleton<bool>,
    pub(crate) ty: ColumnType,
}

impl ColumnLat {
    pub(super) fn new(ci: &ColumnInfo) -> Self {
        let default = if ci.default.is_null() {
            Maybe(None)
        } else {
            Maybe(Some(Singleton(DefaultValue(ci.default.clone()))))
        };
        ColumnLat {
            default,
            generated_expr: Singleton(ci.generated_expr_string.clone()),
            generated_stored: Singleton(ci.generated_stored),
            ty: ColumnType::new(&ci.field_type),
        }
    }
}

impl SharedPart for ColumnLat {
    /// `compare(x, x)` is `Equal`: false only for array / object defaults,
    /// which are never equal to anything (see [`DefaultValue`]).
    fn compares_equal_to_itself(&self) -> bool {
        !matches!(
            &self.default.0,
            Some(Singleton(DefaultValue(
                serde_json::Value::Array(_) | serde_json::Value::Object(_)
            )))
        )
    }

    /// `join(x, x)` is `x` (it fails for an AUTO_INCREMENT column in no key).
    fn joins_to_itself(&self) -> bool {
        self.compares_equal_to_itself()
            && !(self.ty.is_auto_increment() && self.ty.anti_keys.0 == NOT_PART_OF_KEYS)
    }
}

tuple_lattice!(ColumnLat {
    0 => default,
    1 => generated_expr,
    2 => generated_stored,
    3 => ty,
});

/// Columns: a column only one side has makes that side larger, unless it
/// cannot be absent (NOT NULL without default). Join keeps it, adjusted.
pub(crate) struct ColumnPolicy;

impl MapPolicy<Arc<ColumnLat>> for ColumnPolicy {
    const DELETE_INCOMPATIBLE: bool = false;

    fn compare_with_nil(column: &Arc<ColumnLat>) -> Result<Ordering, Incompatible> {
        if column.ty.has_default() {
            Ok(Ordering::Greater)
        } else {
            Err(Incompatible::new(
                IncompatibleKind::MissingColumnWithoutDefault,
            ))
        }
    }

    fn join_with_nil(column: &Arc<ColumnLat>) -> Result<Option<Arc<ColumnLat>>, Incompatible> {
        let mut adjusted = ColumnLat::clone(column);
        if adjusted.ty.set_flag_for_missing_column() && adjusted.ty.is_not_null() {
            let zero = serde_json::Value::String(adjusted.ty.standard_default_value());
            adjusted.default = Maybe(Some(Singleton(DefaultValue(zero))));
        }
        if adjusted == **column {
            Ok(Some(Arc::clone(column)))
        } else {
            Ok(Some(Arc::new(adjusted)))
        }
    }
}
