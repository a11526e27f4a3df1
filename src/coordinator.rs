//! The coordinators: one actor per shard mode, owning its lock keeper, fed
//! by etcd watch events and admin requests over bounded channels, stopped by
//! a cancellation token scoped to one leadership term.

pub mod optimist;
pub mod pessimist;
