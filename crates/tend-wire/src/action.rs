//! What an operator can ask of a running tree.

vocabulary! {
    /// What an operator asks for: to one service (`start`, `stop`,
    /// `restart`, `kill`, `signal`) or to the daemon (`reload`, `upgrade`,
    /// `shutdown`). Its word is the API's (`POST
    /// /v1/services/{name}/restart`) and the journal's.
    ///
    /// # Examples
    ///
    /// ```
    /// use tend_wire::Action;
    ///
    /// let action: Action = serde_json::from_str("\"restart\"").unwrap();
    /// assert_eq!(action, Action::Restart);
    /// assert_eq!(Action::Shutdown.to_string(), "shutdown");
    /// ```
    pub enum Action {
        /// Start a service that is not running.
        Start => "start",
        /// Stop it (its stop signal, then SIGKILL after its timeout); it
        /// stays stopped until started.
        Stop => "stop",
        /// Stop it, then start it.
        Restart => "restart",
        /// SIGKILL at once; its restart type then applies.
        Kill => "kill",
        /// Send its main process a signal.
        Signal => "signal",
        /// Read the config again and apply what changed.
        Reload => "reload",
        /// Re-execute the daemon (possibly as a new binary), keeping every
        /// service running.
        Upgrade => "upgrade",
        /// Stop every service and the daemon.
        Shutdown => "shutdown",
    }
}
