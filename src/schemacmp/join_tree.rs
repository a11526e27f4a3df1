//! [`JoinTree`]: the join of many tables' schemas, kept up to date as single
//! tables change.
//!
//! PURE: no async, no I/O.
//!
//! Shards of one logical table usually share a handful of distinct schemas
//! (most have the old one, some already the new one). The tree therefore
//! interns schemas: every distinct schema gets one leaf of a segment tree,
//! shared by all the keys that have it, and each inner node caches the join
//! of its two children. Changing one key's schema touches at most two leaves
//! and recomputes their paths to the root: `O(log d)` joins for `d`
//! distinct schemas (`d <= n`, typically tiny), plus `O(log n)` map work.
//! `joined()` reads the root.
//!
//! A leaf counts its members instead of listing them: the member map is
//! the one copy of each key (a lock of thousands of tables keeps two trees
//! of every table's key). Listing the members of one schema therefore
//! walks the member map, which only rare paths (tests, a failed join's
//! report) do.
//!
//! Invariant: every inner node equals `combine(left, right)` of its
//! children, where an empty side is neutral and an error absorbs; so the
//! root is the join of all distinct schemas, or the error met while joining
//! them.
//!
//! The result is the join of the *distinct* schemas. For schemas TiDB
//! produces, `a ∨ a == a`, so this equals folding `join` over every member.
//! It differs only for a schema that is not a fixed point of its own join
//! (key flags that disagree with its indexes, or an AUTO_INCREMENT column in
//! no key): a lone copy is returned as is, like DM's fold does for a single
//! table, while a fold over two identical copies would normalise or reject
//! it. DM folds in Go map order, which is random; this order is fixed.

use std::collections::{BTreeMap, HashMap};

use super::error::Incompatible;
use super::table::Table;

/// The join of a keyed set of table schemas, updated incrementally.
///
/// `K` identifies a member, e.g. `(source, schema, table)`.
#[derive(Clone, Debug)]
pub struct JoinTree<K: Ord + Clone> {
    /// Which leaf each member's schema sits in.
    members: BTreeMap<K, usize>,
    /// Distinct schema → leaf.
    interned: HashMap<Table, usize>,
    /// Leaves: the schema and the members that have it. Empty leaves are on
    /// `free`, ready for reuse. `leaves.len()` is the tree's capacity, a
    /// power of two (or zero).
    leaves: Vec<Leaf>,
    free: Vec<usize>,
    /// Heap-ordered segment tree: node 1 is the root, node `i` has children
    /// `2i` and `2i + 1`, leaf `j` is node `capacity + j`. Index 0 is unused.
    nodes: Vec<Node>,
}

#[derive(Clone, Debug, Default)]
struct Leaf {
    table: Option<Table>,
    /// How many members have `table`.
    members: usize,
}

/// One distinct schema of a [`JoinTree`], stable while a member has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaId(usize);

#[derive(Clone, Debug)]
enum Node {
    Empty,
    Joined(Table),
    Failed(Incompatible),
}

/// Where the join of a [`JoinTree`] fails: two partial joins that cannot be
/// joined. In the common case of two distinct schemas, `joined` and `table`
/// are exactly those two.
#[derive(Clone, Debug)]
pub struct JoinConflict<K> {
    /// A member whose schema is part of `table`.
    pub key: K,
    /// The join of the schemas on one side of the failing node.
    pub joined: Table,
    /// The join of the schemas on the other side, including `key`'s.
    pub table: Table,
    /// Why `joined` and `table` cannot be joined.
    pub error: Incompatible,
}

impl<K: Ord + Clone> Default for JoinTree<K> {
    fn default() -> Self {
        JoinTree {
            members: BTreeMap::new(),
            interned: HashMap::new(),
            leaves: Vec::new(),
            free: Vec::new(),
            nodes: vec![Node::Empty],
        }
    }
}

fn combine(left: &Node, right: &Node) -> Node {
    match (left, right) {
        (Node::Empty, other) | (other, Node::Empty) => other.clone(),
        (Node::Failed(e), _) | (_, Node::Failed(e)) => Node::Failed(e.clone()),
        (Node::Joined(a), Node::Joined(b)) => match a.join(b) {
            Ok(joined) => Node::Joined(joined),
            Err(e) => Node::Failed(e),
        },
    }
}

