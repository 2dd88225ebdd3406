//! Where data lives, chosen by URL: a local path or `file://`, `s3://`,
//! `gs://`, `az://` / `abfs://` / `azure://`, or `memory://` (one in-process
//! store, for tests). Credentials and endpoints come from the standard
//! environment variables and provider chains (`AWS_*`, `GOOGLE_*`, `AZURE_*`),
//! overridable by the config's `storage:` section; they are never logged or
//! written to the manifest.
//!
//! Remote inputs and factor sets are copied to a local working directory once,
//! hashed while they stream in, and read from there: memory does not grow with
//! file size, and every later step reads exactly the bytes that were hashed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, ObjectStoreScheme};
use serde::{Deserialize, Serialize};
use url::Url;

/// The `storage:` section of pipeline.yaml.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Endpoint of an S3-compatible service (MinIO, Ceph, OSS, OBS, COS) or Azurite.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// Allow plain http (a local S3-compatible server).
    #[serde(default)]
    pub allow_http: Option<bool>,
    /// Any other object_store option, e.g. `aws_virtual_hosted_style_request: "false"`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// Option keys whose values must never be shown.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "secret",
        "key",
        "token",
        "password",
        "credential",
        "sas",
        "signature",
    ]
    .iter()
    .any(|s| k.contains(s))
        && !k.ends_with("key_id")
        && k != "aws_virtual_hosted_style_request"
}

impl Storage {
    /// The settings without the secrets: what a cluster's executors are
    /// sent (they take credentials from their own environment).
    #[cfg_attr(not(feature = "distributed"), allow(dead_code))]
    pub(crate) fn without_secrets(&self) -> Storage {
        let mut s = self.clone();
        s.options.retain(|k, _| !is_secret_key(k));
        s
    }

    /// A copy safe to write to a manifest or a log.
    pub(crate) fn redacted(&self) -> Storage {
        let mut s = self.clone();
        for (k, v) in s.options.iter_mut() {
            if is_secret_key(k) {
                *v = "***".into();
            }
        }
        s
    }
}

/// A place: an object store and a prefix inside it.
#[derive(Debug, Clone)]
pub struct Location {
    /// As shown to people: the URL, or the local path.
    pub display: String,
    pub store: Arc<dyn ObjectStore>,
    pub prefix: ObjectPath,
    /// The directory, for the local filesystem.
    pub local: Option<PathBuf>,
    /// The URL of the store's root (for registering it with DataFusion).
    pub root_url: Url,
    /// What it was parsed from, to open a second connection ([`Location::reopen`]).
    spec: Arc<(PathBuf, String, Storage)>,
}

fn memory_store() -> Arc<InMemory> {
    static MEMORY: OnceLock<Arc<InMemory>> = OnceLock::new();
    MEMORY.get_or_init(|| Arc::new(InMemory::new())).clone()
}

