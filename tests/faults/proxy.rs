//! A TCP proxy between the server and PostgreSQL that the test can cut
//! (every connection closed, and each new one closed as soon as it is
//! taken) and restore: the database going away mid-run and coming back,
//! as a network cut or a restarted database server looks to civicpulse.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

pub struct Proxy {
    pub port: u16,
    links: Arc<Mutex<Links>>,
}

/// Whether connections pass, and both ends of each that passed: one lock,
/// so that no connection slips through while the proxy is being cut.
#[derive(Default)]
struct Links {
    open: bool,
    streams: Vec<TcpStream>,
}

impl Proxy {
    /// Listen on a port of the system's choosing and pass connections on
    /// to `upstream`. The accepting thread lives as long as the test
    /// process.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let links = Arc::new(Mutex::new(Links {
            open: true,
            streams: Vec::new(),
        }));
        let shared = links.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let mut links = shared.lock().unwrap();
                let server = match links.open.then(|| TcpStream::connect(upstream)) {
                    Some(Ok(server)) => server,
                    _ => {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                links.streams.push(client.try_clone().unwrap());
                links.streams.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Proxy { port, links }
    }

    /// The database goes away: every connection closed, new ones refused.
    pub fn cut(&self) {
        let mut links = self.links.lock().unwrap();
        links.open = false;
        for stream in links.streams.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// The database is back.
    pub fn restore(&self) {
        self.links.lock().unwrap().open = true;
    }
}

/// Copy `from` to `to` until either closes, then close both.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}
