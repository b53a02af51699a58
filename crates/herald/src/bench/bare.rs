//! `herald bench bare-server`: the HTTP ceiling of this machine. A bare hyper HTTP/1.1 server
//! that reads each request body and answers `202 hello`, with no routing, JSON, storage or
//! logging, so the `bare` scenario can run the very same client against it and report Herald's
//! requests/s as a fraction of what plain hyper does. Run it as its own process so client and
//! server do not share a runtime, as with Herald.

use anyhow::Context as _;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use tokio::net::TcpListener;

async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the body as Herald must, so both servers do the same network work.
    let _ = request.into_body().collect().await;
    let mut response = Response::new(Full::new(Bytes::from_static(b"hello")));
    *response.status_mut() = StatusCode::ACCEPTED;
    Ok(response)
}

/// Accepts connections on `listener` forever, one task per connection.
pub async fn serve(listener: TcpListener) -> anyhow::Result<()> {
    loop {
        let (stream, _) = listener.accept().await.context("accepting a connection")?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(hello));
            if let Err(err) = connection.await {
                tracing::debug!(%err, "bare connection ended");
            }
        });
    }
}

/// Serves on `listen` until Ctrl-C / SIGTERM.
pub async fn run(listen: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot bind {listen}"))?;
    println!("bare hyper server on http://{}", listener.local_addr()?);
    tokio::select! {
        result = serve(listener) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_any_post_with_202_hello_on_a_kept_alive_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/messages", listener.local_addr().unwrap());
        tokio::spawn(serve(listener));
        let client = reqwest::Client::new();
        for _ in 0..3 {
            let answer = client.post(&url).body("{\"x\":1}").send().await.unwrap();
            assert_eq!(answer.status(), 202);
            assert_eq!(answer.text().await.unwrap(), "hello");
        }
    }
}