impl<K: Ord + Clone> JoinTree<K> {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Number of distinct schemas among the members.
    pub fn distinct_schemas(&self) -> usize {
        self.interned.len()
    }

    /// The schema of `key`.
    pub fn get(&self, key: &K) -> Option<&Table> {
        let leaf = *self.members.get(key)?;
        self.leaves.get(leaf)?.table.as_ref()
    }

    /// Whether `key` is a member.
    pub fn contains_key(&self, key: &K) -> bool {
        self.members.contains_key(key)
    }

    /// Members and their schemas, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &Table)> + '_ {
        self.members.iter().filter_map(|(key, leaf)| {
            let table = self.leaves.get(*leaf)?.table.as_ref()?;
            Some((key, table))
        })
    }

    /// Members whose schema equals `table`, in key order (walks every
    /// member).
    pub fn keys_with(&self, table: &Table) -> impl Iterator<Item = &K> + '_ {
        let leaf = self.interned.get(table).copied();
        self.members
            .iter()
            .filter(move |(_, l)| Some(**l) == leaf)
            .map(|(key, _)| key)
    }

    /// Each distinct schema with its id and how many members have it, in
    /// leaf order. A predicate that depends only on a member's schema can be
    /// evaluated once per distinct schema instead of once per member.
    pub fn schemas(&self) -> impl Iterator<Item = (SchemaId, &Table, usize)> + '_ {
        self.leaves
            .iter()
            .enumerate()
            .filter_map(|(i, leaf)| Some((SchemaId(i), leaf.table.as_ref()?, leaf.members)))
    }

    /// Every member with the id of its schema, in key order.
    pub fn members(&self) -> impl Iterator<Item = (&K, SchemaId)> + '_ {
        self.members
            .iter()
            .map(|(key, leaf)| (key, SchemaId(*leaf)))
    }

    /// The id of `key`'s schema.
    pub fn schema_id(&self, key: &K) -> Option<SchemaId> {
        self.members.get(key).map(|leaf| SchemaId(*leaf))
    }

    /// Sets `key`'s schema and returns the previous one.
    pub fn insert(&mut self, key: K, table: Table) -> Option<Table> {
        if let Some(&leaf_index) = self.members.get(&key) {
            if let Some(leaf) = self.leaves.get_mut(leaf_index) {
                if let Some(current) = &leaf.table {
                    if *current == table {
                        return Some(current.clone());
                    }
                }
                // The only member of its schema moves to a schema nobody has:
                // reuse the leaf, so one path is recomputed instead of two.
                if leaf.members == 1 && !self.interned.contains_key(&table) {
                    let previous = leaf.table.replace(table.clone());
                    if let Some(gone) = &previous {
                        self.interned.remove(gone);
                    }
                    self.interned.insert(table.clone(), leaf_index);
                    self.set_leaf(leaf_index, Node::Joined(table));
                    return previous;
                }
            }
        }
        let previous = self.detach(&key);
        let leaf = self.attach(table);
        self.members.insert(key, leaf);
        previous
    }

    /// Removes `key` and returns its schema.
    pub fn remove(&mut self, key: &K) -> Option<Table> {
        let previous = self.detach(key);
        self.members.remove(key);
        previous
    }

    /// The join of every member's schema: `Ok(None)` when there are no
    /// members, `Err` when the schemas have no common upper bound.
    pub fn joined(&self) -> Result<Option<Table>, Incompatible> {
        match self.nodes.get(1) {
            None | Some(Node::Empty) => Ok(None),
            Some(Node::Joined(table)) => Ok(Some(table.clone())),
            Some(Node::Failed(e)) => Err(e.clone()),
        }
    }

    /// Where the join fails, if it does: the deepest node whose children
    /// join fine on their own but not with each other.
    pub fn conflict(&self) -> Option<JoinConflict<K>> {
        let capacity = self.leaves.len();
        let mut node = 1;
        if !matches!(self.nodes.get(node), Some(Node::Failed(_))) {
            return None;
        }
        while node < capacity {
            let (left, right) = (2 * node, 2 * node + 1);
            match (self.nodes.get(left), self.nodes.get(right)) {
                (Some(Node::Failed(_)), _) => node = left,
                (_, Some(Node::Failed(_))) => node = right,
                (Some(Node::Joined(joined)), Some(Node::Joined(table))) => {
                    let error = match joined.join(table) {
                        Err(error) => error,
                        // Unreachable while the invariant holds.
                        Ok(_) => return None,
                    };
                    let key = self.first_key_under(right)?;
                    return Some(JoinConflict {
                        key,
                        joined: joined.clone(),
                        table: table.clone(),
                        error,
                    });
                }
                _ => return None,
            }
        }
        None
    }

    /// The smallest key in the first non-empty leaf below `node` (walks
    /// the members: only a failed join's report asks).
    fn first_key_under(&self, node: usize) -> Option<K> {
        let capacity = self.leaves.len();
        let (mut lo, mut hi) = (node, node);
        while lo < capacity {
            lo *= 2;
            hi = 2 * hi + 1;
        }
        let under = (lo - capacity)..=(hi - capacity);
        let first_leaf = self
            .members
            .values()
            .filter(|leaf| under.contains(leaf))
            .min()?;
        self.members
            .iter()
            .find(|(_, leaf)| *leaf == first_leaf)
            .map(|(key, _)| key.clone())
    }

    /// Takes `key` out of its leaf (freeing the leaf when it empties).
    fn detach(&mut self, key: &K) -> Option<Table> {
        let leaf_index = *self.members.get(key)?;
        let leaf = self.leaves.get_mut(leaf_index)?;
        leaf.members = leaf.members.saturating_sub(1);
        let table = leaf.table.clone();
        if leaf.members == 0 {
            if let Some(gone) = leaf.table.take() {
                self.interned.remove(&gone);
            }
            self.free.push(leaf_index);
            self.set_leaf(leaf_index, Node::Empty);
        }
        table
    }

    /// Counts one more member in the leaf of `table`, creating the leaf if
    /// needed.
    fn attach(&mut self, table: Table) -> usize {
        if let Some(&leaf_index) = self.interned.get(&table) {
            if let Some(leaf) = self.leaves.get_mut(leaf_index) {
                leaf.members += 1;
                return leaf_index;
            }
        }
        let leaf_index = match self.free.pop() {
            Some(index) => index,
            None => self.grow(),
        };
        self.interned.insert(table.clone(), leaf_index);
        if let Some(leaf) = self.leaves.get_mut(leaf_index) {
            leaf.table = Some(table.clone());
            leaf.members = 1;
        }
        self.set_leaf(leaf_index, Node::Joined(table));
        leaf_index
    }

    /// Doubles the capacity, rebuilding the inner nodes, and returns a free
    /// leaf. Amortised over the insertions that filled the old capacity.
    /// The capacity never shrinks: it stays at the largest number of
    /// distinct schemas held at once, which bounds the tree height.
    fn grow(&mut self) -> usize {
        let old = self.leaves.len();
        let capacity = (old * 2).max(1);
        self.leaves.resize_with(capacity, Leaf::default);
        let mut nodes = vec![Node::Empty; 2 * capacity];
        for (i, leaf) in self.leaves.iter().enumerate() {
            if let Some(table) = &leaf.table {
                nodes[capacity + i] = Node::Joined(table.clone());
            }
        }
        for i in (1..capacity).rev() {
            nodes[i] = combine(&nodes[2 * i], &nodes[2 * i + 1]);
        }
        self.nodes = nodes;
        // Hand out the lowest new leaf now; queue the rest, lowest last so
        // `pop` keeps the tree packed to the left.
        self.free.extend((old + 1..capacity).rev());
        old
    }

    /// Replaces a leaf and recomputes its ancestors.
    fn set_leaf(&mut self, leaf: usize, value: Node) {
        let mut node = self.leaves.len() + leaf;
        if let Some(slot) = self.nodes.get_mut(node) {
            *slot = value;
        }
        while node > 1 {
            node /= 2;
            let joined = match (self.nodes.get(2 * node), self.nodes.get(2 * node + 1)) {
                (Some(left), Some(right)) => combine(left, right),
                _ => Node::Empty,
            };
            if let Some(slot) = self.nodes.get_mut(node) {
                *slot = joined;
            }
        }
    }
}

#[cfg(test)]
mod tests;
