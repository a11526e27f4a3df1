//! Input strategies that know nothing of the records: arbitrary bytes,
//! byte mutations steered by tokens, arbitrary JSON, and mutations of a
//! valid value's bytes or JSON tree.

use super::*;

/// Arbitrary bytes, mostly short, sometimes long.
pub(super) fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..64),
        1 => vec(any::<u8>(), 0..2048),
    ]
}

/// Fragments that steer byte mutations towards the decoders' edge cases.
pub(super) const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\\udc00",
    b"null",
    b"true",
    b"false",
    b"0",
    b"-",
    b"1e999",
    b"-1e999",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"9223372036854775807",
    b"1.5",
    b"\xff",
    b"\xc3",
    b"\xe2\x80\xa8",
    b"\x00",
    b"{}",
    b"[]",
    b"\"\"",
    b"/",
    b"`",
    b"-`",
    b"`.`",
    b"\n",
    b"=",
    b"[[",
    b"]]",
    b"'",
    b"\"\"\"",
    b"0x",
    b"inf",
    b"nan",
    b"#",
];

#[derive(Debug, Clone)]
pub(super) enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, u8),
    InsertToken(Index, Index),
    Remove(Index, usize),
    Truncate(Index),
    Duplicate(Index, usize),
}

pub(super) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Mutation::InsertToken(i, t)),
        (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1usize..32).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

pub(super) fn apply(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        // Positions may point one past the end (insertion at the end).
        let at = |i: &Index, data: &Vec<u8>| i.index(data.len() + 1);
        match m {
            Mutation::FlipBit(i, bit) if !data.is_empty() => {
                let p = i.index(data.len());
                data[p] ^= 1 << bit;
            }
            Mutation::SetByte(i, b) if !data.is_empty() => {
                let p = i.index(data.len());
                data[p] = *b;
            }
            Mutation::Insert(i, b) => {
                let p = at(i, &data);
                data.insert(p, *b);
            }
            Mutation::InsertToken(i, t) => {
                let p = at(i, &data);
                let token = TOKENS[t.index(TOKENS.len())];
                data.splice(p..p, token.iter().copied());
            }
            Mutation::Remove(i, n) if !data.is_empty() => {
                let p = i.index(data.len());
                let end = (p + n).min(data.len());
                data.drain(p..end);
            }
            Mutation::Truncate(i) => {
                let p = at(i, &data);
                data.truncate(p);
            }
            Mutation::Duplicate(i, n) if !data.is_empty() => {
                let p = i.index(data.len());
                let end = (p + n).min(data.len());
                let copy = data[p..end].to_vec();
                data.splice(end..end, copy);
            }
            _ => {}
        }
    }
    data
}

/// A small arbitrary JSON value: every JSON type, extreme numbers, strings
/// with escapes and non-ASCII.
pub(super) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        Just(json!("")),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1.5)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((name(), inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Replaces one node of `node`, chosen by walking `path`, with `with`.
pub(super) fn replace_node(node: &mut Value, path: &[Index], with: Value) {
    if let Some((step, rest)) = path.split_first() {
        match node {
            Value::Array(items) if !items.is_empty() => {
                let n = items.len();
                return replace_node(&mut items[step.index(n)], rest, with);
            }
            Value::Object(map) if !map.is_empty() => {
                let n = map.len();
                if let Some(child) = map.values_mut().nth(step.index(n)) {
                    return replace_node(child, rest, with);
                }
            }
            _ => {}
        }
    }
    *node = with;
}

/// A valid value of one decoder's type, mutated: byte-level edits, or one
/// JSON node replaced by a value of any type (the typed-error paths).
pub(super) fn mutated(valid: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (
        valid,
        vec(mutation(), 1..6),
        prop::option::of((vec(any::<Index>(), 0..5), json_value())),
    )
        .prop_map(|(data, mutations, replacement)| match replacement {
            Some((path, with)) => match serde_json::from_slice::<Value>(&data) {
                Ok(mut doc) => {
                    replace_node(&mut doc, &path, with);
                    serde_json::to_vec(&doc).unwrap_or(data)
                }
                Err(_) => apply(data, &mutations),
            },
            None => apply(data, &mutations),
        })
}
