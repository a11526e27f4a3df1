//! URLs and addresses as DM's config adjust reads and writes them: scheme
//! wrapping (`http://` or `https://` by TLS), Go's `net.SplitHostPort`, and
//! the `etcd-endpoints` list.

use super::ConfigError;

/// DM's `utils.UnwrapScheme`.
pub fn unwrap_scheme(s: &str) -> &str {
    s.strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .unwrap_or(s)
}

fn wrap_scheme(s: &str, https: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let bare = unwrap_scheme(s);
    if https {
        format!("https://{bare}")
    } else {
        format!("http://{bare}")
    }
}

/// DM's `utils.WrapSchemes`: every comma item gets `http://` or `https://`.
pub fn wrap_schemes(s: &str, https: bool) -> String {
    s.split(',')
        .map(|item| wrap_scheme(item, https))
        .collect::<Vec<_>>()
        .join(",")
}

/// DM's `utils.WrapSchemesForInitialCluster` over `name=url,...`.
pub fn wrap_schemes_for_initial_cluster(s: &str, https: bool) -> String {
    s.split(',')
        .map(|item| {
            let parts: Vec<&str> = item.split('=').collect();
            if parts.len() != 2 {
                item.to_string()
            } else {
                format!("{}={}", parts[0], wrap_scheme(parts[1], https))
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Go's `net.SplitHostPort`.
pub fn split_host_port(addr: &str) -> Result<(String, String), String> {
    let missing = || format!("address {addr}: missing port in address");
    if let Some(rest) = addr.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!("address {addr}: missing ']' in address"));
        };
        let Some(port) = after.strip_prefix(':') else {
            return Err(missing());
        };
        if port.contains(':') {
            return Err(format!("address {addr}: too many colons in address"));
        }
        return Ok((host.to_string(), port.to_string()));
    }
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(missing());
    };
    if host.contains(':') {
        return Err(format!("address {addr}: too many colons in address"));
    }
    if host.contains('[') || host.contains(']') || port.contains('[') || port.contains(']') {
        return Err(format!("address {addr}: unexpected '[' or ']' in address"));
    }
    Ok((host.to_string(), port.to_string()))
}

pub(super) fn split_endpoints(text: &str, https: bool) -> Result<Vec<String>, ConfigError> {
    let endpoints: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.contains("://") {
                s.to_string()
            } else {
                wrap_scheme(s, https)
            }
        })
        .collect();
    if endpoints.is_empty() {
        return Err(ConfigError::new(38010, "etcd-endpoints is empty"));
    }
    for e in &endpoints {
        let rest = e.split_once("://").map(|(_, r)| r).unwrap_or(e);
        if split_host_port(rest).is_err() {
            return Err(ConfigError::new(
                38010,
                format!("etcd endpoint {e:?} must include a port"),
            ));
        }
    }
    Ok(endpoints)
}