/// Does the text name a URL with a scheme (not a local path)?
pub(crate) fn is_url(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

impl Location {
    /// Parse a location from the config: relative paths are resolved against
    /// `base_dir`. A local directory is not created here.
    pub fn parse(base_dir: &Path, s: &str, storage: &Storage) -> Result<Location, String> {
        if !is_url(s) || s.starts_with("file://") {
            let p = match s.strip_prefix("file://") {
                Some(rest) => PathBuf::from(rest),
                None if Path::new(s).is_absolute() => PathBuf::from(s),
                None => base_dir.join(s),
            };
            let abs = normalize(&std::path::absolute(&p).map_err(|e| format!("{s}: {e}"))?);
            let root_url = Url::parse("file:///").expect("a valid URL");
            return Ok(Location {
                display: p.display().to_string(),
                store: Arc::new(LocalFileSystem::new()),
                prefix: ObjectPath::from_absolute_path(&abs).map_err(|e| format!("{s}: {e}"))?,
                local: Some(abs),
                root_url,
                spec: Arc::new((base_dir.to_path_buf(), s.to_string(), storage.clone())),
            });
        }
        let url = Url::parse(s).map_err(|e| format!("'{s}' is not a valid URL: {e}"))?;
        let (scheme, prefix) = ObjectStoreScheme::parse(&url).map_err(|e| {
            format!("'{s}': {e}; use a local path, file://, s3://, gs://, az:// or memory://")
        })?;
        let bad = |key: &str, e: object_store::Error| format!("storage.options.{key}: {e}");
        let store: Arc<dyn ObjectStore> = match scheme {
            ObjectStoreScheme::Memory => memory_store(),
            ObjectStoreScheme::AmazonS3 => {
                let mut b = AmazonS3Builder::from_env().with_url(s);
                if let Some(e) = &storage.endpoint {
                    b = b.with_endpoint(e);
                }
                if let Some(r) = &storage.region {
                    b = b.with_region(r);
                }
                if let Some(h) = storage.allow_http {
                    b = b.with_allow_http(h);
                }
                for (k, v) in &storage.options {
                    let key: AmazonS3ConfigKey = k.parse().map_err(|e| bad(k, e))?;
                    b = b.with_config(key, v);
                }
                Arc::new(b.build().map_err(|e| format!("{s}: {e}"))?)
            }
            ObjectStoreScheme::GoogleCloudStorage => Arc::new(
                gcs_builder(s, storage)?
                    .build()
                    .map_err(|e| format!("{s}: {e}"))?,
            ),
            ObjectStoreScheme::MicrosoftAzure => {
                let mut b = MicrosoftAzureBuilder::from_env().with_url(s);
                if let Some(e) = &storage.endpoint {
                    b = b.with_endpoint(e.clone());
                }
                if let Some(h) = storage.allow_http {
                    b = b.with_allow_http(h);
                }
                for (k, v) in &storage.options {
                    let key: AzureConfigKey = k.parse().map_err(|e| bad(k, e))?;
                    b = b.with_config(key, v);
                }
                Arc::new(b.build().map_err(|e| format!("{s}: {e}"))?)
            }
            other => {
                return Err(format!(
                    "'{s}': {other:?} locations are not supported; use a local path, file://, s3://, gs://, az:// or memory://"
                ));
            }
        };
        let mut root_url = url.clone();
        root_url.set_path("/");
        Ok(Location {
            display: s.trim_end_matches('/').to_string(),
            store,
            prefix,
            local: None,
            root_url,
            spec: Arc::new((base_dir.to_path_buf(), s.to_string(), storage.clone())),
        })
    }

    /// The same place through a new client of its own (its own connection
    /// pool): for work on another thread's runtime, like the lock's heartbeat.
    pub(crate) fn reopen(&self) -> Result<Location, String> {
        let (base, s, storage) = &*self.spec;
        Location::parse(base, s, storage)
    }

    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The full object path of `rel` below this location.
    pub(crate) fn join(&self, rel: &str) -> ObjectPath {
        let mut p = self.prefix.clone();
        for part in rel.split('/').filter(|s| !s.is_empty()) {
            p = p.join(part);
        }
        p
    }

    /// `full` relative to this location's prefix.
    pub(crate) fn relative(&self, full: &ObjectPath) -> String {
        match full.prefix_match(&self.prefix) {
            Some(parts) => parts
                .map(|p| p.as_ref().to_string())
                .collect::<Vec<_>>()
                .join("/"),
            None => full.to_string(),
        }
    }

    /// How `full` is shown to people.
    pub(crate) fn show(&self, full: &ObjectPath) -> String {
        let rel = self.relative(full);
        if rel.is_empty() {
            self.display.clone()
        } else {
            format!("{}/{rel}", self.display)
        }
    }

    /// Every object below this location (recursively).
    pub(crate) async fn list(&self) -> object_store::Result<Vec<ObjectMeta>> {
        let mut v: Vec<ObjectMeta> = self.store.list(Some(&self.prefix)).try_collect().await?;
        v.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(v)
    }

    /// Copy one object to a local file, hashing it on the way; `observe` sees
    /// every chunk too (a caller's own check, in the same pass).
    /// Returns (size, sha256).
    pub(crate) async fn download(
        &self,
        object: &ObjectPath,
        to: &Path,
        observe: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<(u64, String), String> {
        let shown = self.show(object);
        let result = self
            .store
            .get(object)
            .await
            .map_err(|e| format!("{shown}: {e}"))?;
        let mut stream = result.into_stream();
        let mut file = std::fs::File::create(to).map_err(|e| format!("{}: {e}", to.display()))?;
        let mut hash = crate::digest::ContentHash::default();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("{shown}: {e}"))?;
            hash.update(&chunk);
            observe(&chunk);
            file.write_all(&chunk)
                .map_err(|e| format!("{}: {e}", to.display()))?;
        }
        Ok(hash.finish())
    }
}

/// A GCS client for `url`: `storage.endpoint` is the service's base URL (a
/// private endpoint or an emulator), `storage.allow_http` allows plain http,
/// and `storage.options` may set any other `google_*` key (an option given
/// there wins over `endpoint` and `allow_http`).
fn gcs_builder(url: &str, storage: &Storage) -> Result<GoogleCloudStorageBuilder, String> {
    let mut b = GoogleCloudStorageBuilder::from_env().with_url(url);
    if let Some(e) = &storage.endpoint {
        b = b.with_base_url(e.trim_end_matches('/'));
    }
    if let Some(h) = storage.allow_http {
        b = b.with_config(
            GoogleConfigKey::Client(object_store::ClientConfigKey::AllowHttp),
            h.to_string(),
        );
    }
    for (k, v) in &storage.options {
        let key: GoogleConfigKey = k.parse().map_err(|e| format!("storage.options.{k}: {e}"))?;
        b = b.with_config(key, v);
    }
    Ok(b)
}

