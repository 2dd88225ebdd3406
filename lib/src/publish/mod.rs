//! Writing the datasets and publishing them atomically.
//!
//! The commit protocol, for any store (local disk, S3, GCS, Azure):
//! 1. every partition file is written under `_staging/<run_id>/` — invisible
//!    to readers of `reports/`;
//! 2. each is moved to its final path, `reports/<dataset>/year=<Y>/part-<F>.parquet`,
//!    where `<F>` is the first 16 hex digits of the run's fingerprint: a new
//!    run never overwrites a file the published manifest names (only identical
//!    bytes of an identical run), so readers that follow `manifest.json` never
//!    see a mix of two runs;
//! 3. the manifest is kept as `manifests/<run_id>.json`, then `manifest.json`
//!    is replaced — the commit point;
//! 4. files under `reports/` that the new manifest does not name, and anything
//!    left under `_staging/`, are removed.
//!
//! Before 2 and again right before `manifest.json` is replaced, the run
//! confirms that it still holds the output's lock (lock.rs): a run whose lease
//! was taken over fails there, with nothing published.
//!
//! A run that dies anywhere before 3 leaves the published manifest and every
//! file it names untouched; the next run removes what it left. Files are
//! written with fixed writer settings and rows in a total order, so the same
//! inputs give byte-identical files.

pub(crate) mod faults;
pub(crate) mod lock;
pub(crate) mod manifest;
pub(crate) mod schema;
pub(crate) mod write;

pub(crate) use faults::fault_point;
pub use faults::{FAULT_ENV, FaultPoint};
pub use manifest::{MANIFEST_FILE, Manifest};
pub use schema::{ColType, Column, DATASETS, Dataset, dictionary_markdown};
pub(crate) use write::{write_all, writer_properties};

use std::collections::BTreeSet;

use object_store::{ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};
use crate::publish::write::staged;
use crate::store::Location;

/// How many object-store requests the publishing of many small files keeps
/// in flight (staging puts, the commit's renames, the clean-up's deletes).
pub(crate) const IO_CONCURRENCY: usize = 16;

/// A staged file up to this size is put in one request ([`OutputStore::put_file`]).
const SINGLE_PUT_BYTES: u64 = 16 * 1024 * 1024;
/// The part size of a larger file's multipart upload (S3 takes parts of 5 MiB and more).
const PART_BYTES: usize = 8 * 1024 * 1024;
/// How many parts of one upload are in flight at once.
const PARTS_IN_FLIGHT: usize = 2;

pub(crate) const REPORTS_PREFIX: &str = "reports";
pub(crate) const STAGING_PREFIX: &str = "_staging";
pub(crate) const MANIFESTS_PREFIX: &str = "manifests";

/// Where a run publishes.
#[derive(Debug, Clone)]
pub struct OutputStore {
    pub loc: Location,
}

impl OutputStore {
    /// Open an output location; a local directory is created if missing.
    pub(crate) fn open(loc: Location) -> Result<Self> {
        if let Some(dir) = &loc.local {
            std::fs::create_dir_all(dir).map_err(|e| Error::Output {
                url: loc.display.clone(),
                message: format!("cannot create the directory: {e}"),
            })?;
        }
        Ok(OutputStore { loc })
    }

    pub(crate) fn url(&self) -> &str {
        &self.loc.display
    }

    fn err(&self, path: &str, e: object_store::Error) -> Error {
        Error::Output {
            url: format!("{}/{path}", self.loc.display),
            message: e.to_string(),
        }
    }

