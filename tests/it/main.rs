//! The one integration-test binary: everything here runs against a real
//! etcd process started by `support`.

mod election;
mod etcd;
mod failover;
mod grpc;
mod optimism;
mod pessimism;
mod process;
mod support;
