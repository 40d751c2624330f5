//! `hrana-test-server DB_PATH [TOKEN]`: serves a libSQL file over Hrana v3 on 127.0.0.1 (a test
//! double of Turso) and prints its URL.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "hrana.db".into());
    let token = args.next();
    let url = hrana_test_server::spawn(&path, token.as_deref()).await?;
    println!("listening on {url}");
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}
