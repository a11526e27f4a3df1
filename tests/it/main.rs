//! The one integration-test binary: everything here runs against a real
//! etcd process started by `support`, or a real MariaDB started by
//! `mariadb`.

mod cluster;
mod dashboard;
mod dm_cluster;
mod dm_shard_tasks;
mod dmctl;
mod election;
mod etcd;
mod failover;
mod grpc;
mod history;
mod mariadb;
mod master;
mod optimism;
mod pessimism;
mod process;
mod scheduler;
mod support;
mod tasks;
mod tls;
mod worker_executor;
mod worker_join;
mod worker_run;
