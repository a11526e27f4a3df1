//! The `/apis/v1alpha1/members` routes of DM's gRPC-gateway, which tiup
//! uses to show and scale members (docs/protocol.md#http): `GET members`
//! (ListMember, query `leader`, `master`, `worker`, `names`) and
//! `DELETE members/{type}/{name}` (OfflineMember).
//!
//! JSON as gogo jsonpb with `OrigName` and `EmitDefaults`: proto field
//! names, every field present, 64-bit integers as strings, two-space
//! indent. The same conversions give dmctl its output (four-space indent).
//! A gRPC error becomes the gateway's JSON status with the mapped HTTP code.

use std::sync::Arc;

use axum::extract::{Path, RawQuery};
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::watch;
use tonic::Request;

use super::forward::Forwarder;
use super::{members, Role};
use crate::proto::{
    members::Member, CommonWorkerResponse, ListMemberRequest, ListMemberResponse,
    OfflineMemberRequest, OfflineMemberResponse, OperateSourceResponse,
};

/// The members routes, answering like the leader (followers forward).
pub fn router(role: watch::Receiver<Role>, forwarder: Arc<Forwarder>) -> axum::Router {
    let list_role = role.clone();
    let list_forwarder = forwarder.clone();
    axum::Router::new()
        .route(
            "/apis/v1alpha1/members",
            axum::routing::get(move |RawQuery(query): RawQuery| {
                let role = list_role.borrow().clone();
                let forwarder = list_forwarder.clone();
                async move {
                    let request = list_member_request(query.as_deref().unwrap_or_default());
                    match members::list_member(role, &forwarder, Request::new(request)).await {
                        Ok(resp) => json_reply(200, &list_member_json(resp.get_ref()), "  "),
                        Err(status) => status_reply(&status),
                    }
                }
            }),
        )
        .route(
            "/apis/v1alpha1/members/{kind}/{name}",
            axum::routing::delete(move |Path((kind, name)): Path<(String, String)>| {
                let role = role.borrow().clone();
                let forwarder = forwarder.clone();
                async move {
                    let request = OfflineMemberRequest { r#type: kind, name };
                    match members::offline_member(role, &forwarder, Request::new(request)).await {
                        Ok(resp) => json_reply(200, &offline_member_json(resp.get_ref()), "  "),
                        Err(status) => status_reply(&status),
                    }
                }
            }),
        )
}

/// grpc-gateway's query binding: `leader=true&names=a&names=b`.
pub fn list_member_request(query: &str) -> ListMemberRequest {
    let mut req = ListMemberRequest::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        let yes = matches!(value.as_str(), "true" | "1" | "True" | "TRUE" | "t" | "T");
        match key {
            "leader" => req.leader = yes,
            "master" => req.master = yes,
            "worker" => req.worker = yes,
            "names" => req.names.extend(
                value
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned),
            ),
            _ => {}
        }
    }
    req
}

pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `ListMemberResponse` as jsonpb.
pub fn list_member_json(resp: &ListMemberResponse) -> Value {
    let members: Vec<Value> = resp
        .members
        .iter()
        .map(|m| match &m.member {
            Some(Member::Leader(l)) => json!({
                "leader": { "msg": l.msg, "name": l.name, "addr": l.addr }
            }),
            Some(Member::Master(list)) => json!({
                "master": {
                    "msg": list.msg,
                    "masters": list.masters.iter().map(|m| json!({
                        "name": m.name,
                        "memberID": m.member_id.to_string(),
                        "alive": m.alive,
                        "peerURLs": m.peer_ur_ls,
                        "clientURLs": m.client_ur_ls,
                    })).collect::<Vec<_>>(),
                }
            }),
            Some(Member::Worker(list)) => json!({
                "worker": {
                    "msg": list.msg,
                    "workers": list.workers.iter().map(|w| json!({
                        "name": w.name,
                        "addr": w.addr,
                        "stage": w.stage,
                        "source": w.source,
                    })).collect::<Vec<_>>(),
                }
            }),
            None => json!({}),
        })
        .collect();
    json!({ "result": resp.result, "msg": resp.msg, "members": members })
}

/// `OfflineMemberResponse` as jsonpb.
pub fn offline_member_json(resp: &OfflineMemberResponse) -> Value {
    json!({ "result": resp.result, "msg": resp.msg })
}

fn common_worker_json(c: &CommonWorkerResponse) -> Value {
    json!({ "result": c.result, "msg": c.msg, "source": c.source, "worker": c.worker })
}

/// `OperateSourceResponse` as jsonpb.
pub fn operate_source_json(resp: &OperateSourceResponse) -> Value {
    json!({
        "result": resp.result,
        "msg": resp.msg,
        "sources": resp.sources.iter().map(common_worker_json).collect::<Vec<_>>(),
    })
}

/// `value` pretty-printed with `indent`, as jsonpb's `Indent`.
pub fn to_json_text(value: &Value, indent: &str) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    if value.serialize(&mut ser).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn json_reply(status: u16, value: &Value, indent: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(to_json_text(value, indent)))
        .unwrap_or_default()
}

/// grpc-gateway's default error body and HTTP status.
fn status_reply(status: &tonic::Status) -> Response {
    use tonic::Code;
    let http = match status.code() {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::Unauthenticated => 401,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    };
    let body = json!({
        "code": status.code() as i32,
        "message": status.message(),
        "details": [],
    });
    json_reply(http, &body, "  ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ListMasterMember, ListWorkerMember, MasterInfo, Members, WorkerInfo};

    #[test]
    fn query_binding_like_grpc_gateway() {
        let req = list_member_request("leader=true&names=a&names=b%2Cc&worker=false");
        assert!(req.leader && !req.master && !req.worker);
        assert_eq!(req.names, ["a", "b", "c"]);
    }

    #[test]
    fn list_member_as_jsonpb() {
        let resp = ListMemberResponse {
            result: true,
            msg: String::new(),
            members: vec![
                Members {
                    member: Some(Member::Master(ListMasterMember {
                        msg: String::new(),
                        masters: vec![MasterInfo {
                            name: "m1".into(),
                            member_id: 11007177379717700053,
                            alive: true,
                            peer_ur_ls: vec!["http://127.0.0.1:8291".into()],
                            client_ur_ls: vec!["http://127.0.0.1:8261".into()],
                        }],
                    })),
                },
                Members {
                    member: Some(Member::Worker(ListWorkerMember {
                        msg: String::new(),
                        workers: vec![WorkerInfo {
                            name: "w1".into(),
                            addr: "127.0.0.1:8262".into(),
                            stage: "bound".into(),
                            source: "s1".into(),
                        }],
                    })),
                },
            ],
        };
        let text = to_json_text(&list_member_json(&resp), "  ");
        assert_eq!(
            text,
            r#"{
  "result": true,
  "msg": "",
  "members": [
    {
      "master": {
        "msg": "",
        "masters": [
          {
            "name": "m1",
            "memberID": "11007177379717700053",
            "alive": true,
            "peerURLs": [
              "http://127.0.0.1:8291"
            ],
            "clientURLs": [
              "http://127.0.0.1:8261"
            ]
          }
        ]
      }
    },
    {
      "worker": {
        "msg": "",
        "workers": [
          {
            "name": "w1",
            "addr": "127.0.0.1:8262",
            "stage": "bound",
            "source": "s1"
          }
        ]
      }
    }
  ]
}"#
        );
    }
}