    pub(crate) async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        self.loc
            .store
            .put(&self.loc.join(path), PutPayload::from(bytes))
            .await
            .map_err(|e| self.err(path, e))?;
        Ok(())
    }

    /// Put a file of this run's staging area (`_staging/<run>/…`: a bulletin
    /// page; on an object store also a dataset's year file up to
    /// [`SINGLE_PUT_BYTES`]), which
    /// nothing reads before the commit moves it into place: in a local
    /// directory it is written in place, without the temporary file and
    /// rename object_store's put makes per file for readers that must never
    /// see half a file. A bulletin stages a page per region (4 000 at 10^7
    /// input rows), and each rename takes the directory's lock that the
    /// other pages' creations wait on (docs/benchmarks.md, session 21). A
    /// failed run leaves what it staged to the next run's clean-up, as
    /// before.
    pub(crate) async fn put_staged(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        let Some(file) = self.local_path(path)? else {
            return self.put(path, bytes).await;
        };
        let written = tokio::task::spawn_blocking(move || match std::fs::write(&file, &bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&file, &bytes)
            }
            other => other,
        })
        .await
        .map_err(|e| Error::Internal(format!("staging {path}: {e}")))?;
        written.map_err(|e| Error::Output {
            url: format!("{}/{path}", self.loc.display),
            message: e.to_string(),
        })
    }

    /// Where `path` is on the file system when the output is a local
    /// directory; None for an object store.
    pub(crate) fn local_path(&self, path: &str) -> Result<Option<std::path::PathBuf>> {
        if !self.loc.is_local() {
            return Ok(None);
        }
        object_store::local::LocalFileSystem::new()
            .path_to_filesystem(&self.loc.join(path))
            .map(Some)
            .map_err(|e| self.err(path, e))
    }

    /// Stage the first `len` bytes of a local file: in one request
    /// ([`OutputStore::put_staged`]) when they are at most
    /// [`SINGLE_PUT_BYTES`], else as a multipart upload of
    /// [`PART_BYTES`] parts, [`PARTS_IN_FLIGHT`] at a time, so a large file
    /// (a year of enterprise_annual is about 570 MB at 10^9 input rows) is
    /// never held in memory whole. A dataset's year files take this way to
    /// an object store; in a local output they are written in place
    /// (write::YearPlace).
    pub(crate) async fn put_file(
        &self,
        path: &str,
        file: &mut std::fs::File,
        len: u64,
    ) -> Result<()> {
        self.put_file_in_parts(path, file, len, SINGLE_PUT_BYTES, PART_BYTES)
            .await
    }

    async fn put_file_in_parts(
        &self,
        path: &str,
        file: &mut std::fs::File,
        len: u64,
        single_put: u64,
        part: usize,
    ) -> Result<()> {
        use std::io::{Read, Seek};
        let io = |e: std::io::Error| Error::Output {
            url: format!("{}/{path}", self.loc.display),
            message: format!("cannot read the file staged for it: {e}"),
        };
        file.rewind().map_err(io)?;
        if len <= single_put {
            let mut bytes = Vec::with_capacity(len as usize);
            file.take(len).read_to_end(&mut bytes).map_err(io)?;
            return self.put_staged(path, bytes).await;
        }
        let upload = self
            .loc
            .store
            .put_multipart(&self.loc.join(path))
            .await
            .map_err(|e| self.err(path, e))?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, part);
        let mut left = len;
        let sent: Result<()> = async {
            while left > 0 {
                let n = (part as u64).min(left) as usize;
                // a local file, mostly still in the page cache: read in place,
                // each part into a buffer of its own that the upload takes over
                let mut buf = vec![0u8; n];
                file.read_exact(&mut buf).map_err(io)?;
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(|e| self.err(path, e))?;
                writer.put(buf.into());
                left -= n as u64;
            }
            Ok(())
        }
        .await;
        if let Err(e) = sent {
            let _ = writer.abort().await;
            return Err(e);
        }
        writer.finish().await.map_err(|e| self.err(path, e))?;
        Ok(())
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match self.loc.store.get(&self.loc.join(path)).await {
            Ok(r) => Ok(Some(
                r.bytes().await.map_err(|e| self.err(path, e))?.to_vec(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(path, e)),
        }
    }

    /// Size of an object, None if it does not exist.
    pub(crate) async fn size(&self, path: &str) -> Result<Option<u64>> {
        match self.loc.store.head(&self.loc.join(path)).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(path, e)),
        }
    }

    /// Every object below `prefix`, relative to the output root.
    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        let p = self.loc.join(prefix);
        let metas: Vec<_> = self
            .loc
            .store
            .list(Some(&p))
            .try_collect()
            .await
            .map_err(|e| self.err(prefix, e))?;
        let mut out: Vec<String> = metas
            .iter()
            .map(|m| self.loc.relative(&m.location))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Run `f` on every item with up to [`IO_CONCURRENCY`] requests in flight;
    /// the first error stops the rest. A bulletin has a page per region: one
    /// request at a time, 4 000 renames take seconds on a local disk and
    /// minutes on an object store.
    pub(crate) async fn concurrently<I, F, Fut>(&self, items: I, f: F) -> Result<()>
    where
        I: IntoIterator,
        F: Fn(I::Item) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        use futures::{StreamExt, TryStreamExt};
        futures::stream::iter(items)
            .map(f)
            .buffer_unordered(IO_CONCURRENCY)
            .try_collect::<()>()
            .await
    }

    /// Move a staged file to its final name, replacing what is there.
    pub(crate) async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (src, dst) = (self.loc.join(from), self.loc.join(to));
        match self.loc.store.rename(&src, &dst).await {
            Ok(()) => Ok(()),
            // GCS in object_store 0.13.2 refuses to copy over an existing
            // object: its overwriting copy sends `x-goog-if-generation-match: 0`
            // (apache/arrow-rs-object-store#712). The final name is there when
            // an identical run is published again (the name is the run's
            // fingerprint: the same bytes). Replace it with a plain put.
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                let Some(bytes) = self.get(from).await? else {
                    return Err(Error::Output {
                        url: format!("{}/{from}", self.loc.display),
                        message: "the staged file is gone".into(),
                    });
                };
                self.put(to, bytes).await?;
                self.delete(from).await
            }
            Err(e) => Err(self.err(from, e)),
        }
    }

    pub(crate) async fn delete(&self, path: &str) -> Result<()> {
        match self.loc.store.delete(&self.loc.join(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(path, e)),
        }
    }

    /// Remove the empty directories below `prefix` (a local store keeps them).
    pub(crate) fn prune_empty_dirs(&self, prefix: &str) -> Result<()> {
        fn prune(dir: &std::path::Path) -> std::io::Result<bool> {
            let mut empty = true;
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    empty &= prune(&entry.path())?;
                } else {
                    empty = false;
                }
            }
            if empty {
                std::fs::remove_dir(dir)?;
            }
            Ok(empty)
        }
        if let Some(root) = &self.loc.local {
            let dir = root.join(prefix);
            if dir.is_dir() {
                prune(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
            }
        }
        Ok(())
    }

    /// The manifest of the last published run, if any.
    pub(crate) async fn read_manifest(&self) -> Result<Option<Manifest>> {
        self.read_manifest_at(MANIFEST_FILE).await
    }

    /// The manifest at `path` under the output (`manifest.json`, or a kept
    /// one, `manifests/<run_id>.json`), if there is a file.
    pub(crate) async fn read_manifest_at(&self, path: &str) -> Result<Option<Manifest>> {
        match self.get(path).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Output {
                    url: format!("{}/{path}", self.loc.display),
                    message: format!("not a carbonstat manifest: {e}"),
                }),
        }
    }
}

