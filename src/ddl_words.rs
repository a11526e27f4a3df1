//! PURE. The DDL vocabulary the master and the worker share: the words that
//! tell one kind of ALTER TABLE specification from another. The master's
//! optimistic lock reads column names from DDL text with it, the worker's
//! tracker splits ALTER TABLE statements with it; one list keeps the two
//! readings in agreement.

/// Words that start a key or constraint definition (`ADD <word> ...`, or a
/// definition inside `ADD (...)`), as opposed to a column definition.
pub const KEY_DEFINITION: &[&str] = &[
    "CHECK",
    "CONSTRAINT",
    "FOREIGN",
    "FULLTEXT",
    "INDEX",
    "KEY",
    "PRIMARY",
    "SPATIAL",
    "UNIQUE",
];

/// Words after `ADD` / `DROP` that start a specification other than a
/// column one: the key and constraint words, partitions and TiDB's
/// extended statistics.
pub fn starts_non_column_spec(word: &str) -> bool {
    KEY_DEFINITION.contains(&word) || matches!(word, "PARTITION" | "STATS_EXTENDED")
}

/// Verbs of DDL statements other than ALTER TABLE.
pub const OTHER_DDL_VERBS: &[&str] = &["CREATE", "DROP", "TRUNCATE", "RENAME"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_words_and_partitions_are_not_column_specs() {
        for word in [
            "INDEX",
            "UNIQUE",
            "PRIMARY",
            "PARTITION",
            "STATS_EXTENDED",
            "CHECK",
        ] {
            assert!(starts_non_column_spec(word), "{word}");
        }
        for word in ["COLUMN", "c1", "FIRST"] {
            assert!(!starts_non_column_spec(word), "{word}");
        }
    }
}
