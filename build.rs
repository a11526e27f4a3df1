//! Compiles DM's `proto/dmmaster.proto` and `proto/dmworker.proto` (package
//! `pb`) into OUT_DIR with tonic-prost-build: servers and clients of both
//! `pb.Master` and `pb.Worker`; and our `proto/operator.proto` (package
//! `operator`, the lock page, unlock preview and inject calls). Needs `protoc` (Debian's
//! `protobuf-compiler`), which etcd-client requires at build time anyway;
//! `google/protobuf/empty.proto` is vendored under `proto/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    tonic_prost_build::configure().compile_protos(
        &[
            "proto/dmmaster.proto",
            "proto/dmworker.proto",
            "proto/operator.proto",
        ],
        &["proto"],
    )?;
    Ok(())
}