/// Move the staged files into place, switch the manifest, remove what the new
/// run replaced.
pub(crate) async fn commit(
    out: &OutputStore,
    manifest: &Manifest,
    lock: &lock::Lock,
) -> Result<()> {
    let run_id = &manifest.run_id;
    fault_point(FaultPoint::BeforeCommit).await?;
    lock.confirm("the commit").await?;
    let mut staged_files = manifest
        .outputs
        .iter()
        .filter(|f| f.path != crate::report::BULLETIN_ENTRY);
    if let Some(f) = staged_files.next() {
        out.rename(&staged(run_id, &f.path), &f.path).await?;
        fault_point(FaultPoint::MidCommit).await?;
    }
    out.concurrently(staged_files, |f| async move {
        out.rename(&staged(run_id, &f.path), &f.path).await
    })
    .await?;
    let json = serde_json::to_vec_pretty(manifest)
        .map_err(|e| Error::Internal(format!("manifest: {e}")))?;
    fault_point(FaultPoint::BeforeManifest).await?;
    if let Err(e) = lock.confirm("manifest.json").await {
        tracing::warn!(
            "the files this run moved into reports/ are named by no manifest; the next run removes them"
        );
        return Err(e);
    }
    out.put(&format!("{MANIFESTS_PREFIX}/{run_id}.json"), json.clone())
        .await?;
    out.put(MANIFEST_FILE, json).await?;
    // the bulletin's entry page now leads to this run's pages (the previous
    // run's stay until the clean-up below)
    if manifest
        .outputs
        .iter()
        .any(|f| f.path == crate::report::BULLETIN_ENTRY)
    {
        let fp16 = &manifest.fingerprint[..16.min(manifest.fingerprint.len())];
        out.put(
            crate::report::BULLETIN_ENTRY,
            crate::report::entry_html(fp16),
        )
        .await?;
    }
    tracing::info!(run_id = %run_id, "manifest.json replaced: the run is published");
    fault_point(FaultPoint::AfterManifest).await?;
    collect_garbage(out, manifest).await
}