/// Resolve `.` and `..` lexically (the path need not exist yet).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Split a remote pattern into the fixed prefix (up to the last `/` before the
/// first wildcard) and whether it has wildcards.
pub(crate) fn glob_prefix(pattern: &str) -> (&str, bool) {
    match pattern.find(['*', '?', '[']) {
        None => (pattern, false),
        Some(i) => {
            let cut = pattern[..i].rfind('/').map_or(0, |j| j);
            (&pattern[..cut], true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let mut s = Storage::default();
        s.options
            .insert("aws_secret_access_key".into(), "abc".into());
        s.options.insert("aws_access_key_id".into(), "AKIA".into());
        s.options.insert("aws_session_token".into(), "t".into());
        s.options
            .insert("aws_virtual_hosted_style_request".into(), "false".into());
        let r = s.redacted();
        assert_eq!(r.options["aws_secret_access_key"], "***");
        assert_eq!(r.options["aws_session_token"], "***");
        assert_eq!(r.options["aws_access_key_id"], "AKIA");
        assert_eq!(r.options["aws_virtual_hosted_style_request"], "false");
        // what a cluster's executors are sent: the secrets left out, not starred
        let sent = s.without_secrets();
        assert_eq!(
            sent.options.keys().collect::<Vec<_>>(),
            ["aws_access_key_id", "aws_virtual_hosted_style_request"]
        );
    }

    #[test]
    fn locations_parse() {
        let l = Location::parse(Path::new("/base"), "data/x.csv", &Storage::default()).unwrap();
        assert_eq!(l.local.unwrap(), PathBuf::from("/base/data/x.csv"));
        let up = Location::parse(
            Path::new("/base/jobs"),
            "../data/./x.csv",
            &Storage::default(),
        )
        .unwrap();
        assert_eq!(up.local.unwrap(), PathBuf::from("/base/data/x.csv"));
        let m =
            Location::parse(Path::new("/"), "memory:///bucket/out", &Storage::default()).unwrap();
        assert_eq!(m.prefix.as_ref(), "bucket/out");
        assert_eq!(m.show(&m.join("a/b.csv")), "memory:///bucket/out/a/b.csv");
        let s3 = Location::parse(
            Path::new("/"),
            "s3://bucket/reports",
            &Storage {
                endpoint: Some("http://127.0.0.1:9".into()),
                region: Some("us-east-1".into()),
                allow_http: Some(true),
                options: BTreeMap::new(),
            },
        )
        .unwrap();
        assert_eq!(s3.prefix.as_ref(), "reports");
        assert!(Location::parse(Path::new("/"), "ftp://x/y", &Storage::default()).is_err());
        let bad = Location::parse(
            Path::new("/"),
            "s3://b/p",
            &Storage {
                options: [("no_such_option".to_string(), "1".to_string())].into(),
                ..Storage::default()
            },
        )
        .unwrap_err();
        assert!(bad.contains("storage.options.no_such_option"), "{bad}");
    }

    #[test]
    fn gcs_honours_endpoint_and_allow_http() {
        let storage = Storage {
            endpoint: Some("http://127.0.0.1:4443/".into()),
            region: None,
            allow_http: Some(true),
            options: [("google_skip_signature".to_string(), "true".to_string())].into(),
        };
        let b = gcs_builder("gs://bureau-reports/out", &storage).unwrap();
        // what object_store receives
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::BaseUrl).as_deref(),
            Some("http://127.0.0.1:4443")
        );
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::Client(
                object_store::ClientConfigKey::AllowHttp
            ))
            .as_deref(),
            Some("true")
        );
        assert_eq!(
            b.get_config_value(&GoogleConfigKey::SkipSignature)
                .as_deref(),
            Some("true")
        );
        // without an endpoint, Google's own
        let plain = gcs_builder("gs://b/out", &Storage::default()).unwrap();
        assert_eq!(plain.get_config_value(&GoogleConfigKey::BaseUrl), None);
        let loc = Location::parse(Path::new("/"), "gs://bureau-reports/out", &storage).unwrap();
        assert_eq!(loc.prefix.as_ref(), "out");
        assert_eq!(loc.reopen().unwrap().display, "gs://bureau-reports/out");
    }

    #[test]
    fn glob_prefixes() {
        assert_eq!(glob_prefix("a/b/*.csv"), ("a/b", true));
        assert_eq!(glob_prefix("a/b/c.csv"), ("a/b/c.csv", false));
        assert_eq!(glob_prefix("*.csv"), ("", true));
    }
}
