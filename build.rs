//! Compiles `proto/dmmaster.proto` (package `pb`) into OUT_DIR with
//! tonic-prost-build. Needs `protoc` (Debian's `protobuf-compiler`), which
//! etcd-client requires at build time anyway.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/dmmaster.proto");
    tonic_prost_build::configure().compile_protos(&["proto/dmmaster.proto"], &["proto"])?;
    Ok(())
}
