//! etcd cluster membership as the embedded member needs it: list the
//! members and add one (DM's join, `dm/master/etcd.go` `prepareJoinEtcd`).

use super::{timed, Etcd};
use crate::error::{Error, Result};

/// One etcd member as `MemberList` / `MemberAdd` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    /// Empty while an added member has not started yet.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

impl Member {
    fn from_client(member: &etcd_client::Member) -> Member {
        Member {
            id: member.id(),
            name: member.name().to_string(),
            peer_urls: member.peer_urls().to_vec(),
            client_urls: member.client_urls().to_vec(),
            is_learner: member.is_learner(),
        }
    }
}

impl Error {
    /// Whether etcd answered `Unavailable` (it refused the request without
    /// applying it, e.g. "etcdserver: unhealthy cluster" for a MemberAdd).
    pub fn is_refused_as_unavailable(&self) -> bool {
        matches!(
            self,
            Error::Etcd {
                source: etcd_client::Error::GRpcStatus(status),
                ..
            } if status.code() == tonic::Code::Unavailable
        )
    }
}

impl Etcd {
    /// The cluster's members.
    pub async fn member_list(&self) -> Result<Vec<Member>> {
        let mut cluster = self.shared.client.cluster_client();
        let resp = timed("member list", cluster.member_list()).await?;
        Ok(resp.members().iter().map(Member::from_client).collect())
    }

    /// Adds a voting member with `peer_urls`; returns the members after the
    /// addition (the new one included, with an empty name).
    pub async fn member_add(&self, peer_urls: &[String]) -> Result<(Member, Vec<Member>)> {
        let mut cluster = self.shared.client.cluster_client();
        let resp = timed("member add", cluster.member_add(peer_urls.to_vec(), None)).await?;
        let added = resp.member().map(Member::from_client).unwrap_or(Member {
            id: 0,
            name: String::new(),
            peer_urls: peer_urls.to_vec(),
            client_urls: Vec::new(),
            is_learner: false,
        });
        Ok((
            added,
            resp.member_list().iter().map(Member::from_client).collect(),
        ))
    }

    /// Removes the member with `id`.
    pub async fn member_remove(&self, id: u64) -> Result<()> {
        let mut cluster = self.shared.client.cluster_client();
        timed("member remove", cluster.member_remove(id)).await?;
        Ok(())
    }
}
