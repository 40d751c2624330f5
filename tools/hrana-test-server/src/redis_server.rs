//! A real `redis-server` (the Debian package) on a free port of 127.0.0.1 for tests: no
//! persistence, stopped on drop, and stoppable and restartable mid-test on the same port.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` on a free port, stopped on drop.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
}

impl RedisServer {
    /// Starts a server; panics when `redis-server` is not installed.
    #[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Self { child: None, port };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on its port (after `stop`).
    #[allow(clippy::expect_used, clippy::panic)]
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server) must be installed");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Forgets every key (`FLUSHALL`), as a restart without persistence would.
    #[allow(clippy::expect_used)]
    pub fn flush(&self) {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("redis");
        conn.write_all(b"*1\r\n$8\r\nFLUSHALL\r\n").expect("FLUSHALL");
        let mut answer = [0u8; 5];
        conn.read_exact(&mut answer).expect("FLUSHALL's answer");
        assert_eq!(&answer, b"+OK\r\n", "FLUSHALL");
    }

    /// Stalls the server (`SIGSTOP`): connections stay open and nothing answers, as a hung or
    /// partitioned Redis; [`RedisServer::resume`] lets it go on.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (`SIGCONT`).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill").args([signal, &child.id().to_string()]).status();
        }
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.resume();
        self.stop();
    }
}
