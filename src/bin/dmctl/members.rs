//! dmctl's `operate-source`, `list-member` and `offline-member`: one
//! `pb.Master` call each, printed as DM's dmctl prints them (jsonpb with
//! defaults emitted, four-space indent).

use dm_master::proto::{ListMemberRequest, OfflineMemberRequest, OperateSourceRequest, SourceOp};
use dm_master::server::gateway::{
    list_member_json, offline_member_json, operate_source_json, to_json_text,
};

use dm_master::proto::master_client::MasterClient;
use tonic::transport::Channel;

/// `operate-source create|update|stop|show [config-file ...]`.
#[derive(clap::Args)]
pub struct OperateSourceArgs {
    /// create, update, stop or show.
    op: String,
    /// Source config files (`stop`: a name that is not a readable file is a
    /// source ID).
    files: Vec<String>,
    /// Bind the created source to this worker.
    #[arg(short = 'w', long = "worker")]
    worker: Option<String>,
}

/// `list-member [--leader] [--master] [--worker] [-n name,...]`.
#[derive(clap::Args)]
pub struct ListMemberArgs {
    #[arg(short = 'l', long)]
    leader: bool,
    #[arg(short = 'm', long)]
    master: bool,
    #[arg(short = 'w', long)]
    worker: bool,
    /// Member names (repeatable or comma-separated).
    #[arg(short = 'n', long = "name", value_delimiter = ',')]
    names: Vec<String>,
}

/// `offline-member --master|--worker --name <name>`.
#[derive(clap::Args)]
pub struct OfflineMemberArgs {
    #[arg(short = 'm', long)]
    master: bool,
    #[arg(short = 'w', long)]
    worker: bool,
    #[arg(short = 'n', long)]
    name: String,
}

fn print(value: &serde_json::Value) {
    println!("{}", to_json_text(value, "    "));
}

pub async fn operate_source(
    mut client: MasterClient<Channel>,
    sources: &[String],
    args: &OperateSourceArgs,
) -> Result<(), String> {
    let op = match args.op.as_str() {
        "create" => SourceOp::StartSource,
        "update" => SourceOp::UpdateSource,
        "stop" => SourceOp::StopSource,
        "show" => SourceOp::ShowSource,
        other => return Err(format!("invalid op '{other}'")),
    };
    if matches!(op, SourceOp::StartSource | SourceOp::UpdateSource) && args.files.is_empty() {
        return Err("operate-source create/update needs at least one config file".into());
    }
    let mut configs = Vec::new();
    let mut ids = sources.to_vec();
    for file in &args.files {
        match std::fs::read_to_string(file) {
            Ok(text) => configs.push(text),
            Err(_) if op == SourceOp::StopSource => ids.push(file.clone()),
            Err(e) => return Err(format!("error in get file content: {e}")),
        }
    }
    let resp = client
        .operate_source(OperateSourceRequest {
            op: op as i32,
            config: configs,
            source_id: ids,
            worker_name: args.worker.clone().unwrap_or_default(),
        })
        .await
        .map_err(|e| e.message().to_owned())?
        .into_inner();
    print(&operate_source_json(&resp));
    Ok(())
}

pub async fn list_member(
    mut client: MasterClient<Channel>,
    args: &ListMemberArgs,
) -> Result<(), String> {
    let resp = client
        .list_member(ListMemberRequest {
            leader: args.leader,
            master: args.master,
            worker: args.worker,
            names: args.names.clone(),
        })
        .await
        .map_err(|e| e.message().to_owned())?
        .into_inner();
    print(&list_member_json(&resp));
    Ok(())
}

pub async fn offline_member(
    mut client: MasterClient<Channel>,
    args: &OfflineMemberArgs,
) -> Result<(), String> {
    let kind = match (args.master, args.worker) {
        (true, false) => "master",
        (false, true) => "worker",
        _ => return Err("should specify either --master or --worker".into()),
    };
    let resp = client
        .offline_member(OfflineMemberRequest {
            r#type: kind.into(),
            name: args.name.clone(),
        })
        .await
        .map_err(|e| e.message().to_owned())?
        .into_inner();
    if !resp.result {
        return Err(format!("offline member failed:\n{}", resp.msg));
    }
    print(&offline_member_json(&resp));
    Ok(())
}
