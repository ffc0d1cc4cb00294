use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// The name of a child, unique within its supervisor. Cheap to clone.
///
/// # Examples
///
/// ```
/// use tend::ChildId;
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
