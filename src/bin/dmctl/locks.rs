//! Lock commands of ours over the `operator.LockOperator` service (not
//! DM's; a DM-master answers them UNIMPLEMENTED, so they never act on one):
//! `shard-ddl-lock unlock <lock-id> --dry-run`, `shard-ddl-lock inject`,
//! and the `injected` list that `shard-ddl-lock` adds to a lock.

use serde_json::{json, Value};
use tonic::transport::Channel;

use dm_master::proto::operator::lock_operator_client::LockOperatorClient;
use dm_master::proto::operator::{InjectInfoRequest, LockPageRequest, PreviewUnlockRequest};

use super::{print_json, Masters, UnlockArgs};

/// `shard-ddl-lock inject <task> [source] -d DB -t TABLE --ddl DDL...`.
#[derive(clap::Args, Clone)]
pub struct InjectArgs {
    /// The task of the lock.
    task: String,
    /// The source that will never report the DDL (or give it with `-s`).
    source: Option<String>,
    /// Downstream database of the lock (its ID is task-`database`.`table`).
    #[arg(short = 'd', long)]
    database: String,
    /// Downstream table of the lock.
    #[arg(short = 't', long)]
    table: String,
    /// A DDL of the lock, as the other sources reported it (repeat for
    /// several, in order).
    #[arg(long = "ddl", required = true)]
    ddls: Vec<String>,
}

/// `unlock --dry-run`: what the unlock would write.
pub async fn preview_unlock(masters: &Masters, args: &UnlockArgs) -> Result<(), String> {
    let what = format!("can not preview unlocking DDL lock {}", args.lock_id);
    let reply = client(masters, &what)
        .await?
        .preview_unlock(PreviewUnlockRequest {
            lock_id: args.lock_id.clone(),
            replace_owner: args.owner.clone().unwrap_or_default(),
        })
        .await
        .map_err(|e| format!("{what}\n{}", e.message()))?
        .into_inner();
    let preview = if reply.result {
        serde_json::from_str(&reply.json).map_err(|e| format!("{what}\n{e}"))?
    } else {
        Value::Null
    };
    print_json(&json!({ "result": reply.result, "msg": reply.msg, "preview": preview }));
    Ok(())
}

/// `shard-ddl-lock inject`.
pub async fn inject(
    masters: &Masters,
    sources: &[String],
    args: &InjectArgs,
) -> Result<(), String> {
    let source = match (&args.source, sources) {
        (Some(source), []) => source.clone(),
        (None, [source]) => source.clone(),
        (Some(source), [flag]) if flag == source => source.clone(),
        _ => return Err("give exactly one source, as an argument or with -s".into()),
    };
    let what = format!(
        "can not inject a DDL info of source {source} for task {}",
        args.task
    );
    let reply = client(masters, &what)
        .await?
        .inject_info(InjectInfoRequest {
            task: args.task.clone(),
            source,
            database: args.database.clone(),
            table: args.table.clone(),
            ddls: args.ddls.clone(),
        })
        .await
        .map_err(|e| format!("{what}\n{}", e.message()))?
        .into_inner();
    print_json(&json!({ "result": reply.result, "msg": reply.msg }));
    Ok(())
}

/// Adds `"injected": [sources]` to each lock of a show output that has
/// injected sources. A master without the lock page (a DM-master) leaves
/// the output as DM prints it.
pub async fn add_injected(channel: Channel, out: &mut Value) {
    let Ok(reply) = LockOperatorClient::new(channel)
        .lock_page(LockPageRequest {})
        .await
    else {
        return;
    };
    let Ok(page) = serde_json::from_str::<Value>(&reply.into_inner().json) else {
        return;
    };
    let injected = |id: &str| -> Option<Value> {
        page["locks"]
            .as_array()?
            .iter()
            .find(|l| l["id"] == id)
            .map(|l| l["injected"].clone())
            .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
    };
    if let Some(locks) = out["locks"].as_array_mut() {
        for lock in locks {
            let id = lock["ID"].as_str().unwrap_or_default().to_owned();
            if let (Some(list), Some(obj)) = (injected(&id), lock.as_object_mut()) {
                obj.insert("injected".into(), list);
            }
        }
    }
}

async fn client(masters: &Masters, what: &str) -> Result<LockOperatorClient<Channel>, String> {
    masters
        .channel()
        .await
        .map(LockOperatorClient::new)
        .map_err(|e| format!("{what}\n{e}"))
}
