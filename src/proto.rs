//! The generated `pb` package: DM's `pb.Master` and `pb.Worker` services
//! and messages (servers and clients of both).
#![allow(missing_docs, clippy::all)]

tonic::include_proto!("pb");
