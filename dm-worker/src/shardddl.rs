//! Shard-DDL clients of one worker (one upstream source).

pub mod optimist;
pub mod pessimist;
