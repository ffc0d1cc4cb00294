//! Names: a child's id within its supervisor, and an incarnation's id within
//! its tree.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// The name of a child, unique within its supervisor. Cheap to clone.
///
/// # Examples
///
/// ```
/// use tend_engine::ChildId;
///
/// let id = ChildId::from("db");
/// assert_eq!(id.as_str(), "db");
/// assert_eq!(id.to_string(), "db");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildId(Arc<str>);

impl ChildId {
    /// The id as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for ChildId {
    fn from(s: &str) -> Self {
        ChildId(s.into())
    }
}

impl From<String> for ChildId {
    fn from(s: String) -> Self {
        ChildId(s.into())
    }
}

impl From<&String> for ChildId {
    fn from(s: &String) -> Self {
        ChildId(s.as_str().into())
    }
}

impl From<&ChildId> for ChildId {
    fn from(id: &ChildId) -> Self {
        id.clone()
    }
}

impl Borrow<str> for ChildId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ChildId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for ChildId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

/// One incarnation of one child, unique in its whole tree (a nested
/// supervisor shares its root's numbering): its id in a
/// [`ProcessTable`](crate::ProcessTable).
/// An OS process child reports its pid beside it. Ids only grow; a
/// restarted incarnation records the id it replaced.
///
/// # Examples
///
/// ```
/// use tend_engine::{ChildSpec, Context, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder("app")
///     .child(ChildSpec::task("a", |ctx: Context| async move { ctx.cancelled().await }))
///     .child(ChildSpec::task("b", |ctx: Context| async move { ctx.cancelled().await }))
///     .start()
///     .await
///     .unwrap();
/// let ids: Vec<_> = sup.which_children().await.iter().map(|c| c.incarnation.unwrap()).collect();
/// assert!(ids[0] < ids[1]);
/// # sup.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IncarnationId(std::num::NonZeroU64);

impl IncarnationId {
    /// The id as a number.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The id with this number; `None` for 0.
    #[must_use]
    pub fn new(id: u64) -> Option<Self> {
        std::num::NonZeroU64::new(id).map(IncarnationId)
    }
}

impl fmt::Display for IncarnationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Hands out the incarnation ids of one tree.
#[derive(Debug, Default)]
pub(crate) struct IncarnationIds(std::sync::atomic::AtomicU64);

impl IncarnationIds {
    /// The next id.
    pub(crate) fn next(&self) -> IncarnationId {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        IncarnationId::new(n).expect("ids start at 1 and do not wrap in practice")
    }
}