/// Remove files under `reports/` and `bulletin/` that `manifest` does not
/// name, and all of `_staging/` (only ever called while holding the lock):
/// after a commit, and by a run that finds the published run up to date (what
/// a run killed after its commit, or during its staging, left behind).
pub(crate) async fn collect_garbage(out: &OutputStore, manifest: &Manifest) -> Result<()> {
    let keep: BTreeSet<&str> = manifest.outputs.iter().map(|f| f.path.as_str()).collect();
    let mut doomed = Vec::new();
    for prefix in [REPORTS_PREFIX, crate::report::BULLETIN_PREFIX] {
        for existing in out.list(prefix).await? {
            if !keep.contains(existing.as_str()) {
                doomed.push(existing);
            }
        }
    }
    doomed.extend(out.list(STAGING_PREFIX).await?);
    let removed = doomed.len();
    out.concurrently(doomed.iter(), |path| out.delete(path))
        .await?;
    out.prune_empty_dirs(REPORTS_PREFIX)?;
    out.prune_empty_dirs(crate::report::BULLETIN_PREFIX)?;
    out.prune_empty_dirs(STAGING_PREFIX)?;
    if removed > 0 {
        tracing::info!(files = removed, "removed files no manifest names");
    }
    Ok(())
}

#[cfg(test)]
impl OutputStore {
    /// An output in a fresh in-memory store (`memory:///<name>`), as an
    /// object store behaves: no local path, puts instead of file writes.
    pub(crate) fn in_memory(name: &str) -> OutputStore {
        OutputStore {
            loc: Location::parse(
                std::path::Path::new("/"),
                &format!("memory:///{name}"),
                &crate::store::Storage::default(),
            )
            .expect("a memory:// location parses"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::stream::BoxStream;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{
        CopyMode, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta,
        ObjectStore, PutMultipartOptions, PutOptions, PutResult,
    };

    use super::*;
    use crate::store::Storage;

    /// An in-memory store whose overwriting copy fails when the destination
    /// exists, as object_store 0.13.2's GCS client does.
    #[derive(Debug, Default)]
    struct GcsCopy(InMemory);

    impl std::fmt::Display for GcsCopy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("GcsCopy")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for GcsCopy {
        async fn put_opts(
            &self,
            p: &Path,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.0.put_opts(p, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            p: &Path,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.0.put_multipart_opts(p, opts).await
        }
        async fn get_opts(&self, p: &Path, o: GetOptions) -> object_store::Result<GetResult> {
            self.0.get_opts(p, o).await
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<Path>>,
        ) -> BoxStream<'static, object_store::Result<Path>> {
            self.0.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&Path>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.0.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&Path>,
        ) -> object_store::Result<ListResult> {
            self.0.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &Path,
            to: &Path,
            o: CopyOptions,
        ) -> object_store::Result<()> {
            if matches!(o.mode, CopyMode::Overwrite) && self.0.head(to).await.is_ok() {
                return Err(object_store::Error::AlreadyExists {
                    path: to.to_string(),
                    source: "412 Precondition Failed (if-generation-match: 0)".into(),
                });
            }
            self.0.copy_opts(from, to, o).await
        }
    }

    /// A file larger than the single-put size goes up in parts and arrives
    /// whole: 3 MiB + 17 bytes in 1 MiB parts is 4 parts (3 full, 1 of 17
    /// bytes); only the first `len` bytes of the file count.
    #[tokio::test]
    async fn a_large_file_is_put_in_parts_and_arrives_whole() {
        let dir = tempfile::tempdir().unwrap();
        let loc = Location::parse(dir.path(), "out", &Storage::default()).unwrap();
        let out = OutputStore::open(loc).unwrap();
        let len = 3 * 1024 * 1024 + 17;
        let bytes: Vec<u8> = (0..len + 5).map(|i| (i * 7 % 251) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        for single_put in [0, 16 * 1024 * 1024] {
            let path = format!("_staging/r/{single_put}.parquet");
            out.put_file_in_parts(&path, &mut file, len as u64, single_put, 1024 * 1024)
                .await
                .unwrap();
            let got = out.get(&path).await.unwrap().unwrap();
            assert_eq!(got.len(), len);
            assert!(got == bytes[..len], "the bytes put differ from the file's");
        }
        assert_eq!(
            out.list("_staging/r").await.unwrap(),
            vec!["_staging/r/0.parquet", "_staging/r/16777216.parquet"]
        );
    }

    /// A staged page is written in place in a local directory: its folders
    /// are made, a second put replaces the first one's bytes, no temporary
    /// file is left beside it, and the store lists and reads it like any
    /// put. Elsewhere (memory://) it is an ordinary put.
    #[tokio::test]
    async fn a_staged_page_is_written_in_place_locally_and_put_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let loc = Location::parse(dir.path(), "out", &Storage::default()).unwrap();
        let local = OutputStore::open(loc).unwrap();
        let memory = OutputStore::in_memory("staged-test");
        for out in [&local, &memory] {
            let path = "_staging/r/bulletin/0123456789abcdef/regions/150622.html";
            out.put_staged(path, b"first, longer".to_vec())
                .await
                .unwrap();
            out.put_staged(path, b"second".to_vec()).await.unwrap();
            assert_eq!(out.get(path).await.unwrap().unwrap(), b"second");
            assert_eq!(out.list("_staging/r").await.unwrap(), vec![path]);
        }
        let file = dir
            .path()
            .join("out/_staging/r/bulletin/0123456789abcdef/regions/150622.html");
        assert_eq!(std::fs::read(&file).unwrap(), b"second");
        assert_eq!(
            std::fs::read_dir(file.parent().unwrap()).unwrap().count(),
            1,
            "a temporary file was left beside the page"
        );
    }

    #[tokio::test]
    async fn a_staged_file_replaces_its_twin_on_a_store_that_will_not_copy_over_it() {
        let mut loc = Location::parse(
            std::path::Path::new("/"),
            "memory:///rename-test",
            &Storage::default(),
        )
        .unwrap();
        loc.store = Arc::new(GcsCopy::default());
        let out = OutputStore { loc };
        out.put("reports/a/part-1.parquet", b"published".to_vec())
            .await
            .unwrap();
        out.put(
            "_staging/r2/reports/a/part-1.parquet",
            b"published".to_vec(),
        )
        .await
        .unwrap();
        out.rename(
            "_staging/r2/reports/a/part-1.parquet",
            "reports/a/part-1.parquet",
        )
        .await
        .unwrap();
        assert_eq!(
            out.get("reports/a/part-1.parquet")
                .await
                .unwrap()
                .as_deref(),
            Some(&b"published"[..])
        );
        assert_eq!(out.list("_staging").await.unwrap(), Vec::<String>::new());
        // and a plain move where nothing is in the way
        out.put("_staging/r3/x", b"new".to_vec()).await.unwrap();
        out.rename("_staging/r3/x", "reports/x").await.unwrap();
        assert_eq!(
            out.get("reports/x").await.unwrap().as_deref(),
            Some(&b"new"[..])
        );
    }
}
