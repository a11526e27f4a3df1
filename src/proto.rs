//! The generated `pb` package: DM's `pb.Master` and `pb.Worker` services
//! and messages (servers and clients of both).
#![allow(missing_docs, clippy::all)]

tonic::include_proto!("pb");

/// Our `operator` package: calls DM's `pb.Master` does not have (lock page,
/// unlock preview, inject), served on the same port.
pub mod operator {
    #![allow(missing_docs, clippy::all)]
    tonic::include_proto!("operator");
}
