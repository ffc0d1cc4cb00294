//! A client of the daemon's API over its control socket (HTTP/1.1 on a
//! unix stream, hyper).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tend_wire::ErrorBody;
use tokio::net::UnixStream;

/// The API of one running daemon.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    /// A client of the daemon listening on `socket`.
    pub fn new(socket: PathBuf) -> Client {
        Client { socket }
    }

    /// The socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// GETs `path` and returns its status and body, whatever the status
    /// (a probe's 503 is an answer, not an error).
    pub async fn probe(&self, path: &str) -> anyhow::Result<(u16, Bytes)> {
        let response = self.exchange(Method::GET, path, None).await?;
        let status = response.status().as_u16();
        Ok((status, response.into_body().collect().await?.to_bytes()))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<Response<Incoming>> {
        let response = self.exchange(method, path, body).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(error) => bail!("{}", error.error.message),
            Err(_) => bail!(
                "tend answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            ),
        }
    }

    /// One request, one response, whatever its status.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<Response<Incoming>> {
        let stream = UnixStream::connect(&self.socket).await.map_err(|e| {
            anyhow!(
                "tend is not running here (no answer on {}: {e}); start it with `tend up`",
                self.socket.display()
            )
        })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("talking to tend")?;
        tokio::spawn(connection);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "tend")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))?;
        sender
            .send_request(request)
            .await
            .context("talking to tend")
    }

    /// GETs JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let response = self.send(Method::GET, path, None).await?;
        let bytes = response.into_body().collect().await?.to_bytes();
        serde_json::from_slice(&bytes).context("reading tend's answer")
    }

    /// POSTs JSON and reads JSON.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<T> {
        let response = self.send(Method::POST, path, body).await?;
        let bytes = response.into_body().collect().await?.to_bytes();
        serde_json::from_slice(&bytes).context("reading tend's answer")
    }

    /// GETs a stream, handing each chunk to `each` until it ends.
    pub async fn stream(
        &self,
        path: &str,
        mut each: impl FnMut(&[u8]) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut body = self.send(Method::GET, path, None).await?.into_body();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                each(&data)?;
            }
        }
        Ok(())
    }

    /// Whether a daemon answers on the socket.
    pub async fn is_up(&self) -> bool {
        UnixStream::connect(&self.socket).await.is_ok()
    }
}
