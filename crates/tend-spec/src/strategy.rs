use serde::{Deserialize, Serialize};

/// Which siblings are restarted with a child that is restarted (OTP's
/// restart strategy). A strategy is consulted only when an exit leads to a
/// restart.
///
/// # Examples
///
/// ```
/// use tend_spec::Strategy;
///
/// let s: Strategy = serde_json::from_str("\"rest_for_one\"").unwrap();
/// assert_eq!(s, Strategy::RestForOne);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Restart only the child that exited. The default.
    #[default]
    #[serde(alias = "one-for-one")]
    OneForOne,
    /// Stop all other children in reverse start order, then start all of
    /// them again in start order.
    #[serde(alias = "one-for-all")]
    OneForAll,
    /// Stop the children started after the one that exited (in reverse start
    /// order), then start it and them again in start order.
    #[serde(alias = "rest-for-one")]
    RestForOne,
}
