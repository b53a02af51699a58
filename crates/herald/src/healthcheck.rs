//! `herald healthcheck`: one GET of `/healthz` with a timeout, for container and orchestrator
//! probes that want an exit status rather than an HTTP client.

use std::time::Duration;

/// Returns `Ok(())` when `GET {url}/healthz` answers 2xx, else a reason to print.
pub async fn check(base_url: &str, timeout: Duration) -> Result<(), String> {
    let url = format!("{}/healthz", base_url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build HTTP client: {e}"))?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", crate::client::error_chain(&e)))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        let body = response.text().await.unwrap_or_default();
        Err(format!("{url}: {status} {}", body.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;

    async fn serve(status: StatusCode) -> String {
        let app = Router::new().route("/healthz", get(move || async move { (status, "state") }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn healthy_server_passes_and_unhealthy_fails_with_its_status() {
        let ok = serve(StatusCode::OK).await;
        assert_eq!(check(&ok, Duration::from_secs(5)).await, Ok(()));

        let sick = serve(StatusCode::SERVICE_UNAVAILABLE).await;
        let err = check(&sick, Duration::from_secs(5)).await.unwrap_err();
        assert!(err.contains("503") && err.contains("state"), "{err}");

        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        assert!(check(&url, Duration::from_secs(5)).await.is_err());
    }
}
