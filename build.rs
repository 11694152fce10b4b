//! Compiles the public contract in `proto/` with the protoc shipped by `protoc-bin-vendored`,
//! so a fresh machine needs nothing installed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let include = protoc_bin_vendored::include_path()?;
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("rbac_descriptor.bin"))
        .compile_with_config(
            config,
            &[
                PathBuf::from("proto/rbac/v1/types.proto"),
                PathBuf::from("proto/rbac/v1/authorization.proto"),
                PathBuf::from("proto/rbac/v1/admin.proto"),
                PathBuf::from("proto/rbac/v1/replication.proto"),
                // Not imported by the contract, but the type of every refusal's detail:
                // compiled into the descriptor set so that reflection serves it and
                // grpcurl can print a `google.rpc.ErrorInfo` (copied, as status.proto is,
                // from the tonic-types crate).
                PathBuf::from("proto/google/rpc/error_details.proto"),
            ],
            &[PathBuf::from("proto"), include],
        )?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
