//! The generated `pb` package (DM's `pb.Master` service and messages).
#![allow(missing_docs, clippy::all)]

tonic::include_proto!("pb");
